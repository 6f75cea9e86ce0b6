import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Blueprint, Carafe, CarafeError } from "carafe";
import { UrlMap } from "../../../src/framework/internal.ts";
import { DEFAULT_CONVERTERS, ValidationError } from "../../../src/framework/routing/converters.ts";
import { parseRule, type RuleSegment } from "../../../src/framework/routing/rule.ts";

function parse(rule: string) {
  return parseRule(rule, DEFAULT_CONVERTERS);
}

/** Asserts that `fn` throws a CarafeError with `code` whose message matches every pattern. */
function assertCarafeError(fn: () => unknown, code: string, ...patterns: RegExp[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof CarafeError, `expected a CarafeError, got ${String(error)}`);
    assert.equal(error.code, code);
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  });
}

function kinds(segments: readonly RuleSegment[]): string[] {
  return segments.map((segment) => segment.kind);
}

describe("parseRule", () => {
  it("splits a static rule into one static segment per path piece", () => {
    const parsed = parse("/about/team");
    assert.deepEqual(parsed.segments, [
      { kind: "static", text: "about" },
      { kind: "static", text: "team" },
    ]);
    assert.deepEqual(parsed.variables, []);
  });

  it("parses the root rule into a single empty segment", () => {
    assert.deepEqual(parse("/").segments, [{ kind: "static", text: "" }]);
  });

  it("keeps a trailing slash as a final empty segment", () => {
    const parsed = parse("/docs/");
    assert.deepEqual(parsed.segments, [
      { kind: "static", text: "docs" },
      { kind: "static", text: "" },
    ]);
  });

  it("uses the string converter for a variable without a converter", () => {
    const parsed = parse("/user/<name>");
    const segment = parsed.segments[1];
    assert.equal(segment?.kind, "variable");
    if (segment?.kind !== "variable") return;
    assert.equal(segment.name, "name");
    assert.equal(segment.converter.toValue("ada"), "ada");
    assert.deepEqual(parsed.variables, ["name"]);
  });

  it("passes keyword arguments written in the rule to the converter", () => {
    const segment = parse("/page/<int(min=1, max=10):n>").segments[1];
    assert.equal(segment?.kind, "variable");
    if (segment?.kind !== "variable") return;
    assert.equal(segment.converter.toValue("10"), 10);
    assert.throws(() => segment.converter.toValue("0"), ValidationError);
    assert.throws(() => segment.converter.toValue("11"), ValidationError);
  });

  it("passes positional arguments written in the rule to the converter", () => {
    const segment = parse("/code/<string(3):code>").segments[1];
    assert.equal(segment?.kind, "variable");
    if (segment?.kind !== "variable") return;
    assert.equal(segment.converter.toValue("abc"), "abc");
    assert.throws(() => segment.converter.toValue("abcd"), ValidationError);
  });

  it("makes a mixed segment when text and variables share one path piece", () => {
    const parsed = parse("/files/<name>.<any(txt, md):ext>");
    assert.deepEqual(kinds(parsed.segments), ["static", "mixed"]);
    const segment = parsed.segments[1];
    if (segment?.kind !== "mixed") return assert.fail("expected a mixed segment");
    assert.deepEqual(segment.names, ["name", "ext"]);
    assert.ok(segment.pattern.test("readme.md"));
    assert.ok(!segment.pattern.test("readme.pdf"));
  });

  it("makes a path segment for a converter that spans slashes", () => {
    const parsed = parse("/wiki/<path:page>/edit");
    assert.deepEqual(kinds(parsed.segments), ["static", "path", "static"]);
  });

  it("lists the variables in the order they appear", () => {
    const parsed = parse("/<lang>/blog/<int:year>/<slug>");
    assert.deepEqual(parsed.variables, ["lang", "year", "slug"]);
  });

  it("keeps literal text and variables as parts for building URLs", () => {
    const parts = parse("/user/<int:id>/posts").parts.map((part) =>
      part.kind === "static" ? part.text : `<${part.name}>`,
    );
    assert.deepEqual(parts, ["/user/", "<id>", "/posts"]);
  });

  it("keeps the rule text on the parsed rule", () => {
    assert.equal(parse("/a/<b>").rule, "/a/<b>");
  });
});

describe("malformed rules", () => {
  it("rejects a rule that does not start with '/'", () => {
    assertCarafeError(() => parse("user/<id>"), "ERR_BAD_RULE", /"user\/<id>"/, /start with '\/'/);
  });

  it("rejects an unknown converter and names it with the known ones", () => {
    assertCarafeError(
      () => parse("/item/<slug:s>"),
      "ERR_BAD_RULE",
      /"\/item\/<slug:s>"/,
      /unknown converter 'slug'/,
      /int/,
      /addConverter/,
    );
  });

  it("rejects a variable that appears twice", () => {
    assertCarafeError(
      () => parse("/<id>/x/<int:id>"),
      "ERR_BAD_RULE",
      /"\/<id>\/x\/<int:id>"/,
      /'id' appears twice/,
    );
  });

  it("rejects a variable that is never closed", () => {
    assertCarafeError(() => parse("/user/<int:id"), "ERR_BAD_RULE", /"\/user\/<int:id"/);
  });

  it("rejects a '>' that closes nothing", () => {
    assertCarafeError(() => parse("/user/id>"), "ERR_BAD_RULE", /'>' at position 8/);
  });

  it("rejects a variable name that is not an identifier", () => {
    assertCarafeError(() => parse("/user/<user-id>"), "ERR_BAD_RULE", /"\/user\/<user-id>"/);
  });

  it("rejects an empty segment", () => {
    assertCarafeError(() => parse("/a//b"), "ERR_BAD_RULE", /"\/a\/\/b"/, /empty segment/);
  });

  it("rejects converter arguments the converter does not accept", () => {
    assertCarafeError(
      () => parse("/<any():kind>"),
      "ERR_BAD_RULE",
      /converter 'any'/,
      /at least one choice/,
    );
    assertCarafeError(() => parse("/<int(min='x'):n>"), "ERR_BAD_RULE", /min must be a number/);
    assertCarafeError(() => parse("/<int(min=):n>"), "ERR_BAD_RULE", /empty argument/);
  });

  it("rejects a path variable that shares its segment with text", () => {
    assertCarafeError(
      () => parse("/files/<path:p>.txt"),
      "ERR_BAD_RULE",
      /'p' uses a converter that spans '\/'/,
    );
  });

  it("fails app.route at registration with an error naming the rule", () => {
    const app = new Carafe({ staticFolder: null });
    assertCarafeError(
      () => app.get("/user/<nope:id>", () => "x"),
      "ERR_BAD_RULE",
      /"\/user\/<nope:id>"/,
    );
    assert.deepEqual(
      app.urlMap.rules().map((rule) => rule.rule),
      [],
    );
  });

  it("fails registerBlueprint with an error naming the prefixed rule", () => {
    const app = new Carafe({ staticFolder: null });
    const bp = new Blueprint("admin", { urlPrefix: "/admin" });
    bp.get("/<int:id>/<id>", () => "x");
    assertCarafeError(() => app.registerBlueprint(bp), "ERR_BAD_RULE", /"\/admin\/<int:id>\/<id>"/);
  });

  it("uses converters registered on the map", () => {
    const map = new UrlMap<null>();
    assertCarafeError(() => map.parse("/<hex:v>"), "ERR_BAD_RULE", /unknown converter 'hex'/);
    map.addConverter("hex", { regex: "[0-9a-f]+", toValue: (raw) => raw, toUrl: String });
    assert.deepEqual(map.parse("/<hex:v>").variables, ["v"]);
  });

  it("rejects a converter name that is not an identifier", () => {
    const app = new Carafe({ staticFolder: null });
    assertCarafeError(
      () => app.addConverter("my-conv", { regex: ".", toValue: String, toUrl: String }),
      "ERR_BAD_CONVERTER",
      /"my-conv"/,
    );
  });
});

describe("endpoints at registration", () => {
  it("rejects a second handler under an endpoint and names both rules", () => {
    const app = new Carafe({ staticFolder: null });
    app.get("/a", { endpoint: "page" }, () => "a");
    assertCarafeError(
      () => app.get("/b", { endpoint: "page" }, () => "b"),
      "ERR_DUPLICATE_ENDPOINT",
      /"\/b"/,
      /'page'/,
      /"\/a"/,
    );
  });

  it("rejects two functions with the same name, the default endpoint", () => {
    const app = new Carafe({ staticFolder: null });
    app.get("/one", function show() {
      return "one";
    });
    assertCarafeError(
      () =>
        app.get("/two", function show() {
          return "two";
        }),
      "ERR_DUPLICATE_ENDPOINT",
      /"\/two"/,
      /'show'/,
    );
  });

  it("rejects duplicate endpoints coming from a blueprint", () => {
    const app = new Carafe({ staticFolder: null });
    const bp = new Blueprint("shop");
    bp.get("/a", { endpoint: "list" }, () => "a");
    bp.get("/b", { endpoint: "list" }, () => "b");
    assertCarafeError(
      () => app.registerBlueprint(bp),
      "ERR_DUPLICATE_ENDPOINT",
      /'shop\.list'/,
      /"\/b"/,
    );
  });

  it("allows one handler under one endpoint on several rules", async () => {
    const app = new Carafe({ staticFolder: null });
    const handler = function page() {
      return "page";
    };
    app.get("/page", handler);
    app.get("/page/<int:n>", handler);
    assert.deepEqual(
      app.urlMap.rulesFor("page").map((rule) => rule.rule),
      ["/page", "/page/<int:n>"],
    );
    const client = app.testClient();
    assert.equal((await client.get("/page/3")).text(), "page");
  });

  it("rejects an endpoint containing '.'", () => {
    const app = new Carafe({ staticFolder: null });
    assertCarafeError(
      () => app.get("/x", { endpoint: "a.b" }, () => "x"),
      "ERR_BAD_ROUTE",
      /'a\.b'/,
    );
  });

  it("rejects a route with no methods", () => {
    const app = new Carafe({ staticFolder: null });
    assertCarafeError(
      () => app.route("/x", { methods: [] }, () => "x"),
      "ERR_BAD_ROUTE",
      /"\/x"/,
      /methods/,
    );
  });

  it("accepts an unnamed handler on a rule containing a dot", async () => {
    const app = new Carafe({ staticFolder: null });
    app.get("/robots.txt", () => "User-agent: *");
    assert.equal(app.urlMap.rules()[0]?.endpoint, "GET /robots.txt");
    assert.equal((await app.testClient().get("/robots.txt")).text(), "User-agent: *");
  });

  it("rejects a function name containing '.' as an endpoint", () => {
    const app = new Carafe({ staticFolder: null });
    const handler = (): string => "x";
    Object.defineProperty(handler, "name", { value: "a.b" });
    assertCarafeError(() => app.get("/x", handler), "ERR_BAD_ROUTE", /'a\.b'/);
  });

  it("names an unnamed handler's endpoint after its methods and rule", () => {
    const app = new Carafe({ staticFolder: null });
    app.route("/x", { methods: ["GET", "POST"] }, () => "x");
    assert.equal(app.urlMap.rules()[0]?.endpoint, "GET,POST /x");
  });
});

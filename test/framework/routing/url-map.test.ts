import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Carafe, ValidationError, json, type ConverterArg } from "carafe";
import { UrlMap } from "../../../src/framework/routing/url-map.ts";

function newApp(): Carafe {
  return new Carafe({ staticFolder: null });
}

/** An app with one GET route at `rule` that answers the route's params as JSON. */
function echoApp(rule: string): Carafe {
  const app = newApp();
  app.get(rule, (req) => json(req.params));
  return app;
}

async function params(app: Carafe, path: string): Promise<unknown> {
  const res = await app.testClient().get(path);
  assert.equal(res.status, 200, `GET ${path} answered ${res.status}`);
  return res.json();
}

async function status(app: Carafe, path: string, method = "GET"): Promise<number> {
  return (await app.testClient().request(method, path)).status;
}

describe("UrlMap.match", () => {
  function map(): UrlMap<string> {
    const urls = new UrlMap<string>();
    urls.add("/user/<int:id>", { endpoint: "user", methods: ["GET"], payload: "user-view" });
    urls.add("/user/<int:id>", { endpoint: "save", methods: ["post"], payload: "save-view" });
    urls.add("/docs/", { endpoint: "docs", methods: ["GET"], payload: "docs-view" });
    return urls;
  }

  it("finds the rule and converts the params", () => {
    const result = map().match("GET", "/user/7");
    assert.equal(result.kind, "found");
    if (result.kind !== "found") return;
    assert.equal(result.rule.endpoint, "user");
    assert.equal(result.rule.payload, "user-view");
    assert.deepEqual(result.params, { id: 7 });
  });

  it("picks among rules on one path by method", () => {
    const result = map().match("POST", "/user/7");
    assert.equal(result.kind, "found");
    if (result.kind === "found") assert.equal(result.rule.endpoint, "save");
  });

  it("reports not-found when no rule matches the path", () => {
    assert.deepEqual(map().match("GET", "/nothing"), { kind: "not-found" });
  });

  it("reports the allowed methods, sorted, when the method does not match", () => {
    assert.deepEqual(map().match("DELETE", "/user/7"), {
      kind: "method-not-allowed",
      allowed: ["GET", "HEAD", "OPTIONS", "POST"],
    });
  });

  it("answers OPTIONS with the union of the methods of every rule on the path", () => {
    assert.deepEqual(map().match("OPTIONS", "/user/7"), {
      kind: "options",
      allowed: ["GET", "HEAD", "OPTIONS", "POST"],
    });
  });

  it("matches HEAD wherever GET is allowed", () => {
    const result = map().match("HEAD", "/user/7");
    assert.equal(result.kind, "found");
    if (result.kind === "found") assert.equal(result.rule.endpoint, "user");
    assert.deepEqual([...(map().rulesFor("user")[0]?.methods ?? [])].sort(), ["GET", "HEAD"]);
  });

  it("redirects to the rule with a trailing slash", () => {
    assert.deepEqual(map().match("GET", "/docs"), { kind: "redirect", path: "/docs/" });
  });

  it("reports a malformed percent-encoding as bad-path", () => {
    assert.deepEqual(map().match("GET", "/user/%E9"), { kind: "bad-path" });
    assert.deepEqual(map().match("GET", "/user/%zz"), { kind: "bad-path" });
  });

  it("lists rules in registration order and by endpoint", () => {
    const urls = map();
    assert.deepEqual(
      urls.rules().map((rule) => rule.endpoint),
      ["user", "save", "docs"],
    );
    assert.equal(urls.rulesFor("save").length, 1);
    assert.deepEqual(urls.rulesFor("missing"), []);
  });

  it("does not answer OPTIONS automatically when a rule lists it", () => {
    const urls = new UrlMap<string>();
    urls.add("/x", { endpoint: "x", methods: ["GET", "OPTIONS"], payload: "x" });
    const result = urls.match("OPTIONS", "/x");
    assert.equal(result.kind, "found");
    assert.equal(urls.rulesFor("x")[0]?.automaticOptions, false);
  });
});

describe("UrlMap.match on rules without variables", () => {
  function endpointOf(urls: UrlMap<string>, method: string, path: string): string | undefined {
    const result = urls.match(method, path);
    return result.kind === "found" ? result.rule.endpoint : result.kind;
  }

  it("leaves a path to a dynamic rule when the static rule there has another method", () => {
    const urls = new UrlMap<string>();
    urls.add("/user/new", { endpoint: "create", methods: ["POST"], payload: "" });
    urls.add("/user/<name>", { endpoint: "profile", methods: ["GET"], payload: "" });
    assert.equal(endpointOf(urls, "POST", "/user/new"), "create");
    assert.equal(endpointOf(urls, "GET", "/user/new"), "profile");
    assert.deepEqual(urls.match("DELETE", "/user/new"), {
      kind: "method-not-allowed",
      allowed: ["GET", "HEAD", "OPTIONS", "POST"],
    });
  });

  it("prefers the static rule over a dynamic one registered before it", () => {
    const urls = new UrlMap<string>();
    urls.add("/user/<name>", { endpoint: "profile", methods: ["GET"], payload: "" });
    urls.add("/user/me", { endpoint: "me", methods: ["GET"], payload: "" });
    assert.equal(endpointOf(urls, "GET", "/user/me"), "me");
  });

  it("picks the first registered of two static rules on one path and method", () => {
    const urls = new UrlMap<string>();
    urls.add("/a", { endpoint: "first", methods: ["GET"], payload: "" });
    urls.add("/a", { endpoint: "second", methods: ["GET", "POST"], payload: "" });
    assert.equal(endpointOf(urls, "GET", "/a"), "first");
    assert.equal(endpointOf(urls, "POST", "/a"), "second");
  });

  it("matches the root, a trailing slash and a percent-encoded path", () => {
    const urls = new UrlMap<string>();
    urls.add("/", { endpoint: "root", methods: ["GET"], payload: "" });
    urls.add("/docs/", { endpoint: "docs", methods: ["GET"], payload: "" });
    urls.add("/café", { endpoint: "cafe", methods: ["GET"], payload: "" });
    assert.equal(endpointOf(urls, "GET", "/"), "root");
    assert.equal(endpointOf(urls, "GET", "/docs/"), "docs");
    assert.equal(endpointOf(urls, "GET", "/docs"), "redirect");
    assert.equal(endpointOf(urls, "GET", "/caf%C3%A9"), "cafe");
    assert.equal(endpointOf(urls, "GET", "//"), "not-found");
  });

  it("gives every match its own params object", () => {
    const urls = new UrlMap<string>();
    urls.add("/", { endpoint: "root", methods: ["GET"], payload: "" });
    const first = urls.match("GET", "/");
    const second = urls.match("GET", "/");
    assert.ok(first.kind === "found" && second.kind === "found");
    first.params["x"] = 1;
    assert.deepEqual(second.params, {});
  });
});

describe("the string converter", () => {
  it("is the default and matches one segment", async () => {
    const app = echoApp("/user/<name>");
    assert.deepEqual(await params(app, "/user/ada"), { name: "ada" });
    assert.equal(await status(app, "/user/ada/extra"), 404);
  });

  it("does not match an empty segment", async () => {
    assert.equal(await status(echoApp("/user/<name>/x"), "/user//x"), 404);
  });

  it("applies minlength and maxlength", async () => {
    const app = echoApp("/tag/<string(minlength=2, maxlength=4):t>");
    assert.equal(await status(app, "/tag/a"), 404);
    assert.deepEqual(await params(app, "/tag/ab"), { t: "ab" });
    assert.deepEqual(await params(app, "/tag/abcd"), { t: "abcd" });
    assert.equal(await status(app, "/tag/abcde"), 404);
    // One emoji is two UTF-16 units but one character.
    assert.equal(await status(app, `/tag/${encodeURIComponent("😀")}`), 404);
    assert.deepEqual(await params(app, `/tag/${encodeURIComponent("😀😀")}`), { t: "😀😀" });
  });

  it("applies length, counting characters rather than bytes", async () => {
    const app = echoApp("/code/<string(length=3):c>");
    assert.deepEqual(await params(app, "/code/abc"), { c: "abc" });
    assert.deepEqual(await params(app, "/code/%C3%A9t%C3%A9"), { c: "été" });
    assert.equal(await status(app, "/code/ab"), 404);
    assert.equal(await status(app, "/code/abcd"), 404);
  });
});

describe("the int converter", () => {
  it("gives a number", async () => {
    assert.deepEqual(await params(echoApp("/n/<int:n>"), "/n/42"), { n: 42 });
  });

  it("answers 404 for text that is not a number", async () => {
    assert.equal(await status(echoApp("/n/<int:n>"), "/n/abc"), 404);
    assert.equal(await status(echoApp("/n/<int:n>"), "/n/4.2"), 404);
  });

  it("rejects a leading sign unless signed", async () => {
    const app = echoApp("/n/<int:n>");
    assert.equal(await status(app, "/n/-5"), 404);
    assert.equal(await status(app, "/n/+5"), 404);
    const signed = echoApp("/n/<int(signed=True):n>");
    assert.deepEqual(await params(signed, "/n/-5"), { n: -5 });
    assert.equal(await status(signed, "/n/+5"), 404);
  });

  it("applies min and max", async () => {
    const app = echoApp("/page/<int(min=1, max=3):n>");
    assert.equal(await status(app, "/page/0"), 404);
    assert.deepEqual(await params(app, "/page/1"), { n: 1 });
    assert.deepEqual(await params(app, "/page/3"), { n: 3 });
    assert.equal(await status(app, "/page/4"), 404);
  });

  it("rejects numbers beyond the safe integer range", async () => {
    assert.equal(await status(echoApp("/n/<int:n>"), "/n/9007199254740993"), 404);
  });
});

describe("the float converter", () => {
  it("gives a number for digits with a decimal point", async () => {
    assert.deepEqual(await params(echoApp("/f/<float:x>"), "/f/2.5"), { x: 2.5 });
  });

  it("rejects integers, text and, unless signed, negative numbers", async () => {
    const app = echoApp("/f/<float:x>");
    assert.equal(await status(app, "/f/2"), 404);
    assert.equal(await status(app, "/f/pi"), 404);
    assert.equal(await status(app, "/f/-2.5"), 404);
    assert.deepEqual(await params(echoApp("/f/<float(signed=True):x>"), "/f/-2.5"), { x: -2.5 });
  });
});

describe("the path converter", () => {
  it("spans slashes", async () => {
    assert.deepEqual(await params(echoApp("/files/<path:p>"), "/files/a/b/c.txt"), {
      p: "a/b/c.txt",
    });
  });

  it("leaves the rest of the rule to match after it", async () => {
    const app = echoApp("/wiki/<path:p>/edit");
    assert.deepEqual(await params(app, "/wiki/a/b/edit"), { p: "a/b" });
    assert.deepEqual(await params(app, "/wiki/edit/edit"), { p: "edit" });
    assert.equal(await status(app, "/wiki/a/b"), 404);
    assert.equal(await status(app, "/wiki//edit"), 404);
  });

  it("gives the first of two path variables the shortest value that lets the rest match", async () => {
    const app = echoApp("/<path:a>/<path:b>/edit");
    assert.deepEqual(await params(app, "/x/y/z/edit"), { a: "x", b: "y/z" });
    assert.deepEqual(await params(app, "/x/edit/edit"), { a: "x", b: "edit" });
    assert.equal(await status(app, "/x/edit"), 404);
  });

  it("keeps empty segments and a trailing slash inside the value", async () => {
    assert.deepEqual(await params(echoApp("/files/<path:p>"), "/files/a//b/"), { p: "a//b/" });
  });

  it("decodes a value that spans encoded segments", async () => {
    assert.deepEqual(await params(echoApp("/files/<path:p>/raw"), "/files/a%20b/c%2Fd/raw"), {
      p: "a b/c/d",
    });
  });

  it("answers 400 for a malformed encoding anywhere in the value", async () => {
    assert.equal(await status(echoApp("/files/<path:p>"), "/files/a/%E9/b"), 400);
  });
});

describe("user converters that span segments", () => {
  /** An app with `file`: a path whose last segment has an extension and does not start with `_`. */
  function fileApp(rule: string): Carafe {
    const app = newApp();
    app.addConverter("file", {
      regex: "[^/].*\\.[a-z]+",
      partIsolating: false,
      toValue(raw) {
        if (raw.slice(raw.lastIndexOf("/") + 1).startsWith("_")) throw new ValidationError();
        return raw;
      },
      toUrl: String,
    });
    app.get(rule, (req) => json(req.params));
    return app;
  }

  it("matches the whole value against the converter's regex", async () => {
    const app = fileApp("/dl/<file:name>");
    assert.deepEqual(await params(app, "/dl/a/b.txt"), { name: "a/b.txt" });
    assert.equal(await status(app, "/dl/a/b"), 404);
    assert.equal(await status(app, "/dl/a.txt/b"), 404);
  });

  it("lets the regex and ValidationError decide where the value ends", async () => {
    const app = fileApp("/dl/<file:name>/<path:rest>");
    assert.deepEqual(await params(app, "/dl/a/b.txt/c/d.txt"), {
      name: "a/b.txt",
      rest: "c/d.txt",
    });
    assert.deepEqual(await params(app, "/dl/a/_b.txt/c.txt/d"), {
      name: "a/_b.txt/c.txt",
      rest: "d",
    });
    assert.equal(await status(app, "/dl/a/_b.txt/c"), 404);
  });
});

describe("the uuid converter", () => {
  it("accepts a UUID in either case and gives it in lower case", async () => {
    const app = echoApp("/o/<uuid:id>");
    assert.deepEqual(await params(app, "/o/A1B2C3D4-0000-4000-8000-00000000000F"), {
      id: "a1b2c3d4-0000-4000-8000-00000000000f",
    });
  });

  it("rejects anything else", async () => {
    const app = echoApp("/o/<uuid:id>");
    assert.equal(await status(app, "/o/a1b2c3d4-0000-4000-8000"), 404);
    assert.equal(await status(app, "/o/g1b2c3d4-0000-4000-8000-00000000000f"), 404);
  });
});

describe("the any converter", () => {
  it("accepts only the listed choices", async () => {
    const app = echoApp("/sort/<any(asc, desc):order>");
    assert.deepEqual(await params(app, "/sort/asc"), { order: "asc" });
    assert.deepEqual(await params(app, "/sort/desc"), { order: "desc" });
    assert.equal(await status(app, "/sort/random"), 404);
    assert.equal(await status(app, "/sort/ascdesc"), 404);
  });

  it("works next to literal text in one segment", async () => {
    const app = echoApp("/files/<name>.<any(txt, md):ext>");
    assert.deepEqual(await params(app, "/files/readme.md"), { name: "readme", ext: "md" });
    assert.equal(await status(app, "/files/readme.pdf"), 404);
  });
});

describe("user-registered converters", () => {
  it("uses a converter object registered with addConverter", async () => {
    const app = newApp();
    app.addConverter("hex", {
      regex: "[0-9a-f]+",
      toValue: (raw) => parseInt(raw, 16),
      toUrl: (value) => (value as number).toString(16),
    });
    app.get("/color/<hex:value>", (req) => json({ value: req.params.value }));
    assert.deepEqual(await params(app, "/color/ff"), { value: 255 });
  });

  it("answers 404 when the segment does not match the converter's regex", async () => {
    const app = newApp();
    app.addConverter("hex", {
      regex: "[0-9a-f]+",
      toValue: (raw) => parseInt(raw, 16),
      toUrl: (value) => (value as number).toString(16),
    });
    app.get("/color/<hex:value>", (req) => json({ value: req.params.value }));
    assert.equal(await status(app, "/color/zz"), 404);
    assert.equal(await status(app, "/color/ffz"), 404);
  });

  it("answers 404 when the converter throws ValidationError", async () => {
    const app = newApp();
    app.addConverter("even", {
      regex: "\\d+",
      toValue(raw) {
        const value = Number(raw);
        if (value % 2 !== 0) throw new ValidationError();
        return value;
      },
      toUrl: String,
    });
    app.get("/even/<even:n>", (req) => json({ n: req.params.n }));
    assert.deepEqual(await params(app, "/even/4"), { n: 4 });
    assert.equal(await status(app, "/even/3"), 404);
  });

  it("calls a factory with the arguments written in the rule", async () => {
    const app = newApp();
    const calls: [readonly ConverterArg[], Readonly<Record<string, ConverterArg>>][] = [];
    app.addConverter("list", (args, kwargs) => {
      calls.push([args, kwargs]);
      const sep = typeof kwargs["sep"] === "string" ? kwargs["sep"] : "+";
      const max = typeof args[0] === "number" ? args[0] : Infinity;
      return {
        regex: "[^/]+",
        toValue(raw) {
          const items = raw.split(sep);
          if (items.length > max) throw new ValidationError();
          return items;
        },
        toUrl: (value) => (value as string[]).join(sep),
      };
    });
    app.get("/tags/<list(2, sep=';'):tags>", (req) => json({ tags: req.params.tags }));
    assert.deepEqual(calls, [[[2], { sep: ";" }]]);
    assert.deepEqual(await params(app, "/tags/a;b"), { tags: ["a", "b"] });
    assert.equal(await status(app, "/tags/a;b;c"), 404);
  });

  it("lets a converter's weight decide between dynamic rules", async () => {
    const app = newApp();
    app.addConverter("slug", { regex: "[a-z0-9-]+", weight: 10, toValue: String, toUrl: String });
    app.get("/p/<name>", () => "string");
    app.get("/p/<slug:s>", () => "slug");
    assert.equal((await app.testClient().get("/p/hello")).text(), "slug");
  });

  it("fails at registration when a rule uses a converter added later", () => {
    const app = newApp();
    assert.throws(() => app.get("/x/<later:v>", () => "x"), /unknown converter 'later'/);
  });
});

describe("trailing slashes", () => {
  it("redirects with 308 to the rule's slash, an absolute URL keeping the query string", async () => {
    const app = newApp();
    app.get("/docs/", () => "docs");
    const res = await app.testClient().get("/docs?page=2&q=a%20b");
    assert.equal(res.status, 308);
    assert.equal(res.headers.get("location"), "http://localhost/docs/?page=2&q=a%20b");
  });

  it("redirects without a query string when there is none", async () => {
    const app = newApp();
    app.get("/docs/", () => "docs");
    const res = await app.testClient().get("/docs");
    assert.equal(res.status, 308);
    assert.equal(res.headers.get("location"), "http://localhost/docs/");
  });

  it("builds the Location from the request's scheme and Host, port included", async () => {
    const app = newApp();
    app.get("/a b/<name>/", () => "docs");
    const client = app.testClient();
    for (const [scheme, host] of [
      ["https", "example.com:8443"],
      ["http", "[::1]:8000"],
      ["http", "127.0.0.1"],
    ] as const) {
      const res = await client.get("/a%20b/%C3%A9", { scheme, headers: { host } });
      assert.equal(res.headers.get("location"), `${scheme}://${host}/a%20b/%C3%A9/`);
    }
  });

  it("sends the path alone when the Host is not a plain host and port", async () => {
    const app = newApp();
    app.get("/docs/", () => "docs");
    const client = app.testClient();
    for (const host of ["evil.example/x", "user@evil.example", "a b", "é.example", "a:b:c", ""]) {
      const res = await client.get("/docs?x=1", { headers: { host } });
      assert.equal(res.status, 308, host);
      assert.equal(res.headers.get("location"), "/docs/?x=1", host);
    }
  });

  it("is followed by the test client to the rule, method and body kept", async () => {
    const app = newApp();
    app.post("/items/", (req) => `created ${req.text()}`);
    const res = await app.testClient().post("/items", { data: "x", followRedirects: true });
    assert.equal(res.text(), "created x");
    assert.equal(res.history[0]?.status, 308);
  });

  it("serves the rule when the slash is present", async () => {
    const app = newApp();
    app.get("/docs/", () => "docs");
    assert.equal((await app.testClient().get("/docs/")).text(), "docs");
  });

  it("does not redirect when strictSlashes is false", async () => {
    const app = newApp();
    app.get("/docs/", { strictSlashes: false }, () => "docs");
    assert.equal(await status(app, "/docs"), 404);
  });

  it("answers 404 when a rule without a slash is requested with one", async () => {
    const app = newApp();
    app.get("/about", () => "about");
    app.get("/user/<name>", () => "user");
    assert.equal(await status(app, "/about/"), 404);
    assert.equal(await status(app, "/user/ada/"), 404);
  });
});

describe("rule priority", () => {
  it("lets a static rule win over a dynamic one registered before it", async () => {
    const app = newApp();
    app.get("/user/<name>", (req) => `user ${req.params.name}`);
    app.get("/user/me", () => "me");
    const client = app.testClient();
    assert.equal((await client.get("/user/me")).text(), "me");
    assert.equal((await client.get("/user/ada")).text(), "user ada");
  });

  it("lets a static rule win over a dynamic one registered after it", async () => {
    const app = newApp();
    app.get("/user/me", () => "me");
    app.get("/user/<name>", (req) => `user ${req.params.name}`);
    assert.equal((await app.testClient().get("/user/me")).text(), "me");
  });

  it("prefers int over string for a numeric segment in either order", async () => {
    for (const intFirst of [true, false]) {
      const app = newApp();
      const addInt = (): void => void app.get("/x/<int:n>", () => "int");
      const addString = (): void => void app.get("/x/<s>", () => "string");
      if (intFirst) {
        addInt();
        addString();
      } else {
        addString();
        addInt();
      }
      const client = app.testClient();
      assert.equal((await client.get("/x/5")).text(), "int");
      assert.equal((await client.get("/x/five")).text(), "string");
    }
  });

  it("falls back to another rule when a converter rejects the value", async () => {
    const app = newApp();
    app.get("/item/<int(max=9):n>/view", () => "small");
    app.get("/item/<name>/view", () => "named");
    const client = app.testClient();
    assert.equal((await client.get("/item/5/view")).text(), "small");
    assert.equal((await client.get("/item/50/view")).text(), "named");
  });

  it("prefers a one-segment rule over a path rule", async () => {
    const app = newApp();
    app.get("/f/<path:p>", () => "path");
    app.get("/f/<name>", () => "name");
    const client = app.testClient();
    assert.equal((await client.get("/f/a")).text(), "name");
    assert.equal((await client.get("/f/a/b")).text(), "path");
  });
});

describe("methods", () => {
  it("returns 405 with Allow when the method does not match", async () => {
    const app = newApp();
    app.get("/thing", () => "thing");
    const res = await app.testClient().post("/thing");
    assert.equal(res.status, 405);
    assert.equal(res.headers.get("allow"), "GET, HEAD, OPTIONS");
  });

  it("lists the methods of every rule on the path in Allow", async () => {
    const app = newApp();
    app.get("/thing", () => "get");
    app.put("/thing", () => "put");
    const res = await app.testClient().delete("/thing");
    assert.equal(res.status, 405);
    assert.equal(res.headers.get("allow"), "GET, HEAD, OPTIONS, PUT");
  });

  it("dispatches on the method among rules with the same path", async () => {
    const app = newApp();
    app.get("/thing", () => "get");
    app.post("/thing", () => "post");
    const client = app.testClient();
    assert.equal((await client.get("/thing")).text(), "get");
    assert.equal((await client.post("/thing")).text(), "post");
  });

  it("answers HEAD for a GET route with its headers and an empty body", async () => {
    const app = newApp();
    let calls = 0;
    app.get("/page", () => {
      calls += 1;
      return "hello, world";
    });
    const client = app.testClient();
    const get = await client.get("/page");
    const head = await client.head("/page");
    assert.equal(head.status, 200);
    assert.equal(head.body.byteLength, 0);
    assert.equal(head.headers.get("content-length"), String(get.body.byteLength));
    assert.equal(head.headers.get("content-type"), get.headers.get("content-type"));
    assert.equal(calls, 2);
  });

  it("answers HEAD for a JSON route with the JSON length", async () => {
    const app = newApp();
    app.get("/data", () => ({ items: [1, 2, 3] }));
    const head = await app.testClient().head("/data");
    assert.equal(head.status, 200);
    assert.equal(head.text(), "");
    assert.equal(head.headers.get("content-length"), String('{"items":[1,2,3]}'.length));
  });

  it("does not answer HEAD for a route without GET", async () => {
    const app = newApp();
    app.post("/submit", () => "ok");
    const res = await app.testClient().head("/submit");
    assert.equal(res.status, 405);
    assert.equal(res.headers.get("allow"), "OPTIONS, POST");
  });

  it("answers OPTIONS automatically with Allow and without calling a handler", async () => {
    const app = newApp();
    let calls = 0;
    app.get("/thing", () => {
      calls += 1;
      return "get";
    });
    app.post("/thing", () => {
      calls += 1;
      return "post";
    });
    const res = await app.testClient().options("/thing");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("allow"), "GET, HEAD, OPTIONS, POST");
    assert.equal(res.text(), "");
    assert.equal(calls, 0);
  });

  it("calls the handler for OPTIONS when the route lists it", async () => {
    const app = newApp();
    app.route("/cors", { methods: ["GET", "OPTIONS"] }, (req) => `custom ${req.method}`);
    const res = await app.testClient().options("/cors");
    assert.equal(res.status, 200);
    assert.equal(res.text(), "custom OPTIONS");
  });

  it("answers 404, not 405 or OPTIONS, for a path no rule matches", async () => {
    const app = newApp();
    app.get("/thing", () => "thing");
    assert.equal(await status(app, "/other", "POST"), 404);
    assert.equal(await status(app, "/other", "OPTIONS"), 404);
  });

  it("accepts methods in lower case", async () => {
    const app = newApp();
    app.route("/lower", { methods: ["post"] }, () => "posted");
    assert.equal((await app.testClient().post("/lower")).text(), "posted");
  });
});

describe("percent-encoded paths", () => {
  it("decodes the path before matching static text", async () => {
    const app = newApp();
    app.get("/café", () => "coffee");
    const res = await app.testClient().get("/caf%C3%A9");
    assert.equal(res.status, 200);
    assert.equal(res.text(), "coffee");
  });

  it("decodes values given to converters", async () => {
    assert.deepEqual(await params(echoApp("/user/<name>"), "/user/J%C3%BCrgen%20M"), {
      name: "Jürgen M",
    });
  });

  it("answers 400 for a malformed percent-encoding", async () => {
    const app = newApp();
    app.get("/user/<name>", () => "user");
    assert.equal(await status(app, "/user/%E9"), 400);
    assert.equal(await status(app, "/user/%zz"), 400);
    assert.equal(await status(app, "/user/100%"), 400);
  });

  it("answers 404 when an encoded slash lands in a one-segment variable", async () => {
    assert.equal(await status(echoApp("/user/<name>"), "/user/a%2Fb"), 404);
  });

  it("does not split a segment at an encoded slash", async () => {
    const app = echoApp("/files/<path:p>");
    assert.deepEqual(await params(app, "/files/a%2Fb"), { p: "a/b" });
  });
});

// The work routing does on long paths, counted by instrumented converters rather than timed:
// a request's path must cost work in proportion to its length, `path` variables included.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Carafe, ValidationError, json } from "carafe";

/** `count` segments of one letter each, joined by `/`. */
function segments(count: number): string {
  return Array.from({ length: count }, () => "a").join("/");
}

/** An app with a `counted` converter: the built-in `path`, but it counts what it converts. */
function countingApp(): { app: Carafe; seen: { calls: number; chars: number } } {
  const app = new Carafe({ staticFolder: null });
  const seen = { calls: 0, chars: 0 };
  app.addConverter("counted", {
    regex: "[^/].*?",
    partIsolating: false,
    toValue(raw) {
      seen.calls += 1;
      seen.chars += raw.length;
      return raw;
    },
    toUrl: String,
  });
  return { app, seen };
}

/** An app with a `probe` converter that counts its calls and rejects every segment. */
function probingApp(): { app: Carafe; probes: () => number } {
  const app = new Carafe({ staticFolder: null });
  let probes = 0;
  app.addConverter("probe", {
    regex: "[^/]+",
    toValue() {
      probes += 1;
      throw new ValidationError();
    },
    toUrl: String,
  });
  return { app, probes: () => probes };
}

describe("matching a long path", () => {
  it("converts a path value once, however many segments it spans", async () => {
    const { app, seen } = countingApp();
    app.get("/files/<counted:p>", (req) => json(req.params));
    const value = segments(1000);
    const res = await app.testClient().get(`/files/${value}`);
    assert.deepEqual(res.json(), { p: value });
    assert.deepEqual(seen, { calls: 1, chars: value.length });
  });

  it("converts a path value once when the rule goes on after it", async () => {
    const { app, seen } = countingApp();
    app.get("/wiki/<counted:p>/edit", (req) => json(req.params));
    const value = segments(1000);
    const res = await app.testClient().get(`/wiki/${value}/edit`);
    assert.deepEqual(res.json(), { p: value });
    assert.deepEqual(seen, { calls: 1, chars: value.length });
  });

  it("converts no path value of a rule whose rest does not match", async () => {
    const { app, seen } = countingApp();
    app.get("/wiki/<counted:p>/edit", () => "edit");
    app.get("/two/<counted:a>/<counted:b>/edit", () => "edit");
    const client = app.testClient();
    assert.equal((await client.get(`/wiki/${segments(1000)}`)).status, 404);
    assert.equal((await client.get(`/two/${segments(1000)}`)).status, 404);
    assert.deepEqual(seen, { calls: 0, chars: 0 });
  });

  it("tries the segment after several path variables a number of times linear in the path", async () => {
    const { app, probes } = probingApp();
    app.get("/two/<path:a>/<path:b>/<probe:c>", () => "two");
    app.get("/three/<path:a>/<path:b>/<path:c>/<probe:d>", () => "three");
    const client = app.testClient();
    const count = 100;
    assert.equal((await client.get(`/two/${segments(count)}`)).status, 404);
    assert.equal((await client.get(`/three/${segments(count)}`)).status, 404);
    // A probe is one try of the rest of a rule; trying it after every split of the path into
    // values for the path variables would take thousands.
    assert.ok(probes() <= 2 * count, `${probes()} conversions for ${count} segments`);
  });
});

describe("matching a long segment that mixes text and variables", () => {
  it("gives the values a short one would get", async () => {
    const app = new Carafe({ staticFolder: null });
    app.get("/pkg/<name>-<version>.tar.gz", (req) => json(req.params));
    app.get("/v/<a>-<int:b>", (req) => json(req.params));
    const client = app.testClient();
    const name = `${"a-".repeat(100)}b`;
    assert.deepEqual((await client.get(`/pkg/${name}-1.0.tar.gz`)).json(), {
      name,
      version: "1.0",
    });
    assert.deepEqual((await client.get(`/pkg/${name}.tar.gz`)).json(), {
      name: "a-".repeat(99) + "a",
      version: "b",
    });
    assert.equal((await client.get(`/pkg/${name}.zip`)).status, 404);
    assert.equal((await client.get(`/pkg/${"a-".repeat(100)}a%2F.tar.gz`)).status, 404);
    assert.deepEqual((await client.get(`/v/${"x-".repeat(100)}7`)).json(), {
      a: "x-".repeat(99) + "x",
      b: 7,
    });
  });

  it("matches one whose converter's regex the linear engine does not run", async () => {
    const app = new Carafe({ staticFolder: null });
    app.addConverter("word", { regex: "(?!-)[a-z-]+", toValue: String, toUrl: String });
    app.get("/w/<word:a>.<word:b>", (req) => json(req.params));
    const client = app.testClient();
    const long = "ab-".repeat(50);
    assert.deepEqual((await client.get(`/w/${long}x.y`)).json(), { a: `${long}x`, b: "y" });
    assert.equal((await client.get(`/w/${long}x.-y`)).status, 404);
  });
});

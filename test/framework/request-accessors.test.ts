// The accessors a Flask port reaches for: Werkzeug's typed `args.get`, a raising accessor for a
// required field, `values()`/`items()`, `headers.get` with a default and `request.fullPath`.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { MultiDict } from "carafe";
import { newApp } from "../helpers.ts";

describe("MultiDict.get with { type, default }", () => {
  it("converts the first value, and gives the default when the type throws, gives NaN or the key is absent", async () => {
    const app = newApp();
    const strictInt = (text: string): number => {
      if (!/^-?\d+$/.test(text)) throw new Error(`not an integer: ${text}`);
      return Number(text);
    };
    app.get("/page", (req) => ({
      page: req.args.get("page", { type: Number, default: 1 }),
      strict: req.args.get("page", { type: strictInt, default: -1 }),
      absent: req.args.get("size", { type: Number, default: 20 }),
      noDefault: req.args.get("size", { type: Number }) ?? null,
    }));
    const client = app.testClient();
    assert.deepEqual((await client.get("/page?page=3&page=9")).json(), {
      page: 3,
      strict: 3,
      absent: 20,
      noDefault: null,
    });
    assert.deepEqual((await client.get("/page?page=abc")).json(), {
      page: 1,
      strict: -1,
      absent: 20,
      noDefault: null,
    });
    for (const blank of ["", "%20"]) {
      assert.deepEqual((await client.get(`/page?page=${blank}`)).json(), {
        page: 1,
        strict: -1,
        absent: 20,
        noDefault: null,
      });
    }
    assert.deepEqual((await client.get("/page?page=2.5")).json(), {
      page: 2.5,
      strict: -1,
      absent: 20,
      noDefault: null,
    });
  });

  it("still takes a plain fallback as its second argument", () => {
    const dict = new MultiDict([["a", "1"]]);
    assert.equal(dict.get("b", "none"), "none");
    assert.equal(dict.get("a", "none"), "1");
  });
});

describe("MultiDict.require", () => {
  it("gives the first value, or answers 400 naming the missing key", async () => {
    const app = newApp();
    app.post("/create", (req) => ({ title: req.form.require("title") }));
    const client = app.testClient();
    const ok = await client.post("/create", { form: { title: "Hello", other: "x" } });
    assert.deepEqual(ok.json(), { title: "Hello" });
    const missing = await client.post("/create", { form: { body: "text" } });
    assert.equal(missing.status, 400);
    assert.match(missing.text(), /The request has no &#39;title&#39;\./);
  });

  it("does the same for the query string, in JSON for a client that prefers it", async () => {
    const app = newApp();
    app.get("/search", (req) => ({ q: req.args.require("q") }));
    const client = app.testClient();
    assert.deepEqual((await client.get("/search?q=flask")).json(), { q: "flask" });
    assert.equal((await client.get("/search?q=")).json<{ q: string }>().q, "");
    const missing = await client.get("/search?page=2", {
      headers: { accept: "application/json" },
    });
    assert.equal(missing.status, 400);
    assert.match(
      missing.json<{ error: { description: string } }>().error.description,
      /The request has no 'q'\./,
    );
  });
});

describe("MultiDict.values and items", () => {
  it("give a form's first value of each field to a view", async () => {
    const app = newApp();
    app.post("/tags", (req) => ({
      values: [...req.form.values()],
      items: [...req.form.items()],
      all: req.form.getAll("tag"),
    }));
    const res = await app.testClient().post("/tags", {
      data: "tag=a&title=T&tag=b",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    assert.deepEqual(res.json(), {
      values: ["a", "T"],
      items: [
        ["tag", "a"],
        ["title", "T"],
      ],
      all: ["a", "b"],
    });
  });

  it("give the first value of each key, in key order, as Werkzeug's do", () => {
    const dict = new MultiDict([
      ["tag", "a"],
      ["q", "x"],
      ["tag", "b"],
    ]);
    assert.deepEqual([...dict.values()], ["a", "x"]);
    assert.deepEqual(
      [...dict.items()],
      [
        ["tag", "a"],
        ["q", "x"],
      ],
    );
    assert.deepEqual(
      [...dict],
      [
        ["tag", "a"],
        ["tag", "b"],
        ["q", "x"],
      ],
    );
  });
});

describe("request.headers.get with a default, and request.fullPath", () => {
  it("gives the default for an absent header and the path with its query after ?", async () => {
    const app = newApp();
    app.get("/café", (req) => ({
      agent: req.headers.get("X-Agent", "none"),
      present: req.headers.get("X-Present", "none"),
      fullPath: req.fullPath,
    }));
    app.get("/plain", (req) => req.fullPath);
    const client = app.testClient();
    const res = await client.get("/caf%C3%A9?q=a%20b&x=1", { headers: { "X-Present": "yes" } });
    assert.deepEqual(res.json(), { agent: "none", present: "yes", fullPath: "/café?q=a%20b&x=1" });
    assert.equal((await client.get("/plain")).text(), "/plain?");
  });
});

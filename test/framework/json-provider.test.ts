import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { JsonProvider, Response, json, makeResponse } from "carafe";
import { newApp, isCarafeError } from "../helpers.ts";

const SAMPLE = { b: 1, a: "café", c: [true, null, { z: 1, y: "😀" }], "10": 10, "9": 9 };

/** An app answering SAMPLE three ways: returned, through json() and through makeResponse(). */
function sampleApp(): ReturnType<typeof newApp> {
  const app = newApp();
  app.get("/plain", () => SAMPLE);
  app.get("/helper", () => json(SAMPLE, 201));
  app.get("/made", () => makeResponse(SAMPLE, 202));
  return app;
}

/** The bodies and content types of SAMPLE's four responses. */
async function answers(app: ReturnType<typeof newApp>): Promise<[string, string | undefined][]> {
  const client = app.testClient();
  const out: [string, string | undefined][] = [];
  for (const path of ["/plain", "/helper", "/made"]) {
    const res = await client.get(path);
    out.push([res.text(), res.headers.get("content-type")]);
  }
  return out;
}

describe("app.json", () => {
  it("has Carafe's defaults, which send JSON.stringify's text", async () => {
    const app = sampleApp();
    assert.equal(app.json.sortKeys, false);
    assert.equal(app.json.ensureAscii, false);
    assert.equal(app.json.compact, true);
    assert.equal(app.json.mimetype, "application/json");
    for (const [body, type] of await answers(app)) {
      assert.equal(body, JSON.stringify(SAMPLE));
      assert.equal(type, "application/json");
    }
  });

  it("sorts keys at every level, integer-like keys as text, on every path", async () => {
    const app = sampleApp();
    app.json.sortKeys = true;
    const sorted = '{"10":10,"9":9,"a":"café","b":1,"c":[true,null,{"y":"😀","z":1}]}';
    for (const [body] of await answers(app)) assert.equal(body, sorted);
    // Through the whole pipeline too (an afterRequest hook takes the fast path away).
    const hooked = sampleApp();
    hooked.json.sortKeys = true;
    hooked.afterRequest(() => {});
    for (const [body] of await answers(hooked)) assert.equal(body, sorted);
    assert.equal((await hooked.testClient().head("/plain")).body.byteLength, 0);
  });

  it("escapes everything beyond ASCII with ensureAscii, as Python does", async () => {
    const app = sampleApp();
    app.json.ensureAscii = true;
    app.get("/ascii", () => ({ text: "é\u007f😀\u2028", control: "\n\u0001" }));
    const [body = ""] = (await answers(app))[0] ?? [];
    assert.match(body, /"a":"caf\\u00e9"/);
    assert.match(body, /"y":"\\ud83d\\ude00"/);
    assert.equal(
      (await app.testClient().get("/ascii")).text(),
      '{"text":"\\u00e9\\u007f\\ud83d\\ude00\\u2028","control":"\\n\\u0001"}',
    );
    assert.deepEqual(JSON.parse(body), SAMPLE);
  });

  it("indents by two spaces when not compact, sorted or not", async () => {
    const app = sampleApp();
    app.json.compact = false;
    for (const [body] of await answers(app)) assert.equal(body, JSON.stringify(SAMPLE, null, 2));
    app.json.sortKeys = true;
    const sortedCopy = { "10": 10, "9": 9, a: "café", b: 1, c: [true, null, { y: "😀", z: 1 }] };
    const expected = JSON.stringify(sortedCopy, null, 2).replace(
      '"9": 9,\n  "10": 10',
      '"10": 10,\n  "9": 9',
    );
    for (const [body] of await answers(app)) assert.equal(body, expected);
  });

  it("sends its mimetype", async () => {
    const app = sampleApp();
    app.json.mimetype = "application/vnd.api+json";
    for (const [, type] of await answers(app)) assert.equal(type, "application/vnd.api+json");
  });

  it("gives Flask's exact encoding with a subclass, trailing newline included", async () => {
    class FlaskJson extends JsonProvider {
      override sortKeys = true;
      override ensureAscii = true;
      override response(value: unknown, status?: number): Response {
        return new Response(`${this.dumps(value)}\n`, { status, mimetype: this.mimetype });
      }
    }
    const app = sampleApp();
    app.json = new FlaskJson();
    // What Flask's jsonify sends for SAMPLE.
    const flask =
      '{"10":10,"9":9,"a":"caf\\u00e9","b":1,"c":[true,null,{"y":"\\ud83d\\ude00","z":1}]}\n';
    for (const [body, type] of await answers(app)) {
      assert.equal(body, flask);
      assert.equal(type, "application/json");
    }
  });

  it("sends what a subclass's dumps writes, on every path", async () => {
    class Shouting extends JsonProvider {
      override dumps(value: unknown): string {
        return super.dumps(value).toUpperCase();
      }
    }
    const app = sampleApp();
    app.json = new Shouting();
    for (const [body] of await answers(app))
      assert.equal(body, JSON.stringify(SAMPLE).toUpperCase());
  });

  it("is the defaults' outside a request", () => {
    const app = sampleApp();
    app.json.sortKeys = true;
    assert.equal(json({ b: 1, a: 2 }).text(), '{"b":1,"a":2}');
    assert.equal(
      app.testRequestContext("/", () => json({ b: 1, a: 2 }).text()),
      '{"a":2,"b":1}',
    );
  });
});

describe("JsonProvider", () => {
  it("encodes sorted output as JSON.stringify would, toJSON and left-out values included", () => {
    const provider = new JsonProvider();
    provider.sortKeys = true;
    const when = new Date(Date.UTC(2024, 0, 2));
    const value = {
      z: { toJSON: (key: string) => `toJSON of ${key}` },
      y: [undefined, () => 1, Symbol("s"), NaN, -0, new Number(3), new String("s"), when],
      x: undefined,
      w: () => 1,
      v: { nested: { b: [], a: {} } },
    };
    const expected = {
      v: { nested: { a: {}, b: [] } },
      y: [undefined, () => 1, Symbol("s"), NaN, -0, new Number(3), new String("s"), when],
      z: { toJSON: (key: string) => `toJSON of ${key}` },
    };
    assert.equal(provider.dumps(value), JSON.stringify(expected));
    provider.compact = false;
    assert.equal(provider.dumps(value), JSON.stringify(expected, null, 2));
    assert.equal(provider.dumps([]), "[]");
    assert.equal(provider.dumps("text"), '"text"');
  });

  it("sorts keys by code point, as Python does", () => {
    const provider = new JsonProvider();
    provider.sortKeys = true;
    // U+FB01 sorts before U+1F600 by code point, after its surrogates by UTF-16 unit.
    assert.equal(provider.dumps({ "😀": 1, "\ufb01": 2, a: 3 }), '{"a":3,"\ufb01":2,"😀":1}');
  });

  it("refuses what JSON cannot encode, sorted or not", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const sortKeys of [false, true]) {
      const provider = new JsonProvider();
      provider.sortKeys = sortKeys;
      assert.throws(() => provider.dumps(cyclic), isCarafeError("ERR_NOT_JSON", /circular/));
      assert.throws(() => provider.dumps({ n: 1n }), isCarafeError("ERR_NOT_JSON", /BigInt/));
      assert.throws(() => provider.dumps(undefined), isCarafeError("ERR_NOT_JSON", /no JSON form/));
    }
  });

  it("loads text and UTF-8 bytes, and says when they are not JSON", () => {
    const provider = new JsonProvider();
    assert.deepEqual(provider.loads('{"a":[1,"é"]}'), { a: [1, "é"] });
    assert.deepEqual(provider.loads(new TextEncoder().encode('{"a":"é"}')), { a: "é" });
    assert.throws(() => provider.loads("{nope"), isCarafeError("ERR_BAD_JSON", /not JSON/));
  });

  it("makes a response with its mimetype and the status given", () => {
    const provider = new JsonProvider();
    const response = provider.response({ ok: true }, 201);
    assert.equal(response.status, 201);
    assert.equal(response.headers.get("content-type"), "application/json");
    assert.equal(response.text(), '{"ok":true}');
  });
});

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Carafe } from "carafe";
import {
  CarafeError,
  HTTPException,
  HeaderMap,
  NotFound,
  Response,
  abort,
  json,
  makeResponse,
  redirect,
  session,
  type BodyChunk,
  type ResponseRecord,
} from "carafe";
import { plainRecord, toResponse } from "../../src/framework/http/response.ts";
import { type LoggedError, captureLogs, getRecord, newApp } from "../helpers.ts";

/** Reads a streamed response body chunk by chunk, as a server would. */
async function chunksOf(record: ResponseRecord): Promise<string[]> {
  const body = record.body;
  assert.ok(body !== null && typeof body === "object" && !(body instanceof Uint8Array));
  const decoder = new TextDecoder();
  const chunks: string[] = [];
  for await (const chunk of body) {
    chunks.push(typeof chunk === "string" ? chunk : decoder.decode(chunk));
  }
  return chunks;
}

describe("return-value conversion", () => {
  it("sends a string as 200 text/html; charset=utf-8 with its byte length", async () => {
    const app = newApp();
    app.get("/", () => "<p>héllo</p>");
    const res = await app.testClient().get("/");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
    assert.equal(res.headers.get("content-length"), String(Buffer.byteLength("<p>héllo</p>")));
    assert.equal(res.text(), "<p>héllo</p>");
  });

  it("sends a plain object as JSON", async () => {
    const app = newApp();
    app.get("/", () => ({ id: 7, tags: ["a"], nested: { ok: true } }));
    const res = await app.testClient().get("/");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/json");
    assert.deepEqual(res.json(), { id: 7, tags: ["a"], nested: { ok: true } });
  });

  it("sends an array as JSON", async () => {
    const app = newApp();
    app.get("/", () => [1, "two", null]);
    const res = await app.testClient().get("/");
    assert.equal(res.mimetype, "application/json");
    assert.deepEqual(res.json(), [1, "two", null]);
  });

  it("sends a Uint8Array as application/octet-stream", async () => {
    const app = newApp();
    const bytes = new Uint8Array([0, 1, 254, 255]);
    app.get("/", () => bytes);
    const res = await app.testClient().get("/");
    assert.equal(res.headers.get("content-type"), "application/octet-stream");
    assert.equal(res.headers.get("content-length"), "4");
    assert.deepEqual(Array.from(res.body), [0, 1, 254, 255]);
  });

  it("sends a Response as it is", async () => {
    const app = newApp();
    app.get("/", () => new Response("id,name\n1,Ada\n", { status: 201, mimetype: "text/csv" }));
    const res = await app.testClient().get("/");
    assert.equal(res.status, 201);
    assert.equal(res.headers.get("content-type"), "text/csv; charset=utf-8");
    assert.equal(res.text(), "id,name\n1,Ada\n");
  });

  it("builds a response with makeResponse(body, status, headers)", async () => {
    const app = newApp();
    app.get("/", () => makeResponse("Created", 201, { Location: "/items/7", "X-Id": "7" }));
    app.get("/obj", () => makeResponse({ ok: true }, 202));
    const client = app.testClient();
    const res = await client.get("/");
    assert.equal(res.status, 201);
    assert.equal(res.headers.get("location"), "/items/7");
    assert.equal(res.headers.get("x-id"), "7");
    assert.equal(res.text(), "Created");
    const obj = await client.get("/obj");
    assert.equal(obj.status, 202);
    assert.deepEqual(obj.json(), { ok: true });
  });

  it("lets makeResponse's headers replace the ones the value already had", () => {
    const response = makeResponse(new Response("x", { headers: { "X-A": "old" } }), undefined, {
      "x-a": "new",
    });
    assert.deepEqual(response.headers.getAll("X-A"), ["new"]);
    assert.equal(response.status, 200);
  });

  it("builds JSON with json(value, status, headers)", async () => {
    const app = newApp();
    app.get("/", () => json({ error: "nope" }, 404, { "X-Reason": "missing" }));
    app.get("/scalar", () => json("just a string"));
    const client = app.testClient();
    const res = await client.get("/");
    assert.equal(res.status, 404);
    assert.equal(res.headers.get("content-type"), "application/json");
    assert.equal(res.headers.get("x-reason"), "missing");
    assert.deepEqual(res.json(), { error: "nope" });
    assert.equal((await client.get("/scalar")).json(), "just a string");
  });

  it("lets json()'s headers replace the Content-Type instead of sending a second one", async () => {
    const response = json({ ok: true }, 200, { "Content-Type": "application/problem+json" });
    assert.deepEqual(response.headers.getAll("content-type"), ["application/problem+json"]);

    const app = newApp();
    app.get("/json", () =>
      json({ ok: false }, 422, { "content-type": "application/problem+json" }),
    );
    app.get("/made", () =>
      makeResponse({ ok: false }, 422, { "Content-Type": "application/problem+json" }),
    );
    const client = app.testClient();
    for (const path of ["/json", "/made"]) {
      const res = await client.get(path);
      assert.equal(res.status, 422, path);
      assert.deepEqual(res.headers.getAll("content-type"), ["application/problem+json"], path);
      assert.deepEqual(res.json(), { ok: false }, path);
    }
  });

  it("refuses json() on a value that cannot be serialised", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.throws(() => json(cyclic), { name: "CarafeError", code: "ERR_NOT_JSON" });
    assert.throws(() => json(undefined), { name: "CarafeError", code: "ERR_NOT_JSON" });
  });
});

describe("redirect", () => {
  it("answers 302 with Location by default", async () => {
    const app = newApp();
    app.get("/old", () => redirect("/new?a=1&b=2"));
    const res = await app.testClient().get("/old");
    assert.equal(res.status, 302);
    assert.equal(res.headers.get("location"), "/new?a=1&b=2");
    assert.match(res.text(), /href="\/new\?a=1&#38;b=2"/);
  });

  it("uses the status it is given", async () => {
    const app = newApp();
    app.get("/<int:code>", (req) => redirect("https://example.com/x", req.params.code as number));
    const client = app.testClient();
    for (const code of [301, 303, 307, 308]) {
      const res = await client.get(`/${code}`);
      assert.equal(res.status, code);
      assert.equal(res.headers.get("location"), "https://example.com/x");
    }
  });

  it("refuses a location with a line break", () => {
    assert.throws(() => redirect("/a\r\nSet-Cookie: evil=1"), {
      name: "CarafeError",
      code: "ERR_BAD_HEADER",
    });
  });
});

describe("abort", () => {
  it("stops the request with the status and description", async () => {
    const app = newApp();
    app.get("/", () => abort(403, "Members only."));
    const res = await app.testClient().get("/");
    assert.equal(res.status, 403);
    assert.match(res.text(), /Members only\./);
  });

  it("uses the status's default description when none is given", async () => {
    const app = newApp();
    app.get("/", () => abort(404));
    const res = await app.testClient().get("/");
    assert.equal(res.status, 404);
    assert.match(res.text(), new RegExp(new NotFound().description.replace(/\./g, "\\.")));
  });

  it("throws the HTTP exception for the status", () => {
    assert.throws(
      () => abort(409, "clash"),
      (error) =>
        error instanceof HTTPException && error.status === 409 && error.message === "clash",
    );
  });

  it("throws CarafeError ERR_ABORT_STATUS for a status with no error class", () => {
    for (const status of [200, 302, 499, 599]) {
      assert.throws(
        () => abort(status),
        (error) =>
          error instanceof CarafeError &&
          error.code === "ERR_ABORT_STATUS" &&
          error.message.includes(`abort(${status})`),
      );
    }
  });

  it("answers with a ready response when given one", async () => {
    const app = newApp();
    app.get("/", () => abort(json({ error: "teapot" }, 418)));
    const res = await app.testClient().get("/");
    assert.equal(res.status, 418);
    assert.deepEqual(res.json(), { error: "teapot" });
  });
});

describe("streaming", () => {
  it("streams the chunks of a sync generator in order", async () => {
    const app = newApp();
    app.get("/", function* stream() {
      yield "one,";
      yield new TextEncoder().encode("two,");
      yield "three";
    });
    const record = await app.handle(getRecord("/"));
    assert.equal(record.status, 200);
    assert.equal(new HeaderMap(pairs(record.headers)).has("content-length"), false);
    assert.deepEqual(await chunksOf(record), ["one,", "two,", "three"]);
    assert.equal((await app.testClient().get("/")).text(), "one,two,three");
  });

  it("streams the chunks of an async generator in order, each after the one before", async () => {
    const app = newApp();
    const produced: number[] = [];
    app.get("/", async function* stream() {
      for (let i = 0; i < 5; i += 1) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        produced.push(i);
        yield `${i};`;
      }
    });
    const record = await app.handle(getRecord("/"));
    assert.deepEqual(produced, [], "nothing is produced before the body is read");
    assert.deepEqual(await chunksOf(record), ["0;", "1;", "2;", "3;", "4;"]);
    assert.deepEqual(produced, [0, 1, 2, 3, 4]);
  });

  it("streams a generator wrapped in a Response with its own status and type", async () => {
    const app = newApp();
    app.get("/", () => {
      function* rows(): Generator<BodyChunk> {
        yield "a\n";
        yield "b\n";
      }
      return new Response(rows(), { status: 207, mimetype: "text/csv" });
    });
    const res = await app.testClient().get("/");
    assert.equal(res.status, 207);
    assert.equal(res.headers.get("content-type"), "text/csv; charset=utf-8");
    assert.equal(res.text(), "a\nb\n");
  });

  it("sends no body for HEAD without running the generator", async () => {
    const app = newApp();
    let finished = false;
    app.get("/", function* stream() {
      try {
        yield "x";
        yield "y";
      } finally {
        finished = true;
      }
    });
    const record = await app.handle({ ...getRecord("/"), method: "HEAD" });
    assert.equal(record.body, null);
    // A generator that never started has nothing to clean up; the HEAD must not start it.
    assert.equal(finished, false);
  });
});

describe("web-standard Response", () => {
  it("sends a globalThis.Response's status, headers, cookies and body", async () => {
    const app = newApp();
    app.get("/", () => {
      const headers = new Headers({ "content-type": "text/plain", "x-web": "yes" });
      headers.append("set-cookie", "a=1; Path=/");
      headers.append("set-cookie", "b=2; Path=/");
      return new globalThis.Response("from fetch", { status: 202, headers });
    });
    const res = await app.testClient().get("/");
    assert.equal(res.status, 202);
    assert.equal(res.headers.get("content-type"), "text/plain");
    assert.equal(res.headers.get("x-web"), "yes");
    assert.deepEqual(res.headers.getAll("set-cookie"), ["a=1; Path=/", "b=2; Path=/"]);
    assert.equal(res.text(), "from fetch");
  });

  it("sends a globalThis.Response with no body as empty", async () => {
    const app = newApp();
    app.get("/", () => new globalThis.Response(null, { status: 404 }));
    const res = await app.testClient().get("/");
    assert.equal(res.status, 404);
    assert.equal(res.text(), "");
  });
});

describe("bodyless statuses", () => {
  for (const status of [204, 304]) {
    it(`sends no body and no Content-Length for ${status}`, async () => {
      const app = newApp();
      app.get("/", () => makeResponse("this must not be sent", status));
      const record = await app.handle(getRecord("/"));
      assert.equal(record.status, status);
      assert.equal(record.body, null);
      const headers = new HeaderMap(pairs(record.headers));
      assert.equal(headers.has("content-length"), false);
      const res = await app.testClient().get("/");
      assert.equal(res.body.byteLength, 0);
    });
  }

  it("drops the Content-Type of a 204", async () => {
    const app = newApp();
    app.get("/", () => new Response(null, { status: 204, headers: { "Content-Type": "x/y" } }));
    const res = await app.testClient().get("/");
    assert.equal(res.headers.has("content-type"), false);
  });

  it("sends Content-Length: 0 for an empty 200", async () => {
    const app = newApp();
    app.get("/", () => new Response(null));
    const res = await app.testClient().get("/");
    assert.equal(res.headers.get("content-length"), "0");
  });
});

describe("cookies", () => {
  it("sets a cookie with only the default Path", async () => {
    const app = newApp();
    app.get("/", () => new Response("ok").setCookie("theme", "dark"));
    const res = await app.testClient().get("/");
    assert.deepEqual(res.headers.getAll("set-cookie"), ["theme=dark; Path=/"]);
  });

  it("writes every attribute in the Set-Cookie text", async () => {
    const app = newApp();
    const expires = new Date(Date.UTC(2031, 0, 2, 3, 4, 5));
    app.get("/", () =>
      new Response("ok").setCookie("sid", "abc123", {
        path: "/app",
        domain: "example.com",
        maxAge: 3600,
        expires,
        secure: true,
        httpOnly: true,
        sameSite: "None",
        partitioned: true,
      }),
    );
    const res = await app.testClient().get("/");
    assert.deepEqual(res.headers.getAll("set-cookie"), [
      "sid=abc123; Domain=example.com; Expires=Thu, 02 Jan 2031 03:04:05 GMT; Max-Age=3600; Path=/app; Secure; HttpOnly; SameSite=None; Partitioned",
    ]);
  });

  it("adds the Expires a Max-Age implies when no Expires is given, as Werkzeug does", () => {
    const before = Math.floor(Date.now() / 1000) * 1000;
    const header = new Response("ok")
      .setCookie("sid", "1", { maxAge: 3600 })
      .headers.get("set-cookie");
    const after = Date.now();
    const match = /^sid=1; Expires=([^;]+); Max-Age=3600; Path=\/$/.exec(header ?? "");
    assert.ok(match, `unexpected Set-Cookie: ${header}`);
    const expires = Date.parse(match[1] as string);
    assert.ok(expires >= before + 3600_000 && expires <= after + 3600_000, `Expires ${match[1]}`);
  });

  it("writes SameSite=Strict and SameSite=Lax", () => {
    const response = new Response("ok")
      .setCookie("a", "1", { sameSite: "Strict" })
      .setCookie("b", "2", { sameSite: "Lax" });
    assert.deepEqual(response.headers.getAll("Set-Cookie"), [
      "a=1; Path=/; SameSite=Strict",
      "b=2; Path=/; SameSite=Lax",
    ]);
  });

  it("marks a Partitioned cookie Secure, as browsers require", () => {
    const response = new Response("ok").setCookie("chips", "1", { partitioned: true });
    assert.deepEqual(response.headers.getAll("Set-Cookie"), [
      "chips=1; Path=/; Secure; Partitioned",
    ]);
  });

  it("quotes a value with characters a cookie cannot hold, with Werkzeug's escapes", () => {
    const response = new Response("ok")
      .setCookie("name", "Ada Lovelace; admin=1")
      .setCookie("word", 'café "x"\\');
    assert.deepEqual(response.headers.getAll("Set-Cookie"), [
      'name="Ada Lovelace\\073 admin=1"; Path=/',
      'word="caf\\303\\251 \\"x\\"\\\\"; Path=/',
    ]);
  });

  it("gives back through the Cookie header the value it set", async () => {
    const values = ["Ada Lovelace; admin=1", 'café "x"\\', "a,b", "100%25", "日本"];
    const app = newApp();
    app.get("/set", () => {
      const response = new Response("ok");
      values.forEach((value, i) => response.setCookie(`c${i}`, value));
      return response;
    });
    app.get("/get", (req) => values.map((_, i) => req.cookies.get(`c${i}`)));
    const client = app.testClient();
    await client.get("/set");
    assert.deepEqual((await client.get("/get")).json(), values);
  });

  it("deletes a cookie with an empty value, Expires in 1970 and Max-Age=0", async () => {
    const app = newApp();
    app.get("/set", () => new Response("ok").setCookie("sid", "abc"));
    app.get("/del", () =>
      new Response("ok").deleteCookie("sid", {
        path: "/",
        domain: "example.com",
        secure: true,
        httpOnly: true,
        sameSite: "Lax",
      }),
    );
    const client = app.testClient();
    await client.get("/set");
    assert.equal(client.getCookie("sid"), "abc");
    const res = await client.get("/del");
    assert.deepEqual(res.headers.getAll("set-cookie"), [
      "sid=; Domain=example.com; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax",
    ]);
    assert.equal(client.getCookie("sid"), undefined);
  });

  it("refuses a cookie name or attribute that would break the header", () => {
    const response = new Response("ok");
    assert.throws(() => response.setCookie("bad name", "x"), {
      name: "CarafeError",
      code: "ERR_BAD_COOKIE",
    });
    assert.throws(() => response.setCookie("a", "x", { path: "/x;Secure" }), {
      name: "CarafeError",
      code: "ERR_BAD_COOKIE",
    });
    assert.throws(() => response.setCookie("a", "x", { domain: "a.com\r\nX: y" }), {
      name: "CarafeError",
      code: "ERR_BAD_COOKIE",
    });
    assert.throws(() => response.setCookie("a", "x", { maxAge: Infinity }), {
      name: "CarafeError",
      code: "ERR_BAD_COOKIE",
    });
    assert.throws(() => response.setCookie("a", "x\r\nSet-Cookie: evil=1"), /control character/);
    assert.deepEqual(response.headers.getAll("Set-Cookie"), []);
  });
});

describe("header safety", () => {
  it("refuses header values with CR or LF", () => {
    const response = new Response("ok");
    assert.throws(() => response.headers.set("X-A", "a\r\nInjected: 1"), {
      name: "CarafeError",
      code: "ERR_BAD_HEADER",
    });
    assert.throws(() => response.headers.append("X-A", "a\nb"), {
      name: "CarafeError",
      code: "ERR_BAD_HEADER",
    });
    assert.throws(() => response.headers.set("X-A", "a\rb"), {
      name: "CarafeError",
      code: "ERR_BAD_HEADER",
    });
    assert.throws(() => new Response("ok", { headers: { "X-A": "a\nb" } }), {
      name: "CarafeError",
      code: "ERR_BAD_HEADER",
    });
    assert.throws(() => makeResponse("ok", 200, { "X-A": "a\r\nb" }), {
      name: "CarafeError",
      code: "ERR_BAD_HEADER",
    });
    assert.equal(response.headers.has("X-A"), false);
  });

  it("refuses invalid header names", () => {
    assert.throws(() => new Response("ok").headers.set("Bad Name", "x"), {
      name: "CarafeError",
      code: "ERR_BAD_HEADER",
    });
    assert.throws(() => new Response("ok").headers.set("X-A:", "x"), {
      name: "CarafeError",
      code: "ERR_BAD_HEADER",
    });
  });

  it("answers 500 without the injected header when a handler sets one", async () => {
    const app = newApp();
    const errors = captureLogs(app);
    app.get("/", (req) => makeResponse("ok", 200, { "X-Echo": req.args.get("v", "") }));
    const res = await app.testClient().get("/", { query: { v: "x\r\nSet-Cookie: evil=1" } });
    assert.equal(res.status, 500);
    assert.equal(res.headers.has("set-cookie"), false);
    assert.equal(res.headers.has("x-echo"), false);
    assert.equal(errors.length, 1);
  });
});

describe("invalid return values", () => {
  const cases: [string, () => unknown, RegExp][] = [
    ["undefined", () => undefined, /returned undefined/],
    ["null", () => null, /returned null/],
    ["a number", () => 42, /returned a number \(42\)/],
    ["a boolean", () => true, /returned a boolean/],
    ["a Map", () => new Map([["a", 1]]), /returned a Map; return a string, a plain object/],
    ["a Set", () => new Set(["a"]), /returned a Set; return a string, a plain object/],
    ["a class instance", () => new (class Point {})(), /returned a Point; .*json\(value\)/],
    ["a Date", () => new Date(0), /returned a Date;/],
    ["a function", () => () => "hi", /returned a function;/],
    [
      "a circular object",
      () => {
        const loop: { self?: unknown } = {};
        loop.self = loop;
        return loop;
      },
      /returned a value JSON cannot encode/,
    ],
  ];
  for (const [label, view, detail] of cases) {
    it(`answers 500 and logs the endpoint when the view returns ${label}`, async () => {
      const app = newApp();
      const errors = captureLogs(app);
      app.get("/broken", { endpoint: "brokenView" }, view as () => string);
      const res = await app.testClient().get("/broken");
      assert.equal(res.status, 500);
      assert.equal(errors.length, 1);
      const logged = errors[0] as LoggedError;
      assert.match(logged.message, /\/broken/);
      assert.ok(logged.error instanceof CarafeError);
      assert.equal(logged.error.code, "ERR_BAD_RESPONSE");
      assert.match(logged.error.message, /^the view for GET \/broken \(endpoint 'brokenView'\)/);
      assert.match(logged.error.message, detail);
      assert.doesNotMatch(res.text(), /brokenView/);
    });
  }
});

describe("toResponse and makeResponse", () => {
  it("sends a plain object, an object without a prototype and an array as JSON", () => {
    for (const value of [{ a: 1 }, Object.assign(Object.create(null) as object, { a: 1 }), [1]]) {
      const response = toResponse(value);
      assert.equal(response.mimetype, "application/json");
      assert.deepEqual(response.json(), JSON.parse(JSON.stringify(value)));
    }
  });

  it("refuses a Map with a message that says what to return instead", () => {
    assert.throws(() => toResponse(new Map()), {
      name: "CarafeError",
      code: "ERR_BAD_RESPONSE",
      message:
        "the handler returned a Map; return a string, a plain object or an array (JSON), bytes, a stream or a Response (Object.fromEntries(map) makes a plain object of a Map)",
    });
  });

  it("names makeResponse when it is given a value it cannot send", () => {
    assert.throws(() => makeResponse(new Set() as never), {
      code: "ERR_BAD_RESPONSE",
      message: /^makeResponse\(\) was given a Set;/,
    });
  });

  it("still sends a class instance through json(), which takes what JSON.stringify takes", () => {
    const point = new (class Point {
      x = 1;
      toJSON() {
        return { x: this.x, kind: "point" };
      }
    })();
    assert.throws(() => toResponse(point), { code: "ERR_BAD_RESPONSE" });
    assert.deepEqual(json(point).json(), { x: 1, kind: "point" });
  });
});

describe("direct records for text and JSON", () => {
  const plain: [string, unknown][] = [
    ["text", "<p>héllo</p>"],
    ["empty text", ""],
    ["an object", { id: 7, name: "Ada", tags: ["a"] }],
    ["an object without a prototype", Object.assign(Object.create(null) as object, { a: 1 })],
    ["an array", [1, "two", null]],
    ["an object with toJSON", { toJSON: () => ({ shown: true }) }],
  ];
  for (const [label, value] of plain) {
    for (const method of ["GET", "HEAD"]) {
      it(`builds the record a Response would for ${label} (${method})`, () => {
        assert.deepEqual(plainRecord(value, method), toResponse(value).toRecord(method));
      });
    }
  }

  const others: [string, unknown][] = [
    ["bytes", new Uint8Array([1, 2])],
    ["a Response", new Response("x", { status: 201 })],
    ["a Map", new Map([["a", 1]])],
    ["a generator", (function* () {})()],
    ["an iterable object", { *[Symbol.iterator]() {} }],
    ["a class instance", new (class Point {})()],
    [
      "a circular object",
      (() => {
        const loop: { self?: unknown } = {};
        loop.self = loop;
        return loop;
      })(),
    ],
    ["an object holding a BigInt", { n: 1n }],
    ["undefined", undefined],
    ["null", null],
    ["a number", 42],
  ];
  for (const [label, value] of others) {
    it(`leaves ${label} to the Response path`, () => {
      assert.equal(plainRecord(value, "GET"), null);
    });
  }

  // A no-op afterRequest hook sends every request through the whole pipeline: the answers of
  // the two apps must not differ, whatever the view returns or throws.
  function twinApps(): Carafe[] {
    return [false, true].map((withHook) => {
      const app = newApp({ secretKey: "k" });
      captureLogs(app);
      if (withHook) app.afterRequest(() => undefined);
      app.get("/text", () => "hi");
      app.get("/json", () => ({ a: [1, 2] }));
      app.get("/bytes", () => new Uint8Array([104, 105]));
      app.get("/response", () => new Response("made", { status: 202, mimetype: "text/plain" }));
      app.get("/missing", () => {
        throw new NotFound("No such thing.");
      });
      app.get("/teapot", () => {
        abort(418);
      });
      app.get("/broken", () => {
        throw new Error("boom");
      });
      app.get("/later", () => Promise.resolve("resolved"));
      app.get("/bad", () => 42 as unknown as string);
      app.errorHandler(418, () => "short and stout");
      return app;
    });
  }
  for (const path of [
    "/text",
    "/json",
    "/bytes",
    "/response",
    "/missing",
    "/teapot",
    "/broken",
    "/later",
    "/bad",
  ]) {
    for (const method of ["GET", "HEAD"]) {
      it(`answers ${method} ${path} the same with or without the whole pipeline`, async () => {
        const [direct, piped] = twinApps() as [Carafe, Carafe];
        const request = { ...getRecord(path), method };
        assert.deepEqual(await direct.handle(request), await piped.handle(request));
      });
    }
  }

  it("saves the session a plain view opened", async () => {
    const app = newApp({ secretKey: "k" });
    app.get("/login", () => {
      session.set("user", "ada");
      return "signed in";
    });
    const record = await app.handle(getRecord("/login"));
    assert.equal(record.body, "signed in");
    assert.match(
      pairs(record.headers).find(([name]) => name === "Set-Cookie")?.[1] ?? "",
      /^session=/,
    );
  });
});

function pairs(flat: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i] as string, flat[i + 1] as string]);
  return out;
}

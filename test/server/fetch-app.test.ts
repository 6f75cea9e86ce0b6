import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Hono } from "hono";
import { stream } from "hono/streaming";
import {
  Carafe,
  startDevServer,
  type BodyChunk,
  type BodyStream,
  type RequestRecord,
  type ResponseRecord,
} from "carafe";
import honoApp from "../../examples/hono/app.ts";
import {
  FetchAppError,
  fromFetchApp,
  isFetchApp,
  isRecordHandler,
  toRecordHandler,
  type FetchApp,
} from "../../src/server/loading/fetch-app.ts";
import { deferred } from "../helpers.ts";

const decoder = new TextDecoder();

function record(url: string, init: Partial<RequestRecord> = {}): RequestRecord {
  return {
    method: "GET",
    url,
    headers: { host: "example.com" },
    body: null,
    remoteAddress: "127.0.0.1",
    scheme: "http",
    ...init,
  };
}

function isStream(body: ResponseRecord["body"]): body is BodyStream {
  return body !== null && typeof body === "object" && Symbol.asyncIterator in body;
}

async function textOf(body: ResponseRecord["body"]): Promise<string> {
  if (body === null) return "";
  if (typeof body === "string") return body;
  if (body instanceof Uint8Array) return decoder.decode(body);
  let text = "";
  for await (const chunk of body) {
    text += typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
  }
  return text;
}

/** Header values of `name` in a flat header list, in order. */
function headerValues(headers: readonly string[], name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] === name) values.push(headers[i + 1] as string);
  }
  return values;
}

/** Runs a record through the wrapped example app; resolves with status, headers and text. */
async function call(app: FetchApp, request: RequestRecord, logged: unknown[] = []) {
  const handler = fromFetchApp(app, { logger: { error: (_m, error) => logged.push(error) } });
  const response = await handler.handle(request);
  return { status: response.status, headers: response.headers, text: await textOf(response.body) };
}

describe("fromFetchApp with the Hono example", () => {
  it("answers a text route", async () => {
    const res = await call(honoApp, record("/"));
    assert.equal(res.status, 200);
    // Hono's fast path leaves the type to the platform's Response, which omits the space.
    assert.match(
      headerValues(res.headers, "content-type")[0] ?? "",
      /^text\/plain; ?charset=UTF-8$/,
    );
    assert.equal(res.text, "Hello Hono!");
  });

  it("answers a JSON route", async () => {
    const res = await call(honoApp, record("/api/hello"));
    assert.equal(res.status, 200);
    assert.match(headerValues(res.headers, "content-type")[0] ?? "", /^application\/json/);
    assert.deepEqual(JSON.parse(res.text), { ok: true, message: "Hello Hono!" });
  });

  it("passes path parameters and the query string to the app", async () => {
    const user = await call(honoApp, record("/user/42"));
    assert.deepEqual(JSON.parse(user.text), { id: "42" });
    const post = await call(honoApp, record("/posts/7?page=2"));
    assert.equal(post.text, "You want to see 2 of 7");
    assert.deepEqual(headerValues(post.headers, "x-message"), ["Hi!"]);
  });

  it("passes a POST body to the app", async () => {
    const body = new TextEncoder().encode(JSON.stringify({ title: "Carafe" }));
    const res = await call(
      honoApp,
      record("/posts", {
        method: "POST",
        headers: {
          host: "example.com",
          "content-type": "application/json",
          "content-length": String(body.byteLength),
        },
        body,
      }),
    );
    assert.equal(res.status, 201);
    assert.deepEqual(JSON.parse(res.text), { created: "Carafe" });
  });

  it("returns the app's 404 for an unknown path", async () => {
    const res = await call(honoApp, record("/nowhere"));
    assert.equal(res.status, 404);
    assert.equal(res.text, "404 Not Found");
  });

  it("keeps each Set-Cookie header apart", async () => {
    const res = await call(honoApp, record("/login"));
    const cookies = headerValues(res.headers, "set-cookie");
    assert.equal(cookies.length, 2);
    assert.equal(cookies[0], "session=abc; Path=/; HttpOnly");
    // An Expires date contains a comma: joined, the two cookies could not be told apart.
    assert.match(
      cookies[1] ?? "",
      /^theme=dark; Path=\/; Expires=\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/,
    );
  });

  it("streams the body as an async iterable instead of buffering it", async () => {
    const response = await fromFetchApp(honoApp).handle(record("/count"));
    assert.ok(isStream(response.body));
    assert.equal(await textOf(response.body), "1\n2\n3\n");
  });

  it("answers HEAD with the headers and no body", async () => {
    const response = await fromFetchApp(honoApp).handle(record("/", { method: "HEAD" }));
    assert.equal(response.status, 200);
    assert.equal(response.body, null);
    assert.match(
      headerValues(response.headers, "content-type")[0] ?? "",
      /^text\/plain; ?charset=UTF-8$/,
    );
  });
});

describe("fromFetchApp", () => {
  it("builds the Request from scheme, Host header, target, method, headers and body", async () => {
    let seen: { url: string; method: string; type: string | null; body: string } | undefined;
    const echo: FetchApp = {
      async fetch(request) {
        seen = {
          url: request.url,
          method: request.method,
          type: request.headers.get("content-type"),
          body: await request.text(),
        };
        return new Response("ok");
      },
    };
    const res = await call(
      echo,
      record("/path/x?y=1", {
        method: "PUT",
        scheme: "https",
        headers: { host: "example.com:8443", "content-type": "text/plain" },
        body: new TextEncoder().encode("payload"),
      }),
    );
    assert.equal(res.text, "ok");
    assert.deepEqual(seen, {
      url: "https://example.com:8443/path/x?y=1",
      method: "PUT",
      type: "text/plain",
      body: "payload",
    });
  });

  it("answers from a synchronous fetch without a promise", () => {
    const sync: FetchApp = { fetch: () => new Response("now", { status: 202 }) };
    const response = fromFetchApp(sync).handle(record("/"));
    assert.ok(!(response instanceof Promise));
    assert.equal(response.status, 202);
  });

  it("answers 500 without the error's message or stack when fetch throws", async () => {
    const logged: unknown[] = [];
    const boom = new Error("secret database password");
    const throwing: FetchApp = {
      fetch() {
        throw boom;
      },
    };
    const res = await call(throwing, record("/"), logged);
    assert.equal(res.status, 500);
    assert.equal(res.text, "Internal Server Error\n");
    assert.doesNotMatch(res.text, /secret|at /);
    assert.deepEqual(logged, [boom]);
  });

  it("answers 500 and logs when fetch rejects or returns something other than a Response", async () => {
    const logged: unknown[] = [];
    const rejecting: FetchApp = { fetch: () => Promise.reject(new Error("secret")) };
    const rejected = await call(rejecting, record("/"), logged);
    assert.equal(rejected.status, 500);
    assert.doesNotMatch(rejected.text, /secret/);
    const wrong = { fetch: () => "not a response" } as unknown as FetchApp;
    const returned = await call(wrong, record("/"), logged);
    assert.equal(returned.status, 500);
    assert.equal(logged.length, 2);
    assert.match(String(logged[1]), /fetch returned string, not a Response/);
  });

  it("answers 413 without calling fetch when the server found the body too large", async () => {
    let called = false;
    const app: FetchApp = {
      fetch: () => {
        called = true;
        return new Response("ok");
      },
    };
    const handler = fromFetchApp(app, { maxContentLength: 10 });
    assert.equal(handler.maxContentLength, 10);
    const response = await handler.handle(record("/", { method: "POST", bodyTooLarge: true }));
    assert.equal(response.status, 413);
    assert.equal(called, false);
  });

  it("bounds a fetch app's bodies at 1 MiB unless it is wrapped with its own bound", async () => {
    const app: FetchApp = { fetch: () => new Response("ok") };
    assert.equal(fromFetchApp(app).maxContentLength, 1024 * 1024);
    const wrapped = fromFetchApp(app, { maxContentLength: 64 * 1024 * 1024 });
    assert.equal(toRecordHandler(wrapped), wrapped, "carafe serve runs the wrapped app as it is");
  });

  it("answers 400 when the Host header cannot form a URL", async () => {
    const ok: FetchApp = { fetch: () => new Response("ok") };
    const res = await call(ok, record("/", { headers: { host: "bad host" } }));
    assert.equal(res.status, 400);
  });

  it("answers 501 for methods a web Request cannot carry", async () => {
    const ok: FetchApp = { fetch: () => new Response("ok") };
    assert.equal((await call(ok, record("/", { method: "TRACE" }))).status, 501);
  });

  it("gives an empty body a zero Content-Length and keeps 204 without a body", async () => {
    const empty: FetchApp = { fetch: () => new Response(null, { status: 200 }) };
    const res = await fromFetchApp(empty).handle(record("/"));
    assert.equal(res.body, null);
    assert.deepEqual(headerValues(res.headers, "content-length"), ["0"]);
    const none: FetchApp = { fetch: () => new Response(null, { status: 204 }) };
    const noContent = await fromFetchApp(none).handle(record("/"));
    assert.equal(noContent.body, null);
    assert.deepEqual(headerValues(noContent.headers, "content-length"), []);
  });

  it("stops the app's stream when the body is cancelled", async () => {
    const aborted = deferred();
    const firstWritten = deferred();
    const app = new Hono().get("/forever", (c) =>
      stream(c, async (out) => {
        out.onAbort(() => aborted.resolve());
        for (let i = 0; !out.aborted; i++) {
          await out.write(`${i};`);
          firstWritten.resolve();
        }
      }),
    );
    const response = await fromFetchApp(app).handle(record("/forever"));
    assert.ok(isStream(response.body));
    const iterator = response.body[Symbol.asyncIterator]();
    const first = (await iterator.next()) as IteratorResult<BodyChunk>;
    assert.equal(first.done, false);
    await firstWritten.promise;
    response.body.cancel?.();
    await aborted.promise;
  });

  it("names the handler after the app's class and refuses an object without fetch", () => {
    assert.equal(fromFetchApp(honoApp).name, "Hono");
    assert.equal(fromFetchApp({ fetch: () => new Response("") }).name, "app");
    assert.throws(
      () => fromFetchApp({} as FetchApp),
      (error: unknown) => error instanceof FetchAppError && error.code === "ERR_NOT_A_FETCH_APP",
    );
  });
});

describe("isFetchApp, isRecordHandler and toRecordHandler", () => {
  it("tell fetch apps, record handlers and other values apart", () => {
    const carafe = new Carafe({ staticFolder: null });
    assert.equal(isFetchApp(honoApp), true);
    assert.equal(isRecordHandler(honoApp), false);
    assert.equal(isRecordHandler(carafe), true);
    assert.equal(isFetchApp({ fetch: 1 }), false);
    assert.equal(isFetchApp(null), false);
    assert.equal(isRecordHandler("handle"), false);
    assert.equal(toRecordHandler(carafe), carafe);
    assert.equal(toRecordHandler({ nothing: true }), null);
    assert.equal(typeof toRecordHandler(honoApp)?.handle, "function");
  });
});

describe("the Hono example on a real socket", () => {
  it("serves text, JSON, cookies and a streamed body through the development server", async () => {
    const server = await startDevServer(fromFetchApp(honoApp), { port: 0 });
    try {
      const index = await fetch(`${server.url}/`);
      assert.equal(index.status, 200);
      assert.equal(await index.text(), "Hello Hono!");
      const json = await fetch(`${server.url}/user/5`);
      assert.deepEqual(await json.json(), { id: "5" });
      const login = await fetch(`${server.url}/login`);
      assert.equal(login.headers.getSetCookie().length, 2);
      await login.arrayBuffer();
      const count = await fetch(`${server.url}/count`);
      assert.equal(count.headers.get("transfer-encoding"), "chunked");
      assert.equal(await count.text(), "1\n2\n3\n");
      const posted = await fetch(`${server.url}/posts`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ title: "over the wire" }),
      });
      assert.equal(posted.status, 201);
      assert.deepEqual(await posted.json(), { created: "over the wire" });
      const missing = await fetch(`${server.url}/missing`);
      assert.equal(missing.status, 404);
      await missing.arrayBuffer();
    } finally {
      await server.close();
    }
  });
});

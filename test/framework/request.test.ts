import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Carafe } from "carafe";
import { json, request, type FileStorage, type RequestRecord, type ResponseRecord } from "carafe";
import { newApp } from "../helpers.ts";

/** Sends a record straight to `app.handle`, bypassing the test client's own checks. */
async function handleRecord(app: Carafe, record: Partial<RequestRecord>): Promise<ResponseRecord> {
  return app.handle({
    method: "GET",
    url: "/",
    headers: { host: "localhost" },
    body: null,
    remoteAddress: "127.0.0.1",
    scheme: "http",
    ...record,
  });
}

describe("request line", () => {
  it("exposes the method in upper case", async () => {
    const app = newApp();
    app.route("/m", { methods: ["GET", "POST", "DELETE"] }, (req) => req.method);
    const client = app.testClient();
    assert.equal((await client.get("/m")).text(), "GET");
    assert.equal((await client.post("/m")).text(), "POST");
    assert.equal((await client.request("delete", "/m")).text(), "DELETE");
  });

  it("decodes the path but keeps the raw path percent-encoded", async () => {
    const app = newApp();
    app.get("/<path:rest>", (req) => ({ path: req.path, rawPath: req.rawPath }));
    const res = await app.testClient().get("/caf%C3%A9/a%20b");
    assert.deepEqual(res.json(), { path: "/café/a b", rawPath: "/caf%C3%A9/a%20b" });
  });

  it("builds the full URL, base URL and host URL from scheme, Host and query string", async () => {
    const app = newApp();
    app.get("/search", (req) => ({
      url: req.url,
      baseUrl: req.baseUrl,
      hostUrl: req.hostUrl,
      host: req.host,
      scheme: req.scheme,
      isSecure: req.isSecure,
      queryString: req.queryString,
    }));
    const res = await app.testClient().get("/search?q=a%20b&page=2", {
      headers: { host: "example.com:8443" },
      scheme: "https",
    });
    assert.deepEqual(res.json(), {
      url: "https://example.com:8443/search?q=a%20b&page=2",
      baseUrl: "https://example.com:8443/search",
      hostUrl: "https://example.com:8443",
      host: "example.com:8443",
      scheme: "https",
      isSecure: true,
      queryString: "q=a%20b&page=2",
    });
  });

  it("leaves the URL without '?' when there is no query string", async () => {
    const app = newApp();
    app.get("/plain", (req) => req.url);
    assert.equal((await app.testClient().get("/plain")).text(), "http://localhost/plain");
  });

  it("reports the peer address as remoteAddr", async () => {
    const app = newApp();
    app.get("/ip", (req) => req.remoteAddr);
    const client = app.testClient();
    assert.equal((await client.get("/ip")).text(), "127.0.0.1");
    assert.equal((await client.get("/ip", { remoteAddress: "203.0.113.9" })).text(), "203.0.113.9");
  });
});

describe("request.args", () => {
  it("returns the first value with get and every value with getAll", async () => {
    const app = newApp();
    app.get("/args", (req) => ({
      first: req.args.get("tag"),
      all: req.args.getAll("tag"),
      q: req.args.get("q"),
      has: req.args.has("q"),
    }));
    const res = await app.testClient().get("/args?tag=a&q=x%26y&tag=b&tag=c");
    assert.deepEqual(res.json(), { first: "a", all: ["a", "b", "c"], q: "x&y", has: true });
  });

  it("returns the default for a missing key and an empty list from getAll", async () => {
    const app = newApp();
    app.get("/args", (req) => ({
      page: req.args.get("page", "1"),
      missing: req.args.get("missing") ?? null,
      all: req.args.getAll("missing"),
      has: req.args.has("page"),
    }));
    const res = await app.testClient().get("/args?other=1");
    assert.deepEqual(res.json(), { page: "1", missing: null, all: [], has: false });
  });

  it("prefers a present value over the default, even an empty one", async () => {
    const app = newApp();
    app.get("/args", (req) => ({ page: req.args.get("page", "1") }));
    const client = app.testClient();
    assert.deepEqual((await client.get("/args?page=7")).json(), { page: "7" });
    assert.deepEqual((await client.get("/args?page=")).json(), { page: "" });
  });

  it("decodes '+' as a space in query values", async () => {
    const app = newApp();
    app.get("/args", (req) => req.args.get("q", ""));
    assert.equal((await app.testClient().get("/args?q=hello+world")).text(), "hello world");
  });
});

describe("request.headers", () => {
  it("looks headers up case-insensitively", async () => {
    const app = newApp();
    app.get("/h", (req) => ({
      lower: req.headers.get("x-custom-token"),
      upper: req.headers.get("X-CUSTOM-TOKEN"),
      mixed: req.headers.get("X-Custom-Token"),
      has: req.headers.has("X-Custom-TOKEN"),
      absent: req.headers.get("X-Absent") ?? null,
      userAgent: req.userAgent,
    }));
    const res = await app.testClient().get("/h", {
      headers: { "X-Custom-Token": "s3cret", "User-Agent": "carafe-test/1" },
    });
    assert.deepEqual(res.json(), {
      lower: "s3cret",
      upper: "s3cret",
      mixed: "s3cret",
      has: true,
      absent: null,
      userAgent: "carafe-test/1",
    });
  });
});

describe("request.cookies", () => {
  it("parses the Cookie header as Werkzeug does: quotes undone, no percent-decoding, first value kept", async () => {
    const app = newApp();
    app.get("/c", (req) => Object.fromEntries(req.cookies));
    const res = await app.testClient().get("/c", {
      headers: {
        cookie:
          'theme=dark; name=Ada%20Lovelace; quoted="q v"; escaped="caf\\303\\251 \\"\\073\\\\"; theme=light',
      },
    });
    assert.deepEqual(res.json(), {
      theme: "dark",
      name: "Ada%20Lovelace",
      quoted: "q v",
      escaped: 'café ";\\',
    });
  });

  it("never hands the app a control character, percent-encoded, escaped or raw", async () => {
    const app = newApp();
    app.get("/c", (req) => Object.fromEntries(req.cookies));
    const res = await app.testClient().get("/c", {
      headers: { cookie: 'pct=a%0D%0Ab%00; octal="a\\015\\012b\\000"; raw=a\x01b' },
    });
    assert.deepEqual(res.json(), { pct: "a%0D%0Ab%00", octal: "ab", raw: "ab" });
  });

  it("sees cookies stored in the test client's jar", async () => {
    const app = newApp();
    app.get("/c", (req) => req.cookies.get("sid") ?? "none");
    const client = app.testClient();
    assert.equal((await client.get("/c")).text(), "none");
    client.setCookie("sid", "abc123");
    assert.equal((await client.get("/c")).text(), "abc123");
  });
});

describe("request.json()", () => {
  it("parses a JSON body", async () => {
    const app = newApp();
    app.post("/j", (req) => {
      const body = req.json<{ items: number[] }>();
      return { sum: body.items.reduce((a, b) => a + b, 0), isJson: req.isJson };
    });
    const res = await app.testClient().post("/j", { json: { items: [1, 2, 3] } });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { sum: 6, isJson: true });
  });

  it("accepts an application/*+json media type with parameters", async () => {
    const app = newApp();
    app.post("/j", (req) => req.json<{ a: number }>());
    const res = await app.testClient().post("/j", {
      data: '{"a":1}',
      headers: { "content-type": "application/vnd.api+json; charset=utf-8" },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { a: 1 });
  });

  it("answers 400 with a message naming the problem when the JSON is malformed", async () => {
    const app = newApp();
    let reached = false;
    app.post("/j", (req) => {
      req.json();
      reached = true;
      return "parsed";
    });
    const res = await app.testClient().post("/j", {
      data: '{"a": 1,',
      headers: { "content-type": "application/json" },
    });
    assert.equal(res.status, 400);
    assert.match(res.text(), /The body is not valid JSON/);
    assert.equal(reached, false);
  });

  it("gives the malformed-JSON message in a JSON error body when the client asks for JSON", async () => {
    const app = newApp();
    app.post("/j", (req) => req.json<object>());
    const res = await app.testClient().post("/j", {
      data: "not json",
      headers: { "content-type": "application/json", accept: "application/json" },
    });
    assert.equal(res.status, 400);
    const body = res.json<{ error: { status: number; description: string } }>();
    assert.equal(body.error.status, 400);
    assert.match(body.error.description, /^The body is not valid JSON: /);
  });

  it("answers 415 naming the Content-Type it got when the body is not declared as JSON", async () => {
    const app = newApp();
    app.post("/j", (req) => req.json<object>());
    const client = app.testClient();
    const wrong = await client.post("/j", {
      data: '{"a":1}',
      headers: { "content-type": "text/plain" },
    });
    assert.equal(wrong.status, 415);
    assert.match(wrong.text(), /Expected a JSON body/);
    assert.match(wrong.text(), /text\/plain/);
    const none = await client.post("/j", { data: '{"a":1}' });
    assert.equal(none.status, 415);
    assert.match(none.text(), /no Content-Type/);
  });

  it("returns undefined from getJson({ silent }) on a wrong Content-Type or malformed body", async () => {
    const app = newApp();
    app.post("/j", (req) => ({ value: req.getJson({ silent: true }) ?? "nothing" }));
    const client = app.testClient();
    const wrongType = await client.post("/j", {
      data: '{"a":1}',
      headers: { "content-type": "text/plain" },
    });
    assert.equal(wrongType.status, 200);
    assert.deepEqual(wrongType.json(), { value: "nothing" });
    const malformed = await client.post("/j", {
      data: "{",
      headers: { "content-type": "application/json" },
    });
    assert.equal(malformed.status, 200);
    assert.deepEqual(malformed.json(), { value: "nothing" });
    const good = await client.post("/j", { json: { a: 1 } });
    assert.deepEqual(good.json(), { value: { a: 1 } });
  });

  it("parses any Content-Type with getJson({ force }), and still rejects malformed JSON", async () => {
    const app = newApp();
    app.post("/j", (req) => ({ value: req.getJson({ force: true }) }));
    const client = app.testClient();
    const res = await client.post("/j", {
      data: '{"forced":true}',
      headers: { "content-type": "text/plain" },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { value: { forced: true } });
    const bad = await client.post("/j", { data: "{{", headers: { "content-type": "text/plain" } });
    assert.equal(bad.status, 400);
  });
});

describe("urlencoded forms", () => {
  it("parses fields, repeated fields and values", async () => {
    const app = newApp();
    app.post("/f", (req) => ({
      name: req.form.get("name"),
      colors: req.form.getAll("color"),
      missing: req.form.get("missing", "default"),
      values: req.values.getAll("color"),
      fromQuery: req.values.get("q"),
      files: req.files.size,
    }));
    const res = await app.testClient().post("/f?q=query&color=query-color", {
      form: { name: "Ada & Co", color: ["red", "green"] },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), {
      name: "Ada & Co",
      colors: ["red", "green"],
      missing: "default",
      values: ["query-color", "red", "green"],
      fromQuery: "query",
      files: 0,
    });
  });

  it("reads no form from a body of another media type", async () => {
    const app = newApp();
    app.post("/f", (req) => ({ size: req.form.size, text: req.text() }));
    const res = await app.testClient().post("/f", {
      data: "a=1&b=2",
      headers: { "content-type": "text/plain" },
    });
    assert.deepEqual(res.json(), { size: 0, text: "a=1&b=2" });
  });

  it("answers 413 when the form has more fields than config maxFormParts", async () => {
    const app = newApp({ maxFormParts: 2 });
    app.post("/f", (req) => [...req.form.keys()]);
    const client = app.testClient();
    const res = await client.post("/f", { form: { a: "1", b: "2", c: "3" } });
    assert.equal(res.status, 413);
    assert.match(res.text(), /more than 2 fields \(config maxFormParts\)/);
    const atLimit = await client.post("/f?q=1&r=2&s=3", { form: { a: "1", b: "2" } });
    assert.equal(atLimit.status, 200);
    assert.deepEqual(atLimit.json(), ["a", "b"]);
  });
});

describe("multipart forms", () => {
  function describeFile(file: FileStorage | undefined): object | null {
    if (file === undefined) return null;
    return {
      name: file.name,
      filename: file.filename,
      contentType: file.contentType,
      size: file.size,
      bytes: Array.from(file.bytes),
      text: file.text(),
    };
  }

  it("exposes uploaded files with filename, contentType, size, bytes and text, next to fields", async () => {
    const app = newApp();
    app.post("/upload", (req) => ({
      title: req.form.get("title"),
      tags: req.form.getAll("tag"),
      doc: describeFile(req.files.get("doc")),
    }));
    const res = await app.testClient().post("/upload", {
      form: { title: "Report", tag: ["q1", "draft"] },
      files: { doc: { filename: "résumé.txt", content: "héllo\n", contentType: "text/plain" } },
    });
    assert.equal(res.status, 200);
    const expectedBytes = Array.from(Buffer.from("héllo\n", "utf8"));
    assert.deepEqual(res.json(), {
      title: "Report",
      tags: ["q1", "draft"],
      doc: {
        name: "doc",
        filename: "résumé.txt",
        contentType: "text/plain",
        size: expectedBytes.length,
        bytes: expectedBytes,
        text: "héllo\n",
      },
    });
  });

  it("keeps binary content byte for byte and defaults the type to application/octet-stream", async () => {
    const app = newApp();
    app.post("/upload", (req) => describeFile(req.files.get("blob")) ?? "missing");
    const content = new Uint8Array([0, 255, 13, 10, 45, 45, 128, 7]);
    const res = await app.testClient().post("/upload", {
      files: { blob: { filename: "data.bin", content } },
    });
    assert.equal(res.status, 200);
    const body = res.json<{ contentType: string; size: number; bytes: number[] }>();
    assert.equal(body.contentType, "application/octet-stream");
    assert.equal(body.size, content.byteLength);
    assert.deepEqual(body.bytes, Array.from(content));
  });

  it("collects several files under one field name in order", async () => {
    const app = newApp();
    app.post("/upload", (req) =>
      req.files.getAll("photos").map((file) => `${file.filename}:${file.text()}`),
    );
    const res = await app.testClient().post("/upload", {
      files: {
        photos: [
          { filename: "a.txt", content: "first" },
          { filename: "b.txt", content: "second" },
        ],
      },
    });
    assert.deepEqual(res.json(), ["a.txt:first", "b.txt:second"]);
  });

  it("parses the form before a synchronous handler runs", async () => {
    const app = newApp();
    app.post("/upload", function syncView(req) {
      return `${req.form.get("field")}/${req.files.get("f")?.text()}`;
    });
    const res = await app.testClient().post("/upload", {
      form: { field: "v" },
      files: { f: { filename: "f.txt", content: "c" } },
    });
    assert.equal(res.text(), "v/c");
  });

  it("answers 413 when the form has more parts than config maxFormParts", async () => {
    const app = newApp({ maxFormParts: 2 });
    let reached = false;
    app.post("/upload", () => {
      reached = true;
      return "ok";
    });
    const client = app.testClient();
    const res = await client.post("/upload", {
      form: { a: "1", b: "2" },
      files: { f: { filename: "f.txt", content: "x" } },
    });
    assert.equal(res.status, 413);
    assert.match(res.text(), /more than 2 parts/);
    assert.equal(reached, false);
    const atLimit = await client.post("/upload", {
      form: { a: "1" },
      files: { f: { filename: "f.txt", content: "x" } },
    });
    assert.equal(atLimit.status, 200);
  });

  it("answers 400 when the multipart Content-Type has no boundary", async () => {
    const app = newApp();
    app.post("/upload", () => "ok");
    const res = await app.testClient().post("/upload", {
      data: "whatever",
      headers: { "content-type": "multipart/form-data" },
    });
    assert.equal(res.status, 400);
    assert.match(res.text(), /multipart body cannot be read/);
  });

  it("answers 400 when the multipart body ends in the middle of a part", async () => {
    const app = newApp();
    app.post("/upload", () => "ok");
    const body =
      '--XyZ\r\nContent-Disposition: form-data; name="a"; filename="a.txt"\r\n' +
      "Content-Type: text/plain\r\n\r\nunfinished content";
    const res = await app.testClient().post("/upload", {
      data: body,
      headers: { "content-type": "multipart/form-data; boundary=XyZ" },
    });
    assert.equal(res.status, 400);
    assert.match(res.text(), /multipart body is malformed/);
  });

  it("removes control characters from a file name, an encoded filename* included", async () => {
    const app = newApp();
    app.post("/upload", (req) => req.files.getAll("f").map((file) => file.filename));
    const part = (disposition: string): string =>
      `--XyZ\r\nContent-Disposition: form-data; name="f"; ${disposition}\r\n\r\nx\r\n`;
    const body =
      part("filename*=UTF-8''a%00b%0D%0A%1Bc%7F%C2%85.txt") +
      part('filename="tab\there.txt"') +
      part("filename*=UTF-8''caf%C3%A9%20menu.txt") +
      "--XyZ--\r\n";
    const res = await app.testClient().post("/upload", {
      data: body,
      headers: { "content-type": "multipart/form-data; boundary=XyZ" },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), ["abc.txt", "tabhere.txt", "café menu.txt"]);
  });
});

describe("raw body", () => {
  it("exposes the body as bytes (data) and as UTF-8 text", async () => {
    const app = newApp();
    app.put("/raw", (req) => ({
      bytes: Array.from(req.data),
      text: req.text(),
      contentLength: req.contentLength ?? null,
      mimetype: req.mimetype,
      contentType: req.contentType,
    }));
    const res = await app.testClient().put("/raw", {
      data: "ünï",
      headers: { "content-type": "Text/Plain; charset=UTF-8" },
    });
    const bytes = Array.from(Buffer.from("ünï", "utf8"));
    assert.deepEqual(res.json(), {
      bytes,
      text: "ünï",
      contentLength: bytes.length,
      mimetype: "text/plain",
      contentType: "Text/Plain; charset=UTF-8",
    });
  });

  it("gives an empty body when the request has none", async () => {
    const app = newApp();
    app.get("/raw", (req) => ({ size: req.data.byteLength, text: req.text() }));
    assert.deepEqual((await app.testClient().get("/raw")).json(), { size: 0, text: "" });
  });

  it("passes binary data through unchanged", async () => {
    const app = newApp();
    app.post("/raw", (req) => Array.from(req.data));
    const data = new Uint8Array([0, 1, 2, 250, 255]);
    assert.deepEqual((await app.testClient().post("/raw", { data })).json(), Array.from(data));
  });
});

describe("request.stream()", () => {
  it("yields a body already read as one chunk, and refuses a second read", async () => {
    const app = newApp();
    app.post("/echo", async (req) => {
      const chunks: number[] = [];
      for await (const chunk of req.stream()) chunks.push(chunk.byteLength);
      let again = "";
      try {
        req.stream();
      } catch (error) {
        again = (error as { code?: string }).code ?? "";
      }
      return { chunks, again };
    });
    const res = await app.testClient().post("/echo", { data: "hello" });
    assert.deepEqual(res.json(), { chunks: [5], again: "ERR_BODY_READ" });
  });

  it("yields nothing for a request without a body", async () => {
    const app = newApp();
    app.post("/echo", async (req) => {
      let count = 0;
      for await (const _chunk of req.stream()) count += 1;
      return { count };
    });
    assert.deepEqual((await app.testClient().post("/echo")).json(), { count: 0 });
  });

  it("hands a streamBody route the server's stream, and refuses the in-memory views", async () => {
    const app = newApp();
    app.post("/upload", { streamBody: true }, async (req) => {
      let text = "";
      for await (const chunk of req.stream()) text += Buffer.from(chunk).toString("utf8");
      let data = "";
      try {
        void req.data;
      } catch (error) {
        data = (error as Error).message;
      }
      return { text, data };
    });
    const record = {
      method: "POST",
      url: "/upload",
      headers: { host: "localhost", "transfer-encoding": "chunked" },
      body: null,
      remoteAddress: "127.0.0.1",
      scheme: "http" as const,
    };
    const chunks = (async function* () {
      yield Buffer.from("a");
      yield Buffer.from("b");
    })();
    const res = await app.handle(record, app.planOf("POST", "/upload"), undefined, chunks);
    const body = JSON.parse(String(res.body)) as { text: string; data: string };
    assert.equal(body.text, "ab");
    assert.match(body.data, /streams its body \(streamBody: true\).*request\.stream\(\)/);
  });

  it("places a streamBody route on the loop, and refuses it on a thread at registration", () => {
    const app = newApp();
    app.post("/upload", { streamBody: true }, () => "ok");
    assert.equal(app.planOf("POST", "/upload", true).placement, "loop");
    assert.throws(
      () => app.post("/bad", { streamBody: true, thread: true }, () => "no"),
      /streamBody: true cannot run on a thread/,
    );
  });
});

describe("maxContentLength of the app and of a route", () => {
  it("answers 413 for a body over the limit without running the view", async () => {
    const app = newApp({ maxContentLength: 10 });
    let reached = false;
    app.post("/up", () => {
      reached = true;
      return "ok";
    });
    const res = await app.testClient().post("/up", { data: "x".repeat(11) });
    assert.equal(res.status, 413);
    assert.equal(reached, false);
  });

  it("accepts a body at or under the limit", async () => {
    const app = newApp({ maxContentLength: 10 });
    app.post("/up", (req) => String(req.data.byteLength));
    const client = app.testClient();
    assert.equal((await client.post("/up", { data: "x".repeat(10) })).text(), "10");
    assert.equal((await client.post("/up", { data: "x".repeat(3) })).text(), "3");
  });

  it("enforces the limit itself when a server hands over an oversized body", async () => {
    const app = newApp({ maxContentLength: 4 });
    app.post("/up", () => "ok");
    const res = await handleRecord(app, {
      method: "POST",
      url: "/up",
      body: new TextEncoder().encode("12345"),
    });
    assert.equal(res.status, 413);
    assert.match(String(res.body), /limit of 4 bytes/);
  });

  it("answers 413 when the server flagged the body as too large", async () => {
    const app = newApp({ maxContentLength: 4 });
    app.post("/up", () => "ok");
    const res = await handleRecord(app, { method: "POST", url: "/up", bodyTooLarge: true });
    assert.equal(res.status, 413);
  });

  it("takes a route's own limit over the app's, in the view's request too", async () => {
    const app = newApp({ maxContentLength: 4 });
    app.post("/big", { maxContentLength: 8 }, (req) => String(req.maxContentLength));
    app.post("/any", { maxContentLength: null }, (req) => String(req.maxContentLength));
    app.post("/small", (req) => String(req.maxContentLength));
    const client = app.testClient();
    assert.equal((await client.post("/big", { data: "x".repeat(8) })).text(), "8");
    assert.equal((await client.post("/big", { data: "x".repeat(9) })).status, 413);
    assert.equal((await client.post("/any", { data: "x".repeat(1000) })).text(), "null");
    assert.equal((await client.post("/small", { data: "xy" })).text(), "4");
    assert.equal((await client.post("/small", { data: "x".repeat(5) })).status, 413);
  });

  it("hands no body to a request that routing answers without a view", async () => {
    const app = newApp();
    let seen: number | undefined;
    app.get("/", () => "home");
    app.errorHandler(405, () => {
      seen = request.data.byteLength;
      return json({ seen }, 405);
    });
    const res = await app.testClient().post("/", { data: "x".repeat(100) });
    assert.equal(res.status, 405);
    assert.equal(seen, 0);
  });

  it("refuses null (no limit) for a whole app, and a limit that is not a byte count", () => {
    assert.throws(
      () => newApp({ maxContentLength: null as unknown as number }),
      (error: Error & { code?: string }) =>
        error.code === "ERR_BODY_LIMIT" && /on the route that needs it/.test(error.message),
    );
    assert.throws(() => newApp({ maxContentLength: -1 }), /whole number of bytes/);
    const app = newApp();
    assert.throws(
      () => app.post("/up", { maxContentLength: 1.5 }, () => "ok"),
      /route "\/up": maxContentLength must be a whole number of bytes/,
    );
  });

  it("applies to multipart uploads too", async () => {
    const app = newApp({ maxContentLength: 100 });
    app.post("/up", (req) => String(req.files.get("f")?.size));
    const res = await app.testClient().post("/up", {
      files: { f: { filename: "big.bin", content: new Uint8Array(200) } },
    });
    assert.equal(res.status, 413);
  });
});

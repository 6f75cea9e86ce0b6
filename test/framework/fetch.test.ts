import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Carafe, Response as CarafeResponse } from "carafe";
import { deferred } from "../helpers.ts";

function fetchApp(options: { maxContentLength?: number } = {}) {
  const app = new Carafe({ rootPath: import.meta.dirname, staticFolder: null, ...options });
  app.get("/hello/<name>", function hello(req) {
    return `Hello, ${req.params.name}! q=${req.args.get("q", "")}`;
  });
  app.get("/where", function where(req) {
    return { scheme: req.scheme, host: req.host, url: req.url, path: req.path };
  });
  app.get("/cookies", function cookies() {
    return new CarafeResponse("cookies")
      .setCookie("a", "1", { httpOnly: true })
      .setCookie("b", "2", { path: "/docs" });
  });
  app.get("/created", function created() {
    return new CarafeResponse("made", { status: 201, headers: { "X-Id": "42" } });
  });
  app.post("/json", function receiveJson(req) {
    return { got: req.json(), type: req.mimetype };
  });
  app.post("/form", function receiveForm(req) {
    return { name: req.form.get("name") ?? null, tags: req.form.getAll("tag"), type: req.mimetype };
  });
  app.post("/multipart", function receiveMultipart(req) {
    const file = req.files.get("doc");
    return {
      title: req.form.get("title") ?? null,
      filename: file?.filename ?? null,
      text: file?.text() ?? null,
    };
  });
  app.post("/size", function size(req) {
    return { bytes: req.data.byteLength };
  });
  return app;
}

describe("app.fetch", () => {
  it("returns a web Response with status, headers and body", async () => {
    const app = fetchApp();
    const res = await app.fetch(new Request("http://example.com/hello/ada?q=tea"));
    assert.ok(res instanceof Response);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
    assert.equal(await res.text(), "Hello, ada! q=tea");
  });

  it("keeps the status and custom headers of the app's response", async () => {
    const res = await fetchApp().fetch(new Request("http://example.com/created"));
    assert.equal(res.status, 201);
    assert.equal(res.headers.get("x-id"), "42");
    assert.equal(await res.text(), "made");
  });

  it("keeps each Set-Cookie header separate", async () => {
    const res = await fetchApp().fetch(new Request("http://example.com/cookies"));
    assert.deepEqual(res.headers.getSetCookie(), ["a=1; Path=/; HttpOnly", "b=2; Path=/docs"]);
  });

  it("gives the app the URL's host, scheme and path", async () => {
    const app = fetchApp();
    const res = await app.fetch(new Request("https://example.com:8443/where"));
    assert.deepEqual(await res.json(), {
      scheme: "https",
      host: "example.com:8443",
      url: "https://example.com:8443/where",
      path: "/where",
    });
  });

  it("answers 404 and 405 as web Responses", async () => {
    const app = fetchApp();
    assert.equal((await app.fetch(new Request("http://x/nowhere"))).status, 404);
    const res = await app.fetch(new Request("http://x/json"));
    assert.equal(res.status, 405);
    assert.match(res.headers.get("allow") ?? "", /POST/);
  });

  it("passes a JSON body in", async () => {
    const res = await fetchApp().fetch(
      new Request("http://x/json", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ name: "Ada", n: [1, 2] }),
      }),
    );
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {
      got: { name: "Ada", n: [1, 2] },
      type: "application/json",
    });
  });

  it("passes an urlencoded form body in", async () => {
    const body = new URLSearchParams([
      ["name", "Ada & Co"],
      ["tag", "x"],
      ["tag", "y"],
    ]);
    const res = await fetchApp().fetch(new Request("http://x/form", { method: "POST", body }));
    assert.deepEqual(await res.json(), {
      name: "Ada & Co",
      tags: ["x", "y"],
      type: "application/x-www-form-urlencoded",
    });
  });

  it("passes a multipart FormData body in", async () => {
    const body = new FormData();
    body.append("title", "Report");
    body.append("doc", new Blob(["file content"], { type: "text/plain" }), "notes.txt");
    const res = await fetchApp().fetch(new Request("http://x/multipart", { method: "POST", body }));
    assert.deepEqual(await res.json(), {
      title: "Report",
      filename: "notes.txt",
      text: "file content",
    });
  });

  it("streams a generator's body out as a ReadableStream, chunk by chunk", async () => {
    const app = new Carafe({ rootPath: import.meta.dirname, staticFolder: null });
    const release = deferred();
    app.get("/stream", async function* stream() {
      yield "first;";
      // The test only releases this after it has read the first chunk: proof of streaming.
      await release.promise;
      yield "second";
    });
    const res = await app.fetch(new Request("http://x/stream"));
    assert.equal(res.status, 200);
    assert.ok(res.body instanceof ReadableStream);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    const first = await reader.read();
    assert.equal(decoder.decode(first.value), "first;");
    release.resolve();
    const second = await reader.read();
    assert.equal(decoder.decode(second.value), "second");
    assert.equal((await reader.read()).done, true);
  });

  it("stops the generator when the reader cancels the stream", async () => {
    const app = new Carafe({ rootPath: import.meta.dirname, staticFolder: null });
    const stopped = deferred<string>();
    app.get("/endless", async function* endless() {
      try {
        for (let i = 0; ; i += 1) yield `${i},`;
      } finally {
        stopped.resolve("finally ran");
      }
    });
    const res = await app.fetch(new Request("http://x/endless"));
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    assert.equal(new TextDecoder().decode((await reader.read()).value), "0,");
    await reader.cancel();
    assert.equal(await stopped.promise, "finally ran");
  });

  it("answers HEAD with headers and no body", async () => {
    const res = await fetchApp().fetch(new Request("http://x/hello/ada", { method: "HEAD" }));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-length"), String("Hello, ada! q=".length));
    assert.equal(res.body, null);
  });

  it("answers 413 for a declared Content-Length over maxContentLength without reading the body", async () => {
    const app = fetchApp({ maxContentLength: 16 });
    const request = new Request("http://x/size", {
      method: "POST",
      headers: { "Content-Length": "100000000" },
      body: "a few bytes",
    });
    const res = await app.fetch(request);
    assert.equal(res.status, 413);
    assert.equal(request.bodyUsed, false, "the body was left unread");
  });

  it("answers 413 for a streamed body over maxContentLength without a declared length", async () => {
    const app = fetchApp({ maxContentLength: 16 });
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array(10));
        controller.enqueue(new Uint8Array(10));
        controller.close();
      },
    });
    const res = await app.fetch(
      new Request("http://x/size", { method: "POST", body, duplex: "half" } as RequestInit),
    );
    assert.equal(res.status, 413);
  });

  it(
    "stops reading a streamed body once it passes maxContentLength",
    { timeout: 5000 },
    async () => {
      const app = fetchApp({ maxContentLength: 16 });
      const cancelled = deferred<string>();
      let pulled = 0;
      const body = new ReadableStream<Uint8Array>(
        {
          pull(controller) {
            pulled += 1;
            if (pulled > 1000) controller.close();
            else controller.enqueue(new Uint8Array(1024));
          },
          cancel() {
            cancelled.resolve("cancelled");
          },
        },
        { highWaterMark: 0 },
      );
      const res = await app.fetch(
        new Request("http://x/size", { method: "POST", body, duplex: "half" } as RequestInit),
      );
      assert.equal(res.status, 413);
      assert.equal(await cancelled.promise, "cancelled");
      assert.ok(pulled < 10, `read ${pulled} chunks of 1 KiB for a 16-byte limit`);
    },
  );

  it("accepts a body within maxContentLength", async () => {
    const app = fetchApp({ maxContentLength: 16 });
    const res = await app.fetch(
      new Request("http://x/size", { method: "POST", body: "sixteen bytes!!!" }),
    );
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { bytes: 16 });
  });

  it("works as an unbound fetch handler", async () => {
    const app = fetchApp();
    const { fetch } = app;
    const res = await fetch(new Request("http://x/hello/bob"));
    assert.equal(await res.text(), "Hello, bob! q=");

    // The shape fetch-handler hosts expect: `export default { fetch }`, called without `this`.
    const host = { fetch: app.fetch };
    const handler = host.fetch;
    const responses = await Promise.all(
      ["a", "b"].map((name) => handler.call(undefined, new Request(`http://x/hello/${name}`))),
    );
    assert.deepEqual(await Promise.all(responses.map((each) => each.text())), [
      "Hello, a! q=",
      "Hello, b! q=",
    ]);
  });

  it("aborts request.signal when the host aborts the web Request", async () => {
    const app = new Carafe({ rootPath: import.meta.dirname, staticFolder: null });
    const started = deferred();
    app.get("/wait", async (req) => {
      started.resolve();
      await new Promise((resolve) => req.signal.addEventListener("abort", resolve));
      return { aborted: req.signal.aborted };
    });
    const controller = new AbortController();
    const pending = app.fetch(new Request("http://x/wait", { signal: controller.signal }));
    await started.promise;
    controller.abort();
    assert.deepEqual(await (await pending).json(), { aborted: true });
  });

  it("gives an already aborted web Request an aborted signal", async () => {
    const app = new Carafe({ rootPath: import.meta.dirname, staticFolder: null });
    app.get("/check", (req) => ({ aborted: req.signal.aborted }));
    const controller = new AbortController();
    controller.abort();
    const res = await app.fetch(new Request("http://x/check", { signal: controller.signal }));
    assert.deepEqual(await res.json(), { aborted: true });
  });
});

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Carafe, Response, TestClient, type Request } from "carafe";

/** What an echo route saw of the request. */
interface Echo {
  method: string;
  path: string;
  query: string;
  args: Record<string, string[]>;
  headers: Record<string, string>;
  body: string;
}

function echo(req: Request): Echo {
  const args: Record<string, string[]> = {};
  for (const key of new Set([...req.args].map(([name]) => name))) args[key] = req.args.getAll(key);
  return {
    method: req.method,
    path: req.path,
    query: req.queryString,
    args,
    headers: { ...req.record.headers },
    body: req.text(),
  };
}

function echoApp(): Carafe {
  const app = new Carafe({ rootPath: import.meta.dirname, staticFolder: null });
  app.route(
    "/echo",
    { methods: ["GET", "POST", "PUT", "PATCH", "DELETE"] },
    function echoRoute(req) {
      return echo(req);
    },
  );
  return app;
}

describe("test client requests", () => {
  it("sends each method with its helper", async () => {
    const client = echoApp().testClient();
    const calls = {
      GET: () => client.get("/echo"),
      POST: () => client.post("/echo"),
      PUT: () => client.put("/echo"),
      PATCH: () => client.patch("/echo"),
      DELETE: () => client.delete("/echo"),
    };
    for (const [method, call] of Object.entries(calls)) {
      const res = await call();
      assert.equal(res.status, 200, method);
      assert.equal(res.json<Echo>().method, method);
    }
  });

  it("sends any method with request()", async () => {
    const client = echoApp().testClient();
    const res = await client.request("patch", "/echo");
    assert.equal(res.json<Echo>().method, "PATCH");
  });

  it("answers HEAD with the GET headers and an empty body", async () => {
    const app = new Carafe({ rootPath: import.meta.dirname, staticFolder: null });
    let calls = 0;
    app.get("/page", function page() {
      calls += 1;
      return { text: "a page of JSON" };
    });
    const client = app.testClient();
    const get = await client.get("/page");
    const head = await client.head("/page");
    assert.equal(calls, 2, "HEAD runs the GET handler");
    assert.equal(head.status, 200);
    assert.equal(head.body.byteLength, 0);
    assert.equal(head.text(), "");
    assert.equal(head.headers.get("content-length"), String(get.body.byteLength));
    assert.equal(head.headers.get("content-type"), "application/json");
  });

  it("answers OPTIONS with the allowed methods", async () => {
    const client = echoApp().testClient();
    const res = await client.options("/echo");
    assert.equal(res.status, 200);
    const allowed = (res.headers.get("allow") ?? "").split(/,\s*/).sort();
    assert.deepEqual(allowed, ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]);
  });

  it("sends a JSON body with its Content-Type and Content-Length", async () => {
    const app = new Carafe({ rootPath: import.meta.dirname, staticFolder: null });
    app.post("/json", function receive(req) {
      return {
        body: req.json(),
        type: req.headers.get("content-type") ?? null,
        length: req.contentLength ?? null,
      };
    });
    const payload = { name: "Ada", tags: ["a", "b"], nested: { n: 1 }, text: "ü" };
    const res = await app.testClient().post("/json", { json: payload });
    const body = res.json<{ body: unknown; type: string; length: number }>();
    assert.deepEqual(body.body, payload);
    assert.equal(body.type, "application/json");
    assert.equal(body.length, Buffer.byteLength(JSON.stringify(payload)));
  });

  it("sends null and false as JSON bodies", async () => {
    const app = new Carafe({ rootPath: import.meta.dirname, staticFolder: null });
    app.post("/json", function receive(req) {
      return { body: req.json() };
    });
    const client = app.testClient();
    assert.deepEqual((await client.post("/json", { json: null })).json(), { body: null });
    assert.deepEqual((await client.post("/json", { json: false })).json(), { body: false });
  });

  it("sends an urlencoded form, repeating keys given as arrays", async () => {
    const app = new Carafe({ rootPath: import.meta.dirname, staticFolder: null });
    app.post("/form", function receive(req) {
      return {
        name: req.form.get("name") ?? null,
        colors: req.form.getAll("color"),
        type: req.mimetype,
      };
    });
    const res = await app
      .testClient()
      .post("/form", { form: { name: "Ada & Co=1", color: ["red", "blue"] } });
    assert.deepEqual(res.json(), {
      name: "Ada & Co=1",
      colors: ["red", "blue"],
      type: "application/x-www-form-urlencoded",
    });
  });

  it("uploads files as multipart/form-data together with form fields", async () => {
    const app = new Carafe({ rootPath: import.meta.dirname, staticFolder: null });
    app.post("/upload", function upload(req) {
      const files = req.files.getAll("docs").map((file) => ({
        name: file.name,
        filename: file.filename,
        type: file.contentType,
        text: file.text(),
      }));
      const avatar = req.files.get("avatar");
      return {
        title: req.form.get("title") ?? null,
        files,
        avatar: avatar === undefined ? null : [...avatar.bytes],
        avatarType: avatar?.contentType ?? null,
        type: req.mimetype,
      };
    });
    const res = await app.testClient().post("/upload", {
      form: { title: "Report" },
      files: {
        docs: [
          { filename: "a.txt", content: "first file", contentType: "text/plain" },
          { filename: "b.csv", content: "x,y\n1,2\n", contentType: "text/csv" },
        ],
        avatar: { filename: "me.png", content: new Uint8Array([137, 80, 78, 71, 0, 255]) },
      },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), {
      title: "Report",
      files: [
        { name: "docs", filename: "a.txt", type: "text/plain", text: "first file" },
        { name: "docs", filename: "b.csv", type: "text/csv", text: "x,y\n1,2\n" },
      ],
      avatar: [137, 80, 78, 71, 0, 255],
      avatarType: "application/octet-stream",
      type: "multipart/form-data",
    });
  });

  it("sends a raw string or byte body", async () => {
    const client = echoApp().testClient();
    const text = await client.post("/echo", {
      data: "plain body",
      headers: { "Content-Type": "text/plain" },
    });
    assert.equal(text.json<Echo>().body, "plain body");
    assert.equal(text.json<Echo>().headers["content-length"], "10");
    const bytes = await client.put("/echo", { data: new Uint8Array([104, 105]) });
    assert.equal(bytes.json<Echo>().body, "hi");
  });

  it("encodes query arguments, repeats arrays, and appends to an existing query", async () => {
    const client = echoApp().testClient();
    const res = await client.get("/echo?keep=1", {
      query: { q: "tea & cake", tag: ["x", "y"], page: 2 },
    });
    assert.deepEqual(res.json<Echo>().args, {
      keep: ["1"],
      q: ["tea & cake"],
      tag: ["x", "y"],
      page: ["2"],
    });
  });

  it("sends headers with lower-cased names and a default Host", async () => {
    const client = echoApp().testClient();
    const res = await client.get("/echo", {
      headers: { "X-Custom-Thing": "yes", Accept: "application/json" },
    });
    const headers = res.json<Echo>().headers;
    assert.equal(headers["x-custom-thing"], "yes");
    assert.equal(headers["accept"], "application/json");
    assert.equal(headers["host"], "localhost");
    const host = await client.get("/echo", { headers: { Host: "example.com:8080" } });
    assert.equal(host.json<Echo>().headers["host"], "example.com:8080");
  });

  it("lets an explicit Content-Type win over the one of json or form", async () => {
    const client = echoApp().testClient();
    const res = await client.post("/echo", {
      json: { a: 1 },
      headers: { "Content-Type": "application/vnd.api+json" },
    });
    assert.equal(res.json<Echo>().headers["content-type"], "application/vnd.api+json");
  });

  it("passes remoteAddress and scheme to the app", async () => {
    const app = new Carafe({ rootPath: import.meta.dirname, staticFolder: null });
    app.get("/who", function who(req) {
      return { addr: req.remoteAddr, scheme: req.scheme, url: req.url };
    });
    const client = app.testClient();
    assert.deepEqual((await client.get("/who")).json(), {
      addr: "127.0.0.1",
      scheme: "http",
      url: "http://localhost/who",
    });
    assert.deepEqual(
      (await client.get("/who", { remoteAddress: "10.1.2.3", scheme: "https" })).json(),
      { addr: "10.1.2.3", scheme: "https", url: "https://localhost/who" },
    );
  });

  it("answers 413 for a body over maxContentLength", async () => {
    const app = new Carafe({
      rootPath: import.meta.dirname,
      staticFolder: null,
      maxContentLength: 10,
    });
    let ran = 0;
    app.post("/upload", function upload(req) {
      ran += 1;
      return `${req.data.byteLength}`;
    });
    const client = app.testClient();
    assert.equal((await client.post("/upload", { data: "0123456789" })).text(), "10");
    assert.equal((await client.post("/upload", { data: "0123456789X" })).status, 413);
    assert.equal(ran, 1);
  });
});

describe("test client responses", () => {
  it("reads a streamed response whole", async () => {
    const app = new Carafe({ rootPath: import.meta.dirname, staticFolder: null });
    app.get("/stream", async function* stream() {
      yield "first,";
      await new Promise((resolve) => setImmediate(resolve));
      yield new TextEncoder().encode("second,");
      yield "third";
    });
    const res = await app.testClient().get("/stream");
    assert.equal(res.status, 200);
    assert.equal(res.text(), "first,second,third");
  });

  it("reads a Response built from a sync iterable whole", async () => {
    const app = new Carafe({ rootPath: import.meta.dirname, staticFolder: null });
    app.get("/lines", function lines() {
      return new Response(["a\n", "b\n", "c\n"], { mimetype: "text/plain" });
    });
    const res = await app.testClient().get("/lines");
    assert.equal(res.text(), "a\nb\nc\n");
    assert.equal(res.mimetype, "text/plain");
  });

  it("exposes the body as bytes, text and JSON", async () => {
    const app = new Carafe({ rootPath: import.meta.dirname, staticFolder: null });
    app.get("/data", function data() {
      return { n: 1, text: "é" };
    });
    const res = await app.testClient().get("/data");
    assert.ok(res.body instanceof Uint8Array);
    assert.equal(res.body.byteLength, Buffer.byteLength('{"n":1,"text":"é"}'));
    assert.equal(res.text(), '{"n":1,"text":"é"}');
    assert.deepEqual(res.json(), { n: 1, text: "é" });
    assert.equal(res.mimetype, "application/json");
  });

  it("keeps repeated headers", async () => {
    const app = new Carafe({ rootPath: import.meta.dirname, staticFolder: null });
    app.get("/", function index() {
      const res = new Response("x");
      res.headers.append("X-Many", "1");
      res.headers.append("X-Many", "2");
      return res;
    });
    const res = await app.testClient().get("/");
    assert.deepEqual(res.headers.getAll("x-many"), ["1", "2"]);
  });
});

describe("test client cookie jar", () => {
  function cookieApp(): Carafe {
    const app = new Carafe({ rootPath: import.meta.dirname, staticFolder: null });
    app.get("/set/<name>/<value>", function setCookie(req) {
      const path = req.args.get("path");
      const maxAge = req.args.get("maxAge");
      return new Response("set").setCookie(req.params.name, req.params.value, {
        ...(path === undefined ? {} : { path }),
        ...(maxAge === undefined ? {} : { maxAge: Number(maxAge) }),
      });
    });
    app.get("/delete/<name>", function deleteCookie(req) {
      return new Response("deleted").deleteCookie(req.params.name, {
        path: req.args.get("path", "/"),
      });
    });
    app.get("/expire/<name>", function expireCookie(req) {
      return new Response("expired").setCookie(req.params.name, "old", {
        expires: new Date(Date.now() - 60_000),
      });
    });
    app.get("/<path:where>", function show(req) {
      return Object.fromEntries(req.cookies);
    });
    app.get("/", function root(req) {
      return Object.fromEntries(req.cookies);
    });
    return app;
  }

  it("stores a cookie set by a response and sends it back", async () => {
    const client = cookieApp().testClient();
    assert.deepEqual((await client.get("/")).json(), {});
    await client.get("/set/theme/dark");
    assert.equal(client.getCookie("theme"), "dark");
    assert.deepEqual((await client.get("/")).json(), { theme: "dark" });
    await client.get("/set/lang/en");
    assert.deepEqual((await client.get("/anything")).json(), { theme: "dark", lang: "en" });
  });

  it("replaces a cookie set again with a new value", async () => {
    const client = cookieApp().testClient();
    await client.get("/set/theme/dark");
    await client.get("/set/theme/light");
    assert.deepEqual((await client.get("/")).json(), { theme: "light" });
  });

  it("deletes a cookie when a response sets Max-Age=0", async () => {
    const client = cookieApp().testClient();
    await client.get("/set/theme/dark");
    await client.get("/set/lang/en");
    const res = await client.get("/delete/theme");
    assert.match(res.headers.get("set-cookie") ?? "", /Max-Age=0/);
    assert.equal(client.getCookie("theme"), undefined);
    assert.deepEqual((await client.get("/")).json(), { lang: "en" });
  });

  it("deletes a cookie when a response sets an Expires in the past", async () => {
    const client = cookieApp().testClient();
    await client.get("/set/theme/dark");
    await client.get("/expire/theme");
    assert.deepEqual((await client.get("/")).json(), {});
  });

  it("keeps a cookie with a positive Max-Age", async () => {
    const client = cookieApp().testClient();
    await client.get("/set/theme/dark", { query: { maxAge: 3600 } });
    assert.deepEqual((await client.get("/")).json(), { theme: "dark" });
  });

  it("sends a path-scoped cookie only under its path", async () => {
    const client = cookieApp().testClient();
    await client.get("/set/token/abc", { query: { path: "/admin" } });
    assert.deepEqual((await client.get("/admin")).json(), { token: "abc" });
    assert.deepEqual((await client.get("/admin/users")).json(), { token: "abc" });
    assert.deepEqual((await client.get("/admin/users", { query: { x: 1 } })).json(), {
      token: "abc",
    });
    assert.deepEqual((await client.get("/administrator")).json(), {});
    assert.deepEqual((await client.get("/")).json(), {});
    assert.deepEqual((await client.get("/other")).json(), {});
  });

  it("puts cookies in the jar with setCookie and merges them with a Cookie header", async () => {
    const client = cookieApp().testClient();
    client.setCookie("manual", "1");
    assert.deepEqual((await client.get("/")).json(), { manual: "1" });
    const merged = await client.get("/", { headers: { Cookie: "extra=2" } });
    assert.deepEqual(merged.json(), { extra: "2", manual: "1" });
  });

  it("keeps a separate jar per client", async () => {
    const app = cookieApp();
    const first = app.testClient();
    const second = new TestClient(app);
    await first.get("/set/theme/dark");
    assert.deepEqual((await first.get("/")).json(), { theme: "dark" });
    assert.deepEqual((await second.get("/")).json(), {});
  });
});

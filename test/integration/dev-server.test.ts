import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer, request as httpRequest, type IncomingMessage } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Carafe, startDevServer, type DevServer } from "carafe";
import { deferred } from "../helpers.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const LIMIT = 1024;

/** A promise with its resolve function, to hand control between a test and a handler. */

/** Sends raw bytes on a new connection; resolves with everything received once the server closes it. */
function rawExchange(port: number, ...writes: (string | Uint8Array)[]): Promise<string> {
  return new Promise((resolveExchange, reject) => {
    const socket = connect(port, "127.0.0.1");
    const received: Buffer[] = [];
    socket.on("connect", () => {
      for (const each of writes) socket.write(each);
    });
    socket.on("data", (chunk: Buffer) => received.push(chunk));
    // The server closing the connection is what ends the exchange; a reset after the answer
    // (unread bytes in flight) still counts as closed.
    socket.on("close", () => resolveExchange(Buffer.concat(received).toString("latin1")));
    socket.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "ECONNRESET" && error.code !== "EPIPE") reject(error);
    });
  });
}

/** One request with node:http (no keep-alive); resolves with the response and its body bytes. */
function nodeRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer[] } = {},
): Promise<{ res: IncomingMessage; body: Buffer }> {
  return new Promise((resolveRequest, reject) => {
    const req = httpRequest(
      url,
      { method: options.method ?? "GET", headers: options.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolveRequest({ res, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    if (Array.isArray(options.body)) for (const chunk of options.body) req.write(chunk);
    else if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolvePort(port));
    });
  });
}

describe("the development server on a real socket", () => {
  let server: DevServer;
  let base: string;
  let port: number;
  let uploadsHandled = 0;
  const release = deferred();
  const logged: unknown[] = [];

  before(async () => {
    const app = new Carafe({
      rootPath: import.meta.dirname,
      staticFolder: null,
      maxContentLength: LIMIT,
    });
    app.logger = { error: (_message, error) => logged.push(error), warn: () => {}, info: () => {} };
    app.get("/", function index() {
      return "Hello from Carafe";
    });
    app.get("/user/<int:id>", function user(req) {
      return { id: req.params.id, name: `user ${req.params.id}` };
    });
    app.post("/greet", function greet(req) {
      return `Hello, ${req.form.get("name", "stranger")}!`;
    });
    app.get("/stream", async function* stream() {
      yield "first;";
      // Released by the test only after it has read the first chunk off the socket.
      await release.promise;
      yield "second";
    });
    app.post("/upload", function upload(req) {
      uploadsHandled += 1;
      return { bytes: req.data.byteLength, encoding: req.headers.get("transfer-encoding") ?? null };
    });
    server = await startDevServer(app, { port: 0 });
    base = server.url;
    port = Number(new URL(base).port);
  });

  after(async () => {
    await server.close();
  });

  it("listens on a free port on 127.0.0.1 when given port 0", () => {
    assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(port, 0);
  });

  it("answers a route", async () => {
    const res = await fetch(`${base}/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
    assert.equal(await res.text(), "Hello from Carafe");
  });

  it("answers a JSON route with converted parameters", async () => {
    const res = await fetch(`${base}/user/42`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/json");
    assert.deepEqual(await res.json(), { id: 42, name: "user 42" });
  });

  it("reads a posted form", async () => {
    const res = await fetch(`${base}/greet`, {
      method: "POST",
      body: new URLSearchParams({ name: "Ada" }),
    });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "Hello, Ada!");
  });

  it("answers 404 for an unknown URL", async () => {
    const res = await fetch(`${base}/nowhere`);
    assert.equal(res.status, 404);
    await res.arrayBuffer();
  });

  it("answers 405 with Allow when the method does not match", async () => {
    const res = await fetch(`${base}/user/1`, { method: "DELETE" });
    assert.equal(res.status, 405);
    const allowed = (res.headers.get("allow") ?? "").split(/,\s*/).sort();
    assert.deepEqual(allowed, ["GET", "HEAD", "OPTIONS"]);
    await res.arrayBuffer();
  });

  it("answers HEAD with the headers of GET and no body", async () => {
    const get = await nodeRequest(`${base}/user/7`);
    const head = await nodeRequest(`${base}/user/7`, { method: "HEAD" });
    assert.equal(head.res.statusCode, 200);
    assert.equal(head.body.byteLength, 0);
    assert.equal(head.res.headers["content-length"], String(get.body.byteLength));
    assert.equal(head.res.headers["content-type"], "application/json");
  });

  it("streams a response chunk by chunk", async () => {
    const res = await fetch(`${base}/stream`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("transfer-encoding"), "chunked");
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = "";
    while (!text.includes("first;")) {
      const step = await reader.read();
      assert.equal(step.done, false, "the first chunk arrives before the stream ends");
      text += decoder.decode(step.value, { stream: true });
    }
    assert.equal(text, "first;", "the second chunk is not sent before it is produced");
    release.resolve();
    for (;;) {
      const step = await reader.read();
      if (step.done) break;
      text += decoder.decode(step.value, { stream: true });
    }
    assert.equal(text, "first;second");
  });

  it("accepts a body within maxContentLength, declared or chunked", async () => {
    const declared = await nodeRequest(`${base}/upload`, {
      method: "POST",
      headers: { "Content-Length": String(LIMIT) },
      body: "x".repeat(LIMIT),
    });
    assert.equal(declared.res.statusCode, 200);
    assert.deepEqual(JSON.parse(declared.body.toString()), { bytes: LIMIT, encoding: null });
    const chunked = await nodeRequest(`${base}/upload`, {
      method: "POST",
      body: [Buffer.alloc(500), Buffer.alloc(500)],
    });
    assert.equal(chunked.res.statusCode, 200);
    assert.deepEqual(JSON.parse(chunked.body.toString()), { bytes: 1000, encoding: "chunked" });
  });

  it(
    "answers 413 to a huge declared Content-Length without reading the body, then closes",
    { timeout: 10_000 },
    async () => {
      const before = uploadsHandled;
      // Only three of the hundred million declared bytes are ever sent: an answer at all proves
      // the server did not wait for the body.
      const reply = await rawExchange(
        port,
        "POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\n" +
          "Content-Length: 100000000\r\n\r\nabc",
      );
      assert.match(reply, /^HTTP\/1\.1 413 /);
      assert.match(reply, /\r\nconnection: close\r\n/i);
      assert.match(reply, /maxContentLength/);
      assert.equal(uploadsHandled, before, "the handler never ran");
    },
  );

  it(
    "answers 413 to a chunked upload that grows past the limit, then closes",
    { timeout: 10_000 },
    async () => {
      const before = uploadsHandled;
      const chunk = Buffer.alloc(LIMIT + 1, "a");
      // The chunked body is never terminated: the server must answer once the limit is passed.
      const reply = await rawExchange(
        port,
        "POST /upload HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n",
        `${chunk.byteLength.toString(16)}\r\n`,
        chunk,
        "\r\n",
      );
      assert.match(reply, /^HTTP\/1\.1 413 /);
      assert.match(reply, /\r\nconnection: close\r\n/i);
      assert.equal(uploadsHandled, before, "the handler never ran");
    },
  );

  it("keeps serving after refusing a body", async () => {
    const res = await fetch(`${base}/user/3`);
    assert.deepEqual(await res.json(), { id: 3, name: "user 3" });
    assert.deepEqual(logged, []);
  });
});

interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function spawnCli(args: string[]): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ["--conditions=carafe-source", "bin/carafe.js", ...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: "1" },
  });
}

/** Runs the CLI to completion. */
async function runCli(args: string[]): Promise<CliResult> {
  const child = spawnCli(args);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const [code, signal] = (await once(child, "close")) as [number | null, NodeJS.Signals | null];
  return { code, signal, stdout, stderr };
}

/** Resolves with the stdout so far once a line matches; rejects if the process exits first. */
function waitForOutput(child: ChildProcessWithoutNullStreams, pattern: RegExp): Promise<string> {
  return new Promise((resolveOutput, reject) => {
    let stdout = "";
    let stderr = "";
    const onData = (chunk: Buffer): void => {
      stdout += chunk.toString();
      if (pattern.test(stdout)) {
        child.stdout.off("data", onData);
        child.off("exit", onExit);
        resolveOutput(stdout);
      }
    };
    const onExit = (code: number | null): void => {
      reject(
        new Error(`the CLI exited (${code}) before printing ${pattern}:\n${stdout}\n${stderr}`),
      );
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("exit", onExit);
  });
}

describe("the carafe command", () => {
  describe("run with the demo app", () => {
    let child: ChildProcessWithoutNullStreams;
    let base: string;
    let exited: Promise<[number | null, NodeJS.Signals | null]>;

    before(async () => {
      const port = await freePort();
      child = spawnCli(["run", "examples/demo/app.ts", "--port", String(port)]);
      exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
      const output = await waitForOutput(child, / \* Running on (http:\/\/\S+)/);
      base = (/ \* Running on (http:\/\/\S+)/.exec(output) as RegExpExecArray)[1] as string;
      assert.equal(base, `http://127.0.0.1:${port}`);
    });

    after(() => {
      // Only if a test failed before the SIGTERM test ran.
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    });

    it("serves a JSON route", async () => {
      const res = await fetch(`${base}/user/1`);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { id: 1, name: "Ada Lovelace" });
    });

    it("answers 404 when a converter rejects the URL", async () => {
      const res = await fetch(`${base}/user/abc`);
      assert.equal(res.status, 404);
      await res.arrayBuffer();
    });

    it("answers 405 with Allow for a method the route does not take", async () => {
      const res = await fetch(`${base}/user/1`, { method: "DELETE" });
      assert.equal(res.status, 405);
      assert.match(res.headers.get("allow") ?? "", /\bGET\b/);
      await res.arrayBuffer();
    });

    it("redirects a form post with 303", async () => {
      const res = await fetch(`${base}/greet`, {
        method: "POST",
        body: new URLSearchParams({ name: "Ada" }),
        redirect: "manual",
      });
      assert.equal(res.status, 303);
      assert.equal(res.headers.get("location"), "/greet?name=Ada");
      await res.arrayBuffer();
    });

    it("creates a user from a JSON post with 201 and Location", async () => {
      const res = await fetch(`${base}/api/users`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ name: "Grace Hopper" }),
      });
      assert.equal(res.status, 201);
      const created = (await res.json()) as { id: number; name: string };
      assert.equal(created.name, "Grace Hopper");
      assert.equal(res.headers.get("location"), `/user/${created.id}`);
      const fetched = await fetch(`${base}/user/${created.id}`);
      assert.deepEqual(await fetched.json(), created);
    });

    it("serves the demo's static stylesheet", async () => {
      const res = await fetch(`${base}/static/style.css`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "text/css; charset=utf-8");
      assert.equal(
        await res.text(),
        readFileSync(join(ROOT, "examples", "demo", "static", "style.css"), "utf8"),
      );
    });

    it("exits 0 on SIGTERM", { timeout: 15_000 }, async () => {
      child.kill("SIGTERM");
      const [code, signal] = await exited;
      assert.equal(signal, null, "it exits by itself rather than dying of the signal");
      assert.equal(code, 0);
    });
  });

  it("lists the demo's routes", { timeout: 30_000 }, async () => {
    const result = await runCli(["routes", "examples/demo/app.ts"]);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trim().split("\n");
    assert.match(lines[0] ?? "", /^Endpoint\s+Methods\s+Rule\s+Runs on$/);
    const rows = new Map(
      lines.slice(2).map((line) => {
        const [endpoint = "", methods = "", rule = ""] = line.split(/\s{2,}/);
        return [endpoint, { methods, rule }];
      }),
    );
    assert.deepEqual(rows.get("user"), { methods: "GET", rule: "/user/<int:id>" });
    assert.deepEqual(rows.get("greet"), { methods: "GET,POST", rule: "/greet" });
    assert.deepEqual(rows.get("api.createUser"), { methods: "POST", rule: "/api/users" });
    for (const endpoint of ["index", "static", "api.listUsers"]) {
      assert.ok(rows.has(endpoint), `${endpoint} is listed`);
    }
  });

  it(
    "lists where each kind of route runs, as its requests are planned",
    { timeout: 30_000 },
    async () => {
      const result = await runCli(["routes", "test/fixtures/routes/app.ts"]);
      assert.equal(result.code, 0, result.stderr);
      const rows = new Map(
        result.stdout
          .trim()
          .split("\n")
          .slice(2)
          .map((line) => {
            const [endpoint = "", methods = "", rule = "", runsOn = ""] = line.split(/\s{2,}/);
            return [endpoint, { methods, rule, runsOn }];
          }),
      );
      const expected = [
        ["asyncView", "GET", "/async", "loop"],
        ["syncView", "GET", "/sync", "loop (thread with --threads)"],
        ["markedView", "GET", "/marked", "thread"],
        ["pinnedView", "GET", "/pinned", "loop"],
        // A streamed body arrives on the loop, so its route stays there even with --threads.
        ["uploadView", "POST", "/upload", "loop"],
        ["echo", "WEBSOCKET", "/echo", "loop (websocket)"],
        ["rooms.join", "WEBSOCKET", "/rooms/<name>", "loop (websocket)"],
      ];
      for (const [endpoint = "", methods, rule, runsOn] of expected) {
        assert.deepEqual(rows.get(endpoint), { methods, rule, runsOn }, endpoint);
      }
      assert.equal(rows.size, 7, "every route is listed once");
    },
  );

  it(
    "exits 1 with a clear message when the app module does not exist",
    { timeout: 30_000 },
    async () => {
      const result = await runCli(["run", "missing.ts"]);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /cannot find the app module 'missing\.ts'/);
      assert.equal(result.stdout, "");
    },
  );

  it("exits 1 with a clear message when the port is taken", { timeout: 30_000 }, async () => {
    const taken = createServer();
    await new Promise<void>((done) => taken.listen(0, "127.0.0.1", done));
    try {
      const { port } = taken.address() as AddressInfo;
      const result = await runCli(["run", "examples/demo/app.ts", "--port", String(port)]);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /already in use/);
    } finally {
      await new Promise((done) => taken.close(done));
    }
  });

  it("exits 2 with usage help for an unknown command", { timeout: 30_000 }, async () => {
    const result = await runCli(["bogus"]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /unknown command 'bogus'/);
    assert.match(result.stderr, /carafe --help/);
  });
});

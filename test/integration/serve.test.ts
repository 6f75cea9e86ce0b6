// `carafe serve` as users run it: a real supervisor, worker processes, pool threads, sockets
// and signals.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { createServer, type AddressInfo } from "node:net";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import { bootedPids, fetchReply, runCarafe, serveInThisFile } from "./serve-process.ts";

const APP = "test/fixtures/pool/app.ts";
const BROKEN = "test/fixtures/pool/broken.ts";
const ANY_PORT = ["--bind", "127.0.0.1:0"];

const serve = serveInThisFile();

function json<T>(text: string): T {
  return JSON.parse(text) as T;
}

describe("carafe serve", () => {
  it("runs N blocking handlers at the same time with --threads N", async () => {
    // Every thread started with the worker, so that all three run from the first request.
    const server = await serve([APP, ...ANY_PORT, "--threads", "3", "--initial-threads", "3"]);
    const replies = await Promise.all([1, 2, 3].map(() => fetchReply(`${server.url}/overlap/400`)));
    const runs = replies.map((reply) =>
      json<{ threadId: number; start: number; end: number }>(reply.text),
    );
    assert.equal(new Set(runs.map((run) => run.threadId)).size, 3);
    const lastStart = Math.max(...runs.map((run) => run.start));
    const firstEnd = Math.min(...runs.map((run) => run.end));
    assert.ok(lastStart < firstEnd, `the handlers did not overlap: ${JSON.stringify(runs)}`);
    await server.stop();
  });

  it("stops with exit code 1 and one line naming the address when a bind is in use", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const { port } = taken.address() as AddressInfo;
    try {
      const run = await runCarafe(["serve", APP, "--bind", `127.0.0.1:${port}`, "--workers", "2"]);
      assert.equal(run.code, 1);
      const output = run.stdout + run.stderr;
      assert.match(
        output,
        new RegExp(
          `Worker failed to boot; stopping\\. It cannot listen: 127\\.0\\.0\\.1:${port}: the address is already in use`,
        ),
      );
      assert.doesNotMatch(output, /node:net|Node\.js v/, "no stack trace of Node's");
      assert.equal(output.match(/Booting worker/g)?.length, 2, "no worker started again");
    } finally {
      taken.close();
    }
  });

  it("answers 504 to a handler past --timeout, replaces its thread and keeps serving", async () => {
    const server = await serve([APP, ...ANY_PORT, "--threads", "1", "--timeout", "1"]);
    const stuck = await fetchReply(`${server.url}/spin`);
    assert.equal(stuck.status, 504);
    assert.match(stuck.text, /took longer than 1 second/);
    await server.waitFor(
      /GET \/spin \(route \/spin, request id [0-9a-f-]{36}\) ran past the 1 second timeout/,
    );
    const next = await fetchReply(`${server.url}/thread`);
    assert.equal(next.status, 200);
    await server.stop();
  });

  it("answers 503 with Retry-After while the queue is full", async () => {
    const server = await serve([APP, ...ANY_PORT, "--threads", "1", "--max-queue", "0"]);
    let blocking = true;
    const block = fetchReply(`${server.url}/block/1500`).finally(() => (blocking = false));
    let refused = null;
    while (blocking && refused === null) {
      const reply = await fetchReply(`${server.url}/thread`);
      if (reply.status === 503) refused = reply;
    }
    assert.ok(refused !== null, "no request was refused while the only thread was busy");
    assert.equal(refused.headers["retry-after"], "1");
    assert.equal((await block).status, 200);
    await server.stop();
  });

  it("serves on a unix: bind", async () => {
    const dir = mkdtempSync(join(tmpdir(), "carafe-unix-"));
    const socketPath = join(dir, "app.sock");
    try {
      const server = await serve([APP, "--bind", `unix:${socketPath}`]);
      assert.equal(server.url, `unix:${socketPath}`);
      const reply = await fetchReply("http://localhost/whoami", { socketPath });
      assert.equal(reply.status, 200);
      assert.equal(json<{ host: string }>(reply.text).host, "localhost");
      await server.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("honours proxy headers only from the addresses in --forwarded-allow-ips", async () => {
    const headers = {
      "X-Forwarded-For": "203.0.113.9",
      "X-Forwarded-Proto": "https",
    };
    const trusting = await serve([APP, ...ANY_PORT]);
    const trusted = json<{ remoteAddr: string; scheme: string }>(
      (await fetchReply(`${trusting.url}/whoami`, { headers })).text,
    );
    assert.deepEqual([trusted.remoteAddr, trusted.scheme], ["203.0.113.9", "https"]);
    await trusting.stop();

    const wary = await serve([APP, ...ANY_PORT, "--forwarded-allow-ips", "10.1.2.3"]);
    const ignored = json<{ remoteAddr: string; scheme: string }>(
      (await fetchReply(`${wary.url}/whoami`, { headers })).text,
    );
    assert.deepEqual([ignored.remoteAddr, ignored.scheme], ["127.0.0.1", "http"]);
    await wary.stop();
  });

  it("stops with the app's own error and exit code 3 when the app fails to import", async () => {
    const server = await serve([BROKEN, ...ANY_PORT, "--workers", "3"], {
      waitForListening: false,
    });
    assert.equal(await server.exited, 3);
    const output = server.lines.join("\n");
    assert.match(output, /DATABASE_URL is not set/);
    assert.ok(bootedPids(server.lines).length <= 3, "it forked again after the boot failure");
  });

  it("says how to fix an app that Node loads as CommonJS, and stops with exit code 3", async () => {
    const dir = mkdtempSync(join(resolve(import.meta.dirname, "../fixtures/pool"), "commonjs-"));
    try {
      // What `npm init -y` writes: without "type": "module", app.ts is compiled as CommonJS.
      writeFileSync(join(dir, "package.json"), '{ "type": "commonjs" }\n');
      writeFileSync(
        join(dir, "app.ts"),
        'import { Carafe } from "carafe";\nexport const app = new Carafe();\n',
      );
      const server = await serve([join(dir, "app.ts"), ...ANY_PORT], {
        waitForListening: false,
      });
      assert.equal(await server.exited, 3);
      assert.match(
        server.lines.join("\n"),
        /package\.json does not say "type": "module", so Node loads .*app\.ts' as CommonJS/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("serves the Hono example app unchanged", async () => {
    const server = await serve(["examples/hono/app.ts", ...ANY_PORT, "--workers", "2"]);
    const hello = await fetchReply(`${server.url}/`);
    assert.equal(hello.text, "Hello Hono!");
    const post = await fetchReply(`${server.url}/posts/7?page=2`);
    assert.equal(post.text, "You want to see 2 of 7");
    assert.equal(post.headers["x-message"], "Hi!");
    await server.stop();
  });

  it("writes the --pid file and removes it on exit", async () => {
    const dir = mkdtempSync(join(tmpdir(), "carafe-pid-"));
    try {
      const pidFile = join(dir, "carafe.pid");
      const server = await serve([APP, ...ANY_PORT, "--pid", pidFile]);
      assert.equal(Number(readFileSync(pidFile, "utf8")), server.child.pid);
      assert.equal(await server.stop(), 0);
      assert.equal(existsSync(pidFile), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reopens the access log file on USR1, after rotation", async () => {
    const dir = mkdtempSync(join(tmpdir(), "carafe-log-"));
    try {
      const log = join(dir, "access.log");
      const server = await serve([APP, ...ANY_PORT, "--access-log", log]);
      await fetchReply(`${server.url}/whoami?before`);
      renameSync(log, `${log}.1`);
      const from = server.lines.length;
      server.child.kill("SIGUSR1");
      await server.waitFor(/Handling signal: usr1/, from);
      // The workers reopen on a message of their own; ask until a line lands in the new file.
      while (!(existsSync(log) && readFileSync(log, "utf8").includes("/whoami?after"))) {
        await fetchReply(`${server.url}/whoami?after`);
      }
      assert.match(readFileSync(`${log}.1`, "utf8"), /"GET \/whoami\?before HTTP\/1.1" 200/);
      await server.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("serves HTTPS with --certfile and --keyfile", async () => {
    const tls = resolve(import.meta.dirname, "../fixtures/tls");
    const server = await serve([
      APP,
      ...ANY_PORT,
      "--certfile",
      join(tls, "cert.pem"),
      "--keyfile",
      join(tls, "key.pem"),
    ]);
    assert.match(server.url, /^https:\/\//);
    const body = await new Promise<string>((done, fail) => {
      const req = httpsRequest(
        `${server.url}/whoami`,
        { ca: readFileSync(join(tls, "cert.pem")), agent: false },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => (text += chunk));
          res.on("end", () => done(text));
        },
      );
      req.on("error", fail);
      req.end();
    });
    assert.equal(json<{ scheme: string }>(body).scheme, "https");
    await server.stop();
  });

  it("refuses a request line or headers over gunicorn's limits with 414 and 431", async () => {
    const server = await serve([
      APP,
      ...ANY_PORT,
      "--limit-request-line",
      "100",
      "--limit-request-fields",
      "5",
    ]);
    const long = await fetchReply(`${server.url}/whoami?${"x".repeat(200)}`);
    assert.equal(long.status, 414);
    const many: Record<string, string> = {};
    for (let i = 0; i < 10; i++) many[`x-field-${i}`] = "1";
    const crowded = await fetchReply(`${server.url}/whoami`, { headers: many });
    assert.equal(crowded.status, 431);
    assert.match(crowded.text, /more than 5 header fields/);
    assert.equal((await fetchReply(`${server.url}/whoami`)).status, 200);
    await server.stop();
  });

  it(
    "frees the thread of a streamed response whose client left before the first chunk",
    { timeout: 15_000 },
    async () => {
      // No --timeout: only the client's leaving can free the thread.
      const server = await serve([APP, ...ANY_PORT, "--threads", "1", "--timeout", "0"]);
      const req = httpRequest(`${server.url}/late-stream/500`, { agent: false });
      req.on("error", () => {});
      req.end();
      await server.waitFor(/late stream started/);
      req.destroy();
      // With one thread, this answer proves the stream was abandoned and the thread given back.
      const next = await fetchReply(`${server.url}/thread`);
      assert.equal(next.status, 200);
      await server.stop();
    },
  );

  it(
    "aborts request.signal on a pool thread when the client leaves",
    { timeout: 15_000 },
    async () => {
      const server = await serve([APP, ...ANY_PORT, "--threads", "1"]);
      const req = httpRequest(`${server.url}/until-gone`, { agent: false });
      req.on("error", () => {});
      req.end();
      const waiting = await server.waitFor(/waiting for its client to leave in thread (\d+)/);
      req.destroy();
      const left = await server.waitFor(/its client left \((\w+)\) in thread (\d+)/);
      assert.match(left, /\(AbortError\)/);
      // The handler ran on a pool thread, not on the loop (thread 0).
      assert.doesNotMatch(waiting, /thread 0$/);
      await server.stop();
    },
  );
});

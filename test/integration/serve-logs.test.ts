// `carafe serve`'s request ids and logs as a machine reads them: real worker processes, a pool
// thread, real sockets, the access log file read back after the server stopped.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, watch } from "node:fs";
import { Agent } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { after, describe, it } from "node:test";
import {
  freePort,
  fetchReply,
  once,
  openStream,
  serveInThisFile,
  type Reply,
} from "./serve-process.ts";

const APP = "test/fixtures/pool/request-ids.ts";
const STREAMS = "test/fixtures/metrics/app.ts";
const ANY_PORT = ["--bind", "127.0.0.1:0"];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const serve = serveInThisFile();
const dir = mkdtempSync(join(tmpdir(), "carafe-logs-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function idOf(reply: Reply): string {
  assert.equal(reply.status, 200, reply.text);
  return (JSON.parse(reply.text) as { id: string }).id;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Resolves once a line of the file at `path` (in `dir`) matches `pattern`: the server writes its
 * own messages there with --error-log, `Listening at:` among them. Woken by each change to the
 * folder; fails if the process exits first.
 */
function waitForLine(path: string, pattern: RegExp, exited: Promise<unknown>): Promise<void> {
  return new Promise((done, fail) => {
    const watcher = watch(dir);
    const check = (): void => {
      if (!existsSync(path) || !pattern.test(readFileSync(path, "utf8"))) return;
      watcher.close();
      done();
    };
    watcher.on("change", check);
    void exited.then(() => {
      watcher.close();
      fail(new Error(`the server exited before writing ${pattern} to ${path}`));
    });
    check();
  });
}

function lines(path: string): string[] {
  return readFileSync(path, "utf8").split("\n").slice(0, -1);
}

describe("request ids and logs of carafe serve", () => {
  it("writes JSON access lines with the route's rule and the id each handler saw", async () => {
    const log = join(dir, "json.log");
    const server = await serve([
      APP,
      ...ANY_PORT,
      "--threads",
      "1",
      "--access-log",
      log,
      "--access-log-format",
      "json",
      "--echo-request-id",
    ]);
    const headers = { "User-Agent": "log-test/1", Referer: "http://example.com/from" };
    const onLoop = await fetchReply(`${server.url}/loop/1?q=a%20b`, { headers });
    const onThread = await fetchReply(`${server.url}/thread/2`, { headers });
    const missing = await fetchReply(`${server.url}/nowhere`);
    assert.equal(missing.status, 404);
    assert.equal(await server.stop(), 0);

    const entries = lines(log).map((line) => JSON.parse(line) as Record<string, unknown>);
    const byPath = new Map(entries.map((entry) => [entry.path, entry]));
    assert.equal(entries.length, 3);
    for (const [path, reply, route] of [
      ["/loop/1?q=a%20b", onLoop, "/loop/<int:n>"],
      ["/thread/2", onThread, "/thread/<int:n>"],
    ] as const) {
      const entry = byPath.get(path) as Record<string, unknown>;
      const id = idOf(reply);
      assert.match(id, UUID);
      assert.equal(reply.headers["x-request-id"], id);
      assert.equal(entry.request_id, id);
      assert.equal(entry.route, route);
      assert.equal(entry.method, "GET");
      assert.equal(entry.status, 200);
      assert.equal(entry.bytes, Buffer.byteLength(reply.text));
      assert.equal(entry.user_agent, "log-test/1");
      assert.equal(entry.referer, "http://example.com/from");
      assert.equal(entry.remote_addr, "127.0.0.1");
      assert.equal(typeof entry.duration_ms, "number");
      assert.equal(typeof entry.pid, "number");
      assert.equal(new Date(entry.time as string).toISOString(), entry.time);
    }
    assert.notEqual(idOf(onLoop), idOf(onThread));
    const notFound = byPath.get("/nowhere") as Record<string, unknown>;
    assert.equal(notFound.route, null);
    assert.equal(notFound.status, 404);
    assert.equal(notFound.request_id, missing.headers["x-request-id"]);
  });

  it("takes X-Request-ID from a trusted proxy only, and replaces a malformed one", async () => {
    const trusting = await serve([APP, ...ANY_PORT, "--threads", "1"]);
    for (const route of ["loop", "thread"]) {
      const given = { "X-Request-ID": `req-${route}-7` };
      const taken = await fetchReply(`${trusting.url}/${route}/1`, { headers: given });
      assert.equal(idOf(taken), `req-${route}-7`);
      // Echoed only with --echo-request-id.
      assert.equal(taken.headers["x-request-id"], undefined);
      for (const bad of ["two words", "x".repeat(201)]) {
        const replaced = await fetchReply(`${trusting.url}/${route}/1`, {
          headers: { "X-Request-ID": bad },
        });
        assert.match(idOf(replaced), UUID);
      }
    }
    await trusting.stop();

    const wary = await serve([APP, ...ANY_PORT, "--forwarded-allow-ips", "10.1.2.3"]);
    const ignored = await fetchReply(`${wary.url}/loop/1`, {
      headers: { "X-Request-ID": "req-1" },
    });
    assert.match(idOf(ignored), UUID);
    await wary.stop();
  });

  it("names the route and the request id when a handler fails, on the loop and on a thread", async () => {
    const server = await serve([APP, ...ANY_PORT, "--threads", "1"]);
    for (const [path, route, id] of [
      ["/fail/x", "/fail/<name>", "req-loop"],
      ["/fail-thread/y", "/fail-thread/<name>", "req-thread"],
    ] as const) {
      const reply = await fetchReply(`${server.url}${path}`, { headers: { "X-Request-ID": id } });
      assert.equal(reply.status, 500);
      await server.waitFor(
        new RegExp(
          `Exception on ${path} \\[GET\\] \\(route ${route}, request id ${id}\\)`.replaceAll(
            "/",
            "\\/",
          ),
        ),
      );
    }
    await server.stop();
  });

  /** `carafe serve` writing its error log to `log`: it prints nothing until a request fails. */
  async function serveWithErrorLog(args: string[], log: string) {
    const port = await freePort();
    const server = await serve([...args, "--bind", `127.0.0.1:${port}`, "--error-log", log], {
      waitForListening: false,
    });
    await waitForLine(log, /Listening at: /, server.exited);
    return { server, url: `http://127.0.0.1:${port}` };
  }

  for (const threads of ["0", "2"]) {
    it(`writes a failing handler's exception, route, id and stack to --error-log (--threads ${threads})`, async () => {
      const log = join(dir, `error-${threads}.log`);
      const { server, url } = await serveWithErrorLog([APP, "--threads", threads], log);
      const failures = [
        ["/fail/x", "/fail/<name>", "req-loop", "the loop handler failed"],
        ["/fail-thread/y", "/fail-thread/<name>", "req-thread", "the thread handler failed"],
      ] as const;
      for (const [path, , id] of failures) {
        const reply = await fetchReply(`${url}${path}`, { headers: { "X-Request-ID": id } });
        assert.equal(reply.status, 500);
        // Written before the 500 left, a pool thread's entry included (it reaches the loop
        // before the thread's answer does).
        assert.ok(readFileSync(log, "utf8").includes(`request id ${id})`), `${id} not written`);
      }
      assert.equal(await server.stop(), 0);

      const written = readFileSync(log, "utf8");
      for (const [path, route, id, message] of failures) {
        // The entry, then the stack of what the handler threw, down to the handler's own frame.
        const entry = new RegExp(
          String.raw`^\[[^\]]+\] \[\d+\] \[ERROR\] ` +
            escapeRegExp(`Exception on ${path} [GET] (route ${route}, request id ${id})`) +
            String.raw`\nError: ${message}\n    at .*request-ids\.ts`,
          "m",
        );
        assert.match(written, entry);
      }
      // Nothing of it went to the console instead.
      assert.deepEqual(
        server.lines.filter((line) => line.includes("Exception on")),
        [],
      );
    });
  }

  it("writes what a fetch app throws to --error-log", async () => {
    const log = join(dir, "error-fetch.log");
    const { server, url } = await serveWithErrorLog(["test/fixtures/pool/fetch-fails.ts"], log);
    assert.equal((await fetchReply(`${url}/`)).status, 500);
    assert.equal(await server.stop(), 0);
    assert.match(
      readFileSync(log, "utf8"),
      /^\[[^\]]+\] \[\d+\] \[ERROR\] The app failed to handle a request\nError: the fetch app failed\n/m,
    );
  });

  it("writes JSON error entries with --error-log-format json: route, request id and stack", async () => {
    const log = join(dir, "error-json.log");
    const { server, url } = await serveWithErrorLog(
      ["test/fixtures/pool/app-logs.ts", "--threads", "1", "--error-log-format", "json"],
      log,
    );
    const requests = [
      ["/loop/note/a", "req-loop-note"],
      ["/thread/note/b", "req-thread-note"],
      ["/loop/fail/c", "req-loop-fail"],
      ["/thread/fail/d", "req-thread-fail"],
    ] as const;
    for (const [path, id] of requests) {
      await fetchReply(`${url}${path}`, { headers: { "X-Request-ID": id } });
    }
    assert.equal(await server.stop(), 0);

    const entries = lines(log).map((line) => JSON.parse(line) as Record<string, unknown>);
    const byId = new Map(entries.map((entry) => [entry.request_id, entry]));
    // The server's own entries name no request.
    const listening = entries.find((entry) => String(entry.message).startsWith("Listening at: "));
    assert.equal(listening?.level, "info");
    assert.equal(listening?.request_id, null);
    assert.equal(listening?.route, null);
    for (const where of ["loop", "thread"]) {
      const note = byId.get(`req-${where}-note`) as Record<string, unknown>;
      assert.equal(note.level, "info");
      assert.equal(note.message, `noted ${where === "loop" ? "a" : "b"} on the ${where}`);
      assert.equal(note.route, `/${where}/note/<name>`);
      assert.equal(note.stack, null);
      assert.equal(typeof note.pid, "number");
      assert.equal(new Date(note.time as string).toISOString(), note.time);

      const path = `/${where}/fail/${where === "loop" ? "c" : "d"}`;
      const failure = byId.get(`req-${where}-fail`) as Record<string, unknown>;
      assert.equal(failure.level, "error");
      assert.equal(
        failure.message,
        `Exception on ${path} [GET] (route /${where}/fail/<name>, request id req-${where}-fail)`,
      );
      assert.equal(failure.route, `/${where}/fail/<name>`);
      assert.match(
        failure.stack as string,
        new RegExp(String.raw`^Error: the ${where} handler failed\n    at .*app-logs\.ts`),
      );
    }
  });

  it("leaves an app's own logger alone, on the loop and on a thread", async () => {
    const server = await serve(["test/fixtures/pool/own-logger.ts", ...ANY_PORT, "--threads", "1"]);
    for (const path of ["/fail/x", "/fail-thread/y"]) {
      assert.equal((await fetchReply(`${server.url}${path}`)).status, 500);
      await server.waitFor(new RegExp(`^own logger: Exception on ${escapeRegExp(path)} `));
    }
    const outputRead = once(server.child, "close");
    assert.equal(await server.stop(), 0);
    await outputRead;
    assert.deepEqual(
      server.lines.filter((line) => line.includes("[ERROR]")),
      [],
    );
  });

  it("logs a streamed response's bytes and whole duration, text and JSON, on the loop and on a thread", async () => {
    /** Streams `path` with its body held after the first chunk for as long as `whileHeld` takes. */
    const held = async (url: string, path: string, whileHeld: () => Promise<void>) => {
      const stream = await openStream(`${url}${path}`);
      const firstAt = performance.now();
      await whileHeld();
      const heldMs = performance.now() - firstAt;
      assert.equal((await fetchReply(`${url}/release`)).text, "released");
      assert.equal(stream.first.length + (await stream.rest()).length, 5000);
      return heldMs;
    };
    const text = join(dir, "stream.log");
    const server = await serve([
      STREAMS,
      ...ANY_PORT,
      "--threads",
      "1",
      "--access-log",
      text,
      "--access-log-format",
      "%(U)s %(s)s %(b)s %(B)s %(D)s",
    ]);
    const heldMs: Record<string, number> = {};
    for (const path of ["/stream/loop", "/stream/thread"]) {
      // A request answered meanwhile is logged before the stream that was still being sent.
      heldMs[path] = await held(server.url, path, async () => {
        assert.equal((await fetchReply(`${server.url}/`)).text, "home");
      });
    }
    assert.equal(await server.stop(), 0);
    const logged = lines(text).map((line) => line.split(" "));
    assert.deepEqual(
      logged.map(([path, status, b, B]) => [path, status, b, B]),
      [
        ["/", "200", "4", "4"],
        ["/release", "200", "8", "8"],
        ["/stream/loop", "200", "5000", "5000"],
        ["/", "200", "4", "4"],
        ["/release", "200", "8", "8"],
        ["/stream/thread", "200", "5000", "5000"],
      ],
    );
    for (const [path, , , , micros] of logged) {
      if (!path?.startsWith("/stream/")) continue;
      const ms = Number(micros) / 1000;
      const min = heldMs[path] as number;
      assert.ok(ms >= min, `${path}: ${ms} ms logged, its body was held ${min} ms`);
    }

    const json = join(dir, "stream.json.log");
    const jsonServer = await serve([
      STREAMS,
      ...ANY_PORT,
      "--access-log",
      json,
      "--access-log-format",
      "json",
    ]);
    const min = await held(jsonServer.url, "/stream/loop", async () => {
      await fetchReply(`${jsonServer.url}/`);
    });
    assert.equal(await jsonServer.stop(), 0);
    const entry = lines(json)
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((each) => each.path === "/stream/loop");
    assert.equal(entry?.bytes, 5000);
    assert.ok((entry?.duration_ms as number) >= min, `${entry?.duration_ms} ms, held ${min} ms`);
  });

  it("loses no access line when the server is stopped with TERM as requests come in", async () => {
    const log = join(dir, "term.log");
    const server = await serve([
      APP,
      ...ANY_PORT,
      "--threads",
      "1",
      "--access-log",
      log,
      "--access-log-format",
      "%(U)s %(s)s",
    ]);
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    const answered: string[] = [];
    let stopping: Promise<number | null> | null = null;
    const requests = Array.from({ length: 400 }, (_, i) => {
      const path = `/${i % 2 === 0 ? "loop" : "thread"}/${i}`;
      return fetchReply(`${server.url}${path}`, { agent }).then(
        (reply) => {
          if (reply.status === 200) answered.push(path);
          // Stop while most requests are still to come or in flight.
          if (answered.length === 50) stopping = server.stop();
        },
        // Sent after the server stopped accepting: never answered.
        () => {},
      );
    });
    await Promise.all(requests);
    agent.destroy();
    assert.ok(stopping !== null, "the server was never stopped");
    assert.equal(await stopping, 0);
    assert.ok(answered.length >= 50);
    const logged = new Set(lines(log));
    const lost = answered.filter((path) => !logged.has(`${path} 200`));
    assert.deepEqual(
      lost,
      [],
      `${lost.length} of ${answered.length} answered requests have no line`,
    );
  });
});

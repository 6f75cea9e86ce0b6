import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  AccessLogger,
  DEFAULT_ACCESS_LOG_FORMAT,
  ErrorLogger,
  LogTargetError,
  formatAccessLog,
  type AccessEntry,
} from "../../src/server/http/access-log.ts";

// A fixed zone with a half-hour offset and no daylight saving, so `%(t)s` is deterministic.
// Each test file runs in its own process, and Node applies a TZ change at once.
process.env.TZ = "Asia/Kolkata";

const ARRIVED = new Date(2000, 9, 10, 13, 55, 36).getTime();

/** A request with every field the atoms read. */
function entry(overrides: Partial<AccessEntry> = {}): AccessEntry {
  return {
    method: "GET",
    url: "/caf%C3%A9/a%20b?q=1&page=2",
    httpVersion: "1.1",
    status: 200,
    responseBytes: 1234,
    requestHeaders: {
      referer: "https://example.com/start",
      "user-agent": "curl/8.5.0",
      authorization: `Basic ${Buffer.from("alice:secret").toString("base64")}`,
      "x-request-id": "req-7",
    },
    responseHeaders: ["Content-Type", "text/html", "Set-Cookie", "a=1", "set-cookie", "b=2"],
    remoteAddress: "203.0.113.9",
    route: "/<name>/<path:rest>",
    requestId: "3f2a9c1e-77b0-8d41-a2c9-00000000002a",
    startTime: ARRIVED,
    durationMs: 1234.56789,
    pid: 4242,
    env: { DEPLOY: "blue" },
    ...overrides,
  };
}

/** An entry with nothing optional: no headers, no address, no body size, no query. */
const BARE = entry({
  url: "/",
  responseBytes: null,
  requestHeaders: {},
  responseHeaders: [],
  remoteAddress: "",
  route: null,
  env: {},
});

describe("formatAccessLog", () => {
  it("writes the Apache combined line by default", () => {
    assert.equal(
      formatAccessLog(DEFAULT_ACCESS_LOG_FORMAT, entry()),
      '203.0.113.9 - alice [10/Oct/2000:13:55:36 +0530] "GET /caf%C3%A9/a%20b?q=1&page=2 HTTP/1.1" ' +
        '200 1234 "https://example.com/start" "curl/8.5.0"',
    );
  });

  it("formats every gunicorn atom", () => {
    const atoms = "h l u t r m U q H s B b f a T D M L p".split(" ");
    const format = atoms.map((atom) => `%(${atom})s`).join("|");
    assert.deepEqual(formatAccessLog(format, entry()).split("|"), [
      "203.0.113.9",
      "-",
      "alice",
      "[10/Oct/2000:13:55:36 +0530]",
      "GET /caf%C3%A9/a%20b?q=1&page=2 HTTP/1.1",
      "GET",
      "/café/a b",
      "q=1&page=2",
      "HTTP/1.1",
      "200",
      "1234",
      "1234",
      "https://example.com/start",
      "curl/8.5.0",
      "1",
      "1234567",
      "1234",
      "1.234567",
      "<4242>",
    ]);
  });

  it("reads request headers, response headers and variables by name in any case", () => {
    const format = "%({X-Request-Id}i)s %({content-type}o)s %({Set-Cookie}o)s %({DEPLOY}e)s";
    assert.equal(formatAccessLog(format, entry()), "req-7 text/html a=1, b=2 blue");
  });

  it("prints a missing value as -", () => {
    const format = "%(h)s %(u)s %(b)s %(B)s %(f)s %(a)s %({x-id}i)s %({etag}o)s %({NOPE}e)s";
    assert.equal(formatAccessLog(format, BARE), "- - - - - - - - -");
  });

  it("prints the request id and the route's rule for %(id)s and %(route)s", () => {
    assert.equal(
      formatAccessLog("%(id)s %(route)s", entry()),
      "3f2a9c1e-77b0-8d41-a2c9-00000000002a /<name>/<path:rest>",
    );
    assert.equal(formatAccessLog("%(route)s", BARE), "-");
  });

  it("prints an unknown atom as -", () => {
    assert.equal(formatAccessLog("[%(z)s] [%(constructor)s]", entry()), "[-] [-]");
  });

  it("prints an empty query string as gunicorn's QUERY_STRING does: empty", () => {
    assert.equal(formatAccessLog("[%(q)s]", BARE), "[]");
  });

  it("prints - for %(b)s but 0 for %(B)s when the body is empty", () => {
    assert.equal(formatAccessLog("%(b)s %(B)s", entry({ responseBytes: 0 })), "- 0");
  });

  it("prints - for the user when Authorization is not Basic auth", () => {
    const headers = { authorization: "Bearer abc.def" };
    assert.equal(formatAccessLog("%(u)s", entry({ requestHeaders: headers })), "-");
  });

  it("keeps the sent path when it does not percent-decode", () => {
    assert.equal(formatAccessLog("%(U)s", entry({ url: "/bad%E0%A4" })), "/bad%E0%A4");
  });

  it("escapes quotes, backslashes and control characters so a header cannot forge a line", () => {
    const headers = { "user-agent": 'evil" \\ \n203.0.113.1 - - "GET / HTTP/1.1\x1b' };
    assert.equal(
      formatAccessLog('"%(a)s"', entry({ requestHeaders: headers })),
      '"evil\\" \\\\ \\n203.0.113.1 - - \\"GET / HTTP/1.1\\u001b"',
    );
  });

  it("turns %% into a percent sign and %(x)d into the atom", () => {
    assert.equal(formatAccessLog("100%% %(s)d", entry()), "100% 200");
  });

  it("writes the time in the local zone with its signed offset", () => {
    process.env.TZ = "Pacific/Marquesas";
    try {
      const startTime = new Date(2000, 0, 2, 3, 4, 5).getTime();
      assert.equal(formatAccessLog("%(t)s", entry({ startTime })), "[02/Jan/2000:03:04:05 -0930]");
    } finally {
      process.env.TZ = "Asia/Kolkata";
    }
  });
});

describe("formatAccessLog with the json format", () => {
  it("writes one JSON object with the request's fields, the route's rule and its id", () => {
    const line = formatAccessLog("json", entry());
    assert.doesNotMatch(line, /\n/);
    assert.deepEqual(JSON.parse(line), {
      time: new Date(ARRIVED).toISOString(),
      remote_addr: "203.0.113.9",
      method: "GET",
      path: "/caf%C3%A9/a%20b?q=1&page=2",
      route: "/<name>/<path:rest>",
      status: 200,
      duration_ms: 1234.567,
      bytes: 1234,
      user_agent: "curl/8.5.0",
      referer: "https://example.com/start",
      request_id: "3f2a9c1e-77b0-8d41-a2c9-00000000002a",
      pid: 4242,
    });
  });

  it("writes null for what is missing: no route, no address, no headers, no body size", () => {
    const fields = JSON.parse(formatAccessLog("json", BARE)) as Record<string, unknown>;
    for (const key of ["route", "remote_addr", "user_agent", "referer", "bytes"]) {
      assert.equal(fields[key], null, key);
    }
  });

  it("escapes what a client sent so that a line stays one valid JSON object", () => {
    const agent = 'evil"}\n{"status":200 \u2028 \x1b';
    const line = formatAccessLog(
      "json",
      entry({ url: '/a"b\\c', requestHeaders: { "user-agent": agent } }),
    );
    assert.doesNotMatch(line, /\n/);
    const fields = JSON.parse(line) as Record<string, unknown>;
    assert.equal(fields.user_agent, agent);
    assert.equal(fields.path, '/a"b\\c');
  });
});

describe("log files", () => {
  let dir = "";
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "carafe-access-log-"));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const lines = (path: string): string[] => readFileSync(path, "utf8").split("\n").slice(0, -1);

  it("appends one formatted line per request to the file", async () => {
    const path = join(dir, "access.log");
    writeFileSync(path, "earlier line\n");
    const log = new AccessLogger({ target: path, format: "%(m)s %(U)s %(s)s" });
    log.log(entry());
    log.log(entry({ method: "POST", url: "/login", status: 302 }));
    await log.close();
    assert.deepEqual(lines(path), ["earlier line", "GET /café/a b 200", "POST /login 302"]);
  });

  it("keeps every byte of lines in UTF-8 and of a line longer than a whole batch", async () => {
    const path = join(dir, "access.log");
    const log = new AccessLogger({ target: path, format: "%(U)s" });
    const urls = Array.from(
      { length: 3000 },
      (_, i) => `/caf%C3%A9/${"%E2%82%AC".repeat(i % 7)}${i}`,
    );
    const long = `/${"x".repeat(100_000)}`;
    for (const url of urls.slice(0, 1500)) log.log(entry({ url }));
    log.log(entry({ url: long }));
    for (const url of urls.slice(1500)) log.log(entry({ url }));
    await log.close();
    const decoded = urls.map((url) => decodeURIComponent(url));
    assert.deepEqual(lines(path), [...decoded.slice(0, 1500), long, ...decoded.slice(1500)]);
  });

  it("writes to a fresh file after rotation renames the old one and reopen() is called", async () => {
    const path = join(dir, "access.log");
    const log = new AccessLogger({ target: path, format: "%(U)s" });
    log.log(entry({ url: "/before" }));
    renameSync(path, `${path}.1`);
    // Until reopen() the open descriptor still points at the renamed file.
    log.log(entry({ url: "/between" }));
    // Enough queued lines that the old file is still flushing when reopen() retires it.
    const queued = Array.from({ length: 2000 }, (_, i) => `/queued/${i}`);
    for (const url of queued) log.log(entry({ url }));
    log.reopen();
    log.log(entry({ url: "/after" }));
    await log.close();
    assert.deepEqual(lines(`${path}.1`), ["/before", "/between", ...queued]);
    assert.deepEqual(lines(path), ["/after"]);
  });

  it("throws LogTargetError naming the path when the file cannot be opened", () => {
    const path = join(dir, "missing", "access.log");
    assert.throws(
      () => new AccessLogger({ target: path }),
      (error: unknown) =>
        error instanceof LogTargetError &&
        error.code === "ERR_LOG_TARGET" &&
        error.message.includes(`cannot open the access log '${path}'`),
    );
  });

  it("writes the lines still waiting when the process exits", () => {
    const path = join(dir, "access.log");
    const module = pathToFileURL(join(import.meta.dirname, "../../src/server/http/access-log.ts"));
    // Lines wait to go out together; process.exit() ends the process before they would.
    const script = `
      const { AccessLogger } = await import(${JSON.stringify(module.href)});
      const log = new AccessLogger({ target: ${JSON.stringify(path)}, format: "%(U)s" });
      for (let i = 0; i < 3; i++) log.log({ url: "/line/" + i });
      process.exit(0);
    `;
    const child = spawnSync(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "--eval", script],
      { encoding: "utf8" },
    );
    assert.equal(child.status, 0, child.stderr);
    assert.deepEqual(lines(path), ["/line/0", "/line/1", "/line/2"]);
  });

  it("writes nothing and reports itself disabled without a target", async () => {
    const log = new AccessLogger({ target: null });
    assert.equal(log.enabled, false);
    log.log(entry());
    log.reopen();
    await log.close();
  });

  /** The error-log lines without their `[time] [pid] ` prefix, which must be well formed. */
  function messages(path: string, pid: number): string[] {
    const prefix = new RegExp(String.raw`^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0530\] \[${pid}\] `);
    return lines(path).map((line) => {
      assert.match(line, prefix);
      return line.replace(prefix, "");
    });
  }

  it("keeps error-log messages at or above the level and drops the rest", async () => {
    const path = join(dir, "error.log");
    const log = new ErrorLogger({ target: path, level: "warning", pid: 99 });
    log.debug("debug message");
    log.info("info message");
    log.warning("warning message");
    log.warn("warn message");
    log.error("error message");
    log.critical("critical message");
    await log.close();
    assert.deepEqual(messages(path, 99), [
      "[WARNING] warning message",
      "[WARNING] warn message",
      "[ERROR] error message",
      "[CRITICAL] critical message",
    ]);
  });

  it("logs at info and above by default and says which levels it keeps", async () => {
    const path = join(dir, "error.log");
    const log = new ErrorLogger({ target: path, pid: 7 });
    assert.equal(log.isEnabledFor("debug"), false);
    assert.equal(log.isEnabledFor("info"), true);
    assert.equal(log.isEnabledFor("critical"), true);
    log.debug("hidden");
    log.info("Booting worker with pid: 7");
    await log.close();
    assert.deepEqual(messages(path, 7), ["[INFO] Booting worker with pid: 7"]);
  });

  it("writes the stack of an error after its message", async () => {
    const path = join(dir, "error.log");
    const log = new ErrorLogger({ target: path, pid: 7 });
    const failure = new TypeError("boom");
    // Unbound, as a callback would call it.
    const report = log.error;
    report("Worker failed to boot", failure);
    await log.close();
    const written = readFileSync(path, "utf8");
    assert.ok(written.includes(`[ERROR] Worker failed to boot\n${failure.stack}\n`), written);
  });

  it("writes one JSON object a line with the json format, the stack as one string", async () => {
    const path = join(dir, "error.log");
    const log = new ErrorLogger({ target: path, pid: 7, format: "json", level: "debug" });
    const failure = new TypeError("boom\nsecond line");
    const before = Date.now();
    log.info("Booting worker with pid: 7");
    log.write({
      level: "error",
      message: 'Exception on /user/7 [GET] "quoted"',
      stack: failure.stack as string,
      route: "/user/<int:id>",
      requestId: "req-1",
    });
    log.error("Worker failed to boot", failure);
    log.write({ level: "debug", message: "outside a request", route: null, requestId: null });
    await log.close();
    const entries = lines(path).map((line) => JSON.parse(line) as Record<string, unknown>);
    for (const { time } of entries) {
      assert.equal(new Date(time as string).toISOString(), time);
      assert.ok(Date.parse(time as string) >= before - 1);
    }
    assert.deepEqual(
      entries.map(({ time: _time, ...rest }) => rest),
      [
        {
          level: "info",
          pid: 7,
          message: "Booting worker with pid: 7",
          route: null,
          request_id: null,
          stack: null,
        },
        {
          level: "error",
          pid: 7,
          message: 'Exception on /user/7 [GET] "quoted"',
          route: "/user/<int:id>",
          request_id: "req-1",
          stack: failure.stack,
        },
        {
          level: "error",
          pid: 7,
          message: "Worker failed to boot",
          route: null,
          request_id: null,
          stack: failure.stack,
        },
        {
          level: "debug",
          pid: 7,
          message: "outside a request",
          route: null,
          request_id: null,
          stack: null,
        },
      ],
    );
  });

  it("keeps the level's threshold for entries an app wrote", async () => {
    const path = join(dir, "error.log");
    const log = new ErrorLogger({ target: path, pid: 7, level: "warning" });
    log.write({ level: "info", message: "dropped", route: "/", requestId: "req-1" });
    log.write({ level: "warning", message: "kept", route: "/", requestId: "req-1" });
    await log.close();
    assert.deepEqual(messages(path, 7), ["[WARNING] kept"]);
  });
});

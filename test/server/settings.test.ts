import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_ACCESS_LOG_FORMAT } from "../../src/server/http/access-log.ts";
import { defaultThreadHeapMb } from "../../src/threading/heap-bound.ts";
import {
  SettingsError,
  isHelpRequest,
  parseBind,
  resolveSettings,
  serveHelp,
} from "../../src/server/settings.ts";

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory holding `files` (name → contents). */
function project(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "carafe-settings-"));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

function resolveIn(cwd: string, argv: string[], env: Record<string, string> = {}) {
  return resolveSettings({ argv, env, cwd });
}

/** Asserts that resolving fails with a SettingsError whose message is exactly `message`. */
async function rejectsWith(promise: Promise<unknown>, message: string | RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof SettingsError, `expected a SettingsError, got ${String(error)}`);
    assert.equal(error.code, "ERR_SETTINGS");
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}

describe("resolveSettings", () => {
  it("uses gunicorn's defaults when nothing is configured", async () => {
    const options = await resolveIn(project(), ["app.ts:app"]);
    assert.deepEqual(options, {
      appSpec: "app.ts:app",
      binds: [{ kind: "tcp", host: "127.0.0.1", port: 8000 }],
      workers: 1,
      threads: 0,
      initialThreads: 1,
      timeout: 30,
      gracefulTimeout: 30,
      keepAlive: 5,
      maxRequests: 0,
      maxRequestsJitter: 0,
      backlog: 2048,
      maxQueue: 1000,
      threadMaxHeap: defaultThreadHeapMb(),
      limitRequestLine: 4094,
      limitRequestFields: 100,
      limitRequestFieldSize: 8190,
      forwardedAllowIps: ["127.0.0.1", "::1"],
      trustTraceparent: false,
      accessLog: null,
      accessLogFormat: DEFAULT_ACCESS_LOG_FORMAT,
      echoRequestId: false,
      errorLog: "-",
      errorLogFormat: "text",
      logLevel: "info",
      pid: null,
      preload: false,
      reload: false,
      certfile: null,
      keyfile: null,
      metricsBind: null,
      healthzPath: null,
      readyzPath: null,
    });
  });

  it("lets flags override the environment and the environment override the config file", async () => {
    const cwd = project({
      "carafe.config.js":
        "export default { workers: 2, threads: 3, timeout: 10, logLevel: 'debug' };",
    });
    const options = await resolveIn(cwd, ["-w", "8", "app.ts", "--log-level=error"], {
      CARAFE_WORKERS: "4",
      CARAFE_THREADS: "5",
    });
    assert.equal(options.workers, 8);
    assert.equal(options.logLevel, "error");
    assert.equal(options.threads, 5);
    assert.equal(options.timeout, 10);
    assert.equal(options.keepAlive, 5);
  });

  it("loads a carafe.config.ts with types and a bind list", async () => {
    const cwd = project({
      "carafe.config.ts": `const workers: number = 3;
export default { workers, bind: ["0.0.0.0:9000", "unix:/tmp/carafe.sock"], preload: true };
`,
    });
    const options = await resolveIn(cwd, ["app.ts"]);
    assert.equal(options.workers, 3);
    assert.equal(options.preload, true);
    assert.deepEqual(options.binds, [
      { kind: "tcp", host: "0.0.0.0", port: 9000 },
      { kind: "unix", path: "/tmp/carafe.sock" },
    ]);
  });

  it("loads the file named by --config or CARAFE_CONFIG instead of the default one", async () => {
    const cwd = project({
      "carafe.config.js": "export default { workers: 2 };",
      "prod.config.js": "export default { workers: 6 };",
      "staging.config.js": "export default { workers: 7 };",
    });
    assert.equal((await resolveIn(cwd, ["app.ts", "-c", "prod.config.js"])).workers, 6);
    const fromEnv = await resolveIn(cwd, ["app.ts"], { CARAFE_CONFIG: "staging.config.js" });
    assert.equal(fromEnv.workers, 7);
    await rejectsWith(
      resolveIn(cwd, ["app.ts", "--config", "missing.js"]),
      "--config must name an existing file, got 'missing.js'",
    );
  });

  it("collects every --bind and lets them replace the configured binds", async () => {
    const cwd = project({ "carafe.config.js": "export default { bind: '10.0.0.1:80' };" });
    const options = await resolveIn(cwd, [
      "app.ts",
      "-b",
      "0.0.0.0:80",
      "--bind=[::]:8000",
      "-bunix:/tmp/x.sock",
    ]);
    assert.deepEqual(options.binds, [
      { kind: "tcp", host: "0.0.0.0", port: 80 },
      { kind: "tcp", host: "::", port: 8000 },
      { kind: "unix", path: "/tmp/x.sock" },
    ]);
  });

  it("reads comma lists from the environment, including gunicorn's FORWARDED_ALLOW_IPS", async () => {
    const cwd = project();
    const env = { CARAFE_BIND: "127.0.0.1:5000, [::1]:5000", FORWARDED_ALLOW_IPS: "*" };
    const options = await resolveIn(cwd, ["app.ts"], env);
    assert.equal(options.binds.length, 2);
    assert.deepEqual(options.forwardedAllowIps, ["*"]);
    const own = await resolveIn(cwd, ["app.ts"], {
      ...env,
      CARAFE_FORWARDED_ALLOW_IPS: "10.0.0.0/8,192.168.0.1",
    });
    assert.deepEqual(own.forwardedAllowIps, ["10.0.0.0/8", "192.168.0.1"]);
  });

  it("turns booleans on with the flag and off with --no- or a false word", async () => {
    const cwd = project({ "carafe.config.js": "export default { reload: true };" });
    const options = await resolveIn(cwd, ["app.ts", "--preload", "--no-reload"]);
    assert.equal(options.preload, true);
    assert.equal(options.reload, false);
    const fromEnv = await resolveIn(cwd, ["app.ts"], { CARAFE_RELOAD: "no", CARAFE_PRELOAD: "1" });
    assert.deepEqual([fromEnv.preload, fromEnv.reload], [true, false]);
  });

  it("treats everything after -- as the app, even if it starts with a dash", async () => {
    const options = await resolveIn(project(), ["-w", "2", "--", "-odd.ts"]);
    assert.equal(options.appSpec, "-odd.ts");
  });

  it("rejects bad values with a message naming the flag, variable or config key", async () => {
    const cwd = project();
    const cases: [string[], Record<string, string>, string][] = [
      [["--workers", "abc"], {}, "--workers must be a whole number ≥ 1, got 'abc'"],
      [["-w", "0"], {}, "-w must be a whole number ≥ 1, got '0'"],
      [["--threads=1.5"], {}, "--threads must be a whole number ≥ 0, got '1.5'"],
      [
        [],
        { CARAFE_TIMEOUT: "soon" },
        "CARAFE_TIMEOUT must be a number of seconds ≥ 0, got 'soon'",
      ],
      [["--keep-alive", "-1"], {}, "--keep-alive must be a number of seconds ≥ 0, got '-1'"],
      [
        ["--limit-request-line", "9000"],
        {},
        "--limit-request-line must be a whole number from 0 to 8190, got '9000'",
      ],
      [
        ["--log-level", "loud"],
        {},
        "--log-level must be one of debug, info, warning, error, critical, got 'loud'",
      ],
      [
        ["--forwarded-allow-ips", "10.0.0.0/8,proxy.local"],
        {},
        "--forwarded-allow-ips must be a comma list of addresses, CIDR networks or *, got 'proxy.local'",
      ],
      [[], { CARAFE_PRELOAD: "maybe" }, "CARAFE_PRELOAD must be true or false, got 'maybe'"],
      [["--error-log="], {}, "--error-log must be a non-empty string, got ''"],
      [
        ["--error-log-format", "xml"],
        {},
        "--error-log-format must be one of text, json, got 'xml'",
      ],
      [["--workers"], {}, "--workers needs a value (see carafe serve --help)"],
    ];
    for (const [argv, env, message] of cases) {
      await rejectsWith(resolveIn(cwd, ["app.ts", ...argv], env), message);
    }
  });

  it("rejects a bad config value naming the file and the key", async () => {
    const cwd = project({ "carafe.config.js": "export default { workers: 'many' };" });
    await rejectsWith(
      resolveIn(cwd, ["app.ts"]),
      "carafe.config.js: workers must be a whole number ≥ 1, got 'many'",
    );
  });

  it("rejects an unknown flag, suggesting the closest one", async () => {
    const cwd = project();
    await rejectsWith(
      resolveIn(cwd, ["app.ts", "--wrokers", "4"]),
      "unknown option --wrokers (did you mean --workers?)",
    );
    await rejectsWith(
      resolveIn(cwd, ["app.ts", "--frobnicate"]),
      "unknown option --frobnicate (see carafe serve --help)",
    );
  });

  it("rejects an unknown config key, suggesting the closest one", async () => {
    const cwd = project({ "carafe.config.ts": "export default { wrokers: 4 };" });
    await rejectsWith(
      resolveIn(cwd, ["app.ts"]),
      "carafe.config.ts: unknown setting 'wrokers' (did you mean 'workers'?)",
    );
  });

  it("rejects a config file whose default export is not a plain object", async () => {
    const cwd = project({ "carafe.config.js": "export default [4];" });
    await rejectsWith(resolveIn(cwd, ["app.ts"]), /^carafe\.config\.js: the default export must/);
  });

  it("needs exactly one app", async () => {
    const cwd = project();
    await rejectsWith(
      resolveIn(cwd, ["-w", "2"]),
      "serve needs the app, e.g. carafe serve app.ts:app (or carafe --app app.ts:app serve, or CARAFE_APP=app.ts:app)",
    );
    await rejectsWith(
      resolveIn(cwd, ["a.ts", "b.ts"]),
      "serve takes one app, got 'a.ts' and 'b.ts'",
    );
  });

  it("takes the app named before the command when the arguments name none", async () => {
    const cwd = project();
    const fromFlag = { spec: "a.ts", from: "--app" };
    const fromEnv = { spec: "a.ts", from: "CARAFE_APP" };
    assert.equal(
      (await resolveSettings({ argv: ["-w", "2"], env: {}, cwd, app: fromFlag })).appSpec,
      "a.ts",
    );
    // The app after the command is more specific than the environment's.
    assert.equal(
      (await resolveSettings({ argv: ["b.ts"], env: {}, cwd, app: fromEnv })).appSpec,
      "b.ts",
    );
    await rejectsWith(
      resolveSettings({ argv: ["b.ts"], env: {}, cwd, app: fromFlag }),
      "serve got two apps: 'a.ts' (--app) and 'b.ts'; name it once",
    );
  });

  it("needs --certfile and --keyfile together, naming existing files", async () => {
    const cwd = project({ "cert.pem": "cert", "key.pem": "key" });
    await rejectsWith(
      resolveIn(cwd, ["app.ts", "--certfile", "cert.pem"]),
      "--certfile needs --keyfile too: TLS takes a certificate and its key",
    );
    await rejectsWith(
      resolveIn(cwd, ["app.ts"], { CARAFE_KEYFILE: "key.pem" }),
      "--keyfile needs --certfile too: TLS takes a certificate and its key",
    );
    await rejectsWith(
      resolveIn(cwd, ["app.ts", "--certfile", "cert.pem", "--keyfile", "nope.pem"]),
      "--keyfile must be an existing file, got 'nope.pem'",
    );
    const options = await resolveIn(cwd, [
      "app.ts",
      "--certfile",
      "cert.pem",
      "--keyfile",
      "key.pem",
    ]);
    assert.equal(options.certfile, join(cwd, "cert.pem"));
    assert.equal(options.keyfile, join(cwd, "key.pem"));
  });

  it("reads --metrics-bind as one address and the probe paths as paths", async () => {
    const cwd = project();
    const options = await resolveIn(
      cwd,
      ["app.ts", "--metrics-bind", "0.0.0.0:9100", "--readyz-path", "/ready"],
      { CARAFE_HEALTHZ_PATH: "/live" },
    );
    assert.deepEqual(options.metricsBind, { kind: "tcp", host: "0.0.0.0", port: 9100 });
    assert.equal(options.healthzPath, "/live");
    assert.equal(options.readyzPath, "/ready");
    const fromEnv = await resolveIn(cwd, ["app.ts"], { CARAFE_METRICS_BIND: "[::1]:0" });
    assert.deepEqual(fromEnv.metricsBind, { kind: "tcp", host: "::1", port: 0 });
  });

  it("rejects a bad --metrics-bind or probe path, and one path for both probes", async () => {
    const cwd = project();
    await rejectsWith(
      resolveIn(cwd, ["app.ts", "--metrics-bind", "9100"]),
      "--metrics-bind must be HOST:PORT, [IPV6]:PORT or unix:PATH, e.g. 127.0.0.1:8000, got '9100'",
    );
    await rejectsWith(
      resolveIn(cwd, ["app.ts", "--healthz-path", "healthz"]),
      "--healthz-path must be a path starting with /, without spaces, ? or #, e.g. /healthz, got 'healthz'",
    );
    await rejectsWith(
      resolveIn(cwd, ["app.ts", "--healthz-path", "/up", "--readyz-path", "/up"]),
      /^--healthz-path and --readyz-path must differ/,
    );
  });
});

describe("parseBind", () => {
  it("parses every address form", () => {
    const cases: [string, ReturnType<typeof parseBind>][] = [
      ["127.0.0.1:8000", { kind: "tcp", host: "127.0.0.1", port: 8000 }],
      ["0.0.0.0:80", { kind: "tcp", host: "0.0.0.0", port: 80 }],
      ["[::]:8000", { kind: "tcp", host: "::", port: 8000 }],
      ["[::1]:0", { kind: "tcp", host: "::1", port: 0 }],
      ["localhost:8000", { kind: "tcp", host: "localhost", port: 8000 }],
      ["unix:/tmp/x.sock", { kind: "unix", path: "/tmp/x.sock" }],
    ];
    for (const [text, bind] of cases) assert.deepEqual(parseBind(text), bind, text);
  });

  it("rejects a malformed address or port with a --bind error", () => {
    const cases: [string, RegExp][] = [
      ["localhost:99999", /^--bind port must be from 0 to 65535, got 'localhost:99999'$/],
      ["localhost:", /^--bind port must be from 0 to 65535/],
      ["localhost:http", /^--bind must be HOST:PORT, \[IPV6\]:PORT or unix:PATH/],
      ["8000", /^--bind must be HOST:PORT/],
      [":8000", /^--bind must be HOST:PORT/],
      ["::1:8000", /^--bind must put an IPv6 address in brackets, e.g. \[::1\]:8000, got/],
      ["[not-ipv6]:80", /^--bind must put an IPv6 address in brackets/],
      ["unix:", /^--bind must name the socket, e.g. unix:\/tmp\/app.sock, got 'unix:'$/],
    ];
    for (const [text, message] of cases) {
      assert.throws(() => parseBind(text), {
        name: "SettingsError",
        code: "ERR_SETTINGS",
        message,
      });
    }
  });
});

describe("serveHelp", () => {
  it("lists every flag, short flag and environment variable with its default", () => {
    const help = serveHelp();
    const flags = [
      ["-c, --config", "CARAFE_CONFIG"],
      ["-b, --bind", "CARAFE_BIND"],
      ["-w, --workers", "CARAFE_WORKERS"],
      ["--threads", "CARAFE_THREADS"],
      ["-t, --timeout", "CARAFE_TIMEOUT"],
      ["--graceful-timeout", "CARAFE_GRACEFUL_TIMEOUT"],
      ["--keep-alive", "CARAFE_KEEP_ALIVE"],
      ["--max-requests", "CARAFE_MAX_REQUESTS"],
      ["--max-requests-jitter", "CARAFE_MAX_REQUESTS_JITTER"],
      ["--backlog", "CARAFE_BACKLOG"],
      ["--max-queue", "CARAFE_MAX_QUEUE"],
      ["--thread-max-heap", "CARAFE_THREAD_MAX_HEAP"],
      ["--limit-request-line", "CARAFE_LIMIT_REQUEST_LINE"],
      ["--limit-request-fields", "CARAFE_LIMIT_REQUEST_FIELDS"],
      ["--limit-request-field-size", "CARAFE_LIMIT_REQUEST_FIELD_SIZE"],
      ["--forwarded-allow-ips", "CARAFE_FORWARDED_ALLOW_IPS"],
      ["--access-log", "CARAFE_ACCESS_LOG"],
      ["--access-log-format", "CARAFE_ACCESS_LOG_FORMAT"],
      ["--error-log", "CARAFE_ERROR_LOG"],
      ["--error-log-format", "CARAFE_ERROR_LOG_FORMAT"],
      ["--log-level", "CARAFE_LOG_LEVEL"],
      ["--pid", "CARAFE_PID"],
      ["--preload", "CARAFE_PRELOAD"],
      ["--reload", "CARAFE_RELOAD"],
      ["--certfile", "CARAFE_CERTFILE"],
      ["--keyfile", "CARAFE_KEYFILE"],
    ];
    for (const [flag, env] of flags) {
      assert.match(help, new RegExp(`^ {2,6}${flag}( |$)`, "m"), `help lacks ${flag}`);
      assert.ok(help.includes(`env ${env}`), `help lacks ${env}`);
    }
    assert.match(help, /^Usage: carafe serve \[options\] MODULE\[:EXPORT\]/);
    assert.match(help, /env CARAFE_WORKERS; default 1\n/);
    assert.match(help, /env CARAFE_BIND; default 127\.0\.0\.1:8000\n/);
    assert.match(
      help,
      /0 keeps them on the event loop \(routes marked \{ thread: true \} still get a pool\)/,
    );
  });

  it("recognises -h and --help before --", () => {
    assert.equal(isHelpRequest(["app.ts", "-h"]), true);
    assert.equal(isHelpRequest(["--help"]), true);
    assert.equal(isHelpRequest(["app.ts", "-w", "2"]), false);
    assert.equal(isHelpRequest(["--", "--help"]), false);
  });
});

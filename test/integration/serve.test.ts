// `carafe serve` as users run it: a real supervisor, worker processes, pool threads, sockets
// and signals.
import assert from "node:assert/strict";
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { createServer as createNetServer, type Socket } from "node:net";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import { deferred } from "../helpers.ts";
import { allListening, bootedPids, fetchReply, serveInThisFile } from "./serve-process.ts";

type Deferred = ReturnType<typeof deferred<void>>;

const APP = "test/fixtures/pool/app.ts";
const BROKEN = "test/fixtures/pool/broken.ts";
const SLOW_BOOT = "test/fixtures/pool/slow-boot.ts";
const EXIT_REPORTING_APP = "test/fixtures/pool/exit-reporting.ts";
const ANY_PORT = ["--bind", "127.0.0.1:0"];

const serve = serveInThisFile();

function json<T>(text: string): T {
  return JSON.parse(text) as T;
}

/** The inode of the socket listening on 127.0.0.1:`port`, from the kernel's table. */
function listeningInode(port: number): string {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const [, address, , state, , , , , , inode] = line.trim().split(/\s+/);
    if (address === local && state === "0A" && inode !== undefined) return inode;
  }
  throw new Error(`nothing listens on 127.0.0.1:${port}`);
}

/** Whether process `pid` has the socket `inode` open (a listening socket it accepts on). */
function holdsSocket(pid: number, inode: string): boolean {
  return readdirSync(`/proc/${pid}/fd`).some((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`;
    } catch {
      return false; // closed between listing and reading
    }
  });
}

/**
 * Listens on the Unix socket `path` for the workers of EXIT_REPORTING_APP: each connects, says
 * its pid, and holds the connection until its process ends, when the kernel closes it.
 */
async function watchExits(path: string): Promise<{
  path: string;
  /** Resolves once worker `pid` has connected. */
  connected(pid: number): Promise<void>;
  /** Resolves once the process of worker `pid` has ended (its connection closed). */
  exited(pid: number): Promise<void>;
  /** Whether worker `pid` has connected and its process has not ended yet. */
  isOpen(pid: number): boolean;
  close(): void;
}> {
  type Watched = { connected: Deferred; exited: Deferred; open: boolean };
  const connections = new Map<number, Watched>();
  const sockets = new Set<Socket>();
  const entry = (pid: number): Watched => {
    let found = connections.get(pid);
    if (found === undefined) {
      found = { connected: deferred(), exited: deferred(), open: false };
      connections.set(pid, found);
    }
    return found;
  };
  const server = createNetServer((socket) => {
    sockets.add(socket);
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      if (text.includes("\n")) return; // the pid came already
      text += chunk;
      if (!text.includes("\n")) return;
      const watched = entry(Number(text.split("\n")[0]));
      watched.open = true;
      watched.connected.resolve();
      socket.once("close", () => {
        watched.open = false;
        watched.exited.resolve();
      });
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((done) => server.listen(path, done));
  return {
    path,
    connected: (pid) => entry(pid).connected.promise,
    exited: (pid) => entry(pid).exited.promise,
    isOpen: (pid) => connections.get(pid)?.open === true,
    close: () => {
      server.close();
      for (const socket of sockets) socket.destroy();
    },
  };
}

describe("carafe serve", () => {
  it("runs N blocking handlers at the same time with --threads N", async () => {
    const server = await serve([APP, ...ANY_PORT, "--threads", "3"]);
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

  it("answers 504 to a handler past --timeout, replaces its thread and keeps serving", async () => {
    const server = await serve([APP, ...ANY_PORT, "--threads", "1", "--timeout", "1"]);
    const stuck = await fetchReply(`${server.url}/spin`);
    assert.equal(stuck.status, 504);
    assert.match(stuck.text, /took longer than 1 second/);
    await server.waitFor(/GET \/spin ran past the 1 second timeout/);
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

  it("lets a single worker accept its connections itself; hands them out in turn to several", async () => {
    for (const workers of [1, 2]) {
      const server = await serve([
        APP,
        ...ANY_PORT,
        "--workers",
        String(workers),
        "--log-level",
        "debug",
      ]);
      await allListening(server, workers);
      const inode = listeningInode(Number(new URL(server.url).port));
      const accepting = bootedPids(server.lines).filter((pid) => holdsSocket(pid, inode));
      assert.equal(accepting.length, workers === 1 ? 1 : 0, `with --workers ${workers}`);
      assert.equal((await fetchReply(`${server.url}/whoami`)).status, 200);
      await server.stop();
    }
  });

  it("replaces a worker process that was killed", async () => {
    const server = await serve([APP, ...ANY_PORT, "--workers", "2", "--log-level", "debug"]);
    await allListening(server, 2);
    const [victim] = bootedPids(server.lines);
    assert.ok(victim !== undefined);
    const from = server.lines.length;
    process.kill(victim, "SIGKILL");
    await server.waitFor(new RegExp(`Worker ${victim} died \\(signal SIGKILL\\)`), from);
    await server.waitFor(/Booting worker with pid/, from);
    assert.equal(bootedPids(server.lines).length, 3);
    const replies = await Promise.all(
      Array.from({ length: 20 }, () => fetchReply(`${server.url}/whoami`)),
    );
    assert.ok(replies.every((reply) => reply.status === 200));
    assert.ok(replies.every((reply) => json<{ pid: number }>(reply.text).pid !== victim));
    await server.stop();
  });

  it("finishes in-flight requests on TERM, then exits 0", async () => {
    const server = await serve([APP, ...ANY_PORT]);
    const inFlight = fetchReply(`${server.url}/wait/700`);
    await server.waitFor(/waiting 700 ms/);
    const code = server.stop("SIGTERM");
    const reply = await inFlight;
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.connection, "close");
    assert.equal(await code, 0);
    await assert.rejects(fetchReply(`${server.url}/whoami`), { code: "ECONNREFUSED" });
  });

  it("reloads on HUP under continuous load without losing a request", async () => {
    const server = await serve([APP, ...ANY_PORT, "--workers", "2"]);
    const oldPids = new Set(bootedPids(server.lines));
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const failures: string[] = [];
    let answered = 0;
    let freshInARow = 0;
    let reloaded = false;
    const client = async (): Promise<void> => {
      // Until 200 answers in a row come from the new workers only.
      while (freshInARow < 200) {
        try {
          const reply = await fetchReply(`${server.url}/whoami`, { agent });
          answered += 1;
          if (reply.status !== 200) failures.push(`status ${reply.status}`);
          const fresh = reloaded && !oldPids.has(json<{ pid: number }>(reply.text).pid);
          freshInARow = fresh ? freshInARow + 1 : 0;
        } catch (error) {
          failures.push((error as Error).message);
        }
      }
    };
    const clients = Array.from({ length: 8 }, () => client());
    const from = server.lines.length;
    server.child.kill("SIGHUP");
    await server.waitFor(/Reload complete/, from);
    reloaded = true;
    await Promise.all(clients);
    agent.destroy();
    assert.deepEqual(failures, [], `${failures.length} of ${answered} requests failed`);
    assert.ok(answered > 200);
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

  it(
    "adds a worker on TTIN, and on TTOU one worker process exits while the other serves on",
    { timeout: 60_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "carafe-exits-"));
      const exits = await watchExits(join(dir, "exits.sock"));
      try {
        // A worker that fails to exit after its drain is killed only past --graceful-timeout:
        // beyond this test's limit, so that only a drain that ends the process passes.
        const server = await serve(
          [
            EXIT_REPORTING_APP,
            ...ANY_PORT,
            "--workers",
            "1",
            "--log-level",
            "debug",
            "--graceful-timeout",
            "120",
          ],
          { env: { CARAFE_TEST_EXIT_SOCKET: exits.path } },
        );
        await allListening(server, 1);
        server.child.kill("SIGTTIN");
        await allListening(server, 2);
        const pids = bootedPids(server.lines);
        assert.equal(pids.length, 2, server.lines.join("\n"));
        await Promise.all(pids.map((pid) => exits.connected(pid)));

        server.child.kill("SIGTTOU");
        const gone = await Promise.race(pids.map((pid) => exits.exited(pid).then(() => pid)));
        const staying = pids.find((pid) => pid !== gone);
        const whoami = await fetchReply(`${server.url}/whoami`);
        assert.equal(json<{ pid: number }>(whoami.text).pid, staying);
        assert.ok(exits.isOpen(staying as number), "the other worker's process still runs");
        await server.stop();
      } finally {
        exits.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it("kills and replaces a worker whose event loop stops answering for --timeout", async () => {
    // Two workers: the other one serves while the frozen one is replaced.
    const server = await serve([
      APP,
      ...ANY_PORT,
      "--workers",
      "2",
      "--timeout",
      "1",
      "--log-level",
      "debug",
    ]);
    await allListening(server, 2);
    const from = server.lines.length;
    const stuck = fetchReply(`${server.url}/freeze`).catch((error: Error) => error);
    await server.waitFor(/Worker \d+ timed out \(no heartbeat/, from);
    await server.waitFor(/Booting worker with pid/, from);
    assert.ok((await stuck) instanceof Error, "the frozen worker's connection was cut");
    assert.equal((await fetchReply(`${server.url}/whoami`)).status, 200);
    await server.stop();
  });

  it(
    "lets a worker whose app takes longer than --timeout to import boot",
    { timeout: 20_000 },
    async () => {
      const server = await serve([SLOW_BOOT, ...ANY_PORT, "--timeout", "1"]);
      const reply = await fetchReply(`${server.url}/`);
      assert.equal(reply.text, "booted");
      assert.equal(
        bootedPids(server.lines).length,
        1,
        "the booting worker was killed and replaced",
      );
      await server.stop();
    },
  );

  it("reloads the workers with --reload when a source file changes", async () => {
    const dir = mkdtempSync(join(resolve(import.meta.dirname, "../fixtures/pool"), "reload-"));
    try {
      const file = join(dir, "app.ts");
      writeFileSync(
        file,
        'import { Carafe } from "carafe";\nexport const app = new Carafe();\napp.route("/", () => "version 1");\n',
      );
      const server = await serve([file, ...ANY_PORT, "--reload"]);
      assert.equal((await fetchReply(`${server.url}/`)).text, "version 1");
      const from = server.lines.length;
      writeFileSync(file, readFileSync(file, "utf8").replace("version 1", "version 2"));
      await server.waitFor(/Reload complete/, from);
      assert.equal((await fetchReply(`${server.url}/`)).text, "version 2");
      await server.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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

  it("keeps serving when a HUP reload finds the app broken, and reloads once it is fixed", async () => {
    const dir = mkdtempSync(join(resolve(import.meta.dirname, "../fixtures/pool"), "broken-"));
    try {
      const file = join(dir, "app.ts");
      const source =
        'import { Carafe } from "carafe";\nexport const app = new Carafe();\napp.route("/", () => "version 1");\n';
      writeFileSync(file, source);
      const server = await serve([file, ...ANY_PORT, "--workers", "3", "--log-level", "debug"]);
      await allListening(server, 3);
      let from = server.lines.length;
      writeFileSync(file, `${source}throw new Error("half-saved file");\n`);
      server.child.kill("SIGHUP");
      await server.waitFor(/Reload failed; the running workers keep serving/, from);
      assert.equal((await fetchReply(`${server.url}/`)).text, "version 1");
      // Every broken worker's report is handled before this reload can complete.
      writeFileSync(file, source.replace("version 1", "version 2"));
      from = server.lines.length;
      server.child.kill("SIGHUP");
      await server.waitFor(/Reload complete/, from);
      assert.equal((await fetchReply(`${server.url}/`)).text, "version 2");
      assert.equal(await server.stop(), 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it(
    "stops on TERM while a worker past --max-requests waits for its successor",
    { timeout: 20_000 },
    async () => {
      const server = await serve([
        APP,
        ...ANY_PORT,
        "--max-requests",
        "3",
        "--graceful-timeout",
        "5",
      ]);
      for (let i = 0; i < 3; i++) await fetchReply(`${server.url}/whoami`);
      assert.equal(await server.stop("SIGTERM"), 0);
    },
  );
});

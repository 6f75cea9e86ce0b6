// `carafe serve` managing its worker processes as users run it: accepting, replacing, draining,
// reloading and scaling workers, with real processes, sockets and signals.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import { allListening, bootedPids, fetchReply, serveInThisFile } from "./serve-process.ts";
import { holdsSocket, listeningInode, watchExits } from "./worker-processes.ts";

const APP = "test/fixtures/pool/app.ts";
const SLOW_BOOT = "test/fixtures/pool/slow-boot.ts";
const EXIT_REPORTING_APP = "test/fixtures/pool/exit-reporting.ts";
const ANY_PORT = ["--bind", "127.0.0.1:0"];

const serve = serveInThisFile();

function json<T>(text: string): T {
  return JSON.parse(text) as T;
}

describe("carafe serve: worker processes", () => {
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

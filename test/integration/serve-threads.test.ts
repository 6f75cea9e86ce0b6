// `carafe serve`'s pool threads as users run it: a worker starts --initial-threads of them and
// the rest as requests find no idle thread, up to --threads.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fetchReply, runCarafe, serveInThisFile } from "./serve-process.ts";

const APP = "test/fixtures/pool/growing.ts";
const ANY_PORT = ["--bind", "127.0.0.1:0"];

const serve = serveInThisFile();

/** How many threads of the worker process imported the app: its main thread and pool threads. */
async function imports(url: string): Promise<number> {
  const reply = await fetchReply(`${url}/imports`);
  return (JSON.parse(reply.text) as { imports: number }).imports;
}

describe("carafe serve: pool threads", () => {
  it("starts one pool thread, and grows to --threads when requests find none idle", async () => {
    const server = await serve([APP, ...ANY_PORT, "--threads", "3"]);
    await server.waitFor(/× 3 threads, 1 started/);
    assert.equal(await imports(server.url), 2, "the main thread and one pool thread");
    // Three requests that each wait for the other two: they need three threads at once.
    const replies = await Promise.all([1, 2, 3].map(() => fetchReply(`${server.url}/meet`)));
    assert.deepEqual(
      replies.map((reply) => reply.status),
      [200, 200, 200],
    );
    const threads = replies.map(
      (reply) => (JSON.parse(reply.text) as { threadId: number }).threadId,
    );
    assert.equal(new Set(threads).size, 3);
    assert.equal(await imports(server.url), 4, "no thread beyond --threads");
    await server.stop();
  });

  it("starts every pool thread at once with --initial-threads equal to --threads", async () => {
    const server = await serve([APP, ...ANY_PORT, "--threads", "3", "--initial-threads", "3"]);
    await server.waitFor(/× 3 threads \(/);
    assert.equal(await imports(server.url), 4);
    await server.stop();
  });

  it("says so when a new thread cannot load the app, and serves on the threads it has", async () => {
    const server = await serve([
      "test/fixtures/pool/second-thread-fails.ts",
      ...ANY_PORT,
      "--threads",
      "2",
    ]);
    // The second request finds the first thread busy, so the pool starts a second, which fails.
    const replies = await Promise.all([
      fetchReply(`${server.url}/block/300`),
      fetchReply(`${server.url}/block/10`),
    ]);
    assert.deepEqual(
      replies.map((reply) => reply.status),
      [200, 200],
    );
    const threads = replies.map(
      (reply) => (JSON.parse(reply.text) as { threadId: number }).threadId,
    );
    assert.equal(new Set(threads).size, 1, "both ran on the one thread that loaded");
    await server.waitFor(
      /a new pool thread could not load the app \(no more are started for [\d.]+ s\): importing '.*second-thread-fails\.ts' failed:/,
    );
    await server.waitFor(/Error: this app loads on one pool thread only/);
    await server.stop();
  });

  it("refuses more initial threads than --threads, with exit code 2", async () => {
    const run = await runCarafe([
      "serve",
      APP,
      ...ANY_PORT,
      "--threads",
      "2",
      "--initial-threads",
      "3",
    ]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--initial-threads 3 is more than --threads 2/);
  });
});

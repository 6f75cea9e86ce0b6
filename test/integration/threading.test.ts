// carafe/threading in a served app: `carafe serve --threads 4` with state shared through
// app.shared, and toThread on the process's own pool.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { fetchReply, startServe, type ServeProcess } from "./serve-process.ts";

const APP = "test/fixtures/threading/app.ts";
const running: ServeProcess[] = [];
after(() => Promise.all(running.map((server) => server.stop("SIGKILL"))));

async function serve(args: string[]): Promise<ServeProcess> {
  const server = await startServe([APP, "--bind", "127.0.0.1:0", ...args]);
  running.push(server);
  return server;
}

async function json<T>(url: string): Promise<T> {
  const reply = await fetchReply(url);
  assert.equal(reply.status, 200, reply.text);
  return JSON.parse(reply.text) as T;
}

describe("threading in a served app", () => {
  it("N concurrent requests on --threads 4 count exactly N in app.shared, under its lock", async () => {
    // Every thread started with the worker, so that the burst meets four of them.
    const server = await serve(["--threads", "4", "--initial-threads", "4"]);
    const n = 200;
    // 20 clients at a time, each request a new connection, as a burst of users would.
    const answers: { hits: number; threadId: number }[] = [];
    for (let sent = 0; sent < n; sent += 20) {
      const batch = Array.from({ length: 20 }, () =>
        json<{ hits: number; threadId: number }>(`${server.url}/hit`),
      );
      answers.push(...(await Promise.all(batch)));
    }
    const threads = new Set(answers.map((answer) => answer.threadId));
    assert.ok(threads.size > 1, `the requests ran on ${threads.size} thread(s)`);
    assert.ok(!threads.has(0), "plain handlers ran on pool threads");
    assert.deepEqual(
      answers.map((answer) => answer.hits).sort((a, b) => a - b),
      Array.from({ length: n }, (_, i) => i + 1),
      "every increment returned a distinct count",
    );
    assert.deepEqual(await json(`${server.url}/count`), { hits: n, tally: n });
    assert.equal(await server.stop(), 0);
  });

  it("toThread from an async handler runs on the process's pool threads", async () => {
    const server = await serve(["--threads", "2", "--initial-threads", "2"]);
    const pool = new Set(
      (
        await Promise.all(
          Array.from({ length: 8 }, () => json<{ threadId: number }>(`${server.url}/hit`)),
        )
      ).map((answer) => answer.threadId),
    );
    const offloaded = await json<{ loop: number; call: number }>(`${server.url}/offload`);
    assert.equal(offloaded.loop, 0, "the async handler ran on the event loop");
    assert.ok(
      pool.has(offloaded.call),
      `call ran on ${offloaded.call}, pool is ${[...pool].join(", ")}`,
    );
    assert.equal(await server.stop(), 0);
  });

  it("rejects a toThread call past --timeout with ThreadingTimeoutError and a plain message", async () => {
    const server = await serve(["--threads", "1", "--timeout", "1"]);
    const late = await json<{ name: string; code: string; message: string }>(`${server.url}/late`);
    assert.equal(late.name, "ThreadingTimeoutError");
    assert.equal(late.code, "ERR_THREADING_TIMEOUT");
    assert.match(late.message, /^the thread pool could not run the call: [^<]+$/);
    assert.equal(await server.stop(), 0);
  });
});

// The thread pool with real worker threads importing a real app module.
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import type { ResponseRecord } from "carafe";
import { pool, record, startPool, text } from "./pool-helpers.ts";

const BROKEN = fileURLToPath(new URL("../../fixtures/pool/broken.ts", import.meta.url));

async function drain(response: ResponseRecord): Promise<string> {
  let out = "";
  for await (const chunk of response.body as AsyncIterable<string | Uint8Array>) {
    out += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
  }
  return out;
}

function header(response: ResponseRecord, name: string): string | undefined {
  const at = response.headers.findIndex((value, i) => i % 2 === 0 && value.toLowerCase() === name);
  return at === -1 ? undefined : response.headers[at + 1];
}

/** What the loop hands the pool as a request's client (its ServerResponse): it closes. */
class Client extends EventEmitter {
  writableFinished = false;
  destroyed = false;

  leave(): void {
    this.destroyed = true;
    this.emit("close");
  }
}

describe("ThreadPool", () => {
  it("runs N blocking handlers at the same time on N threads", async () => {
    const { pool: threads } = await pool({ size: 3 });
    const responses = await Promise.all(
      [1, 2, 3].map(() => threads.dispatch(record("/overlap/300"))),
    );
    const runs = responses.map(
      (response) => JSON.parse(text(response)) as { threadId: number; start: number; end: number },
    );
    assert.equal(new Set(runs.map((run) => run.threadId)).size, 3, "three distinct threads");
    // Every handler started before any of them finished: they overlapped in time.
    const lastStart = Math.max(...runs.map((run) => run.start));
    const firstEnd = Math.min(...runs.map((run) => run.end));
    assert.ok(lastStart < firstEnd, `handlers ran one after another: ${JSON.stringify(runs)}`);
  });

  it("gives each thread its own copy of module state", async () => {
    const { pool: threads } = await pool({ size: 2 });
    const runs = await Promise.all([1, 2].map(() => threads.dispatch(record("/overlap/100"))));
    const ids = runs.map(
      (response) => (JSON.parse(text(response)) as { threadId: number }).threadId,
    );
    assert.deepEqual(new Set(ids), new Set(threads.stats().threadIds));
    const first = JSON.parse(text(await threads.dispatch(record("/thread")))) as { served: number };
    assert.equal(first.served, 1, "a thread counts only the requests it served itself");
  });

  it("transfers the request body to the thread instead of copying it", async () => {
    const { pool: threads } = await pool({ size: 1 });
    const body = new Uint8Array(64 * 1024).fill(7);
    const response = await threads.dispatch(record("/echo", "POST", body));
    assert.equal(body.byteLength, 0, "the loop's buffer was moved to the thread");
    assert.equal(response.status, 200);
    const echoed = response.body as Uint8Array;
    assert.equal(echoed.byteLength, 64 * 1024);
    assert.ok(echoed.every((byte) => byte === 7));
  });

  it("brings a streamed response back whole and in order", async () => {
    const { pool: threads } = await pool({ size: 1 });
    const response = await threads.dispatch(record("/stream/500"));
    assert.equal(response.status, 200);
    const lines = (await drain(response)).trimEnd().split("\n");
    assert.equal(lines.length, 500);
    assert.deepEqual(lines.slice(0, 2), ["line 0", "line 1"]);
    assert.equal(lines.at(-1), "line 499");
  });

  it("stops a handler past the timeout with a 504, replaces its thread and keeps serving", async () => {
    const { pool: threads, logs } = await pool({ size: 1, timeoutMs: 300 });
    const [before] = threads.stats().threadIds;
    const response = await threads.dispatch(record("/spin"));
    assert.equal(response.status, 504);
    assert.match(text(response), /took longer than 0.3 seconds/);
    assert.ok(logs.some((log) => log.level === "error" && log.message.includes("GET /spin")));
    const next = await threads.dispatch(record("/thread"));
    assert.equal(next.status, 200);
    const after = (JSON.parse(text(next)) as { threadId: number }).threadId;
    assert.notEqual(after, before, "the stuck thread was replaced");
    const { counts } = threads.stats();
    assert.equal(counts.timeouts, 1);
    assert.equal(counts.restarts.timeout, 1);
  });

  it("runs every request of a burst exactly once, in order, on a single thread", async () => {
    const { pool: threads } = await pool({ size: 1 });
    const responses = await Promise.all(
      Array.from({ length: 30 }, () => threads.dispatch(record("/thread"))),
    );
    const served = responses.map((r) => (JSON.parse(text(r)) as { served: number }).served);
    assert.deepEqual(
      served,
      Array.from({ length: 30 }, (_, i) => (served[0] as number) + i),
    );
  });

  it("lets an idle thread take over a request waiting behind a slow one", async () => {
    const { pool: threads } = await pool({ size: 2 });
    const finished: string[] = [];
    const track = (name: string, url: string): Promise<ResponseRecord> =>
      threads.dispatch(record(url)).then((response) => {
        finished.push(name);
        return response;
      });
    // Both threads busy, so the third request is sent ahead to one of them; when the short
    // one ends first, its thread takes the waiting request back instead of idling.
    const slow = track("slow", "/block/600");
    const short = track("short", "/block/100");
    const waiting = track("waiting", "/thread");
    await Promise.all([slow, short, waiting]);
    assert.deepEqual(finished, ["short", "waiting", "slow"]);
  });

  it("sends nothing ahead to a thread whose route was slow last time", async () => {
    const { pool: threads } = await pool({ size: 2 });
    const run = (url: string, rule: string, times = 1): Promise<ResponseRecord[]> =>
      Promise.all(
        Array.from({ length: times }, () => threads.dispatch(record(url), undefined, rule)),
      );
    // Both threads run each route first: they learn that one is slow and the other quick.
    await run("/block/50", "/block/<int:ms>", 2);
    for (let round = 0; round < 4; round += 1) await run("/thread", "/thread", 20);
    const before = threads.stats().takenBack;
    // The slow request has one thread; the quick ones would be spread over both, and taken
    // back from the slow one once it says it is slow, were it not known slow from its start.
    const slow = run("/block/300", "/block/<int:ms>");
    const quick = await run("/thread", "/thread", 20);
    const [blocked] = await slow;
    assert.equal((blocked as ResponseRecord).status, 200);
    assert.ok(quick.every((response) => response.status === 200));
    assert.equal(threads.stats().takenBack - before, 0, "requests were taken back");
  });

  it("keeps quick requests from waiting out a slow one on the same thread", async () => {
    const { pool: threads } = await pool({ size: 2 });
    // Eight clients send quick requests one after another while a slow one runs; the loop
    // sends them several deep to both threads.
    let answered = 0;
    let slowDone = false;
    let mostOvertaken = 0;
    const client = async (): Promise<void> => {
      while (!slowDone) {
        const before = answered;
        await threads.dispatch(record("/thread"));
        answered += 1;
        mostOvertaken = Math.max(mostOvertaken, answered - before - 1);
      }
    };
    const clients = Array.from({ length: 8 }, () => client());
    // Both threads are busy with quick requests (and have learnt that they are quick) first.
    while (answered < 2000) await threads.dispatch(record("/thread"));
    const beforeSlow = answered;
    await threads.dispatch(record("/block/500"));
    slowDone = true;
    await Promise.all(clients);
    assert.ok(answered - beforeSlow > 100, "the other thread went on answering quick requests");
    // Stuck behind it, one would be overtaken by over 10,000 here; sent back in time, by ≈100.
    assert.ok(mostOvertaken < 1000, `a quick request was overtaken by ${mostOvertaken} others`);
  });

  it(
    "answers every request, bodies whole, when ones taken back are sent ahead again",
    { timeout: 30_000 },
    async () => {
      const { pool: threads } = await pool({ size: 2 });
      // Quick requests (0.2 ms), sent several deep, while the loop now and then stalls for 3 ms
      // (as a busy one does): the threads then look slow to it, so what waits on them is taken
      // back and sent ahead again, often to the same thread and slot while the first copy still
      // waits on that thread. Every request must still be answered, exactly once.
      const TOTAL = 4000;
      const pause = new Int32Array(new SharedArrayBuffer(4));
      let sent = 0;
      let answered = 0;
      // Each thread counts the requests it ran: their sum shows that none ran twice.
      const ran = new Map<number, number>();
      const client = async (): Promise<void> => {
        while (sent < TOTAL) {
          sent += 1;
          if (sent % 4 === 0) {
            // A body too, which must reach the thread whole whichever copy of it runs.
            const fill = sent % 256;
            const echoed = await threads.dispatch(
              record("/echo", "POST", new Uint8Array(1024).fill(fill)),
            );
            assert.equal(echoed.status, 200);
            assert.deepEqual(echoed.body, new Uint8Array(1024).fill(fill));
            answered += 1;
            continue;
          }
          const response = await threads.dispatch(record("/busy/200"));
          assert.equal(response.status, 200);
          const { threadId, served } = JSON.parse(text(response)) as {
            threadId: number;
            served: number;
          };
          ran.set(threadId, Math.max(ran.get(threadId) ?? 0, served));
          answered += 1;
          if (answered % 20 === 0) Atomics.wait(pause, 0, 0, 3);
        }
      };
      // A lost request leaves its client waiting: the test's timeout ends it.
      await Promise.all(Array.from({ length: 16 }, () => client()));
      assert.equal(answered, TOTAL);
      // Echoes leave `served` alone.
      assert.equal(
        [...ran.values()].reduce((sum, count) => sum + count, 0),
        TOTAL - TOTAL / 4,
      );
    },
  );

  it("answers each request with its own bytes when the app rewrites one buffer", async () => {
    const { pool: threads } = await pool({ size: 1 });
    for (let round = 0; round < 5; round++) {
      const numbers = Array.from({ length: 20 }, (_, i) => round * 100 + i);
      const responses = await Promise.all(
        numbers.map((n) => threads.dispatch(record(`/scratch/${n}`))),
      );
      assert.deepEqual(
        responses.map((response) => Number(text(response).trim())),
        numbers,
      );
    }
  });

  it("runs a request waiting behind a timed-out one on the replacement thread", async () => {
    const { pool: threads } = await pool({ size: 1, timeoutMs: 300 });
    const stuck = threads.dispatch(record("/spin"));
    const waiting = threads.dispatch(record("/thread"));
    assert.equal((await stuck).status, 504);
    const response = await waiting;
    assert.equal(response.status, 200);
    assert.equal((JSON.parse(text(response)) as { served: number }).served, 1, "it ran once");
  });

  it("answers 503 with Retry-After at once when the queue is full", async () => {
    const { pool: threads } = await pool({ size: 1, maxQueue: 1 });
    const running = threads.dispatch(record("/block/300"));
    const queued = threads.dispatch(record("/thread"));
    const refused = await threads.dispatch(record("/thread"));
    assert.equal(refused.status, 503);
    assert.equal(header(refused, "retry-after"), "1");
    assert.equal(threads.stats().queued, 1, "the refused request did not queue");
    assert.equal(threads.stats().counts.rejected, 1);
    assert.equal((await running).status, 200);
    assert.equal((await queued).status, 200);
  });

  it("answers a JSON error to a client that asks for JSON", async () => {
    const { pool: threads } = await pool({ size: 1, maxQueue: 0 });
    const running = threads.dispatch(record("/block/200"));
    const refused = await threads.dispatch({
      ...record("/thread"),
      headers: { accept: "application/json" },
    });
    assert.equal(refused.status, 503);
    assert.equal((JSON.parse(text(refused)) as { error: { status: number } }).error.status, 503);
    await running;
  });

  it("replaces a thread after --max-requests", async () => {
    const { pool: threads, logs } = await pool({ size: 1, maxRequests: 2 });
    const ids = [];
    for (let i = 0; i < 4; i++) {
      const response = await threads.dispatch(record("/thread"));
      ids.push((JSON.parse(text(response)) as { threadId: number }).threadId);
    }
    assert.equal(ids[0], ids[1]);
    assert.notEqual(ids[1], ids[2]);
    assert.equal(ids[2], ids[3]);
    assert.ok(logs.some((log) => log.message.includes("--max-requests")));
    assert.equal(threads.stats().counts.restarts.max_requests, 2, "each thread served its 2");
  });

  it("fails to start with the module's own error when the app cannot be imported", async () => {
    await assert.rejects(startPool({ appSpec: BROKEN }), (error: Error & { code?: string }) => {
      assert.equal(error.code, "ERR_APP_LOAD");
      assert.match(error.message, /DATABASE_URL is not set/);
      return true;
    });
  });

  it("answers queued requests 503 when closed", async () => {
    const { pool: threads } = await pool({ size: 1 });
    const running = threads.dispatch(record("/block/200"));
    const queued = threads.dispatch(record("/thread"));
    await threads.close(1000);
    assert.equal((await queued).status, 503);
    assert.equal((await running).status, 200, "the running request finished within the grace");
  });

  it("sends the same module-level bytes on every request, copying them back", async () => {
    const { pool: threads } = await pool({ size: 1, timeoutMs: 2000 });
    for (let i = 0; i < 3; i++) {
      const response = await threads.dispatch(record("/cached"));
      assert.equal(response.status, 200);
      assert.equal((response.body as Uint8Array).byteLength, 100_000);
    }
  });

  it("cuts a stream that stalls past the timeout and replaces its thread", async () => {
    const { pool: threads, logs } = await pool({ size: 1, timeoutMs: 300 });
    const response = await threads.dispatch(
      { ...record("/stall"), id: "req-stall" },
      undefined,
      "/stall",
    );
    await assert.rejects(drain(response), /stalled for 0.3 seconds/);
    const named = /GET \/stall \(route \/stall, request id req-stall\) ran past/;
    assert.ok(logs.some((log) => named.test(log.message)));
    assert.equal((await threads.dispatch(record("/thread"))).status, 200);
  });

  it("replaces a thread whose stream ignores the cancel of a client that left", async () => {
    const { pool: threads, logs } = await pool({ size: 1 });
    const response = await threads.dispatch(record("/stall"));
    const body = response.body as AsyncIterable<string> & { cancel: () => void };
    for await (const chunk of body) {
      assert.equal(chunk, "first\n");
      break;
    }
    body.cancel();
    assert.equal((await threads.dispatch(record("/thread"))).status, 200);
    assert.ok(logs.some((log) => log.message.includes("kept producing after its client left")));
  });

  it("runs a toThread call as a call, and fails one past --timeout with ThreadingTimeoutError", async () => {
    const { pool: threads } = await pool({ size: 1, timeoutMs: 300 });
    const double = {
      target: { source: "function double(n) { return n * 2; }", name: "double" },
      args: [21],
    };
    assert.deepEqual(await threads.call(double, []).outcome, { ok: true, value: 42 });
    const spin = { target: { source: "function spin() { for (;;); }", name: "spin" }, args: [] };
    const late = await threads.call(spin, []).outcome;
    assert.equal(late.ok, false);
    assert.equal(!late.ok && late.error.name, "ThreadingTimeoutError");
    assert.equal(!late.ok && late.error.code, "ERR_THREADING_TIMEOUT");
    assert.deepEqual(
      await threads.call(double, []).outcome,
      { ok: true, value: 42 },
      "a new thread",
    );
  });

  it(
    "aborts the signal of a request whose client left while it waited for the thread",
    { timeout: 10_000 },
    async () => {
      const { pool: threads } = await pool({ size: 1 });
      const first = new Client();
      const second = new Client();
      // The first holds the thread until its client leaves; the second waits behind it.
      const running = threads.dispatch(record("/until-gone"), first);
      const waiting = threads.dispatch(record("/until-gone"), second);
      second.leave();
      first.leave();
      // Each returns only once its signal has aborted.
      assert.equal(text(await running), "nobody reads this");
      assert.equal(text(await waiting), "nobody reads this");
    },
  );
});

// What a pool thread's errors and deaths touch: an error thrown outside a request leaves the
// thread serving; a thread that dies (its heap bound, process.exit) fails only the request it
// was running, and what it had not started runs on another thread.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { THREAD_YOUNG_MB, defaultThreadHeapMb } from "../../../src/threading/heap-bound.ts";
// Imported before any pool starts, so that the pools' threads share the gate with this test.
import { exitGate } from "../../fixtures/pool/deaths.ts";
import { pool, record, text, threadOf } from "./pool-helpers.ts";

const DEATHS = fileURLToPath(new URL("../../fixtures/pool/deaths.ts", import.meta.url));

describe("ThreadPool, when a thread throws or dies", () => {
  it("bounds every thread's heap by default, sized from the machine", async () => {
    const { pool: threads } = await pool({ appSpec: DEATHS, size: 1 });
    const limits = JSON.parse(text(await threads.dispatch(record("/limits")))) as {
      maxOldGenerationSizeMb: number;
    };
    assert.equal(limits.maxOldGenerationSizeMb, defaultThreadHeapMb());
    assert.equal(threads.stats().maxHeapMb, defaultThreadHeapMb());
  });

  it("keeps every thread's young generation small, with or without a heap bound", async () => {
    for (const bound of [{}, { maxHeapMb: 0 }]) {
      const { pool: threads } = await pool({ appSpec: DEATHS, size: 1, ...bound });
      const limits = JSON.parse(text(await threads.dispatch(record("/limits")))) as {
        maxYoungGenerationSizeMb: number;
      };
      assert.equal(limits.maxYoungGenerationSizeMb, THREAD_YOUNG_MB);
    }
  });

  it("answers 500 to the request that outgrew the heap bound only, and replaces its thread", async () => {
    const { pool: threads, logged } = await pool({ appSpec: DEATHS, size: 1, maxHeapMb: 32 });
    const [hogThread] = threads.stats().threadIds;
    const hog = threads.dispatch({ ...record("/hog"), id: "req-hog" }, undefined, "/hog");
    // They wait on the thread, or in the queue, while it fills its heap.
    const others = Array.from({ length: 5 }, () => threads.dispatch(record("/thread")));
    const response = await hog;
    assert.equal(response.status, 500);
    assert.match(text(response), /more memory than a thread of this server may use/);
    for (const other of await Promise.all(others)) {
      assert.notEqual(threadOf(other), hogThread, "a replacement thread answered");
    }
    const log = await logged(/heap bound/);
    assert.equal(log.level, "error");
    assert.match(
      log.message,
      new RegExp(
        `pool thread ${hogThread} outgrew its heap bound of 32 MB .*while running GET /hog \\(route /hog, request id req-hog\\)`,
      ),
    );
  });

  it("logs an error a timer throws after the answer, with its stack, route and request id, and keeps the thread", async () => {
    const { pool: threads, logged } = await pool({ appSpec: DEATHS, size: 1 });
    const first = threadOf(await threads.dispatch({ ...record("/late-throw"), id: "req-late" }));
    // Requests go on arriving while the timer throws: none of them may fail.
    const during = await Promise.all(
      Array.from({ length: 20 }, () => threads.dispatch(record("/thread"))),
    );
    const log = await logged(/thrown by a timer after the answer/);
    assert.match(
      log.message,
      /callback scheduled by GET \/late-throw \(route \/late-throw, request id req-late\)/,
    );
    assert.match(log.message, /keeps serving/);
    assert.match(log.message, /deaths\.ts:\d+/, "the log has the error's stack");
    for (const response of during) assert.equal(threadOf(response), first);
    assert.equal(threadOf(await threads.dispatch(record("/thread"))), first, "the same thread");
  });

  it("ends a thread whose running request awaits a callback that threw, answering it 500", async () => {
    const { pool: threads, logged } = await pool({ appSpec: DEATHS, size: 1 });
    const [first] = threads.stats().threadIds;
    const response = await threads.dispatch(record("/throw-while-waiting"));
    assert.equal(response.status, 500);
    const log = await logged(/while a request ran that may wait on it/);
    assert.match(log.message, /callback scheduled by GET \/throw-while-waiting/);
    assert.match(log.message, /SyntaxError/);
    assert.notEqual(threadOf(await threads.dispatch(record("/thread"))), first, "a new thread");
  });

  it("logs a promise rejected after the answer with its route, and keeps the thread", async () => {
    const { pool: threads, logged } = await pool({ appSpec: DEATHS, size: 1 });
    const first = threadOf(await threads.dispatch(record("/late-reject")));
    const log = await logged(/rejected after the answer/);
    assert.match(log.message, /unhandled promise rejection .*scheduled by GET \/late-reject/);
    assert.equal(threadOf(await threads.dispatch(record("/thread"))), first, "the same thread");
  });

  it("runs what a dying thread had not started on another thread", async () => {
    const { pool: threads, logged } = await pool({ appSpec: DEATHS, size: 1 });
    exitGate.fill(0);
    const dying = threadOf(await threads.dispatch(record("/exit-later")));
    // Once the thread holds itself in a callback, it reads no message until it exits.
    const holding = Atomics.waitAsync(exitGate, 1, 0);
    if (holding.async) await holding.value;
    // The thread is idle, as far as the loop knows: the first goes straight to it, the others
    // are sent ahead to it. All of them reach it (the pool posts them on the next turn of the
    // loop) before the gate opens and it exits.
    const stranded = Array.from({ length: 4 }, () => threads.dispatch(record("/thread")));
    await new Promise(setImmediate);
    Atomics.store(exitGate, 0, 1);
    Atomics.notify(exitGate, 0);
    for (const response of await Promise.all(stranded)) {
      assert.notEqual(threadOf(response), dying, "another thread answered");
    }
    const log = await logged(/died/);
    assert.match(
      log.message,
      new RegExp(`pool thread ${dying} died \\(exit code 3\\) between requests`),
    );
  });
});

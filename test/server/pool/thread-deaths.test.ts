// What a pool thread's errors and deaths touch: an error thrown outside a request leaves the
// thread serving; a thread that outgrows its heap bound fails the request it was running.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { defaultThreadHeapMb } from "../../../src/threading/heap-bound.ts";
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

  it("answers 500 to the request that outgrew the heap bound only, and replaces its thread", async () => {
    const { pool: threads, logged } = await pool({ appSpec: DEATHS, size: 1, maxHeapMb: 32 });
    const [hogThread] = threads.stats().threadIds;
    const hog = threads.dispatch(record("/hog"));
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
        `pool thread ${hogThread} outgrew its heap bound of 32 MB .*while running GET /hog`,
      ),
    );
  });

  it("logs an error a timer throws after the answer, with its stack and route, and keeps the thread", async () => {
    const { pool: threads, logged } = await pool({ appSpec: DEATHS, size: 1 });
    const first = threadOf(await threads.dispatch(record("/late-throw")));
    // Requests go on arriving while the timer throws: none of them may fail.
    const during = await Promise.all(
      Array.from({ length: 20 }, () => threads.dispatch(record("/thread"))),
    );
    const log = await logged(/thrown by a timer after the answer/);
    assert.match(log.message, /callback scheduled by GET \/late-throw/);
    assert.match(log.message, /keeps serving/);
    assert.match(log.message, /deaths\.ts:\d+/, "the log has the error's stack");
    for (const response of during) assert.equal(threadOf(response), first);
    assert.equal(threadOf(await threads.dispatch(record("/thread"))), first, "the same thread");
  });

  it("logs a promise rejected after the answer with its route, and keeps the thread", async () => {
    const { pool: threads, logged } = await pool({ appSpec: DEATHS, size: 1 });
    const first = threadOf(await threads.dispatch(record("/late-reject")));
    const log = await logged(/rejected after the answer/);
    assert.match(log.message, /unhandled promise rejection .*scheduled by GET \/late-reject/);
    assert.equal(threadOf(await threads.dispatch(record("/thread"))), first, "the same thread");
  });
});

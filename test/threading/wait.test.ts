// Timeouts, sleep(), and the two drivers every primitive waits through (src/threading/wait.ts).
import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { describe, it } from "node:test";
import {
  Barrier,
  BoundedSemaphore,
  Condition,
  Event,
  Lock,
  RLock,
  Semaphore,
  ThreadingError,
  sleep,
} from "../../src/threading/index.ts";
import {
  runAsync,
  runBlocking,
  sharedInts,
  sleepWhile,
  type Waiting,
} from "../../src/threading/wait.ts";
import { HANG_LIMIT, startThread, timeSleep } from "./helpers.ts";

// ---- The drivers ----

/** Sleeps twice on `word` (which holds 1) and answers what each sleep ended with. */
function* twoSleeps(word: Int32Array): Waiting<boolean[]> {
  // The word does not hold 0: this sleep ends at once, as by a change.
  const changed = yield sleepWhile(word, 0, 0, Infinity);
  // The word holds 1 and nobody notifies: this one runs to its deadline.
  const woken = yield sleepWhile(word, 0, 1, performance.now() + 10);
  return [changed, woken];
}

/** Sleeps once, then fails; records that its `finally` ran. */
function* failsAfterSleeping(word: Int32Array, log: string[]): Waiting<never> {
  try {
    yield sleepWhile(word, 0, 0, Infinity);
    throw new ThreadingError("the algorithm failed");
  } finally {
    log.push("finally");
  }
}

describe("runBlocking and runAsync", () => {
  it("resume an algorithm with true after a change and false after its deadline", async () => {
    const word = sharedInts(1);
    word[0] = 1;
    assert.deepEqual(runBlocking(twoSleeps(word)), [true, false]);
    assert.deepEqual(await runAsync(twoSleeps(word)), [true, false]);
  });

  it("pass on what the algorithm throws, after its finally block ran", async () => {
    const word = sharedInts(1);
    word[0] = 1;
    const log: string[] = [];
    assert.throws(() => runBlocking(failsAfterSleeping(word, log)), /the algorithm failed/);
    await assert.rejects(runAsync(failsAfterSleeping(word, log)), /the algorithm failed/);
    assert.deepEqual(log, ["finally", "finally"]);
  });

  it("runAsync() is woken by a notify from another thread while the loop keeps running", async () => {
    function notifyOnce(word: Int32Array): number {
      Atomics.store(word, 0, 1);
      return Atomics.notify(word, 0);
    }
    const word = sharedInts(1);
    // Started before the thread that ends its first sleep: a driver that blocked the loop here
    // would never see that thread start.
    const woken = runAsync(twoSleeps(word));
    assert.equal(await startThread(notifyOnce, [word]).join(HANG_LIMIT), 1, "nobody slept");
    assert.deepEqual(await woken, [true, false]);
  });
});

// ---- sleep ----

describe("sleep", { timeout: HANG_LIMIT * 2 }, () => {
  it("blocks the thread that calls it for at least the given milliseconds", async () => {
    const slept = await startThread(timeSleep, [40]).join(HANG_LIMIT);
    assert.ok(slept >= 39, `slept ${slept} ms`);
    assert.throws(() => sleep(-1), RangeError);
  });
});

// ---- Invalid arguments ----

describe("invalid arguments", () => {
  it("reject a negative or NaN timeout with RangeError, whatever the primitive's state", async () => {
    const lock = new Lock();
    assert.throws(() => lock.acquire(-1), RangeError);
    assert.throws(() => lock.acquire(NaN), RangeError);
    assert.throws(() => lock.hold(-1), RangeError);
    await assert.rejects(async () => lock.acquireAsync(-1), RangeError);
    const rlock = new RLock();
    assert.throws(() => rlock.acquire(-1), RangeError);
    rlock.acquire();
    assert.throws(() => rlock.acquire(-1), RangeError, "even when it would re-enter");
    rlock.release();
    assert.equal(rlock.isOwned(), false);
    assert.throws(() => new Semaphore(1).acquire(-1), RangeError);
    assert.throws(() => new Semaphore(1).acquire(-1), { code: "ERR_THREADING_RANGE" });
    assert.throws(() => new Barrier(0), {
      name: "ThreadingRangeError",
      code: "ERR_THREADING_RANGE",
    });
    await assert.rejects(async () => new Semaphore(1).acquireAsync(-1), RangeError);
    const event = new Event();
    assert.throws(() => event.wait(-1), RangeError);
    event.set();
    assert.throws(() => event.wait(-1), RangeError, "even when it is set");
    await assert.rejects(async () => event.waitAsync(-1), RangeError);
    const condition = new Condition();
    condition.withLock(() => assert.throws(() => condition.wait(-1), RangeError));
    assert.throws(() => condition.waitFor(() => true, -1), RangeError);
    const barrier = new Barrier(2);
    assert.throws(() => barrier.wait(-1), RangeError);
    assert.equal(barrier.nWaiting, 0, "a refused wait does not count as an arrival");
  });

  it("reject a Barrier of 0 parties and negative or fractional semaphore counts with RangeError", () => {
    assert.throws(() => new Barrier(0), RangeError);
    assert.throws(() => new Barrier(1.5), RangeError);
    assert.throws(() => new Semaphore(-1), RangeError);
    assert.throws(() => new BoundedSemaphore(-1), RangeError);
    assert.throws(() => new Semaphore(1).release(-1), RangeError);
    assert.throws(() => new Semaphore(1).release(0.5), RangeError);
  });
});

// Timeouts, which every primitive reads the same way (src/threading/wait.ts).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  Barrier,
  BoundedSemaphore,
  Condition,
  Event,
  Lock,
  RLock,
  Semaphore,
} from "../../src/threading/index.ts";

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

// Event under real worker threads, and awaited on the main thread.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Event, sharedArray } from "../../src/threading/index.ts";
import { HANG_LIMIT, asleepIn, joinAll, startThread, startThreads } from "./helpers.ts";

function waitOn(event: Event, woken: Int32Array): boolean {
  const result = event.wait();
  Atomics.add(woken, 0, 1);
  return result;
}

// ---- Event ----

describe("Event", { timeout: HANG_LIMIT * 2 }, () => {
  it("set() wakes every thread waiting on it, and an awaiting main thread", async () => {
    const event = new Event();
    const woken = sharedArray(Int32Array, 1);
    const threads = startThreads(3, waitOn, [event, woken]);
    await asleepIn(event, 3);
    assert.equal(woken[0], 0, "a wait returned before set()");
    const mainWait = event.waitAsync();
    event.set();
    assert.deepEqual(await joinAll(threads), [true, true, true]);
    assert.equal(await mainWait, true);
    assert.equal(woken[0], 3);
  });

  it("wait() in a thread and waitAsync() on the loop return true at once when the flag is set", async () => {
    function waitSet(event: Event): boolean {
      return event.wait(0);
    }
    const event = new Event();
    event.set();
    assert.equal(await startThread(waitSet, [event]).join(HANG_LIMIT), true);
    assert.equal(await event.waitAsync(0), true);
    event.clear();
    assert.equal(await startThread(waitSet, [event]).join(HANG_LIMIT), false, "cleared");
    assert.equal(await event.waitAsync(0), false, "cleared");
  });

  it("wait(timeout) returns false when the Event is not set in time", async () => {
    function waitBriefly(event: Event, timeout: number): { result: boolean; waited: number } {
      const started = performance.now();
      const result = event.wait(timeout);
      return { result, waited: performance.now() - started };
    }
    const event = new Event();
    const { result, waited } = await startThread(waitBriefly, [event, 50]).join(HANG_LIMIT);
    assert.equal(result, false);
    assert.ok(waited >= 45, `returned after ${waited} ms`);
    assert.equal(await event.waitAsync(20), false);
  });

  it("wakes its waiters with true when set() is followed at once by clear()", async () => {
    const event = new Event();
    const woken = sharedArray(Int32Array, 1);
    const threads = startThreads(3, waitOn, [event, woken]);
    await asleepIn(event, 3);
    event.set();
    event.clear();
    assert.deepEqual(await joinAll(threads), [true, true, true]);
    assert.equal(event.isSet(), false);
  });
});

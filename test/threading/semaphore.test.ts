// Semaphore and BoundedSemaphore under real worker threads: how many hold it at once, timeouts,
// over-release, and the awaitable forms on the main thread.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setImmediate as nextTurn } from "node:timers/promises";
import {
  Barrier,
  BoundedSemaphore,
  Event,
  Semaphore,
  SemaphoreOverReleasedError,
  ThreadingTimeoutError,
  sharedArray,
} from "../../src/threading/index.ts";
import {
  HANG_LIMIT,
  acquireOnceLetGo,
  holdUntil,
  joinAll,
  startThread,
  startThreads,
} from "./helpers.ts";

// ---- Semaphore ----

describe("Semaphore", { timeout: HANG_LIMIT * 2 }, () => {
  it("lets at most K of 6 threads hold a Semaphore(K) at once, and K of them together", async () => {
    function holdSlot(slots: Semaphore, start: Barrier, stats: Int32Array, times: number): void {
      const nap = new Int32Array(new SharedArrayBuffer(4));
      start.wait();
      for (let i = 0; i < times; i++) {
        slots.acquire();
        // stats[0]: holders right now; stats[1]: the most there ever were at once.
        const holders = Atomics.add(stats, 0, 1) + 1;
        for (let most = Atomics.load(stats, 1); holders > most;) {
          const seen = Atomics.compareExchange(stats, 1, most, holders);
          if (seen === most) break;
          most = seen;
        }
        Atomics.wait(nap, 0, 0, 1);
        Atomics.sub(stats, 0, 1);
        slots.release();
      }
    }
    const stats = sharedArray(Int32Array, 2);
    const slots = new Semaphore(3);
    await joinAll(startThreads(6, holdSlot, [slots, new Barrier(6), stats, 30]));
    assert.equal(stats[1], 3);
    assert.equal(slots.value, 3);
  });

  it("acquire(timeout) returns false, and withSlot() throws ThreadingTimeoutError, while no slot frees", async () => {
    const slots = new Semaphore(1);
    const [held, letGo] = [new Event(), new Event()];
    const holder = startThread(holdUntil, [slots, held, letGo]);
    await held.waitAsync();
    const started = performance.now();
    assert.equal(slots.acquire(50), false);
    assert.ok(performance.now() - started >= 45);
    assert.equal(await slots.acquireAsync(20), false);
    assert.throws(() => slots.withSlot(() => 1, 20), ThreadingTimeoutError);
    letGo.set();
    assert.equal(await holder.join(HANG_LIMIT), true);
    assert.equal(slots.acquire(0), true, "the slot came back");
  });

  it("acquireAsync() waits on the loop until a thread releases a slot, and withSlotAsync() gives its slot back", async () => {
    const slots = new Semaphore(1);
    const [held, letGo] = [new Event(), new Event()];
    const holder = startThread(holdUntil, [slots, held, letGo]);
    await held.waitAsync();
    assert.deepEqual(await acquireOnceLetGo(slots.acquireAsync(), letGo, holder), [
      true,
      true,
      true,
    ]);
    assert.equal(slots.value, 0, "the main thread holds the only slot");
    slots.release();
    const inside = await slots.withSlotAsync(async () => {
      await nextTurn();
      return slots.value;
    });
    assert.deepEqual([inside, slots.value], [0, 1]);
  });

  it("BoundedSemaphore throws SemaphoreOverReleasedError when released more often than acquired", async () => {
    function overRelease(slots: BoundedSemaphore): void {
      slots.acquire();
      slots.acquire();
      slots.release();
      slots.release();
      slots.release();
    }
    const slots = new BoundedSemaphore(2);
    await assert.rejects(startThread(overRelease, [slots]).join(HANG_LIMIT), (error) => {
      assert.ok(error instanceof SemaphoreOverReleasedError);
      assert.equal(error.code, "ERR_SEMAPHORE_OVER_RELEASED");
      return true;
    });
    assert.equal(slots.value, 2);
    const unbounded = new Semaphore(2);
    unbounded.release();
    assert.equal(unbounded.value, 3, "a plain Semaphore may grow past its initial value");
  });
});

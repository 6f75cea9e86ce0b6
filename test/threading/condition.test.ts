// Condition under real worker threads: producers and consumers, notify(n) waking exactly n,
// timeouts, and the awaitable forms on the main thread over the same lock.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  Condition,
  Event,
  Lock,
  LockNotOwnedError,
  RLock,
  sharedArray,
} from "../../src/threading/index.ts";
import { HANG_LIMIT, joinAll, startThread, startThreads } from "./helpers.ts";

// ---- Condition ----

describe("Condition", { timeout: HANG_LIMIT * 2 }, () => {
  it("hands every item from 2 producer threads to 2 consumer threads and the main thread exactly once", async () => {
    // queue: [count, taken, ...items]; a stack, since only "each item once" matters here.
    function produce(
      notFull: Condition,
      notEmpty: Condition,
      queue: Int32Array,
      first: number,
      count: number,
      capacity: number,
    ): void {
      for (let item = first; item < first + count; item++) {
        notFull.withLock(() => {
          notFull.waitFor(() => queue[0]! < capacity);
          queue[2 + queue[0]!] = item;
          queue[0] = queue[0]! + 1;
          notEmpty.notify();
        });
      }
    }
    function consume(
      notFull: Condition,
      notEmpty: Condition,
      queue: Int32Array,
      seen: Int32Array,
      total: number,
    ): number {
      let taken = 0;
      for (;;) {
        const item = notEmpty.withLock(() => {
          notEmpty.waitFor(() => queue[0]! > 0 || queue[1] === total);
          if (queue[0] === 0) return -1;
          queue[0] = queue[0]! - 1;
          queue[1] = queue[1]! + 1;
          // The last item: the other consumers wait for it in vain, so wake them all.
          if (queue[1] === total) notEmpty.notifyAll();
          notFull.notify();
          return queue[2 + queue[0]!]!;
        });
        if (item === -1) return taken;
        Atomics.add(seen, item, 1);
        taken += 1;
      }
    }
    const [perProducer, capacity] = [1_500, 4];
    const total = 2 * perProducer;
    const lock = new Lock();
    const [notFull, notEmpty] = [new Condition(lock), new Condition(lock)];
    const queue = sharedArray(Int32Array, 2 + capacity);
    const seen = sharedArray(Int32Array, total);
    const producers = [
      startThread(produce, [notFull, notEmpty, queue, 0, perProducer, capacity]),
      startThread(produce, [notFull, notEmpty, queue, perProducer, perProducer, capacity]),
    ];
    const consumers = startThreads(2, consume, [notFull, notEmpty, queue, seen, total]);
    let takenByMain = 0;
    for (;;) {
      const item = await notEmpty.withLockAsync(async () => {
        await notEmpty.waitForAsync(() => queue[0]! > 0 || queue[1] === total);
        if (queue[0] === 0) return -1;
        queue[0] = queue[0]! - 1;
        queue[1] = queue[1]! + 1;
        if (queue[1] === total) notEmpty.notifyAll();
        notFull.notify();
        return queue[2 + queue[0]!]!;
      });
      if (item === -1) break;
      Atomics.add(seen, item, 1);
      takenByMain += 1;
    }
    await joinAll(producers);
    const takenByThreads = await joinAll(consumers);
    assert.equal(
      takenByThreads.reduce((a, b) => a + b, takenByMain),
      total,
    );
    assert.deepEqual(
      [...seen].flatMap((times, item) => (times === 1 ? [] : [`item ${item} × ${times}`])),
      [],
    );
  });

  /** Waits on `condition` as one of `waiters`; the last to wait sets `allWaiting`. */
  function waitForNotify(
    condition: Condition,
    progress: Condition,
    counts: Int32Array,
    waiters: number,
    allWaiting: Event,
  ): boolean {
    return condition.withLock(() => {
      // counts[0]: threads waiting; counts[1]: threads woken. Both change under the lock.
      counts[0] = counts[0]! + 1;
      // Set while holding the lock: whoever takes it next finds every waiter inside wait().
      if (counts[0] === waiters) allWaiting.set();
      const notified = condition.wait();
      counts[1] = counts[1]! + 1;
      progress.notify();
      return notified;
    });
  }

  it("notify(1) wakes exactly one of 3 waiting threads at a time", async () => {
    const condition = new Condition();
    const progress = new Condition(condition.lock);
    const counts = sharedArray(Int32Array, 2);
    const allWaiting = new Event();
    const threads = startThreads(3, waitForNotify, [condition, progress, counts, 3, allWaiting]);
    await allWaiting.waitAsync();
    // The woken counts just before and just after each notify(1), all seen under the lock.
    const observed: number[][] = [];
    for (let round = 1; round <= 3; round++) {
      await condition.withLockAsync(async () => {
        const before = counts[1]!;
        condition.notify(1);
        await progress.waitForAsync(() => counts[1]! >= round);
        observed.push([before, counts[1]!]);
      });
    }
    assert.deepEqual(await joinAll(threads), [true, true, true]);
    assert.deepEqual(observed, [
      [0, 1],
      [1, 2],
      [2, 3],
    ]);
  });

  it("notify(1) wakes exactly one waiter, also one that has just gone back to waiting", async () => {
    // Each thread waits `times` times in a row. Once woken it counts itself and waits again at
    // once, so the next notify(1) often finds it between releasing the lock and falling asleep.
    function waitRepeatedly(
      condition: Condition,
      progress: Condition,
      counts: Int32Array,
      times: number,
    ): number {
      return condition.withLock(() => {
        for (let i = 0; i < times; i++) {
          counts[0] = counts[0]! + 1; // waits begun
          progress.notify(); // runs once wait() releases the lock
          condition.wait();
          counts[1] = counts[1]! + 1; // wake-ups
          if (i === times - 1) counts[2] = counts[2]! + 1; // threads done
          progress.notify();
        }
        return times;
      });
    }
    const [threadCount, times] = [3, 40];
    const condition = new Condition();
    const progress = new Condition(condition.lock);
    const counts = sharedArray(Int32Array, 3);
    const threads = startThreads(threadCount, waitRepeatedly, [condition, progress, counts, times]);
    const wokenAfter: number[] = [];
    for (let round = 1; round <= threadCount * times; round++) {
      await condition.withLockAsync(async () => {
        // Every thread with waits left is inside wait() (or on its way in, lock released).
        const waiting = () => counts[0]! - counts[1]! === threadCount - counts[2]!;
        await progress.waitForAsync(waiting);
        condition.notify(1);
        await progress.waitForAsync(() => counts[1]! >= round);
        wokenAfter.push(counts[1]!);
      });
    }
    await joinAll(threads);
    const overWoken = wokenAfter.flatMap((woken, i) =>
      woken === i + 1 ? [] : [`${i + 1}: ${woken}`],
    );
    assert.deepEqual(overWoken, [], "rounds where notify(1) woke more than one waiter");
  });

  it("notifyAll() wakes every waiting thread", async () => {
    const condition = new Condition();
    const progress = new Condition(condition.lock);
    const counts = sharedArray(Int32Array, 2);
    const allWaiting = new Event();
    const threads = startThreads(3, waitForNotify, [condition, progress, counts, 3, allWaiting]);
    await allWaiting.waitAsync();
    await condition.withLockAsync(() => condition.notifyAll());
    assert.deepEqual(await joinAll(threads), [true, true, true]);
    assert.equal(counts[1], 3);
  });

  it("wait(timeout) returns false with the lock held again, and waitFor() its predicate's last value", async () => {
    function waitUnnotified(condition: Condition, timeout: number): unknown[] {
      return condition.withLock(() => {
        const notified = condition.wait(timeout);
        const heldAgain = condition.lock.isOwned();
        const last = condition.waitFor(() => 0, timeout);
        return [notified, heldAgain, last];
      });
    }
    const condition = new Condition();
    const result = await startThread(waitUnnotified, [condition, 30]).join(HANG_LIMIT);
    assert.deepEqual(result, [false, true, 0]);
    assert.equal(condition.lock.acquire(0), true, "released after withLock");
    condition.release();
  });

  it("waitAsync(timeout) resolves false with the lock held again, and waitForAsync() its predicate's last value", async () => {
    const condition = new Condition();
    const outcome = await condition.withLockAsync(async () => {
      const notified = await condition.waitAsync(30);
      const heldAgain = condition.lock.isOwned();
      const last = await condition.waitForAsync(() => 0, 30);
      return [notified, heldAgain, last, condition.lock.isOwned()];
    });
    assert.deepEqual(outcome, [false, true, 0, true]);
    assert.equal(condition.lock.isOwned(), false, "released after withLockAsync");
  });

  it("waitAsync() resolves true when a thread notifies, with an RLock taken back at its depth", async () => {
    function notifyOnce(condition: Condition, ready: Event): void {
      ready.wait();
      // `ready` was set with the lock held: this waits until the main thread's waitAsync()
      // released it, so the notify comes while the main thread waits.
      condition.withLock(() => condition.notify());
    }
    const condition = new Condition(new RLock());
    const ready = new Event();
    const thread = startThread(notifyOnce, [condition, ready]);
    await condition.acquireAsync();
    await condition.acquireAsync();
    ready.set();
    assert.equal(await condition.waitAsync(), true);
    await thread.join(HANG_LIMIT);
    condition.release();
    assert.equal(
      condition.lock.isOwned(),
      true,
      "held once more after two acquisitions and one release",
    );
    condition.release();
    assert.equal(condition.lock.isOwned(), false);
  });

  it("throws LockNotOwnedError from notify() and wait() when the caller does not hold the lock", async () => {
    function notifyWithoutLock(condition: Condition): void {
      condition.notify();
    }
    const condition = new Condition();
    assert.throws(() => condition.notify(), LockNotOwnedError);
    assert.throws(() => condition.notifyAll(), LockNotOwnedError);
    assert.throws(() => condition.wait(10), LockNotOwnedError);
    await assert.rejects(condition.waitAsync(10), LockNotOwnedError);
    // Held by the main thread, the RLock is still not the thread's.
    condition.acquire();
    await assert.rejects(startThread(notifyWithoutLock, [condition]).join(HANG_LIMIT), {
      name: "LockNotOwnedError",
      code: "ERR_LOCK_NOT_OWNED",
    });
    condition.release();
  });
});

// The synchronisation primitives of carafe/threading under real worker threads: mutual
// exclusion, fairness, the semantics each shares with Python's `threading`, and the awaitable
// forms used on the main thread while threads use the blocking ones on the same memory.
//
// A thread runs a self-contained function (its source is sent), so the targets below take every
// primitive and shared array they touch as arguments, and sleep with a bare Atomics.wait. Every
// thread is a daemon, so a test that fails with threads still blocked cannot hang the run.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setImmediate as nextTurn, setTimeout as delay } from "node:timers/promises";
import {
  Barrier,
  BoundedSemaphore,
  BrokenBarrierError,
  Condition,
  Event,
  Lock,
  LockNotOwnedError,
  RLock,
  Semaphore,
  SemaphoreOverReleasedError,
  Thread,
  ThreadingTimeoutError,
  sharedArray,
} from "../../src/threading/index.ts";

/** How long a test may wait for threads before it counts as hung (not a speed check). */
const HANG_LIMIT = 15_000;

function startThread<A extends unknown[], R>(target: (...args: A) => R, args: A): Thread<A, R> {
  return new Thread({ target, args, daemon: true }).start();
}

function startThreads<A extends unknown[], R>(
  count: number,
  target: (...args: A) => R,
  args: A,
): Thread<A, R>[] {
  return Array.from({ length: count }, () => startThread(target, args));
}

/** Every thread's result; rejects with ThreadingTimeoutError if one is still running at the limit. */
function joinAll<R>(threads: readonly { join(timeout?: number): Promise<R> }[]): Promise<R[]> {
  return Promise.all(threads.map((thread) => thread.join(HANG_LIMIT)));
}

/** Each thread's outcome, for threads that are expected to throw. */
function settleAll<R>(
  threads: readonly { join(timeout?: number): Promise<R> }[],
): Promise<PromiseSettledResult<R>[]> {
  return Promise.allSettled(threads.map((thread) => thread.join(HANG_LIMIT)));
}

/** Polls `condition` every millisecond until it holds. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + HANG_LIMIT;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`gave up waiting until ${what}`);
    await delay(1);
  }
}

/**
 * Resolves once `count` threads sleep inside `event.wait()`. Atomics.notify returns how many
 * sleepers it woke, and Event.wait() goes back to sleep when its generation did not move, so
 * the probe tells who is asleep without letting anyone through.
 */
function asleepIn(event: Event, count: number): Promise<void> {
  const GENERATION = 1; // the word Event.wait() sleeps on
  return until(() => Atomics.notify(event.state, GENERATION) >= count, `${count} threads wait`);
}

// ---- Thread targets (self-contained: no outer names) ----

/**
 * Adds 1 to `cells[round]` `times` times per round, as a plain read, some busy work and a plain
 * write, holding `lock` around each step when one is given. Each round starts together at
 * `start`, so the threads really overlap.
 */
function countUp(
  cells: Int32Array,
  times: number,
  rounds: number,
  start: Barrier,
  lock: Lock | null,
): number {
  let work = 0;
  for (let round = 0; round < rounds; round++) {
    start.wait();
    for (let i = 0; i < times; i++) {
      lock?.acquire();
      const seen = cells[round]!;
      // Widens the window between the read and the write, where an unguarded thread loses updates.
      for (let k = 0; k < 40; k++) work = (work * 31 + k + seen) | 0;
      cells[round] = seen + 1;
      lock?.release();
    }
  }
  return work;
}

/** Takes `primitive`, says so on `held`, and keeps it until `letGo`; whether it was let go. */
function holdUntil(primitive: Lock | RLock | Semaphore, held: Event, letGo: Event): boolean {
  primitive.acquire();
  held.set();
  const letGoInTime = letGo.wait(5_000);
  primitive.release();
  return letGoInTime;
}

function tryRelease(primitive: Lock | RLock): void {
  primitive.release();
}

function waitOn(event: Event, woken: Int32Array): boolean {
  const result = event.wait();
  Atomics.add(woken, 0, 1);
  return result;
}

function waitAtBarrier(barrier: Barrier, timeout?: number): number {
  return barrier.wait(timeout);
}

// ---- Lock ----

describe("Lock", { timeout: HANG_LIMIT * 2 }, () => {
  it("keeps 4 threads × 20,000 unguarded read-modify-write increments exact while each holds the lock", async () => {
    const cells = sharedArray(Int32Array, 1);
    const lock = new Lock();
    const threads = startThreads(4, countUp, [cells, 20_000, 1, new Barrier(4), lock]);
    await joinAll(threads);
    assert.equal(cells[0], 4 * 20_000);
    assert.equal(lock.locked(), false);
  });

  it("loses increments when the same threads run without the lock", async () => {
    // Five rounds are five attempts; a lost update in any one shows the race.
    const rounds = 5;
    const cells = sharedArray(Int32Array, rounds);
    const threads = startThreads(4, countUp, [cells, 20_000, rounds, new Barrier(4), null]);
    await joinAll(threads);
    const totals = [...cells];
    assert.ok(
      totals.some((total) => total < 4 * 20_000),
      `no round lost an update: ${totals.join(", ")}`,
    );
    assert.ok(totals.every((total) => total <= 4 * 20_000));
  });

  it("lets each of 3 threads finish 300 acquisitions while a fourth re-takes the lock nonstop", async () => {
    function hammer(lock: Lock, going: Event, stop: Event, cells: Int32Array): number {
      let times = 0;
      while (!stop.isSet()) {
        lock.acquire();
        going.set();
        let work = 0;
        for (let k = 0; k < 2_000; k++) work = (work * 31 + k) | 0;
        cells[1] = work;
        lock.release();
        times += 1;
      }
      return times;
    }
    function takeTurns(lock: Lock, going: Event, cells: Int32Array, times: number): number {
      going.wait();
      let taken = 0;
      for (let i = 0; i < times; i++) {
        lock.acquire();
        cells[0] = cells[0]! + 1;
        taken += 1;
        lock.release();
      }
      return taken;
    }
    const lock = new Lock();
    const [going, stop] = [new Event(), new Event()];
    const cells = sharedArray(Int32Array, 2);
    const hammering = startThread(hammer, [lock, going, stop, cells]);
    const waiters = startThreads(3, takeTurns, [lock, going, cells, 300]);
    // A starved waiter never returns, and join's limit turns that into a failure.
    const taken = await joinAll(waiters).finally(() => stop.set());
    assert.deepEqual(taken, [300, 300, 300]);
    assert.equal(cells[0], 900);
    assert.ok((await hammering.join(HANG_LIMIT)) > 0, "the hammer never took the lock");
  });

  it("may be released by a thread other than the one that acquired it", async () => {
    function acquireAndLeave(lock: Lock): boolean {
      return lock.acquire(0);
    }
    const lock = new Lock();
    assert.equal(await startThread(acquireAndLeave, [lock]).join(HANG_LIMIT), true);
    assert.equal(lock.locked(), true);
    lock.release();
    assert.equal(lock.locked(), false);
  });

  it("throws LockNotOwnedError when released while unlocked", () => {
    const lock = new Lock();
    assert.throws(() => lock.release(), { name: "LockNotOwnedError", code: "ERR_LOCK_NOT_OWNED" });
    lock.acquire();
    lock.release();
    assert.throws(() => lock.release(), LockNotOwnedError);
  });
});

describe("a Lock another thread holds", { timeout: HANG_LIMIT * 2 }, () => {
  const lock = new Lock();
  const [held, letGo] = [new Event(), new Event()];
  let holder: Thread<[Lock, Event, Event], boolean>;

  before(async () => {
    holder = startThread(holdUntil, [lock, held, letGo]);
    await held.waitAsync();
  });

  after(async () => {
    letGo.set();
    assert.equal(await holder.join(HANG_LIMIT), true);
    assert.equal(lock.locked(), false);
  });

  it("acquire(timeout) returns false once the timeout has passed, and acquire(0) at once", () => {
    const started = performance.now();
    assert.equal(lock.acquire(50), false);
    const waited = performance.now() - started;
    assert.ok(waited >= 45, `returned after ${waited} ms`);
    assert.equal(lock.acquire(0), false);
  });

  it("acquireAsync(timeout) resolves false once the timeout has passed", async () => {
    const started = performance.now();
    assert.equal(await lock.acquireAsync(50), false);
    const waited = performance.now() - started;
    assert.ok(waited >= 45, `resolved after ${waited} ms`);
  });

  it("hold(), withLock() and their async forms throw ThreadingTimeoutError without running fn", async () => {
    let ran = false;
    const timeoutError = { name: "ThreadingTimeoutError", code: "ERR_THREADING_TIMEOUT" };
    assert.throws(() => lock.hold(20), timeoutError);
    assert.throws(() => lock.withLock(() => (ran = true), 20), ThreadingTimeoutError);
    await assert.rejects(lock.holdAsync(20), ThreadingTimeoutError);
    await assert.rejects(
      lock.withLockAsync(() => (ran = true), 20),
      ThreadingTimeoutError,
    );
    assert.equal(ran, false);
  });
});

// ---- RLock ----

describe("RLock", { timeout: HANG_LIMIT * 2 }, () => {
  it("lets its holder re-acquire it, and stays held until released as often as acquired", async () => {
    function reenter(lock: RLock, halfway: Event, letGo: Event): boolean[] {
      lock.acquire();
      lock.acquire();
      const ownedInside = lock.withLock(() => lock.isOwned());
      lock.release(); // two of three acquisitions undone
      halfway.set();
      letGo.wait(5_000);
      const ownedAtDepthOne = lock.isOwned();
      lock.release();
      return [ownedInside, ownedAtDepthOne, lock.isOwned()];
    }
    const lock = new RLock();
    const [halfway, letGo] = [new Event(), new Event()];
    const thread = startThread(reenter, [lock, halfway, letGo]);
    await halfway.waitAsync();
    assert.equal(lock.acquire(0), false, "free after two of three releases");
    assert.throws(() => lock.release(), LockNotOwnedError);
    letGo.set();
    assert.deepEqual(await thread.join(HANG_LIMIT), [true, true, false]);
    assert.equal(lock.acquire(0), true);
    lock.release();
  });

  it("throws LockNotOwnedError with code ERR_LOCK_NOT_OWNED when a thread that does not hold it releases it", async () => {
    const lock = new RLock();
    lock.acquire();
    await assert.rejects(startThread(tryRelease, [lock]).join(HANG_LIMIT), (error) => {
      assert.ok(error instanceof LockNotOwnedError);
      assert.equal(error.code, "ERR_LOCK_NOT_OWNED");
      return true;
    });
    assert.equal(lock.isOwned(), true, "the failed release changed nothing");
    lock.release();
    assert.equal(lock.isOwned(), false);
  });

  it("throws LockNotOwnedError when released while nobody holds it", () => {
    const lock = new RLock();
    assert.throws(() => lock.release(), LockNotOwnedError);
    lock.acquire();
    lock.release();
    assert.throws(() => lock.release(), LockNotOwnedError);
  });
});

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

// ---- Barrier ----

describe("Barrier", { timeout: HANG_LIMIT * 2 }, () => {
  it("takes 3 threads and the main thread through 50 generations, numbering each one's waiters 0 to 3", async () => {
    function passRounds(barrier: Barrier, arrived: Int32Array, rounds: number): number[] {
      const indices: number[] = [];
      for (let round = 0; round < rounds; round++) {
        Atomics.add(arrived, round, 1);
        indices.push(barrier.wait());
        const count = Atomics.load(arrived, round);
        if (count !== barrier.parties) {
          throw new Error(`passed round ${round} when only ${count} had arrived`);
        }
      }
      return indices;
    }
    const rounds = 50;
    const barrier = new Barrier(4);
    const arrived = sharedArray(Int32Array, rounds);
    const threads = startThreads(3, passRounds, [barrier, arrived, rounds]);
    const mine: number[] = [];
    for (let round = 0; round < rounds; round++) {
      Atomics.add(arrived, round, 1);
      mine.push(await barrier.waitAsync());
      assert.equal(Atomics.load(arrived, round), 4, `main passed round ${round} early`);
    }
    const theirs = await joinAll(threads);
    for (let round = 0; round < rounds; round++) {
      const indices = [mine, ...theirs].map((indicesOf) => indicesOf[round]);
      assert.deepEqual(indices.sort(), [0, 1, 2, 3], `round ${round}`);
    }
    assert.equal(barrier.nWaiting, 0);
  });

  it("abort() makes every waiting thread throw BrokenBarrierError, and later waits too", async () => {
    const barrier = new Barrier(4);
    const threads = startThreads(3, waitAtBarrier, [barrier, undefined]);
    await until(() => barrier.nWaiting === 3, "3 threads wait at the barrier");
    barrier.abort();
    for (const outcome of await settleAll(threads)) {
      assert.equal(outcome.status, "rejected");
      assert.ok(outcome.reason instanceof BrokenBarrierError);
    }
    assert.equal(barrier.broken, true);
    assert.throws(() => barrier.wait(), BrokenBarrierError);
    await assert.rejects(barrier.waitAsync(), BrokenBarrierError);
  });

  it("reset() breaks the threads waiting at it, and the barrier works again afterwards", async () => {
    function waitThroughReset(barrier: Barrier): number {
      try {
        barrier.wait();
        return -1; // passed the generation that reset() should have broken
      } catch (error) {
        if ((error as Error).name !== "BrokenBarrierError") throw error;
      }
      return barrier.wait();
    }
    const barrier = new Barrier(3);
    const threads = startThreads(2, waitThroughReset, [barrier]);
    await until(() => barrier.nWaiting === 2, "2 threads wait at the barrier");
    barrier.reset();
    assert.equal(barrier.broken, false);
    const mine = await barrier.waitAsync();
    const theirs = await joinAll(threads);
    assert.deepEqual([mine, ...theirs].sort(), [0, 1, 2]);
  });

  it("breaks for every waiter, threads and main, when one wait's timeout expires", async () => {
    const barrier = new Barrier(4);
    const patient = startThread(waitAtBarrier, [barrier, undefined]);
    const impatient = startThread(waitAtBarrier, [barrier, 100]);
    const mainBroken = assert.rejects(barrier.waitAsync(), BrokenBarrierError);
    await assert.rejects(impatient.join(HANG_LIMIT), {
      name: "BrokenBarrierError",
      message: /timed out/,
    });
    await assert.rejects(patient.join(HANG_LIMIT), BrokenBarrierError);
    await mainBroken;
    assert.equal(barrier.broken, true);
  });
});

// ---- The awaitable forms alongside the blocking ones ----

describe("awaitable forms on the main thread", { timeout: HANG_LIMIT * 2 }, () => {
  it("keeps exact totals when the main thread awaits the lock while 3 threads block on it", async () => {
    const cells = sharedArray(Int32Array, 1);
    const lock = new Lock();
    const start = new Barrier(4);
    const threads = startThreads(3, countUp, [cells, 5_000, 1, start, lock]);
    await start.waitAsync();
    // The main thread's critical sections span event-loop turns, where the threads run freely.
    for (let i = 0; i < 200; i++) {
      await lock.acquireAsync();
      const seen = cells[0]!;
      await nextTurn();
      cells[0] = seen + 1;
      lock.release();
      await lock.withLockAsync(async () => {
        const seenInside = cells[0]!;
        await nextTurn();
        cells[0] = seenInside + 1;
      });
    }
    await joinAll(threads);
    assert.equal(cells[0], 3 * 5_000 + 2 * 200);
  });

  it("keeps the event loop running while the main thread awaits a lock a thread holds", async () => {
    const lock = new Lock();
    const [held, letGo] = [new Event(), new Event()];
    const holder = startThread(holdUntil, [lock, held, letGo]);
    await held.waitAsync();
    const acquiring = lock.acquireAsync();
    // Only this callback lets the thread release the lock: it must run during the await.
    setImmediate(() => letGo.set());
    assert.equal(await acquiring, true);
    assert.equal(await holder.join(HANG_LIMIT), true, "the holder was not let go in time");
    lock.release();
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

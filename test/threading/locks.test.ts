// Lock and RLock under real worker threads: mutual exclusion, fairness, timeouts, ownership,
// and the awaitable forms on the main thread while threads block on the same lock.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setImmediate as nextTurn } from "node:timers/promises";
import {
  Barrier,
  Event,
  Lock,
  LockNotOwnedError,
  RLock,
  ThreadingTimeoutError,
  sharedArray,
  type Thread,
} from "../../src/threading/index.ts";
import {
  HANG_LIMIT,
  acquireOnceLetGo,
  countUp,
  holdUntil,
  joinAll,
  startThread,
  startThreads,
  until,
} from "./helpers.ts";

function tryRelease(primitive: Lock | RLock): void {
  primitive.release();
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

  it("without the lock, the same threads may lose increments but never invent any", async (t) => {
    // Lost updates are likely here, yet not guaranteed: a machine that runs the threads one
    // after another loses none. So only the bounds are asserted; the totals are reported, to
    // show how much the lock above has to prevent.
    const rounds = 5;
    const exact = 4 * 20_000;
    const cells = sharedArray(Int32Array, rounds);
    const threads = startThreads(4, countUp, [cells, 20_000, rounds, new Barrier(4), null]);
    await joinAll(threads);
    const totals = [...cells];
    t.diagnostic(`totals without the lock: ${totals.join(", ")} (exact: ${exact})`);
    // Every write stores a count read from the cell plus one: at least 1, and never more than
    // all the increments made.
    assert.ok(
      totals.every((total) => total >= 1 && total <= exact),
      `totals out of 1..${exact}: ${totals.join(", ")}`,
    );
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

  it("acquire() blocks a thread while the main thread holds the RLock, and takes it once released", async () => {
    function takeWhenFree(lock: RLock, tried: Event): boolean[] {
      const atOnce = lock.acquire(0);
      tried.set();
      const taken = lock.acquire();
      const owned = lock.isOwned();
      lock.release();
      return [atOnce, taken, owned];
    }
    const lock = new RLock();
    const tried = new Event();
    await lock.acquireAsync();
    const thread = startThread(takeWhenFree, [lock, tried]);
    await tried.waitAsync();
    // The mutex word turns 2 (held, with waiters) once the thread is on its way to sleep in it.
    await until(() => Atomics.load(lock.state, 0) === 2, "the thread waits for the RLock");
    lock.release();
    assert.deepEqual(await thread.join(HANG_LIMIT), [false, true, true]);
    assert.equal(lock.acquire(0), true, "the thread released it");
    lock.release();
  });

  it("acquireAsync() waits on the loop while a thread holds the RLock, then re-enters it", async () => {
    const lock = new RLock();
    const [held, letGo] = [new Event(), new Event()];
    const holder = startThread(holdUntil, [lock, held, letGo]);
    await held.waitAsync();
    assert.equal(await lock.acquireAsync(20), false, "taken while the thread held it");
    assert.deepEqual(await acquireOnceLetGo(lock.acquireAsync(), letGo, holder), [
      true,
      true,
      true,
    ]);
    assert.equal(await lock.acquireAsync(0), true, "its holder re-enters at once");
    lock.release();
    assert.equal(lock.isOwned(), true, "held once more after two acquisitions and one release");
    lock.release();
    assert.equal(lock.isOwned(), false);
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

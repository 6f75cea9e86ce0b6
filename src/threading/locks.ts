// Design: Lock and RLock on one shared Int32 each, so the same lock works in every thread it is
// passed to. The mutex is Drepper's three-state futex lock (0 free, 1 held, 2 held with
// waiters): taking a free lock is one compare-and-swap, and release() notifies only when
// someone may be waiting. Taking it is one algorithm, `mutexAcquiring`, which acquire() runs
// blocking and acquireAsync() awaiting (see wait.ts); both try the one-step fast path,
// `mutexTryAcquire`, before they make a generator. Blocking and awaiting waiters sleep on the
// same word; Atomics.notify wakes the longest sleeper, but a thread that arrives just then may
// take the lock before the woken one does, so the order is not strict. Timeouts return false,
// as in Python.

import { threadId } from "node:worker_threads";
import { LockNotOwnedError, ThreadingTimeoutError } from "./errors.ts";
import { deadlineOf, runAsync, runBlocking, sharedInts, sleepWhile } from "./wait.ts";
import type { Timeout, Waiting } from "./wait.ts";

const FREE = 0;
const HELD = 1;
const CONTENDED = 2;

/** Takes the mutex at `state[index]` if it is free: the fast path every acquire tries first. */
export function mutexTryAcquire(state: Int32Array, index: number): boolean {
  // A free lock becomes held in one atomic step; HELD, not CONTENDED: nobody waits yet.
  return Atomics.compareExchange(state, index, FREE, HELD) === FREE;
}

/** Takes the mutex at `state[index]`, sleeping while it is held; `false` when `deadline` passes. */
export function* mutexAcquiring(
  state: Int32Array,
  index: number,
  deadline: number,
): Waiting<boolean> {
  if (mutexTryAcquire(state, index)) return true;
  for (;;) {
    // Mark the lock contended so its holder notifies on release, then sleep while it stays so.
    // A lock seen FREE here was just released: skip the sleep and try to take it.
    if (Atomics.compareExchange(state, index, HELD, CONTENDED) !== FREE) {
      if (!(yield sleepWhile(state, index, CONTENDED, deadline))) return false;
    }
    // Taken as CONTENDED: other waiters may still sleep, and our release must wake them.
    if (Atomics.compareExchange(state, index, FREE, CONTENDED) === FREE) return true;
  }
}

/** Takes the mutex, blocking this thread; `false` when `deadline` passes first. */
export function mutexAcquire(state: Int32Array, index: number, deadline: number): boolean {
  // Most acquires find the lock free: that costs no generator.
  return mutexTryAcquire(state, index) || runBlocking(mutexAcquiring(state, index, deadline));
}

/** The awaitable form of `mutexAcquire`. */
export function mutexAcquireAsync(
  state: Int32Array,
  index: number,
  deadline: number,
): Promise<boolean> {
  return mutexTryAcquire(state, index)
    ? Promise.resolve(true)
    : runAsync(mutexAcquiring(state, index, deadline));
}

/** Frees the mutex; `false` when it was not held. */
export function mutexRelease(state: Int32Array, index: number): boolean {
  for (;;) {
    const seen = Atomics.load(state, index);
    if (seen === FREE) return false;
    // Frees it only if no waiter turned HELD into CONTENDED meanwhile; else reads again, so that
    // a waiter who marked it is notified.
    if (Atomics.compareExchange(state, index, seen, FREE) === seen) {
      // Only a contended lock has sleepers; wake one, who takes it as CONTENDED.
      if (seen === CONTENDED) Atomics.notify(state, index, 1);
      return true;
    }
  }
}

/** What `hold()` returns: releases the lock when disposed (`using`). */
export interface Held extends Disposable {
  release(): void;
}

/** What a lock shares with a Condition: a full release and its undoing. @internal */
export interface ConditionLock {
  acquire(timeout?: Timeout): boolean;
  acquireAsync(timeout?: Timeout): Promise<boolean>;
  release(): void;
  /** Whether the calling thread holds it (for a Lock: whether anyone does). */
  isOwned(): boolean;
  /** Releases completely; returns what `restoring` needs to take it back as it was. */
  releaseAll(): number;
  /** Takes the lock back as `releaseAll` found it, waiting as long as it takes. */
  restoring(saved: number): Waiting<void>;
}

/** The operations Lock and RLock share, written once over acquire/release. */
export abstract class LockBase implements ConditionLock {
  abstract acquire(timeout?: Timeout): boolean;
  abstract acquireAsync(timeout?: Timeout): Promise<boolean>;
  abstract release(): void;
  abstract isOwned(): boolean;
  abstract releaseAll(): number;
  abstract restoring(saved: number): Waiting<void>;

  /** Takes the lock back after `releaseAll()`, blocking this thread (`saved`: what it returned). */
  restore(saved = 1): void {
    runBlocking(this.restoring(saved));
  }

  /** The awaitable form of `restore()`. */
  async restoreAsync(saved = 1): Promise<void> {
    await runAsync(this.restoring(saved));
  }

  /**
   * Acquires the lock for a `using` block; throws `ThreadingTimeoutError` after `timeout` ms.
   *
   * @example
   * { using _ = lock.hold(); cache.set(key, value); } // released here, even on a throw
   */
  hold(timeout?: Timeout): Held {
    if (!this.acquire(timeout)) throw this.timedOut(timeout);
    return this.held();
  }

  /** The awaitable form of `hold()`: `await using _ = await lock.holdAsync()`. */
  async holdAsync(timeout?: Timeout): Promise<Held> {
    if (!(await this.acquireAsync(timeout))) throw this.timedOut(timeout);
    return this.held();
  }

  /**
   * Runs `fn` holding the lock and releases it on every path, like Python's `with lock:`.
   *
   * @example
   * const total = lock.withLock(() => ++counter[0]);
   */
  withLock<T>(fn: () => T, timeout?: Timeout): T {
    using _ = this.hold(timeout);
    return fn();
  }

  /** The awaitable form of `withLock()`; `fn` may be async and is awaited before release. */
  async withLockAsync<T>(fn: () => T | Promise<T>, timeout?: Timeout): Promise<T> {
    await using _ = await this.holdAsync(timeout);
    return await fn();
  }

  private held(): Held {
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.release();
    };
    return { release, [Symbol.dispose]: release };
  }

  private timedOut(timeout: Timeout): ThreadingTimeoutError {
    return new ThreadingTimeoutError(
      `${this.constructor.name}: not acquired within ${String(timeout)} ms`,
    );
  }
}

/**
 * A mutual-exclusion lock shared by every thread it is passed to (Python's `threading.Lock`).
 * Any thread may release it; releasing it when unlocked throws `LockNotOwnedError`.
 *
 * @example
 * const lock = new Lock();
 * new Thread({ target: work, args: [lock] }).start();
 * lock.withLock(() => { shared[0] += 1; });
 */
export class Lock extends LockBase {
  /** Marks the object through a structured clone, so a thread can rebuild it (`fromShared`). */
  readonly kind = "Lock";
  /** The lock word: 0 free, 1 held, 2 held with waiters. */
  readonly state: Int32Array;

  constructor(state?: Int32Array) {
    super();
    this.state = state ?? sharedInts(1);
  }

  /** Blocks until acquired; `false` if `timeout` ms pass first (0: try once). */
  acquire(timeout?: Timeout): boolean {
    return mutexAcquire(this.state, 0, deadlineOf(timeout, "Lock.acquire"));
  }

  /** Awaits the lock without blocking the event loop; `false` if `timeout` ms pass first. */
  acquireAsync(timeout?: Timeout): Promise<boolean> {
    return mutexAcquireAsync(this.state, 0, deadlineOf(timeout, "Lock.acquireAsync"));
  }

  release(): void {
    if (!mutexRelease(this.state, 0)) {
      throw new LockNotOwnedError("Lock.release(): the lock is not held by anyone");
    }
  }

  /** Whether some thread holds the lock. */
  locked(): boolean {
    // A snapshot: another thread may take or free it at once.
    return Atomics.load(this.state, 0) !== FREE;
  }

  isOwned(): boolean {
    return this.locked();
  }

  releaseAll(): number {
    this.release();
    return 1;
  }

  *restoring(): Waiting<void> {
    yield* mutexAcquiring(this.state, 0, Infinity);
  }
}

const MUTEX = 0;
/** `threadId + 1` of the holder; 0 when free. */
const OWNER = 1;
/** How many times the holder has acquired it. */
const DEPTH = 2;

/**
 * A reentrant lock (Python's `threading.RLock`): the thread that holds it may acquire it again,
 * and must release it as many times. Only the holding thread may release it. Ownership is per
 * thread: async code on one event loop counts as one owner.
 *
 * @example
 * const lock = new RLock();
 * lock.withLock(() => lock.withLock(() => update()));
 */
export class RLock extends LockBase {
  readonly kind = "RLock";
  /** [mutex word, owner's threadId + 1, depth]. */
  readonly state: Int32Array;

  constructor(state?: Int32Array) {
    super();
    this.state = state ?? sharedInts(3);
  }

  acquire(timeout?: Timeout): boolean {
    const deadline = deadlineOf(timeout, "RLock.acquire");
    return this.reenter() || this.took(mutexAcquire(this.state, MUTEX, deadline));
  }

  async acquireAsync(timeout?: Timeout): Promise<boolean> {
    const deadline = deadlineOf(timeout, "RLock.acquireAsync");
    return this.reenter() || this.took(await mutexAcquireAsync(this.state, MUTEX, deadline));
  }

  release(): void {
    this.checkOwner("release()");
    // Only the owner writes DEPTH, and it holds the mutex while it does.
    const depth = Atomics.sub(this.state, DEPTH, 1) - 1;
    if (depth === 0) {
      // Cleared before the mutex is freed: the next holder must not find this thread as owner.
      Atomics.store(this.state, OWNER, 0);
      mutexRelease(this.state, MUTEX);
    }
  }

  isOwned(): boolean {
    // Only this thread writes its own id there, so the answer cannot turn true behind its back.
    return Atomics.load(this.state, OWNER) === threadId + 1;
  }

  releaseAll(): number {
    this.checkOwner("a Condition's wait()");
    // Depth and owner cleared while the mutex is still held, as in release().
    const depth = Atomics.exchange(this.state, DEPTH, 0);
    Atomics.store(this.state, OWNER, 0);
    mutexRelease(this.state, MUTEX);
    return depth;
  }

  *restoring(saved: number): Waiting<void> {
    yield* mutexAcquiring(this.state, MUTEX, Infinity);
    this.own(saved);
  }

  private reenter(): boolean {
    if (!this.isOwned()) return false;
    // The holder alone changes DEPTH; atomic so other threads' snapshots read whole values.
    Atomics.add(this.state, DEPTH, 1);
    return true;
  }

  /** Makes this thread the holder, once, if the mutex was `taken`; returns `taken`. */
  private took(taken: boolean): boolean {
    if (taken) this.own(1);
    return taken;
  }

  private own(depth: number): void {
    // Written with the mutex held, so no other thread writes them at the same time.
    Atomics.store(this.state, OWNER, threadId + 1);
    Atomics.store(this.state, DEPTH, depth);
  }

  private checkOwner(what: string): void {
    if (this.isOwned()) return;
    // For the message only: the holder may change by the time it is read.
    const owner = Atomics.load(this.state, OWNER);
    throw new LockNotOwnedError(
      `RLock ${what} from thread ${threadId}, but ${owner === 0 ? "no thread" : `thread ${owner - 1}`} holds it; only the holder may release an RLock`,
    );
  }
}

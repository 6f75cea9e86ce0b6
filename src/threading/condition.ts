// Design: a Condition pairs a lock with a sequence number on a shared Int32. wait() reads the
// sequence while it still holds the lock, releases the lock, and sleeps while the sequence is
// unchanged; notify(n) bumps the sequence and wakes n sleepers. A waiter that released the lock
// but was not yet asleep when notified sees the new sequence and returns at once, so no notify
// is lost. As with every condition variable, re-check the predicate after waking (waitFor).

import { LockNotOwnedError } from "./errors.ts";
import { RLock, type ConditionLock, type Lock } from "./locks.ts";
import { deadlineOf, sharedInts, waitAsync, waitBlocking, type Timeout } from "./wait.ts";

const SEQUENCE = 0;
/** Threads inside wait(); lets notify() skip the syscall when nobody waits. */
const WAITERS = 1;

/**
 * Lets threads wait, under a lock, until another thread says the state they wait for may hold
 * (Python's `threading.Condition`). The lock is a new `RLock` unless one is given.
 *
 * @example
 * const items = new Condition();
 * // consumer (in a thread):
 * items.withLock(() => { items.waitFor(() => queue[0] > 0); queue[0] -= 1; });
 * // producer:
 * items.withLock(() => { queue[0] += 1; items.notify(); });
 */
export class Condition {
  readonly kind = "Condition";
  readonly lock: Lock | RLock;
  /** [sequence, waiters]. */
  readonly state: Int32Array;

  constructor(lock?: Lock | RLock, state?: Int32Array) {
    this.lock = lock ?? new RLock();
    this.state = state ?? sharedInts(2);
  }

  acquire(timeout?: Timeout): boolean {
    return this.lock.acquire(timeout);
  }

  acquireAsync(timeout?: Timeout): Promise<boolean> {
    return this.lock.acquireAsync(timeout);
  }

  release(): void {
    this.lock.release();
  }

  /** Runs `fn` holding the condition's lock; see `Lock.withLock`. */
  withLock<T>(fn: () => T, timeout?: Timeout): T {
    return this.lock.withLock(fn, timeout);
  }

  /** The awaitable form of `withLock()`. */
  withLockAsync<T>(fn: () => T | Promise<T>, timeout?: Timeout): Promise<T> {
    return this.lock.withLockAsync(fn, timeout);
  }

  /**
   * Releases the lock, blocks until notified, and takes the lock back before returning;
   * `false` if `timeout` ms passed first. The calling thread must hold the lock.
   */
  wait(timeout?: Timeout): boolean {
    const deadline = deadlineOf(timeout, "Condition.wait");
    const { sequence, saved } = this.beginWait("wait()");
    const lock = this.lock as ConditionLock;
    try {
      return waitBlocking(this.state, SEQUENCE, sequence, deadline);
    } finally {
      lock.restore(saved);
      Atomics.sub(this.state, WAITERS, 1);
    }
  }

  /** The awaitable form of `wait()`: never blocks the event loop. */
  async waitAsync(timeout?: Timeout): Promise<boolean> {
    const deadline = deadlineOf(timeout, "Condition.waitAsync");
    const { sequence, saved } = this.beginWait("waitAsync()");
    const lock = this.lock as ConditionLock;
    try {
      return await waitAsync(this.state, SEQUENCE, sequence, deadline);
    } finally {
      await lock.restoreAsync(saved);
      Atomics.sub(this.state, WAITERS, 1);
    }
  }

  /** Waits until `predicate()` is true; returns its last result (false after a timeout). */
  waitFor<T>(predicate: () => T, timeout?: Timeout): T {
    const deadline = deadlineOf(timeout, "Condition.waitFor");
    let result = predicate();
    while (!result) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      this.wait(deadline === Infinity ? undefined : left);
      result = predicate();
    }
    return result;
  }

  /** The awaitable form of `waitFor()`. */
  async waitForAsync<T>(predicate: () => T, timeout?: Timeout): Promise<T> {
    const deadline = deadlineOf(timeout, "Condition.waitForAsync");
    let result = predicate();
    while (!result) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      await this.waitAsync(deadline === Infinity ? undefined : left);
      result = predicate();
    }
    return result;
  }

  /** Wakes up to `n` threads waiting on this condition. The caller must hold the lock. */
  notify(n = 1): void {
    if (!(this.lock as ConditionLock).isOwned()) {
      throw new LockNotOwnedError("Condition.notify() needs the condition's lock held");
    }
    if (Atomics.load(this.state, WAITERS) === 0) return;
    Atomics.add(this.state, SEQUENCE, 1);
    Atomics.notify(this.state, SEQUENCE, n);
  }

  /** Wakes every thread waiting on this condition. The caller must hold the lock. */
  notifyAll(): void {
    this.notify(Infinity);
  }

  /** Reads the sequence under the lock, then releases the lock completely. */
  private beginWait(what: string): { sequence: number; saved: number } {
    const lock = this.lock as ConditionLock;
    if (!lock.isOwned()) {
      throw new LockNotOwnedError(`Condition.${what} needs the condition's lock held`);
    }
    // Counted and read before the lock is released: a notify from now on changes the sequence.
    Atomics.add(this.state, WAITERS, 1);
    const sequence = Atomics.load(this.state, SEQUENCE);
    return { sequence, saved: lock.releaseAll() };
  }
}

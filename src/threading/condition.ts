// Design: a Condition pairs a lock with three shared Int32s: a sequence that waiters sleep on,
// the number of waiters not yet chosen by a notify, and wake-up tokens. Everything but taking a
// token happens under the lock. notify(n) moves up to n waiters' worth from "waiting" to
// "tokens", bumps the sequence and wakes sleepers; a waiter that sees the sequence move takes a
// token and returns, or finds none left and sleeps again. So notify(n) wakes exactly n waiters
// (or all, if fewer wait), even one that had released the lock but was not yet asleep, and a
// waiter only takes a token after a notify that came once it was waiting. A waiter whose timeout
// runs out takes the lock back first, then a token if one is left (it was notified after all)
// or its place among the waiters. As with every condition variable, re-check the predicate
// after waking (waitFor). wait() and waitAsync() run one algorithm, `waiting` (taking the
// lock back included), waitFor() and waitForAsync() another, `waitingFor`: the first blocking
// the thread, the second awaiting without blocking the event loop (see wait.ts).

import { performance } from "node:perf_hooks";
import { LockNotOwnedError } from "./errors.ts";
import { RLock, type ConditionLock, type Lock } from "./locks.ts";
import { deadlineOf, runAsync, runBlocking, sharedInts, sleepWhile } from "./wait.ts";
import type { Timeout, Waiting } from "./wait.ts";

const SEQUENCE = 0;
/** Waiters no notify has chosen yet; changed only under the lock. */
const WAITERS = 1;
/** Wake-ups handed out by notify() and not yet taken by a waiter. */
const TOKENS = 2;

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
  /** [sequence, waiters, tokens]. */
  readonly state: Int32Array;

  constructor(lock?: Lock | RLock, state?: Int32Array) {
    this.lock = lock ?? new RLock();
    this.state = state ?? sharedInts(3);
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
    return runBlocking(this.waiting("wait()", deadline));
  }

  /** The awaitable form of `wait()`: never blocks the event loop. */
  async waitAsync(timeout?: Timeout): Promise<boolean> {
    const deadline = deadlineOf(timeout, "Condition.waitAsync");
    return runAsync(this.waiting("waitAsync()", deadline));
  }

  /** Waits until `predicate()` is true; returns its last result (false after a timeout). */
  waitFor<T>(predicate: () => T, timeout?: Timeout): T {
    const deadline = deadlineOf(timeout, "Condition.waitFor");
    return runBlocking(this.waitingFor(predicate, "wait()", deadline));
  }

  /** The awaitable form of `waitFor()`. */
  async waitForAsync<T>(predicate: () => T, timeout?: Timeout): Promise<T> {
    const deadline = deadlineOf(timeout, "Condition.waitForAsync");
    return runAsync(this.waitingFor(predicate, "waitAsync()", deadline));
  }

  /** Wakes up to `n` threads waiting on this condition. The caller must hold the lock. */
  notify(n = 1): void {
    if (!(this.lock as ConditionLock).isOwned()) {
      throw new LockNotOwnedError("Condition.notify() needs the condition's lock held");
    }
    // WAITERS changes only under the lock, which the caller holds.
    const chosen = Math.min(n, Atomics.load(this.state, WAITERS));
    if (chosen <= 0) return;
    Atomics.sub(this.state, WAITERS, chosen);
    // Tokens before the sequence: a waiter that sees the sequence move finds its token there.
    Atomics.add(this.state, TOKENS, chosen);
    // The sequence moves, so a chosen waiter not yet asleep does not fall asleep on the old one.
    Atomics.add(this.state, SEQUENCE, 1);
    Atomics.notify(this.state, SEQUENCE, chosen);
  }

  /** Wakes every thread waiting on this condition. The caller must hold the lock. */
  notifyAll(): void {
    this.notify(Infinity);
  }

  /** The algorithm of wait() and waitAsync(); `what` names the caller in errors. */
  private *waiting(what: string, deadline: number): Waiting<boolean> {
    const { sequence: waitedFrom, saved } = this.beginWait(what);
    let sequence = waitedFrom;
    let notified = false;
    try {
      // Sleeps while the sequence holds: a notify after beginWait() has moved it already.
      while (yield sleepWhile(this.state, SEQUENCE, sequence, deadline)) {
        sequence = Atomics.load(this.state, SEQUENCE);
        if ((notified = this.takeToken())) break;
      }
    } finally {
      yield* (this.lock as ConditionLock).restoring(saved);
    }
    return notified || this.endTimedOutWait(waitedFrom);
  }

  /** The algorithm of waitFor() and waitForAsync(): wait() until `predicate()` holds. */
  private *waitingFor<T>(predicate: () => T, what: string, deadline: number): Waiting<T> {
    let result = predicate();
    while (!result && performance.now() < deadline) {
      yield* this.waiting(what, deadline);
      result = predicate();
    }
    return result;
  }

  /** Takes one wake-up token if any is left; the only step a waiter takes without the lock. */
  private takeToken(): boolean {
    for (let tokens = Atomics.load(this.state, TOKENS); tokens > 0;) {
      const seen = Atomics.compareExchange(this.state, TOKENS, tokens, tokens - 1);
      if (seen === tokens) return true;
      tokens = seen;
    }
    return false;
  }

  /**
   * After a timeout, with the lock held again: if a notify came while this waiter waited and
   * left a token, it chose this waiter's place just before the time ran out, so the wait
   * counts as notified; otherwise the waiter gives its place up.
   */
  private endTimedOutWait(waitedFrom: number): boolean {
    if (Atomics.load(this.state, SEQUENCE) !== waitedFrom && this.takeToken()) return true;
    Atomics.sub(this.state, WAITERS, 1);
    return false;
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

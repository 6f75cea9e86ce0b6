// Design: a counting semaphore on shared Int32s [value, limit]. acquire() decrements a positive
// value with compare-and-swap and otherwise sleeps while the value is 0; release() adds and
// notifies as many sleepers as it added. A waiter that reads 0 and then misses the notify
// still wakes, because Atomics.wait returns at once when the value is no longer 0. Waiting for
// a slot is one algorithm, `acquiring`, run blocking by acquire() and awaiting by
// acquireAsync() (see wait.ts), after both tried the one-step fast path, `tryTake`.

import {
  SemaphoreOverReleasedError,
  ThreadingRangeError,
  ThreadingTimeoutError,
} from "./errors.ts";
import { deadlineOf, runAsync, runBlocking, sharedInts, sleepWhile } from "./wait.ts";
import type { Timeout, Waiting } from "./wait.ts";

const VALUE = 0;
/** The most the value may reach (BoundedSemaphore); -1 for no bound. */
const LIMIT = 1;

/** Takes one unit if the value is positive. */
function tryTake(state: Int32Array): boolean {
  // Compare-and-swap, so that two takers cannot both take the last unit; retried while positive.
  for (let value = Atomics.load(state, VALUE); value > 0; value = Atomics.load(state, VALUE)) {
    if (Atomics.compareExchange(state, VALUE, value, value - 1) === value) return true;
  }
  return false;
}

function checkCount(what: string, n: number): void {
  if (!Number.isInteger(n) || n < 0) {
    throw new ThreadingRangeError(`${what} must be a whole number ≥ 0, got ${String(n)}`);
  }
}

/**
 * A counter of free slots shared across threads (Python's `threading.Semaphore`): acquire()
 * takes a slot or waits for one, release() gives slots back.
 *
 * @example
 * const slots = new Semaphore(3); // at most 3 threads call the API at once
 * slots.withSlot(() => callApi());
 */
export class Semaphore {
  readonly kind: "Semaphore" | "BoundedSemaphore" = "Semaphore";
  /** [value, limit or -1]. */
  readonly state: Int32Array;

  constructor(value = 1, state?: Int32Array) {
    checkCount("the semaphore's initial value", value);
    if (state === undefined) {
      this.state = sharedInts(2);
      this.state[VALUE] = value;
      this.state[LIMIT] = -1;
    } else this.state = state;
  }

  /** Takes a slot, waiting for one; `false` if `timeout` ms pass first (0: try once). */
  acquire(timeout?: Timeout): boolean {
    const deadline = deadlineOf(timeout, `${this.kind}.acquire`);
    // A free slot costs no generator.
    return tryTake(this.state) || runBlocking(this.acquiring(deadline));
  }

  /** The awaitable form of `acquire()`: never blocks the event loop. */
  async acquireAsync(timeout?: Timeout): Promise<boolean> {
    const deadline = deadlineOf(timeout, `${this.kind}.acquireAsync`);
    return tryTake(this.state) || runAsync(this.acquiring(deadline));
  }

  /** Gives back `n` slots and wakes up to `n` waiters. */
  release(n = 1): void {
    checkCount(`${this.kind}.release(n)`, n);
    // Written once, before the semaphore is shared.
    const limit = Atomics.load(this.state, LIMIT);
    for (;;) {
      // Checked and added in one compare-and-swap: a bound cannot be passed by two releases.
      const value = Atomics.load(this.state, VALUE);
      if (limit >= 0 && value + n > limit) {
        throw new SemaphoreOverReleasedError(
          `BoundedSemaphore released too many times: ${value} + ${n} slots would exceed its ${limit}`,
        );
      }
      if (Atomics.compareExchange(this.state, VALUE, value, value + n) === value) break;
    }
    // After the add: a woken waiter finds the slots, and one not yet asleep sees VALUE ≠ 0.
    Atomics.notify(this.state, VALUE, n);
  }

  /** Free slots right now (a snapshot: other threads may change it at once). */
  get value(): number {
    // A snapshot only.
    return Atomics.load(this.state, VALUE);
  }

  /** Runs `fn` holding one slot and gives it back on every path. */
  withSlot<T>(fn: () => T, timeout?: Timeout): T {
    if (!this.acquire(timeout)) throw this.timedOut(timeout);
    try {
      return fn();
    } finally {
      this.release();
    }
  }

  /** The awaitable form of `withSlot()`. */
  async withSlotAsync<T>(fn: () => T | Promise<T>, timeout?: Timeout): Promise<T> {
    if (!(await this.acquireAsync(timeout))) throw this.timedOut(timeout);
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  /** Takes a slot, sleeping while none is free; `false` when `deadline` passes first. */
  private *acquiring(deadline: number): Waiting<boolean> {
    while (!tryTake(this.state)) {
      // Sleeps only while the value is still 0: a release() between tryTake and here is seen.
      // After the deadline, one last try: a slot freed just then is still taken.
      if (!(yield sleepWhile(this.state, VALUE, 0, deadline))) return tryTake(this.state);
    }
    return true;
  }

  private timedOut(timeout: Timeout): Error {
    return new ThreadingTimeoutError(`${this.kind}: no slot free within ${String(timeout)} ms`);
  }
}

/**
 * A semaphore that refuses to be released above its initial value (Python's
 * `threading.BoundedSemaphore`): an extra release() throws `SemaphoreOverReleasedError`.
 */
export class BoundedSemaphore extends Semaphore {
  override readonly kind = "BoundedSemaphore";

  constructor(value = 1, state?: Int32Array) {
    super(value, state);
    if (state === undefined) this.state[LIMIT] = value;
  }
}

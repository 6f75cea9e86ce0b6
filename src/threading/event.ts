// Design: an Event is a flag and a generation on shared Int32s. set() raises the flag, bumps the
// generation and wakes every waiter; waiters sleep on the generation, so a set() followed at
// once by clear() still wakes them, and wait() reports true, as Python's does. Waiting is one
// algorithm, `waiting`, run blocking by wait() and awaiting by waitAsync() (see wait.ts); a set
// flag returns before either makes a generator.

import { deadlineOf, runAsync, runBlocking, sharedInts, sleepWhile } from "./wait.ts";
import type { Timeout, Waiting } from "./wait.ts";

const FLAG = 0;
const GENERATION = 1;

/**
 * A flag threads wait on (Python's `threading.Event`).
 *
 * @example
 * const ready = new Event();
 * new Thread({ target: warmUp, args: [ready] }).start();
 * await ready.waitAsync(); // the loop keeps serving meanwhile
 */
export class Event {
  readonly kind = "Event";
  /** [flag, generation]. */
  readonly state: Int32Array;

  constructor(state?: Int32Array) {
    this.state = state ?? sharedInts(2);
  }

  isSet(): boolean {
    // A snapshot: set() and clear() may change it at once.
    return Atomics.load(this.state, FLAG) === 1;
  }

  /** Raises the flag and wakes every waiter. */
  set(): void {
    // Exchange: of concurrent set()s, one bumps the generation.
    if (Atomics.exchange(this.state, FLAG, 1) === 1) return;
    // The flag rises before the generation moves: a waiter that sees the new generation (or
    // reads it after) also sees the flag. The notify comes last, after both.
    Atomics.add(this.state, GENERATION, 1);
    Atomics.notify(this.state, GENERATION);
  }

  /** Lowers the flag: later waits block until the next set(). */
  clear(): void {
    // Leaves the generation alone: waiters a set() already woke still return true.
    Atomics.store(this.state, FLAG, 0);
  }

  /** Blocks until the flag is set; `false` if `timeout` ms pass first. */
  wait(timeout?: Timeout): boolean {
    const deadline = deadlineOf(timeout, "Event.wait");
    return this.isSet() || runBlocking(this.waiting(deadline));
  }

  /** The awaitable form of `wait()`: never blocks the event loop. */
  async waitAsync(timeout?: Timeout): Promise<boolean> {
    const deadline = deadlineOf(timeout, "Event.waitAsync");
    return this.isSet() || runAsync(this.waiting(deadline));
  }

  /** Sleeps until a set() after it began; `false` when `deadline` passes first. */
  private *waiting(deadline: number): Waiting<boolean> {
    // The generation is read before the flag: a set() between the two still moves it.
    const generation = Atomics.load(this.state, GENERATION);
    if (this.isSet()) return true;
    // A notify that is not a set() (a probe, a spurious wake-up) leaves the generation alone.
    while (Atomics.load(this.state, GENERATION) === generation) {
      if (!(yield sleepWhile(this.state, GENERATION, generation, deadline))) return this.isSet();
    }
    return true;
  }
}

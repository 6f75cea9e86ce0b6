// Design: an Event is a flag and a generation on shared Int32s. set() raises the flag, bumps the
// generation and wakes every waiter; waiters sleep on the generation, so a set() followed at
// once by clear() still wakes them, and wait() reports true, as Python's does.

import { deadlineOf, sharedInts, waitAsync, waitBlocking, type Timeout } from "./wait.ts";

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
    return Atomics.load(this.state, FLAG) === 1;
  }

  /** Raises the flag and wakes every waiter. */
  set(): void {
    if (Atomics.exchange(this.state, FLAG, 1) === 1) return;
    Atomics.add(this.state, GENERATION, 1);
    Atomics.notify(this.state, GENERATION);
  }

  /** Lowers the flag: later waits block until the next set(). */
  clear(): void {
    Atomics.store(this.state, FLAG, 0);
  }

  /** Blocks until the flag is set; `false` if `timeout` ms pass first. */
  wait(timeout?: Timeout): boolean {
    const deadline = deadlineOf(timeout, "Event.wait");
    const generation = Atomics.load(this.state, GENERATION);
    if (this.isSet()) return true;
    while (Atomics.load(this.state, GENERATION) === generation) {
      if (!waitBlocking(this.state, GENERATION, generation, deadline)) return this.isSet();
    }
    return true;
  }

  /** The awaitable form of `wait()`: never blocks the event loop. */
  async waitAsync(timeout?: Timeout): Promise<boolean> {
    const deadline = deadlineOf(timeout, "Event.waitAsync");
    const generation = Atomics.load(this.state, GENERATION);
    if (this.isSet()) return true;
    while (Atomics.load(this.state, GENERATION) === generation) {
      if (!(await waitAsync(this.state, GENERATION, generation, deadline))) return this.isSet();
    }
    return true;
  }
}

// Design: a Barrier keeps its state in shared Int32s guarded by a small mutex: how many threads
// arrived, the generation, whether it is broken, and which generation a reset broke. The last
// of `parties` to arrive starts the next generation and wakes the rest, who sleep on the
// generation word. abort() and reset() also wake them; each then learns from the state whether
// its generation passed or broke. A wait that times out breaks the barrier, as in Python.

import { BrokenBarrierError } from "./errors.ts";
import { mutexAcquire, mutexAcquireAsync, mutexRelease } from "./locks.ts";
import { deadlineOf, sharedInts, waitAsync, waitBlocking, type Timeout } from "./wait.ts";

const MUTEX = 0;
const ARRIVED = 1;
const GENERATION = 2;
const BROKEN = 3;
/** The generation a reset() ended while threads waited in it (-1: none). */
const RESET_GENERATION = 4;
const PARTIES = 5;

type Outcome = "passed" | "broken" | "waiting";

/**
 * Makes `parties` threads wait for each other (Python's `threading.Barrier`). wait() returns
 * each thread's arrival index, 0 to parties − 1; a broken barrier throws `BrokenBarrierError`.
 *
 * @example
 * const barrier = new Barrier(3);
 * // in each of 3 threads:
 * prepare(); barrier.wait(); run();
 */
export class Barrier {
  readonly kind = "Barrier";
  /** [mutex, arrived, generation, broken, reset generation, parties]. */
  readonly state: Int32Array;

  constructor(parties: number, state?: Int32Array) {
    if (state !== undefined) {
      this.state = state;
      return;
    }
    if (!Number.isInteger(parties) || parties < 1) {
      throw new RangeError(`a Barrier needs a whole number of parties ≥ 1, got ${String(parties)}`);
    }
    this.state = sharedInts(6);
    this.state[RESET_GENERATION] = -1;
    this.state[PARTIES] = parties;
  }

  /** How many threads must call wait() to pass the barrier. */
  get parties(): number {
    return Atomics.load(this.state, PARTIES);
  }

  /** How many threads wait in the current generation. */
  get nWaiting(): number {
    return Atomics.load(this.state, ARRIVED);
  }

  get broken(): boolean {
    return Atomics.load(this.state, BROKEN) === 1;
  }

  /** Blocks until every party has arrived; breaks the barrier if `timeout` ms pass first. */
  wait(timeout?: Timeout): number {
    const deadline = deadlineOf(timeout, "Barrier.wait");
    mutexAcquire(this.state, MUTEX, Infinity);
    const { generation, index } = this.arrive();
    if (index === this.parties - 1) return index;
    for (;;) {
      const woken = waitBlocking(this.state, GENERATION, generation, deadline);
      const outcome = this.outcome(generation);
      if (outcome === "passed") return index;
      if (outcome === "broken") throw this.brokenError();
      if (!woken) {
        this.abort();
        throw new BrokenBarrierError(`Barrier.wait timed out after ${String(timeout)} ms`);
      }
    }
  }

  /** The awaitable form of `wait()`: never blocks the event loop. */
  async waitAsync(timeout?: Timeout): Promise<number> {
    const deadline = deadlineOf(timeout, "Barrier.waitAsync");
    await mutexAcquireAsync(this.state, MUTEX, Infinity);
    const { generation, index } = this.arrive();
    if (index === this.parties - 1) return index;
    for (;;) {
      const woken = await waitAsync(this.state, GENERATION, generation, deadline);
      const outcome = this.outcome(generation);
      if (outcome === "passed") return index;
      if (outcome === "broken") throw this.brokenError();
      if (!woken) {
        this.abort();
        throw new BrokenBarrierError(`Barrier.waitAsync timed out after ${String(timeout)} ms`);
      }
    }
  }

  /** Breaks the barrier: every waiting and later wait() throws until reset(). */
  abort(): void {
    mutexAcquire(this.state, MUTEX, Infinity);
    Atomics.store(this.state, BROKEN, 1);
    Atomics.notify(this.state, GENERATION);
    mutexRelease(this.state, MUTEX);
  }

  /** Returns the barrier to its first state; threads waiting in it get `BrokenBarrierError`. */
  reset(): void {
    mutexAcquire(this.state, MUTEX, Infinity);
    if (Atomics.load(this.state, ARRIVED) > 0) {
      Atomics.store(this.state, RESET_GENERATION, Atomics.load(this.state, GENERATION));
      Atomics.add(this.state, GENERATION, 1);
    }
    Atomics.store(this.state, ARRIVED, 0);
    Atomics.store(this.state, BROKEN, 0);
    Atomics.notify(this.state, GENERATION);
    mutexRelease(this.state, MUTEX);
  }

  /** Counts the caller in, holding the mutex, and releases it; the last one opens the gate. */
  private arrive(): { generation: number; index: number } {
    try {
      if (this.broken) throw this.brokenError();
      const generation = Atomics.load(this.state, GENERATION);
      const index = Atomics.add(this.state, ARRIVED, 1);
      if (index === this.parties - 1) {
        Atomics.store(this.state, ARRIVED, 0);
        Atomics.add(this.state, GENERATION, 1);
        Atomics.notify(this.state, GENERATION);
      }
      return { generation, index };
    } finally {
      mutexRelease(this.state, MUTEX);
    }
  }

  private outcome(generation: number): Outcome {
    if (Atomics.load(this.state, GENERATION) !== generation) {
      return Atomics.load(this.state, RESET_GENERATION) === generation ? "broken" : "passed";
    }
    return this.broken ? "broken" : "waiting";
  }

  private brokenError(): BrokenBarrierError {
    return new BrokenBarrierError(
      "the Barrier is broken (aborted, reset, or a wait timed out); call reset() to use it again",
    );
  }
}

// Design: a Barrier keeps its state in shared Int32s guarded by a small mutex: how many threads
// arrived, the generation, whether it is broken, and which generation a reset broke. The last
// of `parties` to arrive starts the next generation and wakes the rest, who sleep on the
// generation word. abort() and reset() also end the generation, marked as broken, and wake
// them; each then learns from the state whether its generation passed or broke. Ending it (not
// only notifying) matters: a thread counted in but not yet asleep would miss a bare notify and
// sleep on the unchanged generation for good. A wait that times out breaks the barrier, as in Python.
// wait() and waitAsync() run one algorithm, `waiting`, blocking the thread or awaiting without
// blocking the event loop (see wait.ts).

import { BrokenBarrierError, ThreadingRangeError } from "./errors.ts";
import { mutexAcquire, mutexAcquiring, mutexRelease } from "./locks.ts";
import { deadlineOf, runAsync, runBlocking, sharedInts, sleepWhile } from "./wait.ts";
import type { Timeout, Waiting } from "./wait.ts";

const MUTEX = 0;
const ARRIVED = 1;
const GENERATION = 2;
const BROKEN = 3;
/** The generation an abort() or reset() ended while threads waited in it (-1: none). */
const BROKEN_GENERATION = 4;
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
  /** [mutex, arrived, generation, broken, broken generation, parties]. */
  readonly state: Int32Array;

  constructor(parties: number, state?: Int32Array) {
    if (state !== undefined) {
      this.state = state;
      return;
    }
    if (!Number.isInteger(parties) || parties < 1) {
      throw new ThreadingRangeError(
        `a Barrier needs a whole number of parties ≥ 1, got ${String(parties)}`,
      );
    }
    this.state = sharedInts(6);
    this.state[BROKEN_GENERATION] = -1;
    this.state[PARTIES] = parties;
  }

  /** How many threads must call wait() to pass the barrier. */
  get parties(): number {
    // Written once, before the barrier is shared.
    return Atomics.load(this.state, PARTIES);
  }

  /** How many threads wait in the current generation. */
  get nWaiting(): number {
    // A snapshot: ARRIVED changes under the mutex, which this does not take.
    return Atomics.load(this.state, ARRIVED);
  }

  get broken(): boolean {
    // Written under the mutex; read without it as a snapshot, and under it by arrive().
    return Atomics.load(this.state, BROKEN) === 1;
  }

  /** Blocks until every party has arrived; breaks the barrier if `timeout` ms pass first. */
  wait(timeout?: Timeout): number {
    const deadline = deadlineOf(timeout, "Barrier.wait");
    return runBlocking(this.waiting("Barrier.wait", timeout, deadline));
  }

  /** The awaitable form of `wait()`: never blocks the event loop. */
  async waitAsync(timeout?: Timeout): Promise<number> {
    const deadline = deadlineOf(timeout, "Barrier.waitAsync");
    return runAsync(this.waiting("Barrier.waitAsync", timeout, deadline));
  }

  /** Breaks the barrier: every waiting and later wait() throws until reset(). */
  abort(): void {
    mutexAcquire(this.state, MUTEX, Infinity);
    Atomics.store(this.state, BROKEN, 1);
    this.endGenerationBroken();
    mutexRelease(this.state, MUTEX);
  }

  /** Returns the barrier to its first state; threads waiting in it get `BrokenBarrierError`. */
  reset(): void {
    mutexAcquire(this.state, MUTEX, Infinity);
    Atomics.store(this.state, BROKEN, 0);
    this.endGenerationBroken();
    mutexRelease(this.state, MUTEX);
  }

  /**
   * Under the mutex: ends the current generation as broken if threads wait in it, and wakes
   * them. The generation moves, so one counted in but not yet asleep does not sleep on it.
   */
  private endGenerationBroken(): void {
    if (Atomics.load(this.state, ARRIVED) > 0) {
      // Marked before the move: a waiter that sees the new generation also sees the mark.
      Atomics.store(this.state, BROKEN_GENERATION, Atomics.load(this.state, GENERATION));
      Atomics.add(this.state, GENERATION, 1);
    }
    Atomics.store(this.state, ARRIVED, 0);
    // Last, after the state is whole: the woken read it without the mutex.
    Atomics.notify(this.state, GENERATION);
  }

  /** The algorithm of wait() and waitAsync(): the caller's arrival index, or a throw. */
  private *waiting(what: string, timeout: Timeout, deadline: number): Waiting<number> {
    // The mutex is held only for the few steps of arrive(): wait for it however long it takes.
    yield* mutexAcquiring(this.state, MUTEX, Infinity);
    const { generation, index } = this.arrive();
    if (index === this.parties - 1) return index;
    for (;;) {
      // Sleeps while the generation holds: the last arrival, abort() and reset() move it, so a
      // sleep that begins after any of them returns at once.
      const woken = yield sleepWhile(this.state, GENERATION, generation, deadline);
      const outcome = this.outcome(generation);
      if (outcome === "passed") return index;
      if (outcome === "broken") throw this.brokenError();
      if (!woken) {
        this.abort();
        throw new BrokenBarrierError(`${what} timed out after ${String(timeout)} ms`);
      }
    }
  }

  /** Counts the caller in, holding the mutex, and releases it; the last one opens the gate. */
  private arrive(): { generation: number; index: number } {
    try {
      if (this.broken) throw this.brokenError();
      // Under the mutex: the generation and the count belong to the same arrival.
      const generation = Atomics.load(this.state, GENERATION);
      const index = Atomics.add(this.state, ARRIVED, 1);
      if (index === this.parties - 1) {
        // The count resets before the generation moves, so the next generation starts at 0;
        // the move wakes sleepers and stops late ones from sleeping on the old generation.
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
    // Without the mutex: GENERATION moves after BROKEN_GENERATION is written, so a moved
    // generation is read together with the abort or reset that moved it, if one did.
    if (Atomics.load(this.state, GENERATION) !== generation) {
      return Atomics.load(this.state, BROKEN_GENERATION) === generation ? "broken" : "passed";
    }
    return this.broken ? "broken" : "waiting";
  }

  private brokenError(): BrokenBarrierError {
    return new BrokenBarrierError(
      "the Barrier is broken (aborted, reset, or a wait timed out); call reset() to use it again",
    );
  }
}

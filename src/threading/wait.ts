// Design: every primitive writes its waiting algorithm once, as a generator (a `Waiting`). It
// yields a `WaitStep` wherever it must sleep — "while state[index] holds `expected`, until
// `deadline`" — and is resumed with whether that sleep ended by a change or a notify (`true`)
// or by its deadline (`false`). Two drivers run it: `runBlocking` sleeps with Atomics.wait, for
// code inside threads; `runAsync` awaits Atomics.waitAsync, which never blocks an event loop.
// So the blocking and the awaitable form of a primitive are one algorithm, a timeout means the
// same thing everywhere, and an algorithm's `finally` (taking a lock back) is written once.
// Creating a generator costs more than an uncontended acquire, so each primitive first tries
// its one-step fast path (a plain function both forms call) and starts its generator only when
// it has to wait. Node does not count a pending Atomics.waitAsync as work, so while any is
// pending one ref'd timer keeps the event loop alive: an awaited wait ends as a blocking one
// would, not by an exit.

import { performance } from "node:perf_hooks";
import { ThreadingRangeError } from "./errors.ts";

/** `undefined` or `Infinity`: wait forever; 0: do not wait; otherwise milliseconds. */
export type Timeout = number | undefined;

/** The `performance.now()` time a wait of `timeout` ms ends; `Infinity` for no limit. */
export function deadlineOf(timeout: Timeout, what: string): number {
  if (timeout === undefined || timeout === Infinity) return Infinity;
  if (typeof timeout !== "number" || Number.isNaN(timeout) || timeout < 0) {
    throw new ThreadingRangeError(
      `${what}: the timeout must be a number of milliseconds ≥ 0 (or undefined to wait forever), got ${String(timeout)}`,
    );
  }
  return performance.now() + timeout;
}

function remaining(deadline: number): number {
  return deadline === Infinity ? Infinity : Math.max(0, deadline - performance.now());
}

/** One sleep an algorithm asks for: while `state[index]` holds `expected`, until `deadline`. */
export interface WaitStep {
  readonly state: Int32Array;
  readonly index: number;
  readonly expected: number;
  readonly deadline: number;
}

/**
 * A waiting algorithm: it yields the sleeps it needs, is resumed with whether each one ended by
 * a change or a notify (`true`) or by its deadline (`false`), and returns its result. @internal
 */
export type Waiting<T> = Generator<WaitStep, T, boolean>;

/** The step that sleeps while `state[index]` holds `expected`, until `deadline`. */
export function sleepWhile(
  state: Int32Array,
  index: number,
  expected: number,
  deadline: number,
): WaitStep {
  return { state, index, expected, deadline };
}

/** Sleeps through `step`: whether it ended by a change or a notify (`true`) or its deadline. */
export function waitBlocking({ state, index, expected, deadline }: WaitStep): boolean {
  // Returns at once ("not-equal") when the word already moved on: a notify sent between the
  // algorithm's read and this call is not lost.
  return Atomics.wait(state, index, expected, remaining(deadline)) !== "timed-out";
}

/** Awaited waits not yet settled in this thread, and the timer that keeps its loop alive. */
let pending = 0;
let keepAlive: ReturnType<typeof setInterval> | undefined;

/** The awaitable form of `waitBlocking`. */
async function waitAsync({ state, index, expected, deadline }: WaitStep): Promise<boolean> {
  // Like Atomics.wait, settles at once ("not-equal") when the word already moved on.
  const wait = Atomics.waitAsync(state, index, expected, remaining(deadline));
  if (!wait.async) return wait.value !== "timed-out";
  if (pending++ === 0) keepAlive = setInterval(() => {}, 2 ** 30);
  try {
    return (await wait.value) !== "timed-out";
  } finally {
    if (--pending === 0) clearInterval(keepAlive);
  }
}

// The drivers. A sleep on a shared Int32Array with a timeout ≥ 0 does not throw, so neither
// driver has to throw anything into the algorithm: its own `finally` blocks are plain code.

/** Runs `waiting` on this thread, blocking it through each sleep (`Atomics.wait`). */
export function runBlocking<T>(waiting: Waiting<T>): T {
  let step = waiting.next();
  while (!step.done) step = waiting.next(waitBlocking(step.value));
  return step.value;
}

/** Runs `waiting` without blocking the event loop, awaiting each sleep (`Atomics.waitAsync`). */
export async function runAsync<T>(waiting: Waiting<T>): Promise<T> {
  let step = waiting.next();
  while (!step.done) step = waiting.next(await waitAsync(step.value));
  return step.value;
}

/** A new Int32Array of `length` zeros on shared memory. */
export function sharedInts(length: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(length * Int32Array.BYTES_PER_ELEMENT));
}

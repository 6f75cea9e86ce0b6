// Deadlines and the two ways to wait on a shared Int32: blocking the thread (Atomics.wait) and
// awaiting (Atomics.waitAsync, which never blocks an event loop). Every primitive waits
// through these two, so a timeout means the same thing everywhere. Node does not count a
// pending Atomics.waitAsync as work, so while any is pending one ref'd timer
// keeps the event loop alive: an awaited wait ends as a blocking one would, not by an exit.

import { performance } from "node:perf_hooks";

/** `undefined` or `Infinity`: wait forever; 0: do not wait; otherwise milliseconds. */
export type Timeout = number | undefined;

/** The `performance.now()` time a wait of `timeout` ms ends; `Infinity` for no limit. */
export function deadlineOf(timeout: Timeout, what: string): number {
  if (timeout === undefined || timeout === Infinity) return Infinity;
  if (typeof timeout !== "number" || Number.isNaN(timeout) || timeout < 0) {
    throw new RangeError(
      `${what}: the timeout must be a number of milliseconds ≥ 0 (or undefined to wait forever), got ${String(timeout)}`,
    );
  }
  return performance.now() + timeout;
}

function remaining(deadline: number): number {
  return deadline === Infinity ? Infinity : Math.max(0, deadline - performance.now());
}

/** Whether a wait ended by a change or a notify (`true`) or by its deadline (`false`). */
export function waitBlocking(
  state: Int32Array,
  index: number,
  expected: number,
  deadline: number,
): boolean {
  return Atomics.wait(state, index, expected, remaining(deadline)) !== "timed-out";
}

/** Awaited waits not yet settled in this thread, and the timer that keeps its loop alive. */
let pending = 0;
let keepAlive: ReturnType<typeof setInterval> | undefined;

/** The awaitable form of `waitBlocking`. */
export async function waitAsync(
  state: Int32Array,
  index: number,
  expected: number,
  deadline: number,
): Promise<boolean> {
  const wait = Atomics.waitAsync(state, index, expected, remaining(deadline));
  if (!wait.async) return wait.value !== "timed-out";
  if (pending++ === 0) keepAlive = setInterval(() => {}, 2 ** 30);
  try {
    return (await wait.value) !== "timed-out";
  } finally {
    if (--pending === 0) clearInterval(keepAlive);
  }
}

/** A new Int32Array of `length` zeros on shared memory. */
export function sharedInts(length: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(length * Int32Array.BYTES_PER_ELEMENT));
}

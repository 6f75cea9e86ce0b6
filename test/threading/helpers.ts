// What the threading tests share: starting daemon threads and joining them within a hang
// limit, polling, and the thread targets more than one file runs.
//
// A thread runs a self-contained function (its source is sent), so most targets below take every
// primitive and shared array they touch as arguments, and sleep with a bare Atomics.wait. Every
// thread is a daemon, so a test that fails with threads still blocked cannot hang the run.
import { setTimeout as delay } from "node:timers/promises";
import { performance } from "node:perf_hooks";
import {
  Thread,
  sleep,
  threadTarget,
  type Barrier,
  type Event,
  type Lock,
  type RLock,
  type Semaphore,
} from "../../src/threading/index.ts";

/** How long a test may wait for threads before it counts as hung (not a speed check). */
export const HANG_LIMIT = 15_000;

export function startThread<A extends unknown[], R>(
  target: (...args: A) => R,
  args: A,
): Thread<A, R> {
  return new Thread({ target, args, daemon: true }).start();
}

export function startThreads<A extends unknown[], R>(
  count: number,
  target: (...args: A) => R,
  args: A,
): Thread<A, R>[] {
  return Array.from({ length: count }, () => startThread(target, args));
}

/** Every thread's result; rejects with ThreadingTimeoutError if one is still running at the limit. */
export function joinAll<R>(
  threads: readonly { join(timeout?: number): Promise<R> }[],
): Promise<R[]> {
  return Promise.all(threads.map((thread) => thread.join(HANG_LIMIT)));
}

/** Each thread's outcome, for threads that are expected to throw. */
export function settleAll<R>(
  threads: readonly { join(timeout?: number): Promise<R> }[],
): Promise<PromiseSettledResult<R>[]> {
  return Promise.allSettled(threads.map((thread) => thread.join(HANG_LIMIT)));
}

/** Polls `condition` every millisecond until it holds. */
export async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + HANG_LIMIT;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`gave up waiting until ${what}`);
    await delay(1);
  }
}

/**
 * Resolves once `count` threads sleep inside `event.wait()`. Atomics.notify returns how many
 * sleepers it woke, and Event.wait() goes back to sleep when its generation did not move, so
 * the probe tells who is asleep without letting anyone through.
 */
export function asleepIn(event: Event, count: number): Promise<void> {
  const GENERATION = 1; // the word Event.wait() sleeps on
  return until(() => Atomics.notify(event.state, GENERATION) >= count, `${count} threads wait`);
}

// ---- Thread targets (self-contained: no outer names) ----

/**
 * Adds 1 to `cells[round]` `times` times per round, as a plain read, some busy work and a plain
 * write, holding `lock` around each step when one is given. Each round starts together at
 * `start`, so the threads really overlap.
 */
export function countUp(
  cells: Int32Array,
  times: number,
  rounds: number,
  start: Barrier,
  lock: Lock | null,
): number {
  let work = 0;
  for (let round = 0; round < rounds; round++) {
    start.wait();
    for (let i = 0; i < times; i++) {
      lock?.acquire();
      const seen = cells[round]!;
      // Widens the window between the read and the write, where an unguarded thread loses updates.
      for (let k = 0; k < 40; k++) work = (work * 31 + k + seen) | 0;
      cells[round] = seen + 1;
      lock?.release();
    }
  }
  return work;
}

/** Takes `primitive`, says so on `held`, and keeps it until `letGo`; whether it was let go. */
export function holdUntil(primitive: Lock | RLock | Semaphore, held: Event, letGo: Event): boolean {
  primitive.acquire();
  held.set();
  const letGoInTime = letGo.wait(5_000);
  primitive.release();
  return letGoInTime;
}

/**
 * Awaits `acquiring`, an acquireAsync() of what `holdUntil` holds in a thread, while only a
 * callback on the event loop lets that thread go. Answers [acquired, whether the thread had
 * been let go by then, whether it was let go in time]: [true, true, true] when the await kept
 * the loop running and took the primitive only once the thread gave it up.
 */
export async function acquireOnceLetGo(
  acquiring: Promise<boolean>,
  letGo: Event,
  holder: Thread<[Lock | RLock | Semaphore, Event, Event], boolean>,
): Promise<boolean[]> {
  setImmediate(() => letGo.set());
  const acquired = await acquiring;
  return [acquired, letGo.isSet(), await holder.join(HANG_LIMIT)];
}

// ---- Thread targets a thread imports from this module (they use its imports) ----

/** Calls `sleep(ms)` and returns how many milliseconds it took. */
export const timeSleep = threadTarget(import.meta.url, function timeSleep(ms: number): number {
  const started = performance.now();
  sleep(ms);
  return performance.now() - started;
});

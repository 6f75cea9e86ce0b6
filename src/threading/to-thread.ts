// Design: toThread() runs one call on a thread and resolves with its result, like Python's
// asyncio.to_thread. The calls go to an executor: a served app's process registers its own
// thread pool (so toThread shares the threads and limits of --threads); anywhere else a pool of
// this module's own, built on the same core (pool/core.ts), starts lazily, one thread per core at
// most, and its idle threads do not keep the process alive. Aborting terminates the thread
// running the call; the pool starts another. Its threads' heaps are bounded as a served app's
// pool threads are (`useHeapBound`, from --thread-max-heap; by default `defaultThreadHeapMb`).

import { availableParallelism } from "node:os";
import { describeTarget, settleOutcome, type CallOutcome, type ThreadCall } from "./calls.ts";
import { defaultThreadHeapMb } from "./heap-bound.ts";
import { CallJob } from "./pool/call-job.ts";
import { PoolCore } from "./pool/core.ts";
import { entryUrl } from "./spawn.ts";
import { activeSpanContext } from "./trace-context.ts";
import type { ThreadStart } from "./thread-main.ts";

/** Options of one `toThread` call, given as its last argument. */
export interface ToThreadOptions {
  /** Cancels the call: it is dropped if waiting, or its thread is terminated and replaced. */
  signal?: AbortSignal;
  /** ArrayBuffers among the args to move to the thread instead of copying. */
  transfer?: readonly ArrayBuffer[];
}

/** Runs calls on threads: a served app's pool, or the default one below. */
export interface CallExecutor {
  /** Resolves with the outcome; `cancel` stops the call (and its thread, if it runs). */
  run(
    call: ThreadCall,
    transfer: readonly ArrayBuffer[],
  ): { outcome: Promise<CallOutcome>; cancel(): void };
}

/** A pool that runs `CallJob`s: a `PoolCore` whose jobs include calls. */
export interface CallPool {
  submit(job: CallJob): unknown;
  drop(job: CallJob): void;
}

/** An executor that runs each call as a `CallJob` on `pool`. */
export function callsOn(pool: CallPool): CallExecutor {
  return {
    run(call, transfer) {
      const job = new CallJob(call, transfer);
      pool.submit(job);
      return { outcome: job.outcome, cancel: () => pool.drop(job) };
    },
  };
}

let executor: CallExecutor | null = null;

/**
 * Makes `toThread` in this thread use `pool` (a served app's pool, as it starts). With two
 * arguments, replaces `pool` by `next` only if `pool` is still the one in use (as it closes).
 */
export function useExecutor(pool: CallExecutor | null, next?: CallExecutor | null): void {
  if (next === undefined) executor = pool;
  else if (executor === pool) executor = next;
}

/** The heap bound (MB) of the default pool's threads; `null`: `defaultThreadHeapMb()`. */
let defaultPoolHeapMb: number | null = null;

/**
 * Bounds the heap of the threads toThread's own pool starts from now on (0: V8's own limit), as
 * `--thread-max-heap` bounds a served app's pool threads.
 */
export function useHeapBound(mb: number): void {
  defaultPoolHeapMb = mb;
}

/** toThread's own pool, used outside a served app: a thread per core at most, started lazily. */
function startDefaultPool(): PoolCore<CallJob> {
  // The core adds the claim memory and shared values to the rest of a pool ThreadStart.
  const mode: Pick<ThreadStart & { mode: "pool" }, "mode"> = { mode: "pool" };
  return new PoolCore<CallJob>({
    entry: entryUrl("thread-main"),
    data: { ...mode },
    size: availableParallelism(),
    lazy: true,
    maxHeapMb: defaultPoolHeapMb ?? defaultThreadHeapMb(),
    host: { send: (thread, job) => job.post(thread.worker) },
  });
}

let defaultPool: { core: PoolCore<CallJob>; executor: CallExecutor } | null = null;

type Args<A extends unknown[]> = A | [...A, ToThreadOptions];

const OPTION_KEYS = new Set(["signal", "transfer"]);

/** Whether the last argument is toThread's options rather than an argument of the call. */
function isOptions(value: unknown): value is ToThreadOptions {
  if (
    typeof value !== "object" ||
    value === null ||
    Object.getPrototypeOf(value) !== Object.prototype
  )
    return false;
  const keys = Object.keys(value);
  return (
    keys.length > 0 &&
    keys.every((key) => OPTION_KEYS.has(key)) &&
    ((value as ToThreadOptions).signal === undefined ||
      (value as ToThreadOptions).signal instanceof AbortSignal) &&
    ((value as ToThreadOptions).transfer === undefined ||
      Array.isArray((value as ToThreadOptions).transfer))
  );
}

/**
 * Runs `fn(...args)` on a thread and resolves with its result (Python's `asyncio.to_thread`),
 * so a CPU-heavy or blocking call never stalls this event loop. Inside a served app it uses the
 * process's pool; elsewhere a default pool. The last argument may be `{ signal, transfer }`.
 *
 * @example
 * app.get("/hash", async (req) => ({ hash: await toThread(hashPassword, req.args.get("p") ?? "") }));
 */
export async function toThread<A extends unknown[], R>(
  fn: (...args: A) => R,
  ...rest: Args<A>
): Promise<Awaited<R>> {
  const last = rest.at(-1);
  const options = isOptions(last) ? last : {};
  const args = isOptions(last) ? rest.slice(0, -1) : rest;
  const call: ThreadCall = { target: describeTarget(fn as (...args: never[]) => unknown), args };
  // Under a span (a traced request), the call's own spans become its children on the thread.
  const trace = activeSpanContext();
  if (trace !== undefined) call.trace = trace;
  const { signal, transfer = [] } = options;
  signal?.throwIfAborted();
  const pool = executor ?? (defaultPool ??= ownPool()).executor;
  const running = pool.run(call, transfer);
  if (signal === undefined) return settleOutcome(await running.outcome) as Awaited<R>;
  return new Promise<Awaited<R>>((resolve, reject) => {
    const onAbort = (): void => {
      running.cancel();
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    running.outcome.then(
      (outcome) => {
        signal.removeEventListener("abort", onAbort);
        try {
          resolve(settleOutcome(outcome) as Awaited<R>);
        } catch (error) {
          reject(error as Error);
        }
      },
      (error: unknown) => reject(error as Error),
    );
  });
}

function ownPool(): { core: PoolCore<CallJob>; executor: CallExecutor } {
  const core = startDefaultPool();
  return { core, executor: callsOn(core) };
}

/** For tests and shutdown: ends the default pool's threads. */
export async function closeDefaultPool(): Promise<void> {
  const pool = defaultPool;
  defaultPool = null;
  await pool?.core.close();
}

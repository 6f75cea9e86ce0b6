// Design: toThread() runs one call on a thread and resolves with its result, like Python's
// asyncio.to_thread. The calls go to an executor: a served app's process registers its own
// thread pool (so toThread shares the threads and limits of --threads); anywhere else a pool of
// this module's own starts lazily, one thread per core at most, and its idle threads do not keep
// the process alive. Aborting terminates the thread running the call; the pool starts another.
// Its threads' heaps are bounded by the same default as a served app's pool threads.

import { availableParallelism } from "node:os";
import type { Worker } from "node:worker_threads";
import {
  describeTarget,
  settleOutcome,
  unsendable,
  type CallOutcome,
  type ThreadCall,
} from "./calls.ts";
import { defaultThreadHeapMb, heapLimits } from "./heap-bound.ts";
import { NAMED_KEY, namedSharedValues } from "./shared.ts";
import { entryUrl, spawnThread } from "./spawn.ts";
import type { PoolReply, PoolRequest, ThreadStart } from "./thread-main.ts";

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

let executor: CallExecutor | null = null;

/**
 * Makes `toThread` in this thread use `pool` (a served app's pool, as it starts). With two
 * arguments, replaces `pool` by `next` only if `pool` is still the one in use (as it closes).
 */
export function useExecutor(pool: CallExecutor | null, next?: CallExecutor | null): void {
  if (next === undefined) executor = pool;
  else if (executor === pool) executor = next;
}

interface PoolThread {
  worker: Worker;
  busy: number | null;
}

interface Pending {
  id: number;
  call: ThreadCall;
  transfer: readonly ArrayBuffer[];
  settle: (outcome: CallOutcome) => void;
}

/** toThread's own pool, used outside a served app. */
class DefaultPool implements CallExecutor {
  private readonly threads = new Set<PoolThread>();
  private readonly queue: Pending[] = [];
  private readonly settling = new Map<number, Pending>();
  private nextId = 1;
  private readonly size = availableParallelism();

  run(call: ThreadCall, transfer: readonly ArrayBuffer[]) {
    let pending!: Pending;
    const outcome = new Promise<CallOutcome>((settle) => {
      pending = { id: this.nextId++, call, transfer, settle };
    });
    this.queue.push(pending);
    this.pump();
    return { outcome, cancel: () => this.cancel(pending) };
  }

  private pump(): void {
    while (this.queue.length > 0) {
      let idle = [...this.threads].find((thread) => thread.busy === null);
      if (idle === undefined && this.threads.size < this.size) idle = this.spawn();
      if (idle === undefined) return;
      const next = this.queue.shift() as Pending;
      const request: PoolRequest = { id: next.id, call: next.call };
      try {
        idle.worker.postMessage(request, [...next.transfer]);
      } catch (error) {
        next.settle(unsendable(error));
        continue;
      }
      idle.busy = next.id;
      idle.worker.ref();
      this.settling.set(next.id, next);
    }
  }

  private spawn(): PoolThread {
    const start: ThreadStart = { mode: "pool" };
    const resourceLimits = heapLimits(defaultThreadHeapMb());
    const worker = spawnThread(
      entryUrl("thread-main"),
      { ...start, [NAMED_KEY]: namedSharedValues() },
      resourceLimits ? { resourceLimits } : {},
    );
    const thread: PoolThread = { worker, busy: null };
    this.threads.add(thread);
    // A thread that outgrows its heap bound reports it here before it exits; unheard, the
    // report would be thrown in the process itself and end it.
    let failure: Error | null = null;
    worker.on("error", (error) => (failure = error));
    worker.on("message", (reply: PoolReply) => {
      const pending = this.settling.get(reply.id);
      this.settling.delete(reply.id);
      thread.busy = null;
      // An idle thread must not keep a script from exiting.
      worker.unref();
      pending?.settle(reply.outcome);
      this.pump();
    });
    worker.on("exit", (code) => {
      this.threads.delete(thread);
      const lost = thread.busy === null ? undefined : this.settling.get(thread.busy);
      if (lost !== undefined) {
        this.settling.delete(lost.id);
        lost.settle({
          ok: false,
          error: {
            name: "ThreadDiedError",
            message:
              (failure as { code?: string } | null)?.code === "ERR_WORKER_OUT_OF_MEMORY"
                ? `the thread running the call outgrew its heap bound of ${resourceLimits?.maxOldGenerationSizeMb ?? "V8's"} MB`
                : `the thread running the call exited (code ${code})`,
            code: "ERR_THREAD_DIED",
          },
        });
      }
      this.pump();
    });
    return thread;
  }

  async close(): Promise<void> {
    for (const pending of this.queue.splice(0)) pending.settle(closedOutcome);
    await Promise.all([...this.threads].map((thread) => thread.worker.terminate()));
  }

  private cancel(pending: Pending): void {
    const queued = this.queue.indexOf(pending);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      return;
    }
    for (const thread of this.threads) {
      if (thread.busy !== pending.id) continue;
      // A running call cannot be interrupted: its thread goes, and pump() starts another.
      this.settling.delete(pending.id);
      thread.busy = null;
      this.threads.delete(thread);
      void thread.worker.terminate();
      this.pump();
    }
  }
}

const closedOutcome: CallOutcome = {
  ok: false,
  error: {
    name: "ThreadDiedError",
    message: "toThread's pool was closed",
    code: "ERR_THREAD_DIED",
  },
};

let defaultPool: DefaultPool | null = null;

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
  const { signal, transfer = [] } = options;
  signal?.throwIfAborted();
  const pool = executor ?? (defaultPool ??= new DefaultPool());
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

/** For tests and shutdown: ends the default pool's threads. */
export async function closeDefaultPool(): Promise<void> {
  const pool = defaultPool;
  defaultPool = null;
  await pool?.close();
}

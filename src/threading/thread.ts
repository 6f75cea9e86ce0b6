// Design: a Thread is one worker_thread that runs one call and ends, like Python's
// threading.Thread. Its target is a module function marked with threadTarget() or a
// self-contained function sent by its source (see calls.ts). Unlike CPython's threads, these run
// in parallel, and module state is their own: only what is passed in args (the primitives of
// this module, shared typed arrays) is shared.

import { performance } from "node:perf_hooks";
import type { Worker } from "node:worker_threads";
import { describeTarget, settleOutcome, type CallOutcome, type ThreadCall } from "./calls.ts";
import { ThreadDiedError, ThreadStateError, ThreadingTimeoutError } from "./errors.ts";
import { NAMED_KEY, namedSharedValues } from "./shared.ts";
import { entryUrl, spawnThread } from "./spawn.ts";
import { activeSpanContext } from "./trace-context.ts";
import type { ThreadStart } from "./thread-main.ts";
import { deadlineOf, type Timeout } from "./wait.ts";

/** What a Thread runs. */
export interface ThreadOptions<A extends unknown[], R> {
  /** A function marked with `threadTarget()`, or a self-contained function. */
  target: (...args: A) => R;
  /** Its arguments: structured-cloneable data, shared typed arrays, threading primitives. */
  args?: A;
  /** Shown in errors and `name`; `Thread-N` by default. */
  name?: string;
  /** ArrayBuffers to move to the thread instead of copying. */
  transfer?: readonly ArrayBuffer[];
  /** Like Python's daemon threads: a daemon thread does not keep the process alive. */
  daemon?: boolean;
}

let counter = 0;

/**
 * A thread of execution running one function in parallel with this one (Python's
 * `threading.Thread`): `start()` it, then `await join()` for the function's return value.
 *
 * @example
 * const thread = new Thread({ target: (n: number) => n * 2, args: [21] });
 * thread.start();
 * console.log(await thread.join()); // 42
 */
export class Thread<A extends unknown[] = unknown[], R = unknown> {
  readonly name: string;
  readonly daemon: boolean;
  readonly #options: ThreadOptions<A, R>;
  #worker: Worker | null = null;
  /** Kept apart: a worker's own threadId turns to -1 once it exits. */
  #threadId: number | undefined;
  #alive = false;
  #result: Promise<Awaited<R>> | null = null;

  constructor(options: ThreadOptions<A, R>) {
    counter += 1;
    this.name = options.name ?? `Thread-${counter}`;
    this.daemon = options.daemon ?? false;
    this.#options = options;
    // Fails here, at the line that made the Thread, rather than later inside it.
    describeTarget(options.target as (...args: never[]) => unknown);
  }

  /** Starts the thread; a Thread starts once. */
  start(): this {
    if (this.#worker !== null) {
      throw new ThreadStateError(`${this.name} was already started; a Thread runs once`);
    }
    const call: ThreadCall = {
      target: describeTarget(this.#options.target as (...args: never[]) => unknown),
      args: [...(this.#options.args ?? [])],
    };
    // Started under a span, the thread's own spans are its children.
    const trace = activeSpanContext();
    if (trace !== undefined) call.trace = trace;
    const start: ThreadStart = { mode: "thread", call };
    const worker = spawnThread(
      entryUrl("thread-main"),
      { ...start, [NAMED_KEY]: namedSharedValues() },
      { name: this.name, transferList: [...(this.#options.transfer ?? [])] },
    );
    this.#worker = worker;
    this.#threadId = worker.threadId;
    this.#alive = true;
    this.#result = new Promise<Awaited<R>>((resolve, reject) => {
      let outcome: CallOutcome | null = null;
      worker.once("message", (reply: { outcome: CallOutcome }) => (outcome = reply.outcome));
      worker.once("error", (error) => {
        outcome ??= {
          ok: false,
          error: { name: error.name, message: error.message, stack: error.stack ?? "" },
        };
      });
      worker.once("exit", (code) => {
        this.#alive = false;
        if (outcome === null) {
          reject(new ThreadDiedError(`${this.name} exited (code ${code}) without a result`));
          return;
        }
        try {
          resolve(settleOutcome(outcome) as Awaited<R>);
        } catch (error) {
          reject(error as Error);
        }
      });
    });
    // join() may never be called; an error it would have reported must not crash the process.
    this.#result.catch(() => undefined);
    // After the listeners: adding a "message" listener refs the worker again.
    if (this.daemon) worker.unref();
    return this;
  }

  /**
   * Waits for the thread to end: its target's return value, or its error rebuilt with the
   * original name, message and stack. With `timeout` (ms), rejects with
   * `ThreadingTimeoutError` if the thread is still running then (it keeps running).
   */
  join(timeout?: Timeout): Promise<Awaited<R>> {
    const result = this.#result;
    if (result === null) {
      return Promise.reject(new ThreadStateError(`${this.name} cannot be joined before start()`));
    }
    const deadline = deadlineOf(timeout, "Thread.join");
    if (deadline === Infinity) return result;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new ThreadingTimeoutError(`${this.name} still runs after ${String(timeout)} ms`)),
        Math.max(0, deadline - performance.now()),
      );
      result.then(resolve, reject).finally(() => clearTimeout(timer));
    });
  }

  /** Whether the thread has started and not yet ended. */
  isAlive(): boolean {
    return this.#alive;
  }

  /** The worker thread's id once started (`threadId` inside it), otherwise `undefined`. */
  get threadId(): number | undefined {
    return this.#threadId;
  }
}

// Design: the thread pool of one process, on carafe/threading's pool core. `size` worker threads
// start at boot, each importing the app module, and take one request at a time: a synchronous
// handler owns its thread while it runs, so N threads run N handlers in parallel. The core owns
// the threads' lives, the scheduling (one bounded FIFO queue, requests sent ahead to busy
// threads and taken back, a full queue answered 503 at once) and the --timeout deadlines; this
// file is what makes its jobs requests: records travel in batches (outbox.ts), answers come back
// whole or streamed (incoming-stream.ts), and failures become error responses (request-task.ts).
// toThread() calls of the app's async handlers run on the same threads, in the same queue,
// under the same --timeout, as `call` messages with their own outcome. An error thrown on a
// thread outside a request does not end it (stray-errors.ts).
//
// A thread that finishes a quick request sends its answer back together with the next ones
// (pool-thread.ts), and says when it starts one whose route is not known to be quick (`slow`):
// what waits behind it then goes to another thread. A request whose route the threads last said
// was slow leaves at once, since it gains nothing from company and its thread idles until it
// comes.

import { availableParallelism } from "node:os";
import { performance } from "node:perf_hooks";
import {
  newRequestId,
  type BroadcastEnvelope,
  type ClientConnection,
  type FamilyDelta,
  type Logger,
  type RequestRecord,
  type ResponseRecord,
} from "../../framework/internal.ts";
import { AppLoadError } from "../loading/app-spec.ts";
import type { LogEntry } from "../http/app-logger.ts";
import {
  CallJob,
  PoolCore,
  callsOn,
  defaultThreadHeapMb,
  entryUrl,
  useExecutor,
  type CallExecutor,
  type CallOutcome,
  type PoolCounts,
  type PoolThread,
  type ThreadCall,
} from "../../threading/internal.ts";
import { PoolSizeError, ResponseCutError } from "./errors.ts";
import { IncomingStream } from "./incoming-stream.ts";
import { Outbox } from "./outbox.ts";
import { RequestTask, type RequestTrace } from "./request-task.ts";
import { logStrayError } from "./stray-errors.ts";
import { transferable, type LoopMessage, type ThreadMessage } from "./wire-protocol.ts";

/** Options of `ThreadPool.start`. */
export interface ThreadPoolOptions {
  /** `path/to/app.ts[:export]`: the module each thread imports. */
  appSpec: string;
  /** Number of threads (≥ 1); default: one per core. */
  size?: number;
  /**
   * Threads started with the pool (1 to `size`; default: all): the rest start as requests find
   * no idle thread (`--initial-threads`).
   */
  initialThreads?: number;
  /** A request running longer than this (ms) gets a 504 and its thread is replaced; 0 = never. */
  timeoutMs: number;
  /** Requests that may wait for a thread; one more is answered 503 (`--max-queue`). */
  maxQueue: number;
  /** Replace a thread after this many requests (0 = never), plus up to `maxRequestsJitter`. */
  maxRequests: number;
  maxRequestsJitter: number;
  /** Where threads that time out, die or fail to boot are reported. */
  logger: Logger;
  /**
   * Largest JS heap (MB) of each thread: a request that outgrows it gets a 500 and its thread is
   * replaced. Default: sized from the machine (`defaultThreadHeapMb`); 0 leaves V8's own limit.
   */
  maxHeapMb?: number;
  /** A handler on a thread broadcast to a room (the loop holds the sockets). */
  onBroadcast?: (envelope: BroadcastEnvelope) => void;
  /**
   * What the app's metrics recorded on thread `threadId` since its last report. Set, it makes
   * each thread report about once a second (with --metrics-bind).
   */
  onMetrics?: (threadId: number, deltas: FamilyDelta[]) => void;
  /**
   * What is logged on a thread: the app's messages, if it kept the default logger, and the
   * thread's own. Set, threads hand these to it instead of writing them to standard error.
   */
  onLog?: (entry: LogEntry) => void;
}

/** A snapshot of the pool, for banners and tests. */
export interface PoolStats {
  /** The most threads the pool runs (`--threads`). */
  size: number;
  /** Threads ready to take requests. */
  threads: number;
  /** Threads running a request. */
  busy: number;
  /** Requests waiting for a thread. */
  queued: number;
  threadIds: number[];
  /** Requests taken back from a thread they were sent ahead to: its copy there was sent for nothing. */
  takenBack: number;
  /** Each thread's heap bound in MB (0: V8's own limit). */
  maxHeapMb: number;
  /** Requests sent ahead to a busy thread, to start once it is done. */
  sentAhead: number;
  /** Requests refused with 503 (full queue), stopped with 504, and threads replaced by cause. */
  counts: PoolCounts;
}

/** A job of the request pool: a request, or a toThread call. */
type Job = RequestTask | CallJob;
type Thread = PoolThread<Job>;

/** How long a streamed body's producer may take to stop after its client left. */
const CANCEL_GRACE_MS = 1000;

// The thread imports pool-thread in this file's own flavour (.ts from a checkout, .js from the
// build); spawnThread registers tsx first when that is TypeScript. A TypeScript app registers
// tsx itself when it loads (typescript.ts).
const THREAD_MAIN = entryUrl("pool-thread", import.meta.url);

/**
 * How many requests a thread or a worker process serves before it is replaced: gunicorn's
 * `--max-requests` plus a random share of `--max-requests-jitter`, so they do not all restart
 * at once. `Infinity` when `maxRequests` is 0.
 */
export function requestsBeforeRetiring(maxRequests: number, jitter: number): number {
  if (maxRequests <= 0) return Infinity;
  return maxRequests + Math.floor(Math.random() * (jitter + 1));
}

/**
 * A pool of worker threads that each import the app and run the requests dispatched to them.
 *
 * @example
 * const pool = await ThreadPool.start({ appSpec: "app.ts", size: 4, timeoutMs: 30_000,
 *   maxQueue: 1000, maxRequests: 0, maxRequestsJitter: 0, logger });
 * const response = await pool.dispatch(record);
 */
export class ThreadPool {
  private readonly core: PoolCore<Job>;
  private readonly outbox = new Outbox<Thread>((thread, error) => this.unreachable(thread, error));
  private readonly executor: CallExecutor;
  /** Scrapes waiting for threads' answers to `report-metrics`, by thread. */
  private readonly metricWaiters = new Map<Thread, (() => void)[]>();

  private constructor(
    private readonly options: ThreadPoolOptions,
    size: number,
  ) {
    this.core = new PoolCore<Job>({
      entry: THREAD_MAIN,
      data: {
        appSpec: options.appSpec,
        metrics: options.onMetrics !== undefined,
        logs: options.onLog !== undefined,
      },
      size,
      initial: options.initialThreads ?? size,
      maxHeapMb: options.maxHeapMb ?? defaultThreadHeapMb(),
      maxQueue: options.maxQueue,
      timeoutMs: options.timeoutMs,
      retireAfter: () => requestsBeforeRetiring(options.maxRequests, options.maxRequestsJitter),
      logger: options.logger,
      host: {
        send: (thread, job, ahead) => this.send(thread, job, ahead),
        receive: (thread, message) => this.receive(thread, message as ThreadMessage),
      },
    });
    this.executor = callsOn(this.core);
  }

  /** Starts the first threads and resolves when every one of them has imported the app. */
  static async start(options: ThreadPoolOptions): Promise<ThreadPool> {
    const size = options.size ?? availableParallelism();
    if (!Number.isInteger(size) || size < 1) throw new PoolSizeError(size);
    const pool = new ThreadPool(options, size);
    const failures = await pool.core.spawnAll();
    if (failures.length > 0) {
      await pool.close(0);
      throw new AppLoadError(`a pool thread could not load the app: ${failures[0] as string}`);
    }
    // toThread() in this process's handlers now runs on these threads.
    useExecutor(pool.executor);
    return pool;
  }

  /**
   * Runs `record` on the next idle thread; never rejects (503, 504 and 500 are responses). When
   * `client` closes before the response is complete, the request's `request.signal` aborts on
   * its thread. `rule`, the route's rule when the loop knows it, is how the pace of a route is
   * learnt. `trace`, the request's server span, is the active span context on the thread.
   */
  dispatch(
    record: RequestRecord,
    client?: ClientConnection,
    rule?: string,
    trace?: RequestTrace,
  ): Promise<ResponseRecord> {
    // Made here, not on the thread, so that the loop's logs know the id the handler sees.
    record.id ??= newRequestId();
    return new Promise((resolve) => {
      const task = new RequestTask(record, rule ?? null, resolve, trace ?? null);
      const placed = this.core.submit(task);
      if (placed !== "full" && placed !== "closed" && client !== undefined) {
        client.once("close", () => {
          if (!client.writableFinished) this.clientLeft(task);
        });
      }
    });
  }

  /**
   * Runs a `toThread` call on the pool's threads, in the same queue and under the same
   * --timeout as requests. `cancel` drops it if it waits, or replaces its thread if it runs.
   */
  call(
    call: ThreadCall,
    transfer: readonly ArrayBuffer[],
  ): { outcome: Promise<CallOutcome>; cancel(): void } {
    return this.executor.run(call, transfer);
  }

  /** How many threads are ready, busy, and how many requests wait. */
  stats(): PoolStats {
    return {
      ...this.core.stats(),
      takenBack: this.core.scheduler.takenBack,
      maxHeapMb: this.core.maxHeapMb,
      sentAhead: this.core.scheduler.sentAhead,
      counts: this.core.counts,
    };
  }

  /**
   * Asks every ready thread for what the app's metrics recorded since its last report (they reach
   * `onMetrics`); resolves once each has answered, or after `waitMs` (a thread running a long
   * synchronous handler answers only after it).
   */
  gatherMetrics(waitMs: number): Promise<void> {
    const threads = [...this.core.threads].filter((thread) => thread.ready && !thread.stopping);
    if (this.options.onMetrics === undefined || threads.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      let left = threads.length;
      const answered = (): void => {
        left -= 1;
        if (left === 0) done();
      };
      const timer = setTimeout(() => done(), waitMs);
      const done = (): void => {
        clearTimeout(timer);
        for (const thread of threads) {
          const waiters = this.metricWaiters.get(thread);
          const at = waiters?.indexOf(answered) ?? -1;
          if (at >= 0) waiters?.splice(at, 1);
          if (waiters?.length === 0) this.metricWaiters.delete(thread);
        }
        resolve();
      };
      for (const thread of threads) {
        const waiters = this.metricWaiters.get(thread) ?? [];
        waiters.push(answered);
        this.metricWaiters.set(thread, waiters);
        this.outbox.post(thread, { type: "report-metrics" });
        this.outbox.flush(thread);
      }
    });
  }

  /** Stops taking requests, lets running ones finish within `graceMs`, then ends every thread. */
  async close(graceMs = 0): Promise<void> {
    useExecutor(this.executor, null);
    await this.core.close(graceMs);
  }

  /** Posts `job` to `thread` (see `PoolHost.send`). */
  private send(thread: Thread, job: Job, ahead: boolean): boolean {
    if (job instanceof CallJob) {
      // Whatever was queued for the thread goes first, then the call, at once: only posting
      // tells whether its arguments can be cloned.
      this.outbox.flush(thread);
      return job.post(thread.worker);
    }
    const { id, record } = job;
    const message: LoopMessage & { type: "request" } = { type: "request", id, record };
    if (job.trace !== null) message.trace = job.trace.context;
    if (ahead) {
      // Copied, not transferred: the body must stay here in case the request is taken back.
      message.slot = job.slot;
      this.outbox.post(thread, message);
    } else {
      // A task that was sent ahead and taken back may still have a copy of its record waiting in
      // another thread's outbox: transferring the body would detach what that copy is to clone.
      const transfer = job.slot === -1 ? transferable(record.body) : [];
      job.moved = transfer.length > 0;
      this.outbox.post(thread, message, transfer);
    }
    this.tellIfLeft(thread, job);
    // A request known slow leaves at once: its thread would idle until the batch goes.
    if (!ahead && thread.lane.slow) this.outbox.flush(thread);
    return true;
  }

  private receive(thread: Thread, message: ThreadMessage): void {
    if (message.type === "broadcast") {
      this.options.onBroadcast?.(message.envelope);
      return;
    }
    if (message.type === "metrics") {
      this.options.onMetrics?.(thread.id, message.families);
      if (message.asked) {
        const waiters = this.metricWaiters.get(thread);
        this.metricWaiters.delete(thread);
        for (const wake of waiters ?? []) wake();
      }
      return;
    }
    if (message.type === "log") {
      this.options.onLog?.(message.entry);
      return;
    }
    if (message.type === "stray-error") {
      logStrayError(this.options.logger, thread.id, message);
      return;
    }
    const task = thread.lane.running;
    if (task === null || !("id" in message) || message.id !== task.id) return;
    if (message.type === "slow") {
      this.core.scheduler.saidSlow(thread.lane, performance.now());
      return;
    }
    if (!(task instanceof RequestTask)) return;
    switch (message.type) {
      case "response":
        if (message.exception !== undefined) task.trace?.recordException(message.exception);
        task.answer(message.response);
        this.core.finish(thread);
        return;
      case "head":
        this.streamFrom(thread, task, message.status, message.headers);
        return;
      case "chunk":
        // A stream keeps its deadline, renewed by each chunk and each ack: a producer that
        // stops producing holds its thread as surely as a handler that never returns.
        this.core.arm(thread, task);
        task.stream?.push(message.chunk);
        return;
      case "end":
        task.end(message.error === undefined ? undefined : new ResponseCutError(message.error));
        this.core.finish(thread);
        return;
    }
  }

  /** A streamed response begins: its body follows in chunks, each acknowledged as it is written. */
  private streamFrom(thread: Thread, task: RequestTask, status: number, headers: string[]): void {
    this.core.arm(thread, task);
    task.stream = new IncomingStream(
      () => {
        this.core.arm(thread, task);
        this.outbox.post(thread, { type: "ack", id: task.id });
      },
      () => this.cancel(thread, task),
    );
    task.answer({ status, headers, body: task.stream });
    // A stream holds its thread for as long as the client reads: nothing waits behind it.
    this.core.scheduler.streams(thread.lane, performance.now());
  }

  /** The client left a streamed response: the producer must stop, or its thread is replaced. */
  private cancel(thread: Thread, task: RequestTask): void {
    task.end();
    this.outbox.post(thread, { type: "cancel", id: task.id });
    // A producer stuck inside `next()` never sees the cancel; give it a moment, then replace.
    this.core.deadlines.watch(task, CANCEL_GRACE_MS, () => {
      if (thread.lane.running !== task) return;
      this.options.logger.warn(
        `${task.name} kept producing after its client left; its thread ${thread.id} is being replaced`,
      );
      this.core.replaceThread(thread, { kind: "stopped" });
    });
  }

  /** A request's client left: the thread that holds it (running or sent ahead) is told. */
  private clientLeft(task: RequestTask): void {
    task.left = true;
    // A streamed body's own cancel tells the thread (see IncomingStream).
    if (task.stream !== null) return;
    for (const thread of this.core.threads) {
      const lane = thread.lane;
      if (lane.running === task || lane.ahead.includes(task)) this.tellIfLeft(thread, task);
    }
  }

  private tellIfLeft(thread: Thread, task: RequestTask): void {
    if (task.left) this.outbox.post(thread, { type: "cancel", id: task.id });
  }

  /**
   * Records are plain data, so a batch that cannot be posted is not expected. Should it happen,
   * what the thread holds fails and the thread is replaced, rather than anything waiting for an
   * answer.
   */
  private unreachable(thread: Thread, error: unknown): void {
    this.options.logger.error(
      `pool thread ${thread.id} could not be sent its requests; replacing it`,
      error,
    );
    this.core.replaceThread(thread, { kind: "unreachable" });
  }
}

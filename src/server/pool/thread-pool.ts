// Design: the thread pool of one process. `size` worker threads start at boot, each importing
// the app module, and take one request at a time: a synchronous handler owns its thread while
// it runs, so N threads run N handlers in parallel. Requests wait in one bounded FIFO queue
// for the next idle thread (which is then, by construction, the least busy); a full queue
// answers 503 at once. A request past its deadline cannot be interrupted inside JavaScript, so
// its thread is terminated and replaced, which Node can do and CPython cannot. Each thread's
// heap is bounded (`maxHeapMb`); one that outgrows it, or otherwise dies (process.exit in the
// app), fails the request it was running with a 500 and is replaced. What was sent to it and
// had not started runs on another thread (the thread says which request it started last in
// shared memory), so a death touches one request only, and nothing waits for an answer that
// will never come. An error thrown outside a request does not end a thread (stray-errors.ts).
// All state lives on the loop's thread and changes only in message and timer callbacks.
//
// A thread that finished a request would sit idle for a whole round trip (its answer reaching
// the loop, the next request reaching it) while requests queue. So when every thread is busy,
// each may be sent up to AHEAD requests ahead, which it starts in turn as soon as it is free.
// A request sent ahead is taken back (one compare-and-swap on memory shared with the thread,
// so it never runs twice) when another thread falls idle, when the one before it turns into a
// stream or runs longer than SLOW_MS, or when its thread is stopped: a quick request never
// waits long behind a slow one, as it would not in one shared queue.
//
// Messages to a thread leave together once the loop has handled what woke it (setImmediate),
// and a thread sends the answers to quick requests back together: one message, one wake-up
// and one callback per batch instead of per request is most of what a thread costs the loop.
// A request whose route the threads last said was slow is known slow from its start: nothing
// is sent ahead to its thread (to be taken back a moment later), and it leaves at once, since
// it gains nothing from company and its thread idles until it comes.

import { availableParallelism } from "node:os";
import { performance } from "node:perf_hooks";
import type { Worker } from "node:worker_threads";
import {
  GatewayTimeout,
  InternalServerError,
  ServiceUnavailable,
  exceptionResponse,
  prefersJson,
  type BroadcastEnvelope,
  type ClientConnection,
  type HTTPException,
  type RequestRecord,
  type ResponseRecord,
} from "../../framework/internal.ts";
import { AppLoadError } from "../loading/load-app.ts";
import { unsendable, type CallOutcome, type ThreadCall } from "../../threading/internal.ts";
import { defaultThreadHeapMb, heapLimits } from "../../threading/internal.ts";
import { namedSharedValues } from "../../threading/internal.ts";
import { entryUrl, spawnThread } from "../../threading/internal.ts";
import { useExecutor, type CallExecutor } from "../../threading/internal.ts";
import { IncomingStream } from "./incoming-stream.ts";
import {
  transferable,
  type LoopMessage,
  type ThreadData,
  type ThreadMessage,
} from "./wire-protocol.ts";

/** Where the pool reports threads that time out, crash or fail to boot. */
export interface PoolLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string, error?: unknown): void;
}

/** Options of `ThreadPool.start`. */
export interface ThreadPoolOptions {
  /** `path/to/app.ts[:export]`: the module each thread imports. */
  appSpec: string;
  /** Number of threads (≥ 1); default: one per core. */
  size?: number;
  /** A request running longer than this (ms) gets a 504 and its thread is replaced; 0 = never. */
  timeoutMs: number;
  /** Requests that may wait for a thread; one more is answered 503 (`--max-queue`). */
  maxQueue: number;
  /** Replace a thread after this many requests (0 = never), plus up to `maxRequestsJitter`. */
  maxRequests: number;
  maxRequestsJitter: number;
  logger: PoolLogger;
  /**
   * Largest JS heap (MB) of each thread: a request that outgrows it gets a 500 and its thread is
   * replaced. Default: sized from the machine (`defaultThreadHeapMb`); 0 leaves V8's own limit.
   */
  maxHeapMb?: number;
  /** A handler on a thread broadcast to a room (the loop holds the sockets). */
  onBroadcast?: (envelope: BroadcastEnvelope) => void;
}

/** A snapshot of the pool, for banners and tests. */
export interface PoolStats {
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
}

/**
 * Requests each busy thread may hold ahead of the one it runs. One keeps a thread from idling
 * between requests; more let it take the next ones without waiting for the loop to wake it.
 * They are spread evenly, and taken back when a thread falls idle or one runs long.
 */
export const AHEAD = 16;

/**
 * A request running this long (ms, as the loop sees it) is slow: nothing more is sent ahead to
 * its thread, and what waits there is taken back for a thread that is free sooner. Well above
 * the time a thread holds quick answers back (thread-main's HOLD_MS).
 */
const SLOW_MS = 2;

/** How long a streamed body's producer may take to stop after its client left. */
const CANCEL_GRACE_MS = 1000;
/** The slowest the deadline sweep runs; a short --timeout makes it run more often. */
const MAX_SWEEP_MS = 100;

// The thread imports thread-main in this file's own flavour (.ts from a checkout, .js from the
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

interface Task {
  /**
   * Names it in the messages to and from the thread it was last posted to: a fresh id for each
   * post, so a copy left on a thread by a take-back can never claim the slot of a later copy.
   */
  id: number;
  record: RequestRecord;
  /** A toThread call that runs instead of the app; its outcome comes with the response. */
  call: { call: ThreadCall; transfer: readonly ArrayBuffer[] } | null;
  resolve: (response: ResponseRecord, outcome?: CallOutcome) => void;
  /** When `overdue` runs (`performance.now()` time); checked by the pool's one sweep timer. */
  deadline: number;
  overdue: (() => void) | null;
  stream: IncomingStream | null;
  /** Its client left before the answer was complete: the thread is told (`cancel`). */
  left: boolean;
  /** Its slot in the thread's `claim` while it is sent ahead. */
  slot: number;
  /** Its route's rule, when the loop knows it: how fast the route runs is learnt by it. */
  rule: string | null;
  /** Its thread said it may be slow. */
  saidSlow: boolean;
  /** Its body or arguments were transferred to a thread: it cannot be sent to another. */
  moved: boolean;
}

interface Thread {
  worker: Worker;
  /** `worker.threadId`, which reads -1 once the thread has exited. */
  id: number;
  ready: boolean;
  /** The task it runs (at most one), and whether it was told to stop (no replacement then). */
  task: Task | null;
  /** The tasks sent ahead, oldest first, waiting on the thread for `task` to finish. */
  ahead: Task[];
  /** See `ThreadData.claim`. */
  claim: Int32Array;
  /** See `ThreadData.started`. */
  started: Int32Array;
  /** What the thread died of, when Node said (its `error` event comes before `exit`). */
  fault: Error | null;
  /** When `task` started, as far as the loop knows (`performance.now()`). */
  since: number;
  /** `task` may be slow (its route was, or its thread said so): nothing waits behind it. */
  slow: boolean;
  /** Messages waiting to leave together (see `flush`), and the buffers they transfer. */
  outbox: LoopMessage[];
  transfer: ArrayBuffer[];
  served: number;
  retireAfter: number;
  stopping: boolean;
}

/** The record a toThread call travels under (its url names the function, for the logs). */
const CALL_RECORD: RequestRecord = {
  method: "CALL",
  url: "toThread",
  // The pool's own error responses then come as JSON, whose description callFailure reads.
  headers: { accept: "application/json" },
  body: null,
  remoteAddress: "",
  scheme: "http",
};

/** The response a call whose arguments could not be sent settles with, beside its outcome. */
const CALL_NOT_SENT: ResponseRecord = { status: 500, headers: [], body: null };

/** A call the pool answered with an error response (full queue, --timeout, a dead thread). */
function callFailure(response: ResponseRecord): CallOutcome {
  const body = response.body;
  const text =
    typeof body === "string"
      ? body
      : body instanceof Uint8Array
        ? new TextDecoder().decode(body)
        : "";
  let description = text.trim();
  try {
    description = (JSON.parse(text) as { error: { description: string } }).error.description;
  } catch {
    // Not the pool's JSON error: keep the text.
  }
  const [name, code] =
    response.status === 504
      ? ["ThreadingTimeoutError", "ERR_THREADING_TIMEOUT"]
      : response.status === 503
        ? ["ThreadingError", "ERR_POOL_UNAVAILABLE"]
        : ["ThreadDiedError", "ERR_THREAD_DIED"];
  return {
    ok: false,
    error: { name, code, message: `the thread pool could not run the call: ${description}` },
  };
}

/** The lowest slot of `thread.claim` that no task sent ahead holds, or -1. */
function freeSlot(thread: Thread): number {
  let used = 0;
  for (const task of thread.ahead) used |= 1 << task.slot;
  const slot = 31 - Math.clz32(~used & (used + 1));
  return slot < AHEAD ? slot : -1;
}

function errorRecord(record: RequestRecord, error: HTTPException): ResponseRecord {
  return exceptionResponse(error, prefersJson(record.headers.accept)).toRecord(record.method);
}

/** The largest request id; the next one is 1 again. */
const MAX_ID = 0x7fffffff;

/**
 * Whether id `a` was taken after id `b`, across the wrap from MAX_ID to 1: the ids in flight
 * at once are far fewer than 2^30, so the shorter way round the circle is the true order.
 * @internal
 */
export function isAfter(a: number, b: number): boolean {
  const ahead = (a - b + MAX_ID) % MAX_ID;
  return ahead > 0 && ahead < 2 ** 30;
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
  private readonly threads = new Set<Thread>();
  private readonly queue: Task[] = [];
  private nextId = 1;
  private closing = false;
  private respawnDelayMs = 0;
  private sweeper: NodeJS.Timeout | null = null;
  private sweepMs = MAX_SWEEP_MS;
  private idleWaiters: (() => void)[] = [];
  /** The rules of the routes whose last request its thread said may be slow. */
  private readonly slowRules = new Set<string>();
  private takenBack = 0;
  /** Threads with queued messages, and whether a `flush` is scheduled. */
  private readonly unsent: Thread[] = [];
  private flushing = false;
  private readonly executor: CallExecutor = { run: (call, transfer) => this.call(call, transfer) };
  private readonly maxHeapMb: number;

  private constructor(private readonly options: ThreadPoolOptions) {
    this.maxHeapMb = options.maxHeapMb ?? defaultThreadHeapMb();
  }

  /** Starts the threads and resolves when every one has imported the app. */
  static async start(options: ThreadPoolOptions): Promise<ThreadPool> {
    const size = options.size ?? availableParallelism();
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(`a thread pool needs at least 1 thread, got ${size}`);
    }
    const pool = new ThreadPool(options);
    const boots = Array.from({ length: size }, () => pool.spawnThread());
    const failures = (await Promise.all(boots)).filter((failure) => failure !== null);
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
   * its thread.
   */
  dispatch(
    record: RequestRecord,
    client?: ClientConnection,
    rule?: string,
  ): Promise<ResponseRecord> {
    return new Promise((resolve) => {
      const task = this.enqueue(record, null, resolve, rule ?? null);
      if (task !== null && client !== undefined) {
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
    let task: Task | null = null;
    const record: RequestRecord = { ...CALL_RECORD, url: `toThread(${call.target.name})` };
    const outcome = new Promise<CallOutcome>((settle) => {
      task = this.enqueue(record, { call, transfer }, (response, result) =>
        settle(result ?? callFailure(response)),
      );
    });
    return { outcome, cancel: () => task !== null && this.drop(task) };
  }

  private enqueue(
    record: RequestRecord,
    call: Task["call"],
    resolve: Task["resolve"],
    rule: string | null = null,
  ): Task | null {
    if (this.closing) {
      resolve(errorRecord(record, new ServiceUnavailable("The server is shutting down.")));
      return null;
    }
    const task: Task = {
      id: 0,
      record,
      call,
      resolve,
      deadline: Infinity,
      overdue: null,
      stream: null,
      left: false,
      slot: -1,
      rule,
      saidSlow: false,
      moved: false,
    };
    const idle = this.idleThread();
    if (idle !== null) this.run(idle, task);
    // Requests sent ahead wait too: --max-queue counts them.
    else if (this.waiting() >= this.options.maxQueue) resolve(this.queueFull(record));
    else if (this.queue.length > 0 || !this.sendAheadToAny(task)) this.queue.push(task);
    return task;
  }

  /** An aborted call: out of the queue, or its thread replaced, since a thread cannot be interrupted. */
  private drop(task: Task): void {
    const queued = this.queue.indexOf(task);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      return;
    }
    for (const thread of this.threads) {
      if (thread.task !== task) continue;
      this.options.logger.warn(
        `${task.record.url} was aborted; its thread ${thread.id} is being replaced`,
      );
      this.settle(task);
      thread.task = null;
      void this.stopThread(thread);
      void this.replace();
      return;
    }
  }

  /** Runs `task` on an idle thread, or sends it ahead to a busy one; `false` when neither. */
  private place(task: Task): boolean {
    const idle = this.idleThread();
    if (idle === null) return this.sendAheadToAny(task);
    this.run(idle, task);
    return true;
  }

  /** Sends `task` ahead to the thread that holds the fewest, unless none may take it. */
  private sendAheadToAny(task: Task): boolean {
    // A call may be aborted, which only terminating its thread can do: it never waits on one.
    if (task.call !== null) return false;
    const now = performance.now();
    let fewest: Thread | null = null;
    for (const thread of this.threads) {
      if (
        this.takesAhead(thread, now) &&
        (fewest === null || thread.ahead.length < fewest.ahead.length)
      ) {
        fewest = thread;
      }
    }
    return fewest !== null && this.sendAhead(fewest, task);
  }

  /** Whether `thread` may be sent one more request to start after the one it runs. */
  private takesAhead(thread: Thread, now: number): boolean {
    const running = thread.task;
    return (
      thread.ready &&
      !thread.stopping &&
      running !== null &&
      running.stream === null &&
      !thread.slow &&
      now - thread.since < SLOW_MS &&
      thread.ahead.length < AHEAD &&
      thread.served + 1 + thread.ahead.length < thread.retireAfter
    );
  }

  private sendAhead(thread: Thread, task: Task): boolean {
    const slot = freeSlot(thread);
    // A slot still holding a request the thread has not started (it runs next) is not free.
    if (slot < 0) return false;
    const before = Atomics.load(thread.claim, slot);
    const id = this.takeId();
    if (before > 0 || Atomics.compareExchange(thread.claim, slot, before, id) !== before) {
      return false;
    }
    task.id = id;
    task.slot = slot;
    thread.ahead.push(task);
    // Copied, not transferred: the body must stay here in case the request is taken back.
    this.post(thread, { type: "request", id: task.id, record: task.record, slot });
    this.tellIfLeft(thread, task);
    return true;
  }

  /** Takes back the oldest task sent ahead to `thread` that the thread has not started. */
  private takeBack(thread: Thread): Task | null {
    const ahead = thread.ahead;
    for (let index = 0; index < ahead.length; index += 1) {
      const task = ahead[index] as Task;
      // The thread starts them in order: once one is its own, the next may still be free.
      if (Atomics.compareExchange(thread.claim, task.slot, task.id, 0) === task.id) {
        ahead.splice(index, 1);
        this.takenBack += 1;
        return task;
      }
    }
    return null;
  }

  /** Takes back every task sent ahead to `thread` that it has not started, oldest first. */
  private takeBackAll(thread: Thread): Task[] {
    const taken: Task[] = [];
    for (let task = this.takeBack(thread); task !== null; task = this.takeBack(thread)) {
      taken.push(task);
    }
    return taken;
  }

  /**
   * The thread is stopping: its tasks sent ahead run elsewhere if it has not started them, or
   * fail with `error` if it had (they may have had effects; none is ever run twice).
   */
  private rescueAhead(thread: Thread, error: HTTPException): void {
    const taken = this.takeBackAll(thread);
    // What could not be taken back, the thread had started.
    for (const task of thread.ahead.splice(0)) {
      this.settle(task);
      task.resolve(errorRecord(task.record, error));
    }
    if (this.closing) {
      for (const task of taken) task.resolve(errorRecord(task.record, error));
    } else this.queue.unshift(...taken);
  }

  /** How many threads are ready, busy, and how many requests wait. */
  stats(): PoolStats {
    const live = [...this.threads].filter((thread) => thread.ready && !thread.stopping);
    return {
      threads: live.length,
      busy: live.filter((thread) => thread.task !== null).length,
      queued: this.waiting(),
      threadIds: live.map((thread) => thread.id),
      takenBack: this.takenBack,
      maxHeapMb: this.maxHeapMb,
    };
  }

  /** Stops taking requests, lets running ones finish within `graceMs`, then ends every thread. */
  async close(graceMs = 0): Promise<void> {
    this.closing = true;
    useExecutor(this.executor, null);
    const waiting = [...this.threads].flatMap((thread) => this.takeBackAll(thread));
    for (const task of [...this.queue.splice(0), ...waiting]) {
      task.resolve(
        errorRecord(task.record, new ServiceUnavailable("The server is shutting down.")),
      );
    }
    if (graceMs > 0 && this.isBusy()) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.idleWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    await Promise.all([...this.threads].map((thread) => this.stopThread(thread)));
    if (this.sweeper !== null) clearInterval(this.sweeper);
    this.sweeper = null;
  }

  private queueFull(record: RequestRecord): ResponseRecord {
    const size = this.threads.size;
    return errorRecord(
      record,
      new ServiceUnavailable(
        `All ${size} thread${size === 1 ? " is" : "s are"} busy and ${this.waiting()} requests are waiting (--max-queue); try again shortly.`,
        { headers: { "Retry-After": "1" } },
      ),
    );
  }

  private idleThread(): Thread | null {
    for (const thread of this.threads) {
      if (thread.ready && !thread.stopping && thread.task === null) return thread;
    }
    return null;
  }

  /** Requests waiting for a thread: in the queue, or sent ahead to a busy one. */
  private waiting(): number {
    let ahead = 0;
    for (const thread of this.threads) ahead += thread.ahead.length;
    return this.queue.length + ahead;
  }

  private isBusy(): boolean {
    return [...this.threads].some((thread) => thread.task !== null || thread.ahead.length > 0);
  }

  /** Starts one thread; resolves `null` once it is ready, or the module's error if it is not. */
  private spawnThread(): Promise<string | null> {
    const claim = new Int32Array(new SharedArrayBuffer(4 * AHEAD));
    const started = new Int32Array(new SharedArrayBuffer(4));
    const data: ThreadData = {
      appSpec: this.options.appSpec,
      claim: claim.buffer as SharedArrayBuffer,
      started: started.buffer as SharedArrayBuffer,
      "carafe.shared": namedSharedValues(),
    };
    const resourceLimits = heapLimits(this.maxHeapMb);
    const worker = spawnThread(THREAD_MAIN, { ...data }, resourceLimits ? { resourceLimits } : {});
    const thread: Thread = {
      worker,
      id: worker.threadId,
      ready: false,
      task: null,
      ahead: [],
      claim,
      started,
      fault: null,
      since: 0,
      slow: false,
      outbox: [],
      transfer: [],
      served: 0,
      retireAfter: requestsBeforeRetiring(this.options.maxRequests, this.options.maxRequestsJitter),
      stopping: false,
    };
    this.threads.add(thread);
    return new Promise((settle) => {
      let booted = false;
      const receive = (message: ThreadMessage): void => {
        if (message.type === "ready") {
          booted = true;
          thread.ready = true;
          this.respawnDelayMs = 0;
          settle(null);
          this.pump();
        } else if (message.type === "boot-failed") {
          booted = true;
          settle(message.message);
          void this.stopThread(thread);
        } else if (message.type === "broadcast") this.options.onBroadcast?.(message.envelope);
        else if (message.type === "stray-error") this.logStrayError(thread, message);
        else this.onThreadMessage(thread, message);
      };
      // Answers that were ready together come as one array.
      worker.on("message", (message: ThreadMessage | ThreadMessage[]) => {
        if (!Array.isArray(message)) receive(message);
        else for (const each of message) receive(each);
      });
      // The thread is gone only at `exit`: until then it may still start what it was sent.
      worker.on("error", (error) => {
        if (!booted) {
          booted = true;
          settle(error.stack ?? error.message);
        }
        thread.fault = error;
      });
      worker.on("exit", (code) => {
        if (!booted) settle(`the thread exited with code ${code} while loading the app`);
        this.onThreadDeath(thread, code);
      });
    });
  }

  /** Queues `message` for `thread`; the queue leaves once the loop is done with this turn. */
  private post(thread: Thread, message: LoopMessage, transfer: readonly ArrayBuffer[] = []): void {
    if (thread.outbox.length === 0) this.unsent.push(thread);
    thread.outbox.push(message);
    for (const buffer of transfer) thread.transfer.push(buffer);
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(this.flush);
    }
  }

  /** Sends every thread its queued messages, as one message each (an array when several). */
  private readonly flush = (): void => {
    this.flushing = false;
    for (const thread of this.unsent.splice(0)) this.send(thread);
  };

  private send(thread: Thread): void {
    const { outbox, transfer } = thread;
    if (outbox.length === 0) return;
    thread.outbox = [];
    thread.transfer = [];
    // A stopped thread's tasks were rescued or failed when it stopped.
    if (thread.stopping) return;
    try {
      thread.worker.postMessage(outbox.length === 1 ? outbox[0] : outbox, transfer);
    } catch (error) {
      // Records are plain data, so this is not expected. Should it happen, what the thread holds
      // fails and the thread is replaced, rather than anything waiting for an answer.
      this.options.logger.error(
        `pool thread ${thread.id} could not be sent its requests; replacing it`,
        error,
      );
      const lost = new InternalServerError("The request could not reach a thread.");
      for (const task of [thread.task, ...thread.ahead.splice(0)]) {
        if (task === null) continue;
        this.settle(task);
        if (task.stream !== null) task.stream.finish(new Error(lost.description));
        else task.resolve(errorRecord(task.record, lost));
      }
      thread.task = null;
      void this.stopThread(thread);
      void this.replace();
    }
  }

  /**
   * A fresh request id. Ids live in shared Int32 slots (a claimed one is stored negated), so
   * they run from 1 to 2^31 - 1 and start again at 1: a worker at 20,000 requests a second
   * gets there in about 30 hours. Ids are compared with `isAfter`, which holds across the wrap.
   */
  private takeId(): number {
    const id = this.nextId;
    this.nextId = id === MAX_ID ? 1 : id + 1;
    return id;
  }

  private run(thread: Thread, task: Task): void {
    task.id = this.takeId();
    this.start(thread, task);
    if (task.call !== null) {
      const { call, transfer } = task.call;
      // Whatever was queued for the thread goes first, then the call, at once: only posting
      // tells whether its arguments can be cloned.
      this.send(thread);
      task.moved = transfer.length > 0;
      try {
        thread.worker.postMessage({ type: "request", id: task.id, record: task.record, call }, [
          ...transfer,
        ]);
      } catch (error) {
        // Its arguments could not be cloned: the call never reached the thread, still free.
        thread.task = null;
        task.resolve(CALL_NOT_SENT, unsendable(error));
        return;
      }
    } else {
      // A task that was sent ahead and taken back may still have a copy of its record waiting in
      // another thread's outbox: transferring the body would detach what that copy is to clone.
      const transfer = task.slot === -1 ? transferable(task.record.body) : [];
      task.moved = transfer.length > 0;
      this.post(thread, { type: "request", id: task.id, record: task.record }, transfer);
      this.tellIfLeft(thread, task);
      if (thread.slow) this.send(thread);
    }
    this.arm(thread, task);
  }

  /** `task` is `thread`'s from now; slow from the start if its route was slow last time. */
  private start(thread: Thread, task: Task): void {
    thread.task = task;
    thread.since = performance.now();
    thread.slow = task.rule !== null && this.slowRules.has(task.rule);
  }

  /** What `task`'s thread said of its pace is what the next request on its route expects. */
  private learnPace(task: Task): void {
    if (task.rule === null) return;
    if (task.saidSlow) this.slowRules.add(task.rule);
    else this.slowRules.delete(task.rule);
  }

  /** A request's client left: the thread that holds it (running or sent ahead) is told. */
  private clientLeft(task: Task): void {
    task.left = true;
    // A streamed body's own cancel tells the thread (see IncomingStream).
    if (task.stream !== null) return;
    for (const thread of this.threads) {
      if (thread.task === task || thread.ahead.includes(task)) this.tellIfLeft(thread, task);
    }
  }

  private tellIfLeft(thread: Thread, task: Task): void {
    if (task.left) this.post(thread, { type: "cancel", id: task.id });
  }

  private pump(): void {
    // Once closing, the queue has been answered; what runs or waits on a thread finishes there.
    if (this.closing) return;
    this.rescueFromSlow();
    while (this.queue.length > 0) {
      if (!this.place(this.queue[0] as Task)) return;
      this.queue.shift();
    }
    // Nothing queued: a thread that is idle takes over a request waiting behind a busy one.
    for (let idle = this.idleThread(); idle !== null; idle = this.idleThread()) {
      let moved: Task | null = null;
      for (const thread of this.threads) {
        if (thread !== idle && (moved = this.takeBack(thread)) !== null) break;
      }
      if (moved === null) return;
      this.run(idle, moved);
    }
  }

  /** What waits behind `thread`'s task goes back to the front of the queue, for another thread. */
  private requeueAhead(thread: Thread): void {
    const waiting = this.takeBackAll(thread);
    if (waiting.length === 0) return;
    this.queue.unshift(...waiting);
    this.pump();
  }

  /**
   * Requests waiting behind one that has run SLOW_MS or more go back to the front of the queue,
   * for whichever thread is free first: a quick request does not wait out a slow one.
   */
  private rescueFromSlow(): void {
    let now = 0;
    let rescued: Task[] | null = null;
    for (const thread of this.threads) {
      if (thread.ahead.length === 0) continue;
      if (now === 0) now = performance.now();
      if (now - thread.since < SLOW_MS) continue;
      const taken = this.takeBackAll(thread);
      if (taken.length > 0) rescued = rescued === null ? taken : [...rescued, ...taken];
    }
    if (rescued !== null) this.queue.unshift(...rescued);
  }

  private onThreadMessage(thread: Thread, message: ThreadMessage): void {
    const task = thread.task;
    if (task === null || !("id" in message) || message.id !== task.id) return;
    switch (message.type) {
      case "slow":
        thread.slow = true;
        task.saidSlow = true;
        this.requeueAhead(thread);
        return;
      case "response":
        this.learnPace(task);
        this.settle(task);
        task.resolve(message.response, message.outcome);
        this.finishTask(thread);
        return;
      case "head":
        // A stream keeps its deadline, renewed by each chunk and each ack: a producer that
        // stops producing holds its thread as surely as a handler that never returns.
        this.arm(thread, task);
        task.stream = new IncomingStream(
          () => {
            this.arm(thread, task);
            this.post(thread, { type: "ack", id: task.id });
          },
          () => this.cancel(thread, task),
        );
        task.resolve({ status: message.status, headers: message.headers, body: task.stream });
        // A stream holds its thread for as long as the client reads: nothing waits behind it.
        this.requeueAhead(thread);
        return;
      case "chunk":
        this.arm(thread, task);
        task.stream?.push(message.chunk);
        return;
      case "end":
        this.learnPace(task);
        this.settle(task);
        task.stream?.finish(message.error === undefined ? undefined : new Error(message.error));
        this.finishTask(thread);
        return;
    }
  }

  private arm(thread: Thread, task: Task): void {
    const timeoutMs = this.options.timeoutMs;
    if (timeoutMs > 0) this.watch(task, timeoutMs, () => this.timeOut(thread, task));
  }

  /**
   * Runs `overdue` once `ms` have passed unless the task settles first. One interval timer
   * checks every running task, so arming costs a clock read, not a timer per request.
   */
  private watch(task: Task, ms: number, overdue: () => void): void {
    task.deadline = performance.now() + ms;
    task.overdue = overdue;
    this.sweepMs = Math.min(this.sweepMs, Math.max(10, ms / 10));
    if (this.sweeper === null) {
      this.sweeper = setInterval(() => this.sweep(), this.sweepMs);
      this.sweeper.unref();
    }
  }

  private sweep(): void {
    const now = performance.now();
    let watching = false;
    for (const thread of [...this.threads]) {
      const task = thread.task;
      if (task === null || task.overdue === null) continue;
      if (task.deadline > now) {
        watching = true;
        continue;
      }
      const overdue = task.overdue;
      this.settle(task);
      overdue();
    }
    if (!watching && this.sweeper !== null) {
      clearInterval(this.sweeper);
      this.sweeper = null;
      this.sweepMs = MAX_SWEEP_MS;
    }
  }

  /** The client left a streamed response: the producer must stop, or its thread is replaced. */
  private cancel(thread: Thread, task: Task): void {
    this.settle(task);
    this.post(thread, { type: "cancel", id: task.id });
    // A producer stuck inside `next()` never sees the cancel; give it a moment, then replace.
    this.watch(task, CANCEL_GRACE_MS, () => {
      if (thread.task !== task) return;
      this.options.logger.warn(
        `${task.record.method} ${task.record.url} kept producing after its client left; its thread ${thread.id} is being replaced`,
      );
      thread.task = null;
      void this.stopThread(thread);
      void this.replace();
    });
  }

  private settle(task: Task): void {
    task.overdue = null;
    task.deadline = Infinity;
  }

  private finishTask(thread: Thread): void {
    thread.task = null;
    thread.slow = false;
    thread.served += 1;
    // The thread has started (or is starting) the oldest task sent ahead: it runs now.
    const next = thread.ahead.shift();
    if (next !== undefined) {
      this.start(thread, next);
      this.arm(thread, next);
    }
    // (Nothing is sent ahead to a thread about to retire; were it, it would retire after it.)
    if (thread.task === null && thread.served >= thread.retireAfter && !this.closing) {
      this.options.logger.info(
        `thread ${thread.id} served ${thread.served} requests (--max-requests); replacing it`,
      );
      void this.stopThread(thread);
      void this.replace();
    }
    if (this.idleWaiters.length > 0 && !this.isBusy()) {
      for (const wake of this.idleWaiters.splice(0)) wake();
    }
    this.pump();
  }

  private timeOut(thread: Thread, task: Task): void {
    if (thread.task !== task) return;
    const seconds = this.options.timeoutMs / 1000;
    const limit = `${seconds} second${seconds === 1 ? "" : "s"}`;
    this.options.logger.error(
      `${task.record.method} ${task.record.url} ran past the ${limit} timeout (--timeout); its thread ${thread.id} was stopped and is being replaced`,
    );
    thread.task = null;
    if (task.stream !== null) {
      // The head is sent already: all that is left is to cut the response short.
      task.stream.finish(new Error(`the streamed response stalled for ${limit}`));
    } else {
      task.resolve(
        errorRecord(
          task.record,
          new GatewayTimeout(
            `The request took longer than ${limit}, the server's time limit, and was stopped.`,
          ),
        ),
      );
    }
    void this.stopThread(thread);
    void this.replace();
  }

  /** Ends a thread on purpose: no replacement is started for it here. */
  private stopThread(thread: Thread): Promise<void> {
    thread.stopping = true;
    this.threads.delete(thread);
    this.rescueAhead(
      thread,
      new ServiceUnavailable("The thread this request was waiting for was stopped; try again."),
    );
    this.pump();
    return thread.worker.terminate().then(() => undefined);
  }

  /**
   * A thread ended without being asked (it outgrew its heap, the app called process.exit): the
   * request it was running gets a 500, what it had not started runs on another thread, and a
   * new thread takes its place.
   */
  private onThreadDeath(thread: Thread, code: number): void {
    if (thread.stopping) return;
    thread.stopping = true;
    this.threads.delete(thread);
    // The thread is gone: what it wrote last is final.
    const last = Atomics.load(thread.started, 0);
    const task = thread.task;
    thread.task = null;
    const running = [task, ...thread.ahead].find((each) => each?.id === last) ?? null;
    const outOfHeap =
      (thread.fault as { code?: string } | null)?.code === "ERR_WORKER_OUT_OF_MEMORY";
    if (thread.ready) this.options.logger.error(this.deathNotice(thread, code, running, outOfHeap));
    const died = new InternalServerError(
      outOfHeap
        ? "The request needed more memory than a thread of this server may use."
        : "The thread running this request stopped unexpectedly.",
    );
    // Sent ahead: what the thread had started fails, the rest goes back to the queue.
    this.rescueAhead(thread, died);
    if (task !== null) {
      this.settle(task);
      // The thread starts what it is sent in order: it started this task if it started this
      // one or a later one (0: it started nothing yet).
      const started = last === task.id || (last !== 0 && isAfter(last, task.id));
      if (!started) this.resend(task);
      else if (task.stream) task.stream.finish(new Error("the pool thread died while streaming"));
      else task.resolve(errorRecord(task.record, died));
    }
    this.pump();
    if (thread.ready && !this.closing) void this.replace();
  }

  /** What the log says of a thread that died: its id, its exit code or cause, its request. */
  private deathNotice(
    thread: Thread,
    code: number,
    running: Task | null,
    outOfHeap: boolean,
  ): string {
    const where =
      running === null
        ? "between requests"
        : `while running ${running.record.method} ${running.record.url}`;
    if (outOfHeap) {
      const bound =
        this.maxHeapMb > 0 ? `its heap bound of ${this.maxHeapMb} MB` : "V8's heap limit";
      return `pool thread ${thread.id} outgrew ${bound} (--thread-max-heap) ${where}; replacing it`;
    }
    const fault = thread.fault;
    const cause = fault === null ? "" : `: ${fault.stack ?? fault.message}`;
    return `pool thread ${thread.id} died (exit code ${code}) ${where}; replacing it${cause}`;
  }

  /** A task its thread died before starting goes first in the queue, for another thread. */
  private resend(task: Task): void {
    if (this.closing) {
      task.resolve(
        errorRecord(task.record, new ServiceUnavailable("The server is shutting down.")),
      );
    } else if (task.moved) {
      // Its body went with the thread; it never ran, so the client may safely send it again.
      task.resolve(
        errorRecord(
          task.record,
          new ServiceUnavailable(
            "The thread this request was sent to stopped before starting it; try again.",
            { headers: { "Retry-After": "1" } },
          ),
        ),
      );
    } else this.queue.unshift(task);
  }

  /** An error thrown on a thread outside a request's own code: logged; the thread goes on unless it was fatal. */
  private logStrayError(thread: Thread, message: ThreadMessage & { type: "stray-error" }): void {
    const what =
      message.origin === "exception" ? "An uncaught error" : "An unhandled promise rejection";
    const by = message.route === null ? "" : ` in a callback scheduled by ${message.route}`;
    const after = message.fatal
      ? "while a request ran that may wait on it; the thread ends, and that request gets a 500"
      : "outside any request; the thread keeps serving";
    this.options.logger.error(
      `${what} on pool thread ${thread.id}${by}, ${after}:\n${message.stack}`,
    );
  }

  /** Starts a thread in place of one that ended; retries with backoff if the app breaks. */
  private async replace(): Promise<void> {
    if (this.closing) return;
    if (this.respawnDelayMs > 0) {
      await new Promise((resolve) => setTimeout(resolve, this.respawnDelayMs).unref());
    }
    if (this.closing) return;
    const failure = await this.spawnThread();
    // A replacement that close() ended while it booted did not fail.
    if (failure === null || this.closing) return;
    this.respawnDelayMs = Math.min(30_000, Math.max(1000, this.respawnDelayMs * 2));
    this.options.logger.error(
      `a replacement pool thread could not load the app (retrying in ${this.respawnDelayMs / 1000} s): ${failure}`,
    );
    if (this.threads.size === 0) {
      for (const task of this.queue.splice(0)) {
        task.resolve(
          errorRecord(task.record, new ServiceUnavailable("No thread can run the app right now.")),
        );
      }
    }
    void this.replace();
  }
}

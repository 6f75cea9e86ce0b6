// Design: the one thread pool of carafe, whatever its threads run: the server's requests (with
// toThread calls among them) and toThread's own pool are both built on it. It owns the threads'
// lives (threads.ts: spawn, ready, death, replacement with backoff, heap bound, retirement after
// a number of jobs), asks the scheduler (scheduler.ts, pure) where each job goes, and enforces a
// time limit per job (deadlines.ts). What a job is and how it travels is its host's: the host
// posts jobs, reads its own messages, and calls `finish` when a job is done. Calls travel as
// their own `call` message with their own `outcome`, which the core handles itself.
//
// A thread that dies (it outgrew its heap, the app called process.exit) fails the job it was
// running, and only that one: what it was sent and had not started runs on another thread (the
// thread says which job it started last in shared memory, claims.ts), and nothing waits for an
// answer that will never come. A job past its deadline cannot be interrupted inside JavaScript,
// so its thread is terminated and replaced. All state lives on the loop's thread and changes
// only in message and timer callbacks.
//
// A lazy pool (toThread's own) starts threads only as jobs need them, up to its size, and its
// idle threads do not keep the process alive. A growing pool (the server's, by default) starts
// `initial` threads and the rest as jobs find no idle thread, up to its size, as a Python
// ThreadPoolExecutor does: idle, it holds only the threads it started with.

import { performance } from "node:perf_hooks";
import { CallJob } from "./call-job.ts";
import { freeSlot, hadStarted, JobIds, lastStarted, offer, withdraw } from "./claims.ts";
import { Deadlines } from "./deadlines.ts";
import type { Failure, PoolJob } from "./job.ts";
import type { CoreThreadMessage } from "./messages.ts";
import { Scheduler, type Courier, type Placement } from "./scheduler.ts";
import { Backoff, outgrewHeap, spawnPoolThread, type PoolThread } from "./threads.ts";

/**
 * Where a pool reports threads that time out, die or fail to boot. The framework's `Logger` is
 * one (carafe/threading imports nothing else of src/, so it says what it needs here).
 */
export interface PoolLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string, error?: unknown): void;
}

/** What a pool's owner does with its jobs: how they travel, and its own messages. */
export interface PoolHost<J extends PoolJob> {
  /**
   * Posts `job` (its `id`, and its `slot` when `ahead`) to `thread`: to start now, or to wait
   * behind what it runs. `false` when it could not be sent; the host has settled it then.
   */
  send(thread: PoolThread<J>, job: J, ahead: boolean): boolean;
  /** A message of the host's own protocol from `thread`. */
  receive?(thread: PoolThread<J>, message: unknown): void;
}

/** Options of a `PoolCore`. */
export interface PoolCoreOptions<J extends PoolJob> {
  /** The URL of the module each thread runs (see spawn.ts's `entryUrl`). */
  entry: string;
  /** The thread's workerData, beside its claim memory and the named shared values. */
  data?: Record<string, unknown>;
  /** Number of threads (≥ 1); a lazy or growing pool's most. */
  size: number;
  /**
   * Threads `spawnAll` starts (1 to `size`; default `size`); the rest start as jobs find no idle
   * thread. Not for a lazy pool, which starts none.
   */
  initial?: number;
  /** Start threads only as jobs need them; idle threads do not keep the process alive. */
  lazy?: boolean;
  /** Largest JS heap (MB) of each thread; 0: V8's own limit. */
  maxHeapMb: number;
  /** Jobs that may wait for a thread; one more fails with `full` (default: no bound). */
  maxQueue?: number;
  /** Jobs may send ahead to busy threads (default: yes). */
  sendAhead?: boolean;
  /** A job running longer than this (ms) fails and its thread is replaced; 0 = never. */
  timeoutMs?: number;
  /** How many jobs a new thread runs before it is replaced (default: no bound). */
  retireAfter?: () => number;
  logger?: PoolLogger;
  host: PoolHost<J>;
}

const SILENT: PoolLogger = { info() {}, warn() {}, error() {} };

/** Why a thread was replaced. */
export type RestartCause =
  "timeout" | "died" | "out_of_heap" | "stopped" | "unreachable" | "max_requests";

/** What befell a pool so far, as plain counts that the server's metrics read when collected. */
export interface PoolCounts {
  /** Jobs refused at once because the queue was full. */
  rejected: number;
  /** Jobs stopped past their deadline (their thread replaced). */
  timeouts: number;
  /** Threads replaced, by cause. */
  restarts: Record<RestartCause, number>;
}

/**
 * Threads, scheduling and deadlines of a pool; a host gives it jobs and says when each is done.
 *
 * @example
 * const core = new PoolCore({ entry, size: 4, maxHeapMb: 512, host });
 * await core.spawnAll();
 * core.submit(job);
 */
export class PoolCore<J extends PoolJob> {
  readonly threads = new Set<PoolThread<J>>();
  readonly scheduler: Scheduler<PoolThread<J>, J>;
  readonly deadlines = new Deadlines();
  readonly logger: PoolLogger;
  closing = false;
  readonly counts: PoolCounts = {
    rejected: 0,
    timeouts: 0,
    restarts: { timeout: 0, died: 0, out_of_heap: 0, stopped: 0, unreachable: 0, max_requests: 0 },
  };
  private readonly ids = new JobIds();
  private readonly backoff = new Backoff();
  private booting = 0;
  private idleWaiters: (() => void)[] = [];
  /** Threads started with the pool; below `size`, the pool grows as jobs need threads. */
  private readonly initial: number;
  /** A thread that failed to boot stops a growing pool from growing until then (ms). */
  private growAfter = 0;

  constructor(private readonly options: PoolCoreOptions<J>) {
    this.logger = options.logger ?? SILENT;
    this.initial = Math.min(options.initial ?? options.size, options.size);
    this.scheduler = new Scheduler(this.courier, {
      maxQueue: options.maxQueue ?? Infinity,
      ...(options.sendAhead === false ? { ahead: 0 } : {}),
    });
  }

  /** The heap bound of each thread, in MB (0: V8's own limit). */
  get maxHeapMb(): number {
    return this.options.maxHeapMb;
  }

  private readonly courier: Courier<PoolThread<J>, J> = {
    start: (thread, job) => {
      job.id = this.ids.take();
      if (!this.options.host.send(thread, job, false)) return false;
      if (this.options.lazy) thread.worker.ref();
      this.arm(thread, job);
      return true;
    },
    sendAhead: (thread, job) => {
      const slot = freeSlot(thread.lane.ahead);
      const id = this.ids.take();
      if (slot < 0 || !offer(thread.claims, slot, id)) return false;
      job.id = id;
      job.slot = slot;
      return this.options.host.send(thread, job, true);
    },
    takeBack: (thread, job) => withdraw(thread.claims, job.slot, job.id),
  };

  /** Starts the pool's first threads; resolves with the boot failures (none: all are ready). */
  async spawnAll(): Promise<string[]> {
    const boots = Array.from({ length: this.initial }, () => this.spawn());
    return (await Promise.all(boots)).filter((failure) => failure !== null);
  }

  /** Runs `job` on a thread as soon as one is free; fails it at once when the queue is full. */
  submit(job: J): Placement {
    if (this.closing) {
      job.fail({ kind: "closing" });
      return "closed";
    }
    const placed = this.scheduler.submit(job, performance.now());
    if (placed === "full") {
      this.counts.rejected += 1;
      job.fail({ kind: "full", threads: this.threads.size, waiting: this.scheduler.waiting() });
    } else if (placed === "queued" && this.options.lazy) this.grow();
    else if (placed !== "started" && placed !== "closed" && this.initial < this.options.size) {
      // No idle thread took it: one more thread, unless the pool is whole or one boots for it.
      this.grow();
    }
    return placed;
  }

  /** `thread`'s job is done (settled by the host): the next one runs. */
  finish(thread: PoolThread<J>): void {
    const lane = thread.lane;
    const done = lane.running;
    if (done !== null) this.deadlines.settle(done);
    const next = this.scheduler.finish(lane, performance.now());
    if (next !== null) this.arm(thread, next);
    if (this.scheduler.retiring(lane) && !this.closing) {
      this.logger.info(
        `thread ${thread.id} served ${lane.served} requests (--max-requests); replacing it`,
      );
      this.counts.restarts.max_requests += 1;
      void this.stop(thread);
      void this.replace();
    }
    if (this.options.lazy && lane.running === null) thread.worker.unref();
    if (this.idleWaiters.length > 0 && !this.scheduler.busy()) {
      for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }

  /** (Re)starts the time limit of `job`, which `thread` runs. */
  arm(thread: PoolThread<J>, job: J): void {
    const timeoutMs = this.options.timeoutMs ?? 0;
    if (timeoutMs > 0) this.deadlines.watch(job, timeoutMs, () => this.timeOut(thread, job));
  }

  /** Cancels `job`: out of the queue, or its thread replaced, since a thread cannot be interrupted. */
  drop(job: J): void {
    if (this.scheduler.cancel(job)) return;
    for (const thread of this.threads) {
      if (thread.lane.running !== job) continue;
      this.logger.warn(`${job.name} was aborted; its thread ${thread.id} is being replaced`);
      this.replaceThread(thread, { kind: "stopped" });
      return;
    }
  }

  /** Stops `thread` (failing its job with `failure`) and starts another in its place. */
  replaceThread(thread: PoolThread<J>, failure: Failure): void {
    const cause =
      failure.kind === "timeout" || failure.kind === "unreachable" ? failure.kind : "stopped";
    if (!thread.stopping && !this.closing) this.counts.restarts[cause] += 1;
    void this.stop(thread, failure);
    void this.replace();
  }

  /** How many threads are ready, how many run a job, how many jobs wait. */
  stats(): { size: number; threads: number; busy: number; queued: number; threadIds: number[] } {
    const live = [...this.threads].filter((thread) => thread.ready && !thread.stopping);
    return {
      size: this.options.size,
      threads: live.length,
      busy: live.filter((thread) => thread.lane.running !== null).length,
      queued: this.scheduler.waiting(),
      threadIds: live.map((thread) => thread.id),
    };
  }

  /** Stops taking jobs, lets running ones finish within `graceMs`, then ends every thread. */
  async close(graceMs = 0): Promise<void> {
    this.closing = true;
    for (const job of this.scheduler.close()) job.fail({ kind: "closing" });
    if (graceMs > 0 && this.scheduler.busy()) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.idleWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    await Promise.all([...this.threads].map((thread) => this.stop(thread)));
    this.deadlines.stop();
  }

  private timeOut(thread: PoolThread<J>, job: J): void {
    if (thread.lane.running !== job) return;
    const ms = this.options.timeoutMs ?? 0;
    const seconds = ms / 1000;
    this.counts.timeouts += 1;
    this.logger.error(
      `${job.name} ran past the ${seconds} second${seconds === 1 ? "" : "s"} timeout (--timeout); its thread ${thread.id} was stopped and is being replaced`,
    );
    this.replaceThread(thread, { kind: "timeout", ms });
  }

  /**
   * A lazy or growing pool starts a thread for each waiting job that no booting thread will
   * take. A growing pool whose new thread fails to boot says so, and grows again only after a
   * backoff.
   */
  private grow(): void {
    if (this.closing) return;
    const lazy = this.options.lazy === true;
    if (!lazy && performance.now() < this.growAfter) return;
    const wanted = this.scheduler.waiting() - this.booting;
    for (let i = 0; i < wanted && this.threads.size < this.options.size; i += 1) {
      const booted = this.spawn();
      if (lazy) continue;
      void booted.then((failure) => {
        if (failure === null || this.closing) return;
        const delayMs = this.backoff.failed();
        this.growAfter = performance.now() + delayMs;
        this.logger.error(
          `a new pool thread could not load the app (no more are started for ${delayMs / 1000} s): ${failure}`,
        );
      });
    }
  }

  /** Starts one thread; resolves `null` once it is ready, or why it could not start. */
  private spawn(): Promise<string | null> {
    const { entry, data = {}, maxHeapMb } = this.options;
    const retireAfter = this.options.retireAfter?.() ?? Infinity;
    const thread = spawnPoolThread<J>(entry, data, maxHeapMb, (self) =>
      this.scheduler.add(self, retireAfter),
    );
    this.threads.add(thread);
    this.booting += 1;
    return new Promise((settle) => {
      let booted = false;
      const boot = (failure: string | null): void => {
        if (booted) return;
        booted = true;
        this.booting -= 1;
        settle(failure);
      };
      const receive = (message: CoreThreadMessage | { type: string }): void => {
        if (message.type === "ready") {
          boot(null);
          thread.ready = true;
          this.backoff.booted();
          this.scheduler.open(thread.lane, performance.now());
          if (this.options.lazy && thread.lane.running === null) thread.worker.unref();
        } else if (message.type === "boot-failed") {
          boot((message as { message: string }).message);
          void this.stop(thread);
          this.starve();
        } else if (message.type === "outcome") {
          const { id, outcome } = message as CoreThreadMessage & { type: "outcome" };
          const job = thread.lane.running;
          if (!(job instanceof CallJob) || job.id !== id) return;
          job.settle(outcome);
          this.finish(thread);
        } else this.options.host.receive?.(thread, message);
      };
      // Messages a thread sent together come as one array.
      thread.worker.on("message", (message: CoreThreadMessage | CoreThreadMessage[]) => {
        if (!Array.isArray(message)) receive(message);
        else for (const each of message) receive(each);
      });
      // The thread is gone only at `exit`: until then it may still start what it was sent.
      thread.worker.on("error", (error) => {
        boot(error.stack ?? error.message);
        thread.fault = error;
      });
      thread.worker.on("exit", (code) => {
        boot(`the thread exited with code ${code} before it was ready`);
        this.onExit(thread, code);
      });
    });
  }

  /**
   * Takes `thread` out of the pool and ends it: its running job fails with `failure` (by
   * default: closing or stopped), what it had started of what waited on it fails, the rest runs
   * on other threads. No replacement is started here.
   */
  private stop(thread: PoolThread<J>, failure?: Failure): Promise<void> {
    if (!thread.stopping) {
      thread.stopping = true;
      this.threads.delete(thread);
      const held = this.scheduler.remove(thread.lane);
      const stopped: Failure = this.closing ? { kind: "closing" } : { kind: "stopped" };
      if (held.running !== null) this.fail(held.running, failure ?? stopped);
      for (const job of held.started) this.fail(job, { kind: "stopped" });
      if (this.closing) for (const job of held.taken) this.fail(job, stopped);
      else this.scheduler.requeue(held.taken);
      this.scheduler.pump(performance.now());
    }
    return thread.worker.terminate().then(() => undefined);
  }

  private fail(job: J, failure: Failure): void {
    this.deadlines.settle(job);
    job.fail(failure);
  }

  /**
   * A thread ended without being asked (it outgrew its heap, the app called process.exit): the
   * job it was running fails, what it had not started runs on another thread, and a new thread
   * takes its place.
   */
  private onExit(thread: PoolThread<J>, exitCode: number): void {
    if (thread.stopping) return;
    thread.stopping = true;
    this.threads.delete(thread);
    const { running, started, taken } = this.scheduler.remove(thread.lane);
    const outOfHeap = outgrewHeap(thread);
    if (thread.ready) {
      // The thread is gone: what it wrote last is final.
      const last = lastStarted(thread.claims);
      const ran = [running, ...started].find((job) => job !== null && job.id === last);
      this.logger.error(this.deathNotice(thread, exitCode, ran ?? null, outOfHeap));
    }
    const died: Failure = { kind: "died", outOfHeap, heapMb: this.options.maxHeapMb, exitCode };
    // Sent ahead and started: it may have had effects; none is ever run twice.
    for (const job of started) this.fail(job, died);
    const resend: J[] = [];
    if (running !== null) {
      this.deadlines.settle(running);
      if (hadStarted(thread.claims, running.id)) running.fail(died);
      else if (this.closing) running.fail({ kind: "closing" });
      // What it carried went with the thread; it never ran, so it may safely be sent again.
      else if (running.moved) running.fail({ kind: "lost" });
      else resend.push(running);
    }
    if (this.closing) for (const job of taken) this.fail(job, { kind: "closing" });
    else this.scheduler.requeue([...resend, ...taken]);
    this.scheduler.pump(performance.now());
    if (thread.ready && !this.closing) {
      this.counts.restarts[outOfHeap ? "out_of_heap" : "died"] += 1;
      void this.replace();
    } else this.starve();
  }

  /** A lazy or growing pool none of whose threads could start fails what waits, not hold it. */
  private starve(): void {
    const grows = this.options.lazy === true || this.initial < this.options.size;
    if (!grows || this.booting > 0) return;
    if ([...this.threads].some((thread) => thread.ready)) return;
    for (const job of this.scheduler.drain()) this.fail(job, { kind: "no-thread" });
  }

  /** What the log says of a thread that died: its id, its exit code or cause, its job. */
  private deathNotice(
    thread: PoolThread<J>,
    exitCode: number,
    running: J | null,
    outOfHeap: boolean,
  ): string {
    const where = running === null ? "between requests" : `while running ${running.name}`;
    if (outOfHeap) {
      const heapMb = this.options.maxHeapMb;
      const bound = heapMb > 0 ? `its heap bound of ${heapMb} MB` : "V8's heap limit";
      return `pool thread ${thread.id} outgrew ${bound} (--thread-max-heap) ${where}; replacing it`;
    }
    const fault = thread.fault;
    const cause = fault === null ? "" : `: ${fault.stack ?? fault.message}`;
    return `pool thread ${thread.id} died (exit code ${exitCode}) ${where}; replacing it${cause}`;
  }

  /** Starts a thread in place of one that ended; retries with backoff if its module breaks. */
  private async replace(): Promise<void> {
    if (this.closing) return;
    // A lazy or growing pool above its first threads starts one again only for waiting jobs.
    if (this.options.lazy === true || this.threads.size >= this.initial) {
      this.grow();
      return;
    }
    if (this.backoff.delayMs > 0) {
      await new Promise((resolve) => setTimeout(resolve, this.backoff.delayMs).unref());
    }
    if (this.closing) return;
    const failure = await this.spawn();
    // A replacement that close() ended while it booted did not fail.
    if (failure === null || this.closing) return;
    const delayMs = this.backoff.failed();
    this.logger.error(
      `a replacement pool thread could not load the app (retrying in ${delayMs / 1000} s): ${failure}`,
    );
    if (this.threads.size === 0) {
      for (const job of this.scheduler.drain()) this.fail(job, { kind: "no-thread" });
    }
    void this.replace();
  }
}

// Design: where each job of a thread pool runs, decided without timers, threads or a clock of
// its own (the caller passes the time), so every decision can be tested step by step with fake
// threads. Jobs wait in one bounded FIFO queue for the next idle thread (which is then, by
// construction, the least busy); one more than the bound is refused at once ("full").
//
// A thread that finished a job would sit idle for a whole round trip (its answer reaching the
// loop, the next job reaching it) while jobs queue. So when every thread is busy, each may be
// sent up to `ahead` jobs ahead, which it starts in turn as soon as it is free. A job sent ahead
// is taken back (by the courier, with one compare-and-swap on memory shared with the thread, so
// it never runs twice) when another thread falls idle, when the job before it turns into a
// stream, says it may be slow or runs longer than `slowMs`, or when its thread stops: a quick
// job never waits long behind a slow one, as it would not in one shared queue.
//
// Take-back goes from the newest job back, and stops at the first the thread has started: the
// thread starts what it was sent in order, so what it runs is always a prefix of what waits on
// it and what comes back a suffix. Taking back from the oldest would leave holes the thread skips
// over, running later jobs before the one taken back (on a one-thread pool, out of order).
//
// A job whose route the thread said was slow last time is known slow from its start: nothing is
// sent ahead to its thread (to be taken back a moment later).

/** Jobs each busy thread may hold ahead of the one it runs (the claim slots of claims.ts). */
export const AHEAD = 16;

/**
 * A job running this long (ms) is slow: nothing more is sent ahead to its thread, and what waits
 * there is taken back for a thread that is free sooner. Well above the time a pool thread holds
 * quick answers back.
 */
export const SLOW_MS = 2;

/** What the scheduler reads of a job. */
export interface Job {
  /** Its route's rule, by which the pace of its route is learnt; `null` when unknown. */
  readonly rule: string | null;
  /**
   * Whether it may wait on a busy thread. A call that may be cancelled may not: cancelling a
   * running call ends its thread, which must not take others down with it.
   */
  readonly mayWait: boolean;
}

/** What the scheduler knows of one thread: what it runs and what waits on it. */
export interface Lane<T, J> {
  readonly thread: T;
  /** Takes jobs: booted, and neither stopping nor stopped. */
  open: boolean;
  running: J | null;
  /** Jobs sent ahead, oldest first, waiting on the thread for `running` to finish. */
  readonly ahead: J[];
  /** When `running` started, as far as the caller knows. */
  since: number;
  /** `running` may be slow (its route was, or its thread said so): nothing waits behind it. */
  slow: boolean;
  /** Its thread said `running` may be slow: the next job on its route expects so. */
  saidSlow: boolean;
  /** `running` streams its answer: it holds the thread as long as its reader reads. */
  streaming: boolean;
  /** Jobs finished. */
  served: number;
  /** It takes no job once it has served this many (it is to be replaced). */
  readonly retireAfter: number;
}

/** What the scheduler asks of the threads; the pool does it (the tests, with fakes). */
export interface Courier<T, J> {
  /** Sends `job` to `thread` to start now; `false` when it could not be sent (and is settled). */
  start(thread: T, job: J): boolean;
  /** Sends `job` to wait on `thread` behind what it runs; `false` when no slot is free. */
  sendAhead(thread: T, job: J): boolean;
  /** Takes `job`, sent ahead, back from `thread`; `false` when the thread has started it. */
  takeBack(thread: T, job: J): boolean;
}

/** Where `submit` put a job. */
export type Placement = "started" | "unsent" | "ahead" | "queued" | "full" | "closed";

/** Bounds of a scheduler. */
export interface SchedulerLimits {
  /** Jobs that may wait for a thread, in the queue or sent ahead; one more is refused. */
  maxQueue: number;
  /** Jobs a busy thread may hold ahead (default `AHEAD`; 0: none). */
  ahead?: number;
  /** See `SLOW_MS`. */
  slowMs?: number;
}

/** What a thread leaving the pool held. */
export interface Held<J> {
  /** The job it ran (`null`: none). */
  running: J | null;
  /** Jobs sent ahead it had already started (it ran them, or was about to). */
  started: J[];
  /** Jobs sent ahead it had not started, taken back, oldest first. */
  taken: J[];
}

/**
 * The queue and placement of a pool's jobs over its threads.
 *
 * @example
 * const scheduler = new Scheduler(courier, { maxQueue: 100 });
 * const lane = scheduler.add(thread);
 * scheduler.open(lane, performance.now());
 * scheduler.submit(job, performance.now()); // "started"
 */
export class Scheduler<T, J extends Job> {
  readonly lanes = new Set<Lane<T, J>>();
  private readonly queue: J[] = [];
  /** The rules of the routes whose last job its thread said may be slow. */
  private readonly slowRules = new Set<string>();
  private readonly ahead: number;
  private readonly slowMs: number;
  private closed = false;
  /** Jobs taken back from a thread they were sent ahead to. */
  takenBack = 0;
  /** Jobs sent ahead to a busy thread. */
  sentAhead = 0;

  constructor(
    private readonly courier: Courier<T, J>,
    private readonly limits: SchedulerLimits,
  ) {
    this.ahead = limits.ahead ?? AHEAD;
    this.slowMs = limits.slowMs ?? SLOW_MS;
  }

  /** A new thread's lane, closed until `open`. */
  add(thread: T, retireAfter = Infinity): Lane<T, J> {
    const lane: Lane<T, J> = {
      thread,
      open: false,
      running: null,
      ahead: [],
      since: 0,
      slow: false,
      saidSlow: false,
      streaming: false,
      served: 0,
      retireAfter,
    };
    this.lanes.add(lane);
    return lane;
  }

  /** The thread is ready: it takes jobs from now. */
  open(lane: Lane<T, J>, now: number): void {
    lane.open = true;
    this.pump(now);
  }

  /** Places a new job: on an idle thread, ahead on a busy one, in the queue, or nowhere. */
  submit(job: J, now: number): Placement {
    if (this.closed) return "closed";
    const idle = this.idleLane();
    if (idle !== null) return this.startOn(idle, job, now) ? "started" : "unsent";
    // Jobs sent ahead wait too: the bound counts them.
    if (this.waiting() >= this.limits.maxQueue) return "full";
    if (this.queue.length === 0 && this.sendAheadToAny(job, now)) return "ahead";
    this.queue.push(job);
    return "queued";
  }

  /** `lane`'s job is done: the oldest job sent ahead runs now. Returns it, or `null`. */
  finish(lane: Lane<T, J>, now: number): J | null {
    const done = lane.running;
    if (done !== null && done.rule !== null) {
      // What the thread said of this job's pace is what the next one on its route expects.
      if (lane.saidSlow) this.slowRules.add(done.rule);
      else this.slowRules.delete(done.rule);
    }
    lane.running = null;
    lane.slow = false;
    lane.streaming = false;
    lane.served += 1;
    // The thread has started (or is starting) the oldest job sent ahead.
    const next = lane.ahead.shift() ?? null;
    if (next !== null) this.begin(lane, next, now);
    this.pump(now);
    return next;
  }

  /** Whether `lane` has served its share and runs nothing: it is to be replaced. */
  retiring(lane: Lane<T, J>): boolean {
    return lane.running === null && lane.ahead.length === 0 && lane.served >= lane.retireAfter;
  }

  /** `lane`'s thread says its job may be slow: what waits behind it goes to other threads. */
  saidSlow(lane: Lane<T, J>, now: number): void {
    lane.slow = true;
    lane.saidSlow = true;
    this.requeueAhead(lane, now);
  }

  /** `lane`'s job streams its answer: it holds the thread for as long as the reader reads. */
  streams(lane: Lane<T, J>, now: number): void {
    lane.streaming = true;
    this.requeueAhead(lane, now);
  }

  /**
   * `lane`'s thread leaves the pool (stopped or dead): what it held, its jobs sent ahead and not
   * started taken back. The caller settles them, requeues what may run elsewhere, then pumps.
   */
  remove(lane: Lane<T, J>): Held<J> {
    lane.open = false;
    this.lanes.delete(lane);
    const taken = this.takeBackAll(lane);
    const held = { running: lane.running, started: lane.ahead.splice(0), taken };
    lane.running = null;
    return held;
  }

  /** Puts jobs at the front of the queue, in order: they were waiting before any queued now. */
  requeue(jobs: readonly J[]): void {
    this.queue.unshift(...jobs);
  }

  /** Takes `job` out of the queue; `false` when it is not there. */
  cancel(job: J): boolean {
    const at = this.queue.indexOf(job);
    if (at < 0) return false;
    this.queue.splice(at, 1);
    return true;
  }

  /** Places no more jobs; returns every job still waiting (queued, or taken back). */
  close(): J[] {
    this.closed = true;
    const taken = [...this.lanes].flatMap((lane) => this.takeBackAll(lane));
    return [...this.queue.splice(0), ...taken];
  }

  /** Empties the queue (no thread can run its jobs); returns what it held. */
  drain(): J[] {
    return this.queue.splice(0);
  }

  /** Jobs waiting for a thread: queued, or sent ahead to a busy one. */
  waiting(): number {
    let ahead = 0;
    for (const lane of this.lanes) ahead += lane.ahead.length;
    return this.queue.length + ahead;
  }

  /** Whether any job runs or waits on a thread. */
  busy(): boolean {
    for (const lane of this.lanes) {
      if (lane.running !== null || lane.ahead.length > 0) return true;
    }
    return false;
  }

  /** Places what the queue holds, and lets idle threads take over jobs waiting on busy ones. */
  pump(now: number): void {
    if (this.closed) return;
    this.rescueFromSlow(now);
    while (this.queue.length > 0) {
      const job = this.queue[0] as J;
      const idle = this.idleLane();
      if (idle !== null) this.startOn(idle, job, now);
      else if (!this.sendAheadToAny(job, now)) return;
      this.queue.shift();
    }
    // Nothing queued: a thread that is idle takes over a job waiting behind a busy one.
    for (let idle = this.idleLane(); idle !== null; idle = this.idleLane()) {
      let moved: J | null = null;
      for (const lane of this.lanes) {
        if (lane !== idle && (moved = this.takeBackNewest(lane)) !== null) break;
      }
      if (moved === null) return;
      this.startOn(idle, moved, now);
    }
  }

  private idleLane(): Lane<T, J> | null {
    for (const lane of this.lanes) {
      if (lane.open && lane.running === null && lane.served < lane.retireAfter) return lane;
    }
    return null;
  }

  /** `job` is `lane`'s from now; slow from the start if its route was slow last time. */
  private begin(lane: Lane<T, J>, job: J, now: number): void {
    lane.running = job;
    lane.since = now;
    lane.slow = job.rule !== null && this.slowRules.has(job.rule);
    lane.saidSlow = false;
    lane.streaming = false;
  }

  private startOn(lane: Lane<T, J>, job: J, now: number): boolean {
    this.begin(lane, job, now);
    if (this.courier.start(lane.thread, job)) return true;
    // It never reached the thread, which is still free.
    lane.running = null;
    return false;
  }

  /** Sends `job` ahead to the thread that holds the fewest, unless none may take it. */
  private sendAheadToAny(job: J, now: number): boolean {
    if (!job.mayWait) return false;
    let fewest: Lane<T, J> | null = null;
    for (const lane of this.lanes) {
      if (
        this.takesAhead(lane, now) &&
        (fewest === null || lane.ahead.length < fewest.ahead.length)
      ) {
        fewest = lane;
      }
    }
    if (fewest === null || !this.courier.sendAhead(fewest.thread, job)) return false;
    fewest.ahead.push(job);
    this.sentAhead += 1;
    return true;
  }

  /** Whether `lane` may be sent one more job to start after the one it runs. */
  private takesAhead(lane: Lane<T, J>, now: number): boolean {
    return (
      lane.open &&
      lane.running !== null &&
      !lane.streaming &&
      !lane.slow &&
      now - lane.since < this.slowMs &&
      lane.ahead.length < this.ahead &&
      lane.served + 1 + lane.ahead.length < lane.retireAfter
    );
  }

  /** What waits behind `lane`'s job goes back to the front of the queue, for another thread. */
  private requeueAhead(lane: Lane<T, J>, now: number): void {
    const taken = this.takeBackAll(lane);
    if (taken.length === 0) return;
    this.queue.unshift(...taken);
    this.pump(now);
  }

  /**
   * Jobs waiting behind one that has run `slowMs` or more go back to the front of the queue,
   * for whichever thread is free first: a quick job does not wait out a slow one.
   */
  private rescueFromSlow(now: number): void {
    let rescued: J[] | null = null;
    for (const lane of this.lanes) {
      if (lane.ahead.length === 0 || now - lane.since < this.slowMs) continue;
      const taken = this.takeBackAll(lane);
      if (taken.length > 0) rescued = rescued === null ? taken : [...rescued, ...taken];
    }
    if (rescued !== null) this.queue.unshift(...rescued);
  }

  /** Takes back the newest job waiting on `lane` if its thread has not started it. */
  private takeBackNewest(lane: Lane<T, J>): J | null {
    const job = lane.ahead.at(-1);
    if (job === undefined || !this.courier.takeBack(lane.thread, job)) return null;
    lane.ahead.pop();
    this.takenBack += 1;
    return job;
  }

  /**
   * Takes back every job waiting on `lane` that its thread has not started, oldest first in the
   * result. From the newest back, stopping at the first started (see Design): a suffix.
   */
  private takeBackAll(lane: Lane<T, J>): J[] {
    const taken: J[] = [];
    for (let job = this.takeBackNewest(lane); job !== null; job = this.takeBackNewest(lane)) {
      taken.push(job);
    }
    return taken.reverse();
  }
}

// Design: a job past its deadline cannot be interrupted inside JavaScript, so the pool ends its
// thread. Watching every running job with a timer of its own would cost a timer per job; one
// interval sweep checks them all instead, so arming a deadline costs a clock read. The sweep runs
// at a tenth of the shortest deadline armed (at least every 10 ms, at most every 100 ms) and
// stops when nothing is watched, so an idle pool keeps no timer.

import { performance } from "node:perf_hooks";

/** The slowest the sweep runs; a short deadline makes it run more often. */
const MAX_SWEEP_MS = 100;

/** What a deadline is kept on: the job it watches. */
export interface Watched {
  /** When `overdue` runs (`performance.now()` time); `Infinity` when unwatched. */
  deadline: number;
  overdue: (() => void) | null;
}

/** The deadlines of a pool's running jobs, checked by one interval timer. */
export class Deadlines {
  private readonly watched = new Set<Watched>();
  private sweeper: NodeJS.Timeout | null = null;
  private sweepMs = MAX_SWEEP_MS;

  /** Runs `overdue` once `ms` have passed, unless `settle` comes first. Re-arming renews it. */
  watch(job: Watched, ms: number, overdue: () => void): void {
    job.deadline = performance.now() + ms;
    job.overdue = overdue;
    this.watched.add(job);
    const sweepMs = Math.min(MAX_SWEEP_MS, Math.max(10, ms / 10));
    if (this.sweeper !== null && sweepMs >= this.sweepMs) return;
    if (this.sweeper !== null) clearInterval(this.sweeper);
    this.sweepMs = sweepMs;
    this.sweeper = setInterval(this.sweep, sweepMs);
    this.sweeper.unref();
  }

  /** `job` is done with, or no longer runs: its deadline is off. */
  settle(job: Watched): void {
    job.overdue = null;
    job.deadline = Infinity;
    this.watched.delete(job);
  }

  /** Stops the sweep; nothing is overdue after this. */
  stop(): void {
    this.watched.clear();
    if (this.sweeper !== null) clearInterval(this.sweeper);
    this.sweeper = null;
    this.sweepMs = MAX_SWEEP_MS;
  }

  private readonly sweep = (): void => {
    const now = performance.now();
    for (const job of [...this.watched]) {
      if (job.deadline > now) continue;
      const overdue = job.overdue;
      this.settle(job);
      overdue?.();
    }
    if (this.watched.size === 0) this.stop();
  };
}

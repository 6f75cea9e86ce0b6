// Design: the life of one pool thread, apart from what it runs. It is spawned on its pool's entry
// with its claim memory and its heap bound; it is ready once its module says so (`ready`), or
// failed to boot (`boot-failed`, an error, an exit before `ready`). Node says it is gone only at
// `exit`, after an `error` event that says why (running out of heap is one): until then it may
// still start what it was sent. A pool whose threads keep failing to boot retries with backoff.

import type { Worker } from "node:worker_threads";
import { heapLimits } from "../heap-bound.ts";
import { namedSharedValues } from "../shared.ts";
import { spawnThread } from "../spawn.ts";
import { claimBuffers, newClaims, type Claims } from "./claims.ts";
import type { PoolThreadData } from "./messages.ts";
import type { Lane } from "./scheduler.ts";

/** One thread of a pool (not the public `Thread`, which runs one call and ends). */
export interface PoolThread<J> {
  readonly worker: Worker;
  /** `worker.threadId`, kept: the worker's own reads -1 once the thread has exited. */
  readonly id: number;
  readonly claims: Claims;
  /** What the scheduler knows of it: what it runs, what waits on it. */
  lane: Lane<PoolThread<J>, J>;
  /** Its module is imported: it takes jobs. */
  ready: boolean;
  /** It was told to stop, or is gone: it is out of the pool. */
  stopping: boolean;
  /** What it died of, when Node said (its `error` event comes before `exit`). */
  fault: Error | null;
}

/**
 * Spawns a pool thread on `entry`: its workerData is `data` plus its claim memory and the named
 * shared values, its heap bounded to `maxHeapMb` (0: V8's own limit). `lane` makes its lane.
 */
export function spawnPoolThread<J>(
  entry: string,
  data: Record<string, unknown>,
  maxHeapMb: number,
  lane: (thread: PoolThread<J>) => Lane<PoolThread<J>, J>,
): PoolThread<J> {
  const claims = newClaims();
  const workerData: PoolThreadData = {
    ...data,
    ...claimBuffers(claims),
    "carafe.shared": namedSharedValues(),
  };
  const worker = spawnThread(entry, { ...workerData }, { resourceLimits: heapLimits(maxHeapMb) });
  const thread: PoolThread<J> = {
    worker,
    id: worker.threadId,
    claims,
    // Made just below: the lane holds the thread, the thread its lane.
    lane: null as unknown as Lane<PoolThread<J>, J>,
    ready: false,
    stopping: false,
    fault: null,
  };
  thread.lane = lane(thread);
  return thread;
}

/** Whether a thread that exited did so because it outgrew its heap bound. */
export function outgrewHeap(thread: PoolThread<unknown>): boolean {
  return (thread.fault as { code?: string } | null)?.code === "ERR_WORKER_OUT_OF_MEMORY";
}

/**
 * How long to wait before starting a thread again after one failed to boot: nothing at first,
 * then 1 s, doubling up to 30 s; back to nothing once one boots.
 */
export class Backoff {
  delayMs = 0;

  failed(): number {
    this.delayMs = Math.min(30_000, Math.max(1000, this.delayMs * 2));
    return this.delayMs;
  }

  booted(): void {
    this.delayMs = 0;
  }
}

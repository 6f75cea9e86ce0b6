// Design: the memory a pool shares with each of its threads, which settles two questions that
// messages cannot, since a message may still be on its way: who owns a job sent ahead (the loop,
// taking it back, or the thread, starting it), and which job a thread that died had started.
//
// `claim` holds one Int32 per job a thread may hold ahead. The loop writes the job's id in a
// free slot as it sends it; the thread swaps it for `-id` as it starts it; the loop swaps it for
// 0 to take the job back while it waits. Both swaps are compare-and-swaps from `id`: exactly one
// succeeds, so a job never runs twice and never gets lost.
//
// `started` holds one Int32: the id of the job the thread started last. Ids reach a thread in
// increasing order and it starts them in that order, so once the thread is gone, a job with a
// greater id never ran and may run on another thread.

import { AHEAD } from "./scheduler.ts";

/** The memory one thread shares with its pool; travels in the thread's workerData. */
export interface ClaimBuffers {
  claim: SharedArrayBuffer;
  started: SharedArrayBuffer;
}

/** The loop's and the thread's views of a thread's `ClaimBuffers`. */
export interface Claims {
  claim: Int32Array;
  started: Int32Array;
}

/** Fresh claim memory for a new thread. */
export function newClaims(): Claims {
  return {
    claim: new Int32Array(new SharedArrayBuffer(4 * AHEAD)),
    started: new Int32Array(new SharedArrayBuffer(4)),
  };
}

/** The buffers of `claims`, to send to the thread. */
export function claimBuffers(claims: Claims): ClaimBuffers {
  return {
    claim: claims.claim.buffer as SharedArrayBuffer,
    started: claims.started.buffer as SharedArrayBuffer,
  };
}

/** The thread's view of the buffers it was started with. */
export function claimsOf(buffers: ClaimBuffers): Claims {
  return { claim: new Int32Array(buffers.claim), started: new Int32Array(buffers.started) };
}

/** The lowest slot no job in `used` holds, or -1. */
export function freeSlot(used: Iterable<{ slot: number }>): number {
  let mask = 0;
  for (const job of used) if (job.slot >= 0) mask |= 1 << job.slot;
  const slot = 31 - Math.clz32(~mask & (mask + 1));
  return slot < AHEAD ? slot : -1;
}

/**
 * Writes `id` in `slot` for the thread to claim; `false` if the slot still holds a job the
 * thread has not started (one it runs next, whose answer has not reached the loop yet).
 */
export function offer(claims: Claims, slot: number, id: number): boolean {
  const before = Atomics.load(claims.claim, slot);
  return before <= 0 && Atomics.compareExchange(claims.claim, slot, before, id) === before;
}

/** Takes job `id` back from `slot`; `false` when the thread has started it. */
export function withdraw(claims: Claims, slot: number, id: number): boolean {
  return Atomics.compareExchange(claims.claim, slot, id, 0) === id;
}

/**
 * On the thread: whether it may start job `id` (sent ahead in `slot`, or sent to start now);
 * records it as the job started last.
 */
export function claimToStart(claims: Claims, slot: number | undefined, id: number): boolean {
  if (slot !== undefined && Atomics.compareExchange(claims.claim, slot, id, -id) !== id) {
    return false;
  }
  Atomics.store(claims.started, 0, id);
  return true;
}

/** The id of the job the thread started last (0: none yet); final once it has exited. */
export function lastStarted(claims: Claims): number {
  return Atomics.load(claims.started, 0);
}

/** Whether a thread that is gone had started job `id` (read once it has exited: final). */
export function hadStarted(claims: Claims, id: number): boolean {
  const last = lastStarted(claims);
  // 0: it started nothing yet.
  return last === id || (last !== 0 && isAfter(last, id));
}

/** The largest job id; the next one is 1 again. */
const MAX_ID = 0x7fffffff;

/**
 * Whether id `a` was taken after id `b`, across the wrap from MAX_ID to 1: the ids in flight
 * at once are far fewer than 2^30, so the shorter way round the circle is the true order.
 */
export function isAfter(a: number, b: number): boolean {
  const ahead = (a - b + MAX_ID) % MAX_ID;
  return ahead > 0 && ahead < 2 ** 30;
}

/**
 * Fresh job ids. They live in shared Int32 slots (a claimed one is stored negated), so they run
 * from 1 to 2^31 - 1 and start again at 1: a pool at 20,000 jobs a second gets there in about
 * 30 hours. Ids are compared with `isAfter`, which holds across the wrap.
 */
export class JobIds {
  private next = 1;

  take(): number {
    const id = this.next;
    this.next = id === MAX_ID ? 1 : id + 1;
    return id;
  }
}

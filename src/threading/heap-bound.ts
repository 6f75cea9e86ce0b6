// How large a pool thread's JavaScript heap may grow: past it, V8 stops the thread (Node reports
// ERR_WORKER_OUT_OF_MEMORY) instead of letting one runaway request take the process's memory.
// The server's pool (`--thread-max-heap`) and toThread's own pool both start their threads so.

import { totalmem, availableParallelism } from "node:os";
import process from "node:process";
import type { ResourceLimits } from "node:worker_threads";

/** The smallest default: room for the app's modules and an ordinary request's data. */
const LEAST_MB = 128;
/**
 * The largest default. A request that needs more heap than this is almost always a runaway, and
 * V8 takes longer and longer to give up on one as the bound grows (on a test machine, ~2 s of
 * garbage collection at 512 MB, ~12 s at 1 GB), holding its thread, and the memory, meanwhile.
 */
const MOST_MB = 512;

/**
 * The default heap bound of a pool thread, in MB: an eighth of the memory per core (a pool has a
 * thread per core by default, and a machine several worker processes with their event loops),
 * from 128 to 512 MB. The memory is the container's limit when one is set.
 *
 * @example
 * defaultThreadHeapMb(); // 512 on 24 GB and 2 cores; 128 on 2 GB and 2 cores
 */
export function defaultThreadHeapMb(): number {
  const limit = process.constrainedMemory?.() ?? 0;
  const bytes = limit > 0 ? Math.min(limit, totalmem()) : totalmem();
  const share = Math.floor(bytes / 2 ** 20 / availableParallelism() / 8);
  return Math.min(MOST_MB, Math.max(LEAST_MB, share));
}

/** How the boot banners name a pool: `2 threads (heap bound 512 MB each)`. */
export function describeThreads(threads: number, heapMb: number, started = threads): string {
  const bound = heapMb > 0 ? `heap bound ${heapMb} MB each` : "V8's own heap limit";
  const count = `${threads} thread${threads === 1 ? "" : "s"}`;
  return started < threads ? `${count}, ${started} started (${bound})` : `${count} (${bound})`;
}

/**
 * The young generation of a pool thread, in MB. V8 grows it to 8 MiB and more while a thread
 * imports the app, and keeps those pages: at 2 MB an idle thread holds about 1.5 MiB less, and
 * a request's short-lived garbage is still collected young.
 */
export const THREAD_YOUNG_MB = 2;

/** The `resourceLimits` of a pool thread whose heap may grow to `mb` (0: V8's own limit). */
export function heapLimits(mb: number): ResourceLimits {
  // The old generation is where a growing heap ends up.
  return mb > 0
    ? { maxOldGenerationSizeMb: mb, maxYoungGenerationSizeMb: THREAD_YOUNG_MB }
    : { maxYoungGenerationSizeMb: THREAD_YOUNG_MB };
}

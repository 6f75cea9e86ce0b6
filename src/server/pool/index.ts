// The thread pool of one process: what the http loop, the worker and the dev server use.

export { ThreadPool, requestsBeforeRetiring } from "./thread-pool.ts";
export type { PoolStats, ThreadPoolOptions } from "./thread-pool.ts";
// toThread's own pool (a process served without --threads) bounds its threads' heaps by this.
export { useHeapBound } from "../../threading/internal.ts";

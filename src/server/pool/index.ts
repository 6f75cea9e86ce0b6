// The thread pool of one process: what the http loop, the worker and the dev server use.

export { ThreadPool, requestsBeforeRetiring } from "./thread-pool.ts";
export type { PoolLogger, PoolStats, ThreadPoolOptions } from "./thread-pool.ts";

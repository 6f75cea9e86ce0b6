// carafe/threading's internal entry: what the server needs beyond the public names (calls as
// plain data, the thread entry files, heap bounds, TypeScript loading, and the pool core its
// request pool is built on). Not a package export; only src/server imports it.

export * from "./index.ts";
export {
  errorInfo,
  executeCall,
  sendOutcome,
  type CallOutcome,
  type ErrorInfo,
  type ThreadCall,
} from "./calls.ts";
export * from "./boot.ts";
export { entryUrl, spawnThread } from "./spawn.ts";
export { callsOn, useExecutor, useHeapBound, type CallExecutor } from "./to-thread.ts";
export { CallJob } from "./pool/call-job.ts";
export { claimToStart, claimsOf } from "./pool/claims.ts";
export {
  PoolCore,
  type PoolCounts,
  type PoolHost,
  type PoolLogger,
  type RestartCause,
} from "./pool/core.ts";
export { PoolJob, type Failure } from "./pool/job.ts";
export type { CallMessage, CoreThreadMessage, PoolThreadData } from "./pool/messages.ts";
export type { PoolThread } from "./pool/threads.ts";
export {
  activeSpanContext,
  loadTracingApi,
  spanContextData,
  tracingApi,
  withSpanContext,
  type ApiSpan,
  type ApiTracer,
  type AttributeValue,
  type SpanContextData,
  type TraceContext,
  type TracingApi,
} from "./trace-context.ts";

// carafe/threading's internal entry: what the server needs beyond the public names (calls as
// plain data, the thread entry files, heap bounds, TypeScript loading). Not a package export;
// only src/server imports it.

export * from "./index.ts";
export {
  executeCall,
  sendOutcome,
  unsendable,
  type CallOutcome,
  type ThreadCall,
} from "./calls.ts";
export { defaultThreadHeapMb, describeThreads, heapLimits } from "./heap-bound.ts";
export { namedSharedValues } from "./shared.ts";
export { entryUrl, spawnThread } from "./spawn.ts";
export { useExecutor, type CallExecutor } from "./to-thread.ts";
export { importFile } from "./typescript.ts";

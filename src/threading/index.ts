// carafe/threading: Python's `threading` module and `asyncio.to_thread`, for Node's worker
// threads, which run in parallel. See docs/threading.md.

export { Barrier } from "./barrier.ts";
export { threadTarget } from "./calls.ts";
export { Condition } from "./condition.ts";
export {
  BrokenBarrierError,
  LockNotOwnedError,
  SemaphoreOverReleasedError,
  ThreadDiedError,
  ThreadStateError,
  ThreadTargetError,
  ThreadingError,
  ThreadingRangeError,
  ThreadingTimeoutError,
} from "./errors.ts";
export { Event } from "./event.ts";
export { Lock, RLock, type Held, type LockBase } from "./locks.ts";
export { BoundedSemaphore, Semaphore } from "./semaphore.ts";
export { Counter, NamedShared, fromShared, sharedArray, type SharedValue } from "./shared.ts";
export { sleep } from "./sleep.ts";
export { Thread, type ThreadOptions } from "./thread.ts";
export { toThread, type ToThreadOptions } from "./to-thread.ts";
export type { Timeout } from "./wait.ts";

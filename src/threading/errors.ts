// The errors of carafe/threading: one base class with a stable `code`, one class per failure a
// caller may want to tell apart.

/** The base of every error carafe/threading throws; `code` is stable across versions. */
export class ThreadingError extends Error {
  override name = "ThreadingError";
  readonly code: string = "ERR_THREADING";
}

/** `release()` of a lock the calling thread does not hold (or of a lock nobody holds). */
export class LockNotOwnedError extends ThreadingError {
  override name = "LockNotOwnedError";
  override readonly code = "ERR_LOCK_NOT_OWNED";
}

/** A wait that had to succeed (`hold()`, `withLock()`, `join()`) ran out of time. */
export class ThreadingTimeoutError extends ThreadingError {
  override name = "ThreadingTimeoutError";
  override readonly code = "ERR_THREADING_TIMEOUT";
}

/** A `Barrier` was aborted, reset while threads waited, or a wait on it timed out. */
export class BrokenBarrierError extends ThreadingError {
  override name = "BrokenBarrierError";
  override readonly code = "ERR_BARRIER_BROKEN";
}

/** A `BoundedSemaphore` released more often than it was acquired. */
export class SemaphoreOverReleasedError extends ThreadingError {
  override name = "SemaphoreOverReleasedError";
  override readonly code = "ERR_SEMAPHORE_OVER_RELEASED";
}

/**
 * The function given to a thread cannot run there: it uses a variable from outside its own body,
 * it is native or bound, or its module does not export it under its name.
 */
export class ThreadTargetError extends ThreadingError {
  override name = "ThreadTargetError";
  override readonly code = "ERR_THREAD_TARGET";
}

/** A `Thread` used out of order: started twice, or joined before it was started. */
export class ThreadStateError extends ThreadingError {
  override name = "ThreadStateError";
  override readonly code = "ERR_THREAD_STATE";
}

/** The thread running a call died (it exited, ran out of memory) or could not be started. */
export class ThreadDiedError extends ThreadingError {
  override name = "ThreadDiedError";
  override readonly code = "ERR_THREAD_DIED";
}

/**
 * A count or timeout out of its range (a negative timeout, a Barrier of 0 parties). A
 * `RangeError`, as Node's own `ERR_OUT_OF_RANGE` is, so `instanceof RangeError` keeps working;
 * `code` tells it apart like the other errors of carafe/threading.
 */
export class ThreadingRangeError extends RangeError {
  override name = "ThreadingRangeError";
  readonly code = "ERR_THREADING_RANGE";
}

// Design: the request pipeline is a generator that yields whatever a user function returned.
// `drive` resumes it synchronously while the values are plain, and switches to an async loop
// only when a yielded value is a promise. Synchronous apps therefore create no promise per
// request (each one costs, and AsyncLocalStorage adds to that cost on Node 20), while async
// handlers and hooks still read as straight-line code with try/catch/finally.

/** A step of the pipeline: yields possibly-async values, receives them resolved. */
export type Pipeline<T> = Generator<unknown, T, unknown>;

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

/** How each resumption of the pipeline after an await is run (inside its request context). */
export type Resume = <R>(step: () => R) => R;

const direct: Resume = (step) => step();

/**
 * Runs a pipeline to completion: synchronously if nothing it yields is a promise. After an
 * await, each synchronous stretch of the pipeline runs through `resume`. `settled` is called
 * once when the drive ends, however it ends; an async drive calls it before its promise settles.
 */
export function drive<T>(
  pipeline: Pipeline<T>,
  resume: Resume = direct,
  settled?: () => void,
): T | Promise<T> {
  let step: IteratorResult<unknown, T>;
  try {
    step = pipeline.next();
    while (!step.done) {
      if (isPromiseLike(step.value)) return driveAsync(pipeline, step.value, resume, settled);
      step = pipeline.next(step.value);
    }
  } catch (error) {
    settled?.();
    throw error;
  }
  settled?.();
  return step.value;
}

// Each promise counts on Node 20, where AsyncLocalStorage runs a hook for every one: the drive
// awaits the yielded values themselves, and only the await's own exception is a rejection.
async function driveAsync<T>(
  pipeline: Pipeline<T>,
  pending: PromiseLike<unknown>,
  resume: Resume,
  settled: (() => void) | undefined,
): Promise<T> {
  let awaiting = pending;
  try {
    for (;;) {
      let value: unknown;
      let rejected = false;
      // A rejection is thrown back into the pipeline, where its own try/catch handles it; an
      // exception escaping the pipeline itself ends the drive.
      try {
        value = await awaiting;
      } catch (reason) {
        rejected = true;
        value = reason;
      }
      const step = resume(() => {
        let next = rejected ? pipeline.throw(value) : pipeline.next(value);
        while (!next.done && !isPromiseLike(next.value)) next = pipeline.next(next.value);
        return next;
      });
      if (step.done) return step.value;
      awaiting = step.value as PromiseLike<unknown>;
    }
  } finally {
    settled?.();
  }
}

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

/** Runs a pipeline to completion: synchronously if nothing it yields is a promise. */
export function drive<T>(pipeline: Pipeline<T>): T | Promise<T> {
  let step = pipeline.next();
  while (!step.done) {
    if (isPromiseLike(step.value)) return driveAsync(pipeline, rejectionOf(step.value));
    step = pipeline.next(step.value);
  }
  return step.value;
}

async function driveAsync<T>(pipeline: Pipeline<T>, pending: PromiseLike<unknown>): Promise<T> {
  let awaiting = pending;
  for (;;) {
    let step: IteratorResult<unknown, T>;
    // A rejection is thrown back into the pipeline, where its own try/catch handles it; an
    // exception escaping the pipeline itself ends the drive.
    try {
      const value = await awaiting;
      step = pipeline.next(value);
    } catch (error) {
      if (!(error instanceof Rejection)) throw error;
      step = pipeline.throw(error.reason);
    }
    while (!step.done && !isPromiseLike(step.value)) step = pipeline.next(step.value);
    if (step.done) return step.value;
    awaiting = rejectionOf(step.value as PromiseLike<unknown>);
  }
}

class Rejection {
  constructor(readonly reason: unknown) {}
}

function rejectionOf(value: PromiseLike<unknown>): Promise<unknown> {
  return Promise.resolve(value).catch((reason: unknown) => {
    throw new Rejection(reason);
  });
}

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
 * await, each synchronous stretch of the pipeline runs through `resume`.
 */
export function drive<T>(pipeline: Pipeline<T>, resume: Resume = direct): T | Promise<T> {
  let step = pipeline.next();
  while (!step.done) {
    if (isPromiseLike(step.value)) return driveAsync(pipeline, rejectionOf(step.value), resume);
    step = pipeline.next(step.value);
  }
  return step.value;
}

async function driveAsync<T>(
  pipeline: Pipeline<T>,
  pending: PromiseLike<unknown>,
  resume: Resume,
): Promise<T> {
  let awaiting = pending;
  for (;;) {
    let value: unknown;
    let rejected: Rejection | undefined;
    // A rejection is thrown back into the pipeline, where its own try/catch handles it; an
    // exception escaping the pipeline itself ends the drive.
    try {
      value = await awaiting;
    } catch (error) {
      if (!(error instanceof Rejection)) throw error;
      rejected = error;
    }
    const step = resume(() => {
      let next = rejected === undefined ? pipeline.next(value) : pipeline.throw(rejected.reason);
      while (!next.done && !isPromiseLike(next.value)) next = pipeline.next(next.value);
      return next;
    });
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

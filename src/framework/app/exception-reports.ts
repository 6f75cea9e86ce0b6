// Where an exception that a request raised, and that became its 500, is reported beside the
// app's log: a server that traces requests records it on the request's span. One listener per
// thread (module state is each thread's own), set by the server; none by default, so reporting
// costs a comparison.

let listener: ((error: unknown) => void) | null = null;

/** Calls `fn` with each exception a request raises that is answered 500; `null` stops. */
export function onRequestException(fn: ((error: unknown) => void) | null): void {
  listener = fn;
}

/** Reports `error` to the listener, which runs in the failed request's async context. */
export function reportRequestException(error: unknown): void {
  if (listener === null) return;
  try {
    listener(error);
  } catch {
    // What observes a failure must not turn it into another one; the 500 goes out regardless.
  }
}

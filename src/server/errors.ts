// Errors of the server layer: one base class with a stable `code` (like the framework's
// `CarafeError` and carafe/threading's `ThreadingError`). Each failure a caller or the CLI may
// tell apart gets a subclass; the CLI prints a `ServerError`'s message without a stack.

/** Base of every error the server layer throws; `code` is stable across releases. */
export class ServerError extends Error {
  override name = "ServerError";
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

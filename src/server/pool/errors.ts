// The errors the thread pool throws: misuse found at setup, each a ServerError with its code.

import { ServerError } from "../errors.ts";

/** `ThreadPool.start` was asked for fewer than one thread, or a fractional number. */
export class PoolSizeError extends ServerError {
  override name = "PoolSizeError";
  constructor(size: number) {
    super("ERR_POOL_SIZE", `a thread pool needs at least 1 thread (--threads), got ${size}`);
  }
}

/** pool-thread.ts was imported outside a pool thread (it only runs as a thread's entry). */
export class NotInPoolThreadError extends ServerError {
  override name = "NotInPoolThreadError";
  constructor() {
    super("ERR_NOT_IN_POOL_THREAD", "pool-thread runs only inside a pool thread");
  }
}

/**
 * A streamed response from a pool thread was cut short after its head was sent: its producer
 * failed, stalled past --timeout, or its thread died. The http loop ends the response there.
 */
export class ResponseCutError extends ServerError {
  override name = "ResponseCutError";
  constructor(message: string) {
    super("ERR_RESPONSE_CUT", message);
  }
}

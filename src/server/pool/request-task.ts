// A request as a job of the pool: its record, how its answer reaches the http loop (a complete
// response, or a streamed one fed by the thread's chunks), and the HTTP error it gets when the
// pool cannot run it: 503 (with Retry-After where retrying soon helps), 504 past --timeout, 500
// when its thread died running it.

import {
  GatewayTimeout,
  InternalServerError,
  ServiceUnavailable,
  exceptionResponse,
  prefersJson,
  requestNote,
  type HTTPException,
  type RequestRecord,
  type ResponseRecord,
} from "../../framework/internal.ts";
import { PoolJob, type Failure, type SpanContextData } from "../../threading/internal.ts";
import { ResponseCutError } from "./errors.ts";
import type { IncomingStream } from "./incoming-stream.ts";

/** A limit in seconds as the messages say it: `1 second`, `0.3 seconds`. */
function seconds(ms: number): string {
  const count = ms / 1000;
  return `${count} second${count === 1 ? "" : "s"}`;
}

/** The HTTP error a request gets when the pool could not run it, or stopped it. */
export function httpFailure(failure: Failure): HTTPException {
  const retry = { headers: { "Retry-After": "1" } };
  switch (failure.kind) {
    case "closing":
      return new ServiceUnavailable("The server is shutting down.");
    case "full": {
      const { threads, waiting } = failure;
      return new ServiceUnavailable(
        `All ${threads} thread${threads === 1 ? " is" : "s are"} busy and ${waiting} requests are waiting (--max-queue); try again shortly.`,
        retry,
      );
    }
    case "stopped":
      return new ServiceUnavailable(
        "The thread this request was waiting for was stopped; try again.",
      );
    case "lost":
      // Its body went with the thread; it never ran, so the client may safely send it again.
      return new ServiceUnavailable(
        "The thread this request was sent to stopped before starting it; try again.",
        retry,
      );
    case "no-thread":
      return new ServiceUnavailable("No thread can run the app right now.");
    case "died":
      return new InternalServerError(
        failure.outOfHeap
          ? "The request needed more memory than a thread of this server may use."
          : "The thread running this request stopped unexpectedly.",
      );
    case "timeout":
      return new GatewayTimeout(
        `The request took longer than ${seconds(failure.ms)}, the server's time limit, and was stopped.`,
      );
    case "unreachable":
      return new InternalServerError("The request could not reach a thread.");
  }
}

/** Why a streamed response whose head was sent is cut short. */
function streamFailure(failure: Failure): string {
  switch (failure.kind) {
    case "timeout":
      return `the streamed response stalled for ${seconds(failure.ms)}`;
    case "died":
      return "the pool thread died while streaming";
    default:
      return httpFailure(failure).description;
  }
}

/** The server span of a traced request, as the pool sees it. */
export interface RequestTrace {
  /** Sent with the request: the thread makes it the active span context. */
  readonly context: SpanContextData;
  /** Records an exception the request raised on its thread. */
  recordException(error: unknown): void;
}

/** One request waiting for, or running on, a pool thread. */
export class RequestTask extends PoolJob {
  readonly mayWait = true;
  /** Its streamed body, once the thread sent the head. */
  stream: IncomingStream | null = null;
  /** Its client left before the answer was complete: the thread is told (`cancel`). */
  left = false;
  /** Answered (a complete response, or a stream that ended). */
  #done = false;

  constructor(
    readonly record: RequestRecord,
    readonly rule: string | null,
    private readonly resolve: (response: ResponseRecord) => void,
    readonly trace: RequestTrace | null = null,
  ) {
    super();
  }

  /** How the log names it: method, target, route and id (read only when a message is written). */
  get name(): string {
    const { method, url, id = "" } = this.record;
    return `${method} ${url} ${requestNote(this.rule, id)}`;
  }

  /** Hands the loop its response (a stream's head: its body follows). */
  answer(response: ResponseRecord): void {
    if (this.stream === null) this.#done = true;
    this.resolve(response);
  }

  /** Its streamed body is complete, or was cut short by `error`. */
  end(error?: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.stream?.finish(error);
  }

  fail(failure: Failure): void {
    if (this.stream !== null) this.end(new ResponseCutError(streamFailure(failure)));
    else if (!this.#done) this.answer(errorRecord(this.record, httpFailure(failure)));
  }
}

/** `error` as a response to `record`: JSON for a client that prefers it, otherwise HTML. */
export function errorRecord(record: RequestRecord, error: HTTPException): ResponseRecord {
  return exceptionResponse(error, prefersJson(record.headers.accept)).toRecord(record.method);
}

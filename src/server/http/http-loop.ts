// The http loop: node:http (llhttp) parses and keeps connections alive; this file turns each
// request into a RequestRecord (reading the body within the app's size limit), hands it to the
// app, and writes the ResponseRecord back with backpressure.

import { Buffer } from "node:buffer";
import type { IncomingMessage, ServerResponse } from "node:http";
import { once } from "node:events";
import { performance } from "node:perf_hooks";
import process from "node:process";
import {
  BadRequest,
  RequestHeaderFieldsTooLarge,
  bodyTooLarge,
  BodyCollector,
  declaresMoreThan,
  RequestURITooLarge,
  exceptionResponse,
  newRequestId,
  requestNote,
  type BodyChunk,
  type BodyStream,
  type BoundedBody,
  type Logger,
  type RecordHandler,
  type RequestRecord,
  type ResponseRecord,
  type RoutePlan,
} from "../../framework/internal.ts";
import type { AccessEntry } from "./access-log.ts";
import { hostError, useTargetAuthority } from "./host.ts";
import { internalServerError } from "./plain-response.ts";
import type { RequestMeter } from "../metrics/request-meter.ts";
import { epochMs, type RequestSpan, type RequestTracing } from "./tracing.ts";

function headersOf(request: IncomingMessage): Record<string, string> {
  const headers = request.headers as Record<string, string | string[] | undefined>;
  const cookies = headers["set-cookie"];
  if (cookies !== undefined) headers["set-cookie"] = ([] as string[]).concat(cookies).join(", ");
  return headers as Record<string, string>;
}

/** The RequestRecord of a node:http request, with the body read for it (or refused as too large). */
export function recordFromIncoming(
  request: IncomingMessage,
  body: Uint8Array | null,
  tooLarge: boolean,
): RequestRecord {
  const record: RequestRecord = {
    method: request.method ?? "GET",
    url: request.url ?? "/",
    headers: headersOf(request),
    body,
    remoteAddress: request.socket.remoteAddress ?? "",
    scheme: (request.socket as { encrypted?: boolean }).encrypted ? "https" : "http",
  };
  if (tooLarge) record.bodyTooLarge = true;
  if (record.url.charCodeAt(0) !== 47 /* "/" */) useTargetAuthority(record);
  return record;
}

/** Whether the request has no body: an HTTP/1.1 request without Content-Length or Transfer-Encoding. */
export function hasNoBody(request: IncomingMessage): boolean {
  const declared = request.headers["content-length"];
  return (
    request.headers["transfer-encoding"] === undefined &&
    (declared === undefined || declared === "0")
  );
}

/** A streamed body the handler did not read to its end cannot be skipped on a kept-alive connection. */
function closeIfUnread(request: IncomingMessage, response: ServerResponse): void {
  if (!request.readableEnded) response.shouldKeepAlive = false;
}

/**
 * Reads the body within `limit` and calls `done` with it, or with `tooLarge` and no body. A
 * refused body is not destroyed, which would cut the connection before the 413: its rest is
 * dropped as it arrives, until the answer closes the connection.
 */
function readBody(
  request: IncomingMessage,
  limit: number | null,
  done: (read: BoundedBody) => void,
): void {
  const collector = new BodyCollector(limit);
  let finished = false;
  request.on("data", (chunk: Buffer) => {
    if (finished || collector.add(chunk)) return;
    finished = true;
    done(collector.result());
  });
  request.on("end", () => {
    if (finished) return;
    finished = true;
    done(collector.result());
  });
  request.on("error", () => {
    finished = true;
  });
}

/**
 * The body of a `streamBody` route as it arrives, failing with 413 once more than `limit` bytes
 * came. It never destroys the request, which would cut the connection before the answer; an
 * unread rest closes the connection after the response instead (see `closeIfUnread`).
 */
function bodyStream(request: IncomingMessage, limit: number | null): AsyncIterable<Uint8Array> {
  return {
    [Symbol.asyncIterator]: () => {
      const chunks = request[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
      let size = 0;
      return {
        async next(): Promise<IteratorResult<Uint8Array>> {
          const step = await chunks.next();
          if (step.done === true) return step;
          size += step.value.byteLength;
          if (limit !== null && size > limit) throw bodyTooLarge(limit);
          return step;
        },
        // Stopping early leaves the rest unread rather than destroying the request.
        return: (): Promise<IteratorResult<Uint8Array>> =>
          Promise.resolve({ done: true, value: undefined }),
      };
    },
  };
}

/** Bytes of a chunk of a streamed body. */
function chunkBytes(chunk: BodyChunk): number {
  return typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk.byteLength;
}

/**
 * Writes `stream` as the response's body, with backpressure. `ended`, when given, is told once
 * the response is over (its last chunk handed to the socket, or its client gone) how many body
 * bytes were written, and the error that cut the body short, if one did.
 */
async function writeStream(
  response: ServerResponse,
  stream: BodyStream,
  logger: Pick<Logger, "error">,
  ended?: (bytes: number, error?: unknown) => void,
): Promise<void> {
  const iterator = stream[Symbol.asyncIterator]();
  let producing = true;
  let closed = false;
  let bytes = 0;
  let failure: unknown;
  let reported = false;
  const onClose = (): void => {
    if (!reported) {
      reported = true;
      ended?.(bytes, failure);
    }
    if (!producing || response.writableFinished) return;
    closed = true;
    if (stream.cancel) stream.cancel();
    else void iterator.return?.();
  };
  // 'close' follows 'finish' on a response that ended well, and comes alone when its client left.
  response.once("close", onClose);
  // The client may have left before the first chunk was ready: nobody will read the stream.
  if (response.destroyed) onClose();
  try {
    for (;;) {
      if (closed) break;
      const step = await iterator.next();
      if (step.done || closed) break;
      bytes += chunkBytes(step.value);
      // A connection that closes while the socket is full never drains: wait for either.
      if (!response.write(step.value)) {
        await Promise.race([once(response, "drain"), once(response, "close")]);
      }
    }
    producing = false;
    if (!closed) response.end();
  } catch (error) {
    producing = false;
    if (!closed) {
      logger.error("A streamed response failed while being sent", error);
      failure = error;
      response.destroy(error as Error);
    }
  }
}

/** Writes a response record to the socket. */
export function writeResponse(
  response: ServerResponse,
  record: ResponseRecord,
  logger: Pick<Logger, "error">,
): void {
  // node:http writes a flat [name, value, …] list as it is (each repeated Set-Cookie on its own
  // line) when no header was set before: faster than an object, which it walks with for-in.
  response.writeHead(record.status, record.headers);
  const body = record.body;
  if (body === null || typeof body === "string" || body instanceof Uint8Array) {
    response.end(body ?? undefined);
    return;
  }
  void writeStream(response, body, logger);
}

function writeFailure(response: ServerResponse, logger: Pick<Logger, "error">): void {
  if (response.headersSent) response.destroy();
  else writeResponse(response, internalServerError(), logger);
}

/** Runs the requests whose route is placed on a thread (the process's thread pool). */
export interface Dispatcher {
  /**
   * `client` closing before the response is complete aborts the request's `request.signal`;
   * `rule` names the request's route; `span`, when the request is traced, is its server span.
   */
  dispatch(
    record: RequestRecord,
    client?: ServerResponse,
    rule?: string,
    span?: RequestSpan,
  ): Promise<ResponseRecord>;
}

/** gunicorn's request limits; a request over one is answered without reaching the app. */
export interface RequestLimits {
  /** Longest request line (`GET /path HTTP/1.1`) in bytes; 0 for no limit. → 414 */
  requestLine: number;
  /** Most header fields; 0 for no limit. → 431 */
  fields: number;
  /** Longest header field (`Name: value`) in bytes; 0 for no limit. → 431 */
  fieldSize: number;
}

/**
 * One answered request, as the loop reports it after the response (to the access log, whose
 * entry it is). What the log may not read costs nothing: the fields of the request are read
 * from it as they are asked for, and the request's id is made only if the log names it.
 */
export class Exchange implements AccessEntry {
  readonly durationMs: number;
  readonly startTime: number;

  constructor(
    private readonly request: IncomingMessage,
    /** The record the app was handed (after trusted proxy headers). */
    readonly record: RequestRecord,
    /** The rule of the route that answered (`/user/<int:id>`); `null` when none matched. */
    readonly route: string | null,
    readonly status: number,
    readonly responseHeaders: readonly string[],
    /** Bytes of the response body written; `null` when not known. */
    readonly responseBytes: number | null,
    /** When the request arrived, from `performance.now()`. */
    startedAt: number,
  ) {
    this.durationMs = performance.now() - startedAt;
    this.startTime = Math.round(Date.now() - this.durationMs);
  }

  get method(): string {
    return this.record.method;
  }

  get url(): string {
    return this.record.url;
  }

  get httpVersion(): string {
    return this.request.httpVersion;
  }

  get requestHeaders(): Readonly<Record<string, string>> {
    return this.record.headers;
  }

  get remoteAddress(): string {
    return this.record.remoteAddress;
  }

  get requestId(): string {
    return (this.record.id ??= newRequestId());
  }

  get pid(): number {
    return process.pid;
  }
}

/** `result` with the request's id in an `X-Request-ID` header, unless the app set one itself. */
function withRequestId(result: ResponseRecord, record: RequestRecord): ResponseRecord {
  const headers = result.headers;
  for (let i = 0; i < headers.length; i += 2) {
    if ((headers[i] as string).toLowerCase() === "x-request-id") return result;
  }
  // A copy: the app may hand the same header list to every response (a cached page).
  const id = (record.id ??= newRequestId());
  return { ...result, headers: [...headers, "X-Request-ID", id] };
}

function bodyBytes(body: ResponseRecord["body"]): number | null {
  if (body === null) return 0;
  if (typeof body === "string") return Buffer.byteLength(body);
  return body instanceof Uint8Array ? body.byteLength : null;
}

/** The arrival time of a request that is not traced. */
const UNTRACED = -1;

/** Options of the loop beyond the app itself. */
export interface LoopOptions {
  /** The thread pool, when this process has one. */
  pool?: Dispatcher | null;
  /** Whether unmarked synchronous handlers run on the pool (`--threads` > 0). */
  threaded?: boolean;
  limits?: RequestLimits;
  /** Rewrites the record from trusted proxy headers. */
  applyProxy?: (record: RequestRecord) => void;
  /** Called when a response has been written (for the access log). */
  onExchange?: (exchange: Exchange) => void;
  /** Called as each response starts (counts requests for `--max-requests`); costs nothing more. */
  onResponse?: () => void;
  /** Whether each response carries its request's id back in an `X-Request-ID` header. */
  echoRequestId?: boolean;
  /** While true, every response closes its connection (the process is draining). */
  isDraining?: () => boolean;
  /** Told how long each request held the event loop synchronously. */
  watchdog?: (record: RequestRecord, plan: RoutePlan, elapsedMs: number) => void;
  /** Makes each request a server span (OpenTelemetry); `null` or absent: no tracing. */
  tracing?: RequestTracing | null;
  /** Counts each request for the metrics (`--metrics-bind`). */
  meter?: RequestMeter;
  /** Paths answered before the app sees anything: liveness and readiness probes. */
  probes?: Probes;
}

/** The probe paths of `--healthz-path` and `--readyz-path` (`null`: not answered). */
export interface Probes {
  healthz: string | null;
  readyz: string | null;
}

const PROBE_HEADERS = ["Content-Type", "text/plain; charset=utf-8", "Cache-Control", "no-store"];

/**
 * The answer to a probe, or `null` when `request` is none: the liveness path answers 200 while
 * the process serves, the readiness path 503 once it drains. No app code runs for either.
 */
function probeAnswer(
  request: IncomingMessage,
  probes: Probes,
  draining: boolean,
): ResponseRecord | null {
  const url = request.url ?? "/";
  const end = url.indexOf("?");
  const path = end === -1 ? url : url.slice(0, end);
  const method = request.method;
  if (method !== "GET" && method !== "HEAD") return null;
  if (path === probes.healthz) return { status: 200, headers: [...PROBE_HEADERS], body: "ok\n" };
  if (path !== probes.readyz) return null;
  return draining
    ? { status: 503, headers: [...PROBE_HEADERS], body: "draining\n" }
    : { status: 200, headers: [...PROBE_HEADERS], body: "ready\n" };
}

/** The size of a request's body as far as the loop knows it: read, or declared. */
function requestBytes(record: RequestRecord): number {
  if (record.body !== null) return record.body.byteLength;
  const declared = Number(record.headers["content-length"]);
  return Number.isFinite(declared) ? declared : 0;
}

/**
 * A request whose framing cannot be trusted, answered 400 and closed: a version other than
 * HTTP/1.0 or 1.1 (llhttp takes `GET /` as HTTP/0.9, and `HTTP/2.0` as an HTTP/1 request), and
 * an HTTP/1.0 request with Transfer-Encoding, which an HTTP/1.0 front end would not have decoded
 * as this server does (RFC 9112 section 6.1: such framing is faulty).
 */
function framingError(request: IncomingMessage): ResponseRecord | null {
  const { httpVersionMajor: major, httpVersionMinor: minor } = request;
  let description: string | undefined;
  if (major !== 1 || minor > 1) {
    description = `HTTP/${major}.${minor} is not served here; send HTTP/1.1 (or HTTP/1.0) requests.`;
  } else if (minor === 0 && request.headers["transfer-encoding"] !== undefined) {
    description =
      "An HTTP/1.0 request cannot have a Transfer-Encoding; send its body with Content-Length.";
  }
  return description === undefined
    ? null
    : exceptionResponse(new BadRequest(description), false).toRecord(request.method ?? "GET");
}

function limitError(request: IncomingMessage, limits: RequestLimits): ResponseRecord | null {
  const method = request.method ?? "GET";
  const url = request.url ?? "/";
  if (limits.requestLine > 0 && method.length + url.length + 10 > limits.requestLine) {
    return exceptionResponse(
      new RequestURITooLarge(`The request line is longer than ${limits.requestLine} bytes.`),
      false,
    ).toRecord(method);
  }
  const raw = request.rawHeaders;
  if (limits.fields > 0 && raw.length / 2 > limits.fields) {
    return exceptionResponse(
      new RequestHeaderFieldsTooLarge(`The request has more than ${limits.fields} header fields.`),
      false,
    ).toRecord(method);
  }
  if (limits.fieldSize > 0) {
    for (let i = 0; i < raw.length; i += 2) {
      if ((raw[i] as string).length + (raw[i + 1] as string).length + 2 > limits.fieldSize) {
        return exceptionResponse(
          new RequestHeaderFieldsTooLarge(
            `The header field '${raw[i] as string}' is longer than ${limits.fieldSize} bytes.`,
          ),
          false,
        ).toRecord(method);
      }
    }
  }
  return null;
}

/**
 * The answer to a request refused before the app sees it: over a limit (414/431), framed in a
 * way that cannot be trusted, or with a bad Host (400); `null` for a request the app may see.
 * The same for ordinary requests and WebSocket upgrades.
 */
export function refusalOf(
  request: IncomingMessage,
  limits: RequestLimits | undefined,
): ResponseRecord | null {
  return (
    (limits !== undefined ? limitError(request, limits) : null) ??
    framingError(request) ??
    hostError(request)
  );
}

/**
 * A `node:http` request listener that serves `app`: each request's plan, asked of the app once,
 * says how its body is read and where it runs, on the loop or on the pool; the plan then goes
 * back to the app with the request.
 */
export function createRequestListener(
  app: RecordHandler,
  logger: Pick<Logger, "error">,
  options: LoopOptions = {},
) {
  const pool = options.pool ?? null;
  // Without a pool every request runs on the loop, so none is planned for a thread.
  const threaded = pool !== null && (options.threaded ?? false);
  const { limits, applyProxy, onExchange, onResponse, isDraining, watchdog, meter, probes } =
    options;
  const tracing = options.tracing ?? null;
  const echoRequestId = options.echoRequestId ?? false;

  /** Counts a request's end for the metrics; `startedAt` is from `performance.now()`. */
  const metered = (
    record: RequestRecord,
    rule: string | null,
    status: number,
    startedAt: number,
    responseBytes: number | null,
  ): void => {
    (meter as RequestMeter).end(
      record.method,
      rule,
      status,
      record.scheme,
      (performance.now() - startedAt) / 1000,
      requestBytes(record),
      responseBytes,
    );
  };

  const respond = (
    request: IncomingMessage,
    response: ServerResponse,
    record: RequestRecord,
    result: ResponseRecord,
    startedAt: number,
    rule: string | null,
    span?: RequestSpan,
  ): void => {
    if (isDraining?.()) response.shouldKeepAlive = false;
    const sent = echoRequestId ? withRequestId(result, record) : result;
    const { status, headers, body } = sent;
    if (body !== null && typeof body !== "string" && !(body instanceof Uint8Array)) {
      respondStreamed(request, response, record, sent, body, startedAt, rule, span);
      onResponse?.();
      return;
    }
    if (span === undefined) writeResponse(response, sent, logger);
    else {
      span.run(() => writeResponse(response, sent, logger));
      // The span covers the whole response, or ends as its client left.
      const bytes = request.method === "HEAD" ? 0 : bodyBytes(body);
      response.once("close", () => span.end(status, bytes));
    }
    onResponse?.();
    if (meter === undefined && onExchange === undefined) return;
    const bytes = request.method === "HEAD" ? 0 : bodyBytes(body);
    if (meter !== undefined) metered(record, rule, status, startedAt, bytes);
    // A complete body is in the socket's hands now: the exchange is over as far as the server
    // can tell, and reporting it at once spares each request a listener.
    onExchange?.(new Exchange(request, record, rule, status, headers, bytes, startedAt));
  };

  /**
   * A streamed body is measured, logged and its span ended once it has been written, or its
   * client left: its duration is the whole response's, and its size what was written of it.
   */
  const respondStreamed = (
    request: IncomingMessage,
    response: ServerResponse,
    record: RequestRecord,
    sent: ResponseRecord,
    body: BodyStream,
    startedAt: number,
    rule: string | null,
    span?: RequestSpan,
  ): void => {
    const { status, headers } = sent;
    const ended = (written: number, error?: unknown): void => {
      const bytes = request.method === "HEAD" ? 0 : written;
      span?.end(status, bytes, error);
      if (meter !== undefined) metered(record, rule, status, startedAt, bytes);
      onExchange?.(new Exchange(request, record, rule, status, headers, bytes, startedAt));
    };
    response.writeHead(status, headers);
    // The body is produced as it is written: under the span, like the view.
    if (span === undefined) void writeStream(response, body, logger, ended);
    else span.run(() => void writeStream(response, body, logger, ended));
  };

  /**
   * The app threw instead of answering: logged with the request's route and id, recorded on its
   * span, then a 500.
   */
  const failed = (
    response: ServerResponse,
    record: RequestRecord,
    rule: string | null,
    startedAt: number,
    error: unknown,
    span?: RequestSpan,
  ): void => {
    const id = (record.id ??= newRequestId());
    logger.error(
      `The app failed to handle ${record.method} ${record.url} ${requestNote(rule, id)}`,
      error,
    );
    if (span !== undefined) {
      span.recordException(error);
      span.end(500);
    }
    if (response.headersSent) response.destroy();
    else {
      const answer = internalServerError();
      writeResponse(response, echoRequestId ? withRequestId(answer, record) : answer, logger);
    }
    if (meter !== undefined) metered(record, rule, 500, startedAt, null);
  };

  const handleRecord = (
    request: IncomingMessage,
    response: ServerResponse,
    plan: RoutePlan,
    body: Uint8Array | null,
    tooLarge: boolean,
    startedAt: number,
    arrivedMs: number,
    stream?: AsyncIterable<Uint8Array>,
  ): void => {
    // An unread body cannot be skipped on a kept-alive connection: close it after answering.
    if (tooLarge) response.shouldKeepAlive = false;
    const record = recordFromIncoming(request, body, tooLarge);
    const rule = plan.rule ?? null;
    applyProxy?.(record);
    const span =
      arrivedMs === UNTRACED ? undefined : tracing?.start(request, record, rule, arrivedMs);
    let result: ResponseRecord | Promise<ResponseRecord>;
    try {
      if (pool !== null && plan.placement === "thread") {
        result = pool.dispatch(record, response, plan.rule ?? undefined, span);
      } else if (watchdog !== undefined) {
        const started = performance.now();
        result =
          span === undefined
            ? app.handle(record, plan, response, stream)
            : span.run(() => app.handle(record, plan, response, stream));
        watchdog(record, plan, performance.now() - started);
      } else {
        result =
          span === undefined
            ? app.handle(record, plan, response, stream)
            : span.run(() => app.handle(record, plan, response, stream));
      }
    } catch (error) {
      failed(response, record, rule, startedAt, error, span);
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (out) => {
          if (stream !== undefined) closeIfUnread(request, response);
          respond(request, response, record, out, startedAt, rule, span);
        },
        (error: unknown) => failed(response, record, rule, startedAt, error, span),
      );
    } else {
      if (stream !== undefined) closeIfUnread(request, response);
      respond(request, response, record, result, startedAt, rule, span);
    }
  };

  // `expectsContinue`: the server's `checkContinue` event passed the request, so the client waits
  // for "100 Continue" before it sends the body; it gets one only when the body will be read.
  return (request: IncomingMessage, response: ServerResponse, expectsContinue = false): void => {
    if (probes !== undefined) {
      const answer = probeAnswer(request, probes, isDraining?.() ?? false);
      if (answer !== null) {
        writeResponse(response, answer, logger);
        return;
      }
    }
    // Only the access log and the metrics need the time.
    const startedAt = onExchange === undefined && meter === undefined ? 0 : performance.now();
    meter?.begin();
    // Traced when a provider is registered by the time the request arrives.
    const arrivedMs = tracing !== null && tracing.enabled() ? epochMs() : UNTRACED;
    const refused = refusalOf(request, limits);
    if (refused !== null) {
      response.shouldKeepAlive = false;
      const record = recordFromIncoming(request, null, false);
      respond(request, response, record, refused, startedAt, null);
      return;
    }
    let plan: RoutePlan;
    try {
      plan = app.planOf(request.method ?? "GET", request.url ?? "/", threaded);
    } catch (error) {
      logger.error("The app failed to plan a request", error);
      response.shouldKeepAlive = false;
      writeFailure(response, logger);
      if (meter !== undefined) {
        metered(recordFromIncoming(request, null, false), null, 500, startedAt, null);
      }
      return;
    }
    // Most requests have no body: they go straight on, with no closure to wait for one.
    if (hasNoBody(request)) {
      handleRecord(request, response, plan, null, false, startedAt, arrivedMs);
      return;
    }
    const { read, limit } = plan.body;
    if (read === "skip") {
      // Routing answers without a view (404, 405, …): not a byte of the body is read, and the
      // connection closes after the answer, since the unread rest cannot be skipped.
      response.shouldKeepAlive = false;
      handleRecord(request, response, plan, null, false, startedAt, arrivedMs);
    } else if (declaresMoreThan(request.headers["content-length"], limit)) {
      handleRecord(request, response, plan, null, true, startedAt, arrivedMs);
    } else {
      if (expectsContinue) response.writeContinue();
      if (read === "stream") {
        const stream = bodyStream(request, limit);
        handleRecord(request, response, plan, null, false, startedAt, arrivedMs, stream);
      } else {
        readBody(request, limit, (body) =>
          handleRecord(request, response, plan, body.body, body.tooLarge, startedAt, arrivedMs),
        );
      }
    }
  };
}

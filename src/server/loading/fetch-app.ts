// Serves any object with `fetch(Request): Response` (a Hono app, a Carafe app's `fetch`, a
// Bun-style `{ fetch }` module) through the record boundary, the way gunicorn serves any WSGI
// callable: a RequestRecord becomes a web `Request`, the `Response` becomes a ResponseRecord.

import {
  DEFAULT_MAX_CONTENT_LENGTH,
  recordFromResponse,
  requestFromRecord,
  withConsoleFallback,
  type Logger,
  type RequestRecord,
  type ResponseRecord,
  type RoutePlan,
  type ServableApp,
} from "../../framework/internal.ts";
import { ServerError } from "../errors.ts";
import { internalServerError, plainResponse } from "../http/plain-response.ts";

/** What the server needs of a fetch app: a `fetch(Request)` method, sync or async. */
export interface FetchApp {
  fetch(request: Request, ...rest: never[]): Response | Promise<Response>;
}

/** Options of {@link fromFetchApp}. */
export interface FetchAppOptions {
  /**
   * Largest accepted request body in bytes (413 beyond it); default 1 MiB, as a Carafe app's.
   * `null` accepts any size on every route of the app: give it only with a bound of the app's own.
   */
  maxContentLength?: number | null;
  /**
   * Receives the errors the app throws (the message never reaches the client); what it leaves
   * out, or all of it when absent, goes to standard error.
   */
  logger?: Pick<Logger, "error"> & Partial<Logger>;
  /** The name the boot banner shows; defaults to the app's class name (`Hono`). */
  name?: string;
}

/**
 * A fetch app wrapped as the base of the server's contract: every request is planned alike (no
 * rule, on the loop, its body read whole within `maxContentLength`), with a name and a logger.
 */
export interface FetchAppHandler extends ServableApp {
  readonly name: string;
  readonly logger: Logger;
  /** Largest accepted request body in bytes, or `null` for no limit. */
  readonly maxContentLength: number | null;
}

/** Thrown by {@link fromFetchApp} when it is given something without a `fetch` method. */
export class FetchAppError extends ServerError {
  override name = "FetchAppError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_NOT_A_FETCH_APP", message, options);
  }
}

// The fetch standard refuses these methods in `new Request`; the app can never see them.
const UNSUPPORTED_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);

function isResponse(value: unknown): value is Response {
  return (
    value instanceof Response ||
    (typeof value === "object" &&
      value !== null &&
      typeof (value as Response).status === "number" &&
      typeof (value as Response).headers?.getSetCookie === "function")
  );
}

/**
 * Wraps an object with `fetch(Request)` as an app the Carafe server can run.
 *
 * The app's `Response` body is streamed (never buffered); a thrown or rejected `fetch`, or one
 * that returns something other than a `Response`, is answered with a plain 500 and logged.
 *
 * @example
 * import { Hono } from "hono";
 * const hono = new Hono().get("/", (c) => c.text("Hello Hono!"));
 * const server = await startDevServer(fromFetchApp(hono), { port: 8000 });
 * // Or for `carafe serve app.ts`, with bodies up to 64 MiB instead of 1 MiB:
 * export default fromFetchApp(hono, { maxContentLength: 64 * 1024 * 1024 });
 */
export function fromFetchApp(target: FetchApp, options: FetchAppOptions = {}): FetchAppHandler {
  if (!isFetchApp(target)) {
    throw new FetchAppError(
      "fromFetchApp needs an object with a fetch(request) method, such as a Hono app",
    );
  }
  const logger = withConsoleFallback(options.logger);
  const maxContentLength =
    options.maxContentLength === undefined ? DEFAULT_MAX_CONTENT_LENGTH : options.maxContentLength;
  const className = target.constructor?.name;
  const name = options.name ?? (className && className !== "Object" ? className : "app");

  const fail = (error: unknown): ResponseRecord => {
    // The wrapper's logger, read now: `carafe serve` replaces the default one with its error log.
    handler.logger.error("The app failed to handle a request", error);
    return internalServerError();
  };
  // A fetch app names no routes: one plan fits every request, and nothing is made per request.
  const plan: RoutePlan = Object.freeze({
    rule: null,
    placement: "loop",
    body: Object.freeze({ read: "buffer", limit: maxContentLength }),
  });
  const finish = (result: unknown, method: string): ResponseRecord =>
    isResponse(result)
      ? recordFromResponse(result, method)
      : fail(
          new ServerError(
            "ERR_FETCH_RESULT",
            `fetch returned ${typeof result}, not a Response; return (or resolve to) a Response`,
          ),
        );

  const handler: FetchAppHandler = {
    name,
    logger,
    maxContentLength,
    planOf: () => plan,
    handle(record: RequestRecord): ResponseRecord | Promise<ResponseRecord> {
      if (record.bodyTooLarge) return plainResponse(413, "Payload Too Large\n");
      if (UNSUPPORTED_METHODS.has(record.method)) return plainResponse(501, "Not Implemented\n");
      let request: Request;
      try {
        request = requestFromRecord(record);
      } catch {
        // An unparseable Host or a header value the fetch standard refuses: the client's fault.
        return plainResponse(400, "Bad Request\n");
      }
      const method = record.method;
      let result: Response | Promise<Response>;
      try {
        result = target.fetch(request);
      } catch (error) {
        return fail(error);
      }
      // A synchronous Response is answered without a promise turn (Hono returns one for sync routes).
      if (typeof (result as Partial<Promise<Response>>).then !== "function") {
        return finish(result, method);
      }
      return (result as Promise<Response>).then((response) => finish(response, method), fail);
    },
  };
  return handler;
}

/**
 * Whether `value` has a `fetch` method the server can call. A Carafe app has one too: check
 * {@link isRecordHandler} first to serve it without the web adapter.
 */
export function isFetchApp(value: unknown): value is FetchApp {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { fetch?: unknown }).fetch === "function"
  );
}

/**
 * Whether `value` is an app the server runs directly: it has the contract's `planOf` and
 * `handle` (a Carafe app, or a fetch app already wrapped). A module's export is checked so when
 * the app is loaded; past that point the server knows its app by the contract's type.
 */
export function isRecordHandler(value: unknown): value is ServableApp {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { handle?: unknown }).handle === "function" &&
    typeof (value as { planOf?: unknown }).planOf === "function"
  );
}

/**
 * The app for anything the server can run: a Carafe app as it is, a fetch app
 * wrapped by {@link fromFetchApp}, or `null` for anything else (what `loadApp` needs).
 */
export function toRecordHandler(value: unknown, options?: FetchAppOptions): ServableApp | null {
  if (isRecordHandler(value)) return value;
  if (isFetchApp(value)) return fromFetchApp(value, options);
  return null;
}

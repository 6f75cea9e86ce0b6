// The web adapter: the record boundary in web-standard terms, both ways and for both messages.
// `app.fetch(Request)` runs a Carafe app on any fetch-handler host (Request → record,
// record → Response); the server runs any fetch app, such as Hono, through records
// (record → Request, Response → record).

import {
  type BodyStream,
  type ClientConnection,
  type RecordHandler,
  type RequestRecord,
  type ResponseRecord,
} from "./records.ts";
import { declaresMoreThan, readBoundedBody } from "./body-reader.ts";

const encoder = new TextEncoder();

/**
 * Builds a RequestRecord from a web `Request`, reading its body within the size limit, or not
 * at all when `readBody` is false (routing answers it without a view).
 */
export async function recordFromRequest(
  request: globalThis.Request,
  maxContentLength: number | null,
  readBody = true,
): Promise<RequestRecord> {
  const url = new URL(request.url);
  const headers: Record<string, string> = {};
  request.headers.forEach((value, name) => {
    // Only Set-Cookie comes once a value; a record joins repeated headers with ", ".
    const before = headers[name];
    headers[name] = before === undefined ? value : `${before}, ${value}`;
  });
  headers["host"] ??= url.host;
  const record: RequestRecord = {
    method: request.method.toUpperCase(),
    url: url.pathname + url.search,
    headers,
    body: null,
    remoteAddress: "",
    scheme: url.protocol === "https:" ? "https" : "http",
  };
  if (!readBody) return record;
  if (declaresMoreThan(headers["content-length"], maxContentLength)) {
    record.bodyTooLarge = true;
    return record;
  }
  if (request.body === null) return record;
  const read = await readBoundedBody(request.body, maxContentLength);
  if (read.tooLarge) record.bodyTooLarge = true;
  else record.body = read.body;
  return record;
}

/** The absolute URL of a record's target: origin-form targets take their origin from Host. */
function urlOf(record: RequestRecord): string {
  // Absolute-form targets (`GET http://host/path`) already name the origin.
  if (record.url.charCodeAt(0) !== 47 /* "/" */) return record.url;
  return `${record.scheme}://${record.headers["host"] || "localhost"}${record.url}`;
}

/**
 * Builds a web `Request` from a RequestRecord (a GET or HEAD request has no body). Throws a
 * `TypeError` for what the fetch standard refuses: an unparseable Host, a forbidden method or
 * header value.
 */
export function requestFromRecord(record: RequestRecord): globalThis.Request {
  const init: RequestInit = { method: record.method, headers: record.headers };
  if (record.body !== null && record.method !== "GET" && record.method !== "HEAD") {
    init.body = record.body;
  }
  return new globalThis.Request(urlOf(record), init);
}

function readableStreamOf(body: BodyStream): ReadableStream<Uint8Array> {
  let iterator: AsyncIterator<Uint8Array | string> | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      iterator ??= body[Symbol.asyncIterator]();
      const step = await iterator.next();
      if (step.done) controller.close();
      else
        controller.enqueue(
          typeof step.value === "string" ? encoder.encode(step.value) : step.value,
        );
    },
    cancel() {
      if (body.cancel) body.cancel();
      else void iterator?.return?.();
    },
  });
}

/** An async iterable over a web stream; `cancel` releases it when the client goes away. */
function bodyStreamOf(stream: ReadableStream<Uint8Array>): BodyStream {
  const reader = stream.getReader();
  const cancel = (): void => {
    // The producer may already have failed or finished; there is nobody left to tell.
    reader.cancel().catch(() => {});
  };
  return {
    [Symbol.asyncIterator]: () => ({
      next: () => reader.read() as Promise<IteratorResult<Uint8Array>>,
      return: () => {
        cancel();
        return Promise.resolve({ done: true, value: undefined });
      },
    }),
    cancel,
  };
}

/** Builds a web `Response` from a ResponseRecord; a streamed body stays streamed. */
export function responseFromRecord(record: ResponseRecord): globalThis.Response {
  const headers = new Headers();
  for (let i = 0; i < record.headers.length; i += 2) {
    headers.append(record.headers[i] as string, record.headers[i + 1] as string);
  }
  const body = record.body;
  const init = { status: record.status, headers };
  if (body === null) return new globalThis.Response(null, init);
  if (typeof body === "string" || body instanceof Uint8Array)
    return new globalThis.Response(body, init);
  return new globalThis.Response(readableStreamOf(body), init);
}

/**
 * Builds a ResponseRecord from the web `Response` to a `method` request. The body is streamed,
 * never buffered; a response that has none (HEAD, 204, 304, 1xx) has its stream cancelled.
 */
export function recordFromResponse(response: globalThis.Response, method: string): ResponseRecord {
  const headers: string[] = [];
  response.headers.forEach((value, name) => {
    if (name !== "set-cookie") headers.push(name, value);
  });
  // Joined with ", " a Set-Cookie list is unparseable (dates contain commas): keep them apart.
  for (const cookie of response.headers.getSetCookie()) headers.push("set-cookie", cookie);
  const status = response.status;
  const stream = response.body;
  if (method === "HEAD" || status === 204 || status === 304 || (status >= 100 && status < 200)) {
    stream?.cancel().catch(() => {});
    return { status, headers, body: null };
  }
  if (stream === null) {
    // Without a length an empty body would be sent chunked; say it is empty.
    if (response.headers.get("content-length") === null) headers.push("content-length", "0");
    return { status, headers, body: null };
  }
  return { status, headers, body: bodyStreamOf(stream) };
}

/** Handles a web `Request` with `app`. */
export async function fetchWith(
  app: RecordHandler,
  request: globalThis.Request,
): Promise<globalThis.Response> {
  const url = new URL(request.url);
  const plan = app.planOf(request.method.toUpperCase(), url.pathname + url.search);
  const record = await recordFromRequest(request, plan.body.limit, plan.body.read !== "skip");
  return responseFromRecord(await app.handle(record, plan, connectionOf(request.signal)));
}

/** The host's abort signal of a web request as the connection `request.signal` follows. */
function connectionOf(signal: AbortSignal): ClientConnection {
  return {
    writableFinished: false,
    get destroyed() {
      return signal.aborted;
    },
    once: (_event, listener) => signal.addEventListener("abort", listener, { once: true }),
  };
}

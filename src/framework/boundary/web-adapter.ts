// The web-standard adapter: `app.fetch(Request) → Promise<Response>` over the record boundary,
// so a Carafe app runs on any fetch-handler host.

import {
  bodyPlanOf,
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
    headers[name] = value;
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

function toReadableStream(body: BodyStream): ReadableStream<Uint8Array> {
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

/** Builds a web `Response` from a ResponseRecord. */
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
  return new globalThis.Response(toReadableStream(body), init);
}

/** Handles a web `Request` with `app`. */
export async function fetchWith(
  app: RecordHandler,
  request: globalThis.Request,
): Promise<globalThis.Response> {
  const url = new URL(request.url);
  const plan = bodyPlanOf(app, request.method.toUpperCase(), url.pathname + url.search);
  const record = await recordFromRequest(request, plan.limit, plan.read !== "skip");
  return responseFromRecord(await app.handle(record, connectionOf(request.signal)));
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

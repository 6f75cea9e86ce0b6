// The http loop: node:http (llhttp) parses and keeps connections alive; this file turns each
// request into a RequestRecord (reading the body within the app's size limit), hands it to the
// app, and writes the ResponseRecord back with backpressure.

import type { IncomingMessage, ServerResponse } from "node:http";
import { once } from "node:events";
import type {
  BodyStream,
  RecordHandler,
  RequestRecord,
  ResponseRecord,
} from "../framework/index.ts";

/** Where the loop reports failures it cannot answer with a response. */
export interface LoopLogger {
  error(message: string, error?: unknown): void;
}

function headersOf(request: IncomingMessage): Record<string, string> {
  const headers = request.headers as Record<string, string | string[] | undefined>;
  const cookies = headers["set-cookie"];
  if (cookies !== undefined) headers["set-cookie"] = ([] as string[]).concat(cookies).join(", ");
  return headers as Record<string, string>;
}

function recordOf(
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
  return record;
}

/** Reads the body unless it is over `limit`; `null` body and `true` when it was too large. */
function readBody(
  request: IncomingMessage,
  limit: number | null,
  done: (body: Uint8Array | null, tooLarge: boolean) => void,
): void {
  const declared = request.headers["content-length"];
  // Without Content-Length or Transfer-Encoding an HTTP/1.1 request has no body.
  if (
    request.headers["transfer-encoding"] === undefined &&
    (declared === undefined || declared === "0")
  ) {
    done(null, false);
    return;
  }
  if (limit !== null && declared !== undefined && Number(declared) > limit) {
    done(null, true);
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  request.on("data", (chunk: Buffer) => {
    if (finished) return;
    size += chunk.byteLength;
    if (limit !== null && size > limit) {
      finished = true;
      done(null, true);
      return;
    }
    chunks.push(chunk);
  });
  request.on("end", () => {
    if (finished) return;
    finished = true;
    done(
      size === 0 ? null : chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size),
      false,
    );
  });
  request.on("error", () => {
    finished = true;
  });
}

async function writeStream(
  response: ServerResponse,
  stream: BodyStream,
  logger: LoopLogger,
): Promise<void> {
  const iterator = stream[Symbol.asyncIterator]();
  let closed = false;
  const onClose = (): void => {
    if (response.writableFinished) return;
    closed = true;
    if (stream.cancel) stream.cancel();
    else void iterator.return?.();
  };
  response.on("close", onClose);
  try {
    for (;;) {
      const step = await iterator.next();
      if (step.done || closed) break;
      if (!response.write(step.value)) await once(response, "drain");
    }
    if (!closed) response.end();
  } catch (error) {
    if (!closed) {
      logger.error("A streamed response failed while being sent", error);
      response.destroy(error as Error);
    }
  } finally {
    response.off("close", onClose);
  }
}

/** Writes a response record to the socket. */
export function writeResponse(
  response: ServerResponse,
  record: ResponseRecord,
  logger: LoopLogger,
): void {
  response.writeHead(record.status, record.headers);
  const body = record.body;
  if (body === null || typeof body === "string" || body instanceof Uint8Array) {
    response.end(body ?? undefined);
    return;
  }
  void writeStream(response, body, logger);
}

function writeFailure(response: ServerResponse): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const text = "Internal Server Error\n";
  response.writeHead(500, [
    "Content-Type",
    "text/plain; charset=utf-8",
    "Content-Length",
    String(text.length),
  ]);
  response.end(text);
}

/** A `node:http` request listener that serves `app`. */
export function createRequestListener(app: RecordHandler, logger: LoopLogger) {
  return (request: IncomingMessage, response: ServerResponse): void => {
    readBody(request, app.maxContentLength, (body, tooLarge) => {
      // An unread body cannot be skipped on a kept-alive connection: close it after answering.
      if (tooLarge) response.shouldKeepAlive = false;
      let result: ResponseRecord | Promise<ResponseRecord>;
      try {
        result = app.handle(recordOf(request, body, tooLarge));
      } catch (error) {
        logger.error("The app failed to handle a request", error);
        writeFailure(response);
        return;
      }
      if (result instanceof Promise) {
        result.then(
          (record) => writeResponse(response, record, logger),
          (error: unknown) => {
            logger.error("The app failed to handle a request", error);
            writeFailure(response);
          },
        );
      } else writeResponse(response, result, logger);
    });
  };
}

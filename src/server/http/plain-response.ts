// The plain-text answers the server writes itself, without the app: the one fallback 500 when
// the app fails to answer (on the loop, on a pool thread, for a fetch app, for a WebSocket
// upgrade), and the few refusals a fetch app's host makes. Plain data only, so a pool thread
// imports it as cheaply as the loop.

import { Buffer } from "node:buffer";
import type { ResponseRecord } from "../../framework/internal.ts";

/** A response whose whole body is text: it can cross to the loop in one message. */
export type PlainResponse = ResponseRecord & { body: string };

/** A complete `text/plain` response record with its `Content-Length`. */
export function plainResponse(status: number, text: string): PlainResponse {
  return {
    status,
    headers: [
      "Content-Type",
      "text/plain; charset=utf-8",
      "Content-Length",
      String(Buffer.byteLength(text)),
    ],
    body: text,
  };
}

/**
 * The 500 the server answers when the app failed to produce a response: it says nothing of the
 * failure, which goes to the error log. A new record each time, so no writer shares one.
 */
export function internalServerError(): PlainResponse {
  return plainResponse(500, "Internal Server Error\n");
}

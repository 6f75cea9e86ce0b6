// What OpenTelemetry's HTTP semantic conventions say of a request method, shared by the request
// spans (tracing.ts) and the request metrics (metrics/request-meter.ts).

/** The methods the conventions name as they are (QUERY included, as later versions do). */
const KNOWN_METHODS = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "CONNECT",
  "OPTIONS",
  "TRACE",
  "PATCH",
  "QUERY",
]);

/**
 * `method` as the conventions record it: itself when known, else `_OTHER`, so that a client
 * cannot make up new span names or metric series.
 */
export function semconvMethod(method: string): string {
  return method === "GET" || KNOWN_METHODS.has(method) ? method : "_OTHER";
}

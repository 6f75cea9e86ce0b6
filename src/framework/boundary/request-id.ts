// Request ids: the `request.id` of every request, what the access log and error messages name it
// by. A server takes one from a trusted proxy's X-Request-ID when it is well formed; every other
// request gets one from `newRequestId`.
//
// Design: an id is made on the hot path, so it costs a counter and a string, not a call into the
// random generator: each process (each pool thread, too: a module instance each) draws 74 random
// bits once, and its ids are those bits and a 48-bit counter, laid out as a version 8 UUID (RFC
// 9562's layout for ids of one's own making), which log tools read as a UUID. Two processes
// share a prefix with odds of one in 2^74, so ids stay unique across workers and restarts.

import { randomBytes } from "node:crypto";

function randomPrefix(): string {
  const hex = randomBytes(10).toString("hex");
  // The version nibble (8) and the variant bits (10xx) take the places RFC 9562 gives them.
  const variant = ((parseInt(hex[16] as string, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(12, 15)}-${variant}${hex.slice(17, 20)}-`;
}

const PREFIX = randomPrefix();
let counter = 0;

/**
 * A new request id, unique across processes and restarts: a version 8 UUID such as
 * `3f2a9c1e-77b0-8d41-a2c9-00000000002a`, its last part counting this process's requests.
 */
export function newRequestId(): string {
  counter += 1;
  return PREFIX + counter.toString(16).padStart(12, "0");
}

/**
 * What a log message says of a request after its method and path: its route and its id, as
 * `(route /user/<int:id>, request id 3f2a…)`, or `(no route, request id …)` when none matched.
 */
export function requestNote(rule: string | null | undefined, id: string): string {
  return `(${rule ? `route ${rule}` : "no route"}, request id ${id})`;
}

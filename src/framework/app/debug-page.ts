// The development error page: the stack trace of a failed request, for loopback clients of an
// app in debug mode only.

import { Response, escapeHtml } from "../http/response.ts";

/** Loopback peers, the only ones shown debug pages. */
export function isLoopback(address: string): boolean {
  return address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127.");
}

/** The 500 page that shows `error`'s message and stack. */
export function debugPage(error: unknown): Response {
  const stack = error instanceof Error ? (error.stack ?? String(error)) : String(error);
  const message = error instanceof Error ? error.message : String(error);
  return new Response(
    `<!doctype html>\n<title>500 Internal Server Error (debug)</title>\n<h1>${escapeHtml(message)}</h1>\n<pre>${escapeHtml(stack)}</pre>\n`,
    { status: 500 },
  );
}

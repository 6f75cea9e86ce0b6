// What an app logs under `carafe serve`, when it kept the default logger: entries of the
// server's error log (`--error-log`) rather than lines on standard error, each naming the route
// and the id of the request it was logged in. On the loop an entry is written where it is made;
// a pool thread hands its entries to the loop (pool-thread.ts), which writes them.

import type { Logger } from "../../framework/internal.ts";

/** One message of the app (or of a pool thread) for the error log. */
export interface LogEntry {
  level: "debug" | "info" | "warning" | "error";
  message: string;
  /** The logged error's stack (a thrown value that is not an Error: its text); absent if none. */
  stack?: string;
  /** The rule of the route of the request it was logged in; `null` outside one or with none. */
  route: string | null;
  /** The id of the request it was logged in (`request.id`); `null` outside a request. */
  requestId: string | null;
}

/** The request a message is logged in: its route and its id. */
export type LoggedRequest = { route: string | null; requestId: string } | null;

/** The stack of a logged error; a thrown value that is not an Error: its text. */
export function stackOf(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return String(error);
}

/**
 * A Logger whose messages become entries handed to `write`, each with the request that
 * `request()` names when it is logged.
 *
 * @example
 * adoptServerLogger(app, entryLogger((entry) => errorLog.write(entry), requestLogFields));
 */
export function entryLogger(
  write: (entry: LogEntry) => void,
  request: () => LoggedRequest,
): Logger {
  const entry = (level: LogEntry["level"], message: string, error?: unknown): void => {
    const { route = null, requestId = null } = request() ?? {};
    write({
      level,
      message,
      ...(error === undefined ? {} : { stack: stackOf(error) }),
      route,
      requestId,
    });
  };
  return {
    error: (message, error) => entry("error", message, error),
    warn: (message) => entry("warning", message),
    info: (message) => entry("info", message),
    debug: (message) => entry("debug", message),
  };
}

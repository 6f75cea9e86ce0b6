// Where Carafe reports errors and warnings: one small interface, so apps can plug in their own
// logger, and the server's own logs (error log, supervisor, workers) are the same shape.

/** A logger Carafe writes to; assign your own to `app.logger`. */
export interface Logger {
  error(message: string, error?: unknown): void;
  warn(message: string): void;
  info(message: string): void;
  /** Detail only the server writes (`--log-level debug`); a logger may leave it out. */
  debug?(message: string): void;
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return String(error);
}

/** Writes to standard error, with the stack trace of errors. */
export const consoleLogger: Logger = {
  error(message, error) {
    console.error(`[carafe] ERROR ${message}${error === undefined ? "" : `\n${describe(error)}`}`);
  },
  warn(message) {
    console.error(`[carafe] WARNING ${message}`);
  },
  info(message) {
    console.error(`[carafe] ${message}`);
  },
};

/**
 * A whole Logger from one that may have only `error` (what `fromFetchApp` or a bare app may be
 * given): its own methods, and {@link consoleLogger}'s for the ones it leaves out; the console
 * logger itself for none. @internal
 */
export function withConsoleFallback(
  logger: (Pick<Logger, "error"> & Partial<Logger>) | undefined,
): Logger {
  if (logger === undefined) return consoleLogger;
  if (logger.warn !== undefined && logger.info !== undefined) return logger as Logger;
  return {
    error: (message, error) => logger.error(message, error),
    warn: (message) => (logger.warn ? logger.warn(message) : consoleLogger.warn(message)),
    info: (message) => (logger.info ? logger.info(message) : consoleLogger.info(message)),
    ...(logger.debug ? { debug: (message: string) => logger.debug?.(message) } : {}),
  };
}

/**
 * Gives `app` the server's `logger` if it kept the default one, so that what it logs goes where
 * the server's own messages go (`carafe serve --error-log`); a logger the app was given stays.
 * Whether it gave it. @internal
 */
export function adoptServerLogger(app: { readonly logger?: unknown }, logger: Logger): boolean {
  if (app.logger !== consoleLogger) return false;
  (app as { logger: Logger }).logger = logger;
  return true;
}

// Where the framework reports errors: a small interface, so apps can plug in their own logger.

/** A logger Carafe writes to; assign your own to `app.logger`. */
export interface Logger {
  error(message: string, error?: unknown): void;
  warn(message: string): void;
  info(message: string): void;
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

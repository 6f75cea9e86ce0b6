// Helpers shared by the framework tests.
import { Carafe, CarafeError, type Logger, type RequestRecord } from "carafe";

/** An app without the static route, so tests see only the routes they add. */
export function newApp(options: ConstructorParameters<typeof Carafe>[0] = {}): Carafe {
  return new Carafe({ staticFolder: null, ...options });
}

/** For `assert.throws`: a `CarafeError` with `code`, whose message matches `pattern` if given. */
export function isCarafeError(code: string, pattern?: RegExp): (error: unknown) => boolean {
  return (error) =>
    error instanceof CarafeError &&
    error.code === code &&
    (pattern === undefined || pattern.test(error.message));
}

/** One error the app logged. */
export interface LoggedError {
  message: string;
  error: unknown;
}

/** Replaces the app's logger with one that records errors. */
export function captureLogs(app: Carafe): LoggedError[] {
  const errors: LoggedError[] = [];
  const logger: Logger = {
    error: (message, error) => errors.push({ message, error }),
    warn: () => {},
    info: () => {},
  };
  app.logger = logger;
  return errors;
}

/** A GET request record for `url`. */
export function getRecord(url: string): RequestRecord {
  return {
    method: "GET",
    url,
    headers: { host: "localhost" },
    body: null,
    remoteAddress: "127.0.0.1",
    scheme: "http",
  };
}

/** A promise with its resolve function, for ordering concurrent work without timers. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

// Helpers shared by the framework tests.
import { Carafe, type Logger, type RequestRecord } from "carafe";

/** An app without the static route, so tests see only the routes they add. */
export function newApp(options: ConstructorParameters<typeof Carafe>[0] = {}): Carafe {
  return new Carafe({ staticFolder: null, ...options });
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

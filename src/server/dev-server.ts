// The development server (`app.run()`, `carafe run`): one process, the app on its event loop.

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { RecordHandler, RunOptions } from "../framework/index.ts";
import { createRequestListener } from "./http-loop.ts";

/** What the development server needs of an app. */
export type ServableApp = RecordHandler & {
  readonly name?: string;
  readonly logger?: { error(message: string, error?: unknown): void };
};

/** A running development server. */
export interface DevServer {
  readonly server: Server;
  /** The `http://host:port` it listens on. */
  readonly url: string;
  /** Stops accepting, lets in-flight requests finish, closes idle connections. */
  close(): Promise<void>;
}

const consoleLog = {
  error: (message: string, error?: unknown) =>
    console.error(`[carafe] ERROR ${message}`, error ?? ""),
};

/**
 * Starts serving `app` and resolves once it listens.
 *
 * @example
 * const server = await startDevServer(app, { port: 0 });
 */
export async function startDevServer(
  app: ServableApp,
  options: RunOptions = {},
): Promise<DevServer> {
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? 5000;
  const server = createServer(createRequestListener(app, app.logger ?? consoleLog));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    server,
    url: `http://${shown}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // Connections still busy after the grace period are cut.
        setTimeout(() => server.closeAllConnections(), 5000).unref();
      }),
  };
}

/** Serves `app` until SIGINT/SIGTERM, printing where it listens (what `app.run()` does). */
export async function runDevServer(app: ServableApp, options: RunOptions = {}): Promise<void> {
  let server: DevServer;
  try {
    server = await startDevServer(app, options);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const where = `${options.host ?? "127.0.0.1"}:${options.port ?? 5000}`;
    const reason =
      code === "EADDRINUSE"
        ? `${where} is already in use; stop the other server or pick another port`
        : code === "EACCES"
          ? `no permission to listen on ${where}; use a port above 1023`
          : (error as Error).message;
    console.error(`carafe: cannot listen: ${reason}`);
    process.exitCode = 1;
    return;
  }
  console.log(` * Serving Carafe app '${app.name ?? "app"}'`);
  console.log(` * Running on ${server.url} (Press CTRL+C to quit)`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      void server.close().then(resolve);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

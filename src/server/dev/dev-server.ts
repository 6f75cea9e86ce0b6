// The development server (`app.run()`, `carafe run`): one process; handlers on its event loop,
// or, with `threaded`, synchronous handlers on a bounded pool of worker threads (never a thread
// per request). A watchdog names routes that hold the event loop too long.

import { createServer, type Server } from "node:http";
import { dirname } from "node:path";
import type { AddressInfo } from "node:net";
import process from "node:process";
import {
  withConsoleFallback,
  type RunOptions,
  type ServableApp,
} from "../../framework/internal.ts";
import { createRequestListener } from "../http/http-loop.ts";
import { DEFAULT_REQUEST_LIMITS } from "../settings.ts";
import { connectBroadcasts } from "../worker/broadcast-relay.ts";
import { parseAppSpec, resolveAppModule } from "../loading/app-spec.ts";
import { ThreadPool, useHeapBound } from "../pool/index.ts";
import { isReloaderChild, runWithReloader } from "./reloader.ts";
import { createWatchdog } from "../http/watchdog.ts";
import { createProxyTrust } from "../http/proxy.ts";
import { loadRequestTracing } from "../http/tracing.ts";
import { describeThreads } from "../../threading/internal.ts";
import { ServerError } from "../errors.ts";

/** Options of the development server beyond `app.run()`'s. */
export interface DevServerOptions extends RunOptions {
  /** The module pool threads import (`path.ts[:export]`); default: the app's own module. */
  appSpec?: string;
  /** Restart when a source file changes (default: on with `debug`). */
  reload?: boolean;
}

/** A running development server. */
export interface DevServer {
  readonly server: Server;
  /** The `http://host:port` it listens on. */
  readonly url: string;
  /** The thread pool, when the server runs handlers on threads. @internal */
  readonly pool: ThreadPool | null;
  /** Stops accepting, lets in-flight requests finish, closes idle connections. */
  close(): Promise<void>;
}

/**
 * Starts serving `app` and resolves once it listens.
 *
 * @example
 * const server = await startDevServer(app, { port: 0 });
 */
export async function startDevServer(
  app: ServableApp,
  options: DevServerOptions = {},
): Promise<DevServer> {
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? 5000;
  const logger = withConsoleFallback(app.logger);
  // One process: broadcasts leave it only through Redis, when the app names a server.
  const broadcasts =
    app.broadcasting !== undefined ? await connectBroadcasts(app.broadcasting, null, logger) : null;
  let pool: ThreadPool | null = null;
  // toThread without threads runs on its own pool, whose threads get the same heap bound.
  if (options.threadMaxHeap !== undefined) useHeapBound(options.threadMaxHeap);
  if (options.threaded === true || app.needsThreads === true) {
    const appSpec = options.appSpec ?? app.sourceFile;
    if (appSpec === undefined) {
      throw new ServerError(
        "ERR_NO_APP_MODULE",
        "startDevServer({ threaded: true }): pool threads import the app's module, and this app's is unknown; pass { appSpec: 'path/to/app.ts:app' }",
      );
    }
    pool = await ThreadPool.start({
      appSpec,
      ...(options.threads !== undefined ? { size: options.threads } : {}),
      ...(options.threadMaxHeap !== undefined ? { maxHeapMb: options.threadMaxHeap } : {}),
      timeoutMs: 0,
      maxQueue: 1000,
      maxRequests: 0,
      maxRequestsJitter: 0,
      logger,
      ...(broadcasts !== null ? { onBroadcast: broadcasts.forward } : {}),
    });
  }
  const watchdogMs = options.watchdogMs ?? 100;
  // Traced when the app set up OpenTelemetry; a traceparent is continued from this machine only.
  const tracing = await loadRequestTracing(createProxyTrust(["127.0.0.1", "::1"]));
  const listener = createRequestListener(app, logger, {
    tracing,
    pool,
    threaded: options.threaded === true,
    // The same 414/431 limits as `carafe serve`'s defaults, so what works here works there.
    limits: DEFAULT_REQUEST_LIMITS,
    ...(watchdogMs > 0
      ? { watchdog: createWatchdog(watchdogMs, (message) => logger.warn(message)) }
      : {}),
  });
  // The loop answers a missing Host itself, with a message saying what to send.
  const server = createServer({ requireHostHeader: false }, listener);
  // `ws` and the upgrade code load only for an app with WebSocket routes.
  const upgrades = app.sockets
    ? (await import("../http/websocket-upgrades.ts")).createUpgrades(app.sockets, logger, {
        httpListener: listener,
        limits: DEFAULT_REQUEST_LIMITS,
        tracing,
      })
    : null;
  if (upgrades !== null) server.on("upgrade", upgrades.listener);
  // "Expect: 100-continue" is answered by the loop, only for a body it will read.
  server.on("checkContinue", (request, response) => listener(request, response, true));
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
    pool,
    url: `http://${shown}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(
          () => void Promise.all([pool?.close(1000), broadcasts?.close()]).then(() => resolve()),
        );
        upgrades?.closeAll();
        server.closeIdleConnections();
        // Connections still busy after the grace period are cut.
        setTimeout(() => server.closeAllConnections(), 5000).unref();
      }),
  };
}

/** Serves `app` until SIGINT/SIGTERM, printing where it listens (what `app.run()` does). */
export async function runDevServer(
  app: ServableApp,
  options: DevServerOptions = {},
): Promise<void> {
  const spec = options.appSpec ?? app.sourceFile;
  if ((options.reload ?? options.debug) === true && !isReloaderChild() && spec !== undefined) {
    // This process only watches; a child runs this same command and serves.
    const watch = dirname(resolveAppModule(parseAppSpec(spec).modulePath));
    console.log(` * Restarting with the reloader (watching ${watch})`);
    process.exitCode = await runWithReloader({
      command: [process.execPath, ...process.execArgv, ...process.argv.slice(1)],
      watch,
    });
    return;
  }
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
    // A ServerError (the app, its broadcastUrl, the pool) says itself what went wrong.
    console.error(
      error instanceof ServerError ? `carafe: ${reason}` : `carafe: cannot listen: ${reason}`,
    );
    process.exitCode = 1;
    return;
  }
  console.log(` * Serving Carafe app '${app.name ?? "app"}'`);
  const stats = server.pool?.stats();
  const threads = stats?.size ?? 0;
  const pool = describeThreads(threads, stats?.maxHeapMb ?? 0, stats?.threads);
  console.log(
    threads === 0
      ? " * Handlers: on the event loop (use threaded: true or --threaded to run synchronous ones on threads)"
      : options.threaded === true
        ? ` * Handlers: synchronous ones on ${pool}, async ones on the event loop`
        : ` * Handlers: on the event loop, but routes marked { thread: true } on ${pool}`,
  );
  if (options.debug) console.log(" * Debug mode: on (stack traces for loopback clients)");
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

// `carafe serve`: one entry for both sides of node:cluster. In the primary it runs the
// Supervisor (which never imports the app unless --preload); in a forked worker process it runs
// the worker with the access log, the error log and proxy trust connected. The primary hands its
// resolved options to each worker in the environment, so every worker serves exactly them.

import cluster from "node:cluster";
import process from "node:process";
import {
  AccessLogger,
  ErrorLogger,
  type ErrorLogFormat,
  type LogLevel,
} from "./http/access-log.ts";
import type { Exchange } from "./http/http-loop.ts";
import { AppLoadError, parseAppSpec, resolveAppModule } from "./loading/app-spec.ts";
import { applyProxyHeaders, createProxyTrust } from "./http/proxy.ts";
import { BOOT_FAILED_EXIT, type ServeOptions } from "./supervisor/protocol.ts";

const OPTIONS_ENV = "CARAFE_WORKER_OPTIONS";

/** The options the primary gave this worker process, or `null` outside a `carafe serve` worker. */
export function workerOptions(): ServeOptions | null {
  const text = process.env[OPTIONS_ENV];
  return cluster.isWorker && text !== undefined ? (JSON.parse(text) as ServeOptions) : null;
}

function errorLoggerOf(options: ServeOptions) {
  const log = new ErrorLogger({
    target: options.errorLog,
    level: options.logLevel as LogLevel,
    format: options.errorLogFormat as ErrorLogFormat,
  });
  return {
    log,
    logger: {
      debug: (message: string) => log.log("debug", message),
      info: (message: string) => log.log("info", message),
      warn: (message: string) => log.log("warning", message),
      error: (message: string, error?: unknown) => log.log("error", message, error),
      reopen: () => log.reopen(),
    },
  };
}

/** Runs this process's side of `carafe serve`; resolves with the exit code (workers keep serving). */
export async function serve(options: ServeOptions, version: string): Promise<number> {
  const { log, logger } = errorLoggerOf(options);
  if (cluster.isWorker) {
    const access = new AccessLogger({ target: options.accessLog, format: options.accessLogFormat });
    const trusted = createProxyTrust(options.forwardedAllowIps);
    // Each side imports only its own code: the primary never loads the worker's (nor, through
    // tracing, the framework), nor the reverse.
    const [{ runWorker }, { loadRequestTracing }] = await Promise.all([
      import("./worker/worker.ts"),
      import("./http/tracing.ts"),
    ]);
    await runWorker(options, {
      logger,
      writeLog: (entry) => log.write(entry),
      // Without an access log, no request pays for the exchange and its timestamps.
      ...(access.enabled ? { onExchange: (exchange: Exchange) => access.log(exchange) } : {}),
      applyProxy: (record) => applyProxyHeaders(record, trusted),
      // A trusted proxy's traceparent is continued; --trust-traceparent continues anyone's.
      loadTracing: () =>
        loadRequestTracing(options.trustTraceparent ? () => true : trusted, version),
      reopenLogs: () => {
        access.reopen();
        log.reopen();
      },
    });
    return 0;
  }
  // The workers would each fail to import a module that is not there (or, with --preload, an
  // app that does not load): say so once, before forking any, with the exit code a worker's
  // failed boot gives (gunicorn's 3).
  try {
    resolveAppModule(parseAppSpec(options.appSpec).modulePath);
    if (options.preload) {
      // Node cannot fork a process with the app already in memory as gunicorn does; preloading
      // imports it once here so a broken app stops the server before any worker is forked.
      const { loadApp } = await import("./loading/load-app.ts");
      await loadApp(options.appSpec);
    }
  } catch (error) {
    if (!(error instanceof AppLoadError)) throw error;
    console.error(`carafe: ${error.message}`);
    return BOOT_FAILED_EXIT;
  }
  process.env[OPTIONS_ENV] = JSON.stringify(options);
  const { Supervisor } = await import("./supervisor/supervisor.ts");
  return new Supervisor(options, logger, version).run();
}

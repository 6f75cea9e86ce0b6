// Design: one worker process of `carafe serve`. It imports the app, starts its thread pool,
// listens on every bind through node:cluster (the supervisor holds the sockets), and answers
// with the http loop. Its event loop proves it is alive with heartbeats. On `drain`, or when its
// channel to the supervisor closes (a supervisor killed outright), it stops accepting, answers
// the requests it already has with `Connection: close`, and exits when its connections are done
// or the graceful timeout passes. Only this main thread touches sockets; pool threads see
// messages only.

import cluster from "node:cluster";
import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { Server as NetServer } from "node:net";
import process from "node:process";
import { ThreadPool, requestsBeforeRetiring, useHeapBound } from "../pool/index.ts";
import { createRequestListener, type Exchange, type LoopOptions } from "../http/http-loop.ts";
import { loadApp } from "../loading/load-app.ts";
import { connectBroadcasts, type Broadcasts } from "./broadcast-relay.ts";
import { createWatchdog } from "../http/watchdog.ts";
import type { WorkerMetrics } from "../metrics/worker-metrics.ts";
import type { RequestTracing } from "../http/tracing.ts";
import {
  adoptServerLogger,
  requestLogFields,
  type BroadcastEnvelope,
  type Logger,
} from "../../framework/internal.ts";
import { entryLogger, type LogEntry } from "../http/app-logger.ts";
import {
  BOOT_FAILED_EXIT,
  describeBind,
  type Bind,
  type ServeOptions,
  type SupervisorMessage,
  type WorkerMessage,
} from "../supervisor/protocol.ts";

/** Hooks a worker reports to; the CLI connects them to the access and error logs. */
export interface WorkerHooks {
  /** Where the worker writes its own messages (access lines go to `onExchange`). */
  logger: Logger;
  onExchange?: (exchange: Exchange) => void;
  applyProxy?: LoopOptions["applyProxy"];
  reopenLogs?: () => void;
  /**
   * The error log's entries from the app (what it logs on the loop and on pool threads, when it
   * kept the default logger) and the pool threads' own. Without it they go to standard error.
   */
  writeLog?: (entry: LogEntry) => void;
  /** Called once the app is imported (where it registers its tracer provider). */
  loadTracing?: () => Promise<RequestTracing | null>;
}

/** How often (ms) a worker reports its metrics unasked (--metrics-bind). */
const METRICS_EVERY_MS = 1000;
/** How long (ms) a scrape waits for the pool threads' reports (under the supervisor's wait). */
const THREADS_WAIT_MS = 300;

function send(message: WorkerMessage): void {
  // Once the supervisor is gone, process.send emits ERR_IPC_CHANNEL_CLOSED as an 'error' on
  // process that nothing handles: the worker would crash in the drain that answers its requests.
  if (process.connected) process.send?.(message);
}

function listen(server: Server, bind: Bind, backlog: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    const done = (): void => {
      server.off("error", reject);
      resolve();
    };
    if (bind.kind === "unix") server.listen({ path: bind.path, backlog }, done);
    else server.listen({ host: bind.host, port: bind.port, backlog }, done);
  });
}

/** What a person can act on when a bind cannot be listened on: the address and the cause. */
function listenFailure(error: unknown): string {
  const { code, address, port } = error as NodeJS.ErrnoException & {
    address?: string;
    port?: number;
  };
  const where = port === undefined ? (address ?? "") : `${address ?? ""}:${port}`;
  const causes: Record<string, string> = {
    EADDRINUSE: "the address is already in use (is another server running there?)",
    EACCES:
      "permission denied (a port below 1024 needs root or CAP_NET_BIND_SERVICE; a socket file needs a writable folder)",
    EADDRNOTAVAIL: "no network interface of this machine has that address",
  };
  const cause = (code !== undefined ? causes[code] : undefined) ?? (error as Error).message;
  return `${where}: ${cause}`;
}

/** Runs one worker process until it is told to drain (or killed). */
export async function runWorker(options: ServeOptions, hooks: WorkerHooks): Promise<void> {
  const { logger } = hooks;
  // Ctrl-C reaches the whole process group; the supervisor decides what the workers do.
  process.on("SIGINT", () => {});
  process.on("SIGQUIT", () => process.exit(0));
  // A terminal's hangup or a signal sent to the whole process group is for the supervisor.
  for (const signal of ["SIGHUP", "SIGTTIN", "SIGTTOU"] as const) process.on(signal, () => {});
  // Until the worker listens, it has nothing to finish: a stop request ends it at once. The
  // handlers stay registered from the start so that no drain message is ever lost.
  let drain = (_graceMs: number): void => process.exit(0);
  let reopenLogs = (): void => {};
  let reportMetrics = (_id: number | null): void => {};
  let broadcasts: Broadcasts | null = null;
  process.on("SIGTERM", () => drain(options.gracefulTimeout * 1000));
  process.on("message", (message: SupervisorMessage) => {
    if (message.type === "drain") drain(message.graceMs);
    else if (message.type === "reopen-logs") reopenLogs();
    else if (message.type === "broadcast") broadcasts?.receive(message.envelope);
    else if (message.type === "collect-metrics") reportMetrics(message.id);
  });
  // A supervisor that vanished (kill -9, the OOM killer) closes this channel. node:cluster then
  // exits the worker at once unless `worker.exitedAfterDisconnect` is true (Node's cluster docs,
  // worker.process), which would cut every request in flight. Running before cluster's own
  // listener, this one marks the disconnect as expected and drains as on TERM: the worker stops
  // accepting, answers what it has within --graceful-timeout, then exits.
  process.prependListener("disconnect", () => {
    const worker = cluster.worker;
    // Set already when the worker disconnects itself, at the end of a drain.
    if (worker === undefined || worker.exitedAfterDisconnect) return;
    worker.exitedAfterDisconnect = true;
    logger.warn(`worker ${process.pid}: the supervisor is gone; draining`);
    drain(options.gracefulTimeout * 1000);
  });
  process.on("SIGUSR1", () => reopenLogs());

  let app;
  let pool: ThreadPool | null = null;
  let metrics: WorkerMetrics | null = null;
  let tracing: RequestTracing | null = null;
  try {
    if (options.metricsBind !== null) {
      // Only with --metrics-bind does a worker count anything for the metrics.
      metrics = new (await import("../metrics/worker-metrics.ts")).WorkerMetrics();
    }
    // toThread without --threads runs on its own pool, whose threads get the same heap bound.
    useHeapBound(options.threadMaxHeap);
    app = await loadApp(options.appSpec);
    if (hooks.writeLog !== undefined) {
      adoptServerLogger(app, entryLogger(hooks.writeLog, requestLogFields));
    }
    tracing = (await hooks.loadTracing?.()) ?? null;
    if (app.broadcasting !== undefined) {
      // The supervisor passes each broadcast to the other workers.
      const supervisor = {
        publish: (envelope: BroadcastEnvelope) => send({ type: "broadcast", envelope }),
      };
      broadcasts = await connectBroadcasts(app.broadcasting, supervisor, logger);
    }
    const wantsThreads = options.threads > 0 || app.needsThreads === true;
    if (wantsThreads) {
      pool = await ThreadPool.start({
        appSpec: options.appSpec,
        ...(options.threads > 0 ? { size: options.threads } : {}),
        initialThreads: options.initialThreads,
        timeoutMs: options.timeout * 1000,
        maxQueue: options.maxQueue,
        maxHeapMb: options.threadMaxHeap,
        maxRequests: options.maxRequests,
        maxRequestsJitter: options.maxRequestsJitter,
        logger,
        ...(hooks.writeLog !== undefined ? { onLog: hooks.writeLog } : {}),
        ...(broadcasts !== null ? { onBroadcast: broadcasts.forward } : {}),
        ...(metrics !== null ? { onMetrics: metrics.mergeThread } : {}),
      });
    }
  } catch (error) {
    send({ type: "boot-failed", message: error instanceof Error ? error.message : String(error) });
    process.exit(BOOT_FAILED_EXIT);
  }

  let draining = false;
  let served = 0;
  const retireAfter = requestsBeforeRetiring(options.maxRequests, options.maxRequestsJitter);
  const countServed = (): void => {
    served += 1;
    if (served === retireAfter) {
      logger.info(`worker ${process.pid} served ${served} requests (--max-requests); retiring`);
      send({ type: "retire" });
    }
  };
  const tls =
    options.certfile !== null && options.keyfile !== null
      ? { cert: readFileSync(options.certfile), key: readFileSync(options.keyfile) }
      : null;
  const limits = {
    requestLine: options.limitRequestLine,
    fields: options.limitRequestFields,
    fieldSize: options.limitRequestFieldSize,
  };
  const listener = createRequestListener(app, logger, {
    pool,
    threaded: options.threads > 0,
    limits,
    echoRequestId: options.echoRequestId,
    ...(hooks.applyProxy ? { applyProxy: hooks.applyProxy } : {}),
    isDraining: () => draining,
    watchdog: createWatchdog(100, (message) => logger.warn(message)),
    tracing,
    ...(hooks.onExchange ? { onExchange: hooks.onExchange } : {}),
    ...(retireAfter === Infinity ? {} : { onResponse: countServed }),
    ...(metrics !== null ? { meter: metrics.meter } : {}),
    ...(options.healthzPath !== null || options.readyzPath !== null
      ? { probes: { healthz: options.healthzPath, readyz: options.readyzPath } }
      : {}),
  });
  const serverOptions = {
    keepAliveTimeout: options.keepAlive * 1000,
    // The loop answers a missing Host itself, with a message saying what to send.
    requireHostHeader: false,
    // Room for gunicorn's per-field limits; llhttp refuses anything above with 431.
    maxHeaderSize: Math.min(
      1 << 20,
      Math.max(
        16384,
        options.limitRequestLine + options.limitRequestFields * (options.limitRequestFieldSize + 2),
      ),
    ),
  };
  // `ws` and the upgrade code load only for an app with WebSocket routes.
  const upgrades = app.sockets
    ? (await import("../http/websocket-upgrades.ts")).createUpgrades(app.sockets, logger, {
        httpListener: listener,
        limits,
        tracing,
        ...(hooks.applyProxy ? { applyProxy: hooks.applyProxy } : {}),
      })
    : null;
  const servers = options.binds.map((bind) => {
    const server = tls
      ? createHttpsServer({ ...serverOptions, ...tls }, listener)
      : createHttpServer(serverOptions, listener);
    // The loop must see one field too many to answer 431; Node keeps 2,000 by default, and
    // keeping fewer would drop later fields (Host among them) before the loop could count them.
    server.maxHeadersCount = Math.max(2000, options.limitRequestFields + 1);
    if (upgrades !== null) server.on("upgrade", upgrades.listener);
    // "Expect: 100-continue" is answered by the loop, only for a body it will read.
    server.on("checkContinue", (request, response) => listener(request, response, true));
    return { bind, server: server as Server };
  });
  try {
    await Promise.all(servers.map(({ bind, server }) => listen(server, bind, options.backlog)));
  } catch (error) {
    send({ type: "boot-failed", message: listenFailure(error), listen: true });
    process.exit(BOOT_FAILED_EXIT);
  }

  let metricsReports: NodeJS.Timeout | undefined;
  if (metrics !== null) {
    const meter = metrics;
    meter.watch({ pool, sockets: upgrades, rooms: app.broadcasting?.rooms ?? null });
    const report = (id: number | null): void =>
      send({ type: "metrics", id, families: meter.collect() });
    // A scrape first gathers what the pool threads recorded of the app's own metrics.
    reportMetrics = (id) => {
      if (id === null || pool === null) report(id);
      else void pool.gatherMetrics(THREADS_WAIT_MS).then(() => report(id));
    };
    // Reported each second as well as on each scrape: a worker killed outright loses at most
    // the last second of its counts.
    metricsReports = setInterval(() => reportMetrics(null), METRICS_EVERY_MS);
  }

  const heartbeatMs = Math.max(200, Math.min(2000, (options.timeout * 1000) / 4 || 2000));
  const heartbeat = setInterval(() => send({ type: "heartbeat" }), heartbeatMs);
  send({ type: "heartbeat" });
  const addresses = servers.map(({ bind, server }) => {
    const address = server.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    return describeBind(bind.kind === "tcp" ? { ...bind, port } : bind, tls !== null);
  });
  send({ type: "booted", threads: pool?.stats().size ?? 0, addresses });

  reopenLogs = () => hooks.reopenLogs?.();
  drain = (graceMs: number): void => {
    if (draining) return;
    draining = true;
    logger.info(`Worker exiting (pid: ${process.pid}): finishing in-flight requests`);
    clearInterval(heartbeat);
    // WebSockets are not requests that finish: tell their clients to reconnect elsewhere.
    upgrades?.closeAll();
    let open = servers.length;
    const finish = (): void => {
      const closing = [pool?.close(0), broadcasts?.close()];
      void Promise.all(closing).then(() => {
        // The last report goes before the channel closes: a drained worker loses no count.
        clearInterval(metricsReports);
        reportMetrics(null);
        // The primary may have handed this worker a connection just before it stopped
        // accepting; exiting before answering that hand-off would strand the connection in
        // the primary. cluster's disconnect finishes the exchange first, then exit follows.
        const worker = cluster.worker;
        if (worker === undefined || !worker.isConnected()) process.exit(0);
        process.once("disconnect", () => process.exit(0));
        setTimeout(() => process.exit(0), 2000).unref();
        worker.disconnect();
      });
    };
    for (const { server } of servers) {
      // net.Server#close stops accepting without http.Server#close's immediate cut of idle
      // keep-alive connections: a client may be sending its next request on one right now.
      // Those requests are answered (with Connection: close); idle ones are closed below.
      NetServer.prototype.close.call(server, () => {
        open -= 1;
        if (open === 0) finish();
      });
    }
    setTimeout(
      () => {
        for (const { server } of servers) server.closeIdleConnections();
      },
      Math.min(1000, graceMs),
    ).unref();
    setTimeout(() => {
      logger.warn(
        `worker ${process.pid}: graceful timeout (${graceMs / 1000} s) reached; closing remaining connections`,
      );
      for (const { server } of servers) server.closeAllConnections();
      finish();
    }, graceMs).unref();
  };
}

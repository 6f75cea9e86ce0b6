// The messages between the supervisor (primary process) and its worker processes, over the
// cluster IPC channel. One discriminated union per direction.

import type { BroadcastEnvelope, MetricFamilyJson } from "../../framework/internal.ts";

/** How a worker process should serve: what `carafe serve` resolved from its settings. */
export interface ServeOptions {
  /** `path/to/app.ts[:export]`. */
  appSpec: string;
  binds: Bind[];
  workers: number;
  threads: number;
  /** Pool threads a worker starts with; the rest start as requests need them. */
  initialThreads: number;
  /** Seconds; a silent worker or a request past it is killed. 0 disables. */
  timeout: number;
  gracefulTimeout: number;
  keepAlive: number;
  maxRequests: number;
  maxRequestsJitter: number;
  backlog: number;
  maxQueue: number;
  /** MB of JS heap each pool thread may use (0: V8's own limit). */
  threadMaxHeap: number;
  limitRequestLine: number;
  limitRequestFields: number;
  limitRequestFieldSize: number;
  forwardedAllowIps: string[];
  /** Continue every caller's `traceparent`, not only a trusted proxy's. */
  trustTraceparent: boolean;
  accessLog: string | null;
  accessLogFormat: string;
  /** Send each request's id back in an `X-Request-ID` response header. */
  echoRequestId: boolean;
  errorLog: string;
  /** `text` or `json`. */
  errorLogFormat: string;
  logLevel: string;
  pid: string | null;
  preload: boolean;
  reload: boolean;
  certfile: string | null;
  keyfile: string | null;
  /** Where the supervisor serves /metrics, /healthz and /readyz; `null`: nowhere. */
  metricsBind: Bind | null;
  /** A path the workers answer 200 on, before any app code (`null`: none). */
  healthzPath: string | null;
  /** A path the workers answer 200 on while they take work, 503 while draining (`null`: none). */
  readyzPath: string | null;
}

/** A listening address. */
export type Bind = { kind: "tcp"; host: string; port: number } | { kind: "unix"; path: string };

/** Worker → supervisor. */
export type WorkerMessage =
  /** The app is loaded, the pool started and every bind is listening. */
  | { type: "booted"; threads: number; addresses: string[] }
  /** The app could not be loaded; the message is the module's own error. */
  /** The app failed to load, or (`listen`) the worker could not listen on a bind. */
  | { type: "boot-failed"; message: string; listen?: boolean }
  /** The event loop is alive. */
  | { type: "heartbeat" }
  /** `--max-requests` reached: replace me, then let me drain. */
  | { type: "retire" }
  /** A WebSocket broadcast made here, for the sockets of every other worker. */
  | { type: "broadcast"; envelope: BroadcastEnvelope }
  /**
   * Everything this worker counted since it started (--metrics-bind): the answer to
   * `collect-metrics` `id`, or `null` in the report sent each second and as it exits.
   */
  | { type: "metrics"; id: number | null; families: MetricFamilyJson[] };

/** Supervisor → worker. */
export type SupervisorMessage =
  /** Stop accepting, finish in-flight requests within `graceMs`, exit 0. */
  | { type: "drain"; graceMs: number }
  /** Reopen log files (after rotation, on USR1). */
  | { type: "reopen-logs" }
  /** A WebSocket broadcast made in another worker, for this worker's sockets. */
  | { type: "broadcast"; envelope: BroadcastEnvelope }
  /** Report your metrics now (a scrape), with `id` in the answer. */
  | { type: "collect-metrics"; id: number };

/** The exit code of a worker whose app failed to import (gunicorn's WORKER_BOOT_ERROR). */
export const BOOT_FAILED_EXIT = 3;

/** The exit code of `carafe serve` when it cannot listen on a bind (gunicorn's too). */
export const LISTEN_FAILED_EXIT = 1;

/** Whether an IPC message is one of ours. */
export function isWorkerMessage(value: unknown): value is WorkerMessage {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { type?: unknown }).type === "string"
  );
}

/** Formats a bind for logs: `http://127.0.0.1:8000`, `unix:/tmp/app.sock`. A bound port 0 shows the port the system chose. */
export function describeBind(bind: Bind, tls: boolean): string {
  if (bind.kind === "unix") return `unix:${bind.path}`;
  const host = bind.host.includes(":") ? `[${bind.host}]` : bind.host;
  return `${tls ? "https" : "http"}://${host}:${bind.port}`;
}

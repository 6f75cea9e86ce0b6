// Design: the supervisor's own small HTTP server on --metrics-bind. It never runs app code and
// never waits behind it: `/healthz` answers while the supervisor lives, `/readyz` says whether
// the server takes work, and `/metrics` asks the supervisor's loop for every worker's report
// and sums them with prom-client's cluster aggregation (AggregatorRegistry.aggregate) into the
// Prometheus text format. prom-client is loaded here, and this file only with --metrics-bind:
// without it the supervisor loads nothing of the kind.

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { MetricFamilyJson } from "../../framework/internal.ts";
import { ServerError } from "../errors.ts";
import { describeBind, type Bind } from "../supervisor/protocol.ts";

/** The metrics server could not listen on --metrics-bind. */
export class MetricsBindError extends ServerError {
  override name = "MetricsBindError";
  constructor(address: string, cause: Error) {
    super(
      "ERR_METRICS_BIND",
      `--metrics-bind ${address}: cannot listen there (${cause.message}); choose a free address`,
      { cause },
    );
  }
}

/** What the metrics server asks of the supervisor. */
export interface MetricsSource {
  /** Every report to sum: the retired total, each live worker's, the supervisor's own. */
  collect(): Promise<MetricFamilyJson[][]>;
  /** Whether the server takes work now (not booting, draining or reloading). */
  ready(): boolean;
}

/** The metrics server, listening. */
export interface MetricsEndpoint {
  /** `http://127.0.0.1:9100`, with the port the system chose for port 0. */
  readonly address: string;
  close(): Promise<void>;
}

type Logger = { error(message: string, error?: unknown): void };

const TEXT = "text/plain; charset=utf-8";

function answer(response: ServerResponse, status: number, body: string, type = TEXT): void {
  response.writeHead(status, { "Content-Type": type, "Cache-Control": "no-store" });
  response.end(body);
}

/** Starts the metrics server on `bind`; resolves once it listens. */
export async function startMetricsServer(
  bind: Bind,
  source: MetricsSource,
  logger: Logger,
): Promise<MetricsEndpoint> {
  const { AggregatorRegistry } = await import("prom-client");
  const scrape = async (response: ServerResponse): Promise<void> => {
    const registry = AggregatorRegistry.aggregate(await source.collect());
    answer(response, 200, await registry.metrics(), registry.contentType);
  };
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const path = (request.url ?? "/").split("?")[0];
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.setHeader("Allow", "GET, HEAD");
      answer(response, 405, "Only GET and HEAD are served here.\n");
      return;
    }
    switch (path) {
      case "/healthz":
        return answer(response, 200, "ok\n");
      case "/readyz":
        return source.ready()
          ? answer(response, 200, "ready\n")
          : answer(response, 503, "not ready\n");
      case "/metrics":
        scrape(response).catch((error: unknown) => {
          logger.error("Could not collect the metrics", error);
          if (!response.headersSent) answer(response, 500, "Could not collect the metrics.\n");
        });
        return;
      default:
        answer(response, 404, "Not found: this address serves /metrics, /healthz and /readyz.\n");
    }
  });
  // A scraper holds no connection open long; none of them may keep a stopping supervisor up.
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    const failed = (error: Error): void =>
      reject(new MetricsBindError(describeBind(bind, false), error));
    server.once("error", failed);
    const listening = (): void => {
      server.off("error", failed);
      resolve();
    };
    if (bind.kind === "unix") server.listen(bind.path, listening);
    else server.listen(bind.port, bind.host, listening);
  });
  const bound = server.address();
  const port = typeof bound === "object" && bound !== null ? bound.port : 0;
  return {
    address: describeBind(bind.kind === "tcp" ? { ...bind, port } : bind, false),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

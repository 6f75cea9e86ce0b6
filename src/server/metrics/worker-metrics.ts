// Design: everything one worker process reports to the supervisor's /metrics, gathered only when
// asked (a scrape, or the report each second): the http loop's request meter, the pool's plain
// counters (read from the pool, which only ever adds to them), the WebSocket counts, this
// process's event loop and memory, and the app's own metrics, into which the pool threads'
// reports are merged as they come (each second, and when a scrape asks them). Loaded only with
// --metrics-bind.

import { monitorEventLoopDelay, performance, type IntervalHistogram } from "node:perf_hooks";
import process from "node:process";
import {
  metricStore,
  type FamilyDelta,
  type MetricFamilyJson,
  type MetricSample,
  type Rooms,
} from "../../framework/internal.ts";
import type { ThreadPool } from "../pool/index.ts";
import { RequestMeter } from "./request-meter.ts";

/** What a worker has to report on, once it has booted. */
export interface WorkerParts {
  pool: ThreadPool | null;
  /** Its open WebSockets. */
  sockets: { readonly open: number } | null;
  rooms: Rooms | null;
}

function family(
  name: string,
  type: "counter" | "gauge",
  help: string,
  values: MetricSample[],
): MetricFamilyJson {
  return { name, help, type, aggregator: "sum", values };
}

const one = (value: number, labels: Record<string, string> = {}): MetricSample[] => [
  { value, labels },
];

/** The metrics of this worker process; see the Design note. */
export class WorkerMetrics {
  readonly meter = new RequestMeter();
  readonly #worker = String(process.pid);
  readonly #delay: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  #utilization = performance.eventLoopUtilization();
  #parts: WorkerParts = { pool: null, sockets: null, rooms: null };

  constructor() {
    this.#delay.enable();
  }

  /** The pool, sockets and rooms to report on, once the worker has them. */
  watch(parts: WorkerParts): void {
    this.#parts = parts;
  }

  /** Merges what a pool thread's app metrics recorded (the pool's `onMetrics`). */
  readonly mergeThread = (threadId: number, deltas: FamilyDelta[]): void => {
    metricStore.merge(threadId, deltas);
  };

  /** Every sample of this process, prom-client's way. */
  collect(): MetricFamilyJson[] {
    const { pool, sockets, rooms } = this.#parts;
    const families = this.meter.collect();
    const stats = pool?.stats();
    if (stats !== undefined) {
      const { counts } = stats;
      families.push(
        family(
          "carafe_pool_threads",
          "gauge",
          "Pool threads ready to run requests",
          one(stats.threads),
        ),
        family(
          "carafe_pool_busy_threads",
          "gauge",
          "Pool threads running a request",
          one(stats.busy),
        ),
        family(
          "carafe_pool_queue_depth",
          "gauge",
          "Requests waiting for a pool thread (queued or sent ahead)",
          one(stats.queued),
        ),
        family(
          "carafe_pool_sent_ahead_total",
          "counter",
          "Requests sent ahead to a busy pool thread",
          one(stats.sentAhead),
        ),
        family(
          "carafe_pool_taken_back_total",
          "counter",
          "Requests taken back from a busy pool thread for another",
          one(stats.takenBack),
        ),
        family(
          "carafe_pool_timeouts_total",
          "counter",
          "Requests stopped past --timeout (answered 504)",
          one(counts.timeouts),
        ),
        family(
          "carafe_pool_rejected_total",
          "counter",
          "Requests answered 503 because the pool's queue was full (--max-queue)",
          one(counts.rejected),
        ),
        family(
          "carafe_pool_thread_restarts_total",
          "counter",
          "Pool threads replaced, by cause",
          Object.entries(counts.restarts).map(([cause, value]) => ({ value, labels: { cause } })),
        ),
      );
    }
    if (sockets !== null) {
      families.push(
        family(
          "carafe_websocket_connections",
          "gauge",
          "Open WebSocket connections",
          one(sockets.open),
        ),
      );
    }
    if (rooms !== null) {
      families.push(
        family(
          "carafe_websocket_broadcasts_total",
          "counter",
          "WebSocket broadcasts made (on the loop or on pool threads)",
          one(rooms.made),
        ),
      );
    }
    families.push(...this.#process());
    const live = stats === undefined ? undefined : new Set(stats.threadIds);
    families.push(...metricStore.collect(live));
    return families;
  }

  /** This process's event loop and memory, labelled with its pid; over the time since the last collection. */
  #process(): MetricFamilyJson[] {
    const worker = this.#worker;
    const delay = this.#delay;
    const seconds = (ns: number): number => (Number.isFinite(ns) ? ns / 1e9 : 0);
    const delays: MetricSample[] = [
      { value: seconds(delay.percentile(50)), labels: { worker, quantile: "0.5" } },
      { value: seconds(delay.percentile(99)), labels: { worker, quantile: "0.99" } },
      { value: seconds(delay.max), labels: { worker, quantile: "1" } },
    ];
    delay.reset();
    const now = performance.eventLoopUtilization();
    const utilization = performance.eventLoopUtilization(now, this.#utilization).utilization;
    this.#utilization = now;
    const memory = process.memoryUsage();
    return [
      family(
        "carafe_worker_event_loop_delay_seconds",
        "gauge",
        "Event loop delay of each worker process since the previous collection (quantile 1 is the most)",
        delays,
      ),
      family(
        "carafe_worker_event_loop_utilization",
        "gauge",
        "Share of time each worker's event loop was busy since the previous collection",
        one(utilization, { worker }),
      ),
      family(
        "carafe_worker_heap_used_bytes",
        "gauge",
        "JS heap in use in each worker's main thread",
        one(memory.heapUsed, { worker }),
      ),
      family(
        "carafe_worker_resident_memory_bytes",
        "gauge",
        "Resident memory of each worker process",
        one(memory.rss, { worker }),
      ),
    ];
  }
}

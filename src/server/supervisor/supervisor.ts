// Design: the primary process of `carafe serve` (gunicorn's arbiter). It never imports the app
// (unless --preload); it forks worker processes with node:cluster, which shares the listening
// sockets, and keeps their number right. Signal handlers and IPC listeners only push events onto
// a queue; one loop takes them in order and owns every piece of state, so no two handlers race.
//
//   TERM        graceful stop: workers drain within --graceful-timeout, exit 0
//   INT, QUIT   fast stop
//   HUP         zero-downtime reload: a new generation boots (fresh code) and reports ready,
//               then the old one stops accepting and drains. A HUP during a reload queues one
//               more, started once the current one is ready (several coalesce into one)
//   TTIN/TTOU   one worker more / less (during a reload, applied once it is ready)
//   USR1        reopen log files
//
// A worker that stops sending heartbeats for --timeout is killed and replaced (one still importing
// the app gets at least BOOT_GRACE_MS, since its import blocks the loop that would send them); a
// crashed one is replaced with backoff; a worker whose app fails to import stops the server with
// the app's error instead of forking forever.
//
// With --metrics-bind it also serves /metrics, /healthz and /readyz (metrics/metrics-server.ts):
// a scrape is one more event of the loop, which asks every worker for its report, waits up to
// SCRAPE_WAIT_MS for the answers, and sums them with what the workers gone had counted
// (metrics/cluster-metrics.ts).

import cluster, { type Worker } from "node:cluster";
import { existsSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import process from "node:process";
import { parseAppSpec, resolveAppModule } from "../loading/app-spec.ts";
import { watchSources } from "../dev/reloader.ts";
import type { Logger, MetricFamilyJson } from "../../framework/internal.ts";
import type { ClusterMetrics } from "../metrics/cluster-metrics.ts";
import type { MetricsEndpoint } from "../metrics/metrics-server.ts";
import { describeThreads } from "../../threading/boot.ts";
import {
  BOOT_FAILED_EXIT,
  LISTEN_FAILED_EXIT,
  isWorkerMessage,
  type Bind,
  type ServeOptions,
  type SupervisorMessage,
  type WorkerMessage,
} from "./protocol.ts";

type Event =
  | { type: "signal"; signal: NodeJS.Signals }
  | { type: "message"; worker: Worker; message: WorkerMessage }
  | { type: "exit"; worker: Worker; code: number | null; signal: string | null }
  | { type: "disconnect"; worker: Worker }
  | { type: "tick" }
  | { type: "change"; file: string }
  | { type: "scrape"; done: (reports: MetricFamilyJson[][]) => void }
  | { type: "scrape-timeout"; id: number };

/** Why the supervisor replaced a worker (`carafe_worker_restarts_total`). */
type RestartReason = "died" | "timeout" | "max_requests" | "reload";

/** A scrape waiting for the workers' reports. */
interface Scrape {
  /** Workers (cluster ids) that have not answered yet. */
  readonly pending: Set<number>;
  readonly done: (reports: MetricFamilyJson[][]) => void;
}

/** How long a scrape waits for a worker's report before it uses the last one it has. */
const SCRAPE_WAIT_MS = 1000;

interface WorkerState {
  readonly worker: Worker;
  readonly generation: number;
  booted: boolean;
  /** Told to drain (or killed on purpose): its exit is expected. */
  leaving: boolean;
  /** Past --max-requests: serving until its successor listens, then drained. */
  retiring: boolean;
  /** It reported that the app failed to import (its exit is explained). */
  bootFailed: boolean;
  lastHeartbeat: number;
  readonly startedAt: number;
}

/**
 * How long a worker may take to boot (import the app, start its pool, listen) before it counts as
 * hung, when --timeout is shorter: a short --timeout is for requests, not for a slow import.
 */
const BOOT_GRACE_MS = 30_000;

const SIGNALS: NodeJS.Signals[] = [
  "SIGTERM",
  "SIGINT",
  "SIGQUIT",
  "SIGHUP",
  "SIGTTIN",
  "SIGTTOU",
  "SIGUSR1",
];

function describeExit(code: number | null, signal: string | null): string {
  return signal !== null ? `signal ${signal}` : `exit code ${code ?? "?"}`;
}

/**
 * How connections reach the workers, set before the first fork. With one worker it accepts them
 * itself from the shared listening socket, as a gunicorn worker does: node:cluster's default
 * has the supervisor accept each connection and pass it on over IPC, one at a time, which held
 * the first request of a burst of 50 new connections for up to 100 ms. With more workers the
 * supervisor keeps handing connections out in turn, which spreads them evenly; workers taking
 * them from one socket can leave most connections in one busy process. An explicit
 * `NODE_CLUSTER_SCHED_POLICY` (`rr` or `none`) is left as it is.
 */
function chooseScheduling(workers: number): void {
  if (process.env.NODE_CLUSTER_SCHED_POLICY !== undefined) return;
  if (workers === 1) cluster.schedulingPolicy = cluster.SCHED_NONE;
}

/** Runs the primary process until it stops; resolves with the exit code. */
export class Supervisor {
  readonly #options: ServeOptions;
  readonly #log: Logger & { reopen?(): void };
  readonly #version: string;
  readonly #workers = new Map<number, WorkerState>();
  readonly #queue: Event[] = [];
  #wake: (() => void) | null = null;
  #target: number;
  #generation = 0;
  /** The generation being booted by a reload, until all of it reports ready. */
  #reloading: number | null = null;
  /** A HUP (or a change) came during that reload: one more follows it. */
  #reloadQueued = false;
  #stopping: "graceful" | "fast" | null = null;
  #exitCode = 0;
  #crashes = 0;
  #nextSpawnAt = 0;
  #announced = false;
  #watcher: { close(): void } | null = null;
  /** Workers retiring after --max-requests, keyed by the id of the worker replacing them. */
  readonly #successors = new Map<number, WorkerState>();
  #lastSpawned: number | null = null;
  /** The workers' metrics, with --metrics-bind. */
  #metrics: ClusterMetrics | null = null;
  #endpoint: MetricsEndpoint | null = null;
  readonly #scrapes = new Map<number, Scrape>();
  #scrapeIds = 0;
  readonly #restarts: Record<RestartReason, number> = {
    died: 0,
    timeout: 0,
    max_requests: 0,
    reload: 0,
  };

  /** `log.reopen`, when there, reopens the error log after rotation (USR1). */
  constructor(options: ServeOptions, log: Logger & { reopen?(): void }, version: string) {
    this.#options = options;
    this.#log = log;
    this.#version = version;
    this.#target = options.workers;
  }

  #push(event: Event): void {
    this.#queue.push(event);
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  #next(): Promise<Event> {
    const event = this.#queue.shift();
    if (event !== undefined) return Promise.resolve(event);
    return new Promise((resolveEvent) => {
      this.#wake = () => resolveEvent(this.#queue.shift() as Event);
    });
  }

  /** Starts the workers and runs the event loop until the server stops. */
  async run(): Promise<number> {
    const options = this.#options;
    this.#log.info(`Starting Carafe ${this.#version} (Node ${process.version})`);
    const metricsBind = options.metricsBind === null ? [] : [options.metricsBind];
    for (const bind of [...options.binds, ...metricsBind]) {
      // A socket file left by a server that died would make listen fail with EADDRINUSE.
      if (bind.kind === "unix" && existsSync(bind.path) && statSync(bind.path).isSocket())
        rmSync(bind.path);
    }
    if (options.metricsBind !== null) await this.#serveMetrics(options.metricsBind);
    if (options.pid !== null) writeFileSync(options.pid, `${process.pid}\n`);
    const onSignal = (signal: NodeJS.Signals): void => this.#push({ type: "signal", signal });
    for (const signal of SIGNALS) process.on(signal, onSignal);
    cluster.on("message", (worker, message: unknown) => {
      if (isWorkerMessage(message)) this.#push({ type: "message", worker, message });
    });
    cluster.on("exit", (worker, code, signal) =>
      this.#push({ type: "exit", worker, code, signal }),
    );
    if (this.#metrics !== null) {
      cluster.on("disconnect", (worker) => this.#push({ type: "disconnect", worker }));
    }
    const ticker = setInterval(() => this.#push({ type: "tick" }), 500);
    if (options.reload) this.#watch();

    this.#generation = 1;
    chooseScheduling(this.#target);
    for (let i = 0; i < this.#target; i += 1) this.#spawn();
    try {
      while (!(this.#stopping !== null && this.#workers.size === 0)) {
        this.#handle(await this.#next());
      }
    } finally {
      clearInterval(ticker);
      for (const signal of SIGNALS) process.off(signal, onSignal);
      this.#watcher?.close();
      if (options.pid !== null) rmSync(options.pid, { force: true });
      await this.#endpoint?.close();
    }
    this.#log.info("Shutting down: Master");
    return this.#exitCode;
  }

  #spawn(): void {
    const worker = cluster.fork();
    this.#lastSpawned = worker.id;
    const now = Date.now();
    this.#workers.set(worker.id, {
      worker,
      generation: this.#generation,
      booted: false,
      leaving: false,
      retiring: false,
      bootFailed: false,
      lastHeartbeat: now,
      startedAt: now,
    });
    this.#log.info(`Booting worker with pid: ${worker.process.pid ?? "?"}`);
  }

  #tell(state: WorkerState, message: SupervisorMessage): void {
    if (!state.worker.isConnected()) return;
    // A worker that is exiting may close its channel between the check and the write. The
    // failed write then reaches this callback (without one, it would be an 'error' event that
    // ends the supervisor); the worker's exit is handled where it is reported.
    state.worker.send(message, (error: Error | null) => {
      if (error !== null) {
        this.#log.debug?.(
          `worker ${state.worker.process.pid}: not told ${message.type}: ${error.message}`,
        );
      }
    });
  }

  #drain(state: WorkerState): void {
    if (state.leaving) return;
    if (!state.booted) {
      // Still importing the app: it serves nothing yet, and may not listen for messages yet.
      this.#kill(state, "SIGTERM");
      return;
    }
    state.leaving = true;
    this.#tell(state, { type: "drain", graceMs: this.#options.gracefulTimeout * 1000 });
    // A worker that cannot drain in time (its loop is stuck) is killed.
    setTimeout(
      () => {
        if (!state.worker.isDead()) state.worker.process.kill("SIGKILL");
      },
      this.#options.gracefulTimeout * 1000 + 2000,
    ).unref();
  }

  #kill(state: WorkerState, signal: NodeJS.Signals): void {
    state.leaving = true;
    if (!state.worker.isDead()) state.worker.process.kill(signal);
  }

  #handle(event: Event): void {
    switch (event.type) {
      case "signal":
        return this.#handleSignal(event.signal);
      case "message":
        return this.#handleMessage(event.worker, event.message);
      case "exit":
        return this.#handleExit(event.worker, event.code, event.signal);
      case "disconnect":
        // Every message the worker sent came before its channel closed (its exit may not have):
        // only now is its last report surely in. What it counted stays counted.
        (this.#metrics as ClusterMetrics).retire(event.worker.id);
        return this.#answered(event.worker.id, null);
      case "tick":
        return this.#manageWorkers();
      case "change":
        if (this.#stopping !== null) return;
        this.#log.info(`Detected a change in ${event.file}; reloading`);
        return this.#reload("Change detected");
      case "scrape":
        return this.#scrape(event.done);
      case "scrape-timeout":
        return this.#endScrape(event.id);
    }
  }

  /** Starts the metrics server (loading it and prom-client only now). */
  async #serveMetrics(bind: Bind): Promise<void> {
    const [{ ClusterMetrics }, { startMetricsServer }] = await Promise.all([
      import("../metrics/cluster-metrics.ts"),
      import("../metrics/metrics-server.ts"),
    ]);
    this.#metrics = new ClusterMetrics();
    const source = {
      collect: () =>
        new Promise<MetricFamilyJson[][]>((done) => this.#push({ type: "scrape", done })),
      ready: () => this.#isReady(),
    };
    this.#endpoint = await startMetricsServer(bind, source, this.#log);
    const where =
      bind.kind === "unix"
        ? `${this.#endpoint.address} /metrics`
        : `${this.#endpoint.address}/metrics`;
    this.#log.info(`Metrics at: ${where} (${process.pid})`);
  }

  /** Takes work: some worker serves, and no stop or reload is under way. */
  #isReady(): boolean {
    if (this.#stopping !== null || this.#reloading !== null) return false;
    for (const state of this.#workers.values()) if (state.booted && !state.leaving) return true;
    return false;
  }

  /** Asks every serving worker for its report; ends once all answered, or SCRAPE_WAIT_MS. */
  #scrape(done: Scrape["done"]): void {
    const id = (this.#scrapeIds += 1);
    const pending = new Set<number>();
    for (const state of this.#workers.values()) {
      if (!state.booted || !state.worker.isConnected()) continue;
      this.#tell(state, { type: "collect-metrics", id });
      pending.add(state.worker.id);
    }
    this.#scrapes.set(id, { pending, done });
    if (pending.size === 0) return this.#endScrape(id);
    setTimeout(() => this.#push({ type: "scrape-timeout", id }), SCRAPE_WAIT_MS).unref();
  }

  #endScrape(id: number): void {
    const scrape = this.#scrapes.get(id);
    if (scrape === undefined || this.#metrics === null) return;
    this.#scrapes.delete(id);
    scrape.done([...this.#metrics.reports(), this.#ownMetrics()]);
  }

  /** Worker `id` answered scrapes, or can no longer: they wait for it no more. */
  #answered(id: number, scrapeId: number | null): void {
    for (const [each, scrape] of this.#scrapes) {
      if (scrapeId !== null && each !== scrapeId) continue;
      scrape.pending.delete(id);
      if (scrape.pending.size === 0) this.#endScrape(each);
    }
  }

  /** The supervisor's own numbers: its workers, and how often it replaced one. */
  #ownMetrics(): MetricFamilyJson[] {
    return [
      {
        name: "carafe_workers",
        help: "Worker processes running (booting, serving or draining)",
        type: "gauge",
        aggregator: "sum",
        values: [{ value: this.#workers.size, labels: {} }],
      },
      {
        name: "carafe_worker_restarts_total",
        help: "Worker processes replaced, by reason",
        type: "counter",
        aggregator: "sum",
        values: Object.entries(this.#restarts).map(([reason, value]) => ({
          value,
          labels: { reason },
        })),
      },
    ];
  }

  #handleSignal(signal: NodeJS.Signals): void {
    if (this.#stopping !== null && signal !== "SIGINT" && signal !== "SIGQUIT") return;
    switch (signal) {
      case "SIGTERM":
        this.#log.info("Handling signal: term");
        this.#stopping = "graceful";
        for (const state of this.#workers.values()) this.#drain(state);
        return;
      case "SIGINT":
      case "SIGQUIT":
        this.#log.info(`Handling signal: ${signal === "SIGINT" ? "int" : "quit"}`);
        this.#stopping = "fast";
        for (const state of this.#workers.values()) {
          this.#kill(state, "SIGQUIT");
          setTimeout(() => this.#kill(state, "SIGKILL"), 2000).unref();
        }
        return;
      case "SIGHUP":
        this.#log.info("Handling signal: hup");
        return this.#reload("HUP received");
      case "SIGTTIN":
        this.#target += 1;
        this.#log.info(`Handling signal: ttin (workers: ${this.#target})${this.#afterReload()}`);
        return this.#manageWorkers();
      case "SIGTTOU":
        if (this.#target > 1) this.#target -= 1;
        this.#log.info(`Handling signal: ttou (workers: ${this.#target})${this.#afterReload()}`);
        return this.#manageWorkers();
      case "SIGUSR1":
        this.#log.info("Handling signal: usr1 (reopening log files)");
        this.#log.reopen?.();
        for (const state of this.#workers.values()) this.#tell(state, { type: "reopen-logs" });
        return;
      default:
        return;
    }
  }

  /** Boots a new generation, or queues one behind the reload under way. */
  #reload(cause: string): void {
    if (this.#reloading !== null) {
      // The generation booting may have imported the code before the change this one announces
      // (a deploy that sends HUP after each file it copies): one more must follow, never none.
      this.#log.info(
        `${cause} during a reload; ${this.#reloadQueued ? "a reload is queued already" : "another reload is queued"}`,
      );
      this.#reloadQueued = true;
      return;
    }
    this.#bootGeneration();
  }

  /** Forks a new generation; the old one drains once all of it reports ready. */
  #bootGeneration(): void {
    this.#generation += 1;
    this.#reloading = this.#generation;
    for (let i = 0; i < this.#target; i += 1) this.#spawn();
  }

  /** The reload is over (ready or abandoned): what came meanwhile takes effect now. */
  #endReload(): void {
    this.#reloading = null;
    if (this.#stopping !== null) return;
    if (this.#reloadQueued) {
      this.#reloadQueued = false;
      this.#log.info("Starting the queued reload");
      return this.#bootGeneration();
    }
    // A TTIN or TTOU that came during the reload; the next tick would be up to 500 ms away.
    this.#manageWorkers();
  }

  #afterReload(): string {
    return this.#reloading === null ? "" : "; applied once the reload completes";
  }

  #handleMessage(worker: Worker, message: WorkerMessage): void {
    if (message.type === "metrics") {
      // Handled even after the worker's exit: its last report may come after that.
      this.#metrics?.update(worker.id, message.families);
      if (message.id !== null) this.#answered(worker.id, message.id);
      return;
    }
    const state = this.#workers.get(worker.id);
    if (state === undefined) return;
    switch (message.type) {
      case "heartbeat":
        state.lastHeartbeat = Date.now();
        return;
      case "booted": {
        state.booted = true;
        state.lastHeartbeat = Date.now();
        this.#log.debug?.(`Worker ${worker.process.pid ?? "?"} is listening`);
        const retiring = this.#successors.get(worker.id);
        if (retiring !== undefined) {
          this.#successors.delete(worker.id);
          this.#drain(retiring);
        }
        this.#announce(message.threads, message.addresses);
        if (this.#reloading !== null && this.#generationBooted(this.#reloading)) {
          // The new generation is listening: only now may the old one stop accepting.
          for (const each of this.#workers.values()) {
            if (each.generation >= this.#reloading) continue;
            if (!each.leaving) this.#restarts.reload += 1;
            this.#drain(each);
          }
          this.#log.info(`Reload complete (generation ${this.#reloading})`);
          this.#endReload();
        }
        return;
      }
      case "boot-failed":
        state.bootFailed = true;
        // Others of an abandoned reload report too; the first report decided already.
        if (state.leaving) return;
        return this.#handleBootFailure(state, message.message, message.listen === true);
      case "broadcast":
        // Every other worker that serves holds sockets the broadcast may be for.
        for (const other of this.#workers.values()) {
          if (other !== state && other.booted && !other.leaving) this.#tell(other, message);
        }
        return;
      case "retire":
        // Replace first, so capacity holds: the old worker drains once its successor listens.
        if (!state.leaving && !state.retiring) {
          state.retiring = true;
          this.#restarts.max_requests += 1;
          this.#spawn();
          this.#successors.set(this.#lastSpawned as number, state);
        }
        return;
    }
  }

  #generationBooted(generation: number): boolean {
    let count = 0;
    for (const state of this.#workers.values()) {
      // Workers of an abandoned attempt at this generation are on their way out.
      if (state.generation !== generation || state.leaving) continue;
      if (!state.booted) return false;
      count += 1;
    }
    return count > 0;
  }

  #announce(threads: number, addresses: string[]): void {
    if (this.#announced) return;
    this.#announced = true;
    for (const address of addresses) this.#log.info(`Listening at: ${address} (${process.pid})`);
    const threadText =
      threads > 0
        ? describeThreads(threads, this.#options.threadMaxHeap, this.#options.initialThreads)
        : "the event loop";
    this.#log.info(
      `Serving ${this.#options.appSpec}: ${this.#target} worker process${this.#target === 1 ? "" : "es"} × ${threadText}`,
    );
  }

  #handleBootFailure(state: WorkerState, message: string, listen: boolean): void {
    state.leaving = true;
    const why = listen ? `it cannot listen: ${message}` : `the app failed to load:\n${message}`;
    if (this.#reloading !== null && state.generation === this.#reloading) {
      this.#abandonReload(why);
      return;
    }
    this.#log.error(
      listen
        ? `Worker failed to boot; stopping. It cannot listen: ${message}`
        : `Worker failed to boot; stopping. The app failed to load:\n${message}`,
    );
    this.#exitCode = listen ? LISTEN_FAILED_EXIT : BOOT_FAILED_EXIT;
    this.#stopping = "fast";
    for (const each of this.#workers.values()) this.#kill(each, "SIGKILL");
  }

  /** A reload with broken code keeps the old generation serving. */
  #abandonReload(why: string): void {
    this.#log.error(`Reload failed; the running workers keep serving. Why: ${why}`);
    for (const each of this.#workers.values())
      // SIGTERM, not SIGKILL: a worker killed outright in the middle of its boot was seen to
      // leave the primary's round-robin handle holding later connections without a taker.
      if (each.generation === this.#reloading) this.#kill(each, "SIGTERM");
    this.#generation -= 1;
    // A queued reload runs still: the HUP behind it may be for the fix.
    this.#endReload();
  }

  #handleExit(worker: Worker, code: number | null, signal: string | null): void {
    const state = this.#workers.get(worker.id);
    this.#workers.delete(worker.id);
    if (state === undefined) return;
    // The worker this one was to replace cannot wait for it any longer.
    const retiring = this.#successors.get(worker.id);
    if (retiring !== undefined) {
      this.#successors.delete(worker.id);
      this.#drain(retiring);
    }
    if (state.leaving || this.#stopping !== null) return;
    if (state.bootFailed) return; // reported through boot-failed
    if (!state.booted && this.#reloading !== null && state.generation === this.#reloading) {
      this.#abandonReload(
        `a new worker exited (${describeExit(code, signal)}) before it was ready`,
      );
      return;
    }
    this.#log.warn(
      `Worker ${worker.process.pid ?? "?"} died (${describeExit(code, signal)}); starting a new one`,
    );
    this.#restarts.died += 1;
    // Back off when workers keep dying, so a crash loop does not eat the machine.
    const stable = Date.now() - state.startedAt > 10_000;
    this.#crashes = stable ? 0 : this.#crashes + 1;
    this.#nextSpawnAt =
      Date.now() + Math.min(10_000, this.#crashes === 0 ? 0 : 100 * 2 ** this.#crashes);
    this.#manageWorkers();
  }

  #manageWorkers(): void {
    if (this.#stopping !== null) return;
    const now = Date.now();
    const timeoutMs = this.#options.timeout * 1000;
    const current: WorkerState[] = [];
    for (const state of this.#workers.values()) {
      if (state.leaving) continue;
      const allowedMs = state.booted ? timeoutMs : Math.max(timeoutMs, BOOT_GRACE_MS);
      if (timeoutMs > 0 && now - state.lastHeartbeat > allowedMs) {
        const silentS = Math.round((now - state.lastHeartbeat) / 1000);
        this.#log.error(
          state.booted
            ? `Worker ${state.worker.process.pid ?? "?"} timed out (no heartbeat for ${silentS} s; --timeout ${this.#options.timeout}); killing it`
            : `Worker ${state.worker.process.pid ?? "?"} timed out (not booted after ${silentS} s; the app's import may hang); killing it`,
        );
        this.#kill(state, "SIGKILL");
        this.#restarts.timeout += 1;
        continue;
      }
      // A retiring worker is already replaced (its successor counts instead).
      if (state.retiring) continue;
      if (state.generation === this.#generation || this.#reloading === null) current.push(state);
    }
    if (this.#reloading !== null) return;
    if (current.length < this.#target && now >= this.#nextSpawnAt) {
      for (let i = current.length; i < this.#target; i += 1) this.#spawn();
    } else if (current.length > this.#target) {
      // A worker still booting goes first: stopping one that listens could leave none that does.
      const surplus = current
        .sort((a, b) => (a.booted === b.booted ? a.startedAt - b.startedAt : a.booted ? 1 : -1))
        .slice(0, current.length - this.#target);
      for (const state of surplus) this.#drain(state);
    }
  }

  #watch(): void {
    const spec = this.#options.appSpec;
    const root = dirname(resolveAppModule(parseAppSpec(spec).modulePath));
    let pending: NodeJS.Timeout | null = null;
    // A burst of changes (a save touching several files, a checkout) makes one reload.
    this.#watcher = watchSources(
      root,
      (file) => {
        if (pending !== null) clearTimeout(pending);
        pending = setTimeout(() => {
          pending = null;
          this.#push({ type: "change", file });
        }, 100);
      },
      (error) => this.#log.warn(error.message),
    );
  }
}

// Design: the app's own Prometheus metrics. `metrics.counter(...)`, `.gauge(...)` and
// `.histogram(...)` record into one store per thread (module state, as everything of an app is
// per thread): a few numbers in a map, no I/O. Nothing reads the store unless the server runs
// with --metrics-bind: then a pool thread hands what it recorded to its process's loop now and
// then (counters and histograms as increments since the last hand-over, gauges as their value),
// the loop merges it into its own store, and the supervisor gathers every process's. The
// samples leave in the shape prom-client's registries give (`getMetricsAsJSON`), which the
// supervisor aggregates with prom-client itself.

import { CarafeError } from "../errors.ts";

/** The label values of one observation, by label name; none for a metric declared without labels. */
export type MetricLabels<L extends string> = [L] extends [never]
  ? Record<string, never>
  : Partial<Record<L, string | number>>;

/** What every metric is declared with. */
export interface MetricOptions<L extends string> {
  /** The metric's Prometheus name: letters, digits, `_` and `:`; not `carafe_…` nor `http_server_…`. */
  name: string;
  /** One line saying what it counts (the exposition's `# HELP`). */
  help: string;
  /** The labels its observations may carry. */
  labelNames?: readonly L[];
}

/** A histogram's declaration: its bucket bounds beside the rest. */
export interface HistogramOptions<L extends string> extends MetricOptions<L> {
  /** Upper bounds of the buckets, ascending (default: prom-client's, 5 ms to 10 s). */
  buckets?: readonly number[];
}

/** The kinds of metric. @internal */
export type MetricKind = "counter" | "gauge" | "histogram";

/** One sample as a prom-client registry gives it. @internal */
export interface MetricSample {
  value: number;
  labels: Record<string, string | number>;
  /** `name_bucket`, `name_sum` or `name_count` for a histogram's samples. */
  metricName?: string;
}

/** One metric and its samples, as prom-client's `getMetricsAsJSON` gives it. @internal */
export interface MetricFamilyJson {
  name: string;
  help: string;
  type: MetricKind;
  aggregator: "sum";
  values: MetricSample[];
}

/** One series' numbers as a thread hands them over. @internal */
export interface SeriesDelta {
  labels: Record<string, string>;
  /** A counter's increment or a gauge's value. */
  value: number;
  /** A histogram's observations per bucket since the last hand-over (the last is +Inf). */
  counts?: number[];
  sum?: number;
}

/** One metric's changes as a thread hands them over to its loop. @internal */
export interface FamilyDelta {
  name: string;
  help: string;
  type: MetricKind;
  labelNames: string[];
  buckets: number[];
  series: SeriesDelta[];
}

const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Names the server's own metrics use. */
const RESERVED = /^(carafe_|http_server_)/;

function metricError(code: string, message: string): CarafeError {
  return new CarafeError(code, message);
}

interface Series {
  labels: Record<string, string>;
  value: number;
  counts: Float64Array | null;
  sum: number;
}

/** The key of a set of label values: one part per declared label, in declared order. */
function keyOf(labelNames: readonly string[], labels: Record<string, string>): string {
  let key = "";
  for (const name of labelNames) key += `${labels[name] ?? "\u0001"}\u0000`;
  return key;
}

class Family {
  readonly series = new Map<string, Series>();
  /** Gauges set on pool threads: each thread's values, by thread id (only in a loop's store). */
  readonly threadGauges = new Map<number, Map<string, Series>>();
  readonly #labelSet: Set<string>;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: MetricKind,
    readonly labelNames: readonly string[],
    readonly buckets: readonly number[],
  ) {
    this.#labelSet = new Set(labelNames);
  }

  /** The series of `given` label values, made on first use. */
  seriesOf(given: Record<string, string | number | undefined> | undefined): Series {
    const labels: Record<string, string> = {};
    if (given !== undefined) {
      for (const [name, value] of Object.entries(given)) {
        if (value === undefined) continue;
        if (!this.#labelSet.has(name)) {
          throw metricError(
            "ERR_METRIC_LABELS",
            `metric '${this.name}' has no label '${name}'; declare it in labelNames (it has: ${this.labelNames.join(", ") || "none"})`,
          );
        }
        labels[name] = String(value);
      }
    }
    return this.seriesByLabels(labels);
  }

  seriesByLabels(labels: Record<string, string>, table = this.series): Series {
    const key = keyOf(this.labelNames, labels);
    let series = table.get(key);
    if (series === undefined) {
      const counts = this.type === "histogram" ? new Float64Array(this.buckets.length + 1) : null;
      series = { labels, value: 0, counts, sum: 0 };
      table.set(key, series);
    }
    return series;
  }

  observe(series: Series, value: number): void {
    const counts = series.counts as Float64Array;
    const buckets = this.buckets;
    let at = 0;
    while (at < buckets.length && value > (buckets[at] as number)) at += 1;
    counts[at] = (counts[at] as number) + 1;
    series.sum += value;
  }

  /** The samples of this metric, prom-client's way (cumulative buckets, then sum and count). */
  toJson(liveThreads?: ReadonlySet<number>): MetricFamilyJson {
    const values: MetricSample[] = [];
    let all: Iterable<Series> = this.series.values();
    if (this.type === "gauge" && this.threadGauges.size > 0)
      all = this.#gaugesWithThreads(liveThreads);
    for (const series of all) {
      if (series.counts === null) {
        values.push({ value: series.value, labels: series.labels });
        continue;
      }
      values.push(
        ...histogramSamples(this.name, series.labels, this.buckets, series.counts, series.sum),
      );
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: "sum", values };
  }

  /** A gauge's loop value plus the last value each live thread gave, summed per label set. */
  #gaugesWithThreads(liveThreads: ReadonlySet<number> | undefined): Series[] {
    const sums = new Map<string, Series>();
    const add = (key: string, series: Series): void => {
      const into = sums.get(key);
      if (into === undefined) sums.set(key, { ...series });
      else into.value += series.value;
    };
    for (const [key, series] of this.series) add(key, series);
    for (const [thread, table] of this.threadGauges) {
      // A thread that ended takes its gauges with it, as a process does.
      if (liveThreads !== undefined && !liveThreads.has(thread)) {
        this.threadGauges.delete(thread);
        continue;
      }
      for (const [key, series] of table) add(key, series);
    }
    return [...sums.values()];
  }
}

/**
 * A histogram series' samples, prom-client's way: cumulative `_bucket`s (`le` up to +Inf), then
 * `_sum` and `_count`. `counts` holds each bucket's own observations, the last one +Inf's.
 * @internal
 */
export function histogramSamples(
  name: string,
  labels: Record<string, string>,
  buckets: readonly number[],
  counts: ArrayLike<number>,
  sum: number,
): MetricSample[] {
  const samples: MetricSample[] = [];
  let cumulative = 0;
  for (let at = 0; at <= buckets.length; at += 1) {
    cumulative += counts[at] as number;
    const le = at < buckets.length ? (buckets[at] as number) : "+Inf";
    samples.push({ value: cumulative, labels: { ...labels, le }, metricName: `${name}_bucket` });
  }
  samples.push({ value: sum, labels, metricName: `${name}_sum` });
  samples.push({ value: cumulative, labels, metricName: `${name}_count` });
  return samples;
}

function checkValue(name: string, value: number, what: string): void {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw metricError(
      "ERR_METRIC_VALUE",
      `${what} of metric '${name}' must be a finite number, got ${String(value)}`,
    );
  }
}

/** The metrics of this thread (a process's loop, or one pool thread). @internal */
export class MetricStore {
  readonly #families = new Map<string, Family>();

  /** Declares a metric, or returns the one declared under that name with the same shape. */
  declare(type: MetricKind, options: HistogramOptions<string>): Family {
    const { name, help } = options;
    if (typeof name !== "string" || !NAME.test(name)) {
      throw metricError(
        "ERR_METRIC_NAME",
        `a metric name is letters, digits, '_' and ':', not starting with a digit, e.g. 'orders_placed_total'; got ${JSON.stringify(name)}`,
      );
    }
    if (RESERVED.test(name)) {
      throw metricError(
        "ERR_METRIC_NAME",
        `metric names starting with 'carafe_' or 'http_server_' are the server's own; name '${name}' otherwise`,
      );
    }
    if (typeof help !== "string" || help === "") {
      throw metricError(
        "ERR_METRIC_HELP",
        `metric '${name}' needs a help text: one line saying what it measures`,
      );
    }
    const labelNames = [...(options.labelNames ?? [])];
    for (const label of labelNames) {
      if (
        !LABEL.test(label) ||
        label.startsWith("__") ||
        (type === "histogram" && label === "le")
      ) {
        throw metricError(
          "ERR_METRIC_LABELS",
          `metric '${name}' cannot have a label named ${JSON.stringify(label)}: letters, digits and '_', not starting with '__'${type === "histogram" ? " (and not 'le')" : ""}`,
        );
      }
    }
    const buckets = type === "histogram" ? [...(options.buckets ?? DEFAULT_BUCKETS)] : [];
    if (
      buckets.some(
        (bound, at) => !Number.isFinite(bound) || (at > 0 && bound <= (buckets[at - 1] as number)),
      )
    ) {
      throw metricError(
        "ERR_METRIC_BUCKETS",
        `the buckets of histogram '${name}' must be finite numbers in ascending order, got [${buckets.join(", ")}]`,
      );
    }
    const existing = this.#families.get(name);
    if (existing !== undefined) {
      const same =
        existing.type === type &&
        existing.labelNames.join() === labelNames.join() &&
        existing.buckets.join() === buckets.join();
      if (same) return existing;
      throw metricError(
        "ERR_METRIC_EXISTS",
        `metric '${name}' is declared already as a ${existing.type} with labels [${existing.labelNames.join(", ")}]; give this one another name`,
      );
    }
    const family = new Family(name, help, type, labelNames, buckets);
    this.#families.set(name, family);
    return family;
  }

  /** Every metric's samples. `liveThreads`: the pool threads whose gauges still count. */
  collect(liveThreads?: ReadonlySet<number>): MetricFamilyJson[] {
    return [...this.#families.values()].map((family) => family.toJson(liveThreads));
  }

  /**
   * What changed since the last call, for a pool thread to hand to its loop: counters and
   * histograms as increments (then zeroed here), gauges as their value. Empty when nothing did.
   */
  drain(): FamilyDelta[] {
    const deltas: FamilyDelta[] = [];
    for (const family of this.#families.values()) {
      const series: SeriesDelta[] = [];
      for (const each of family.series.values()) {
        if (family.type === "gauge") {
          series.push({ labels: each.labels, value: each.value });
        } else if (each.value !== 0 || each.sum !== 0 || each.counts?.some((count) => count > 0)) {
          const delta: SeriesDelta = { labels: each.labels, value: each.value };
          if (each.counts !== null) {
            delta.counts = [...each.counts];
            delta.sum = each.sum;
            each.counts.fill(0);
            each.sum = 0;
          }
          each.value = 0;
          series.push(delta);
        }
      }
      if (series.length === 0) continue;
      const { name, help, type, labelNames, buckets } = family;
      deltas.push({ name, help, type, labelNames: [...labelNames], buckets: [...buckets], series });
    }
    return deltas;
  }

  /** Merges what pool thread `thread` handed over (see `drain`) into this loop's store. */
  merge(thread: number, deltas: readonly FamilyDelta[]): void {
    for (const delta of deltas) {
      let family: Family;
      try {
        family = this.declare(delta.type, delta);
      } catch {
        continue; // declared otherwise on the loop: the loop's declaration wins
      }
      let gauges: Map<string, Series> | undefined;
      if (family.type === "gauge") {
        gauges = new Map();
        family.threadGauges.set(thread, gauges);
      }
      for (const each of delta.series) {
        const series = family.seriesByLabels(each.labels, gauges);
        series.value += each.value;
        if (series.counts !== null && each.counts !== undefined) {
          each.counts.forEach((count, at) => {
            (series.counts as Float64Array)[at] =
              ((series.counts as Float64Array)[at] as number) + count;
          });
          series.sum += each.sum ?? 0;
        }
      }
    }
  }
}

/** This thread's store. @internal */
export const metricStore = new MetricStore();

function split<L extends string>(
  labelsOrValue: MetricLabels<L> | number | undefined,
  value: number | undefined,
  fallback: number,
): [MetricLabels<L> | undefined, number] {
  if (typeof labelsOrValue === "object" && labelsOrValue !== null)
    return [labelsOrValue, value ?? fallback];
  return [undefined, labelsOrValue ?? fallback];
}

/**
 * A count that only goes up (requests served, orders placed). Name it with `_total`.
 *
 * @example
 * const orders = metrics.counter({ name: "orders_total", help: "Orders placed", labelNames: ["kind"] });
 * orders.inc({ kind: "gift" });
 */
export class CounterMetric<L extends string = never> {
  readonly #family: Family;
  /** @internal */
  constructor(family: Family) {
    this.#family = family;
  }

  /** Adds `value` (default 1) to the count. */
  inc(value?: number): void;
  /** Adds `value` (default 1) to the count of the series `labels` names. */
  inc(labels: MetricLabels<L>, value?: number): void;
  inc(labelsOrValue?: MetricLabels<L> | number, value?: number): void {
    const [labels, amount] = split(labelsOrValue, value, 1);
    checkValue(this.#family.name, amount, "an increment");
    if (amount < 0) {
      throw metricError(
        "ERR_METRIC_VALUE",
        `counter '${this.#family.name}' only goes up; use a gauge for a value that goes down`,
      );
    }
    this.#family.seriesOf(labels).value += amount;
  }
}

/**
 * A value that goes up and down (items in a cache, jobs waiting). Summed over the threads and
 * processes that set it.
 *
 * @example
 * const waiting = metrics.gauge({ name: "jobs_waiting", help: "Jobs waiting to run" });
 * waiting.set(12);
 */
export class GaugeMetric<L extends string = never> {
  readonly #family: Family;
  /** @internal */
  constructor(family: Family) {
    this.#family = family;
  }

  /** Sets the value. */
  set(value: number): void;
  /** Sets the value of the series `labels` names. */
  set(labels: MetricLabels<L>, value: number): void;
  set(labelsOrValue: MetricLabels<L> | number, value?: number): void {
    const [labels, amount] = split(labelsOrValue, value, Number.NaN);
    checkValue(this.#family.name, amount, "the value");
    this.#family.seriesOf(labels).value = amount;
  }

  /** Adds `value` (default 1). */
  inc(value?: number): void;
  /** Adds `value` (default 1) to the series `labels` names. */
  inc(labels: MetricLabels<L>, value?: number): void;
  inc(labelsOrValue?: MetricLabels<L> | number, value?: number): void {
    const [labels, amount] = split(labelsOrValue, value, 1);
    checkValue(this.#family.name, amount, "an increment");
    this.#family.seriesOf(labels).value += amount;
  }

  /** Subtracts `value` (default 1). */
  dec(value?: number): void;
  /** Subtracts `value` (default 1) from the series `labels` names. */
  dec(labels: MetricLabels<L>, value?: number): void;
  dec(labelsOrValue?: MetricLabels<L> | number, value?: number): void {
    const [labels, amount] = split(labelsOrValue, value, 1);
    checkValue(this.#family.name, amount, "a decrement");
    this.#family.seriesOf(labels).value -= amount;
  }
}

/**
 * A distribution of observed values (durations, sizes) in buckets, with their sum and count.
 *
 * @example
 * const render = metrics.histogram({ name: "render_seconds", help: "Template render time" });
 * render.observe(0.012);
 */
export class HistogramMetric<L extends string = never> {
  readonly #family: Family;
  /** @internal */
  constructor(family: Family) {
    this.#family = family;
  }

  /** Records one observation. */
  observe(value: number): void;
  /** Records one observation in the series `labels` names. */
  observe(labels: MetricLabels<L>, value: number): void;
  observe(labelsOrValue: MetricLabels<L> | number, value?: number): void {
    const [labels, amount] = split(labelsOrValue, value, Number.NaN);
    checkValue(this.#family.name, amount, "an observation");
    this.#family.observe(this.#family.seriesOf(labels), amount);
  }
}

/** Declares the app's own metrics, exposed with the server's on `--metrics-bind`. */
export interface Metrics {
  /** A counter; declaring the same name again with the same labels returns the same counter. */
  counter<L extends string = never>(options: MetricOptions<L>): CounterMetric<L>;
  /** A gauge; declaring the same name again with the same labels returns the same gauge. */
  gauge<L extends string = never>(options: MetricOptions<L>): GaugeMetric<L>;
  /** A histogram; declaring the same name again with the same shape returns the same histogram. */
  histogram<L extends string = never>(options: HistogramOptions<L>): HistogramMetric<L>;
}

/**
 * The app's own Prometheus metrics, declared at import time and recorded from any handler, on
 * the event loop or on a pool thread. `carafe serve --metrics-bind HOST:PORT` exposes them with
 * the server's, summed over every thread and worker process.
 *
 * @example
 * import { metrics } from "carafe";
 * const logins = metrics.counter({ name: "logins_total", help: "Logins", labelNames: ["outcome"] });
 * app.post("/login", () => { logins.inc({ outcome: "ok" }); return "welcome"; });
 */
export const metrics: Metrics = {
  counter: (options) => new CounterMetric(metricStore.declare("counter", options)),
  gauge: (options) => new GaugeMetric(metricStore.declare("gauge", options)),
  histogram: (options) => new HistogramMetric(metricStore.declare("histogram", options)),
};

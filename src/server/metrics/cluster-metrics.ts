// Design: the supervisor's memory of its workers' metrics. It keeps the last report of each live
// worker, and folds the report of a worker that exits (crashed, killed, recycled, drained) into
// a "retired" total: counters and histograms keep what that worker counted, gauges die with it.
// A scrape sums the retired total and every live worker's last report, so a counter never goes
// back and nothing is counted twice: a worker's report is in the live set or in the retired
// total, never in both, and a report that arrives after its worker was retired is ignored (the
// supervisor retires a worker when its channel closes, after every message it sent). What
// a worker counted after its last report is lost when it is killed outright; its reports come
// every second and on every scrape, and a worker that drains sends one last report as it exits.

import type { MetricFamilyJson, MetricSample } from "../../framework/internal.ts";

type Meta = Omit<MetricFamilyJson, "values">;

/** The key of one sample: its name (`x_bucket` for a bucket) and its labels, sorted. */
function sampleKey(family: string, sample: MetricSample): string {
  const labels = Object.entries(sample.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `${sample.metricName ?? family}\u0000${JSON.stringify(labels)}`;
}

/** The reports of a cluster's workers, live and retired. */
export class ClusterMetrics {
  readonly #live = new Map<number, MetricFamilyJson[]>();
  /** Workers retired: a late report of theirs must not count again. */
  readonly #gone = new Set<number>();
  readonly #retired = new Map<string, { meta: Meta; samples: Map<string, MetricSample> }>();

  /** Worker `id` reported `families` (everything it counted since it started). */
  update(id: number, families: MetricFamilyJson[]): void {
    if (this.#gone.has(id)) return;
    this.#live.set(id, families);
  }

  /** Worker `id` exited: its counters and histograms join the retired total; its gauges go. */
  retire(id: number): void {
    if (this.#gone.has(id)) return;
    this.#gone.add(id);
    const last = this.#live.get(id);
    this.#live.delete(id);
    for (const family of last ?? []) {
      if (family.type !== "counter" && family.type !== "histogram") continue;
      let retired = this.#retired.get(family.name);
      if (retired === undefined) {
        const { name, help, type, aggregator } = family;
        retired = { meta: { name, help, type, aggregator }, samples: new Map() };
        this.#retired.set(family.name, retired);
      }
      for (const sample of family.values) {
        const key = sampleKey(family.name, sample);
        const kept = retired.samples.get(key);
        if (kept === undefined)
          retired.samples.set(key, { ...sample, labels: { ...sample.labels } });
        else kept.value += sample.value;
      }
    }
  }

  /** Whether worker `id` has reported and not exited. */
  has(id: number): boolean {
    return this.#live.has(id);
  }

  /** The retired total, then each live worker's last report: what a scrape aggregates. */
  reports(): MetricFamilyJson[][] {
    const retired = [...this.#retired.values()].map(({ meta, samples }) => ({
      ...meta,
      // Copies: a worker retired while this scrape is summed must not change what it reads.
      values: [...samples.values()].map((sample) => ({ ...sample })),
    }));
    return [retired, ...this.#live.values()];
  }
}

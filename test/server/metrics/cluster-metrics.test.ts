// The supervisor's fold of its workers' reports: what a worker counted survives its exit, is
// never counted twice, and its gauges go with it. Summed as a scrape sums them, by prom-client.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AggregatorRegistry } from "prom-client";
import { MetricStore, type MetricFamilyJson } from "../../../src/framework/internal.ts";
import { ClusterMetrics } from "../../../src/server/metrics/cluster-metrics.ts";

/** A worker's report: a counter, a histogram and a gauge, each with the values given. */
function report(hits: number, seconds: number[], worker: string): MetricFamilyJson[] {
  const store = new MetricStore();
  store.declare("counter", { name: "hits_total", help: "Hits", labelNames: ["route"] });
  const families = store.collect();
  const counter = families[0] as MetricFamilyJson;
  counter.values.push({ value: hits, labels: { route: "/a" } });
  const histogram = new MetricStore().declare("histogram", {
    name: "took_seconds",
    help: "Took",
    buckets: [0.1, 1],
  });
  for (const value of seconds) histogram.observe(histogram.seriesOf(undefined), value);
  const gauge: MetricFamilyJson = {
    name: "heap_bytes",
    help: "Heap",
    type: "gauge",
    aggregator: "sum",
    values: [{ value: 100, labels: { worker } }],
  };
  return [counter, histogram.toJson(), gauge];
}

/** The scrape's samples as `name{labels}` → value, summed by prom-client's aggregation. */
async function scrape(cluster: ClusterMetrics): Promise<Map<string, number>> {
  const text = await AggregatorRegistry.aggregate(cluster.reports()).metrics();
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

describe("ClusterMetrics", () => {
  it("sums the live workers' last reports", async () => {
    const cluster = new ClusterMetrics();
    cluster.update(1, report(3, [0.05], "11"));
    cluster.update(2, report(4, [0.5, 2], "12"));
    cluster.update(1, report(5, [0.05, 0.05], "11")); // a newer report replaces the older
    const samples = await scrape(cluster);
    assert.equal(samples.get('hits_total{route="/a"}'), 9);
    assert.equal(samples.get('took_seconds_bucket{le="0.1"}'), 2);
    assert.equal(samples.get('took_seconds_bucket{le="1"}'), 3);
    assert.equal(samples.get('took_seconds_bucket{le="+Inf"}'), 4);
    assert.equal(samples.get("took_seconds_count"), 4);
    assert.equal(samples.get('heap_bytes{worker="11"}'), 100);
    assert.equal(samples.get('heap_bytes{worker="12"}'), 100);
  });

  it("keeps a retired worker's counters and histograms, drops its gauges, and never counts it twice", async () => {
    const cluster = new ClusterMetrics();
    cluster.update(1, report(3, [0.05], "11"));
    cluster.update(2, report(4, [0.5], "12"));
    const before = await scrape(cluster);
    cluster.retire(1);
    cluster.retire(1); // an exit seen twice
    cluster.update(1, report(3, [0.05], "11")); // a report that arrives after the exit
    const after = await scrape(cluster);
    for (const key of ['hits_total{route="/a"}', "took_seconds_count", "took_seconds_sum"]) {
      assert.equal(after.get(key), before.get(key), key);
    }
    assert.equal(after.get('heap_bytes{worker="11"}'), undefined, "its gauge went with it");
    assert.equal(after.get('heap_bytes{worker="12"}'), 100);
    assert.equal(cluster.has(1), false);

    // Its replacement starts from zero; the total goes on from where it was.
    cluster.update(3, report(2, [5], "13"));
    const later = await scrape(cluster);
    assert.equal(later.get('hits_total{route="/a"}'), 9);
    assert.equal(later.get("took_seconds_count"), 3);
    assert.equal(later.get('took_seconds_bucket{le="+Inf"}'), 3);
    assert.equal(later.get('took_seconds_bucket{le="1"}'), 2);
  });

  it("folds every worker of a cluster that is replaced one by one", async () => {
    const cluster = new ClusterMetrics();
    let expected = 0;
    for (let id = 1; id <= 20; id += 1) {
      cluster.update(id, report(id, [], String(id)));
      expected += id;
      if (id > 2) cluster.retire(id - 2);
      const samples = await scrape(cluster);
      assert.equal(samples.get('hits_total{route="/a"}'), expected);
    }
  });
});

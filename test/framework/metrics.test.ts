// The app's own metrics: declaring, recording, what a bad call is told, and how a pool thread's
// records reach its loop (drain on the thread, merge on the loop).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { metrics } from "carafe";
import { MetricStore, metricStore } from "../../src/framework/internal.ts";
import { isCarafeError } from "../helpers.ts";

/** The samples of `name` in `store` as `metricName{labels}` → value. */
function samplesOf(store: MetricStore, name: string): Record<string, number> {
  const family = store.collect().find((each) => each.name === name);
  const samples: Record<string, number> = {};
  for (const sample of family?.values ?? []) {
    const labels = Object.entries(sample.labels).map(([key, value]) => `${key}=${value}`);
    samples[`${sample.metricName ?? name}{${labels.join(",")}}`] = sample.value;
  }
  return samples;
}

describe("metrics", () => {
  it("counts, sets and observes by label values", () => {
    const orders = metrics.counter({
      name: "test_orders_total",
      help: "Orders",
      labelNames: ["kind"],
    });
    orders.inc({ kind: "gift" });
    orders.inc({ kind: "gift" }, 2);
    orders.inc(4);
    const waiting = metrics.gauge({ name: "test_waiting", help: "Waiting" });
    waiting.set(5);
    waiting.dec(2);
    waiting.inc();
    const took = metrics.histogram({ name: "test_took_seconds", help: "Took", buckets: [1, 2] });
    took.observe(0.5);
    took.observe(1.5);
    took.observe(9);
    assert.deepEqual(samplesOf(metricStore, "test_orders_total"), {
      "test_orders_total{kind=gift}": 3,
      "test_orders_total{}": 4,
    });
    assert.deepEqual(samplesOf(metricStore, "test_waiting"), { "test_waiting{}": 4 });
    assert.deepEqual(samplesOf(metricStore, "test_took_seconds"), {
      "test_took_seconds_bucket{le=1}": 1,
      "test_took_seconds_bucket{le=2}": 2,
      "test_took_seconds_bucket{le=+Inf}": 3,
      "test_took_seconds_sum{}": 11,
      "test_took_seconds_count{}": 3,
    });
  });

  it("returns the same metric when declared again alike, and refuses a different one", () => {
    const first = metrics.counter({ name: "test_again_total", help: "Again" });
    first.inc();
    metrics.counter({ name: "test_again_total", help: "Again" }).inc();
    assert.deepEqual(samplesOf(metricStore, "test_again_total"), { "test_again_total{}": 2 });
    assert.throws(
      () => metrics.gauge({ name: "test_again_total", help: "Again" }),
      isCarafeError("ERR_METRIC_EXISTS", /declared already as a counter/),
    );
  });

  it("tells what is wrong with a bad declaration or a bad value", () => {
    assert.throws(
      () => metrics.counter({ name: "9lives", help: "x" }),
      isCarafeError("ERR_METRIC_NAME", /letters, digits/),
    );
    assert.throws(
      () => metrics.counter({ name: "carafe_mine_total", help: "x" }),
      isCarafeError("ERR_METRIC_NAME", /the server's own/),
    );
    assert.throws(
      () => metrics.counter({ name: "test_no_help_total", help: "" }),
      isCarafeError("ERR_METRIC_HELP"),
    );
    assert.throws(
      () => metrics.histogram({ name: "test_le", help: "x", labelNames: ["le"] }),
      isCarafeError("ERR_METRIC_LABELS", /not 'le'/),
    );
    assert.throws(
      () => metrics.histogram({ name: "test_buckets", help: "x", buckets: [2, 1] }),
      isCarafeError("ERR_METRIC_BUCKETS", /ascending/),
    );
    const counter = metrics.counter({ name: "test_bad_total", help: "x", labelNames: ["a"] });
    assert.throws(() => counter.inc(-1), isCarafeError("ERR_METRIC_VALUE", /only goes up/));
    assert.throws(() => counter.inc(Number.NaN), isCarafeError("ERR_METRIC_VALUE"));
    // @ts-expect-error: 'b' is not one of the declared label names
    const unknownLabel = () => counter.inc({ b: "x" });
    assert.throws(unknownLabel, isCarafeError("ERR_METRIC_LABELS", /no label 'b'/));
    // @ts-expect-error: a value is a number
    const textValue = () => counter.inc({ a: "x" }, "2");
    assert.throws(textValue, isCarafeError("ERR_METRIC_VALUE"));
    const unlabelled = metrics.histogram({ name: "test_unlabelled", help: "x" });
    // @ts-expect-error: a metric declared without labelNames takes no labels
    const labelled = () => unlabelled.observe({ route: "/" }, 1);
    assert.throws(labelled, isCarafeError("ERR_METRIC_LABELS"));
  });

  it("hands a thread's increments to its loop once, and its gauges as their value", () => {
    const thread = new MetricStore();
    const loop = new MetricStore();
    const hits = thread.declare("counter", { name: "hits_total", help: "Hits" });
    const level = thread.declare("gauge", { name: "level", help: "Level" });
    const took = thread.declare("histogram", { name: "took", help: "Took", buckets: [1] });
    hits.seriesOf(undefined).value += 2;
    level.seriesOf(undefined).value = 7;
    took.observe(took.seriesOf(undefined), 0.5);
    loop.merge(1, thread.drain());
    hits.seriesOf(undefined).value += 1;
    loop.merge(1, thread.drain());
    loop.merge(1, thread.drain()); // nothing new: the counter does not grow again
    assert.deepEqual(samplesOf(loop, "hits_total"), { "hits_total{}": 3 });
    assert.deepEqual(samplesOf(loop, "took"), {
      "took_bucket{le=1}": 1,
      "took_bucket{le=+Inf}": 1,
      "took_sum{}": 0.5,
      "took_count{}": 1,
    });
    assert.deepEqual(samplesOf(loop, "level"), { "level{}": 7 });
    // A second thread's gauge adds to the first's; a thread that ended no longer counts.
    loop.merge(2, [{ ...thread.drain()[0]!, series: [{ labels: {}, value: 3 }] }]);
    assert.deepEqual(samplesOf(loop, "level"), { "level{}": 10 });
    const live = loop.collect(new Set([2])).find((family) => family.name === "level");
    assert.equal(live?.values[0]?.value, 3);
  });
});

// `npm run bench:threading`: what carafe/threading costs. Lock round trips on one thread and
// under contention between threads, and the overhead of one toThread() call next to piscina's
// run() on the same task with the same number of threads. Medians; writes
// bench/results/threading.md (threading-quick.md with --quick).
import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";
import { Piscina } from "piscina";
import { Bench } from "tinybench";
import { Barrier, Lock, Thread, sharedArray, toThread } from "carafe/threading";
import { add } from "./apps/thread-task.ts";

const quick = process.argv.includes("--quick");
const threads = availableParallelism();

// ---- Contended locks: N threads take one lock in turns, each for a shared increment ----

/** Runs in each thread: `times` lock round trips after all threads met at `start`; elapsed ms. */
function takeTurns(lock: Lock, cells: Int32Array, start: Barrier, times: number): number {
  start.wait();
  const began = performance.now();
  for (let i = 0; i < times; i++) {
    lock.acquire();
    cells[0] = cells[0]! + 1;
    lock.release();
  }
  return performance.now() - began;
}

/** Lock round trips per second over all `count` threads, measured inside them. */
async function contended(count: number, times: number): Promise<number> {
  const lock = new Lock();
  const cells = sharedArray(Int32Array, 1);
  const start = new Barrier(count);
  const running = Array.from({ length: count }, () =>
    new Thread({ target: takeTurns, args: [lock, cells, start, times] }).start(),
  );
  const elapsed = await Promise.all(running.map((thread) => thread.join()));
  if (cells[0] !== count * times) throw new Error(`lost increments: ${cells[0]}`);
  return (count * times) / (Math.max(...elapsed) / 1000);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

const samples = quick ? 1 : 5;
const turns = quick ? 20_000 : 200_000;
const contendedRows: { task: string; "ops/s": number }[] = [];
for (const count of [threads, threads * 2]) {
  const rates: number[] = [];
  for (let i = 0; i < samples; i++) rates.push(await contended(count, turns));
  contendedRows.push({
    task: `Lock: contended, ${count} threads × acquire + increment + release`,
    "ops/s": Math.round(median(rates)),
  });
}

// ---- Call overhead: toThread and piscina, interleaved ----

// Both run the same function on as many threads. Each round measures one contender after the
// other, so that both see the machine in the same state: on an idle virtual machine a sleeping
// core takes tens of microseconds to wake, and a core kept busy wakes at once.
const piscina = new Piscina({
  filename: new URL("./apps/piscina-task.mjs", import.meta.url).href,
  minThreads: threads,
  maxThreads: threads,
});
const BATCH = 100;
const contenders = {
  toThread: (i: number) => toThread(add, i, 2),
  "piscina.run": (i: number) => piscina.run({ a: i, b: 2 }),
};
type Contender = keyof typeof contenders;

/** Median µs of `calls` calls, each awaited before the next. */
async function oneAtATime(call: (i: number) => Promise<number>, calls: number): Promise<number> {
  const took: number[] = [];
  for (let i = 0; i < calls; i++) {
    const began = performance.now();
    await call(i);
    took.push((performance.now() - began) * 1000);
  }
  return median(took);
}

/** Calls per second with `BATCH` calls in flight at once, over `batches` batches. */
async function manyAtOnce(call: (i: number) => Promise<number>, batches: number): Promise<number> {
  const began = performance.now();
  for (let b = 0; b < batches; b++) {
    await Promise.all(Array.from({ length: BATCH }, (_, i) => call(i)));
  }
  return (batches * BATCH) / ((performance.now() - began) / 1000);
}

// Both pools start their threads before anything is timed.
for (const call of Object.values(contenders)) await manyAtOnce(call, 20);
const latency: Record<Contender, number[]> = { toThread: [], "piscina.run": [] };
const rate: Record<Contender, number[]> = { toThread: [], "piscina.run": [] };
for (let round = 0; round < (quick ? 1 : 7); round++) {
  for (const [name, call] of Object.entries(contenders) as [
    Contender,
    typeof contenders.toThread,
  ][]) {
    latency[name].push(await oneAtATime(call, quick ? 300 : 3000));
    rate[name].push(await manyAtOnce(call, quick ? 10 : 100));
  }
}
await piscina.destroy();

// ---- Uncontended locks, with tinybench ----

const lock = new Lock();
const bench = new Bench({ time: quick ? 100 : 1000 });
bench
  .add("Lock: uncontended acquire + release", () => {
    lock.acquire();
    lock.release();
  })
  .add("Lock: uncontended acquireAsync + release", async () => {
    await lock.acquireAsync();
    lock.release();
  });
await bench.run();

interface Row {
  task: string;
  "median µs": number | string;
  "calls/s": number;
}
const rows: Row[] = [
  ...bench.tasks.map((task) => {
    const result = task.result as { latency?: { p50: number }; throughput?: { mean: number } };
    return {
      task: task.name,
      "median µs": Number(((result.latency?.p50 ?? NaN) * 1000).toFixed(2)),
      "calls/s": Math.round(result.throughput?.mean ?? NaN),
    };
  }),
  ...contendedRows.map((row) => ({ task: row.task, "median µs": "", "calls/s": row["ops/s"] })),
  ...(Object.keys(contenders) as Contender[]).flatMap((name) => [
    {
      task: `${name}: one call at a time`,
      "median µs": Number(median(latency[name]).toFixed(1)),
      "calls/s": Math.round(1e6 / median(latency[name])),
    },
    {
      task: `${name}: ${BATCH} calls at once`,
      "median µs": "",
      "calls/s": Math.round(median(rate[name])),
    },
  ]),
];
console.table(rows);

const ratios = [
  `toThread one at a time: ${(median(latency["piscina.run"]) / median(latency.toThread)).toFixed(2)}× piscina's speed (median latency ${median(latency.toThread).toFixed(1)} µs against ${median(latency["piscina.run"]).toFixed(1)} µs)`,
  `toThread ${BATCH} at once: ${(median(rate.toThread) / median(rate["piscina.run"])).toFixed(2)}× piscina's calls/s`,
];
console.log(ratios.join("\n"));

mkdirSync("bench/results", { recursive: true });
writeFileSync(
  `bench/results/${quick ? "threading-quick" : "threading"}.md`,
  [
    "# carafe/threading benchmark",
    "",
    `Measured ${new Date().toISOString().slice(0, 10)} by \`npm run bench:threading\` on ${cpus().length} × ${cpus()[0]?.model.trim() ?? "CPU"}, Node ${process.version}; ${threads} pool threads for both toThread and piscina ${Piscina.version}, medians of ${quick ? 1 : 7} interleaved rounds.`,
    "",
    "| task | median µs | calls/s |",
    "|---|---:|---:|",
    ...rows.map((r) => `| ${r.task} | ${r["median µs"]} | ${r["calls/s"]} |`),
    "",
    ...ratios.map((line) => `- ${line}`),
    "",
  ].join("\n"),
);

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

// ---- Single-thread locks and call overhead, with tinybench ----

const piscina = new Piscina({
  filename: new URL("./apps/piscina-task.mjs", import.meta.url).href,
  minThreads: threads,
  maxThreads: threads,
});
const BATCH = 100;
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
  })
  .add("toThread(add, 1, 2): one call at a time", async () => {
    await toThread(add, 1, 2);
  })
  .add("piscina.run({ a: 1, b: 2 }): one call at a time", async () => {
    await piscina.run({ a: 1, b: 2 });
  })
  .add(`toThread: ${BATCH} calls at once`, async () => {
    await Promise.all(Array.from({ length: BATCH }, (_, i) => toThread(add, i, 2)));
  })
  .add(`piscina.run: ${BATCH} calls at once`, async () => {
    await Promise.all(Array.from({ length: BATCH }, (_, i) => piscina.run({ a: i, b: 2 })));
  });

// Both pools start their threads before anything is timed.
await Promise.all(Array.from({ length: threads * 4 }, (_, i) => toThread(add, i, 1)));
await Promise.all(Array.from({ length: threads * 4 }, (_, i) => piscina.run({ a: i, b: 1 })));
await bench.run();
await piscina.destroy();

interface Row {
  task: string;
  "median µs": number | string;
  "calls/s": number;
}
const rows: Row[] = [
  ...bench.tasks.map((task) => {
    const result = task.result as { latency?: { p50: number }; throughput?: { mean: number } };
    const batch = task.name.includes("at once") ? BATCH : 1;
    return {
      task: task.name,
      "median µs": Number(((result.latency?.p50 ?? NaN) * 1000).toFixed(2)),
      "calls/s": Math.round((result.throughput?.mean ?? NaN) * batch),
    };
  }),
  ...contendedRows.map((row) => ({ task: row.task, "median µs": "", "calls/s": row["ops/s"] })),
];
console.table(rows);

const rate = (name: string): number =>
  rows.find((row) => row.task.startsWith(name))?.["calls/s"] ?? NaN;
const ratios = [
  `toThread one at a time: ${(rate("toThread(add") / rate("piscina.run({")).toFixed(2)}× piscina's calls/s`,
  `toThread ${BATCH} at once: ${(rate("toThread: ") / rate("piscina.run: ")).toFixed(2)}× piscina's calls/s`,
];
console.log(ratios.join("\n"));

mkdirSync("bench/results", { recursive: true });
writeFileSync(
  `bench/results/${quick ? "threading-quick" : "threading"}.md`,
  [
    "# carafe/threading benchmark",
    "",
    `Measured ${new Date().toISOString().slice(0, 10)} by \`npm run bench:threading\` on ${cpus().length} × ${cpus()[0]?.model.trim() ?? "CPU"}, Node ${process.version}; ${threads} pool threads for both toThread and piscina ${Piscina.version}.`,
    "",
    "| task | median µs | calls/s |",
    "|---|---:|---:|",
    ...rows.map((r) => `| ${r.task} | ${r["median µs"]} | ${r["calls/s"]} |`),
    "",
    ...ratios.map((line) => `- ${line}`),
    "",
  ].join("\n"),
);

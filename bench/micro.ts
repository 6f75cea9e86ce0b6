// `npm run bench:micro`: the hot paths on their own, without sockets — the router, the app's
// record → record pipeline (request and response objects built and converted), and a round
// trip from the event loop to a pool thread and back. Medians, in microseconds.
//
// A round trip to a thread is measured twice: as the scheduler places the two threads, and
// with the whole process on one core (`taskset -c 0`, where it exists). Beside Carafe's
// dispatch run two floors: a bare postMessage echo, and a futex ping-pong that is only the
// kernel waking one thread and then the other. On a virtual machine, waking a thread on
// another, idle core costs tens of microseconds each way; on one core that wake is a context
// switch, and what is left is the cost of the dispatch itself.
import { spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { Bench } from "tinybench";
import { ThreadPool } from "../src/server/pool/index.ts";
import type { RequestRecord } from "../src/framework/index.ts";
import { app } from "./apps/carafe.ts";

function record(method: string, url: string, body: Uint8Array | null = null): RequestRecord {
  return {
    method,
    url,
    headers: {
      host: "127.0.0.1:8000",
      "user-agent": "bench",
      accept: "*/*",
      ...(body === null
        ? {}
        : { "content-type": "application/json", "content-length": String(body.byteLength) }),
    },
    body,
    remoteAddress: "127.0.0.1",
    scheme: "http",
  };
}

const echo = new TextEncoder().encode(
  JSON.stringify({ id: 1, tags: ["a", "b"], note: "x".repeat(900) }),
);

// Two 4 KB paths for the app's `/static/<path:filename>` rule: one of 2,044 one-letter
// segments, one of a single segment. Routing is linear in the length of the path, so the first
// costs about what the second does, not once more per segment.
const segmentedPath = `/static/${Array.from({ length: 2044 }, () => "a").join("/")}`;
const flatPath = `/static/${"a".repeat(segmentedPath.length - "/static/".length)}`;

const quick = process.argv.includes("--quick");
/** Only the round trips, printed as JSON: the run under `taskset` (see `oneCoreRows`). */
const roundTripsOnly = process.argv.includes("--round-trips");

const bench = new Bench({ time: quick ? 100 : 1000 });
/** The loop's calls for one request: `planOf`, then `handle` with the plan. */
function served(request: RequestRecord): unknown {
  return app.handle(request, app.planOf(request.method, request.url));
}

if (!roundTripsOnly) {
  bench
    .add("router: match /user/<id>", () => {
      app.urlMap.match("GET", "/user/123");
    })
    .add("router: match /static/<path:filename>, 4 KB in 2,044 segments", () => {
      app.urlMap.match("GET", segmentedPath);
    })
    .add("router: match /static/<path:filename>, 4 KB in one segment", () => {
      app.urlMap.match("GET", flatPath);
    })
    // What the http loop does per request: plan it once, then handle it with that plan. These
    // routes answer synchronously: handle returns the record itself, no promise to await.
    .add("pipeline: GET / → record", () => {
      void served(record("GET", "/"));
    })
    .add("pipeline: GET /json → record", () => {
      void served(record("GET", "/json"));
    })
    .add("pipeline: GET /user/123?x=abc → record", () => {
      void served(record("GET", "/user/123?x=abc"));
    })
    .add("pipeline: POST /echo 1 KB → record", () => {
      void served(record("POST", "/echo", echo));
    });
}

const appSpec = `${fileURLToPath(new URL("./apps/carafe.ts", import.meta.url))}:app`;
const pool = await ThreadPool.start({
  appSpec,
  size: 1,
  timeoutMs: 30_000,
  maxQueue: 1000,
  maxRequests: 0,
  maxRequestsJitter: 0,
  logger: { info() {}, warn() {}, error: (message) => console.error(message) },
});
bench.add("dispatch: loop → thread → loop, GET /", async () => {
  await pool.dispatch(record("GET", "/"));
});

// The platform's floor for the same hop: a bare worker thread that echoes each message back.
// No dispatch can be faster than this; the difference is what Carafe's pool adds.
const echoThread = new Worker(
  `require("node:worker_threads").parentPort.on("message", (m) => require("node:worker_threads").parentPort.postMessage(m));`,
  { eval: true },
);
bench.add("floor: postMessage to a bare thread and back", async () => {
  const reply = once(echoThread, "message");
  echoThread.postMessage(record("GET", "/"));
  await reply;
});

// The kernel's own floor under both: one thread wakes another with a futex (Atomics.notify) and
// sleeps (Atomics.wait) until woken back, with no event loop or message in between. Any
// dispatch that sleeps while it waits pays this pair of wake-ups.
const futex = new Int32Array(new SharedArrayBuffer(8));
const [ASLEEP, WAKE, STOP] = [0, 1, 2];
const futexThread = new Worker(
  `const futex = new Int32Array(require("node:worker_threads").workerData);
  for (;;) {
    Atomics.wait(futex, 0, ${ASLEEP});
    if (Atomics.load(futex, 0) === ${STOP}) break;
    Atomics.store(futex, 0, ${ASLEEP});
    Atomics.store(futex, 1, ${WAKE});
    Atomics.notify(futex, 1);
  }`,
  { eval: true, workerData: futex.buffer },
);
bench.add("floor: futex wake of a bare thread and back (Atomics.wait/notify)", () => {
  Atomics.store(futex, 1, ASLEEP);
  Atomics.store(futex, 0, WAKE);
  Atomics.notify(futex, 0);
  Atomics.wait(futex, 1, ASLEEP);
});

await bench.run();
await pool.close();
await echoThread.terminate();
Atomics.store(futex, 0, STOP);
Atomics.notify(futex, 0);
await once(futexThread, "exit");

interface Row {
  task: string;
  "median µs": number;
  "p99 µs": number;
  "ops/s": number;
}

const rows: Row[] = bench.tasks.map((task) => {
  const result = task.result as {
    latency?: { p50: number; p99: number };
    throughput?: { mean: number };
  };
  return {
    task: task.name,
    "median µs": Number(((result.latency?.p50 ?? NaN) * 1000).toFixed(2)),
    "p99 µs": Number(((result.latency?.p99 ?? NaN) * 1000).toFixed(2)),
    "ops/s": Math.round(result.throughput?.mean ?? NaN),
  };
});
if (roundTripsOnly) {
  process.stdout.write(JSON.stringify(rows));
  process.exit(0);
}

/** The round trips again, in a process held to one core; none where `taskset` is missing. */
function oneCoreRows(): Row[] {
  const run = spawnSync(
    "taskset",
    [
      "-c",
      "0",
      process.execPath,
      ...process.execArgv,
      fileURLToPath(import.meta.url),
      "--round-trips",
    ].concat(quick ? ["--quick"] : []),
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
  );
  if (run.status !== 0) return [];
  return (JSON.parse(run.stdout) as Row[]).map((row) => ({
    ...row,
    task: `${row.task}, on one core`,
  }));
}

rows.push(...oneCoreRows());
console.table(rows);
mkdirSync("bench/results", { recursive: true });
writeFileSync(
  `bench/results/${quick ? "micro-quick" : "micro"}.md`,
  [
    "# Carafe micro-benchmarks",
    "",
    `Measured ${new Date().toISOString().slice(0, 10)} by \`npm run bench:micro\` on ${cpus().length} × ${cpus()[0]?.model.trim() ?? "CPU"}, Node ${process.version}.`,
    "",
    "| task | median µs | p99 µs | ops/s |",
    "|---|---:|---:|---:|",
    ...rows.map((r) => `| ${r.task} | ${r["median µs"]} | ${r["p99 µs"]} | ${r["ops/s"]} |`),
    "",
  ].join("\n"),
);

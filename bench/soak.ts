// `npm run soak`: serves the soak app (bench/apps/soak.ts) with `carafe serve`, drives a steady
// mixed load at it (bench/lib/soak-load.ts) for as long as asked, samples the memory of every
// process of the server every few seconds, and reports per process where memory started, ended
// and how fast it moved, so that a leak and a warm-up that settles can be told apart.
// Writes bench/results/soak.md (the report) and bench/results/soak.csv (every sample).
//
// Design: one loop owns the run. It takes a sample, prints progress, and sleeps until the next
// sample; SIGINT/SIGTERM only set a flag that ends the sleep (a second one stops at once). The
// server runs in its own process group and the load in its own process, both stopped on the way
// out, whatever the way out is.
import { spawn, type ChildProcess } from "node:child_process";
import {
  closeSync,
  createWriteStream,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  renameSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { get, request } from "node:http";
import { createServer } from "node:net";
import { cpus, totalmem } from "node:os";
import { setTimeout as delay } from "node:timers/promises";
import { parseArgs } from "node:util";
import { buildApps, type Config } from "./lib/configs.ts";
import { onLoadCpu } from "./lib/load.ts";
import { parentOf, startServer, stopServer, treePids, type Server } from "./lib/processes.ts";
import { growth, kindsOf, total } from "./lib/heap-diff.ts";
import type { SoakLoadReport } from "./lib/soak-load.ts";
import {
  csv,
  figures,
  markdown,
  memoryTable,
  type ProcessSample,
  type Sample,
  type SnapshotComparison,
  type WorkerHeap,
} from "./lib/soak-report.ts";

const HELP = `npm run soak -- [options]

Serves bench/apps/soak.ts with \`carafe serve\`, loads it with a steady mix (event-loop routes,
thread routes, multipart/urlencoded/streamed uploads, WebSocket sessions that connect, echo and
disconnect), samples every process's RSS and every worker's heaps (main thread and pool threads),
and reports start, end and slope (MiB per 10 minutes, whole run and second half) per process.
Writes bench/results/<out>.md and <out>.csv and prints the table; the server's own output goes
to bench/results/<out>.server.log. Ctrl-C stops early and still writes the report (a second
Ctrl-C stops at once).

Options:
  --minutes N        minutes measured after the warm-up (default 30)
  --warmup S         seconds of load before the first measured sample (default 300: here
                     a worker's RSS rose for about 6 minutes before it levelled off)
  --interval S       seconds between samples (default 10)
  --workers N        carafe serve --workers (default 2)
  --threads N        carafe serve --threads (default 2)
  --max-requests N   carafe serve --max-requests (default 0: processes and threads never recycle)
  --port P           port on 127.0.0.1 (default 8751)
  --loop N           connections on event-loop routes (default 16)
  --thread N         connections on thread routes (default 4)
  --upload N         connections posting bodies under 1 MiB (default 2)
  --ws N             WebSocket clients, each connecting, echoing and closing in turn (default 4)
  --source           serve the TypeScript sources through tsx (adds tsx's loader to every
                     process and thread) instead of compiling dist/ and bench/.build/ first
  --snapshots        heap snapshot of every process's main thread (the supervisor's through
                     --heapsnapshot-signal) at the end of the warm-up and at the end,
                     in bench/results/soak-snapshots/, and the kinds of object that grew in the
                     report (writing a snapshot takes memory itself: use it to see what grows,
                     not for the RSS figures)
  --out NAME         results as bench/results/NAME.md and NAME.csv (default soak)
  -h, --help         this text

The server's environment is this one's: \`MALLOC_ARENA_MAX=2 npm run soak\` runs the server with
glibc's arenas capped (recorded in the report).`;

function fail(message: string): never {
  console.error(`soak: ${message}\n(npm run soak -- --help lists the options)`);
  process.exit(2);
}

const OPTIONS = {
  minutes: { type: "string", default: "30" },
  warmup: { type: "string", default: "300" },
  interval: { type: "string", default: "10" },
  workers: { type: "string", default: "2" },
  threads: { type: "string", default: "2" },
  "max-requests": { type: "string", default: "0" },
  port: { type: "string", default: "8751" },
  loop: { type: "string", default: "16" },
  thread: { type: "string", default: "4" },
  upload: { type: "string", default: "2" },
  ws: { type: "string", default: "4" },
  source: { type: "boolean", default: false },
  snapshots: { type: "boolean", default: false },
  out: { type: "string", default: "soak" },
  help: { type: "boolean", short: "h", default: false },
} as const;

function parseOptions(): ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>["values"] {
  try {
    return parseArgs({ options: OPTIONS }).values;
  } catch (error) {
    fail((error as Error).message);
  }
}
const values = parseOptions();
if (values.help) {
  console.log(HELP);
  process.exit(0);
}

function number(name: keyof typeof values, least: number): number {
  const text = String(values[name]);
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value < least) {
    fail(`--${name} must be a number ≥ ${least}, got ${JSON.stringify(text)}`);
  }
  return value;
}

const minutes = number("minutes", 0.1);
const warmupS = number("warmup", 0);
const intervalS = number("interval", 1);
const workers = number("workers", 1);
const threads = number("threads", 0);
const maxRequests = number("max-requests", 0);
const port = number("port", 1);
const load = {
  loop: number("loop", 0),
  thread: number("thread", 0),
  upload: number("upload", 0),
  ws: number("ws", 0),
};
if (!/^[\w.-]+$/.test(values.out))
  fail(`--out is a file name without a directory, got ${values.out}`);
if (minutes * 60 < 3 * intervalS) fail("--minutes must cover at least 3 samples (--interval)");

const RESULTS = "bench/results";
/** How many of the server's last lines the report shows. */
const SERVER_LINES_SHOWN = 12;
const SNAPSHOTS = `${RESULTS}/soak-snapshots`;
const serveArgs = [
  "--workers",
  String(workers),
  "--threads",
  String(threads),
  "--max-requests",
  String(maxRequests),
];
const config: Config = {
  key: "soak",
  kind: "http",
  label: "carafe serve (soak)",
  carafe: true,
  command: process.execPath,
  args: (p) => [
    ...(values.source ? ["--conditions=carafe-source"] : []),
    "bin/carafe.js",
    "serve",
    values.source ? "bench/apps/soak.ts:app" : "bench/.build/soak.js:app",
    "--bind",
    `127.0.0.1:${p}`,
    ...serveArgs,
  ],
  env: (): Record<string, string> =>
    values.snapshots
      ? {
          SOAK_SNAPSHOT_DIR: SNAPSHOTS,
          // The supervisor serves no route: it writes its snapshot when sent SIGUSR2.
          NODE_OPTIONS:
            `${process.env["NODE_OPTIONS"] ?? ""} --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${SNAPSHOTS}`.trim(),
        }
      : {},
};

// ---- the processes, and stopping them whatever happens

let server: Server | null = null;
let loader: ChildProcess | null = null;
const stop = new AbortController();

function killEverything(): void {
  const pid = server?.child.pid;
  if (pid !== undefined && server?.child.exitCode === null && server.child.signalCode === null) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  if (loader !== null && loader.exitCode === null) loader.kill("SIGKILL");
}

process.on("exit", killEverything);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (!stop.signal.aborted) {
      console.log(
        `\nsoak: ${signal}: stopping early; the report follows (${signal} again stops at once)`,
      );
      stop.abort();
      return;
    }
    killEverything();
    process.exit(130);
  });
}

function portIsFree(p: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen(p, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}

/** The load process, and its latest report. */
function startLoad(): {
  child: ChildProcess;
  latest: () => SoakLoadReport | null;
  output: () => string;
} {
  const flags = Object.entries({ url: `http://127.0.0.1:${port}`, ...load }).flatMap(([k, v]) => [
    `--${k}`,
    String(v),
  ]);
  const [command, args] = onLoadCpu(process.execPath, [
    "--import",
    "tsx",
    "bench/lib/soak-load.ts",
    ...flags,
  ]);
  // Its own process group: a Ctrl-C in the terminal reaches this process only, which then ends
  // the load in order (closing its stdin) and still counts what was in flight.
  const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"], detached: true });
  let latest: SoakLoadReport | null = null;
  let pending = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) if (line.trim() !== "") latest = JSON.parse(line) as SoakLoadReport;
  });
  child.stderr?.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  return { child, latest: () => latest, output: () => stderr };
}

// ---- sampling

const roles = new Map<number, string>();
let workersSeen = 0;
const notes: string[] = [];
/** Errors of the server seen by the sampler (a worker replaced), next to the load's own. */
const serverErrors: Record<string, number> = {};
const unreached = new Map<string, number>();

function statusBytes(pid: number): { rss: number; rssAnon: number; rssFile: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kib = (field: string): number =>
      Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0) * 1024;
    return { rss: kib("VmRSS"), rssAnon: kib("RssAnon"), rssFile: kib("RssFile") };
  } catch {
    return null; // it exited between listing and reading
  }
}

function getJson(path: string, method = "GET"): Promise<Record<string, unknown> | null> {
  return new Promise((resolve) => {
    // A connection of its own each time: with several workers each new connection goes to the
    // next one, so a few requests reach them all.
    const req = (method === "GET" ? get : request)(
      { host: "127.0.0.1", port, path, method, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          try {
            resolve(
              res.statusCode === 200
                ? (JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>)
                : null,
            );
          } catch {
            resolve(null);
          }
        });
      },
    );
    req.setTimeout(60_000, () => req.destroy());
    req.on("error", () => resolve(null));
    if (method !== "GET") req.end();
  });
}

/** Asks `path` of fresh connections until each of `pids` answered (or enough tries failed). */
async function askEachWorker(
  pids: number[],
  path: string,
  method = "GET",
): Promise<Map<number, Record<string, unknown>>> {
  const answers = new Map<number, Record<string, unknown>>();
  for (let i = 0; i < 12 * pids.length && answers.size < pids.length; i++) {
    const answer = await getJson(path, method);
    const pid = Number(answer?.pid);
    if (answer !== null && pids.includes(pid) && !answers.has(pid)) answers.set(pid, answer);
  }
  return answers;
}

const NODE = realpathSync(process.execPath);

function runsNode(pid: number): boolean {
  try {
    return readlinkSync(`/proc/${pid}/exe`) === NODE;
  } catch {
    return false; // gone, or not ours to read
  }
}

/** The supervisor's children that run Node: its workers (not tsx's esbuild, under --source). */
function workerPids(root: number): number[] {
  return treePids(root)
    .filter((pid) => pid !== root && parentOf(pid) === root && runsNode(pid))
    .sort((a, b) => a - b);
}

function roleOf(pid: number, root: number, at: string): string {
  let role = roles.get(pid);
  if (role !== undefined) return role;
  if (pid === root) role = "supervisor";
  else {
    workersSeen += 1;
    role = `worker ${workersSeen}`;
    if (workersSeen > workers) {
      notes.push(`${role} (pid ${pid}) appeared at ${at}: a worker process was replaced`);
      if (maxRequests === 0)
        serverErrors["server: a worker process was replaced"] =
          (serverErrors["server: a worker process was replaced"] ?? 0) + 1;
    }
  }
  roles.set(pid, role);
  return role;
}

const clock = (seconds: number): string =>
  `${String(Math.floor(seconds / 60)).padStart(2, "0")}:${String(Math.floor(seconds % 60)).padStart(2, "0")}`;

async function sample(
  root: number,
  elapsedS: number,
  measured: boolean,
  report: SoakLoadReport | null,
): Promise<Sample> {
  const pids = workerPids(root);
  const heaps = await askEachWorker(pids, "/_soak/memory");
  const processes: ProcessSample[] = [];
  for (const pid of [root, ...pids]) {
    const bytes = statusBytes(pid);
    if (bytes === null) continue;
    const role = roleOf(pid, root, clock(elapsedS));
    const answer = heaps.get(pid);
    const p: ProcessSample = { role, pid, ...bytes };
    if (answer !== undefined) {
      const main = answer.main as Record<string, number>;
      p.heap = {
        heapUsed: main.heapUsed ?? 0,
        heapTotal: main.heapTotal ?? 0,
        external: main.external ?? 0,
        arrayBuffers: main.arrayBuffers ?? 0,
        malloced: main.malloced ?? 0,
        newSpace: main.newSpace ?? 0,
        nativeContexts: main.nativeContexts ?? 0,
        detachedContexts: main.detachedContexts ?? 0,
        threads: answer.threads as WorkerHeap["threads"],
      };
    } else if (pid !== root && measured) {
      unreached.set(role, (unreached.get(role) ?? 0) + 1);
    }
    processes.push(p);
  }
  const errors =
    Object.values(report?.errors ?? {}).reduce((a, b) => a + b, 0) +
    Object.values(serverErrors).reduce((a, b) => a + b, 0);
  const requests = Object.values(report?.requests ?? {}).reduce((a, b) => a + b, 0);
  return { elapsedS, measured, processes, requests, errors };
}

function progress(s: Sample, previous: Sample | null): string {
  const rate =
    previous === null
      ? ""
      : ` ${((s.requests - previous.requests) / (s.elapsedS - previous.elapsedS)).toFixed(0)}/s`;
  const memory = s.processes
    .map((p) => {
      const heap =
        p.heap === undefined
          ? ""
          : ` heap ${(p.heap.heapUsed / 2 ** 20).toFixed(0)}+${(p.heap.threads.reduce((t, x) => t + x.heapUsed, 0) / 2 ** 20).toFixed(0)}`;
      return `${p.role.replace("worker ", "w").replace("supervisor", "sup")} ${(p.rss / 2 ** 20).toFixed(0)}${heap}`;
    })
    .join(" · ");
  return `${clock(s.elapsedS)} ${s.measured ? "    " : "warm"} answers ${s.requests}${rate} errors ${s.errors} │ MiB RSS: ${memory}`;
}

/** The last few bytes of a file of `size` bytes, as text. */
function lastBytes(path: string, size: number): string {
  const fd = openSync(path, "r");
  try {
    const tail = Buffer.alloc(Math.min(16, size));
    readSync(fd, tail, 0, tail.length, size - tail.length);
    return tail.toString("latin1");
  } finally {
    closeSync(fd);
  }
}

/**
 * A heap snapshot of the supervisor, through --heapsnapshot-signal: its file once written in
 * full (a snapshot's JSON ends with `}`, and its size stops changing), or `null` after a minute.
 */
async function signalSnapshot(pid: number, label: string): Promise<string | null> {
  const before = new Set(readdirSync(SNAPSHOTS));
  process.kill(pid, "SIGUSR2");
  let size = -1;
  for (let waited = 0; waited < 60_000; waited += 250) {
    await delay(250);
    const name = readdirSync(SNAPSHOTS).find(
      (n) => !before.has(n) && n.includes(`.${pid}.`) && n.endsWith(".heapsnapshot"),
    );
    if (name === undefined) continue;
    const path = `${SNAPSHOTS}/${name}`;
    const now = statSync(path).size;
    if (now === size && now > 0 && lastBytes(path, now).trimEnd().endsWith("}")) {
      const named = `${SNAPSHOTS}/supervisor-${pid}-${label}.heapsnapshot`;
      renameSync(path, named);
      return named;
    }
    size = now;
  }
  return null;
}

/** A heap snapshot of every process's main thread: its file, by pid. */
async function snapshots(root: number, label: string): Promise<Map<number, string>> {
  const pids = workerPids(root);
  const taken = await askEachWorker(pids, `/_soak/snapshot?label=${label}`, "POST");
  const paths = new Map<number, string>();
  const supervisor = await signalSnapshot(root, label);
  if (supervisor !== null) paths.set(root, supervisor);
  for (const pid of pids) {
    const path = taken.get(pid)?.path;
    if (typeof path === "string") paths.set(pid, path);
  }
  for (const pid of [root, ...pids]) {
    const path = paths.get(pid);
    console.log(
      path === undefined ? `soak: no ${label} snapshot of pid ${pid}` : `soak: wrote ${path}`,
    );
  }
  return paths;
}

/** What grew between each process's two snapshots. */
function compareSnapshots(
  start: Map<number, string>,
  end: Map<number, string>,
): SnapshotComparison[] {
  const comparisons: SnapshotComparison[] = [];
  for (const [pid, before] of start) {
    const after = end.get(pid);
    if (after === undefined) continue;
    const kindsBefore = kindsOf(before);
    const kindsAfter = kindsOf(after);
    comparisons.push({
      role: roles.get(pid) ?? `pid ${pid}`,
      pid,
      before,
      after,
      totalBefore: total(kindsBefore),
      totalAfter: total(kindsAfter),
      growth: growth(kindsBefore, kindsAfter),
    });
  }
  return comparisons;
}

// ---- the run

async function main(): Promise<number> {
  if (!(await portIsFree(port)))
    fail(`port ${port} on 127.0.0.1 is in use (another soak or server?): pass --port`);
  mkdirSync(values.snapshots ? SNAPSHOTS : RESULTS, { recursive: true });
  if (!values.source) {
    console.log("soak: compiling dist/ and bench/.build/ (--source serves the TypeScript instead)");
    try {
      buildApps();
    } catch {
      fail("the build failed (the compiler's errors are above): fix them, or run with --source");
    }
  }
  server = await startServer(config, port);
  const root = server.child.pid as number;
  const logPath = `${RESULTS}/${values.out}.server.log`;
  const log = createWriteStream(logPath);
  log.write(server.output());
  let logLines = server.output().split("\n").length - 1;
  const tail: string[] = server.output().split("\n").slice(0, -1).slice(-SERVER_LINES_SHOWN);
  for (const stream of [server.child.stdout, server.child.stderr]) {
    stream?.on("data", (chunk: Buffer) => {
      log.write(chunk);
      const lines = chunk.toString().split("\n").slice(0, -1);
      logLines += lines.length;
      tail.push(...lines);
      tail.splice(0, Math.max(0, tail.length - SERVER_LINES_SHOWN));
    });
  }
  console.log(
    `soak: serving on 127.0.0.1:${port}, supervisor pid ${root} (should this tool be killed hard, stop the server with kill -- -${root})`,
  );
  const loadProcess = startLoad();
  loader = loadProcess.child;
  const started = performance.now();
  const elapsed = (): number => (performance.now() - started) / 1000;
  const plannedS = minutes * 60;
  const endS = warmupS + plannedS;
  console.log(
    `soak: ${warmupS} s of warm-up, then ${minutes} min measured, a sample every ${intervalS} s (ends at ${clock(endS)})`,
  );

  const samples: Sample[] = [];
  let printed: Sample | null = null;
  let failure: string | null = null;
  let startSnapshots: Map<number, string> | null = null;
  for (let next = 0; next <= endS + 1e-9 && !stop.signal.aborted; next += intervalS) {
    try {
      await delay(Math.max(0, started + next * 1000 - performance.now()), undefined, {
        signal: stop.signal,
      });
    } catch {
      break; // stopped early
    }
    if (server.child.exitCode !== null || server.child.signalCode !== null) {
      failure = `the server exited (${server.child.exitCode ?? server.child.signalCode}):\n${server.output()}`;
      break;
    }
    if (loader.exitCode !== null) {
      failure = `the load process exited (${loader.exitCode}):\n${loadProcess.output()}`;
      break;
    }
    const measured = next >= warmupS;
    // The last sample of the warm-up, so the first measured one is an interval later.
    if (next + intervalS >= warmupS && values.snapshots && startSnapshots === null) {
      startSnapshots = await snapshots(root, "start");
    }
    const s = await sample(root, elapsed(), measured, loadProcess.latest());
    samples.push(s);
    // Rewritten at every sample, so a run that dies still leaves what it saw.
    writeFileSync(`${RESULTS}/${values.out}.csv`, csv(samples));
    // A line a minute (every sample when they are further apart), and the first measured one.
    const firstMeasured = measured && samples.filter((x) => x.measured).length === 1;
    if (printed === null || s.elapsedS - printed.elapsedS >= 59.5 || firstMeasured) {
      console.log(progress(s, printed));
      printed = s;
    }
  }
  const measuredS = Math.max(0, (samples.at(-1)?.elapsedS ?? 0) - warmupS);
  const endSnapshots =
    startSnapshots !== null && failure === null ? await snapshots(root, "end") : null;

  // Stop the load first (closing its stdin), so that its last report counts what was in flight.
  if (loader.exitCode === null) {
    const exited = new Promise((resolve) => loader?.once("exit", resolve));
    loader.stdin?.end();
    await Promise.race([exited, delay(20_000)]);
  }
  const report = loadProcess.latest();
  await stopServer(server);

  if (failure !== null) console.error(`soak: ${failure}`);
  if (samples.filter((s) => s.measured).length < 3 || report === null) {
    console.error(
      "soak: fewer than 3 samples after the warm-up: nothing to report (run longer, or shorten --warmup)",
    );
    return 1;
  }
  for (const [role, n] of unreached)
    notes.push(`${role}: ${n} sample(s) without its heap (the memory route did not reach it)`);
  if (failure !== null) notes.push(`the run ended early: ${failure.split("\n")[0]}`);
  for (const [atS, ms] of report.stalls ?? []) {
    notes.push(
      `the load client's own event loop stood still for ${(ms / 1000).toFixed(1)} s at ${clock(atS)} (the machine was busy elsewhere; connections idle longer than the server's 2 s keep-alive are closed by it, so requests sent on them then fail with ECONNRESET)`,
    );
  }
  log.end();
  const loadReport: SoakLoadReport = { ...report, errors: { ...report.errors, ...serverErrors } };
  const env = Object.fromEntries(
    ["MALLOC_ARENA_MAX", "MALLOC_TRIM_THRESHOLD_", "NODE_OPTIONS", "UV_THREADPOOL_SIZE"]
      .filter((k) => process.env[k] !== undefined)
      .map((k) => [k, process.env[k] as string]),
  );
  const text = markdown(
    {
      date: new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC",
      command: `npm run soak -- ${process.argv.slice(2).join(" ")}`.trim(),
      serveArgs,
      machine: `${cpus().length} CPUs (${cpus()[0]?.model.trim() ?? "unknown"}), ${Math.round(totalmem() / 2 ** 30)} GiB`,
      node: process.version,
      env,
      load,
      warmupS,
      intervalS,
      plannedS,
      measuredS,
      stoppedEarly: stop.signal.aborted || failure !== null,
      loadReport,
      notes,
      server: { log: logPath, lines: logLines, tail },
      snapshots:
        startSnapshots !== null && endSnapshots !== null
          ? compareSnapshots(startSnapshots, endSnapshots)
          : [],
    },
    samples,
  );
  writeFileSync(`${RESULTS}/${values.out}.md`, text);
  writeFileSync(`${RESULTS}/${values.out}.csv`, csv(samples));
  console.log(`\n${memoryTable(figures(samples))}\n`);
  const errors = Object.entries(loadReport.errors);
  console.log(
    errors.length === 0
      ? "errors: none"
      : `errors:\n${errors.map(([k, n]) => `  ${n} × ${k}`).join("\n")}`,
  );
  console.log(`soak: wrote ${RESULTS}/${values.out}.md and ${RESULTS}/${values.out}.csv`);
  return failure !== null ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`soak: ${error instanceof Error ? error.message : String(error)}`);
    killEverything();
    process.exit(1);
  },
);

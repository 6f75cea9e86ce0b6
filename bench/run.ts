// `npm run bench`: every configuration of bench/lib/configs.ts under every scenario of
// bench/lib/scenarios.ts of its kind (HTTP servers under S1…S7, WebSocket servers under W1…W3),
// in interleaved rounds; writes bench/results/latest.{md,svg,json}.
//
//   npm run bench                      3 rounds of 5 s per scenario (≈ 37 minutes)
//   npm run bench -- --quick           1 short round, a smoke check (writes quick.*)
//   npm run bench -- --report          the tables and chart again from results/latest.json
//   npm run bench -- --rounds 5 --seconds 8 --only carafe-loop,fastify,node-http --scenarios S1,S3
//   npm run bench -- --quick --scenarios W1,W2,W3   the WebSocket servers only
//   npm run bench -- --node /path/to/node   the servers (and the micro-benchmarks) on that Node
//
// A whole run (no --only or --scenarios) ends with the micro-benchmarks: bench:micro and
// bench:threading, quick when the run is.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, release, totalmem } from "node:os";
import { delimiter, dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { setTimeout as delay } from "node:timers/promises";
import { chart } from "./lib/chart.ts";
import type { Config } from "./lib/configs.ts";
import {
  LOAD_CPU,
  loadTool,
  runLoad,
  runSocketLoad,
  type LoadResult,
  type LoadTool,
  type SocketLoadResult,
} from "./lib/load.ts";
import {
  answers,
  settle,
  startServer,
  stopServer,
  treeCpuMs,
  treeRssMiB,
  type Server,
} from "./lib/processes.ts";
import { markdown, targets } from "./lib/report.ts";
import type { Results } from "./lib/results.ts";
import {
  SCENARIOS,
  SOCKET_SCENARIOS,
  type Scenario,
  type SocketScenario,
} from "./lib/scenarios.ts";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    rounds: { type: "string" },
    seconds: { type: "string" },
    only: { type: "string" },
    scenarios: { type: "string" },
    report: { type: "boolean", default: false },
    node: { type: "string" },
  },
});

function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) {
    console.error(`--${name} must be a positive whole number, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return value;
}

if (values.report) {
  // Renders the tables and the chart again from the last run's raw figures.
  const results = JSON.parse(readFileSync("bench/results/latest.json", "utf8")) as Results;
  writeFileSync("bench/results/latest.md", markdown(results));
  writeFileSync("bench/results/latest.svg", chart(results));
  console.log(markdown(results));
  process.exit(0);
}

/**
 * The version of the Node the servers run on: `--node PATH`, else CARAFE_BENCH_NODE, else this
 * process's own. Set in the environment before lib/configs.ts loads, since its configurations
 * name that Node.
 */
function chooseServerNode(): string {
  const given = values.node ?? process.env.CARAFE_BENCH_NODE;
  if (given === undefined || given === "") return process.version;
  const path = resolve(given);
  try {
    const version = execFileSync(path, ["--version"], { encoding: "utf8" }).trim();
    process.env.CARAFE_BENCH_NODE = path;
    return version;
  } catch (error) {
    const from = values.node === undefined ? "CARAFE_BENCH_NODE" : "--node";
    console.error(
      `${from}: cannot run ${JSON.stringify(given)} as Node: ${(error as Error).message}`,
    );
    process.exit(2);
  }
}
const serverVersion = chooseServerNode();
const { CONFIGS, buildApps, serverNode } = await import("./lib/configs.ts");
if (serverNode !== process.execPath) {
  console.log(`The servers run on Node ${serverVersion} (${serverNode}).`);
}

const quick = values.quick ?? false;
const rounds = positive("rounds", values.rounds, quick ? 1 : 3);
const seconds = positive("seconds", values.seconds, quick ? 1 : 5);
const only = values.only?.split(",").map((key) => key.trim());
const unknown = only?.filter((key) => !CONFIGS.some((c) => c.key === key)) ?? [];
if (unknown.length > 0) {
  console.error(
    `--only: unknown configuration(s) ${unknown.join(", ")}; known: ${CONFIGS.map((c) => c.key).join(", ")}`,
  );
  process.exit(2);
}

const pickedScenarios = values.scenarios?.split(",").map((key) => key.trim().toUpperCase());
const picked = (s: { key: string }): boolean =>
  pickedScenarios === undefined || pickedScenarios.includes(s.key);
const named = CONFIGS.filter((c) => only === undefined || only.includes(c.key));
// Each server runs the scenarios of its kind; a kind without a server runs none, and a server
// without a scenario of its kind does not start.
const scenarios = named.some((c) => c.kind === "http") ? SCENARIOS.filter(picked) : [];
const socketScenarios = named.some((c) => c.kind === "websocket")
  ? SOCKET_SCENARIOS.filter(picked)
  : [];
if (scenarios.length === 0 && socketScenarios.length === 0) {
  console.error(
    `--scenarios: none of ${values.scenarios} is one of ${[...SCENARIOS, ...SOCKET_SCENARIOS].map((s) => s.key).join(", ")} for the configurations chosen`,
  );
  process.exit(2);
}
const chosen = named.filter((c) =>
  c.kind === "http" ? scenarios.length > 0 : socketScenarios.length > 0,
);

const missing = new Map(chosen.map((c) => [c.key, c.missing?.() ?? null]));
buildApps();
const tool = loadTool();
if (tool === "autocannon") {
  console.log("wrk is not installed (apt-get install wrk): loading with autocannon instead.");
}

const results: Results = {
  date: new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC",
  machine: {
    cpus: cpus().length,
    model: cpus()[0]?.model.trim() ?? "unknown CPU",
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: serverVersion,
    os: `Linux ${release()}`,
  },
  tool: tool === "wrk" ? "wrk -t1" : "autocannon",
  loadCpu: LOAD_CPU,
  rounds,
  seconds,
  configs: chosen.map((c) => ({
    key: c.key,
    label: c.label,
    carafe: c.carafe,
    missing: missing.get(c.key) ?? null,
  })),
  scenarios: scenarios.map((s) => ({
    key: s.key,
    title: s.title,
    connections: s.connections,
    ...(s.background
      ? { background: `${s.background.path} at ${s.background.connections} connections` }
      : {}),
  })),
  socketScenarios: socketScenarios.map((s) => ({
    key: s.key,
    title: s.title,
    mode: s.mode,
    clients: s.clients,
  })),
  measurements: [],
  processes: [],
};

/** Seconds of load each WebSocket scenario runs before it measures (its warm-up). */
const SOCKET_WARMUP_SECONDS = 1;

/**
 * How many slices a scenario's seconds are cut into: for a sliced one (S1–S4), a second each, so
 * that a slice of every server runs within a few seconds of the others'. The rest run whole:
 * their latencies take seconds to show (S6's queue), or each run has its own warm-up.
 */
function slicesOf(scenario: Scenario | SocketScenario): number {
  return "sliced" in scenario && scenario.sliced === true ? seconds : 1;
}

async function measure(
  tool: LoadTool,
  server: Server,
  scenario: Scenario | SocketScenario,
  seconds: number,
): Promise<LoadResult | SocketLoadResult> {
  if ("mode" in scenario) {
    return runSocketLoad({
      mode: scenario.mode,
      url: `ws://127.0.0.1:${server.port}${scenario.path}`,
      clients: scenario.clients,
      seconds,
      warmupSeconds: SOCKET_WARMUP_SECONDS,
    });
  }
  const url = (path: string): string => `http://127.0.0.1:${server.port}${path}`;
  const main = {
    url: url(scenario.path),
    method: scenario.method,
    connections: scenario.connections,
    seconds,
  };
  if (scenario.background === undefined) return runLoad(tool, main);
  // The background load starts first and outlasts the measurement on both sides.
  const lead = 1;
  const background = runLoad(tool, {
    url: url(scenario.background.path),
    method: "GET",
    connections: scenario.background.connections,
    seconds: seconds + 2 * lead,
  });
  await delay(lead * 1000);
  const result = await runLoad(tool, main);
  await background;
  return result;
}

/**
 * Every route once (so each server has compiled and initialised all of them, Carafe's async
 * context included), then a second of load on GET /. HTTP servers only: each WebSocket
 * scenario warms up in its own run.
 */
async function warmUp(port: number): Promise<void> {
  for (const scenario of [...SCENARIOS, { method: "GET", path: "/cpu" }]) {
    await answers(port, scenario.path, scenario.method);
  }
  await runLoad(tool, {
    url: `http://127.0.0.1:${port}/`,
    method: "GET",
    connections: 50,
    seconds: 1,
  });
}

/** The console's line for one measurement. */
function summary(config: Config, result: LoadResult | SocketLoadResult): string {
  const rate =
    "requestsPerSecond" in result
      ? `${result.requestsPerSecond.toFixed(0).padStart(7)} req/s`
      : `${result.messagesPerSecond.toFixed(0).padStart(7)} msg/s`;
  let line = `${config.label.padEnd(32)} ${rate}  p50 ${result.p50.toFixed(2)} ms  p99 ${result.p99.toFixed(2)} ms`;
  if (result.errors > 0) line += `  ${result.errors} errors`;
  if ("socketsPerProcess" in result && result.socketsPerProcess.length > 0) {
    line += `  sockets per process ${result.socketsPerProcess.join(" + ")}`;
    if (result.socketsPerProcess.length < (config.workers ?? 1)) {
      line += ` — NOT spread over all ${config.workers} workers`;
    }
  }
  return line;
}

/** A server up for a round: its highest tree RSS is sampled while it is under load. */
interface Running {
  config: Config;
  server: Server;
  pid: number;
  idleMiB: number;
  loadMiB: number;
}

/** Starts `config` on `port`, reads its idle memory and warms it up. */
async function bringUp(config: Config, port: number): Promise<Running> {
  const server = await startServer(config, port);
  const pid = server.child.pid as number;
  const running = { config, server, pid, idleMiB: 0, loadMiB: 0 };
  try {
    await delay(1000); // let start-up garbage settle before reading idle memory
    running.idleMiB = running.loadMiB = treeRssMiB(pid);
    if (config.kind === "http") await warmUp(port);
  } catch (error) {
    await stopServer(server);
    throw error;
  }
  return running;
}

/** One slice of a scenario on one running server: its load, memory and CPU. */
async function measureOne(
  running: Running,
  scenario: Scenario | SocketScenario,
  round: number,
  slice: number,
): Promise<void> {
  const length = seconds / slicesOf(scenario);
  const { config, server, pid } = running;
  const sample = (): void => void (running.loadMiB = Math.max(running.loadMiB, treeRssMiB(pid)));
  const sampler = setInterval(sample, 500);
  const cpuBefore = treeCpuMs(pid);
  let result: LoadResult | SocketLoadResult;
  try {
    result = await measure(tool, server, scenario, length);
  } finally {
    clearInterval(sampler);
  }
  const cpuMs = treeCpuMs(pid) - cpuBefore;
  // Requests wrk left behind (a queue of /block calls) must not spill into the next one.
  await settle(server.port);
  results.measurements.push({
    round,
    slice,
    seconds: length,
    config: config.key,
    scenario: scenario.key,
    result,
    cpuMs,
  });
  const part = slicesOf(scenario) > 1 ? `.${slice + 1}` : "";
  console.log(`  ${scenario.key}${part} ${summary(config, result)}`);
}

/**
 * One round of the servers of one kind: all of them up at once, then each slice of each
 * scenario on each server in turn (S1's first second on A B C …, its second on A B C …, then
 * S2), so that the seconds in which the machine runs slow touch every server's figures alike.
 * The order of the servers turns by one each round, so none is always measured first.
 */
async function runRound(round: number, configs: Config[], list: (Scenario | SocketScenario)[]) {
  const up: Running[] = [];
  try {
    for (const config of configs) {
      up.push(await bringUp(config, 19100 + runnable.indexOf(config)));
    }
    const order = up.map((_, i) => up[(i + round) % up.length] as Running);
    for (const scenario of list) {
      for (let slice = 0; slice < slicesOf(scenario); slice++) {
        for (const running of order) {
          await measureOne(running, scenario, round, slice);
          writeJson();
        }
      }
    }
    for (const { config, server, idleMiB, loadMiB } of up) {
      results.processes.push({
        round,
        config: config.key,
        readyMs: server.readyMs,
        idleMiB,
        loadMiB,
      });
    }
  } finally {
    for (const { server } of up) await stopServer(server);
  }
}

const name = quick ? "quick" : "latest";
/** Saved after every measurement, so a run cut short keeps what it measured. */
function writeJson(): void {
  mkdirSync("bench/results", { recursive: true });
  writeFileSync(`bench/results/${name}.json`, JSON.stringify(results, null, 1) + "\n");
}

const runnable = chosen.filter((c) => missing.get(c.key) === null);
for (const c of chosen) {
  if (missing.get(c.key) !== null) console.log(`${c.label}: absent — ${missing.get(c.key)}`);
}
for (let round = 0; round < rounds; round++) {
  console.log(`Round ${round + 1} of ${rounds}`);
  const http = runnable.filter((c) => c.kind === "http");
  const sockets = runnable.filter((c) => c.kind === "websocket");
  if (http.length > 0) await runRound(round, http, scenarios);
  if (sockets.length > 0) await runRound(round, sockets, socketScenarios);
}

writeJson();
writeFileSync(`bench/results/${name}.md`, markdown(results));
writeFileSync(`bench/results/${name}.svg`, chart(results));
console.log("\n" + markdown(results));
console.log(`Wrote bench/results/${name}.md, ${name}.svg and ${name}.json.`);
const missed = targets(results).filter((t) => !t.met);
if (missed.length > 0 && !quick) console.log(`${missed.length} target(s) missed.`);

if (only === undefined && values.scenarios === undefined) {
  for (const script of ["bench:micro", "bench:threading"]) {
    console.log(`\n${script}`);
    // npm's scripts run the first `node` on PATH: the servers' Node, so that the figures of a
    // run all come from one Node.
    const run = spawnSync("npm", ["run", "--silent", script, ...(quick ? ["--", "--quick"] : [])], {
      stdio: "inherit",
      env: { ...process.env, PATH: `${dirname(serverNode)}${delimiter}${process.env.PATH ?? ""}` },
    });
    if (run.status !== 0) process.exit(run.status ?? 1);
  }
}

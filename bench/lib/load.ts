// Load generators: Debian's `wrk -t1` when installed, `autocannon` (a devDependency) otherwise;
// for WebSockets, bench/lib/ws-load.ts. Each runs as its own process, so the load never shares
// the measured server's event loop.
import { execFile, execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ECHO_BODY } from "./scenarios.ts";

const run = promisify(execFile);

export interface LoadResult {
  requestsPerSecond: number;
  /** Latency percentiles in milliseconds. */
  p50: number;
  p99: number;
  /** Answers that were not 2xx/3xx, plus socket errors and timeouts. */
  errors: number;
}

export interface LoadSpec {
  url: string;
  method: "GET" | "POST";
  connections: number;
  seconds: number;
}

/** What bench/lib/ws-load.ts prints: one line of JSON. */
export interface SocketLoadResult {
  /** Echo: round trips per second; broadcast: messages received per second; all clients summed. */
  messagesPerSecond: number;
  /** Milliseconds: an echo's round trip, or a broadcast from publish to receipt. */
  p50: number;
  p99: number;
  /** Socket errors, unexpected closes, wrong echoes and broadcasts never received. */
  errors: number;
  /** How many clients each server process holds, most first (broadcast only: from the hello). */
  socketsPerProcess: number[];
}

export interface SocketLoadSpec {
  mode: "echo" | "broadcast";
  url: string;
  clients: number;
  seconds: number;
  /** Seconds of the same load before the measurement starts. */
  warmupSeconds: number;
}

export type LoadTool = "wrk" | "autocannon";

/**
 * The CPU every load generator is pinned to (the machine's last), or `null` when `taskset` is
 * missing or there is one CPU. Left to the scheduler, the generator and a one-process server
 * swap cores and now and then share one: on a 2-core machine that alone moved req/s by up to 2×
 * from one second to the next. Servers are never pinned; a server with more than one busy
 * process or thread still spreads over every core, as it would in production.
 */
export const LOAD_CPU: number | null = ((): number | null => {
  const cpus = availableParallelism();
  if (cpus < 2) return null;
  try {
    execFileSync("taskset", ["-c", String(cpus - 1), "true"], { stdio: "ignore" });
    return cpus - 1;
  } catch {
    return null;
  }
})();

/** `command args…`, run on `LOAD_CPU` when there is one. */
export function onLoadCpu(command: string, args: string[]): [string, string[]] {
  return LOAD_CPU === null
    ? [command, args]
    : ["taskset", ["-c", String(LOAD_CPU), command, ...args]];
}

export function loadTool(): LoadTool {
  try {
    execFileSync("wrk", ["--version"], { stdio: "ignore" });
    return "wrk";
  } catch (error) {
    // `wrk --version` prints its banner and exits 1; only a missing binary is absence.
    return (error as NodeJS.ErrnoException).code === "ENOENT" ? "autocannon" : "wrk";
  }
}

let postScript: string | undefined;

function wrkPostScript(): string {
  if (postScript !== undefined) return postScript;
  postScript = join(tmpdir(), `carafe-bench-post-${process.pid}.lua`);
  writeFileSync(
    postScript,
    `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = ${JSON.stringify(ECHO_BODY)}\n`,
  );
  return postScript;
}

const UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function wrkMillis(text: string, percentile: string): number {
  const match = new RegExp(`^\\s*${percentile}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, "m").exec(text);
  if (match === null) return Number.NaN;
  return Number(match[1]) * (UNITS[match[2] as string] as number);
}

function wrkCount(text: string, pattern: RegExp): number {
  const match = pattern.exec(text);
  return match === null ? 0 : match.slice(1).reduce((sum, value) => sum + Number(value), 0);
}

async function wrk(spec: LoadSpec): Promise<LoadResult> {
  const args = [
    "-t1",
    `-c${spec.connections}`,
    `-d${spec.seconds}s`,
    "--latency",
    "--timeout",
    "10s",
  ];
  if (spec.method === "POST") args.push("-s", wrkPostScript());
  const [command, pinned] = onLoadCpu("wrk", [...args, spec.url]);
  const { stdout } = await run(command, pinned, { maxBuffer: 1 << 20 });
  const rate = /^Requests\/sec:\s+([\d.]+)/m.exec(stdout);
  if (rate === null) throw new Error(`wrk printed no rate for ${spec.url}:\n${stdout}`);
  return {
    requestsPerSecond: Number(rate[1]),
    p50: wrkMillis(stdout, "50"),
    p99: wrkMillis(stdout, "99"),
    errors:
      wrkCount(stdout, /Non-2xx or 3xx responses:\s+(\d+)/) +
      wrkCount(stdout, /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/),
  };
}

interface AutocannonJson {
  requests: { average: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}

async function autocannon(spec: LoadSpec): Promise<LoadResult> {
  const args = ["-c", String(spec.connections), "-d", String(spec.seconds), "-j"];
  if (spec.method === "POST") {
    args.push("-m", "POST", "-H", "Content-Type=application/json", "-b", ECHO_BODY);
  }
  const bin = join("node_modules", ".bin", "autocannon");
  const [command, pinned] = onLoadCpu(bin, [...args, spec.url]);
  const { stdout } = await run(command, pinned, { maxBuffer: 1 << 22 });
  const result = JSON.parse(stdout) as AutocannonJson;
  return {
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.non2xx + result.errors + result.timeouts,
  };
}

export function runLoad(tool: LoadTool, spec: LoadSpec): Promise<LoadResult> {
  return tool === "wrk" ? wrk(spec) : autocannon(spec);
}

/** Runs bench/lib/ws-load.ts in a process of its own and reads its result. */
export async function runSocketLoad(spec: SocketLoadSpec): Promise<SocketLoadResult> {
  const flags = Object.entries({
    mode: spec.mode,
    url: spec.url,
    clients: spec.clients,
    seconds: spec.seconds,
    warmup: spec.warmupSeconds,
  }).flatMap(([name, value]) => [`--${name}`, String(value)]);
  const [command, args] = onLoadCpu(process.execPath, [
    "--import",
    "tsx",
    "bench/lib/ws-load.ts",
    ...flags,
  ]);
  const { stdout } = await run(command, args, {
    maxBuffer: 1 << 20,
    timeout: (spec.seconds + spec.warmupSeconds + 120) * 1000,
  });
  // JSON has no NaN: a percentile of no latencies at all comes back as null.
  return JSON.parse(stdout, (_key, value: unknown) =>
    value === null ? Number.NaN : value,
  ) as SocketLoadResult;
}

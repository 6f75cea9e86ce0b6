// The servers the benchmark compares: Carafe in each shape it is deployed in, and the peers,
// each serving the same routes (bench/apps/) on its own port. HTTP servers serve the HTTP
// scenarios (S*), WebSocket servers the WebSocket scenarios (W*). Every Node server runs as it would
// in production: compiled JavaScript (bench/.build/), Carafe from its build (dist/), no tsx; two
// Carafe configurations serve the TypeScript source of the app, as a user does.
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Which scenarios a server is put under: the HTTP ones (S*) or the WebSocket ones (W*). */
export type Kind = "http" | "websocket";

export interface Config {
  /** Short stable key, used in `--only` and the JSON results. */
  key: string;
  kind: Kind;
  /** What the tables call it. */
  label: string;
  /** Whether it is a Carafe configuration (drawn in Carafe's colour, judged by the targets). */
  carafe: boolean;
  /** Carafe's `--workers`: W2 checks that each of them holds some of the sockets. */
  workers?: number;
  command: string;
  args(port: number): string[];
  env?(port: number): Record<string, string>;
  /** Why it cannot run on this machine, or `null` when it can. */
  missing?(): string | null;
}

/**
 * The Node that runs the Node servers: CARAFE_BENCH_NODE (what `npm run bench -- --node PATH`
 * sets before it loads this file), else the one running the benchmark. The compiler and the
 * load generators run on the benchmark's own Node whichever it is.
 */
export const serverNode = process.env.CARAFE_BENCH_NODE || process.execPath;
const node = serverNode;

/** Compiles Carafe (dist/) and the apps (bench/.build/) from the working tree. */
export function buildApps(): void {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  // The apps' types come from Carafe's declarations (tsconfig.types.json).
  const projects = ["tsconfig.build.json", "tsconfig.types.json", "bench/tsconfig.apps.json"];
  for (const project of projects) {
    execFileSync(process.execPath, [tsc, "-p", project], { stdio: "inherit" });
  }
}

/** Carafe's app for each kind of scenario. */
const CARAFE_APP: Record<Kind, string> = { http: "carafe.js", websocket: "carafe-ws.js" };

function carafe(
  key: string,
  label: string,
  flags: string[],
  kind: Kind = "http",
  app = `bench/.build/${CARAFE_APP[kind]}`,
): Config {
  const workers = flags.indexOf("--workers");
  return {
    key,
    kind,
    label,
    carafe: true,
    workers: workers === -1 ? 1 : Number(flags[workers + 1]),
    command: node,
    args: (port) => [
      "bin/carafe.js",
      "serve",
      `${app}:app`,
      "--bind",
      `127.0.0.1:${port}`,
      ...flags,
    ],
  };
}

/** `config` with `--access-log` to a file of its own, in a directory made when it starts. */
function accessLogged(config: Config): Config {
  return {
    ...config,
    args: (port) => {
      const file = join(mkdtempSync(join(tmpdir(), "carafe-bench-log-")), "access.log");
      return [...config.args(port), "--access-log", file];
    },
  };
}

function peer(key: string, label: string, file: string, kind: Kind = "http"): Config {
  return {
    key,
    kind,
    label,
    carafe: false,
    command: node,
    args: () => [`bench/.build/${file}`],
    env: (port) => ({ PORT: String(port) }),
  };
}

function gunicornMissing(): string | null {
  try {
    execFileSync("gunicorn", ["--version"], { stdio: "ignore" });
    execFileSync("python3", ["-c", "import flask"], { stdio: "ignore" });
    return null;
  } catch {
    return "gunicorn and Flask are not installed (apt-get install gunicorn python3-flask)";
  }
}

export const CONFIGS: Config[] = [
  carafe("carafe-loop", "Carafe --threads 0", ["--threads", "0"]),
  // The same server with the supervisor's metrics on: what counting every request costs.
  carafe("carafe-metrics", "Carafe --threads 0 --metrics-bind", [
    "--threads",
    "0",
    "--metrics-bind",
    "127.0.0.1:0",
  ]),
  // The pools of these two start every thread with the worker, so that the scenarios measure
  // the pool at its size from the first request, and the idle memory of 8 threads against 2
  // gives the cost of each thread (a worker starts one by default and the rest on demand).
  carafe("carafe-t2", "Carafe --threads 2", ["--threads", "2", "--initial-threads", "2"]),
  carafe("carafe-t8", "Carafe --threads 8", ["--threads", "8", "--initial-threads", "8"]),
  // The same server writing the default access log to a file: what logging every request costs.
  accessLogged(carafe("carafe-accesslog", "Carafe --threads 0 --access-log", ["--threads", "0"])),
  // Both, as a server in production runs: what seeing what it does costs in all.
  accessLogged(
    carafe("carafe-observed", "Carafe --threads 0 --metrics-bind --access-log", [
      "--threads",
      "0",
      "--metrics-bind",
      "127.0.0.1:0",
    ]),
  ),
  carafe("carafe-w2", "Carafe --workers 2", ["--workers", "2", "--threads", "0"]),
  carafe("carafe-w2t2", "Carafe --workers 2 --threads 2", ["--workers", "2", "--threads", "2"]),
  // The app as its TypeScript source, as a user serves it without a build step (Carafe from its
  // build, as installed): what the footprint targets are judged on.
  carafe("carafe-ts-w1", "Carafe, app.ts, --workers 1", [], "http", "bench/apps/carafe.ts"),
  carafe(
    "carafe-ts-w2t4",
    "Carafe, app.ts, --workers 2 --threads 4",
    ["--workers", "2", "--threads", "4"],
    "http",
    "bench/apps/carafe.ts",
  ),
  peer("node-http", "node:http", "node-http.js"),
  peer("node-cluster", "node:cluster ×2", "node-cluster.js"),
  // The floor under `--threads 2` on tiny routes: node:http handing each request to 2 threads.
  peer("node-threads", "node:http + 2 threads", "node-threads.js"),
  peer("fastify", "Fastify 5", "fastify.js"),
  peer("express", "Express 5", "express.js"),
  peer("hono", "Hono 4", "hono.js"),
  {
    key: "gunicorn",
    kind: "http",
    label: "Flask on gunicorn 2×4",
    carafe: false,
    command: "gunicorn",
    args: (port) => [
      "--workers",
      "2",
      "--threads",
      "4",
      "--worker-class",
      "gthread",
      "--bind",
      `127.0.0.1:${port}`,
      "--chdir",
      "bench/apps",
      "flask_app:app",
    ],
    missing: gunicornMissing,
  },
  // The WebSocket app: one worker process (W1's target, and W2's --workers 1), two workers
  // (W2's broadcast crosses processes through the supervisor), and bare `ws` in one process.
  carafe("carafe-ws", "Carafe --threads 0", ["--threads", "0"], "websocket"),
  carafe("carafe-ws-w2", "Carafe --workers 2", ["--workers", "2", "--threads", "0"], "websocket"),
  peer("ws-bare", "ws (bare)", "ws-bare.js", "websocket"),
];

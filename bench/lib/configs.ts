// The servers the benchmark compares: Carafe in each shape it is deployed in, and the peers,
// each serving the same routes (bench/apps/) on its own port. Every Node server runs as it would
// in production: compiled JavaScript (bench/.build/), Carafe from its build (dist/), no tsx.
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";

export interface Config {
  /** Short stable key, used in `--only` and the JSON results. */
  key: string;
  /** What the tables call it. */
  label: string;
  /** Whether it is a Carafe configuration (drawn in Carafe's colour, judged by the targets). */
  carafe: boolean;
  command: string;
  args(port: number): string[];
  env?(port: number): Record<string, string>;
  /** Why it cannot run on this machine, or `null` when it can. */
  missing?(): string | null;
}

const node = process.execPath;

/** Compiles Carafe (dist/) and the apps (bench/.build/) from the working tree. */
export function buildApps(): void {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  for (const project of ["tsconfig.build.json", "bench/tsconfig.apps.json"]) {
    execFileSync(node, [tsc, "-p", project], { stdio: "inherit" });
  }
}

function carafe(key: string, label: string, flags: string[]): Config {
  return {
    key,
    label,
    carafe: true,
    command: node,
    args: (port) => [
      "bin/carafe.js",
      "serve",
      "bench/.build/carafe.js:app",
      "--bind",
      `127.0.0.1:${port}`,
      ...flags,
    ],
  };
}

function peer(key: string, label: string, file: string): Config {
  return {
    key,
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
  carafe("carafe-t2", "Carafe --threads 2", ["--threads", "2"]),
  carafe("carafe-t8", "Carafe --threads 8", ["--threads", "8"]),
  carafe("carafe-w2", "Carafe --workers 2", ["--workers", "2", "--threads", "0"]),
  carafe("carafe-w2t2", "Carafe --workers 2 --threads 2", ["--workers", "2", "--threads", "2"]),
  peer("node-http", "node:http", "node-http.js"),
  peer("node-cluster", "node:cluster ×2", "node-cluster.js"),
  peer("fastify", "Fastify 5", "fastify.js"),
  peer("express", "Express 5", "express.js"),
  peer("hono", "Hono 4", "hono.js"),
  {
    key: "gunicorn",
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
];

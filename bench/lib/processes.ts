// Starting a server, waiting until it answers, measuring its whole process tree, stopping it.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { request } from "node:http";
import { setTimeout as delay } from "node:timers/promises";
import type { Config } from "./configs.ts";
import { ECHO_BODY } from "./scenarios.ts";

export interface Server {
  child: ChildProcess;
  port: number;
  /** Milliseconds from spawn until `GET /` first answered 200. */
  readyMs: number;
  /** What the server printed, for the error message when it fails. */
  output(): string;
}

/** Whether `method path` answers 200 within `timeoutMs`. */
export function answers(
  port: number,
  path = "/",
  method = "GET",
  timeoutMs = 1000,
): Promise<boolean> {
  return new Promise((resolve) => {
    const body = method === "POST" ? ECHO_BODY : undefined;
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path,
        method,
        agent: false,
        headers: body === undefined ? {} : { "content-type": "application/json" },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode === 200));
      },
    );
    req.on("error", () => resolve(false));
    req.setTimeout(timeoutMs, () => req.destroy());
    req.end(body);
  });
}

/** Waits until the server answers GET / again, then a quarter second for its queues to empty. */
export async function settle(port: number): Promise<void> {
  const deadline = performance.now() + 30_000;
  while (performance.now() < deadline && !(await answers(port, "/", "GET", 5000))) await delay(50);
  await delay(250);
}

export async function startServer(config: Config, port: number): Promise<Server> {
  const started = performance.now();
  const child = spawn(config.command, config.args(port), {
    env: { ...process.env, ...config.env?.(port), NODE_ENV: "production" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // its own process group, so stopping it reaches every process it started
  });
  let output = "";
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const server: Server = { child, port, readyMs: 0, output: () => output };
  const deadline = started + 30_000;
  while (performance.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) break;
    if (await answers(port)) {
      server.readyMs = performance.now() - started;
      return server;
    }
    await delay(25);
  }
  await stopServer(server);
  throw new Error(`${config.label} did not answer GET / on port ${port}:\n${output}`);
}

export async function stopServer(server: Server): Promise<void> {
  const { child } = server;
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  process.kill(-child.pid, "SIGTERM");
  const stopped = await Promise.race([exited.then(() => true), delay(10_000).then(() => false)]);
  if (!stopped) {
    process.kill(-child.pid, "SIGKILL");
    await exited;
  }
  // Wait for the rest of the group (cluster workers) so the port and memory are free again.
  for (let i = 0; i < 200 && treePids(child.pid).length > 0; i++) await delay(25);
}

/** The fields of `/proc/<pid>/stat` after the command name (the state first), or `null`. */
function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name is in parentheses and may contain spaces: read after the last ')'.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null;
  }
}

export function parentOf(pid: number): number | null {
  const fields = statFields(pid);
  return fields === null ? null : Number(fields[1]);
}

/** `root` and every process below it that is still alive. */
export function treePids(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const parent = parentOf(pid);
    if (parent === null) continue;
    children.set(parent, [...(children.get(parent) ?? []), pid]);
  }
  const alive = parentOf(root) === null ? [] : [root];
  for (let i = 0; i < alive.length; i++) alive.push(...(children.get(alive[i] as number) ?? []));
  return alive;
}

/** Clock ticks per second of `/proc/<pid>/stat`'s times: USER_HZ, 100 on every Linux Node runs on. */
const TICKS_PER_SECOND = 100;

/**
 * Milliseconds of CPU (user + system, every thread) the whole process tree has used so far. The
 * difference over a measurement, per request, is the server's own cost of a request, with the
 * load generator left out. It still rises when the machine runs slow, so it is compared, like
 * req/s, between runs seconds apart.
 */
export function treeCpuMs(root: number): number {
  let ticks = 0;
  for (const pid of treePids(root)) {
    const fields = statFields(pid);
    // utime and stime: the 14th and 15th fields, the 12th and 13th after the command name.
    if (fields !== null) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return (ticks * 1000) / TICKS_PER_SECOND;
}

/** Resident memory of the whole process tree in MiB (threads share their process's figure). */
export function treeRssMiB(root: number): number {
  let kib = 0;
  for (const pid of treePids(root)) {
    try {
      const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      if (match !== null) kib += Number(match[1]);
    } catch {
      // the process exited between listing and reading
    }
  }
  return kib / 1024;
}

// Runs `carafe serve` (or any node command) as a real process for the integration tests: its output is read line by
// line, and a test waits for a line (a log event), never for a fixed time.

import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { request, type Agent, type IncomingMessage } from "node:http";
import { createServer, type AddressInfo } from "node:net";
import { resolve } from "node:path";
import { after } from "node:test";

const ROOT = resolve(import.meta.dirname, "../..");

/** A `carafe serve` (or other server) process. */
export interface ServeProcess {
  readonly child: ChildProcess;
  /** Every line it printed so far (stdout and stderr). */
  readonly lines: string[];
  /** The first `Listening at:` address, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** Resolves with the first line (from `from` on) matching `pattern`. */
  waitFor(pattern: RegExp, from?: number): Promise<string>;
  /** Resolves with the exit code once the process has ended. */
  exited: Promise<number | null>;
  /** Sends `signal` (TERM by default) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `carafe serve ...args` and waits until it listens (or exits). */
export function startServe(
  args: string[],
  options: {
    env?: Record<string, string>;
    waitForListening?: boolean;
    cwd?: string;
    /** A command that runs node, e.g. `["ip", "netns", "exec", "host-a"]`; none by default. */
    prefix?: string[];
  } = {},
): Promise<ServeProcess> {
  return startNode(
    ["--conditions=carafe-source", resolve(ROOT, "bin/carafe.js"), "serve", ...args],
    {
      ...options,
      listening: /Listening at: (\S+)/,
    },
  );
}

/**
 * A `startServe` for one test file: every server it started and that still runs when the file's
 * tests end, passed or failed, is killed then. Call it once, at the top of the file.
 */
export function serveInThisFile(): typeof startServe {
  const running: ServeProcess[] = [];
  after(() => Promise.all(running.map((server) => server.stop("SIGKILL"))));
  return async (args, options) => {
    const server = await startServe(args, options);
    running.push(server);
    return server;
  };
}

/**
 * Starts `node ...args` in the repository (or in `cwd`) and, unless `waitForListening` is
 * false, waits for the line that `listening` matches; its first group is the url.
 */
export async function startNode(
  args: string[],
  options: {
    env?: Record<string, string>;
    waitForListening?: boolean;
    listening: RegExp;
    cwd?: string;
    prefix?: string[];
  },
): Promise<ServeProcess> {
  const [command, ...commandArgs] = [...(options.prefix ?? []), process.execPath, ...args];
  const child = spawn(command as string, commandArgs, {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const waiters: { pattern: RegExp; from: number; done: (line: string) => void }[] = [];
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  const onText = (stream: NodeJS.ReadableStream): void => {
    let pending = "";
    stream.setEncoding("utf8");
    stream.on("data", (text: string) => {
      pending += text;
      const parts = pending.split("\n");
      pending = parts.pop() ?? "";
      for (const line of parts) {
        lines.push(line);
        for (const waiter of [...waiters]) {
          if (lines.length - 1 >= waiter.from && waiter.pattern.test(line)) {
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.done(line);
          }
        }
      }
    });
  };
  onText(child.stdout as NodeJS.ReadableStream);
  onText(child.stderr as NodeJS.ReadableStream);

  const waitFor = (pattern: RegExp, from = 0): Promise<string> => {
    const seen = lines.slice(from).find((line) => pattern.test(line));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((done, fail) => {
      waiters.push({ pattern, from, done });
      void exited.then((code) =>
        fail(
          new Error(
            `carafe serve exited (${code}) before printing ${pattern}:\n${lines.join("\n")}`,
          ),
        ),
      );
    });
  };
  let url = "";
  if (options.waitForListening !== false) {
    const line = await waitFor(options.listening);
    url = (options.listening.exec(line) as RegExpExecArray)[1] as string;
  }
  return {
    child,
    lines,
    url,
    waitFor,
    exited,
    stop: async (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** A free loopback port: one the system hands out, then released. */
export async function freePort(): Promise<number> {
  const probe = createServer().listen(0, "127.0.0.1");
  await once(probe, "listening");
  const { port } = probe.address() as AddressInfo;
  await new Promise((done) => probe.close(done));
  return port;
}

/** A response as the tests need it. */
export interface Reply {
  status: number;
  headers: IncomingMessage["headers"];
  text: string;
}

/** One request; `socketPath` for a Unix socket, `agent` for kept-alive connections. */
export function fetchReply(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    agent?: Agent | false;
    socketPath?: string;
  } = {},
): Promise<Reply> {
  return new Promise((done, fail) => {
    const req = request(
      url,
      {
        method: options.method ?? "GET",
        headers: options.headers,
        agent: options.agent ?? false,
        ...(options.socketPath ? { socketPath: options.socketPath } : {}),
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () => done({ status: res.statusCode ?? 0, headers: res.headers, text }));
        res.on("error", fail);
      },
    );
    req.on("error", fail);
    req.end();
  });
}

/** A streamed response whose first chunk has arrived. */
export interface OpenStream {
  /** The first chunk of the body. */
  first: string;
  /** Reads the rest of the body to its end. */
  rest(): Promise<string>;
  /** Leaves before the end: the connection is closed. */
  abort(): void;
}

/** Requests `url` (a GET on its own connection) and resolves once its body's first chunk came. */
export function openStream(url: string): Promise<OpenStream> {
  return new Promise((done, fail) => {
    const req = request(url, { agent: false }, (res) => {
      res.setEncoding("utf8");
      res.once("error", fail);
      res.once("data", (first: string) => {
        res.pause();
        done({
          first,
          rest: () =>
            new Promise((ended, failed) => {
              let text = "";
              res.on("data", (chunk: string) => (text += chunk));
              res.once("end", () => ended(text));
              res.once("error", failed);
              res.resume();
            }),
          abort: () => req.destroy(),
        });
      });
    });
    req.on("error", fail);
    req.end();
  });
}

/** Resolves once `count` lines printed from line `from` on match `pattern`. */
export async function waitForLines(
  server: ServeProcess,
  pattern: RegExp,
  count: number,
  from = 0,
): Promise<void> {
  while (server.lines.slice(from).filter((line) => pattern.test(line)).length < count) {
    await server.waitFor(pattern, server.lines.length);
  }
}

/** Waits until `count` workers listen, as `--log-level debug` tells (the banner comes first). */
export function allListening(server: ServeProcess, count: number): Promise<void> {
  return waitForLines(server, / is listening$/, count);
}

/** The pids of the worker processes a `carafe serve` printed as booted, in order. */
export function bootedPids(lines: readonly string[]): number[] {
  return lines.flatMap((line) => {
    const match = /Booting worker with pid: (\d+)/.exec(line);
    return match ? [Number(match[1])] : [];
  });
}

/** How a `carafe` command that ran to its end ended. */
export interface CarafeRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `carafe ...args` (from the sources) to its end, in `cwd` (the repository by default),
 * with `CARAFE_APP` unset unless `env` sets it.
 */
export async function runCarafe(
  args: readonly string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<CarafeRun> {
  const child = spawn(
    process.execPath,
    ["--conditions=carafe-source", resolve(ROOT, "bin/carafe.js"), ...args],
    {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, CARAFE_APP: "", ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
  child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
  const [code] = (await once(child, "close")) as [number | null];
  return { code, stdout, stderr };
}

export { once };

// Debian's nginx in front of Carafe for the deployment tests, running the repository's own
// deploy/nginx/carafe.conf: only its upstream servers and its listen address are replaced, so a
// change to that file is what the tests run.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../..");

/** The repository's nginx configuration (an http-block include). */
export const NGINX_CONF = resolve(ROOT, "deploy/nginx/carafe.conf");

// Debian installs it in /usr/sbin, which a user's PATH may leave out.
const NGINX = ["nginx", "/usr/sbin/nginx"].find(
  (command) => spawnSync(command, ["-v"]).status === 0,
);

/** `false` when nginx can run here, otherwise why not (a `skip` reason). */
export const nginxMissing: string | false =
  NGINX === undefined ? "nginx is not installed (apt-get install nginx)" : false;

/** A running nginx. */
export interface NginxProcess {
  /** `http://127.0.0.1:PORT`, where it listens. */
  readonly url: string;
  /** One line per answered request: status, upstream addresses tried, their statuses. */
  accessLog(): string[];
  /** nginx's error log: why it gave up on a host for a request, among others. */
  errorLog(): string[];
  /**
   * Replaces the upstream servers (an entry may carry nginx's server parameters, as in
   * `10.0.0.1:8000 down`) and reloads (HUP). Resolves once the workers that ran the old
   * configuration have finished their requests and exited: from then on every request sees the
   * new one.
   */
  reload(upstreams: readonly string[]): Promise<void>;
  /** Fast shutdown (TERM), resolved once the master process has exited. */
  stop(): Promise<void>;
}

const SERVER_LINE = /^(\s*)server \S+:\d+([^;\n]*);\n/gm;

/** The repository's configuration with `upstreams` as its servers and `listen` as its address. */
export function carafeConf(upstreams: readonly string[], listen: string): string {
  const text = readFileSync(NGINX_CONF, "utf8");
  const servers = [...text.matchAll(SERVER_LINE)];
  const first = servers[0];
  const listens = text.match(/^\s*listen 80;$/gm) ?? [];
  if (first === undefined || listens.length !== 1) {
    throw new Error(
      `${NGINX_CONF} must have its upstream's "server HOST:PORT …;" lines and one "listen 80;"`,
    );
  }
  const [, indent, parameters] = first;
  const ours = upstreams.map((address) => `${indent}server ${address}${parameters};\n`).join("");
  let replaced = false;
  return text
    .replace(SERVER_LINE, () => (replaced ? "" : ((replaced = true), ours)))
    .replace(/^(\s*)listen 80;$/m, `$1listen ${listen};`);
}

/**
 * Starts nginx (master and one worker, in the foreground) in a temporary prefix with
 * `carafeConf(upstreams, …)` included, on a free port of 127.0.0.1, and resolves once it accepts
 * connections.
 */
export async function startNginx(
  upstreams: readonly string[],
  port: number,
): Promise<NginxProcess> {
  const dir = mkdtempSync(join(tmpdir(), "carafe-nginx-"));
  for (const temp of ["body", "proxy", "fastcgi", "uwsgi", "scgi"]) mkdirSync(join(dir, temp));
  const include = join(dir, "carafe.conf");
  writeFileSync(include, carafeConf(upstreams, `127.0.0.1:${port}`));
  const main = [
    "daemon off;",
    "worker_processes 1;",
    // As root, nginx would hand its worker to `nobody`, who cannot read this prefix.
    ...(process.getuid?.() === 0 ? ["user root;"] : []),
    `pid ${join(dir, "nginx.pid")};`,
    `error_log ${join(dir, "error.log")} info;`,
    "events { worker_connections 1024; }",
    "http {",
    "  log_format upstreams '$status $upstream_addr $upstream_status';",
    `  access_log ${join(dir, "access.log")} upstreams;`,
    ...["body", "proxy", "fastcgi", "uwsgi", "scgi"].map(
      (temp) => `  ${temp === "body" ? "client_body" : temp}_temp_path ${join(dir, temp)};`,
    ),
    `  include ${include};`,
    "}",
  ];
  writeFileSync(join(dir, "nginx.conf"), main.join("\n") + "\n");
  const child: ChildProcess = spawn(
    NGINX ?? "nginx",
    ["-p", dir, "-c", join(dir, "nginx.conf"), "-e", join(dir, "error.log")],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (text: string) => (stderr += text));
  const exited = once(child, "exit");
  const errorLog = (): string => readFileSync(join(dir, "error.log"), "utf8");
  // nginx prints nothing once it listens: connect until it accepts (or it exits with its reason).
  const ended = exited.then(([code]) => {
    throw new Error(`nginx exited (${String(code)}):\n${stderr}\n${errorLog()}`);
  });
  ended.catch(() => {});
  while (!(await Promise.race([accepts(port), ended]))) {
    await new Promise((wake) => setTimeout(wake, 20));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    accessLog: () => readFileSync(join(dir, "access.log"), "utf8").split("\n").filter(Boolean),
    errorLog: () => errorLog().split("\n").filter(Boolean),
    reload: async (servers) => {
      writeFileSync(include, carafeConf(servers, `127.0.0.1:${port}`));
      const master = child.pid as number;
      const old = childrenOf(master);
      const logged = errorLog().length;
      child.kill("SIGHUP");
      while (old.some((pid) => existsSync(`/proc/${pid}`)) || childrenOf(master).length === 0) {
        // A configuration nginx refuses leaves the old workers running: say why.
        const refused = /\[emerg\].*/.exec(errorLog().slice(logged));
        if (refused !== null) throw new Error(`nginx refused the new configuration: ${refused[0]}`);
        await new Promise((wake) => setTimeout(wake, 20));
      }
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The processes whose parent is `pid` (an nginx master's workers). */
function childrenOf(pid: number): number[] {
  const processes = readdirSync("/proc").filter((entry) => /^\d+$/.test(entry));
  return processes.flatMap((entry) => {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // The fields after the command name (which may hold spaces): state, then the parent.
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      return parent === pid ? [Number(entry)] : [];
    } catch {
      return []; // a process that ended while being read
    }
  });
}

/** Whether 127.0.0.1:`port` accepts a connection now. */
function accepts(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      done(true);
    });
    socket.once("error", () => done(false));
  });
}

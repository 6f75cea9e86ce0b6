// The options of `carafe serve MODULE[:EXPORT]`: one declarative table (gunicorn's config.py
// settings) that drives the command-line flags, the CARAFE_* environment variables, the config
// file (carafe.config.ts / carafe.config.js), validation and `--help`.
//
// Precedence, lowest first: defaults < config file < environment < flags. A value from any
// source goes through the same parser, so `--workers abc`, `CARAFE_WORKERS=abc` and
// `{ workers: "abc" }` fail alike, each error naming where the value came from.

import { statSync } from "node:fs";
import { resolve } from "node:path";
import { isIP } from "node:net";
import { DEFAULT_ACCESS_LOG_FORMAT, ERROR_LOG_FORMATS, LOG_LEVELS } from "./http/access-log.ts";
import type { RequestLimits } from "./http/http-loop.ts";
import { isTrustEntry } from "./http/proxy.ts";
import { defaultThreadHeapMb } from "../threading/boot.ts";
import { importCompiled } from "./loading/compile-app.ts";
import type { Bind, ServeOptions } from "./supervisor/protocol.ts";
import { ServerError } from "./errors.ts";

/** A setting that cannot be used as given; the message names the option and what to do. */
export class SettingsError extends ServerError {
  override name = "SettingsError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_SETTINGS", message, options);
  }
}

type Kind =
  | { type: "int" | "number"; min: number; max?: number }
  | { type: "string"; nullable?: boolean }
  | { type: "boolean" }
  | { type: "list"; check?: (entry: string) => boolean; expected: string }
  | { type: "binds" }
  | { type: "bind" }
  | { type: "url-path" }
  | { type: "choice"; choices: readonly string[] };

type Value = number | string | boolean | string[] | Bind | Bind[] | null;

interface Setting {
  /** The key of `ServeOptions` (`config` only locates the config file). */
  name: keyof ServeOptions | "config";
  flag: `--${string}`;
  short?: `-${string}`;
  env: `CARAFE_${string}`;
  /** Read when `env` is unset: the name gunicorn reads. */
  fallbackEnv?: string;
  kind: Kind;
  /** In config-file form: `["127.0.0.1:8000"]`, `30`, `null`. */
  default: number | string | boolean | readonly string[] | null;
  metavar?: string;
  help: string;
}

/** gunicorn's default limits: what `carafe serve` starts with, and what `app.run()` keeps. */
export const DEFAULT_REQUEST_LIMITS: Readonly<RequestLimits> = Object.freeze({
  requestLine: 4094,
  fields: 100,
  fieldSize: 8190,
});

const int = (min: number, max?: number): Kind => ({ type: "int", min, max });
const seconds: Kind = { type: "number", min: 0 };
const path: Kind = { type: "string", nullable: true };
const flag: Kind = { type: "boolean" };

// prettier-ignore
const SETTINGS = [
  { name: "config", flag: "--config", short: "-c", env: "CARAFE_CONFIG", kind: path, default: null, metavar: "FILE",
    help: "Config file to load; without it, carafe.config.ts or carafe.config.js in the cwd if present" },
  { name: "binds", flag: "--bind", short: "-b", env: "CARAFE_BIND", kind: { type: "binds" }, default: ["127.0.0.1:8000"], metavar: "ADDRESS",
    help: "Address to listen on: HOST:PORT, [IPV6]:PORT or unix:PATH; repeat the flag for several" },
  { name: "workers", flag: "--workers", short: "-w", env: "CARAFE_WORKERS", kind: int(1), default: 1,
    help: "Worker processes to run" },
  { name: "threads", flag: "--threads", env: "CARAFE_THREADS", kind: int(0), default: 0,
    help: "Pool threads per worker for sync handlers; 0 keeps them on the event loop (routes marked { thread: true } still get a pool)" },
  { name: "initialThreads", flag: "--initial-threads", env: "CARAFE_INITIAL_THREADS", kind: int(0), default: 1,
    help: "Pool threads each worker starts with; the rest start as requests find no idle thread, up to --threads (or the pool's size), and stay" },
  { name: "timeout", flag: "--timeout", short: "-t", env: "CARAFE_TIMEOUT", kind: seconds, default: 30, metavar: "SECONDS",
    help: "Kill a worker that is silent or a request that runs longer than this; 0 disables" },
  { name: "gracefulTimeout", flag: "--graceful-timeout", env: "CARAFE_GRACEFUL_TIMEOUT", kind: seconds, default: 30, metavar: "SECONDS",
    help: "On shutdown or restart, how long workers may finish in-flight requests" },
  { name: "keepAlive", flag: "--keep-alive", env: "CARAFE_KEEP_ALIVE", kind: seconds, default: 5, metavar: "SECONDS",
    help: "How long an idle keep-alive connection stays open" },
  { name: "maxRequests", flag: "--max-requests", env: "CARAFE_MAX_REQUESTS", kind: int(0), default: 0,
    help: "Replace a worker after it served this many requests; 0 disables" },
  { name: "maxRequestsJitter", flag: "--max-requests-jitter", env: "CARAFE_MAX_REQUESTS_JITTER", kind: int(0), default: 0,
    help: "Add up to this many requests at random to --max-requests, so workers do not restart together" },
  { name: "backlog", flag: "--backlog", env: "CARAFE_BACKLOG", kind: int(1), default: 2048,
    help: "Connections the kernel queues before accept" },
  { name: "maxQueue", flag: "--max-queue", env: "CARAFE_MAX_QUEUE", kind: int(0), default: 1000,
    help: "Requests that may wait for a pool thread; beyond it they get 503" },
  { name: "threadMaxHeap", flag: "--thread-max-heap", env: "CARAFE_THREAD_MAX_HEAP", kind: int(0), default: defaultThreadHeapMb(), metavar: "MB",
    help: "Largest JS heap of each pool thread: a request that outgrows it gets a 500 and its thread is replaced; 0 leaves V8's own limit. Default: an eighth of this machine's memory per core, from 128 to 512" },
  { name: "limitRequestLine", flag: "--limit-request-line", env: "CARAFE_LIMIT_REQUEST_LINE", kind: int(0, 8190), default: DEFAULT_REQUEST_LIMITS.requestLine, metavar: "BYTES",
    help: "Longest request line (method, target, version); 0 means unlimited" },
  { name: "limitRequestFields", flag: "--limit-request-fields", env: "CARAFE_LIMIT_REQUEST_FIELDS", kind: int(0, 32768), default: DEFAULT_REQUEST_LIMITS.fields,
    help: "Most header fields in a request" },
  { name: "limitRequestFieldSize", flag: "--limit-request-field-size", env: "CARAFE_LIMIT_REQUEST_FIELD_SIZE", kind: int(0), default: DEFAULT_REQUEST_LIMITS.fieldSize, metavar: "BYTES",
    help: "Largest header field; 0 means unlimited" },
  { name: "forwardedAllowIps", flag: "--forwarded-allow-ips", env: "CARAFE_FORWARDED_ALLOW_IPS", fallbackEnv: "FORWARDED_ALLOW_IPS",
    kind: { type: "list", check: isTrustEntry, expected: "a comma list of addresses, CIDR networks or *" }, default: ["127.0.0.1", "::1"], metavar: "IPS",
    help: "Proxies whose X-Forwarded-* headers are trusted: addresses, networks or *, comma separated" },
  { name: "trustTraceparent", flag: "--trust-traceparent", env: "CARAFE_TRUST_TRACEPARENT", kind: flag, default: false,
    help: "Continue the trace (traceparent) of every caller, not only of --forwarded-allow-ips; for a server reachable only through a mesh" },
  { name: "accessLog", flag: "--access-log", env: "CARAFE_ACCESS_LOG", kind: path, default: null, metavar: "PATH",
    help: "Access log file; - for stdout; off when unset" },
  { name: "accessLogFormat", flag: "--access-log-format", env: "CARAFE_ACCESS_LOG_FORMAT", kind: { type: "string" }, default: DEFAULT_ACCESS_LOG_FORMAT, metavar: "FORMAT",
    help: "Access log line, in gunicorn's %(atom)s format (%(id)s is the request id), or json for one JSON object a line" },
  { name: "echoRequestId", flag: "--echo-request-id", env: "CARAFE_ECHO_REQUEST_ID", kind: flag, default: false,
    help: "Send each request's id (a trusted proxy's X-Request-ID, or a fresh one) back in an X-Request-ID response header (--no-echo-request-id to turn off)" },
  { name: "errorLog", flag: "--error-log", env: "CARAFE_ERROR_LOG", kind: { type: "string" }, default: "-", metavar: "PATH",
    help: "Error log file; - for stderr" },
  { name: "errorLogFormat", flag: "--error-log-format", env: "CARAFE_ERROR_LOG_FORMAT", kind: { type: "choice", choices: ERROR_LOG_FORMATS }, default: "text", metavar: "FORMAT",
    help: "Error log entries as text lines, or json for one JSON object a line (with the route and request id)" },
  { name: "logLevel", flag: "--log-level", env: "CARAFE_LOG_LEVEL", kind: { type: "choice", choices: LOG_LEVELS }, default: "info", metavar: "LEVEL",
    help: `Least severe error log level kept: ${LOG_LEVELS.join(", ")}` },
  { name: "pid", flag: "--pid", env: "CARAFE_PID", kind: path, default: null, metavar: "FILE",
    help: "Write the supervisor's pid to this file" },
  { name: "preload", flag: "--preload", env: "CARAFE_PRELOAD", kind: flag, default: false,
    help: "Import the app once in the supervisor before starting workers (--no-preload to turn off)" },
  { name: "reload", flag: "--reload", env: "CARAFE_RELOAD", kind: flag, default: false,
    help: "Restart workers when a source file changes; for development (--no-reload to turn off)" },
  { name: "certfile", flag: "--certfile", env: "CARAFE_CERTFILE", kind: path, default: null, metavar: "FILE",
    help: "TLS certificate (PEM); serve HTTPS. Needs --keyfile" },
  { name: "keyfile", flag: "--keyfile", env: "CARAFE_KEYFILE", kind: path, default: null, metavar: "FILE",
    help: "TLS private key (PEM). Needs --certfile" },
  { name: "metricsBind", flag: "--metrics-bind", env: "CARAFE_METRICS_BIND", kind: { type: "bind" }, default: null, metavar: "ADDRESS",
    help: "Serve Prometheus /metrics for all workers, and /healthz and /readyz, from the supervisor at HOST:PORT (or unix:PATH); off when unset" },
  { name: "healthzPath", flag: "--healthz-path", env: "CARAFE_HEALTHZ_PATH", kind: { type: "url-path" }, default: null, metavar: "PATH",
    help: "Answer 200 on this path of the main bind, before any app code; off when unset" },
  { name: "readyzPath", flag: "--readyz-path", env: "CARAFE_READYZ_PATH", kind: { type: "url-path" }, default: null, metavar: "PATH",
    help: "Answer 200 on this path of the main bind while the worker takes work, 503 while it drains; off when unset" },
] as const satisfies readonly Setting[];

// Every option of ServeOptions has a row; this fails to compile when one is added without one.
type Unset = Exclude<keyof ServeOptions, "appSpec" | (typeof SETTINGS)[number]["name"]>;
const _everyOptionHasARow: [Unset] extends [never] ? true : Unset = true;

const ROWS: readonly Setting[] = SETTINGS;
const CONFIG_FILES = ["carafe.config.ts", "carafe.config.js"];
const HELP_FLAGS = new Set(["-h", "--help"]);

/** A config-file key: the flag in camelCase (`--graceful-timeout` → `gracefulTimeout`). */
function configKey(setting: Setting): string {
  return setting.flag.slice(2).replace(/-(\w)/g, (_, letter: string) => letter.toUpperCase());
}

/** Thrown by the parsers below; `valueOf` completes it into "LABEL must be …, got '…'". */
class Invalid extends SettingsError {
  constructor(
    message: string,
    readonly got?: string,
  ) {
    super(message);
  }
}

function bindOf(text: string): Bind {
  if (text === "unix:") throw new Invalid("must name the socket, e.g. unix:/tmp/app.sock", text);
  if (text.startsWith("unix:")) return { kind: "unix", path: text.slice(5) };
  const match = /^(?:\[([^\]]+)\]|([^:[\]\s]+)):(\d*)$/.exec(text);
  const [ipv6, host, port = ""] = match === null ? [] : match.slice(1);
  if ((match === null && text.split(":").length > 2) || (ipv6 && isIP(ipv6) !== 6)) {
    throw new Invalid("must put an IPv6 address in brackets, e.g. [::1]:8000", text);
  }
  if (match === null) {
    throw new Invalid("must be HOST:PORT, [IPV6]:PORT or unix:PATH, e.g. 127.0.0.1:8000", text);
  }
  const number = Number(port);
  if (port === "" || number > 65535) throw new Invalid("port must be from 0 to 65535", text);
  return { kind: "tcp", host: (ipv6 ?? host) as string, port: number };
}

function strings(raw: unknown): string[] | null {
  if (typeof raw === "string") return raw.split(/\s*,\s*/).filter(Boolean);
  if (!Array.isArray(raw) || !raw.every((item) => typeof item === "string")) return null;
  return raw.flatMap((item: string) => strings(item) as string[]);
}

function parse(kind: Kind, raw: unknown): Value {
  const text = typeof raw === "number" || typeof raw === "boolean" ? String(raw) : raw;
  switch (kind.type) {
    case "int":
    case "number": {
      const number = typeof text === "string" && text.trim() !== "" ? Number(text) : Number.NaN;
      const whole = kind.type === "int";
      const inRange = number >= kind.min && number <= (kind.max ?? Infinity);
      if (inRange && (whole ? Number.isInteger(number) : Number.isFinite(number))) return number;
      const range = kind.max === undefined ? `≥ ${kind.min}` : `from ${kind.min} to ${kind.max}`;
      throw new Invalid(`must be ${whole ? "a whole number" : "a number of seconds"} ${range}`);
    }
    case "boolean": {
      const word = typeof text === "string" ? text.trim().toLowerCase() : "";
      if (["1", "true", "yes", "on"].includes(word)) return true;
      if (["0", "false", "no", "off"].includes(word)) return false;
      throw new Invalid("must be true or false");
    }
    case "string":
      if (kind.nullable && (raw === null || raw === "")) return null;
      if (typeof raw !== "string" || raw === "") throw new Invalid("must be a non-empty string");
      return raw;
    case "choice": {
      const word = typeof raw === "string" ? raw.trim().toLowerCase() : "";
      if (kind.choices.includes(word)) return word;
      throw new Invalid(`must be one of ${kind.choices.join(", ")}`);
    }
    case "list": {
      const list = strings(raw);
      const bad = list?.find((entry) => kind.check && !kind.check(entry));
      if (list === null || bad !== undefined) throw new Invalid(`must be ${kind.expected}`, bad);
      return list;
    }
    case "binds": {
      const list = strings(raw);
      if (list?.length) return list.map(bindOf);
      throw new Invalid("must name at least one address, e.g. 127.0.0.1:8000");
    }
    case "bind":
      if (raw === null || raw === "") return null;
      if (typeof raw !== "string") throw new Invalid("must be HOST:PORT, e.g. 127.0.0.1:9100");
      return bindOf(raw.trim());
    case "url-path":
      if (raw === null || raw === "") return null;
      if (typeof raw !== "string" || !/^\/[^\s?#]*$/.test(raw)) {
        throw new Invalid("must be a path starting with /, without spaces, ? or #, e.g. /healthz");
      }
      return raw;
  }
}

/** Parses `raw`, turning a parser's complaint into an error that names `label`. */
function valueOf(kind: Kind, raw: unknown, label: string): Value {
  try {
    return parse(kind, raw);
  } catch (error) {
    if (!(error instanceof Invalid)) throw error;
    const got = error.got ?? (typeof raw === "string" ? raw : JSON.stringify(raw));
    throw new SettingsError(`${label} ${error.message}, got '${got}'`);
  }
}

/**
 * Parses one listening address: `host:port`, `[ipv6]:port` or `unix:/path`.
 *
 * @example
 * parseBind("0.0.0.0:8000"); // { kind: "tcp", host: "0.0.0.0", port: 8000 }
 * parseBind("[::1]:0"); // { kind: "tcp", host: "::1", port: 0 }
 * parseBind("unix:/tmp/app.sock"); // { kind: "unix", path: "/tmp/app.sock" }
 */
export function parseBind(text: string): Bind {
  return (valueOf({ type: "binds" }, [text], "--bind") as Bind[])[0] as Bind;
}

/** Whether the command line asks for `--help` (`-h` or `--help` anywhere before `--`). */
export function isHelpRequest(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end === -1 ? argv : argv.slice(0, end)).some((arg) => HELP_FLAGS.has(arg));
}

/** Edit distance (Levenshtein), for "did you mean". */
function distance(a: string, b: string): number {
  let above = [...Array(b.length + 1).keys()];
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const replace = (above[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      row[j] = Math.min((row[j - 1] ?? 0) + 1, (above[j] ?? 0) + 1, replace);
    }
    above = row;
  }
  return above[b.length] ?? 0;
}

/** " (did you mean 'x'?)" when one known name is close to `name`, otherwise a pointer to --help. */
function suggest(name: string, known: readonly string[], quote = "'"): string {
  const best = known.reduce((a, b) => (distance(name, a) <= distance(name, b) ? a : b));
  return distance(name, best) <= Math.max(2, Math.floor(name.length / 4))
    ? ` (did you mean ${quote}${best}${quote}?)`
    : " (see carafe serve --help)";
}

/** The values one source gives, each with its label for errors: `--workers`, `CARAFE_WORKERS`, … */
type Layer = Map<Setting, { raw: unknown; label: string }>;

/** The app named before the command (`carafe --app app.ts serve`), and where it came from. */
export interface NamedApp {
  spec: string;
  /** `--app` or `CARAFE_APP`, for messages. */
  from: string;
}

function readArgv(
  argv: readonly string[],
  named: NamedApp | undefined,
): { flags: Layer; appSpec: string } {
  const flags: Layer = new Map();
  const positionals: string[] = [];
  const byFlag = new Map<string, Setting>();
  for (const row of ROWS) for (const name of [row.flag, row.short]) if (name) byFlag.set(name, row);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (HELP_FLAGS.has(arg)) continue;
    if (!arg.startsWith("-") || arg === "-") {
      positionals.push(arg);
      continue;
    }
    const long = arg.startsWith("--");
    const eq = long ? arg.indexOf("=") : -1;
    const name = eq === -1 ? (long ? arg : arg.slice(0, 2)) : arg.slice(0, eq);
    let inline =
      eq !== -1 ? arg.slice(eq + 1) : long || arg.length === 2 ? undefined : arg.slice(2);
    let row = byFlag.get(name);
    const negated = name.startsWith("--no-") ? byFlag.get(`--${name.slice(5)}`) : undefined;
    if (row === undefined && negated?.kind.type === "boolean" && inline === undefined) {
      [row, inline] = [negated, "false"];
    }
    if (row === undefined) {
      const known = [...byFlag.keys()].filter((key) => key.startsWith("--"));
      throw new SettingsError(`unknown option ${name}${suggest(name, known, "")}`);
    }
    if (inline === undefined && row.kind.type !== "boolean") inline = argv[++i];
    if (inline === undefined && row.kind.type !== "boolean") {
      throw new SettingsError(`${name} needs a value (see carafe serve --help)`);
    }
    // Repeating a list flag adds to it (--bind a --bind b); any other flag's last value wins.
    const listy = row.kind.type === "binds" || row.kind.type === "list";
    const raw = listy ? [...((flags.get(row)?.raw as string[]) ?? []), inline] : (inline ?? "true");
    flags.set(row, { raw, label: name });
  }
  const [given, ...extra] = positionals;
  const got = positionals.join("' and '");
  if (extra.length > 0) throw new SettingsError(`serve takes one app, got '${got}'`);
  // The app after the command wins over CARAFE_APP; named with --app too, it is named twice.
  if (given !== undefined && named?.from === "--app") {
    throw new SettingsError(
      `serve got two apps: '${named.spec}' (--app) and '${given}'; name it once`,
    );
  }
  const appSpec = given ?? named?.spec;
  if (!appSpec) {
    throw new SettingsError(
      "serve needs the app, e.g. carafe serve app.ts:app (or carafe --app app.ts:app serve, or CARAFE_APP=app.ts:app)",
    );
  }
  return { flags, appSpec };
}

function readEnv(env: Record<string, string | undefined>): Layer {
  const layer: Layer = new Map();
  for (const row of ROWS) {
    const name = env[row.env] !== undefined ? row.env : row.fallbackEnv;
    const raw = name === undefined ? undefined : env[name];
    if (raw !== undefined) layer.set(row, { raw, label: name as string });
  }
  return layer;
}

async function readConfig(file: string, shown: string): Promise<Layer> {
  const module = (await importCompiled(file).catch((error: Error) => {
    throw new SettingsError(`${shown}: could not load it: ${error.message}`, { cause: error });
  })) as { default?: unknown };
  const config = module.default;
  const proto = typeof config === "object" && config ? Object.getPrototypeOf(config) : undefined;
  if (proto !== Object.prototype && proto !== null) {
    throw new SettingsError(
      `${shown}: the default export must be a plain object, e.g. export default { workers: 4 }`,
    );
  }
  // Keys are the flags in camelCase (`bind`); the ServeOptions name (`binds`) is accepted too.
  const byKey = new Map<string, Setting>();
  for (const row of ROWS.filter((setting) => setting.name !== "config")) {
    byKey.set(row.name, row).set(configKey(row), row);
  }
  const layer: Layer = new Map();
  for (const [key, raw] of Object.entries(config as object)) {
    const row = byKey.get(key);
    const hint = () => suggest(key, [...byKey.keys()]);
    if (row === undefined) throw new SettingsError(`${shown}: unknown setting '${key}'${hint()}`);
    layer.set(row, { raw, label: `${shown}: ${key}` });
  }
  return layer;
}

function isFile(file: string): boolean {
  return statSync(file, { throwIfNoEntry: false })?.isFile() ?? false;
}

/** The config file to load: `--config`, else `CARAFE_CONFIG`, else carafe.config.ts / .js in `cwd`. */
async function configLayer(flags: Layer, env: Layer, cwd: string): Promise<Layer> {
  const row = ROWS.find((setting) => setting.name === "config") as Setting;
  const given = flags.get(row) ?? env.get(row);
  const named = given && (valueOf(row.kind, given.raw, given.label) as string | null);
  if (named) {
    if (!isFile(resolve(cwd, named))) {
      throw new SettingsError(`${given?.label} must name an existing file, got '${named}'`);
    }
    return readConfig(resolve(cwd, named), named);
  }
  const found = CONFIG_FILES.find((name) => isFile(resolve(cwd, name)));
  return found === undefined ? new Map() : readConfig(resolve(cwd, found), found);
}

/**
 * Resolves the options of `carafe serve` from defaults < config file < environment < flags.
 *
 * @example
 * const options = await resolveSettings({ argv: ["app.ts:app", "-w", "4"], env: process.env, cwd: process.cwd() });
 */
export async function resolveSettings(input: {
  argv: readonly string[];
  env: Record<string, string | undefined>;
  cwd: string;
  /** The app named before the command, used when the arguments name none. */
  app?: NamedApp;
}): Promise<ServeOptions> {
  const { flags, appSpec } = readArgv(input.argv, input.app);
  const env = readEnv(input.env);
  const config = await configLayer(flags, env, input.cwd);
  const values: Record<string, Value> = { appSpec };
  for (const row of ROWS) {
    if (row.name === "config") continue;
    const given = flags.get(row) ?? env.get(row) ?? config.get(row);
    values[row.name] = valueOf(row.kind, given ? given.raw : row.default, given?.label ?? row.flag);
  }
  // The loop above set every key of ServeOptions, each through its row's parser.
  const options = values as unknown as ServeOptions;
  if ((options.certfile === null) !== (options.keyfile === null)) {
    const [has, lacks] = options.certfile ? ["certfile", "keyfile"] : ["keyfile", "certfile"];
    throw new SettingsError(`--${has} needs --${lacks} too: TLS takes a certificate and its key`);
  }
  if (options.threads > 0 && options.initialThreads > options.threads) {
    throw new SettingsError(
      `--initial-threads ${options.initialThreads} is more than --threads ${options.threads}: a worker cannot start more pool threads than its pool holds`,
    );
  }
  if (options.healthzPath !== null && options.healthzPath === options.readyzPath) {
    throw new SettingsError(
      `--healthz-path and --readyz-path must differ (both are '${options.healthzPath}'): one says the process lives, the other that it takes work`,
    );
  }
  for (const key of ["certfile", "keyfile"] as const) {
    const file = options[key];
    if (file === null) continue;
    options[key] = resolve(input.cwd, file);
    const error = `--${key} must be an existing file, got '${file}'`;
    if (!isFile(options[key])) throw new SettingsError(error);
  }
  return options;
}

function shownDefault(value: Setting["default"]): string {
  if (value === null) return "none";
  return typeof value === "string"
    ? `'${value}'`
    : Array.isArray(value)
      ? value.join(",")
      : String(value);
}

/** The usage text of `carafe serve`, generated from the settings table. */
export function serveHelp(): string {
  const lines = ROWS.map((row) => {
    const metavar = row.metavar ?? (row.kind.type === "boolean" ? "" : "N");
    const flags = `${row.short ? `${row.short}, ` : "    "}${row.flag} ${metavar}`.trimEnd();
    const env = row.fallbackEnv ? `${row.env} (or ${row.fallbackEnv})` : row.env;
    return `  ${flags}\n        ${row.help}\n        env ${env}; default ${shownDefault(row.default)}`;
  });
  return `Usage: carafe serve [options] MODULE[:EXPORT]
       carafe --app MODULE[:EXPORT] serve [options]

Serve the app with a supervisor and worker processes, the way gunicorn does.
MODULE is a file (app.ts, src/app.js) or a module name: app is app.ts, app.mts, app.js or
app.mjs, the first that exists, and pkg.module is pkg/module.ts and so on, as gunicorn reads
it. EXPORT defaults to app, application or default, else a createApp or makeApp factory is
called. MODULE:createApp('dev', 2) calls a factory with
literal arguments; every worker process and every pool thread calls it.
Without MODULE, the app is --app's, or the CARAFE_APP environment variable's.

Settings come from, lowest precedence first: defaults, the config file (whose default export
is an object with the flags' names in camelCase, e.g. { workers: 4, bind: ["0.0.0.0:8000"] }),
CARAFE_* environment variables, then flags.

Options:
${lines.join("\n")}
  -h, --help
        Show this help
`;
}

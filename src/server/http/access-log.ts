// The access log (gunicorn's --access-logfile / --access-logformat) and the error log
// (--error-logfile, --log-level): how their lines look. Where they go is log-sink.ts's.
//
// Design: a format is compiled once into the function that renders a line, and what costs more
// than a line (a formatted date) is shared by the requests of one second or millisecond.

import { Buffer } from "node:buffer";
import process from "node:process";
import type { Logger } from "../../framework/internal.ts";
import { stackOf, type LogEntry } from "./app-logger.ts";
import { LogSink } from "./log-sink.ts";

export { LogTargetError } from "./log-sink.ts";

/** One answered request, as the access log sees it (the http loop's `Exchange` is one). */
export interface AccessEntry {
  /** Upper-case method: `GET`, `POST`, … */
  readonly method: string;
  /** The request target as sent: path and query string, still percent-encoded. */
  readonly url: string;
  /** `1.1`, `1.0` or `2.0`. */
  readonly httpVersion: string;
  readonly status: number;
  /** Bytes of the response body sent; `null` when not known. */
  readonly responseBytes: number | null;
  /** Request headers, names in lower case. */
  readonly requestHeaders: Readonly<Record<string, string>>;
  /** Response headers as a flat `[name, value, name, value, …]` list. */
  readonly responseHeaders: readonly string[];
  /** The client's address (after trusted proxy headers); empty for a Unix-socket peer. */
  readonly remoteAddress: string;
  /** The rule of the route that answered (`/user/<int:id>`); `null` when none matched. */
  readonly route: string | null;
  /** The request's id (`request.id`). */
  readonly requestId: string;
  /** When the request arrived, in whole milliseconds since the epoch. */
  readonly startTime: number;
  /** How long the request took, in milliseconds (with a fraction). */
  readonly durationMs: number;
  readonly pid: number;
  /** Variables for `%({NAME}e)s`; `process.env` when absent. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** gunicorn's default access log format: Apache's combined log format. */
export const DEFAULT_ACCESS_LOG_FORMAT =
  '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"';

/** The `--access-log-format` that writes one JSON object per line instead of a text line. */
export const JSON_ACCESS_LOG_FORMAT = "json";

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function pad(value: number): string {
  return String(value).padStart(2, "0");
}

/** Local time as Apache's `10/Oct/2000:13:55:36 -0700` or as `2000-10-10 13:55:36 -0700`. */
function localTime(date: Date, style: "clf" | "iso"): string {
  const minutes = Math.abs(date.getTimezoneOffset());
  const sign = date.getTimezoneOffset() > 0 ? "-" : "+";
  const clock = `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  const time = `${clock} ${sign}${pad(Math.floor(minutes / 60))}${pad(minutes % 60)}`;
  return style === "clf"
    ? `${pad(date.getDate())}/${MONTHS[date.getMonth()]}/${date.getFullYear()}:${time}`
    : `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${time}`;
}

// Values sit inside quotes in the combined format; JSON escaping (`\"`, `\\`, `\n`, `\u001b`)
// is Apache's escaping in all but spelling, so no header can forge a log line.
function escape(value: string): string {
  // Most values are plain printable ASCII and need no escaping (a test costs less than JSON).
  return SAFE.test(value) ? value : JSON.stringify(value).slice(1, -1);
}

const SAFE = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

// Requests of one second share the formatted time: formatting a Date costs more than a line.
let clfSecond = -1;
let clfText = "";

function clfTime(startTime: number): string {
  const second = Math.floor(startTime / 1000);
  if (second !== clfSecond) {
    clfSecond = second;
    clfText = `[${localTime(new Date(second * 1000), "clf")}]`;
  }
  return clfText;
}

function text(value: string | undefined): string {
  return value === undefined || value === "" ? "-" : escape(value);
}

function basicAuthUser(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^basic\s+(\S+)/i.exec(header);
  if (!match) return undefined;
  const decoded = Buffer.from(match[1] as string, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon > 0 ? decoded.slice(0, colon) : undefined;
}

function decodedPath(url: string): string {
  const path = url.split("?", 1)[0] as string;
  try {
    return decodeURIComponent(path);
  } catch {
    // Malformed percent-encoding: log what was sent rather than nothing.
    return path;
  }
}

function responseHeader(headers: readonly string[], name: string): string | undefined {
  const values = headers.filter((_, i) => i % 2 === 1 && headers[i - 1]?.toLowerCase() === name);
  return values.length === 0 ? undefined : values.join(", ");
}

type Atom = (entry: AccessEntry) => string;

// The method and the protocol version are what llhttp admits (a known method, digits), and the
// address is the socket's or one that isIP() accepted from a trusted proxy: none needs the
// escaping that what a client writes freely (the target, headers) gets.
const ATOMS: Readonly<Record<string, Atom>> = {
  h: (e) => e.remoteAddress || "-",
  l: () => "-",
  u: (e) => text(basicAuthUser(e.requestHeaders["authorization"])),
  t: (e) => clfTime(e.startTime),
  r: (e) => `${e.method} ${escape(e.url)} HTTP/${e.httpVersion}`,
  m: (e) => e.method,
  U: (e) => escape(decodedPath(e.url)),
  // gunicorn's QUERY_STRING: empty, not "-", when the URL has none.
  q: (e) => (e.url.includes("?") ? escape(e.url.slice(e.url.indexOf("?") + 1)) : ""),
  H: (e) => `HTTP/${e.httpVersion}`,
  s: (e) => String(e.status),
  // Common log format: %b is "-" for an empty body where %B says 0.
  b: (e) => (e.responseBytes ? String(e.responseBytes) : "-"),
  B: (e) => (e.responseBytes === null ? "-" : String(e.responseBytes)),
  f: (e) => text(e.requestHeaders["referer"]),
  a: (e) => text(e.requestHeaders["user-agent"]),
  T: (e) => String(Math.floor(e.durationMs / 1000)),
  M: (e) => String(Math.floor(e.durationMs)),
  D: (e) => String(Math.floor(e.durationMs * 1000)),
  L: (e) => {
    const micros = Math.floor(e.durationMs * 1000);
    return `${Math.floor(micros / 1_000_000)}.${String(micros % 1_000_000).padStart(6, "0")}`;
  },
  p: (e) => `<${e.pid}>`,
  // Not gunicorn's: the request id, which a proxy's X-Request-ID (%({x-request-id}i)s) is only
  // when the proxy is trusted.
  id: (e) => escape(e.requestId),
  route: (e) => text(e.route ?? undefined),
};

function atomFor(key: string): Atom {
  const keyed = /^\{(.+)\}([ioe])$/.exec(key);
  if (!keyed) return (Object.hasOwn(ATOMS, key) && ATOMS[key]) || (() => "-");
  const [, name = "", kind] = keyed;
  const lower = name.toLowerCase();
  if (kind === "i") return (e) => text(e.requestHeaders[lower]);
  if (kind === "o") return (e) => text(responseHeader(e.responseHeaders, lower));
  return (e) => text((e.env ?? process.env)[name]);
}

// Requests of one millisecond share the formatted time.
let isoMillisecond = -1;
let isoText = "";

function isoTime(startTime: number): string {
  if (startTime !== isoMillisecond) {
    isoMillisecond = startTime;
    isoText = new Date(startTime).toISOString();
  }
  return isoText;
}

/** A JSON string, or `null` for a value that is missing. */
function jsonText(value: string | undefined | null): string {
  if (value === undefined || value === null) return "null";
  // SAFE leaves out the quote and the backslash: nothing else in it needs escaping in JSON.
  return SAFE.test(value) ? `"${value}"` : JSON.stringify(value);
}

/**
 * One request as a JSON object (`--access-log-format json`): `time` (ISO 8601, UTC, when the
 * request arrived), `remote_addr`, `method`, `path` (the target as sent, query included),
 * `route` (the rule, `null` when no route matched), `status`, `duration_ms`, `bytes` (`null`
 * when not known), `user_agent`, `referer`, `request_id` and `pid`.
 */
function jsonLine(e: AccessEntry): string {
  // Whole microseconds, as %(D)s counts them.
  const durationMs = Math.floor(e.durationMs * 1000) / 1000;
  const headers = e.requestHeaders;
  return (
    `{"time":"${isoTime(e.startTime)}","remote_addr":${jsonText(e.remoteAddress || null)},` +
    `"method":${jsonText(e.method)},"path":${jsonText(e.url)},"route":${jsonText(e.route)},` +
    `"status":${e.status},"duration_ms":${durationMs},"bytes":${e.responseBytes},` +
    `"user_agent":${jsonText(headers["user-agent"])},"referer":${jsonText(headers["referer"])},` +
    `"request_id":${jsonText(e.requestId)},"pid":${e.pid}}`
  );
}

/** Compiles a format once into the function that renders a line. */
function compileFormat(format: string): Atom {
  if (format === JSON_ACCESS_LOG_FORMAT) return jsonLine;
  const parts: Array<string | Atom> = [];
  let last = 0;
  // Python %-format syntax as gunicorn uses it: %(name)s (or d), and %% for a percent sign.
  for (const match of format.matchAll(/%\(([^)]*)\)[sd]|%%/g)) {
    parts.push(format.slice(last, match.index));
    parts.push(match[0] === "%%" ? "%" : atomFor(match[1] as string));
    last = match.index + match[0].length;
  }
  parts.push(format.slice(last));
  return (entry) => {
    let line = "";
    for (const part of parts) line += typeof part === "string" ? part : part(entry);
    return line;
  };
}

/**
 * Formats one access log line with gunicorn's atoms; a missing value prints as `-`.
 *
 * Atoms: `h` remote address, `l` `-`, `u` Basic-auth user, `t` time, `r` request line, `m`
 * method, `U` decoded path, `q` query, `H` protocol, `s` status, `b`/`B` body bytes (`b` is `-`
 * for none), `f` referer, `a` user agent, `T`/`M`/`D` duration in s/ms/µs, `L` decimal seconds,
 * `p` `<pid>`, `{name}i` request header, `{name}o` response header, `{NAME}e` environment;
 * beyond gunicorn's, `id` the request id and `route` the matched rule. The format `json` writes
 * each request as one JSON object instead.
 *
 * @example
 * formatAccessLog('%(h)s "%(r)s" %(s)s %(M)sms', entry);
 * // 203.0.113.9 "GET /users?page=2 HTTP/1.1" 200 12ms
 */
export function formatAccessLog(format: string, entry: AccessEntry): string {
  return compileFormat(format)(entry);
}

/** Where the access log goes and how its lines look. */
export interface AccessLoggerOptions {
  /** `-` for standard output, a file path to append to, or `null` for no access log. */
  target: string | null;
  /** gunicorn's atoms, or `json` for one JSON object a line; defaults to the combined log format. */
  format?: string;
}

/**
 * Writes one line per answered request to stdout or a file.
 *
 * @example
 * const accessLog = new AccessLogger({ target: "-" });
 * accessLog.log(entry);
 * process.on("SIGUSR1", () => accessLog.reopen());
 */
export class AccessLogger {
  readonly #sink: LogSink | null;
  readonly #line: Atom;

  /** Opens the target; throws `LogTargetError` when the file cannot be opened. */
  constructor(options: AccessLoggerOptions) {
    this.#line = compileFormat(options.format ?? DEFAULT_ACCESS_LOG_FORMAT);
    this.#sink =
      options.target === null ? null : new LogSink(options.target, "stdout", "access log", true);
  }

  /** Whether lines are written at all (a target was given). */
  get enabled(): boolean {
    return this.#sink !== null;
  }

  /** Formats and writes the line for one request. */
  log(entry: AccessEntry): void {
    this.#sink?.write(`${this.#line(entry)}\n`);
  }

  /** Opens the file again (after log rotation moved it); a no-op for stdout. */
  reopen(): void {
    this.#sink?.reopen();
  }

  /** Writes what is pending and closes the file; stdout stays open. */
  async close(): Promise<void> {
    await this.#sink?.close();
  }
}

/** Error log levels, least severe first (gunicorn's --log-level). */
export const LOG_LEVELS = ["debug", "info", "warning", "error", "critical"] as const;

/** One of `LOG_LEVELS`. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** How error log entries are written: gunicorn's text lines, or one JSON object a line. */
export const ERROR_LOG_FORMATS = ["text", "json"] as const;

/** One of `ERROR_LOG_FORMATS`. */
export type ErrorLogFormat = (typeof ERROR_LOG_FORMATS)[number];

/** The request an error log entry was made in. */
export interface EntryRequest {
  /** The rule of its route; `null` when none matched. */
  readonly route: string | null;
  /** Its id (`request.id`); `null` outside a request. */
  readonly requestId: string | null;
}

/** Where the error log goes and what it keeps. */
export interface ErrorLoggerOptions {
  /** `-` for standard error, or a file path to append to. */
  target: string;
  /** Messages below this level are dropped; default `info`. */
  level?: LogLevel;
  /** The process id written on each line; default `process.pid`. */
  pid?: number;
  /** `text` (the default) or `json`. */
  format?: ErrorLogFormat;
}

type LogMethod = (message: string, error?: unknown) => void;

/**
 * The server's own log, gunicorn-style: `[2024-05-01 12:00:00 +0200] [4242] [INFO] Booted`.
 * A `Logger` like any other: the loop, the workers and the supervisor write to it.
 *
 * @example
 * const log = new ErrorLogger({ target: "-", level: "warning" });
 * log.info("Listening at http://127.0.0.1:8000"); // dropped: below warning
 * log.error("Worker failed to boot", error);
 */
export class ErrorLogger implements Logger {
  readonly #sink: LogSink;
  readonly #threshold: number;
  readonly #pid: number;
  readonly #json: boolean;

  /** Opens the target; throws `LogTargetError` when the file cannot be opened. */
  constructor(options: ErrorLoggerOptions) {
    this.#sink = new LogSink(options.target, "stderr", "error log");
    this.#threshold = LOG_LEVELS.indexOf(options.level ?? "info");
    this.#pid = options.pid ?? process.pid;
    this.#json = options.format === "json";
  }

  /** Whether a message at `level` would be written. */
  isEnabledFor(level: LogLevel): boolean {
    return LOG_LEVELS.indexOf(level) >= this.#threshold;
  }

  /**
   * Writes `message` (and the stack of `error`) when `level` is at or above the threshold; a
   * JSON entry names the route and the id of `request`, the request it was made in.
   */
  log(level: LogLevel, message: string, error?: unknown, request?: EntryRequest): void {
    if (!this.isEnabledFor(level)) return;
    const stack = error === undefined ? null : stackOf(error);
    if (this.#json) {
      this.#sink.write(`${this.#jsonEntry(level, message, stack, request)}\n`);
      return;
    }
    const detail = stack === null ? "" : `\n${stack}`;
    const tag = level.toUpperCase();
    this.#sink.write(
      `[${localTime(new Date(), "iso")}] [${this.#pid}] [${tag}] ${message}${detail}\n`,
    );
  }

  /**
   * One entry as a JSON object (`--error-log-format json`): `time` (ISO 8601, UTC), `level`,
   * `pid`, `message`, `route` and `request_id` (`null` outside a request), and `stack` (the
   * error's stack as one string, `null` when none was logged).
   */
  #jsonEntry(
    level: LogLevel,
    message: string,
    stack: string | null,
    request: EntryRequest | undefined,
  ): string {
    return JSON.stringify({
      time: new Date().toISOString(),
      level,
      pid: this.#pid,
      message,
      route: request?.route ?? null,
      request_id: request?.requestId ?? null,
      stack,
    });
  }

  /** Writes what an app (on the loop or a pool thread) logged: see app-logger.ts. */
  write(entry: LogEntry): void {
    this.log(entry.level, entry.message, entry.stack, entry);
  }

  // One method per level, bound so that each can be passed on as a callback.
  readonly debug: LogMethod = (message, error) => this.log("debug", message, error);
  readonly info: LogMethod = (message, error) => this.log("info", message, error);
  readonly warning: LogMethod = (message, error) => this.log("warning", message, error);
  /** `warning` under the framework `Logger`'s name. */
  readonly warn: LogMethod = (message, error) => this.log("warning", message, error);
  readonly error: LogMethod = (message, error) => this.log("error", message, error);
  readonly critical: LogMethod = (message, error) => this.log("critical", message, error);

  /** Opens the file again (after log rotation moved it); a no-op for stderr. */
  reopen(): void {
    this.#sink.reopen();
  }

  /** Writes what is pending and closes the file; stderr stays open. */
  async close(): Promise<void> {
    await this.#sink.close();
  }
}

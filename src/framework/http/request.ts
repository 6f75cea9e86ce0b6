// The request object a handler sees. Built cheaply from a RequestRecord: every derived view
// (query args, headers, cookies, forms, JSON) is computed on first use and cached.

import { Buffer } from "node:buffer";
import { DEFAULT_MAX_FORM_PARTS } from "../app/config.ts";
import { parseCookies } from "./cookies.ts";
import { MultiDict, RequestHeaders } from "./datastructures.ts";
import { BadRequest, CarafeError, UnsupportedMediaType } from "../errors.ts";
import { parseQueryString, parseUrlencoded, type FileStorage, type ParsedForm } from "./forms.ts";
import type { ClientConnection, RequestRecord } from "../boundary/records.ts";
import { newRequestId } from "../boundary/request-id.ts";

const EMPTY = new Uint8Array(0);

/** Options of `request.getJson`. */
export interface GetJsonOptions {
  /** Parse even when the Content-Type is not JSON. */
  force?: boolean;
  /** Return `undefined` instead of raising on a wrong Content-Type or malformed JSON. */
  silent?: boolean;
}

/** Whether a media type is JSON (`application/json`, `application/*+json`). */
export function isJsonMimetype(mimetype: string): boolean {
  return (
    mimetype === "application/json" ||
    (mimetype.startsWith("application/") && mimetype.endsWith("+json"))
  );
}

/** The request target as a path and query: absolute-form (`http://host/path`) and `*` made `/…`. */
function originForm(url: string): string {
  if (url.startsWith("/")) return url;
  const scheme = url.indexOf("://");
  if (scheme > 0) {
    const slash = url.indexOf("/", scheme + 3);
    return slash < 0 ? "/" : url.slice(slash);
  }
  return `/${url === "*" ? "" : url}`;
}

/** The still percent-encoded path of a request target (what the router matches). */
export function rawPathOf(url: string): string {
  const target = originForm(url);
  const mark = target.indexOf("?");
  return mark < 0 ? target : target.slice(0, mark);
}

/**
 * The incoming request. Handlers receive it as their argument, and anywhere during the request
 * it is also reachable as `request`.
 *
 * @example
 * app.get("/search", (req) => ({ q: req.args.get("q", ""), page: Number(req.args.get("page", "1")) }));
 */
export class Request<P = Record<string, unknown>> {
  /** Upper-case HTTP method. */
  readonly method: string;
  /** The route parameters, converted (`<int:id>` → a number). */
  params: P;
  /** The matched endpoint (`"index"`, `"blog.post"`), or `undefined` before/without a match. */
  endpoint: string | undefined = undefined;
  /** The matched rule's text, e.g. `/user/<int:id>`. */
  rule: string | undefined = undefined;
  /** The name of the blueprint that owns the matched route, if any. */
  blueprint: string | undefined = undefined;
  /**
   * The largest body accepted for this request, in bytes: its route's `maxContentLength`, or
   * the app's; `null` when the route accepts any size.
   */
  maxContentLength: number | null = null;
  /** Most form parts or fields accepted (config `maxFormParts`, set by the app). @internal */
  maxFormParts = DEFAULT_MAX_FORM_PARTS;

  #rawPath: string | undefined;
  #query: string | undefined;
  #path: string | undefined;
  #args: MultiDict<string> | undefined;
  #headers: RequestHeaders | undefined;
  #cookies: ReadonlyMap<string, string> | undefined;
  #form: ParsedForm | undefined;
  #json: { value: unknown } | undefined;
  #signal: AbortSignal | undefined;
  readonly #connection: ClientConnection | undefined;
  #bodyStream: AsyncIterable<Uint8Array> | undefined;
  #streamRead = false;

  constructor(
    /** The plain record this request was built from. */
    readonly record: RequestRecord,
    params: P,
    connection?: ClientConnection,
    bodyStream?: AsyncIterable<Uint8Array>,
  ) {
    this.method = record.method;
    this.params = params;
    this.#connection = connection;
    this.#bodyStream = bodyStream;
  }

  /** Whether the body arrives as a stream (a `streamBody: true` route on a server). @internal */
  get bodyIsStreamed(): boolean {
    return this.#bodyStream !== undefined;
  }

  /**
   * The body chunk by chunk. On a `streamBody: true` route it is read from the socket as the
   * loop goes, so an upload is never held whole in memory; past `maxContentLength` the loop
   * throws `RequestEntityTooLarge` (413). On other routes it yields the body already read.
   * A body can be read once.
   *
   * @example
   * app.post("/upload", { streamBody: true }, async (req) => {
   *   let bytes = 0;
   *   for await (const chunk of req.stream()) bytes += chunk.byteLength;
   *   return { bytes };
   * });
   */
  stream(): AsyncIterable<Uint8Array> {
    if (this.#streamRead) {
      throw new CarafeError(
        "ERR_BODY_READ",
        "request.stream() was already read: a request body can be read once; keep the chunks if you need them again",
      );
    }
    this.#streamRead = true;
    const streamed = this.#bodyStream;
    if (streamed !== undefined) return streamed;
    const body = this.record.body;
    return (async function* () {
      if (body !== null && body.byteLength > 0) yield body;
    })();
  }

  /**
   * Aborts when the client disconnects before the response is complete, so that async work
   * for it can stop: pass it to `fetch`, timers and database calls, or check `aborted`. Made
   * on first use. On a pool thread the loop tells the thread, so it aborts when the thread's
   * event loop is free to hear it: during an async handler's awaits, not inside synchronous code.
   *
   * @example
   * app.get("/report", async (req) => {
   *   const rows = await db.query(sql, { signal: req.signal });
   *   return rows;
   * });
   */
  get signal(): AbortSignal {
    if (this.#signal === undefined) {
      const controller = new AbortController();
      this.#signal = controller.signal;
      const connection = this.#connection;
      if (connection !== undefined) {
        const abort = (): void => {
          if (!connection.writableFinished) controller.abort();
        };
        if (connection.destroyed) abort();
        else connection.once("close", abort);
      }
    }
    return this.#signal;
  }

  /**
   * This request's id, for logs and for tracing a request across services: the `X-Request-ID`
   * a trusted proxy sent (see `--forwarded-allow-ips`; 1 to 200 visible ASCII characters), or
   * else a fresh one, unique across the server's processes and restarts. The access log and
   * the error log name the request by it; a handler on a pool thread sees the same id.
   *
   * @example
   * app.get("/work", (req) => {
   *   log.info(`starting the work of ${req.id}`);
   *   return { requestId: req.id };
   * });
   */
  get id(): string {
    return (this.record.id ??= newRequestId());
  }

  /** The `Last-Event-ID` header a reconnecting EventSource sends (see `sse()`), or `undefined`. */
  get lastEventId(): string | undefined {
    return this.record.headers["last-event-id"];
  }

  #splitUrl(): void {
    const url = originForm(this.record.url);
    const mark = url.indexOf("?");
    this.#rawPath = mark < 0 ? url : url.slice(0, mark);
    this.#query = mark < 0 ? "" : url.slice(mark + 1);
  }

  /** The path as sent, still percent-encoded. */
  get rawPath(): string {
    if (this.#rawPath === undefined) this.#splitUrl();
    return this.#rawPath as string;
  }

  /** The query string without `?` (raw). */
  get queryString(): string {
    if (this.#query === undefined) this.#splitUrl();
    return this.#query as string;
  }

  /** The decoded path, e.g. `/café/menu`. */
  get path(): string {
    if (this.#path === undefined) {
      const raw = this.rawPath;
      try {
        this.#path = raw.includes("%") ? decodeURIComponent(raw) : raw;
      } catch {
        this.#path = raw;
      }
    }
    return this.#path;
  }

  /**
   * The decoded path and the raw query string, always joined by `?` (Werkzeug's `full_path`):
   * `/search?q=tea`, or `/about?` without a query.
   */
  get fullPath(): string {
    return `${this.path}?${this.queryString}`;
  }

  /** `http` or `https`. */
  get scheme(): "http" | "https" {
    return this.record.scheme;
  }

  /** Whether the request came over HTTPS. */
  get isSecure(): boolean {
    return this.record.scheme === "https";
  }

  /** The `Host` header (host and port), or `localhost`. */
  get host(): string {
    return this.record.headers["host"] ?? "localhost";
  }

  /** Scheme and host: `http://example.com:8000`. */
  get hostUrl(): string {
    return `${this.scheme}://${this.host}`;
  }

  /** The full URL with query string. */
  get url(): string {
    return this.hostUrl + this.rawPath + (this.queryString ? `?${this.queryString}` : "");
  }

  /** The full URL without the query string. */
  get baseUrl(): string {
    return this.hostUrl + this.rawPath;
  }

  /** Query-string arguments; a key may repeat (`getAll`). */
  get args(): MultiDict<string> {
    // Not bounded by maxFormParts (Werkzeug bounds only forms): the query string is part of the
    // request line, which the server already caps (limitRequestLine, 4094 bytes by default).
    this.#args ??= parseQueryString(this.queryString);
    return this.#args;
  }

  /** Headers, case-insensitive. */
  get headers(): RequestHeaders {
    this.#headers ??= new RequestHeaders(this.record.headers);
    return this.#headers;
  }

  /** Cookies the client sent. */
  get cookies(): ReadonlyMap<string, string> {
    this.#cookies ??= parseCookies(this.record.headers["cookie"]);
    return this.#cookies;
  }

  /** The peer's address (the client's, when a trusted proxy forwarded it). */
  get remoteAddr(): string {
    return this.record.remoteAddress;
  }

  /** The full `Content-Type` header, or `""`. */
  get contentType(): string {
    return this.record.headers["content-type"] ?? "";
  }

  /** The media type without parameters, lower case: `application/json`. */
  get mimetype(): string {
    const type = this.contentType;
    const semi = type.indexOf(";");
    return (semi < 0 ? type : type.slice(0, semi)).trim().toLowerCase();
  }

  /** The declared body length, or `undefined`. */
  get contentLength(): number | undefined {
    const value = this.record.headers["content-length"];
    return value === undefined ? undefined : Number(value);
  }

  /** The `User-Agent` header, or `""`. */
  get userAgent(): string {
    return this.record.headers["user-agent"] ?? "";
  }

  /** The raw body bytes (empty when there is none). */
  get data(): Uint8Array {
    if (this.#bodyStream !== undefined) {
      throw new CarafeError(
        "ERR_BODY_STREAMED",
        `the route ${this.rule ?? this.path} streams its body (streamBody: true), so it is not in memory: read it with \`for await (const chunk of request.stream())\``,
      );
    }
    return this.record.body ?? EMPTY;
  }

  /** The body decoded as UTF-8. */
  text(): string {
    const body = this.data;
    return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8");
  }

  /** Whether the Content-Type says JSON. */
  get isJson(): boolean {
    return isJsonMimetype(this.mimetype);
  }

  /**
   * The body parsed as JSON. A non-JSON Content-Type raises 415 and malformed JSON 400, each
   * with a message that says what was wrong.
   */
  json<T = unknown>(): T {
    return this.getJson<T>() as T;
  }

  /** Like `json()`, with Flask's `force` and `silent` options. */
  getJson<T = unknown>(options: GetJsonOptions = {}): T | undefined {
    if (this.#json !== undefined) return this.#json.value as T;
    if (!options.force && !this.isJson) {
      if (options.silent) return undefined;
      throw new UnsupportedMediaType(
        `Expected a JSON body (Content-Type: application/json), got ${this.mimetype ? `'${this.mimetype}'` : "no Content-Type"}.`,
      );
    }
    let value: unknown;
    try {
      value = JSON.parse(this.text());
    } catch (error) {
      if (options.silent) return undefined;
      throw new BadRequest(`The body is not valid JSON: ${(error as Error).message}.`);
    }
    this.#json = { value };
    return value as T;
  }

  /** Form fields from an urlencoded or multipart body. */
  get form(): MultiDict<string> {
    return this.#loadForm().form;
  }

  /** Uploaded files from a multipart body, by field name. */
  get files(): MultiDict<FileStorage> {
    return this.#loadForm().files;
  }

  /** Query arguments and form fields together (form values after query values). */
  get values(): MultiDict<string> {
    const values = new MultiDict<string>(this.args);
    for (const [key, value] of this.form) values.append(key, value);
    return values;
  }

  #loadForm(): ParsedForm {
    if (this.#form === undefined) {
      // Multipart bodies were parsed (asynchronously) before the handler ran; see `setForm`.
      const form =
        this.mimetype === "application/x-www-form-urlencoded"
          ? parseUrlencoded(this.data, { maxFormParts: this.maxFormParts })
          : new MultiDict<string>();
      this.#form = { form, files: new MultiDict() };
    }
    return this.#form;
  }

  /** Installs a form parsed ahead of the handler (multipart). @internal */
  setForm(form: ParsedForm): void {
    this.#form = form;
  }
}

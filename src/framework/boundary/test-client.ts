// The test client: sends requests straight into an app's `handle` (the same record boundary a
// server uses), without a socket, and keeps cookies between requests like a browser.

import { Buffer } from "node:buffer";
import { randomBytes } from "node:crypto";
import type { AppGlobals, RequestContext } from "../context/context.ts";
import type { Session } from "../context/sessions.ts";
import { CarafeError } from "../errors.ts";
import { HeaderMap } from "../http/datastructures.ts";
import { readBoundedBody } from "./body-reader.ts";
import type { RecordHandler, RequestRecord, ResponseRecord, RoutePlan } from "./records.ts";

/** Redirect statuses `followRedirects` follows. */
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Most redirects one request follows before the client gives up (a loop, most likely). */
const MAX_REDIRECTS = 30;

/**
 * An app the test client sends requests to: the record boundary (`planOf`, `handle`), and what a
 * Carafe app adds for tests (`client.session`, `client.g`, `client.sessionTransaction`).
 */
export interface TestableApp extends RecordHandler {
  /** `handle`, handing the request's context to `capture`. @internal */
  handleForTest?(
    record: RequestRecord,
    plan: RoutePlan | undefined,
    capture: (context: RequestContext) => void,
  ): ResponseRecord | Promise<ResponseRecord>;
  /**
   * Opens the session the client's cookies for the session cookie's path carry, for `fn`; gives
   * the headers that save it. @internal
   */
  testSessionTransaction?<T>(
    cookieHeaderFor: (path: string) => string,
    fn: (session: Session) => T | Promise<T>,
  ): Promise<[T, string[]]>;
}

/** The request a `TestResponse` answers (Werkzeug's `response.request`). */
export interface TestRequestInfo {
  /** The method sent (`GET` after a 303). */
  readonly method: string;
  /** The whole URL: `http://localhost/auth/login?next=%2F`. */
  readonly url: string;
  /** The path, decoded, without the query string: `/auth/login`. */
  readonly path: string;
}

const encoder = new TextEncoder();

/** A file to upload with the test client. */
export interface TestFile {
  filename: string;
  content: string | Uint8Array;
  contentType?: string;
}

/** Options of a test request. */
export interface TestRequestOptions {
  /** Request headers. */
  headers?: Record<string, string>;
  /** Query-string arguments (arrays repeat the key). */
  query?: Record<string, string | number | readonly (string | number)[]>;
  /** A JSON body (sets `Content-Type: application/json`). */
  json?: unknown;
  /** Form fields: urlencoded, or multipart when `files` are given too. */
  form?: Record<string, string | readonly string[]>;
  /** Files to upload as `multipart/form-data`. */
  files?: Record<string, TestFile | readonly TestFile[]>;
  /** A raw body. */
  data?: string | Uint8Array;
  /** The peer address the app sees; default `127.0.0.1`. */
  remoteAddress?: string;
  /** `http` (default) or `https`. */
  scheme?: "http" | "https";
  /**
   * The request's id (`request.id`), as a trusted proxy's X-Request-ID would set it; a fresh
   * one when absent. A redirect followed gets a fresh one.
   */
  requestId?: string;
  /**
   * Follow redirects (301, 302, 303, 307, 308) to the final response, whose `history` holds
   * the ones before it. 307 and 308 repeat the method and body; 303, and 301 or 302 after a
   * POST, continue with a GET without body. Redirects to another host are refused, and more
   * than 30 in a row are an error.
   */
  followRedirects?: boolean;
}

/** A response received by the test client, its body read whole. */
export class TestResponse {
  readonly headers: HeaderMap;
  constructor(
    readonly status: number,
    headers: readonly string[],
    /** The body bytes. */
    readonly body: Uint8Array,
    /** The request this response answers: after redirects were followed, the last one. */
    readonly request: TestRequestInfo = { method: "GET", url: "http://localhost/", path: "/" },
    /** The redirect responses followed to reach this one, first first (`followRedirects`). */
    readonly history: readonly TestResponse[] = [],
  ) {
    const pairs: [string, string][] = [];
    for (let i = 0; i < headers.length; i += 2)
      pairs.push([headers[i] as string, headers[i + 1] as string]);
    this.headers = new HeaderMap(pairs);
  }

  /**
   * The body as UTF-8 text. A method like `json()` and like `request.text()`: the body is
   * already read, so it returns at once (and `await res.text()`, as with `fetch`, works too).
   */
  text(): string {
    return Buffer.from(this.body).toString("utf8");
  }

  /** The body parsed as JSON (Werkzeug's `response.json`). */
  json<T = unknown>(): T {
    return JSON.parse(this.text()) as T;
  }

  /** The media type of the body, without parameters. */
  get mimetype(): string {
    return (this.headers.get("content-type") ?? "").split(";")[0]?.trim() ?? "";
  }
}

interface StoredCookie {
  value: string;
  path: string;
  expires: number | null;
}

/** A request as the client sends it, before the cookies of the jar are added. */
interface Outgoing {
  readonly method: string;
  /** The origin-form target: path and query string. */
  readonly url: string;
  /** Request headers, names in lower case, `host` among them. */
  readonly headers: Record<string, string>;
  readonly body: Uint8Array | null;
  readonly remoteAddress: string;
  readonly scheme: "http" | "https";
  readonly requestId?: string | undefined;
}

/** `GET /path`, for messages. */
function outgoingName(method: string, path: string): string {
  return `${method.toUpperCase()} ${path}`;
}

/**
 * What `app.testRequestContext(url, options, fn)` takes (Flask's `test_request_context`
 * arguments): a test request's options and its method. No files: a multipart body is parsed
 * before a view runs, asynchronously, and a request context is entered at once.
 */
export interface TestRequestContextOptions extends Omit<
  TestRequestOptions,
  "files" | "followRedirects"
> {
  /** The method; default `GET`. */
  method?: string;
}

/** The request `options` describe. */
export function outgoingRequest(
  method: string,
  path: string,
  options: TestRequestOptions,
): Outgoing {
  let url = path;
  if (options.query) {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(options.query)) {
      for (const each of Array.isArray(value) ? value : [value]) query.append(key, String(each));
    }
    url += (url.includes("?") ? "&" : "?") + query.toString();
  }
  const headers: Record<string, string> = { host: "localhost" };
  for (const [name, value] of Object.entries(options.headers ?? {}))
    headers[name.toLowerCase()] = value;
  let body: Uint8Array | null = null;
  let contentType: string | undefined;
  if (options.json !== undefined) {
    body = encoder.encode(JSON.stringify(options.json));
    contentType = "application/json";
  } else if (options.files !== undefined) {
    [contentType, body] = multipart(options.form, options.files);
  } else if (options.form !== undefined) {
    const form = new URLSearchParams();
    for (const [key, value] of Object.entries(options.form)) {
      for (const each of typeof value === "string" ? [value] : value) form.append(key, each);
    }
    body = encoder.encode(form.toString());
    contentType = "application/x-www-form-urlencoded";
  } else if (options.data !== undefined) {
    body = typeof options.data === "string" ? encoder.encode(options.data) : options.data;
  }
  if (contentType !== undefined) headers["content-type"] ??= contentType;
  if (body !== null) headers["content-length"] = String(body.byteLength);
  return {
    method: method.toUpperCase(),
    url,
    headers,
    body,
    remoteAddress: options.remoteAddress ?? "127.0.0.1",
    scheme: options.scheme ?? "http",
    requestId: options.requestId,
  };
}

/** The record an app is handed for `outgoing`, with `headers` (default: its own). */
export function requestRecordOf(
  outgoing: Outgoing,
  headers: Record<string, string> = outgoing.headers,
): RequestRecord {
  const record: RequestRecord = {
    method: outgoing.method,
    url: outgoing.url,
    headers,
    body: outgoing.body,
    remoteAddress: outgoing.remoteAddress,
    scheme: outgoing.scheme,
  };
  if (outgoing.requestId !== undefined) record.id = outgoing.requestId;
  return record;
}

/** The absolute URL of a request. */
function absoluteUrl(outgoing: Outgoing): string {
  return `${outgoing.scheme}://${outgoing.headers["host"] ?? "localhost"}${outgoing.url}`;
}

function requestInfo(outgoing: Outgoing): TestRequestInfo {
  const path = outgoing.url.split("?")[0] ?? "/";
  let decoded = path;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    // A malformed escape stays as it was sent.
  }
  return { method: outgoing.method, url: absoluteUrl(outgoing), path: decoded };
}

/**
 * The request that follows `status` to `location` (as browsers and fetch do): 307 and 308 repeat
 * the method and body; 303 (but after HEAD) and 301 or 302 after a POST go on with a GET and no
 * body. The app's host only: a test client reaches no other server.
 */
function redirected(outgoing: Outgoing, status: number, location: string): Outgoing {
  const from = absoluteUrl(outgoing);
  let target: URL;
  let origin: URL;
  try {
    target = new URL(location, from);
    origin = new URL(from);
  } catch {
    throw new CarafeError(
      "ERR_BAD_REDIRECT",
      `followRedirects: the ${status} response of ${outgoing.method} ${outgoing.url} has a Location that is no URL: ${JSON.stringify(location)}`,
    );
  }
  if (
    (target.protocol !== "http:" && target.protocol !== "https:") ||
    target.hostname.toLowerCase() !== origin.hostname.toLowerCase()
  ) {
    throw new CarafeError(
      "ERR_EXTERNAL_REDIRECT",
      `followRedirects: ${outgoing.method} ${outgoing.url} redirects (${status}) to ${location}, outside the app's host ${origin.host}; the test client follows redirects within the app only (send the next request with the Host header it needs)`,
    );
  }
  const method = outgoing.method;
  const toGet =
    (status === 303 && method !== "GET" && method !== "HEAD") ||
    ((status === 301 || status === 302) && method === "POST");
  const headers: Record<string, string> = { ...outgoing.headers, host: target.host };
  if (toGet) {
    delete headers["content-type"];
    delete headers["content-length"];
    delete headers["transfer-encoding"];
  }
  return {
    ...outgoing,
    method: toGet ? "GET" : method,
    url: target.pathname + target.search,
    headers,
    body: toGet ? null : outgoing.body,
    scheme: target.protocol === "https:" ? "https" : "http",
    requestId: undefined,
  };
}

async function readBody(record: ResponseRecord): Promise<Uint8Array> {
  const body = record.body;
  if (body === null) return new Uint8Array(0);
  const read = await readBoundedBody(
    typeof body === "string" || body instanceof Uint8Array ? [body] : body,
    null,
  );
  return read.body ?? new Uint8Array(0);
}

function multipart(
  form: TestRequestOptions["form"],
  files: NonNullable<TestRequestOptions["files"]>,
): [string, Uint8Array] {
  const boundary = `----carafe${randomBytes(12).toString("hex")}`;
  const parts: Uint8Array[] = [];
  const quote = (text: string): string =>
    text.replace(/["\r\n]/g, (char) => encodeURIComponent(char));
  for (const [name, value] of Object.entries(form ?? {})) {
    for (const each of typeof value === "string" ? [value] : value) {
      parts.push(
        encoder.encode(
          `--${boundary}\r\nContent-Disposition: form-data; name="${quote(name)}"\r\n\r\n${each}\r\n`,
        ),
      );
    }
  }
  for (const [name, value] of Object.entries(files)) {
    for (const file of Array.isArray(value)
      ? (value as readonly TestFile[])
      : [value as TestFile]) {
      parts.push(
        encoder.encode(
          `--${boundary}\r\nContent-Disposition: form-data; name="${quote(name)}"; filename="${quote(file.filename)}"\r\nContent-Type: ${file.contentType ?? "application/octet-stream"}\r\n\r\n`,
        ),
        typeof file.content === "string" ? encoder.encode(file.content) : file.content,
        encoder.encode("\r\n"),
      );
    }
  }
  parts.push(encoder.encode(`--${boundary}--\r\n`));
  return [`multipart/form-data; boundary=${boundary}`, Buffer.concat(parts)];
}

/**
 * Sends requests to an app in-process, with a cookie jar.
 *
 * @example
 * const client = app.testClient();
 * const res = await client.post("/login", { form: { user: "ada" } });
 * assert.equal(res.status, 302);
 */
export class TestClient {
  readonly #cookies = new Map<string, StoredCookie>();
  /** The context of the last request handled, when it had one. */
  #context: RequestContext | undefined;
  #sent = false;

  constructor(private readonly app: TestableApp) {}

  /** Sends a request and reads the whole response (and follows redirects, if asked). */
  async request(
    method: string,
    path: string,
    options: TestRequestOptions = {},
  ): Promise<TestResponse> {
    let outgoing = outgoingRequest(method, path, options);
    let response = await this.#send(outgoing, []);
    if (options.followRedirects !== true) return response;
    const history: TestResponse[] = [];
    let location: string | undefined;
    while (REDIRECTS.has(response.status) && (location = response.headers.get("location"))) {
      if (history.length === MAX_REDIRECTS) {
        throw new CarafeError(
          "ERR_TOO_MANY_REDIRECTS",
          `${outgoingName(method, path)}: followed ${MAX_REDIRECTS} redirects without reaching a final response (the last: ${response.status} to ${location}); a redirect loop? Send the request without followRedirects to see the first redirect`,
        );
      }
      history.push(response);
      outgoing = redirected(outgoing, response.status, location);
      response = await this.#send(outgoing, [...history]);
    }
    return response;
  }

  async #send(outgoing: Outgoing, history: readonly TestResponse[]): Promise<TestResponse> {
    const { method, url, body } = outgoing;
    const headers = { ...outgoing.headers };
    const cookie = this.#cookieHeader(url);
    if (cookie) headers["cookie"] = headers["cookie"] ? `${headers["cookie"]}; ${cookie}` : cookie;
    const record = requestRecordOf(outgoing, headers);
    // The body reaches the app as a server would hand it over: not at all when routing answers
    // without a view, and not past the route's limit.
    const plan = this.app.planOf(method, url);
    if (body !== null) {
      const { read: mode, limit } = plan.body;
      const read = mode === "skip" ? null : await readBoundedBody([body], limit);
      record.body = read?.body ?? null;
      if (read?.tooLarge) record.bodyTooLarge = true;
    }
    this.#sent = true;
    this.#context = undefined;
    const response = await (this.app.handleForTest === undefined
      ? this.app.handle(record, plan)
      : this.app.handleForTest(record, plan, (context) => {
          this.#context = context;
        }));
    this.#storeCookies(response.headers);
    return new TestResponse(
      response.status,
      response.headers,
      await readBody(response),
      requestInfo(outgoing),
      history,
    );
  }

  /**
   * The session of the last request the client sent, as the request left it (Flask's `session`
   * inside `with client:`).
   *
   * @example
   * await client.post("/auth/login", { form: { username: "ada", password: "pw" } });
   * assert.equal(client.session.get("userId"), 1);
   */
  get session(): Session {
    return this.#lastContext("session").session;
  }

  /**
   * The `g` of the last request the client sent (Flask's `g` inside `with client:`).
   *
   * @example
   * await client.get("/");
   * assert.equal(client.g.user?.username, "ada");
   */
  get g(): AppGlobals {
    return this.#lastContext("g").g;
  }

  #lastContext(name: string): RequestContext {
    if (this.app.handleForTest === undefined) {
      throw new CarafeError(
        "ERR_TEST_CLIENT",
        `client.${name} needs a Carafe app (app.testClient()); this client sends to an app that only handles records`,
      );
    }
    if (this.#context === undefined) {
      throw new CarafeError(
        "ERR_NO_TEST_REQUEST",
        this.#sent
          ? `client.${name}: the last request was refused before it had a request context (an untrusted Host is answered 400 first)`
          : `client.${name} is the ${name} of the last request the client sent, and it has sent none yet; send a request first (or prepare the session with client.sessionTransaction())`,
      );
    }
    return this.#context;
  }

  /**
   * Opens the session the client's cookie holds and hands it to `fn`, which may read and change
   * it; the cookie is then saved in the client's jar, as a response would set it (Flask's
   * `with client.session_transaction() as session:`). Needs the app's `secretKey`.
   *
   * @example
   * await client.sessionTransaction((session) => session.set("userId", 1));
   * const res = await client.get("/create"); // logged in
   */
  async sessionTransaction<T>(fn: (session: Session) => T | Promise<T>): Promise<T> {
    if (this.app.testSessionTransaction === undefined) {
      throw new CarafeError(
        "ERR_TEST_CLIENT",
        "client.sessionTransaction() needs a Carafe app (app.testClient()); this client sends to an app that only handles records",
      );
    }
    const [result, headers] = await this.app.testSessionTransaction(
      (path) => this.#cookieHeader(path),
      fn,
    );
    this.#storeCookies(headers);
    return result;
  }

  get(path: string, options?: TestRequestOptions): Promise<TestResponse> {
    return this.request("GET", path, options);
  }
  head(path: string, options?: TestRequestOptions): Promise<TestResponse> {
    return this.request("HEAD", path, options);
  }
  options(path: string, options?: TestRequestOptions): Promise<TestResponse> {
    return this.request("OPTIONS", path, options);
  }
  post(path: string, options?: TestRequestOptions): Promise<TestResponse> {
    return this.request("POST", path, options);
  }
  put(path: string, options?: TestRequestOptions): Promise<TestResponse> {
    return this.request("PUT", path, options);
  }
  patch(path: string, options?: TestRequestOptions): Promise<TestResponse> {
    return this.request("PATCH", path, options);
  }
  delete(path: string, options?: TestRequestOptions): Promise<TestResponse> {
    return this.request("DELETE", path, options);
  }

  /** The value of a cookie in the jar, or `undefined`. */
  getCookie(name: string): string | undefined {
    const cookie = this.#cookies.get(name);
    if (cookie === undefined) return undefined;
    if (cookie.expires !== null && cookie.expires <= Date.now()) {
      this.#cookies.delete(name);
      return undefined;
    }
    return cookie.value;
  }

  /** Puts a cookie in the jar, as if a response had set it. */
  setCookie(name: string, value: string, path = "/"): void {
    this.#cookies.set(name, { value, path, expires: null });
  }

  #cookieHeader(url: string): string {
    const path = url.split("?")[0] ?? "/";
    const pairs: string[] = [];
    for (const [name, cookie] of this.#cookies) {
      if (this.getCookie(name) === undefined) continue;
      if (
        path === cookie.path ||
        path.startsWith(cookie.path.endsWith("/") ? cookie.path : `${cookie.path}/`)
      ) {
        pairs.push(`${name}=${cookie.value}`);
      }
    }
    return pairs.join("; ");
  }

  #storeCookies(headers: readonly string[]): void {
    for (let i = 0; i < headers.length; i += 2) {
      if ((headers[i] as string).toLowerCase() !== "set-cookie") continue;
      const [pair = "", ...attributes] = (headers[i + 1] as string).split(";");
      const eq = pair.indexOf("=");
      if (eq < 0) continue;
      const name = pair.slice(0, eq).trim();
      const cookie: StoredCookie = { value: pair.slice(eq + 1).trim(), path: "/", expires: null };
      for (const attribute of attributes) {
        const [key = "", value = ""] = attribute.split("=").map((part) => part.trim());
        const lower = key.toLowerCase();
        if (lower === "path") cookie.path = value || "/";
        else if (lower === "max-age") cookie.expires = Date.now() + Number(value) * 1000;
        else if (lower === "expires" && cookie.expires === null) cookie.expires = Date.parse(value);
      }
      if (cookie.expires !== null && cookie.expires <= Date.now()) this.#cookies.delete(name);
      else this.#cookies.set(name, cookie);
    }
  }
}

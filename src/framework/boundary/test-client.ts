// The test client: sends requests straight into an app's `handle` (the same record boundary a
// server uses), without a socket, and keeps cookies between requests like a browser.

import { Buffer } from "node:buffer";
import { randomBytes } from "node:crypto";
import { HeaderMap } from "../http/datastructures.ts";
import { readBoundedBody } from "./body-reader.ts";
import type { RecordHandler, RequestRecord, ResponseRecord } from "./records.ts";

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
}

/** A response received by the test client, its body read whole. */
export class TestResponse {
  readonly headers: HeaderMap;
  constructor(
    readonly status: number,
    headers: readonly string[],
    /** The body bytes. */
    readonly body: Uint8Array,
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

  constructor(private readonly app: RecordHandler) {}

  /** Sends a request and reads the whole response. */
  async request(
    method: string,
    path: string,
    options: TestRequestOptions = {},
  ): Promise<TestResponse> {
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
    const cookie = this.#cookieHeader(url);
    if (cookie) headers["cookie"] = headers["cookie"] ? `${headers["cookie"]}; ${cookie}` : cookie;
    const record: RequestRecord = {
      method: method.toUpperCase(),
      url,
      headers,
      body,
      remoteAddress: options.remoteAddress ?? "127.0.0.1",
      scheme: options.scheme ?? "http",
    };
    // The body reaches the app as a server would hand it over: not at all when routing answers
    // without a view, and not past the route's limit.
    const plan = this.app.planOf(record.method, url);
    if (body !== null) {
      const { read: mode, limit } = plan.body;
      const read = mode === "skip" ? null : await readBoundedBody([body], limit);
      record.body = read?.body ?? null;
      if (read?.tooLarge) record.bodyTooLarge = true;
    }
    const response = await this.app.handle(record, plan);
    this.#storeCookies(response.headers);
    return new TestResponse(response.status, response.headers, await readBody(response));
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

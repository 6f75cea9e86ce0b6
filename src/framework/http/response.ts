// The response object and the conversions from what a handler returns (text, JSON-able values,
// bytes, streams, web Responses) into it, then into a ResponseRecord.

import { Buffer } from "node:buffer";
import { serializeCookie, type CookieOptions } from "./cookies.ts";
import { HeaderMap, type HeadersInit } from "./datastructures.ts";
import { CarafeError, HTTPException, HTTP_EXCEPTIONS, STATUS_PHRASES } from "../errors.ts";
import type { BodyChunk, BodyStream, ResponseRecord } from "../boundary/records.ts";
import type { Request } from "./request.ts";

/** A body a `Response` can hold. */
export type ResponseBody = BodyChunk | BodyStream | Iterable<BodyChunk> | null;

/** Options of `new Response`. */
export interface ResponseInit {
  status?: number;
  headers?: HeadersInit;
  /** Shorthand for the Content-Type's media type; `charset=utf-8` is added to `text/*`. */
  mimetype?: string;
}

/**
 * What a data key that shares its name with a method may hold: anything but a function. It
 * lets `{ has: true }` through while refusing a `Map`'s or a `WeakSet`'s `has()`.
 */
type NotAMethod =
  | string
  | number
  | boolean
  | null
  | undefined
  | readonly unknown[]
  | (object & { readonly call?: never });

/**
 * An object a handler may return to send it as JSON: a plain object, typed by an interface, a
 * type alias or a literal. TypeScript cannot say "an object literal" without refusing every
 * interface (an index signature would), so this type refuses the objects JSON mangles that
 * it can recognise: a `Map` or `Set` (sent as `{}`), a `WeakMap`, a `Date`, a function, an
 * iterable of anything but text or bytes, a promise of one of these. The run-time check refuses
 * the rest: anything but a plain object (`{…}` or `Object.create(null)`) is a 500 that names the
 * view. A class instance with methods goes through `json(value)`, which sends anything
 * `JSON.stringify` accepts.
 */
export type JsonObject =
  | (object & {
      readonly [Symbol.iterator]?: never;
      readonly [Symbol.asyncIterator]?: never;
      readonly then?: NotAMethod;
      readonly bind?: NotAMethod;
      readonly has?: NotAMethod;
      readonly getTime?: NotAMethod;
    })
  // An object literal's keys are all "known" here, so TypeScript's excess-property check
  // lets `return { id: 1 }` through from a function declared to return a ResponseValue.
  | { readonly [key: string]: JsonValue };

/**
 * A value sent as JSON. An array's items are checked; an object's properties are not (see
 * `JsonObject`), so `{ users: new Map() }` compiles and sends `{ "users": {} }`.
 */
export type JsonValue =
  string | number | boolean | null | undefined | readonly JsonValue[] | JsonObject;

/**
 * A body streamed as it is produced: a generator or async generator of text or bytes, or a web
 * `ReadableStream`. A `Set` of strings is iterable too but is not a stream; `has` keeps it out.
 */
export type StreamValue = (Iterable<BodyChunk> | AsyncIterable<BodyChunk>) & {
  readonly has?: never;
};

/**
 * Anything a handler may return: text (sent as HTML), a plain object or an array (JSON),
 * bytes (`Uint8Array`, `Buffer`), a stream, a `Response` or a web `Response`. A Flask tuple
 * `[body, status]` is an array, so JSON: use `makeResponse(body, status, headers)`. Returning
 * anything else (`null`, a number, a `Map`, a class instance) fails to compile where TypeScript
 * can tell, and is a 500 with a logged `CarafeError` (`ERR_BAD_RESPONSE`) naming the view.
 *
 * @example
 * app.get("/user/<int:id>", (req) => ({ id: req.params.id, tags: ["admin"] }));
 */
export type ResponseValue =
  | string
  | Uint8Array
  | Response
  | globalThis.Response
  | StreamValue
  | readonly JsonValue[]
  | JsonObject;

const HTML = "text/html; charset=utf-8";
const encoder = new TextEncoder();

/** The Content-Type for a media type: text types get `charset=utf-8`. */
function contentTypeFor(mimetype: string): string {
  return mimetype.startsWith("text/") ||
    mimetype === "application/javascript" ||
    mimetype === "application/xml"
    ? `${mimetype}; charset=utf-8`
    : mimetype;
}

function isAsyncIterable(value: object): value is AsyncIterable<BodyChunk> {
  return typeof (value as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === "function";
}

function isIterable(value: object): value is Iterable<BodyChunk> {
  return typeof (value as Partial<Iterable<unknown>>)[Symbol.iterator] === "function";
}

async function* fromIterable(iterable: Iterable<BodyChunk>): AsyncGenerator<BodyChunk> {
  yield* iterable;
}

/**
 * An HTTP response: status, headers, body. Return one from a handler when the default
 * conversions (string → HTML, object → JSON) are not what you need.
 *
 * @example
 * return new Response("id,name\n1,Ada\n", { status: 200, mimetype: "text/csv" });
 */
export class Response {
  status: number;
  readonly headers: HeaderMap;
  body: BodyChunk | BodyStream | null;

  constructor(body: ResponseBody = null, init: ResponseInit = {}) {
    this.status = init.status ?? 200;
    this.headers = new HeaderMap(init.headers);
    if (
      body !== null &&
      typeof body === "object" &&
      !(body instanceof Uint8Array) &&
      !isAsyncIterable(body)
    ) {
      this.body = fromIterable(body);
    } else {
      this.body = body;
    }
    if (init.mimetype !== undefined)
      this.headers.set("Content-Type", contentTypeFor(init.mimetype));
    else if (body !== null && !this.headers.has("Content-Type"))
      this.headers.set("Content-Type", HTML);
  }

  /** The Content-Type header, or `undefined`. */
  get contentType(): string | undefined {
    return this.headers.get("Content-Type");
  }

  set contentType(value: string) {
    this.headers.set("Content-Type", value);
  }

  /** The media type without parameters (`text/html`). */
  get mimetype(): string {
    return (this.contentType ?? "").split(";")[0]?.trim() ?? "";
  }

  /**
   * The body as text, when it is not a stream (handy in tests and `afterRequest` hooks). A
   * method, as on `Request` and `TestResponse`; it returns at once, unlike the web `Response`'s.
   */
  text(): string {
    if (this.body === null) return "";
    if (typeof this.body === "string") return this.body;
    if (this.body instanceof Uint8Array) return Buffer.from(this.body).toString("utf8");
    throw new CarafeError(
      "ERR_STREAMED_BODY",
      "response.text(): the body is a stream, which can be read only once, by the server; read it in the stream's own code",
    );
  }

  /** The body parsed as JSON, when it is not a stream (Werkzeug's `response.json`). */
  json<T = unknown>(): T {
    return JSON.parse(this.text()) as T;
  }

  /**
   * Adds a `Set-Cookie` header. A value beyond RFC 6265's characters is quoted with
   * Werkzeug's backslash escapes and read back as it was; one with a control character throws.
   *
   * @example
   * res.setCookie("theme", "dark", { maxAge: 3600, httpOnly: true, sameSite: "Lax" });
   */
  setCookie(name: string, value: string, options: CookieOptions = {}): this {
    this.headers.append("Set-Cookie", serializeCookie(name, value, options));
    return this;
  }

  /** Tells the client to drop a cookie (same `path` and `domain` as when it was set). */
  deleteCookie(name: string, options: Omit<CookieOptions, "maxAge" | "expires"> = {}): this {
    return this.setCookie(name, "", { ...options, maxAge: 0, expires: new Date(0) });
  }

  /** Turns this response into the record a server writes; `method` is the request's. @internal */
  toRecord(method: string): ResponseRecord {
    const headers = this.headers;
    let body = this.body;
    const status = this.status;
    if (status === 204 || status === 304 || (status >= 100 && status < 200)) {
      closeStream(body);
      headers.delete("Content-Length");
      if (status === 204) headers.delete("Content-Type");
      return { status, headers: headers.toFlat(), body: null };
    }
    if (typeof body === "string") {
      if (!headers.has("Content-Length")) headers.set("Content-Length", Buffer.byteLength(body));
    } else if (body instanceof Uint8Array) {
      if (!headers.has("Content-Length")) headers.set("Content-Length", body.byteLength);
    } else if (body === null) {
      if (!headers.has("Content-Length")) headers.set("Content-Length", 0);
    }
    if (method === "HEAD") {
      closeStream(body);
      body = null;
    }
    return { status, headers: headers.toFlat(), body };
  }
}

function closeStream(body: BodyChunk | BodyStream | null): void {
  if (body === null || typeof body === "string" || body instanceof Uint8Array) return;
  if (body.cancel) body.cancel();
  else void (body as AsyncIterable<BodyChunk> & { return?: () => unknown }).return?.();
}

/**
 * `encode(value)` (`JSON.stringify` by default), or a `CarafeError` (`ERR_NOT_JSON`) that says
 * why `value` has no JSON text. @internal
 */
export function encodeJson(
  value: unknown,
  encode: (value: unknown) => string | undefined = JSON.stringify,
): string {
  let text: string | undefined;
  try {
    text = encode(value);
  } catch (error) {
    throw new CarafeError(
      "ERR_NOT_JSON",
      `the value cannot be sent as JSON (${(error as Error).message}); remove cycles and BigInts, or convert them first`,
      { cause: error },
    );
  }
  if (text === undefined) {
    throw new CarafeError(
      "ERR_NOT_JSON",
      `${String(value)} has no JSON form; pass an object, an array, a string, a number, a boolean or null`,
    );
  }
  return text;
}

/**
 * How JSON responses are made: the app's `app.json` (a `JsonProvider`), or `PLAIN_JSON` where
 * there is no app. @internal
 */
export interface JsonEncoding {
  /**
   * Whether responses are `JSON.stringify`'s text sent as `application/json` (the defaults,
   * nothing overridden): the record is then built without asking the encoding.
   */
  readonly isPlain: boolean;
  /** The media type of JSON responses. */
  readonly mimetype: string;
  /** The body `response(value)` sends, or `undefined` when it cannot say without making it. */
  responseText(value: unknown): string | undefined;
  /** A JSON response of `value`. */
  response(value: unknown, status?: number): Response;
}

/** JSON as `app.json` sends it with its defaults: for responses made without an app. @internal */
export const PLAIN_JSON: JsonEncoding = {
  isPlain: true,
  mimetype: "application/json",
  responseText: (value) => encodeJson(value),
  response: (value, status = 200) =>
    new Response(encodeJson(value), { status, mimetype: "application/json" }),
};

/**
 * A redirect to `location` (302 by default; 301, 303, 307 and 308 also make sense).
 *
 * @example
 * return redirect(urlFor("login"));
 */
export function redirect(location: string, status = 302): Response {
  if (/[\r\n]/.test(location)) {
    throw new CarafeError(
      "ERR_BAD_HEADER",
      `redirect(${JSON.stringify(location)}): a location with a line break would split the headers; encode the URL (encodeURI) first`,
    );
  }
  const escaped = location.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
  const response = new Response(
    `<!doctype html>\n<title>Redirecting</title>\n<p>Redirecting to <a href="${escaped}">${escaped}</a>.</p>\n`,
    { status },
  );
  response.headers.set("Location", location);
  return response;
}

/** An HTTPException that carries a ready response (`abort(response)`). */
class AbortResponse extends HTTPException {
  override readonly status: number;
  constructor(readonly response: Response) {
    super("aborted with a response");
    this.status = response.status;
  }
}

/**
 * Stops the request with an HTTP error (or a ready response).
 *
 * @example
 * if (!user) abort(404, `No user ${id}.`);
 */
export function abort(status: number | Response, description?: string): never {
  if (status instanceof Response) throw new AbortResponse(status);
  const ErrorClass = HTTP_EXCEPTIONS.get(status);
  if (ErrorClass === undefined) {
    throw new CarafeError(
      "ERR_ABORT_STATUS",
      `abort(${status}): no HTTP error class for that status; use an error status (4xx/5xx) Carafe knows, or abort(response)`,
    );
  }
  throw new ErrorClass(description);
}

/** Escapes text for HTML. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/** The response for an HTTP exception: an HTML page, or JSON when the client prefers it. */
export function exceptionResponse(error: HTTPException, wantsJson: boolean): Response {
  if (error instanceof AbortResponse) return error.response;
  const code = error.status;
  const phrase = STATUS_PHRASES[code] ?? "Error";
  const response = wantsJson
    ? PLAIN_JSON.response(
        { error: { status: code, name: phrase, description: error.description } },
        code,
      )
    : new Response(
        `<!doctype html>\n<html lang="en">\n<title>${code} ${phrase}</title>\n<h1>${phrase}</h1>\n<p>${escapeHtml(error.description)}</p>\n</html>\n`,
        { status: code },
      );
  for (const [name, value] of Object.entries(error.headers)) response.headers.set(name, value);
  return response;
}

/** Whether the `Accept` header asks for JSON rather than HTML. */
export function prefersJson(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.includes("application/json") && !accept.includes("text/html");
}

/**
 * The record for the two values most handlers return, text (HTML) and a plain JSON object or
 * array (encoded by `json`, the app's `app.json`), built without a `Response`: the same status,
 * headers and body as `toResponse(value, …, json).toRecord(method)`. `null` for any other
 * value, for a value JSON cannot encode, and where `json` needs its `response`, so that
 * `toResponse` handles (or reports) it. @internal
 */
export function plainRecord(
  value: unknown,
  method: string,
  json: JsonEncoding = PLAIN_JSON,
): ResponseRecord | null {
  let type: string;
  let text: string | undefined;
  if (typeof value === "string") {
    type = HTML;
    text = value;
  } else if (isPlainJson(value)) {
    const plain = json.isPlain;
    type = plain ? "application/json" : contentTypeFor(json.mimetype);
    try {
      text = plain ? JSON.stringify(value) : json.responseText(value);
    } catch {
      return null;
    }
    if (text === undefined) return null;
  } else return null;
  return {
    status: 200,
    headers: ["Content-Type", type, "Content-Length", String(Buffer.byteLength(text))],
    body: method === "HEAD" ? null : text,
  };
}

/** Whether `toResponse` would send `value` as JSON: an array, or a plain object that is not iterable. */
function isPlainJson(value: unknown): value is object {
  if (typeof value !== "object" || value === null) return false;
  if (Array.isArray(value)) return true;
  return isPlainObject(value) && !isIterable(value) && !isAsyncIterable(value);
}

/** An object literal or `Object.create(null)`: what JSON sends as the handler meant it. */
function isPlainObject(value: object): boolean {
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** What a value is, for an error message: `a Map`, `a Point`, `a number (42)`, `null`. */
function describeValue(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === "function") return "a function";
  if (typeof value !== "object") return `a ${typeof value} (${String(value)})`;
  const name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)
    ?.constructor?.name;
  return typeof name === "string" && name !== "" ? `a ${name}` : "an object";
}

const RETURN_ONE_OF =
  "return a string, a plain object or an array (JSON), bytes, a stream or a Response";

/** `the view for GET /user/<int:id> (endpoint 'user') returned`: who gave a value. @internal */
export function viewReturned(request: Request): string {
  const endpoint = request.endpoint === undefined ? "" : ` (endpoint '${request.endpoint}')`;
  return `the view for ${request.method} ${request.rule ?? request.path}${endpoint} returned`;
}

/**
 * The conversion rules from a returned value to a `Response`; anything else throws a
 * `CarafeError` (`ERR_BAD_RESPONSE`) whose message starts with `where`, who gave the value.
 */
export function toResponse(
  value: unknown,
  where = "the handler returned",
  json: JsonEncoding = PLAIN_JSON,
): Response {
  if (typeof value === "string") return new Response(value);
  if (value instanceof Response) return value;
  if (typeof value !== "object" || value === null) {
    throw new CarafeError("ERR_BAD_RESPONSE", `${where} ${describeValue(value)}; ${RETURN_ONE_OF}`);
  }
  if (value instanceof Uint8Array)
    return new Response(value, { mimetype: "application/octet-stream" });
  if (Array.isArray(value)) return jsonFrom(value, where, json);
  if (value instanceof globalThis.Response) {
    const response = new Response((value.body as BodyStream | null) ?? null, {
      status: value.status,
    });
    response.headers.delete("Content-Type");
    value.headers.forEach((each, name) => {
      if (name !== "set-cookie") response.headers.append(name, each);
    });
    for (const cookie of value.headers.getSetCookie())
      response.headers.append("Set-Cookie", cookie);
    return response;
  }
  if (
    isAsyncIterable(value) ||
    (isIterable(value) && !(value instanceof Map) && !(value instanceof Set))
  ) {
    return new Response(value as BodyStream);
  }
  if (isPlainObject(value)) return jsonFrom(value, where, json);
  // JSON would send a Map or a Set as `{}`: say how to convert one, and point a class instance
  // (which JSON sends by its fields or its toJSON) to json(), which sends it as it is.
  const hint =
    value instanceof Map
      ? " (Object.fromEntries(map) makes a plain object of a Map)"
      : value instanceof Set
        ? " ([...set] makes an array of a Set)"
        : " (json(value) sends anything JSON.stringify accepts, toJSON included)";
  throw new CarafeError(
    "ERR_BAD_RESPONSE",
    `${where} ${describeValue(value)}; ${RETURN_ONE_OF}${hint}`,
  );
}

/** `json.response(value)`, its failure told as the view's. */
function jsonFrom(value: object, where: string, json: JsonEncoding): Response {
  try {
    return json.response(value);
  } catch (error) {
    throw new CarafeError(
      "ERR_BAD_RESPONSE",
      `${where} a value JSON cannot encode: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** A body chunk as bytes. @internal */
export function encodeChunk(chunk: BodyChunk): Uint8Array {
  return typeof chunk === "string" ? encoder.encode(chunk) : chunk;
}

// The framework's boundary: one plain, cloneable record in each direction.
// A server builds a RequestRecord from its socket and writes the ResponseRecord back; a pool
// thread receives the same records by structured clone (body bytes transferred, not copied).

/** A chunk of a streamed body. */
export type BodyChunk = Uint8Array | string;

/** A response body that is produced while it is being sent. */
export type BodyStream = AsyncIterable<BodyChunk> & {
  /** Stops the producer early (the client went away, or the method was HEAD). */
  cancel?: () => void;
};

/** One HTTP request as plain data: what a server hands to the app. */
export interface RequestRecord {
  /** Upper-case method: `GET`, `POST`, … */
  method: string;
  /** The request target as sent: path and query string, still percent-encoded. */
  url: string;
  /** Header names in lower case; repeated headers joined with `, ` (`cookie` with `; `). */
  headers: Record<string, string>;
  /** The whole body, or `null` when the request has none. */
  body: Uint8Array | null;
  /** The peer's IP address. */
  remoteAddress: string;
  /** `https` when the connection (or a trusted proxy) says so. */
  scheme: "http" | "https";
  /** Set by the server when the body exceeded its limit (`maxContentLength`) and was not read. */
  bodyTooLarge?: boolean;
  /**
   * The request's id (`request.id`): a trusted proxy's X-Request-ID, or one made for it. A
   * server sets it before the record crosses to a thread; otherwise it is made on first use.
   */
  id?: string;
}

/** One HTTP response as plain data: what the app hands back to a server. */
export interface ResponseRecord {
  status: number;
  /** Flat list of header names and values: `[name, value, name, value, …]`. */
  headers: string[];
  /** `null` for no body (HEAD, 204, 304), bytes or text, or a stream. */
  body: BodyChunk | BodyStream | null;
}

/**
 * The response side of a request's connection, which a server on the event loop passes beside
 * the record (it cannot cross a thread); `request.signal` listens on it. A node:http
 * `ServerResponse` is one.
 */
export interface ClientConnection {
  /** Whether the whole response has been handed over. */
  readonly writableFinished: boolean;
  /** Whether the connection has closed already. */
  readonly destroyed: boolean;
  /** Runs `listener` when the exchange ends: the response is complete, or the client left. */
  once(event: "close", listener: () => void): unknown;
}

/**
 * How a server reads one request's body, as the request's route decides it (Flask reads a body
 * only when the view asks; a server has to decide before the view runs).
 */
export interface BodyPlan {
  /**
   * `"skip"`: routing answers without a view (404, 405, a slash redirect, OPTIONS), so no byte
   * of the body is read and the connection closes after the answer. `"stream"`: the route reads
   * the body as it arrives (`streamBody: true`). `"buffer"`: the body is read into memory first.
   */
  readonly read: "skip" | "stream" | "buffer";
  /** Most body bytes accepted (413 above them); `null` only where a route says so. */
  readonly limit: number | null;
}

/** The plan of a request that routing answers without a view: its body is never read. */
export const SKIP_BODY: BodyPlan = Object.freeze({ read: "skip", limit: 0 });

/** Where a request's whole pipeline runs (DESIGN.md, "What runs where"). */
export type Placement = "loop" | "thread";

/**
 * What an app decides about one request before a server reads it: the rule it matched, where
 * it runs, how its body is read. A server asks for it once per request (`planOf`) and hands it
 * back to `handle`, so the request is routed once; nothing of it is kept in the app.
 */
export interface RoutePlan {
  /** The matched rule (`/user/<int:id>`), or `null`: no route matched, or the app names none. */
  readonly rule: string | null;
  /** On the event loop, or on a pool thread (only ever `thread` when the server has threads). */
  readonly placement: Placement;
  /** How the server reads the request's body. */
  readonly body: BodyPlan;
}

/**
 * The base of the contract between a server and the app it runs: the record-to-record function
 * and the plan that comes before it. Any object with `fetch`, wrapped by the server, has this.
 */
export interface RecordHandler {
  /**
   * The plan for a request to `url` (the target as sent: origin- or absolute-form). `threaded`:
   * the server runs unmarked synchronous handlers on threads (`--threads N`).
   */
  planOf(method: string, url: string, threaded?: boolean): RoutePlan;
  /**
   * Handles one request. `plan` is what `planOf` gave for it (planned again when absent);
   * `connection`, when given, lets the app notice a client that leaves early; `bodyStream` is
   * the body still arriving, for a route whose plan streams it (the record's `body` is `null`).
   */
  handle(
    record: RequestRecord,
    plan?: RoutePlan,
    connection?: ClientConnection,
    bodyStream?: AsyncIterable<Uint8Array>,
  ): ResponseRecord | Promise<ResponseRecord>;
}

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
  /** Set by the server when the body exceeded `maxContentLength` and was not read. */
  bodyTooLarge?: boolean;
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

/** What a server needs of an app: the record-to-record function and a few limits. */
export interface RecordHandler {
  /**
   * `connection`, when given, lets the app notice a client that leaves early; `bodyStream` is
   * the body still arriving, for a route that reads it so (the record's `body` is then `null`).
   */
  handle(
    record: RequestRecord,
    connection?: ClientConnection,
    bodyStream?: AsyncIterable<Uint8Array>,
  ): ResponseRecord | Promise<ResponseRecord>;
  /** Largest accepted request body in bytes, or `null` for no limit. */
  readonly maxContentLength: number | null;
}

// The HTTP edge cases of test/fixtures/http/ (see its README): reading a `.http` file into the
// bytes to send and the outcome it expects, and a raw TCP client that sends them and counts the
// responses that come back.

import { Buffer } from "node:buffer";
import { readdirSync, readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";

/** One `.http` file: the bytes to send and what the server must do with them. */
export interface HttpCase {
  /** The file's name, e.g. `smuggling-cl-te.http`. */
  file: string;
  bytes: Buffer;
  /** The status of each response, in order; empty when the server must answer nothing. */
  statuses: number[];
  /** Whether the server must close the connection after those responses, or serve a next request. */
  connection: "close" | "keep-alive";
  /** Text the responses must contain. */
  bodyIncludes: string[];
}

/** The request sent after a case's responses: answered only on a connection still kept. */
export const FOLLOW_UP = Buffer.from(
  "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
);

const ESCAPE = /\\(?:x([0-9a-fA-F]{2})|(.))/gs;
const ESCAPED: Record<string, string> = { r: "\r", n: "\n", t: "\t", "0": "\0" };

/** The bytes a case's lines stand for: newlines dropped, escapes decoded (as gunicorn's files). */
function decodeBytes(file: string, lines: string[]): Buffer {
  const text = lines.join("").replace(ESCAPE, (_, hex: string | undefined, char: string) => {
    if (hex !== undefined) return String.fromCharCode(parseInt(hex, 16));
    const decoded = ESCAPED[char];
    if (decoded === undefined) throw new Error(`${file}: unknown escape '\\${char}'`);
    return decoded;
  });
  return Buffer.from(text, "latin1");
}

/** Reads one case; a file that does not say what it expects is an error naming it. */
export function parseCase(file: string, source: string): HttpCase {
  const lines = source.replace(/\n$/, "").split("\n");
  const first = lines.findIndex((line) => !line.startsWith("#"));
  const header = lines.slice(0, first < 0 ? lines.length : first);
  const fields = new Map<string, string[]>();
  for (const line of header) {
    const match = /^#\s*(status|connection|body-includes):\s*(.*)$/.exec(line);
    if (match)
      fields.set(match[1] as string, [
        ...(fields.get(match[1] as string) ?? []),
        match[2] as string,
      ]);
  }
  const status = fields.get("status")?.[0];
  const connection = fields.get("connection")?.[0];
  if (status === undefined || !/^(none|\d{3}( \d{3})*)$/.test(status)) {
    throw new Error(`${file}: needs '# status: CODE [CODE …]' or '# status: none'`);
  }
  if (connection !== "close" && connection !== "keep-alive") {
    throw new Error(`${file}: needs '# connection: close' or '# connection: keep-alive'`);
  }
  return {
    file,
    bytes: decodeBytes(file, first < 0 ? [] : lines.slice(first)),
    statuses: status === "none" ? [] : status.split(" ").map(Number),
    connection,
    bodyIncludes: fields.get("body-includes") ?? [],
  };
}

/** Every `.http` case in `dir`, by file name. */
export function readCases(dir: string): HttpCase[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith(".http"))
    .sort()
    .map((file) => parseCase(file, readFileSync(join(dir, file), "latin1")));
}

/** One response read off the wire. */
export interface RawResponse {
  status: number;
  text: string;
}

/** Where the chunked body starting at `at` ends, or -1 when it has not all arrived. */
function chunkedEnd(text: string, at: number): number {
  for (;;) {
    const lineEnd = text.indexOf("\r\n", at);
    if (lineEnd < 0) return -1;
    const size = parseInt(text.slice(at, lineEnd), 16);
    if (size === 0) {
      const end = text.indexOf("\r\n\r\n", lineEnd);
      return end < 0 ? -1 : end + 4;
    }
    at = lineEnd + 2 + size + 2;
    if (at > text.length) return -1;
  }
}

/**
 * The complete responses in `text` (latin1), in order. A response framed by neither
 * Content-Length nor chunks ends when the connection does, so it counts only once `closed`.
 * (No case sends HEAD, whose responses would announce a body they do not have.)
 */
export function parseResponses(text: string, closed: boolean): RawResponse[] {
  const responses: RawResponse[] = [];
  let at = 0;
  while (at < text.length) {
    const headEnd = text.indexOf("\r\n\r\n", at);
    if (headEnd < 0) break;
    const head = text.slice(at, headEnd).split("\r\n");
    const status = Number(/^HTTP\/1\.[01] (\d{3}) /.exec(head[0] as string)?.[1] ?? 0);
    const field = (name: string): string | undefined =>
      head
        .find((line) => line.toLowerCase().startsWith(`${name}:`))
        ?.slice(name.length + 1)
        .trim();
    const length = field("content-length");
    const bodyStart = headEnd + 4;
    let end: number;
    if ((status >= 100 && status < 200) || status === 204 || status === 304) end = bodyStart;
    else if (field("transfer-encoding")?.toLowerCase() === "chunked") {
      end = chunkedEnd(text, bodyStart);
    } else if (length !== undefined) end = bodyStart + Number(length);
    else end = closed ? text.length : -1;
    if (end < 0 || end > text.length) break;
    responses.push({ status, text: text.slice(at, end) });
    at = end;
  }
  return responses;
}

/** A raw TCP client that keeps every byte it receives. */
export class RawClient {
  readonly socket: Socket;
  readonly closed: Promise<void>;
  #received: Buffer[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    this.closed = new Promise((done) => socket.once("close", () => done()));
    socket.on("data", (chunk: Buffer) => this.#received.push(chunk));
    // A reset after the server refused a request (with its bytes unread) still closes cleanly.
    socket.on("error", () => {});
  }

  /** Connects to 127.0.0.1:`port`. */
  static connect(port: number): Promise<RawClient> {
    return new Promise((done, fail) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("error", fail);
      socket.once("connect", () => {
        socket.off("error", fail);
        done(new RawClient(socket));
      });
    });
  }

  /** Everything received so far, as latin1. */
  get text(): string {
    return Buffer.concat(this.#received).toString("latin1");
  }

  /** Writes `bytes` unless the connection can no longer take them. */
  write(bytes: Uint8Array): void {
    if (this.socket.writable) this.socket.write(bytes);
  }

  /** Resolves once `count` complete responses have arrived, or the connection closed. */
  responses(count: number): Promise<RawResponse[]> {
    return new Promise((done) => {
      // Registered after the constructor's listener, so the new chunk is already in `text`.
      const check = (): void => {
        const responses = parseResponses(this.text, false);
        if (responses.length < count) return;
        this.socket.off("data", check);
        done(responses);
      };
      this.socket.on("data", check);
      check();
      void this.closed.then(() => {
        this.socket.off("data", check);
        done(parseResponses(this.text, true));
      });
    });
  }
}

/** What the server did with a case: every response until it closed the connection. */
export interface CaseOutcome {
  statuses: number[];
  text: string;
}

/**
 * Sends a case's bytes on a new connection; once its responses have come, sends FOLLOW_UP, and
 * resolves when the server closes the connection.
 */
export async function runCase(port: number, httpCase: HttpCase): Promise<CaseOutcome> {
  const client = await RawClient.connect(port);
  client.write(httpCase.bytes);
  await client.responses(httpCase.statuses.length);
  client.write(FOLLOW_UP);
  await client.closed;
  const text = client.text;
  return { statuses: parseResponses(text, true).map((response) => response.status), text };
}

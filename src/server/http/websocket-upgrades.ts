// Design: WebSocket upgrades on the http loop. node:http hands an `Upgrade: websocket` request
// to the `upgrade` listener below; the app decides (its socket routes and beforeRequest hooks),
// and the `ws` library speaks the protocol of an accepted connection. A refusal is written on
// the raw socket as a plain HTTP response. Sockets stay on this process's event loop. One timer
// pings every open socket; a socket that has not answered the previous ping is a dead peer and
// is cut. Draining closes every socket with 1001 (going away).
//
// A traced upgrade is a SERVER span like a request's, named after its socket route, from the
// request's arrival until the handshake's answer: 101, or the refusal. The connection may live
// for hours, and a span is held in memory and exported only once it ends, so the span does not
// wait for it; the handler runs with the span active all the same, so the spans it starts, for
// as long as the socket lives, join the upgrade's trace as its children.

import { Buffer } from "node:buffer";
import { STATUS_CODES, ServerResponse, type IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { WebSocketServer, type RawData, type WebSocket as Peer } from "ws";
import type {
  EncodedText,
  Logger,
  RequestRecord,
  ResponseRecord,
  SocketDecision,
  SocketGate,
  SocketTransport,
  WebSocketMessage,
} from "../../framework/internal.ts";
import { hasNoBody, recordFromIncoming, refusalOf, type RequestLimits } from "./http-loop.ts";
import { internalServerError } from "./plain-response.ts";
import { epochMs, type RequestSpan, type RequestTracing } from "./tracing.ts";

/** Options of the upgrade listener. */
export interface UpgradeOptions {
  /** Rewrites the record from trusted proxy headers. */
  applyProxy?: (record: RequestRecord) => void;
  /** The server's request limits (414/431), which an upgrade request is held to as well. */
  limits?: RequestLimits;
  /** Milliseconds between keepalive pings; a peer silent for one interval is cut (default 25 s). */
  pingIntervalMs?: number;
  /**
   * The server's request listener: an upgrade to anything but WebSocket (`Upgrade: h2c`, say)
   * is an ordinary request to it, as it would be on a server without socket routes.
   */
  httpListener?: (request: IncomingMessage, response: ServerResponse) => void;
  /** Makes each upgrade the app sees a server span (OpenTelemetry); `null` or absent: none. */
  tracing?: RequestTracing | null;
}

/** The `upgrade` listener of a server, and the way to close its sockets. */
export interface Upgrades {
  listener: (request: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Closes every open socket (1001 by default), for a draining process. */
  closeAll(code?: number, reason?: string): void;
  /** How many sockets are open. */
  readonly open: number;
}

const TEXT_FRAME = Object.freeze({ binary: false });
const BINARY_FRAME = Object.freeze({ binary: true });

/**
 * Answers an upgrade request that is not for a WebSocket as an ordinary request: node:http
 * hands every upgrade request to the upgrade listener once there is one. The connection closes
 * after the answer (it left node:http's keep-alive handling). Its body, if any, was not parsed.
 */
function serveAsHttp(
  request: IncomingMessage,
  socket: Duplex,
  listener: NonNullable<UpgradeOptions["httpListener"]>,
): void {
  if (!hasNoBody(request)) {
    refuse(socket, {
      status: 400,
      headers: ["Content-Type", "text/plain; charset=utf-8"],
      body: `An upgrade to '${request.headers.upgrade ?? ""}' is not supported; send the request without Upgrade.\n`,
    });
    return;
  }
  const response = new ServerResponse(request);
  response.shouldKeepAlive = false;
  response.assignSocket(socket as Socket);
  response.once("finish", () => {
    response.detachSocket(socket as Socket);
    socket.end();
  });
  listener(request, response);
}

/** Writes `record` on the raw socket as an HTTP/1.1 response and closes it. */
function refuse(socket: Duplex, record: ResponseRecord): void {
  const body =
    typeof record.body === "string"
      ? Buffer.from(record.body)
      : record.body instanceof Uint8Array
        ? record.body
        : Buffer.alloc(0);
  let head = `HTTP/1.1 ${record.status} ${STATUS_CODES[record.status] ?? ""}\r\n`;
  for (let i = 0; i < record.headers.length; i += 2) {
    const name = record.headers[i] as string;
    if (name.toLowerCase() !== "content-length") head += `${name}: ${record.headers[i + 1]}\r\n`;
  }
  head += `Content-Length: ${body.byteLength}\r\nConnection: close\r\n\r\n`;
  socket.end(Buffer.concat([Buffer.from(head, "latin1"), body]));
}

/**
 * The last text message received and its bytes: an echo, or a broadcast of what just arrived,
 * sends those bytes again instead of encoding the same text anew. Any equal string has equal
 * bytes, so the check is exact.
 */
let lastText = "";
let lastBytes: Buffer = Buffer.alloc(0);

function messageOf(data: RawData, isBinary: boolean): string | Uint8Array {
  const bytes = Array.isArray(data)
    ? Buffer.concat(data)
    : data instanceof ArrayBuffer
      ? Buffer.from(data)
      : data;
  if (isBinary) return bytes;
  lastText = bytes.toString("utf8");
  lastBytes = bytes;
  return lastText;
}

/** Sends `data` on `peer`: text as a text frame (its bytes reused when known), bytes as binary. */
function sendOn(
  peer: Peer,
  data: WebSocketMessage | EncodedText,
  done: ((error?: Error) => void) | undefined,
): void {
  if (typeof data === "string") {
    peer.send(data === lastText ? lastBytes : data, TEXT_FRAME, done);
  } else if (data instanceof Uint8Array) peer.send(data, BINARY_FRAME, done);
  else peer.send(data.utf8, TEXT_FRAME, done);
}

/** Creates the `upgrade` listener that serves an app's WebSocket routes (its `sockets` part). */
export function createUpgrades(
  sockets: SocketGate,
  logger: Pick<Logger, "error">,
  options: UpgradeOptions = {},
): Upgrades {
  const pingIntervalMs = options.pingIntervalMs ?? 25_000;
  const tracing = options.tracing ?? null;
  const chosen = new WeakMap<IncomingMessage, string>();
  // One protocol server per message size limit (ws sets maxPayload per server).
  const servers = new Map<number, WebSocketServer>();
  const serverFor = (maxPayload: number): WebSocketServer => {
    let server = servers.get(maxPayload);
    if (server === undefined) {
      server = new WebSocketServer({
        noServer: true,
        clientTracking: false,
        perMessageDeflate: false,
        maxPayload,
        handleProtocols: (_offered, request) => chosen.get(request) || false,
      });
      servers.set(maxPayload, server);
    }
    return server;
  };
  const live = new Set<Peer>();
  const answered = new WeakSet<Peer>();
  let pinger: NodeJS.Timeout | undefined;
  const pingAll = (): void => {
    for (const peer of live) {
      if (!answered.has(peer)) {
        peer.terminate();
        continue;
      }
      answered.delete(peer);
      peer.ping();
    }
  };

  const accept = (
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    decision: Extract<SocketDecision, { kind: "accept" }>,
    span: RequestSpan | undefined,
  ): void => {
    if (decision.protocol !== "") chosen.set(request, decision.protocol);
    let upgraded = false;
    serverFor(decision.maxMessageSize).handleUpgrade(request, socket, head, (peer) => {
      upgraded = true;
      span?.end(101);
      const transport: SocketTransport = {
        get protocol() {
          return peer.protocol;
        },
        get bufferedAmount() {
          return peer.bufferedAmount;
        },
        send: (data, done) => sendOn(peer, data, done),
        close: (code, reason) => peer.close(code, reason),
        pause: () => peer.pause(),
        resume: () => peer.resume(),
      };
      live.add(peer);
      answered.add(peer);
      pinger ??= setInterval(pingAll, pingIntervalMs).unref();
      const ws =
        span === undefined ? decision.start(transport) : span.run(() => decision.start(transport));
      const deliver = (data: RawData, isBinary: boolean): void =>
        ws.deliver(messageOf(data, isBinary));
      // Messages come from the socket, outside the span: an event handler's spans need it given.
      peer.on(
        "message",
        span === undefined ? deliver : (data, isBinary) => span.run(() => deliver(data, isBinary)),
      );
      peer.on("pong", () => answered.add(peer));
      // A protocol error (an oversized message among them) closes the socket; `close` follows.
      peer.on("error", () => {});
      peer.on("close", (code, reason) => {
        live.delete(peer);
        if (live.size === 0 && pinger !== undefined) {
          clearInterval(pinger);
          pinger = undefined;
        }
        ws.ended(code, reason.toString("utf8"));
      });
    });
    // ws completes a handshake, or refuses it, before handleUpgrade returns: a method other than
    // GET with 405, a bad key, version or header with 400.
    if (!upgraded) span?.end(request.method === "GET" ? 400 : 405);
  };

  return {
    listener: (request, socket, head) => {
      socket.on("error", () => {});
      if (options.httpListener && request.headers.upgrade?.toLowerCase() !== "websocket") {
        serveAsHttp(request, socket, options.httpListener);
        return;
      }
      // node:http checks nothing of an upgrade request itself: the same checks as the loop's.
      const refused = refusalOf(request, options.limits);
      if (refused !== null) {
        refuse(socket, refused);
        return;
      }
      const record = recordFromIncoming(request, null, false);
      options.applyProxy?.(record);
      const span =
        tracing !== null && tracing.enabled()
          ? tracing.start(request, record, null, epochMs())
          : undefined;
      // The app's hooks decide under the span, so the spans they start are its children.
      const decided =
        span === undefined ? sockets.accept(record) : span.run(() => sockets.accept(record));
      decided.then(
        (decision) => {
          if (decision.rule !== null) span?.route(decision.rule);
          if (decision.kind === "accept") {
            accept(request, socket, head, decision, span);
            return;
          }
          refuse(socket, decision.response);
          span?.end(decision.response.status);
        },
        (error: unknown) => {
          logger.error("The app failed to decide a WebSocket upgrade", error);
          refuse(socket, internalServerError());
          if (span !== undefined) {
            span.recordException(error);
            span.end(500);
          }
        },
      );
    },
    closeAll: (code = 1001, reason = "server shutting down") => {
      for (const peer of live) peer.close(code, reason);
    },
    get open() {
      return live.size;
    },
  };
}

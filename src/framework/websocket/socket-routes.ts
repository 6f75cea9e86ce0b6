// The app's WebSocket routes, kept in the app's one URL map beside its HTTP routes (a path may
// have both), and the decision a server asks for on each upgrade request: refuse it with an
// HTTP response (an untrusted Host, no route, or a beforeRequest hook said no) or accept it and
// start the handler.

import {
  RequestContext,
  isAsyncFunction,
  runAsync,
  runSync,
  type ContextApp,
} from "../context/context.ts";
import { CarafeError, HTTPException, InternalServerError, NotFound } from "../errors.ts";
import type { RequestRecord, ResponseRecord } from "../boundary/records.ts";
import { Request } from "../http/request.ts";
import { exceptionResponse, prefersJson } from "../http/response.ts";
import type { RouteParams } from "../routing/params.ts";
import type { UrlMap } from "../routing/url-map.ts";

import type { Rooms } from "./rooms.ts";
import { WebSocket, type SocketTransport, type WebSocketMessage } from "./websocket.ts";

/** A WebSocket handler: the connection, and the upgrade request with typed `params`. */
export type SocketHandler<R extends string = string> = (
  ws: WebSocket,
  request: Request<RouteParams<R>>,
) => void | Promise<void>;

/**
 * A WebSocket route as event handlers, Flask-SocketIO's way: `message` is called for each
 * message as it arrives. Plain functions run with no promise per message (the fastest way to
 * serve many small messages); an `async` one is awaited before the next message is handed over.
 */
export interface SocketEvents<R extends string = string> {
  /** Called once the connection is accepted, before the first message. */
  open?: (ws: WebSocket, request: Request<RouteParams<R>>) => void | Promise<void>;
  /** Called for each message, in order. */
  message: (
    ws: WebSocket,
    message: WebSocketMessage,
    request: Request<RouteParams<R>>,
  ) => void | Promise<void>;
  /** Called once the connection has closed and every message was handled. */
  close?: (
    ws: WebSocket,
    code: number,
    reason: string,
    request: Request<RouteParams<R>>,
  ) => void | Promise<void>;
}

/** Whether a route's handler is given as events rather than as one function. @internal */
export function isSocketEvents(value: unknown): value is SocketEvents {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Partial<SocketEvents>).message === "function"
  );
}

/** Options of `app.websocket`. */
export interface WebSocketOptions {
  /** Subprotocols the route speaks; the first one the client offers that is here is chosen. */
  subprotocols?: readonly string[];
  /** Largest message accepted, in bytes (default 1 MiB); a bigger one closes with 1009. */
  maxMessageSize?: number;
  /**
   * Bytes a client may leave unread (default 4 MiB); a broadcast that finds more waiting closes
   * the socket with 1013 (try again later) instead of buffering without bound.
   */
  maxBuffered?: number;
  /** The name `urlFor` knows it by; default: the handler's name, or `ws <rule>`. */
  endpoint?: string;
}

/** What the URL map stores for a WebSocket rule. @internal */
export interface SocketRoute {
  readonly handler: SocketHandler | SocketEvents;
  readonly blueprint: string | undefined;
  readonly subprotocols: readonly string[];
  readonly maxMessageSize: number;
  readonly maxBuffered: number;
}

/** What a server does with an upgrade request. @internal */
export type SocketDecision =
  | {
      readonly kind: "refuse";
      readonly response: ResponseRecord;
      /** The rule of the socket route that matched (a hook refused it), or `null`. */
      readonly rule: string | null;
    }
  | {
      readonly kind: "accept";
      /** The rule of the socket route (`/room/<name>`). */
      readonly rule: string;
      /** The subprotocol to agree on, or `""`. */
      readonly protocol: string;
      readonly maxMessageSize: number;
      /** Starts the handler on the accepted connection. */
      start(transport: SocketTransport): WebSocket;
    };

/** What the app lends the socket routes: itself, its rooms, its logger and its before-request hooks. */
export interface SocketHost {
  /** The app itself: the handler's context (`currentApp`, `session`, `broadcast`). */
  readonly app: ContextApp;
  /** The answer to a request for a Host the app does not trust, or `null` (`trustedHosts`). */
  untrustedHost(request: Request): ResponseRecord | null;
  /** The app's rooms in this process. */
  readonly rooms: Rooms;
  /** Reports a handler that failed (the app's logger). */
  logError(message: string, error: unknown): void;
  /** Runs the before-request hooks: the value one returned, or `undefined` to go on. */
  beforeHooks(context: RequestContext): Promise<unknown>;
  /** The response for a value a hook returned, as a route's would be. */
  responseOf(request: Request, value: unknown): ResponseRecord;
}

const DEFAULT_MAX_MESSAGE = 1 << 20;
/** Bytes waiting for a client above which a broadcast closes its socket (1013). */
const DEFAULT_MAX_BUFFERED = 4 << 20;

/** The socket routes of one app, in its URL map. @internal */
export class SocketRoutes {
  readonly #urlMap: Pick<UrlMap<unknown, SocketRoute>, "addSocket" | "matchSocket" | "socketRules">;

  constructor(
    urlMap: Pick<UrlMap<unknown, SocketRoute>, "addSocket" | "matchSocket" | "socketRules">,
  ) {
    this.#urlMap = urlMap;
  }

  add(
    rule: string,
    endpoint: string,
    options: WebSocketOptions,
    handler: SocketHandler | SocketEvents,
    blueprint: string | undefined,
  ): void {
    const maxMessageSize = byteCount(rule, "maxMessageSize", options.maxMessageSize);
    const maxBuffered = byteCount(rule, "maxBuffered", options.maxBuffered);
    this.#urlMap.addSocket(rule, {
      endpoint,
      payload: {
        handler,
        blueprint,
        subprotocols: options.subprotocols ?? [],
        maxMessageSize: maxMessageSize ?? DEFAULT_MAX_MESSAGE,
        maxBuffered: maxBuffered ?? DEFAULT_MAX_BUFFERED,
      },
    });
  }

  /** Whether any socket route exists (a server then listens for upgrades). */
  get any(): boolean {
    return this.#urlMap.socketRules().length > 0;
  }

  async decide(host: SocketHost, record: RequestRecord): Promise<SocketDecision> {
    const request = new Request(record, {});
    const untrusted = host.untrustedHost(request);
    if (untrusted !== null) return { kind: "refuse", response: untrusted, rule: null };
    const match = this.#urlMap.matchSocket(request.rawPath);
    if (match.kind !== "found") {
      const response = exceptionResponse(new NotFound(), false).toRecord("GET");
      return { kind: "refuse", response, rule: null };
    }
    request.params = match.params;
    request.endpoint = match.rule.endpoint;
    request.rule = match.rule.rule;
    request.blueprint = match.rule.payload.blueprint;
    const context = new RequestContext(host.app, request);
    const refusal = await refusalOf(host, context);
    if (refusal !== undefined) return { kind: "refuse", response: refusal, rule: request.rule };
    const route = match.rule.payload;
    return {
      kind: "accept",
      rule: request.rule,
      protocol: chooseProtocol(record.headers["sec-websocket-protocol"], route.subprotocols),
      maxMessageSize: route.maxMessageSize,
      start: (transport) => {
        const ws = new WebSocket(transport, host.rooms, route.maxBuffered);
        const handler = route.handler;
        if (isSocketEvents(handler)) {
          listen(host, context, ws, handler);
          return ws;
        }
        void runAsync(context, async () => {
          try {
            await handler(ws, request);
            ws.close(1000);
          } catch (error) {
            failed(host, context, ws, error);
          }
        });
        return ws;
      },
    };
  }
}

/**
 * Reports a handler that threw and closes its socket with 1011; a handler ended by its own
 * socket's `WebSocketClosed` (the client left while it sent) ended normally, as a `for await`
 * loop does, and is not reported: a client leaving is no failure of the server.
 */
function failed(host: SocketHost, context: RequestContext, ws: WebSocket, error: unknown): void {
  if (ws.closedWith(error)) return;
  host.logError(`The WebSocket handler failed on ${context.request.path}`, error);
  ws.close(1011, "Internal Error");
}

/**
 * Hands the socket's messages to `events`, each call in the upgrade request's context: a plain
 * function's while it runs (no promise hook), an async one's across its awaits. A handler that
 * fails closes the socket with 1011; no message is handed over after it, and `close` still runs.
 */
function listen(host: SocketHost, context: RequestContext, ws: WebSocket, events: SocketEvents) {
  const request = context.request;
  let failing = false;
  const fail = (error: unknown): void => {
    failing = true;
    failed(host, context, ws, error);
  };
  // Each handler's way of entering the context is chosen once, not per message.
  const caller = <A extends unknown[]>(fn: ((...args: A) => void | Promise<void>) | undefined) => {
    if (fn === undefined) return (): undefined => undefined;
    const enter = isAsyncFunction(fn) ? runAsync : runSync;
    return (...args: A): Promise<void> | undefined => {
      try {
        const result = enter(context, () => fn.apply(events, args));
        return result instanceof Promise ? result.catch(fail) : undefined;
      } catch (error) {
        fail(error);
        return undefined;
      }
    };
  };
  const open = caller(events.open);
  const message = caller(events.message);
  const close = caller(events.close);
  ws.handleWith(
    () => open(ws, request),
    (data) => (failing ? undefined : message(ws, data, request)),
    (code, reason) => void close(ws, code, reason, request),
  );
}

/**
 * The answer that refuses an upgrade: what a before-request hook returned or raised (an HTTP
 * error as its page, anything else as a logged 500), or `undefined` when the hooks let it on.
 */
async function refusalOf(
  host: SocketHost,
  context: RequestContext,
): Promise<ResponseRecord | undefined> {
  const request = context.request;
  try {
    const value = await host.beforeHooks(context);
    return value == null ? undefined : host.responseOf(request, value);
  } catch (error) {
    if (error instanceof HTTPException) {
      const wantsJson = prefersJson(request.headers.get("accept"));
      return exceptionResponse(error, wantsJson).toRecord("GET");
    }
    host.logError(`Exception on ${request.path} [WebSocket upgrade]`, error);
    return exceptionResponse(new InternalServerError(), false).toRecord("GET");
  }
}

/** A route option that must be a positive whole number of bytes, when given. */
function byteCount(rule: string, name: string, value: number | undefined): number | undefined {
  if (value === undefined || (Number.isInteger(value) && value > 0)) return value;
  throw new CarafeError(
    "ERR_ROUTE_OPTIONS",
    `websocket(${JSON.stringify(rule)}): ${name} must be a positive whole number of bytes, got ${String(value)}`,
  );
}

/** The first subprotocol the client offers that the route speaks, or `""`. */
function chooseProtocol(offered: string | undefined, spoken: readonly string[]): string {
  if (offered === undefined || spoken.length === 0) return "";
  for (const each of offered.split(",")) {
    const name = each.trim();
    if (spoken.includes(name)) return name;
  }
  return "";
}

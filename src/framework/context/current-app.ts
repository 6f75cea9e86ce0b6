// The app of the current request, reachable from anywhere inside it: `currentApp`, `urlFor`,
// `broadcast` and `subscribe`, and the responses made with its JSON provider, `json` and
// `makeResponse` (Flask's `current_app.json.response` and `current_app.make_response`).

import type { Carafe } from "../app/app.ts";
import type { UrlForOptions } from "../app/url-for.ts";
import { CarafeError } from "../errors.ts";
import { HeaderMap, type HeadersInit } from "../http/datastructures.ts";
import { DEFAULT_JSON, type JsonProvider } from "../http/json-provider.ts";
import { toResponse, type Response, type ResponseValue } from "../http/response.ts";
import { currentContext, findContext } from "./context.ts";
import type { BroadcastOptions, SubscribeOptions, Subscription } from "../websocket/rooms.ts";
import type { WebSocketMessage } from "../websocket/websocket.ts";

/** The app handling the current request. */
export const currentApp: Carafe = new Proxy({} as Carafe, {
  get(_target, key) {
    const app = currentContext("'currentApp'").app as Carafe;
    const value: unknown = Reflect.get(app, key, app);
    return typeof value === "function"
      ? (value as (...args: unknown[]) => unknown).bind(app)
      : value;
  },
});

/**
 * Builds the URL of an endpoint for the current app: converters applied, extra params in the
 * query string; `.name` means an endpoint of the current blueprint.
 *
 * @example
 * urlFor("user", { id: 7 });                    // "/user/7"
 * urlFor("static", { filename: "app.css" });    // "/static/app.css"
 * urlFor("index", {}, { external: true });      // "http://localhost:8000/"
 */
export function urlFor(
  endpoint: string,
  params: Readonly<Record<string, unknown>> = {},
  options: UrlForOptions = {},
): string {
  return (currentContext("urlFor()").app as Carafe).urlFor(endpoint, params, options);
}

/**
 * Sends `message` to every WebSocket in `room`, across all worker processes of the server:
 * `app.broadcast` for the current app, from inside a request or a WebSocket handler.
 *
 * @example
 * app.websocket("/chat/<room>", async (ws, req) => {
 *   ws.join(req.params.room);
 *   for await (const message of ws) broadcast(req.params.room, message);
 * });
 */
export function broadcast(
  room: string,
  message: WebSocketMessage,
  options?: BroadcastOptions,
): void {
  (currentContext("broadcast()").app as Carafe).broadcast(room, message, options);
}

/**
 * The messages broadcast to `rooms` from now on, across all worker processes: `app.subscribe`
 * for the current app.
 *
 * @example
 * app.get("/rooms/<room>/events", { thread: false }, (req) => sse(subscribe(req.params.room)));
 */
export function subscribe(
  rooms: string | readonly string[],
  options?: SubscribeOptions,
): Subscription {
  return (currentContext("subscribe()").app as Carafe).subscribe(rooms, options);
}

/** The JSON provider of the current request's app; the defaults outside a request. */
function currentJson(): JsonProvider {
  return (findContext()?.app as { json?: JsonProvider } | undefined)?.json ?? DEFAULT_JSON;
}

/**
 * Builds a JSON response with the current app's JSON provider (`app.json`; Flask's `jsonify`).
 * It sends anything `JSON.stringify` accepts, class instances and their `toJSON` included.
 *
 * @example
 * return json({ error: "not found" }, 404);
 */
export function json(value: unknown, status = 200, headers?: HeadersInit): Response {
  let response: Response;
  try {
    response = currentJson().response(value, status);
  } catch (error) {
    if (error instanceof CarafeError && error.code === "ERR_NOT_JSON") {
      throw new CarafeError("ERR_NOT_JSON", `json(): ${error.message}`, { cause: error.cause });
    }
    throw error;
  }
  if (headers) {
    for (const [name, each] of new HeaderMap(headers)) {
      // A Content-Type given here replaces the JSON one instead of sending a second header.
      if (name.toLowerCase() === "content-type") response.headers.set(name, each);
      else response.headers.append(name, each);
    }
  }
  return response;
}

/**
 * Turns a handler's return value into a `Response`, like Flask's `make_response` (objects and
 * arrays with the current app's `app.json`).
 *
 * @example
 * return makeResponse("Created", 201, { Location: "/items/7" });
 */
export function makeResponse(
  value: ResponseValue,
  status?: number,
  headers?: HeadersInit,
): Response {
  const response = toResponse(value, "makeResponse() was given", currentJson());
  if (status !== undefined) response.status = status;
  if (headers) for (const [name, each] of new HeaderMap(headers)) response.headers.set(name, each);
  return response;
}

// The app of the current app context (a request's, a CLI command's, `app.appContext()`'s),
// reachable from anywhere inside it: `currentApp`, `urlFor`, `broadcast` and `subscribe`.

import type { Carafe } from "../app/app.ts";
import type { UrlForOptions } from "../app/url-for.ts";
import { currentAppContext } from "./context.ts";
import type { BroadcastOptions, SubscribeOptions, Subscription } from "../websocket/rooms.ts";
import type { WebSocketMessage } from "../websocket/websocket.ts";

/** The app of the current app context: the one handling the request, or running the command. */
export const currentApp: Carafe = new Proxy({} as Carafe, {
  get(_target, key) {
    const app = currentAppContext("'currentApp'").app as Carafe;
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
  return (currentAppContext("urlFor()").app as Carafe).urlFor(endpoint, params, options);
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
  (currentAppContext("broadcast()").app as Carafe).broadcast(room, message, options);
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
  return (currentAppContext("subscribe()").app as Carafe).subscribe(rooms, options);
}

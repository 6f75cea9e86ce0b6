// A route's view as the app keeps it: what the URL map stores for a rule, where the view runs
// (DESIGN.md, "What runs where"), the hook scopes around it, and calling it directly.

import { isAsyncFunction, runSync, type RequestContext } from "../context/context.ts";
import type { Request } from "../http/request.ts";
import type { Placement } from "../boundary/records.ts";
import type { UrlMap } from "../routing/url-map.ts";
import type { SocketRoute } from "../websocket/socket-routes.ts";
import type { Handler, HookScope, TeardownHook } from "./scaffold.ts";

/** What the URL map stores for each rule. */
export interface RoutePayload {
  readonly handler: Handler;
  readonly blueprint: string | undefined;
  /** `true`/`false` from the route options, or `undefined` to follow the server's placement rule. */
  readonly thread: boolean | undefined;
  /** Whether the handler is an `async function`. */
  readonly isAsync: boolean;
  /** Whether the handler reads the body as it arrives (`streamBody: true`). */
  readonly streamBody: boolean;
  /** The route's own body limit (`null`: none), or `undefined` to use the app's. */
  readonly maxContentLength: number | null | undefined;
}

/** An app's URL map: its HTTP routes and its WebSocket routes. */
export type AppUrlMap = UrlMap<RoutePayload, SocketRoute>;

/**
 * Where a route's requests run (DESIGN.md, "What runs where"): on a thread for
 * `{ thread: true }`, and for unmarked plain views when the server has threads (`threaded`); on
 * the loop for everything else, a streamed body among them (it arrives on the loop).
 */
export function placementOf(payload: RoutePayload, threaded: boolean): Placement {
  const { thread, isAsync, streamBody } = payload;
  if (streamBody) return "loop";
  if (thread !== undefined) return thread ? "thread" : "loop";
  return threaded && !isAsync ? "thread" : "loop";
}

/** The body limit of a route: its own, or the app's. */
export function limitOf(payload: RoutePayload, appLimit: number): number | null {
  return payload.maxContentLength === undefined ? appLimit : payload.maxContentLength;
}

/** A request's hook scopes: the app, then its blueprint (if any); and which hooks they have. */
export interface ScopeChain {
  readonly outward: readonly HookScope[];
  readonly inward: readonly HookScope[];
  /** The app's `teardownAppcontext` hooks, which run after the scopes' teardown hooks. */
  readonly appTeardown: readonly TeardownHook[];
  readonly before: boolean;
  readonly after: boolean;
  /** Whether a request has teardown hooks to run: `teardownRequest` or `teardownAppcontext`. */
  readonly teardown: boolean;
  /** Whether a hook or error handler among them is an `async` function. */
  readonly async: boolean;
}

/**
 * The chain of `outward` scopes (app first), with the app's `teardownAppcontext` hooks, and
 * which kinds of hooks they hold.
 */
export function scopeChainOf(
  outward: readonly HookScope[],
  appTeardown: readonly TeardownHook[],
): ScopeChain {
  return {
    outward,
    inward: [...outward].reverse(),
    appTeardown,
    before: outward.some((each) => each.beforeRequestHooks.length > 0),
    after: outward.some((each) => each.afterRequestHooks.length > 0),
    teardown: appTeardown.length > 0 || outward.some((each) => each.teardownHooks.length > 0),
    async:
      appTeardown.some(isAsyncFunction) ||
      outward.some(
        (each) =>
          [...each.beforeRequestHooks, ...each.afterRequestHooks, ...each.teardownHooks].some(
            isAsyncFunction,
          ) ||
          [...each.errorHandlers.values()].some((byClass) =>
            [...byClass.values()].some(isAsyncFunction),
          ),
      ),
  };
}

/** What a view returned, or what it threw. */
export type ViewOutcome =
  | { readonly threw: false; readonly value: unknown }
  | { readonly threw: true; readonly error: unknown };

/** Calls a plain view inside its request context. */
export function callView(context: RequestContext, handler: Handler, request: Request): ViewOutcome {
  try {
    return { threw: false, value: runSync(context, () => handler(request as Request<never>)) };
  } catch (error) {
    return { threw: true, error };
  }
}

/** The view's value again, or its exception thrown again, where the pipeline takes it over. */
export function settle(outcome: ViewOutcome): unknown {
  if (outcome.threw) throw outcome.error;
  return outcome.value;
}

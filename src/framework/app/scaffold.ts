// What apps and blueprints share: registering routes, hooks and error handlers. The app
// registers into its URL map at once; a blueprint records them until it is registered.

import { CarafeError, HTTPException, HTTP_EXCEPTIONS, MethodNotAllowed } from "../errors.ts";
import type { Request } from "../http/request.ts";
import type { Response, ResponseValue } from "../http/response.ts";
import type { RouteParams } from "../routing/params.ts";
import {
  isSocketEvents,
  type SocketEvents,
  type SocketHandler,
  type WebSocketOptions,
} from "../websocket/socket-routes.ts";

/** A value or a promise of it. */
export type Awaitable<T> = T | Promise<T>;

/** A view: receives the request (with typed `params`) and returns what becomes the response. */
export type Handler<R extends string = string> = (
  request: Request<RouteParams<R>>,
) => Awaitable<ResponseValue>;

/** HTTP methods, upper case. */
export type HttpMethod =
  "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS" | (string & {});

/** Options of `route`. */
export interface RouteOptions {
  /**
   * Methods the route answers (HEAD and OPTIONS come with GET); default: the `methods` the view
   * carries itself (a class view's, from `asView`), else `["GET"]`.
   */
  methods?: readonly HttpMethod[];
  /** The name `urlFor` knows it by; default: the handler's name, or the methods and rule. */
  endpoint?: string;
  /**
   * Where the handler runs when served by `carafe serve`: `true` on a pool thread, `false` on
   * the event loop; default: synchronous handlers on the pool when `--threads` > 0.
   */
  thread?: boolean;
  /**
   * Hand the handler the request body as it arrives (`request.stream()`) instead of reading it
   * into memory first; the route then runs on the event loop. `maxContentLength` still applies.
   */
  streamBody?: boolean;
  /**
   * Largest body this route accepts, in bytes (413 above it), instead of the app's
   * `config.maxContentLength` (1 MiB by default); `null` accepts any size, so give it only to a
   * route that streams its body or truly needs it whole.
   *
   * @example
   * app.post("/upload", { maxContentLength: 64 * 1024 * 1024 }, (req) => {
   *   req.files.get("file")?.save("/srv/uploads/latest.pdf");
   *   return "saved";
   * });
   */
  maxContentLength?: number | null;
  /** Redirect `/dir` to a `/dir/` rule with 308 (default `true`). */
  strictSlashes?: boolean;
}

/** Runs before each request; returning a value (not `undefined` or `null`) answers the request with it. */
export type BeforeRequestHook = (
  request: Request,
) => Awaitable<ResponseValue | null | undefined | void>;
/** Runs after each request with the response; may change it or return a replacement. */
export type AfterRequestHook = (response: Response) => Awaitable<Response | undefined | void>;
/** Runs at the end of every request, even a failed one, with the error if there was one. */
export type TeardownHook = (error: unknown) => Awaitable<void>;
/** Turns an error into a response. */
export type ErrorHandler<E = unknown> = (error: E) => Awaitable<ResponseValue>;

/**
 * Returns values merged into the context of every template rendered (Flask's context
 * processor): a plain object, computed synchronously (templates render synchronously).
 */
export type ContextProcessor = () => Record<string, unknown>;

/** A template filter, global function or test: a plain function called while a template renders. */
export type TemplateFunction = (...args: never[]) => unknown;

/** A constructor of errors (`NotFound`, `TypeError`, your own class). */
export type ErrorClass<E = Error> = abstract new (...args: never[]) => E;

/** A route as registered, before prefixes are applied. */
export interface RouteSpec {
  readonly rule: string;
  readonly endpoint: string;
  readonly methods: readonly string[];
  /** `null` for a rule that only builds URLs (`addUrlRule` without a view). */
  readonly handler: Handler | null;
  readonly options: RouteOptions;
}

/** A WebSocket route as registered, before prefixes are applied. */
export interface SocketSpec {
  readonly rule: string;
  readonly endpoint: string;
  readonly options: WebSocketOptions;
  readonly handler: SocketHandler | SocketEvents;
}

/** Error handlers keyed by status code (or `null`), then by error class. */
export type ErrorHandlerMap = Map<number | null, Map<ErrorClass<unknown>, ErrorHandler>>;

/** The default endpoint of a handler: its name, or its methods and rule when it has none. */
function defaultEndpoint(
  rule: string,
  methods: readonly string[],
  handler: { readonly name: string },
): string {
  const name = handler.name;
  if (name && name !== "anonymous" && !name.startsWith("bound ")) return name;
  return `${methods.join(",")} ${rule}`;
}

/** The options and the handler of `route(rule, [options,] handler)` and its kin. */
function optionsAndHandler<O extends object, H>(
  method: string,
  rule: string,
  optionsOrHandler: O | H,
  maybeHandler: H | undefined,
  isHandler: (value: unknown) => boolean,
  what = "a function",
): [O, H] {
  const [options, handler]: [O, H | undefined] = isHandler(optionsOrHandler)
    ? [{} as O, optionsOrHandler as H]
    : [optionsOrHandler as O, maybeHandler];
  if (handler === undefined || !isHandler(handler)) {
    throw new CarafeError(
      "ERR_BAD_ROUTE",
      `${method}(${JSON.stringify(rule)}): the handler must be ${what}`,
    );
  }
  return [options, handler];
}

/**
 * The methods a view carries on itself (`methods`, as a class view's `asView` sets it), which a
 * route takes when its options name none (Flask's `view_func.methods`); `undefined` when it
 * carries none.
 */
function methodsOf(rule: string, handler: unknown): readonly string[] | undefined {
  const methods = (handler as { methods?: unknown }).methods;
  if (methods === undefined || methods === null) return undefined;
  const list: unknown[] =
    typeof methods === "object" && Symbol.iterator in methods
      ? [...(methods as Iterable<unknown>)]
      : [];
  if (list.length === 0 || !list.every((method) => typeof method === "string" && method !== "")) {
    throw new CarafeError(
      "ERR_BAD_ROUTE",
      `route(${JSON.stringify(rule)}): the view's own methods property must list method names, such as ["GET", "POST"] (got ${JSON.stringify(methods) ?? String(methods)}); fix it, or pass { methods } to the route`,
    );
  }
  return list as string[];
}

function isFunction(value: unknown): boolean {
  return typeof value === "function";
}

/** Maps `errorHandler`'s first argument to the key pair error handlers are stored under. */
export function errorKey(key: number | ErrorClass<unknown>): [number | null, ErrorClass<unknown>] {
  if (typeof key === "number") {
    if (!Number.isInteger(key) || key < 400 || key > 599) {
      throw new CarafeError(
        "ERR_BAD_ERROR_HANDLER",
        `errorHandler(${key}): only error statuses 400-599 can have handlers; for other cases register an error class`,
      );
    }
    return [key, HTTPException as ErrorClass<unknown>];
  }
  if (key === HTTPException || !(key.prototype instanceof HTTPException)) return [null, key];
  if (key === MethodNotAllowed) return [405, key];
  for (const [code, ErrorClass] of HTTP_EXCEPTIONS) {
    if (key === ErrorClass || key.prototype instanceof ErrorClass) return [code, key];
  }
  return [null, key];
}

/** The verbs that have a registration method of their own (`app.get`, `bp.delete`, …). */
export const VERBS = ["get", "post", "put", "patch", "delete"] as const;

/** `route` with the method given by the verb's name: `app.get(rule, [options,] handler)`. */
export interface VerbMethod {
  <S, R extends string>(this: S, rule: R, handler: Handler<R>): S;
  <S, R extends string>(
    this: S,
    rule: R,
    options: Omit<RouteOptions, "methods">,
    handler: Handler<R>,
  ): S;
}

/**
 * Registers a handler for one method: `get`, `post`, `put`, `patch` or `delete`, each `route`
 * with `methods: [VERB]`.
 *
 * @example
 * app.get("/user/<int:id>", (req) => ({ id: req.params.id }));
 * app.post("/users", { maxContentLength: 4096 }, (req) => req.json());
 */
export type VerbMethods = { readonly [V in (typeof VERBS)[number]]: VerbMethod };

// Merged into the class below, this tells TypeScript of `get`, `post` and the rest, which the
// loop after the class defines on its prototype, one per entry of VERBS, as this module loads
// (before any app or blueprint exists, so no instance ever lacks them).
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
export interface Scaffold extends VerbMethods {}

/** Registration shared by `Carafe` and `Blueprint`. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export abstract class Scaffold {
  readonly beforeRequestHooks: BeforeRequestHook[] = [];
  readonly afterRequestHooks: AfterRequestHook[] = [];
  readonly teardownHooks: TeardownHook[] = [];
  readonly errorHandlers: ErrorHandlerMap = new Map();
  /** Context processors of this scope, in registration order. */
  readonly contextProcessors: ContextProcessor[] = [];

  /** Registers a route; `setupMethod` has been checked by the caller. @internal */
  protected abstract addRoute(spec: RouteSpec): void;

  /** Registers a WebSocket route; `setupMethod` has been checked by the caller. @internal */
  protected abstract addSocket(spec: SocketSpec): void;

  /** Throws when registration is no longer allowed (the app is serving). */
  protected abstract checkSetup(method: string): void;

  /**
   * Registers a WebSocket handler for a URL rule. It runs on the event loop once the upgrade
   * passed the `beforeRequest` hooks (a hook that answers, or raises 401/403, refuses it). The
   * handler is a function that reads the socket, or `SocketEvents` called for each message.
   *
   * @example
   * app.websocket("/echo", async (ws) => {
   *   for await (const message of ws) await ws.send(message);
   * });
   * app.websocket("/shout", { message: (ws, text) => void ws.send(String(text).toUpperCase()) });
   */
  websocket<R extends string>(rule: R, handler: SocketHandler<R> | SocketEvents<R>): this;
  websocket<R extends string>(
    rule: R,
    options: WebSocketOptions,
    handler: SocketHandler<R> | SocketEvents<R>,
  ): this;
  websocket<R extends string>(
    rule: R,
    optionsOrHandler: WebSocketOptions | SocketHandler<R> | SocketEvents<R>,
    maybeHandler?: SocketHandler<R> | SocketEvents<R>,
  ): this {
    const [options, handler] = optionsAndHandler<
      WebSocketOptions,
      SocketHandler<R> | SocketEvents<R>
    >(
      "websocket",
      rule,
      optionsOrHandler,
      maybeHandler,
      (value) => isFunction(value) || isSocketEvents(value),
      "a function, or an object with a message function",
    );
    this.checkSetup(`websocket(${JSON.stringify(rule)})`);
    this.addSocket({
      rule,
      endpoint:
        options.endpoint ??
        defaultEndpoint(rule, ["ws"], typeof handler === "function" ? handler : { name: "" }),
      options,
      handler: handler as SocketHandler | SocketEvents,
    });
    return this;
  }

  /**
   * Registers a handler for a URL rule.
   *
   * @example
   * app.route("/user/<int:id>", { methods: ["GET", "POST"] }, (req) => `user ${req.params.id}`);
   */
  route<R extends string>(rule: R, handler: Handler<R>): this;
  route<R extends string>(rule: R, options: RouteOptions, handler: Handler<R>): this;
  route<R extends string>(
    rule: R,
    optionsOrHandler: RouteOptions | Handler<R>,
    maybeHandler?: Handler<R>,
  ): this {
    const [options, handler] = optionsAndHandler<RouteOptions, Handler<R>>(
      "route",
      rule,
      optionsOrHandler,
      maybeHandler,
      isFunction,
    );
    this.checkSetup(`route(${JSON.stringify(rule)})`);
    const methods = (options.methods ?? methodsOf(rule, handler) ?? ["GET"]).map((method) =>
      method.toUpperCase(),
    );
    if (methods.length === 0) {
      throw new CarafeError(
        "ERR_BAD_ROUTE",
        `route(${JSON.stringify(rule)}): methods must not be empty`,
      );
    }
    const endpoint = options.endpoint ?? defaultEndpoint(rule, methods, handler as Handler);
    // The generated `METHODS /rule` name may hold the rule's dots (`/robots.txt`); only a
    // chosen name (option or function name) is read as `blueprint.view`.
    const generated = options.endpoint === undefined && endpoint === `${methods.join(",")} ${rule}`;
    if (!generated && endpoint.includes(".")) {
      throw new CarafeError(
        "ERR_BAD_ROUTE",
        `route(${JSON.stringify(rule)}): the endpoint '${endpoint}' must not contain '.' (it separates blueprint names)`,
      );
    }
    this.addRoute({ rule, endpoint, methods, handler: handler as Handler, options });
    return this;
  }

  /**
   * Registers a view for a URL rule (Flask's `add_url_rule`): `route` with the view given among
   * the options, the form class-based views are usually registered with. Without a view, the
   * rule only builds URLs: `urlFor(endpoint)` gives its path, and requests never match it (they
   * reach the view registered for that path elsewhere).
   *
   * @example
   * app.addUrlRule("/users/<int:id>", { view: UserApi.asView("user") });
   * app.addUrlRule("/", { endpoint: "index" }); // urlFor("index") is "/", served by blog.index
   */
  addUrlRule<R extends string>(
    rule: R,
    options: (RouteOptions & { view: Handler<R> }) | (RouteOptions & { endpoint: string }),
  ): this {
    if (options === null || typeof options !== "object") {
      throw new CarafeError(
        "ERR_BAD_ROUTE",
        `addUrlRule(${JSON.stringify(rule)}): the second argument must be the options, with the view in them: { view }, or the endpoint of a rule that only builds URLs: { endpoint }`,
      );
    }
    const { view, ...rest } = options as RouteOptions & { view?: Handler<R> };
    if (view !== undefined) return this.route(rule, rest, view);
    if (typeof rest.endpoint !== "string" || rest.endpoint === "") {
      throw new CarafeError(
        "ERR_BAD_ROUTE",
        `addUrlRule(${JSON.stringify(rule)}): give the view ({ view }), or the endpoint that names the rule ({ endpoint }) when it only builds URLs`,
      );
    }
    this.checkSetup(`addUrlRule(${JSON.stringify(rule)})`);
    const methods = (rest.methods ?? ["GET"]).map((method) => method.toUpperCase());
    this.addRoute({ rule, endpoint: rest.endpoint, methods, handler: null, options: rest });
    return this;
  }

  /**
   * Runs `hook` before every request (of this blueprint, on a blueprint). A returned value
   * other than `undefined` becomes the response and the view is skipped.
   *
   * @example
   * app.beforeRequest((req) => { if (!req.headers.get("x-token")) return json({ error: "token" }, 401); });
   */
  beforeRequest(hook: BeforeRequestHook): this {
    this.checkSetup("beforeRequest()");
    this.beforeRequestHooks.push(hook);
    return this;
  }

  /**
   * Runs `hook` with every response; it may change the response or return a new one.
   *
   * @example
   * app.afterRequest((res) => { res.headers.set("X-Frame-Options", "DENY"); });
   */
  afterRequest(hook: AfterRequestHook): this {
    this.checkSetup("afterRequest()");
    this.afterRequestHooks.push(hook);
    return this;
  }

  /** Runs `hook` at the end of every request, failed or not, with the error (or `undefined`). */
  teardownRequest(hook: TeardownHook): this {
    this.checkSetup("teardownRequest()");
    this.teardownHooks.push(hook);
    return this;
  }

  /**
   * Handles errors of a status code or class.
   *
   * @example
   * app.errorHandler(404, () => makeResponse("Nothing here", 404));
   * app.errorHandler(ValidationFailed, (error) => json({ error: error.message }, 422));
   */
  errorHandler(status: number, handler: ErrorHandler<HTTPException>): this;
  errorHandler<E>(errorClass: ErrorClass<E>, handler: ErrorHandler<E>): this;
  errorHandler(key: number | ErrorClass<unknown>, handler: ErrorHandler<never>): this {
    this.checkSetup("errorHandler()");
    const [code, errorClass] = errorKey(key);
    let byClass = this.errorHandlers.get(code);
    if (byClass === undefined) {
      byClass = new Map();
      this.errorHandlers.set(code, byClass);
    }
    byClass.set(errorClass, handler as ErrorHandler);
    return this;
  }

  /**
   * Merges what `processor` returns into the context of every template rendered (on a
   * blueprint: of the templates its own requests render). The values a render is given win
   * over a processor's.
   *
   * @example
   * app.contextProcessor(() => ({ siteName: "Flaskr", year: new Date().getFullYear() }));
   */
  contextProcessor(processor: ContextProcessor): this {
    this.checkSetup("contextProcessor()");
    this.contextProcessors.push(checkFunction("contextProcessor()", processor));
    return this;
  }
}

/** `fn`, when it is a function; a clear error naming `method` otherwise. */
export function checkFunction<F>(method: string, fn: F | undefined): F {
  if (typeof fn !== "function") {
    throw new CarafeError("ERR_BAD_TEMPLATE_HOOK", `${method}: expected a function`);
  }
  return fn;
}

/**
 * The name and function of `templateFilter([name,] fn)` and its kin: the name defaults to the
 * function's.
 */
export function namedTemplateFunction(
  method: string,
  nameOrFn: string | TemplateFunction,
  maybeFn: TemplateFunction | undefined,
): [string, TemplateFunction] {
  const fn = checkFunction(method, typeof nameOrFn === "string" ? maybeFn : nameOrFn);
  const name = typeof nameOrFn === "string" ? nameOrFn : fn.name;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    throw new CarafeError(
      "ERR_BAD_TEMPLATE_HOOK",
      name === ""
        ? `${method}: the function has no name; pass one first, e.g. ${method.replace("()", "")}("shout", fn)`
        : `${method}: ${JSON.stringify(name)} is not a name a template can use (letters, digits and _, not first a digit)`,
    );
  }
  return [name, fn];
}

for (const verb of VERBS) {
  const method = verb.toUpperCase();
  function register(
    this: Scaffold,
    rule: string,
    a: Omit<RouteOptions, "methods"> | Handler,
    b?: Handler,
  ): Scaffold {
    return typeof a === "function"
      ? this.route(rule, { methods: [method] }, a)
      : this.route(rule, { ...a, methods: [method] }, b as Handler);
  }
  Object.defineProperty(Scaffold.prototype, verb, {
    value: register,
    writable: true,
    configurable: true,
  });
}

/** The hooks and error handlers of one scope: the app, or one blueprint. */
export interface HookScope {
  readonly beforeRequestHooks: readonly BeforeRequestHook[];
  readonly afterRequestHooks: readonly AfterRequestHook[];
  readonly teardownHooks: readonly TeardownHook[];
  readonly errorHandlers: ErrorHandlerMap;
}

/**
 * Finds the handler for `error` (Flask's order): by status code, then by class; within each,
 * the innermost scope (the blueprint) before the app, and the most specific class first.
 */
export function findErrorHandler(
  scopes: readonly HookScope[],
  error: unknown,
): ErrorHandler | undefined {
  const codes: (number | null)[] = error instanceof HTTPException ? [error.status, null] : [null];
  const innermostFirst = [...scopes].reverse();
  for (const code of codes) {
    for (const scope of innermostFirst) {
      const byClass = scope.errorHandlers.get(code);
      if (byClass === undefined) continue;
      let proto: unknown =
        error !== null && typeof error === "object" ? Object.getPrototypeOf(error) : null;
      while (proto !== null && proto !== Object.prototype) {
        const handler = byClass.get((proto as { constructor: ErrorClass<unknown> }).constructor);
        if (handler !== undefined) return handler;
        proto = Object.getPrototypeOf(proto);
      }
    }
  }
  return undefined;
}

// The application: configuration, the URL map, blueprints, and the request pipeline
// (preprocessRequest → dispatchRequest → finalizeRequest, with error handling and teardown),
// from a RequestRecord to a ResponseRecord.

import { dirname, resolve } from "node:path";
import process from "node:process";
import type { Blueprint } from "./blueprint.ts";
import { makeConfig, type AppConfig, type CarafeConfig } from "./config.ts";
import { buildUrl, type UrlForOptions } from "./url-for.ts";
import {
  RequestContext,
  bindStream,
  isAsyncFunction,
  runAsync,
  runHeld,
  runSync,
} from "../context/context.ts";
import { drive, type Pipeline } from "./drive.ts";
import {
  BadRequest,
  CarafeError,
  HTTPException,
  InternalServerError,
  MethodNotAllowed,
  NotFound,
  bodyTooLarge,
  RequestRedirect,
} from "../errors.ts";
import { fetchWith } from "../boundary/web-adapter.ts";
import { parseMultipart } from "../http/forms.ts";
import { consoleLogger, type Logger } from "./logging.ts";
import {
  SKIP_BODY,
  type BodyPlan,
  type ClientConnection,
  type RecordHandler,
  type RequestRecord,
  type ResponseRecord,
} from "../boundary/records.ts";
import { Request, rawPathOf } from "../http/request.ts";
import {
  Response,
  escapeHtml,
  exceptionResponse,
  plainRecord,
  prefersJson,
  toResponse,
  viewReturned,
} from "../http/response.ts";
import type { Converter, ConverterFactory } from "../routing/converters.ts";
import { UrlMap, type MatchResult } from "../routing/url-map.ts";
import { callerFile, registerApp, runnerSlot, type RunOptions } from "./runner.ts";
import {
  Scaffold,
  type AfterRequestHook,
  type HookScope,
  findErrorHandler,
  type RouteSpec,
  type SocketSpec,
  type TeardownHook,
} from "./scaffold.ts";
import { sendFromDirectory } from "../http/send-file.ts";
import { openSession, saveSession, type Session } from "../context/sessions.ts";
import { TestClient } from "../boundary/test-client.ts";
import { untrustedHostResponse } from "../http/trusted-hosts.ts";
import {
  callView,
  placementOfMatch,
  scopeChainOf,
  settle,
  type RoutePayload,
  type ScopeChain,
  type ViewOutcome,
} from "./views.ts";
import {
  Rooms,
  type BroadcastOptions,
  type SubscribeOptions,
  type Subscription,
} from "../websocket/rooms.ts";
import { SocketRoutes, type SocketDecision, type SocketHost } from "../websocket/socket-routes.ts";
import type { WebSocketMessage } from "../websocket/websocket.ts";
import { NamedShared } from "../../threading/index.ts";

export type { RoutePayload } from "./views.ts";

/** Options of `new Carafe()`: Carafe's config keys, plus where the app's files live. */
export interface CarafeOptions extends Partial<CarafeConfig> {
  /** The app's name (for logs); default `carafe`. */
  name?: string;
  /** Folder that relative paths (static, templates) start from; default: the creating module's folder. */
  rootPath?: string;
  /** Folder of static files, served at `staticUrlPath`; `null` to serve none. Default `static`. */
  staticFolder?: string | null;
  /** URL prefix of static files; default `/static`. */
  staticUrlPath?: string;
  /** Folder of templates; default `templates`. */
  templateFolder?: string;
}

/** Options of `registerBlueprint`. */
export interface RegisterBlueprintOptions {
  /** Overrides the blueprint's own `urlPrefix`. */
  urlPrefix?: string;
  /** Registers it under another name (so one blueprint can be mounted twice). */
  name?: string;
}

const NO_PARAMS: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;
/** Loopback peers, the only ones shown debug pages. */
function isLoopback(address: string): boolean {
  return address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127.");
}

/** Refuses a body limit that is not a whole number of bytes (a route's `null` is checked apart). */
function checkBodyLimit(limit: unknown, where: string): void {
  if (typeof limit === "number" && Number.isSafeInteger(limit) && limit >= 0) return;
  throw new CarafeError(
    "ERR_BODY_LIMIT",
    limit === null
      ? `${where}: null (no limit) is refused for a whole app; set { maxContentLength: null } on the route that needs it, so every other route keeps a bound`
      : `${where} must be a whole number of bytes, 0 or more (got ${String(limit)})`,
  );
}

/**
 * Drives `pipeline` with `context` kept across its awaits; the drive itself releases the
 * storage when it ends, so no promise is chained to find out.
 */
function driveInContext<T>(context: RequestContext, pipeline: Pipeline<T>): T | Promise<T> {
  return runHeld(context, (release) => drive(pipeline, undefined, release));
}

/**
 * A Carafe application.
 *
 * @example
 * const app = new Carafe();
 * app.route("/", () => "Hello, World!");
 * app.get("/user/<int:id>", (req) => ({ id: req.params.id }));
 * app.run();
 */
export class Carafe extends Scaffold implements RecordHandler {
  readonly name: string;
  readonly rootPath: string;
  /** The module that created the app; pool threads import it to get their own copy. */
  readonly sourceFile: string | undefined;
  readonly config: AppConfig;
  readonly urlMap = new UrlMap<RoutePayload>();
  /** Absolute folder of static files, or `null`. */
  readonly staticFolder: string | null;
  readonly staticUrlPath: string;
  /** Absolute folder of templates. */
  readonly templateFolder: string;
  /** Registered blueprints by name. */
  readonly blueprints = new Map<string, Blueprint>();
  /** Where errors and warnings go; replace it to route them elsewhere. */
  logger: Logger = consoleLogger;
  /** Values shared by integrations (the template environment, …) keyed by their own symbols. */
  readonly extensions = new Map<symbol, unknown>();
  /**
   * Locks, counters and other threading primitives by name, the same in every pool thread of
   * the process; declare them at the module's top level (see docs/threading.md).
   */
  readonly shared = new NamedShared();

  readonly #scopes = new Map<string | undefined, HookScope>();
  readonly #chains = new Map<string | undefined, ScopeChain>();
  readonly #sockets = new SocketRoutes();
  /** The rooms of this app's WebSockets in this process. @internal */
  readonly rooms = new Rooms();
  #serving = false;
  // The match `threadRuleOf` or `bodyPlanOf` just made, for the `handle` call that follows it:
  // three fields rather than an object, so nothing is allocated per request.
  #placedMethod = "";
  #placedUrl = "";
  #placedMatch: MatchResult<RoutePayload> | undefined;

  constructor(options: CarafeOptions = {}) {
    super();
    const { name, rootPath, staticFolder, staticUrlPath, templateFolder, ...config } = options;
    this.name = name ?? "carafe";
    this.sourceFile = callerFile();
    this.rootPath = resolve(
      rootPath ?? (this.sourceFile === undefined ? process.cwd() : dirname(this.sourceFile)),
    );
    registerApp(this, this.sourceFile);
    this.config = makeConfig(config);
    checkBodyLimit(this.config.maxContentLength, "new Carafe({ maxContentLength })");
    this.staticUrlPath = (staticUrlPath ?? "/static").replace(/\/+$/, "");
    this.staticFolder =
      staticFolder === null ? null : resolve(this.rootPath, staticFolder ?? "static");
    this.templateFolder = resolve(this.rootPath, templateFolder ?? "templates");
    this.#scopes.set(undefined, this);
    if (this.staticFolder !== null) this.#addStaticRoute(this.staticFolder);
  }

  /** The app's body limit (`config.maxContentLength`); a route may set its own. */
  get maxContentLength(): number {
    return this.config.maxContentLength;
  }

  /** Whether the app has started handling requests (registration is then closed). */
  get serving(): boolean {
    return this.#serving;
  }

  /** Whether some route asks to run on a pool thread (`{ thread: true }`). */
  get needsThreads(): boolean {
    return this.urlMap.rules().some((rule) => rule.payload.thread === true);
  }

  /**
   * The rule that `method` and `url` match, e.g. `/user/<int:id>`, or `undefined`. The match is
   * handed over to a `handle()` of the same request that follows, so the route is matched once.
   */
  ruleOf(method: string, url: string): string | undefined {
    const match = this.#takeMatch(method, url);
    this.#handOver(method, url, match);
    return match.kind === "found" ? match.rule.rule : undefined;
  }

  /**
   * How the server reads the request's body: not at all when routing answers without a view
   * (404, 405, a redirect, OPTIONS); as it arrives for a `streamBody` route; else into memory.
   * Either within the route's `maxContentLength`, or the app's.
   */
  bodyPlanOf(method: string, url: string): BodyPlan {
    const match = this.urlMap.match(method, rawPathOf(url));
    // Handed over either way: the handle() call for this request takes it (unless another
    // request's handle() comes first while this body is read; then it matches again).
    this.#handOver(method, url, match);
    if (match.kind !== "found") return SKIP_BODY;
    const payload = match.rule.payload;
    return { read: payload.streamBody ? "stream" : "buffer", limit: this.#limitOf(payload) };
  }

  /** The body limit of a route: its own, or the app's. */
  #limitOf(payload: RoutePayload): number | null {
    return payload.maxContentLength === undefined
      ? this.config.maxContentLength
      : payload.maxContentLength;
  }

  /**
   * Where the request's route runs (DESIGN.md, "What runs where"): on a thread for
   * `{ thread: true }` routes, and for unmarked synchronous handlers when the server has threads
   * (`threaded`); then the route's rule, which the pool learns each route's pace by. `null`, on
   * the loop, for everything else, including requests that match no route.
   */
  threadRuleOf(method: string, url: string, threaded: boolean): string | null {
    // A request with a body was matched once already, by bodyPlanOf.
    const match = this.#takeMatch(method, url);
    const onThread = match.kind === "found" && placementOfMatch(match, threaded) === "thread";
    // A request that stays on the loop is handled next: hand its match over, so the route is
    // matched once.
    this.#handOver(method, url, onThread ? undefined : match);
    return onThread ? match.rule.rule : null;
  }

  /** The match handed over for `method` and `url`, taken (it belongs to one request), or a new one. */
  #takeMatch(method: string, url: string, request?: Request): MatchResult<RoutePayload> {
    const placed = this.#placedMatch;
    this.#placedMatch = undefined;
    if (placed !== undefined && this.#placedMethod === method && this.#placedUrl === url) {
      return placed;
    }
    // The request's path is worked out only here: a handed-over match never needs it.
    return this.urlMap.match(method, request !== undefined ? request.rawPath : rawPathOf(url));
  }

  #handOver(method: string, url: string, match: MatchResult<RoutePayload> | undefined): void {
    this.#placedMatch = match;
    this.#placedMethod = method;
    this.#placedUrl = url;
  }

  #addStaticRoute(folder: string): void {
    const maxAge = (): number | null => this.config.sendFileMaxAge;
    this.route(
      `${this.staticUrlPath}/<path:filename>`,
      { endpoint: "static", thread: false },
      (req) => {
        // A slash or backslash encoded in the URL never names a deeper file.
        if (/%2f|%5c/i.test(req.rawPath)) throw new NotFound();
        return sendFromDirectory(folder, req.params.filename, { maxAge: maxAge() });
      },
    );
  }

  protected checkSetup(method: string): void {
    if (this.#serving) {
      throw new CarafeError(
        "ERR_SETUP_FINISHED",
        `${method} was called after the app started serving requests; register routes, hooks and blueprints at import time, before the first request`,
      );
    }
  }

  protected addRoute(spec: RouteSpec): void {
    this.#addRule(spec.rule, spec.endpoint, spec, undefined);
  }

  #checkEndpoint(rule: string, endpoint: string, spec: RouteSpec): void {
    for (const existing of this.urlMap.rulesFor(endpoint)) {
      if (existing.payload.handler !== spec.handler) {
        throw new CarafeError(
          "ERR_DUPLICATE_ENDPOINT",
          `route ${JSON.stringify(rule)}: endpoint '${endpoint}' is already used by rule ${JSON.stringify(existing.rule)} with another handler; give one of them another endpoint (options.endpoint) or a different function name`,
        );
      }
    }
  }

  #addRule(rule: string, endpoint: string, spec: RouteSpec, blueprint: string | undefined): void {
    this.#checkEndpoint(rule, endpoint, spec);
    if (spec.options.streamBody === true && spec.options.thread === true) {
      throw new CarafeError(
        "ERR_ROUTE_OPTIONS",
        `route ${JSON.stringify(rule)}: a streamed body arrives on the event loop, so streamBody: true cannot run on a thread (thread: true); read the body on the loop and hand the heavy work to toThread()`,
      );
    }
    const limit = spec.options.maxContentLength;
    if (limit !== undefined && limit !== null) {
      checkBodyLimit(limit, `route ${JSON.stringify(rule)}: maxContentLength`);
    }
    this.urlMap.add(rule, {
      endpoint,
      methods: spec.methods,
      strictSlashes: spec.options.strictSlashes ?? true,
      payload: {
        handler: spec.handler,
        blueprint,
        thread: spec.options.thread,
        isAsync: isAsyncFunction(spec.handler),
        streamBody: spec.options.streamBody === true,
        maxContentLength: limit,
      },
    });
  }

  /**
   * Registers a URL converter usable in rules.
   *
   * @example
   * app.addConverter("hex", { regex: "[0-9a-f]+", toValue: (s) => parseInt(s, 16), toUrl: (n) => (n as number).toString(16) });
   * app.get("/color/<hex:value>", (req) => String(req.params.value));
   */
  addConverter(name: string, converter: Converter | ConverterFactory): this {
    this.checkSetup(`addConverter('${name}')`);
    this.urlMap.addConverter(name, converter);
    this.#sockets.urlMap.addConverter(name, converter);
    return this;
  }

  protected addSocket(spec: SocketSpec): void {
    this.#sockets.add(spec.rule, spec.endpoint, spec.options, spec.handler, undefined);
  }

  /** Whether the app has WebSocket routes (a server then answers upgrade requests). */
  get hasSockets(): boolean {
    return this.#sockets.any;
  }

  /** Refuses or accepts an upgrade request, for a server. @internal */
  acceptSocket(record: RequestRecord): Promise<SocketDecision> {
    this.#serving = true;
    const untrusted = untrustedHostResponse(this.config, new Request(record, NO_PARAMS));
    if (untrusted !== null) return Promise.resolve({ kind: "refuse", response: untrusted });
    return this.#sockets.decide(this.#socketHost, record);
  }

  /**
   * Sends `message` to every WebSocket in `room`: those of this process and, under
   * `carafe serve --workers N`, of every other worker process (and of other servers when
   * `broadcastUrl` names a Redis server). Works from any handler, pool threads included. It
   * never waits: a client with more than its route's `maxBuffered` unread is closed (1013).
   *
   * @example
   * app.post("/announce", async (req) => {
   *   app.broadcast("lobby", JSON.stringify(await req.json()));
   *   return { sent: true };
   * });
   */
  broadcast(room: string, message: WebSocketMessage, options?: BroadcastOptions): void {
    this.rooms.broadcast(room, message, options);
  }

  /**
   * The messages broadcast to `rooms` from now on, from every worker process, as an async
   * iterable: for a Server-Sent Events stream, say. It leaves the rooms when the loop over it
   * ends (the client left). Runs on the event loop (an async handler, or `thread: false`).
   *
   * @example
   * app.get("/news", { thread: false }, () => sse(app.subscribe("news")));
   */
  subscribe(rooms: string | readonly string[], options?: SubscribeOptions): Subscription {
    return this.rooms.subscribe(typeof rooms === "string" ? [rooms] : rooms, options);
  }

  readonly #socketHost: SocketHost = {
    app: this,
    rooms: this.rooms,
    logError: (message, error) => this.logger.error(message, error),
    beforeHooks: async (context) =>
      this.#chainOf(context.request.blueprint).before
        ? driveInContext(context, this.#preprocessRequest(context))
        : undefined,
    responseOf: (request, value) => this.#makeResponse(request, value).toRecord("GET"),
  };

  /**
   * Registers a blueprint's routes, hooks and error handlers.
   *
   * @example
   * app.registerBlueprint(admin, { urlPrefix: "/admin" });
   */
  registerBlueprint(blueprint: Blueprint, options: RegisterBlueprintOptions = {}): this {
    const name = options.name ?? blueprint.name;
    this.checkSetup(`registerBlueprint('${name}')`);
    if (this.#scopes.has(name)) {
      throw new CarafeError(
        "ERR_DUPLICATE_BLUEPRINT",
        `a blueprint named '${name}' is already registered; pass { name } to register it again under another name`,
      );
    }
    const prefix = (options.urlPrefix ?? blueprint.options.urlPrefix ?? "").replace(/\/+$/, "");
    if (prefix && !prefix.startsWith("/")) {
      throw new CarafeError(
        "ERR_BAD_BLUEPRINT",
        `blueprint '${name}': urlPrefix '${prefix}' must start with '/'`,
      );
    }
    const prefixed = (rule: string): string =>
      prefix && rule === "/" ? `${prefix}/` : prefix + rule;
    const rules = blueprint.routes.map((spec) => ({
      spec,
      rule: prefixed(spec.rule),
      endpoint: `${name}.${spec.endpoint}`,
    }));
    // Check every rule before adding any, so a failed registration leaves the app unchanged.
    const seen = new Map<string, RouteSpec>();
    for (const { spec, rule, endpoint } of rules) {
      this.urlMap.parse(rule);
      const earlier = seen.get(endpoint);
      if (earlier !== undefined && earlier.handler !== spec.handler) {
        throw new CarafeError(
          "ERR_DUPLICATE_ENDPOINT",
          `blueprint '${name}': endpoint '${endpoint}' is used by rules ${JSON.stringify(earlier.rule)} and ${JSON.stringify(spec.rule)} with different handlers`,
        );
      }
      seen.set(endpoint, spec);
      this.#checkEndpoint(rule, endpoint, spec);
    }
    for (const { spec, rule, endpoint } of rules) this.#addRule(rule, endpoint, spec, name);
    for (const socket of blueprint.sockets) {
      const { rule, endpoint, options, handler } = socket;
      this.#sockets.add(prefixed(rule), `${name}.${endpoint}`, options, handler, name);
    }
    blueprint.markRegistered();
    this.blueprints.set(name, blueprint);
    this.#scopes.set(name, blueprint);
    return this;
  }

  /**
   * Builds the URL of an endpoint; see the exported `urlFor`.
   *
   * @example
   * app.urlFor("user", { id: 7, tab: "posts" }); // "/user/7?tab=posts"
   */
  urlFor(
    endpoint: string,
    params: Readonly<Record<string, unknown>> = {},
    options: UrlForOptions = {},
  ): string {
    return buildUrl(this, endpoint, params, options);
  }

  /**
   * Handles one request record and returns the response record; the boundary every server,
   * the test client and `fetch` go through.
   */
  handle(
    record: RequestRecord,
    connection?: ClientConnection,
    bodyStream?: AsyncIterable<Uint8Array>,
  ): ResponseRecord | Promise<ResponseRecord> {
    this.#serving = true;
    const request = new Request(record, NO_PARAMS, connection, bodyStream);
    const untrusted = untrustedHostResponse(this.config, request);
    if (untrusted !== null) return untrusted;
    request.maxFormParts = this.config.maxFormParts;
    const context = new RequestContext(this, request);
    const match = this.#matchRequest(request);
    let outcome: ViewOutcome | undefined;
    if (this.#isPlain(match, request)) {
      // A plain view with no hook or body step around it is called directly, and a text or
      // JSON value becomes the record at once. The pipeline finishes whatever else it gives:
      // an exception, a promise, another kind of value, or an opened session to save.
      outcome = callView(context, match.rule.payload.handler, request);
      if (!outcome.threw && context.openedSession === undefined) {
        const direct = plainRecord(outcome.value, record.method);
        if (direct !== null) return direct;
      }
    }
    const pipeline = this.#pipeline(context, match, outcome);
    // Plain functions all the way: the context only has to be there while they run.
    return this.#needsAsyncContext(match)
      ? driveInContext(context, pipeline)
      : runSync(context, () => drive(pipeline, (step) => runSync(context, step)));
  }

  /** The web-standard entry point: runs the app on any fetch-handler host. */
  readonly fetch = (request: globalThis.Request): Promise<globalThis.Response> =>
    fetchWith(this, request);

  /**
   * A client that sends requests straight to the app, without a socket.
   *
   * @example
   * const res = await app.testClient().get("/user/7");
   */
  testClient(): TestClient {
    return new TestClient(this);
  }

  /**
   * Runs `fn` inside a request context for `url`, so that `request`, `urlFor`, `session` work
   * outside a real request (scripts, tests).
   */
  testRequestContext<T>(url: string, fn: () => T): T {
    const request = new Request(
      {
        method: "GET",
        url,
        headers: { host: this.config.serverName ?? "localhost" },
        body: null,
        remoteAddress: "127.0.0.1",
        scheme: this.config.preferredUrlScheme,
      },
      NO_PARAMS,
    );
    return runAsync(new RequestContext(this, request), fn);
  }

  /**
   * Serves the app with the development server (127.0.0.1:5000 by default). Does nothing when
   * the module is being served by `carafe serve` or `carafe run`.
   */
  async run(options: RunOptions = {}): Promise<void> {
    const slot = runnerSlot();
    if (slot.managed) return;
    if (slot.runner === undefined) {
      throw new CarafeError(
        "ERR_NO_SERVER",
        "app.run() needs Carafe's server; import the app class from 'carafe' (not from its framework files)",
      );
    }
    if (options.debug !== undefined) this.config.debug = options.debug;
    await slot.runner(this, options);
  }

  /** Opens the session from the request's cookie. @internal */
  openSession(request: Request): Session {
    return openSession(this.config, request.cookies);
  }

  // ---- the pipeline ---------------------------------------------------------------------

  *#pipeline(
    context: RequestContext,
    match: MatchResult<RoutePayload>,
    outcome: ViewOutcome | undefined,
  ): Pipeline<ResponseRecord> {
    let error: unknown;
    let response: Response;
    try {
      response = yield* this.#fullDispatch(context, match, outcome);
    } catch (caught) {
      error = caught;
      response = yield* this.#handleException(context, caught);
    }
    if (this.#chainOf(context.request.blueprint).teardown) yield* this.#teardown(context, error);
    // Made in the same drive: an async request needs no promise more to turn it into a record.
    return this.#toRecord(context, response);
  }

  /** `outcome` is the view's, when `handle` has already called it (a plain route). */
  *#fullDispatch(
    context: RequestContext,
    match: MatchResult<RoutePayload>,
    outcome: ViewOutcome | undefined,
  ): Pipeline<Response> {
    const request = context.request;
    let value: unknown;
    try {
      if (this.#needsBodyStep(request)) yield* this.#loadBody(request);
      if (this.#chainOf(request.blueprint).before) value = yield* this.#preprocessRequest(context);
      if (outcome !== undefined) value = yield settle(outcome);
      else if (value === undefined) value = yield* this.#dispatchRequest(request, match);
    } catch (caught) {
      value = yield* this.#handleUserException(context, caught);
    }
    return yield* this.#finalizeRequest(context, value, false);
  }

  #matchRequest(request: Request): MatchResult<RoutePayload> {
    const match = this.#takeMatch(request.method, request.record.url, request);
    if (match.kind === "found") {
      request.params = match.params;
      request.endpoint = match.rule.endpoint;
      request.rule = match.rule.rule;
      request.blueprint = match.rule.payload.blueprint;
      request.maxContentLength = this.#limitOf(match.rule.payload);
    } else {
      request.maxContentLength = this.config.maxContentLength;
    }
    return match;
  }

  #bodyTooLarge(request: Request): boolean {
    const { record, maxContentLength: limit } = request;
    return (
      record.bodyTooLarge === true ||
      (limit !== null && record.body !== null && record.body.byteLength > limit)
    );
  }

  /** Whether the body needs a step before the view: refusing it as too large, or parsing a form. */
  #needsBodyStep(request: Request): boolean {
    const { record } = request;
    return (
      this.#bodyTooLarge(request) ||
      (record.headers["content-type"] !== undefined &&
        !request.bodyIsStreamed &&
        request.mimetype === "multipart/form-data")
    );
  }

  *#loadBody(request: Request): Pipeline<void> {
    const record = request.record;
    if (this.#bodyTooLarge(request)) throw bodyTooLarge(request.maxContentLength);
    const parsed = yield parseMultipart(record.body, request.contentType, {
      maxFormParts: request.maxFormParts,
    });
    request.setForm(parsed as Awaited<ReturnType<typeof parseMultipart>>);
  }

  /**
   * Whether the request's view can be called directly: a plain function, on a route whose
   * scopes have no hooks and no async error handler, with no body step.
   */
  #isPlain(
    match: MatchResult<RoutePayload>,
    request: Request,
  ): match is Extract<MatchResult<RoutePayload>, { kind: "found" }> {
    if (match.kind !== "found" || match.rule.payload.isAsync) return false;
    const chain = this.#chainOf(match.rule.payload.blueprint);
    return (
      !chain.before &&
      !chain.after &&
      !chain.teardown &&
      !chain.async &&
      !this.#needsBodyStep(request)
    );
  }

  /**
   * Whether the request's pipeline needs its context to follow awaits: its handler, or a hook
   * or error handler that can run for it, is an `async` function.
   */
  #needsAsyncContext(match: MatchResult<RoutePayload>): boolean {
    if (match.kind !== "found") return this.#chainOf(undefined).async;
    const payload = match.rule.payload;
    return payload.isAsync || this.#chainOf(payload.blueprint).async;
  }

  /**
   * The hook scopes a request of `blueprint` passes through (the app's alone for none), and
   * which kinds of hooks they hold. Registration is closed once the app serves, so each chain
   * is worked out once.
   */
  #chainOf(blueprint: string | undefined): ScopeChain {
    let chain = this.#chains.get(blueprint);
    if (chain === undefined) {
      const scope = blueprint === undefined ? undefined : this.#scopes.get(blueprint);
      chain = scopeChainOf(scope === undefined ? [this] : [this, scope]);
      this.#chains.set(blueprint, chain);
    }
    return chain;
  }

  #scopesOf(request: Request): readonly HookScope[] {
    return this.#chainOf(request.blueprint).outward;
  }

  *#preprocessRequest(context: RequestContext): Pipeline<unknown> {
    for (const scope of this.#scopesOf(context.request)) {
      for (const hook of scope.beforeRequestHooks) {
        const value: unknown = yield hook(context.request);
        // Like Flask's `None`, both `undefined` and `null` mean "carry on".
        if (value != null) return value;
      }
    }
    return undefined;
  }

  *#dispatchRequest(request: Request, match: MatchResult<RoutePayload>): Pipeline<unknown> {
    switch (match.kind) {
      case "found":
        return yield match.rule.payload.handler(request as Request<never>);
      case "options":
        return new Response("", { headers: { Allow: match.allowed.join(", ") } });
      case "method-not-allowed":
        throw new MethodNotAllowed(match.allowed);
      case "redirect":
        throw new RequestRedirect(
          match.path + (request.queryString ? `?${request.queryString}` : ""),
        );
      case "bad-path":
        throw new BadRequest("The URL's percent-encoding is malformed.");
      case "not-found":
        throw new NotFound();
    }
  }

  *#handleUserException(context: RequestContext, error: unknown): Pipeline<unknown> {
    if (error instanceof RequestRedirect) return error;
    const handler = findErrorHandler(this.#scopesOf(context.request), error);
    if (handler !== undefined) return yield handler(error);
    if (error instanceof HTTPException) return error;
    throw error;
  }

  *#handleException(context: RequestContext, error: unknown): Pipeline<Response> {
    const request = context.request;
    this.logger.error(`Exception on ${request.path} [${request.method}]`, error);
    const serverError = new InternalServerError(undefined, { cause: error });
    let value: unknown = serverError;
    const handler = findErrorHandler(this.#scopesOf(request), serverError);
    if (handler !== undefined) {
      try {
        value = yield handler(serverError);
      } catch (handlerError) {
        this.logger.error(`The error handler for 500 failed on ${request.path}`, handlerError);
      }
    } else if (this.config.debug && isLoopback(request.remoteAddr)) {
      // The stack trace is shown to loopback clients only: a debug server reachable from the
      // network must not hand its internals to anyone who can make it fail.
      const stack = error instanceof Error ? (error.stack ?? String(error)) : String(error);
      value = new Response(
        `<!doctype html>\n<title>500 Internal Server Error (debug)</title>\n<h1>${escapeHtml(error instanceof Error ? error.message : String(error))}</h1>\n<pre>${escapeHtml(stack)}</pre>\n`,
        { status: 500 },
      );
    }
    try {
      return yield* this.#finalizeRequest(context, value, true);
    } catch (finalizeError) {
      this.logger.error(`Could not build the error response for ${request.path}`, finalizeError);
      return exceptionResponse(serverError, false);
    }
  }

  #makeResponse(request: Request, value: unknown): Response {
    if (value instanceof HTTPException)
      return exceptionResponse(value, prefersJson(request.headers.get("accept")));
    return toResponse(value, viewReturned(request));
  }

  *#finalizeRequest(
    context: RequestContext,
    value: unknown,
    fromErrorHandler: boolean,
  ): Pipeline<Response> {
    let response = this.#makeResponse(context.request, value);
    try {
      for (const scope of this.#chainOf(context.request.blueprint).inward) {
        for (let i = scope.afterRequestHooks.length - 1; i >= 0; i -= 1) {
          const hook = scope.afterRequestHooks[i] as AfterRequestHook;
          const replaced: unknown = yield hook(response);
          if (replaced === undefined) continue;
          if (!(replaced instanceof Response)) {
            throw new CarafeError(
              "ERR_BAD_RESPONSE",
              "an afterRequest hook returned something other than a Response; return the response (or nothing)",
            );
          }
          response = replaced;
        }
      }
      saveSession(this.config, context.openedSession, response);
    } catch (error) {
      if (!fromErrorHandler) throw error;
      this.logger.error(`Request finalizing failed on ${context.request.path}`, error);
    }
    return response;
  }

  *#teardown(context: RequestContext, error: unknown): Pipeline<void> {
    for (const scope of this.#chainOf(context.request.blueprint).inward) {
      for (let i = scope.teardownHooks.length - 1; i >= 0; i -= 1) {
        try {
          yield (scope.teardownHooks[i] as TeardownHook)(error);
        } catch (teardownError) {
          this.logger.error(
            `A teardownRequest hook failed on ${context.request.path}`,
            teardownError,
          );
        }
      }
    }
  }

  #toRecord(context: RequestContext, response: Response): ResponseRecord {
    const record = response.toRecord(context.request.method);
    const body = record.body;
    if (body !== null && typeof body !== "string" && !(body instanceof Uint8Array)) {
      record.body = bindStream(body, context);
    }
    return record;
  }
}

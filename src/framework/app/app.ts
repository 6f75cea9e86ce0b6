// The application, as the composition root: its configuration, the registration of routes,
// sockets and blueprints into one URL map, and the wiring of the parts a server reaches through
// the contract (servable-app.ts): the route plan (plan.ts), the request pipeline (pipeline.ts),
// the WebSocket routes and rooms.

import { basename, dirname, extname, resolve } from "node:path";
import process from "node:process";
import type { Blueprint } from "./blueprint.ts";
import type { AppConfig, CarafeConfig } from "./config.ts";
import { makeConfig } from "./config-object.ts";
import { openResourceIn, type Resource, type ResourceMode } from "./resources.ts";
import { buildUrl, type UrlForOptions } from "./url-for.ts";
import {
  AppContext,
  type RequestContext,
  isAsyncFunction,
  runThenEnd,
} from "../context/context.ts";
import { CarafeError, NotFound } from "../errors.ts";
import { fetchWith } from "../boundary/web-adapter.ts";
import { consoleLogger, type Logger } from "./logging.ts";
import type {
  ClientConnection,
  RequestRecord,
  ResponseRecord,
  RoutePlan,
} from "../boundary/records.ts";
import type {
  Broadcasting,
  RouteListing,
  ServableApp,
  SocketGate,
} from "../boundary/servable-app.ts";
import { Request, rawPathOf } from "../http/request.ts";
import type { Converter, ConverterFactory } from "../routing/converters.ts";
import { UrlMap } from "../routing/url-map.ts";
import { callerFile, registerApp, registerRun, runnerSlot, type RunOptions } from "./runner.ts";
import {
  Scaffold,
  namedTemplateFunction,
  type HookScope,
  type RouteSpec,
  type SocketSpec,
  type TeardownHook,
  type TemplateFunction,
} from "./scaffold.ts";
import { sendFromDirectory } from "../http/send-file.ts";
import { JsonProvider } from "../http/json-provider.ts";
import { openSession, sessionTransaction, type Session } from "../context/sessions.ts";
import {
  outgoingRequest,
  requestRecordOf,
  TestClient,
  type TestRequestContextOptions,
} from "../boundary/test-client.ts";
import { CliRunner } from "../boundary/cli-runner.ts";
import { CommandGroup } from "./commands.ts";
import { untrustedHostResponse } from "../http/trusted-hosts.ts";
import { RequestPipeline, runTeardownHooks } from "./pipeline.ts";
import { drive } from "./drive.ts";
import { RequestPlan } from "./plan.ts";
import { placementOf, type AppUrlMap, type RoutePayload } from "./views.ts";
import {
  Rooms,
  type BroadcastOptions,
  type SubscribeOptions,
  type Subscription,
} from "../websocket/rooms.ts";
import { SocketRoutes, type SocketHost, type SocketRoute } from "../websocket/socket-routes.ts";
import type { WebSocketMessage } from "../websocket/websocket.ts";
import { NamedShared } from "../../threading/index.ts";

export type { RoutePayload } from "./views.ts";

/** Options of `new Carafe()`: Carafe's config keys, plus where the app's files live. */
export interface CarafeOptions extends Partial<CarafeConfig> {
  /**
   * The app's name (for logs and the development server's banner); default: the creating
   * module's file name without its extension (`app` for `app.ts`), as Flask names an app after
   * its module; `app` when that is unknown.
   */
  name?: string;
  /** Folder that relative paths (static, templates) start from; default: the creating module's folder. */
  rootPath?: string;
  /** Folder of static files, served at `staticUrlPath`; `null` to serve none. Default `static`. */
  staticFolder?: string | null;
  /** URL prefix of static files; default `/static`. */
  staticUrlPath?: string;
  /** Folder of templates; default `templates`. */
  templateFolder?: string;
  /**
   * The instance folder: files that belong to this installation (a database, a local config),
   * kept out of version control. Default `instance`; a relative path starts from `rootPath`.
   */
  instancePath?: string;
  /**
   * Relative paths of `app.config.fromFile` start from `instancePath` rather than `rootPath`
   * (Flask's `instance_relative_config`).
   */
  instanceRelativeConfig?: boolean;
}

/** Options of `registerBlueprint`. */
export interface RegisterBlueprintOptions {
  /** Overrides the blueprint's own `urlPrefix`. */
  urlPrefix?: string;
  /** Registers it under another name (so one blueprint can be mounted twice). */
  name?: string;
}

const NO_PARAMS: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

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
 * A Carafe application.
 *
 * @example
 * const app = new Carafe();
 * app.route("/", () => "Hello, World!");
 * app.get("/user/<int:id>", (req) => ({ id: req.params.id }));
 * app.run();
 */
export class Carafe extends Scaffold implements ServableApp {
  readonly name: string;
  readonly rootPath: string;
  /** The module that created the app; pool threads import it to get their own copy. */
  readonly sourceFile: string | undefined;
  readonly config: AppConfig;
  /**
   * Every rule of the app, its WebSocket routes' included; `listRoutes()` is the public view of
   * it. @internal
   */
  readonly urlMap: AppUrlMap = new UrlMap<RoutePayload, SocketRoute>();
  /** Absolute folder of static files, or `null`. */
  readonly staticFolder: string | null;
  readonly staticUrlPath: string;
  /** Absolute folder of templates. */
  readonly templateFolder: string;
  /**
   * Absolute path of the instance folder (`instance` beside the app by default). Carafe does not
   * create it, as Flask does not: an app that writes there makes it, usually in its factory.
   *
   * @example
   * mkdirSync(app.instancePath, { recursive: true });
   * app.config.fromMapping({ DATABASE: join(app.instancePath, "flaskr.sqlite") });
   */
  readonly instancePath: string;
  /** Registered blueprints by name. */
  readonly blueprints = new Map<string, Blueprint>();
  /** Where errors and warnings go; replace it to route them elsewhere. */
  logger: Logger = consoleLogger;
  /**
   * How the app encodes JSON responses (Flask's `app.json`): set its options, or replace it
   * with an instance of a `JsonProvider` subclass.
   *
   * @example
   * app.json.sortKeys = true;
   */
  json: JsonProvider = new JsonProvider();
  /** Values shared by integrations (the template environment, …) keyed by their own symbols. */
  readonly extensions = new Map<symbol, unknown>();
  /**
   * Locks, counters and other threading primitives by name, the same in every pool thread of
   * the process; declare them at the module's top level (see docs/threading.md).
   */
  readonly shared = new NamedShared();
  /** Template filters by name (`templateFilter`); the template integration installs them. */
  readonly templateFilters = new Map<string, TemplateFunction>();
  /** Template global functions by name (`templateGlobal`). */
  readonly templateGlobals = new Map<string, TemplateFunction>();
  /** Template tests by name (`templateTest`). */
  readonly templateTests = new Map<string, TemplateFunction>();
  /**
   * The app's command-line commands (Flask's `app.cli`), run as `carafe --app app.ts NAME`.
   *
   * @example
   * app.cli.command("init-db", { help: "Create the tables." }, () => initDb());
   */
  readonly cli: CommandGroup = new CommandGroup(this);
  /** The hooks `teardownAppcontext` registered, in registration order. */
  readonly teardownAppcontextHooks: TeardownHook[] = [];

  readonly #scopes = new Map<string | undefined, HookScope>();
  readonly #pipeline = new RequestPipeline(this, this.#scopes);
  readonly #sockets = new SocketRoutes(this.urlMap);
  /** The rooms of this app's WebSockets in this process. @internal */
  readonly rooms = new Rooms();
  #serving = false;

  constructor(options: CarafeOptions = {}) {
    super();
    const {
      name,
      rootPath,
      staticFolder,
      staticUrlPath,
      templateFolder,
      instancePath,
      instanceRelativeConfig,
      ...config
    } = options;
    this.sourceFile = callerFile();
    this.name =
      name ??
      (this.sourceFile === undefined ? "app" : basename(this.sourceFile, extname(this.sourceFile)));
    this.rootPath = resolve(
      rootPath ?? (this.sourceFile === undefined ? process.cwd() : dirname(this.sourceFile)),
    );
    registerApp(this, this.sourceFile);
    if (instancePath !== undefined && (typeof instancePath !== "string" || instancePath === "")) {
      throw new CarafeError(
        "ERR_CONFIG_VALUE",
        `new Carafe({ instancePath }) must be a folder's path (got ${JSON.stringify(instancePath) ?? String(instancePath)})`,
      );
    }
    this.instancePath = resolve(this.rootPath, instancePath ?? "instance");
    this.config = makeConfig(
      config,
      instanceRelativeConfig === true ? this.instancePath : this.rootPath,
    );
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
    return this.urlMap.rules().some((rule) => placementOf(rule.payload, false) === "thread");
  }

  /**
   * The route plan of a request (the contract's `planOf`): the rule it matches, where it runs
   * (DESIGN.md, "What runs where"; `threaded`: the server runs unmarked synchronous handlers on
   * threads) and how its body is read. Hand it back to `handle` for the same request.
   */
  planOf(method: string, url: string, threaded = false): RoutePlan {
    const match = this.urlMap.match(method, rawPathOf(url));
    return new RequestPlan(this, match, threaded, this.config.maxContentLength);
  }

  /**
   * Every route, HTTP and WebSocket, with where its requests run: by the rule `planOf` places
   * them with (what `carafe routes` prints).
   *
   * @example
   * for (const route of app.listRoutes()) console.log(route.endpoint, route.rule, route.withThreads);
   */
  listRoutes(): RouteListing[] {
    const http = this.urlMap.rules().map((rule) => ({
      endpoint: rule.endpoint,
      methods: [...rule.methods],
      rule: rule.rule,
      websocket: false,
      withoutThreads: placementOf(rule.payload, false),
      withThreads: placementOf(rule.payload, true),
    }));
    // A socket lives on the loop that holds its connection.
    const sockets = this.urlMap.socketRules().map((rule) => ({
      endpoint: rule.endpoint,
      methods: [],
      rule: rule.rule,
      websocket: true,
      withoutThreads: "loop" as const,
      withThreads: "loop" as const,
    }));
    return [...http, ...sockets];
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

  #checkEndpoint(rule: string, endpoint: string, spec: RouteSpec | SocketSpec): void {
    // A rule that only builds URLs shares its endpoint with the view that serves it.
    if (spec.handler === null) return;
    for (const existing of this.urlMap.rulesFor(endpoint)) {
      if (existing.payload !== null && existing.payload.handler !== spec.handler) {
        throw new CarafeError(
          "ERR_DUPLICATE_ENDPOINT",
          `route ${JSON.stringify(rule)}: endpoint '${endpoint}' is already used by rule ${JSON.stringify(existing.rule)} with another handler; give one of them another endpoint (options.endpoint) or a different function name`,
        );
      }
    }
  }

  #addRule(rule: string, endpoint: string, spec: RouteSpec, blueprint: string | undefined): void {
    this.#checkEndpoint(rule, endpoint, spec);
    if (spec.handler === null) {
      this.urlMap.addBuildOnly(rule, { endpoint, methods: spec.methods });
      return;
    }
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
    return this;
  }

  protected addSocket(spec: SocketSpec): void {
    this.#checkEndpoint(spec.rule, spec.endpoint, spec);
    this.#sockets.add(spec.rule, spec.endpoint, spec.options, spec.handler, undefined);
  }

  /** The contract's WebSocket part: present when the app has WebSocket routes. @internal */
  get sockets(): SocketGate | undefined {
    return this.#sockets.any ? this.#socketGate : undefined;
  }

  readonly #socketGate: SocketGate = {
    accept: (record) => {
      this.#serving = true;
      return this.#sockets.decide(this.#socketHost, record);
    },
  };

  /**
   * The contract's broadcasting part: the rooms, and where broadcasts go beyond this process.
   * @internal
   */
  get broadcasting(): Broadcasting {
    return {
      rooms: this.rooms,
      relayUrl: this.config.broadcastUrl,
      channel: this.config.broadcastChannel,
    };
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
    untrustedHost: (request) => untrustedHostResponse(this.config, request),
    rooms: this.rooms,
    logError: (message, error) => this.logger.error(message, error),
    beforeHooks: (context) => this.#pipeline.runBeforeHooks(context),
    responseOf: (request, value) => this.#pipeline.makeResponse(request, value).toRecord("GET"),
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
      if (
        earlier !== undefined &&
        earlier.handler !== null &&
        spec.handler !== null &&
        earlier.handler !== spec.handler
      ) {
        throw new CarafeError(
          "ERR_DUPLICATE_ENDPOINT",
          `blueprint '${name}': endpoint '${endpoint}' is used by rules ${JSON.stringify(earlier.rule)} and ${JSON.stringify(spec.rule)} with different handlers`,
        );
      }
      if (spec.handler !== null) seen.set(endpoint, spec);
      this.#checkEndpoint(rule, endpoint, spec);
    }
    for (const { spec, rule, endpoint } of rules) this.#addRule(rule, endpoint, spec, name);
    for (const socket of blueprint.sockets) {
      const { rule, endpoint, options, handler } = socket;
      const full = `${name}.${endpoint}`;
      this.#checkEndpoint(prefixed(rule), full, socket);
      this.#sockets.add(prefixed(rule), full, options, handler, name);
    }
    // App-wide hooks are added once per app, however many names the blueprint is mounted under.
    const first = ![...this.blueprints.values()].includes(blueprint);
    blueprint.markRegistered();
    this.blueprints.set(name, blueprint);
    if (first) for (const setup of blueprint.appSetup) setup(this);
    this.#scopes.set(name, blueprint);
    return this;
  }

  /**
   * Adds a filter for the app's templates, named `name` or the function's name.
   *
   * @example
   * app.templateFilter(function reverse(text: string) { return [...text].reverse().join(""); });
   * // {{ "abc" | reverse }} → cba
   */
  templateFilter(filter: TemplateFunction): this;
  templateFilter(name: string, filter: TemplateFunction): this;
  templateFilter(nameOrFn: string | TemplateFunction, maybeFn?: TemplateFunction): this {
    return this.#addTemplateFunction(this.templateFilters, "templateFilter()", nameOrFn, maybeFn);
  }

  /**
   * Adds a global function for the app's templates, named `name` or the function's name.
   * Keyword arguments (`f(a, b=2)`) arrive as a last object argument.
   *
   * @example
   * app.templateGlobal("now", () => new Date().toISOString());
   * // {{ now() }}
   */
  templateGlobal(fn: TemplateFunction): this;
  templateGlobal(name: string, fn: TemplateFunction): this;
  templateGlobal(nameOrFn: string | TemplateFunction, maybeFn?: TemplateFunction): this {
    return this.#addTemplateFunction(this.templateGlobals, "templateGlobal()", nameOrFn, maybeFn);
  }

  /**
   * Adds a test for the app's templates (`{% if value is name %}`), named `name` or the
   * function's name.
   *
   * @example
   * app.templateTest(function weekend(day: Date) { return day.getDay() % 6 === 0; });
   * // {% if post.created is weekend %}
   */
  templateTest(test: TemplateFunction): this;
  templateTest(name: string, test: TemplateFunction): this;
  templateTest(nameOrFn: string | TemplateFunction, maybeFn?: TemplateFunction): this {
    return this.#addTemplateFunction(this.templateTests, "templateTest()", nameOrFn, maybeFn);
  }

  #addTemplateFunction(
    into: Map<string, TemplateFunction>,
    method: string,
    nameOrFn: string | TemplateFunction,
    maybeFn: TemplateFunction | undefined,
  ): this {
    this.checkSetup(method);
    const [name, fn] = namedTemplateFunction(method, nameOrFn, maybeFn);
    into.set(name, fn);
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
   * the test client and `fetch` go through. `plan` is what `planOf` gave for the request (the
   * route is matched again without it).
   */
  handle(
    record: RequestRecord,
    plan?: RoutePlan,
    connection?: ClientConnection,
    bodyStream?: AsyncIterable<Uint8Array>,
  ): ResponseRecord | Promise<ResponseRecord> {
    this.#serving = true;
    // Another app's plan (or none) says nothing of this app's routes: they are matched here.
    const match = plan instanceof RequestPlan && plan.app === this ? plan.match : undefined;
    return this.#pipeline.handle(record, match, connection, bodyStream);
  }

  /**
   * `handle` for the test client, which keeps each request's context: `client.session` and
   * `client.g` read it. @internal
   */
  handleForTest(
    record: RequestRecord,
    plan: RoutePlan | undefined,
    capture: (context: RequestContext) => void,
  ): ResponseRecord | Promise<ResponseRecord> {
    this.#serving = true;
    const match = plan instanceof RequestPlan && plan.app === this ? plan.match : undefined;
    return this.#pipeline.handle(record, match, undefined, undefined, capture);
  }

  /**
   * The test client's `sessionTransaction`: the session its cookies carry, given to `fn`, and
   * the headers that save it. @internal
   */
  testSessionTransaction<T>(
    cookieHeaderFor: (path: string) => string,
    fn: (session: Session) => T | Promise<T>,
  ): Promise<[T, string[]]> {
    return sessionTransaction(this.config, cookieHeaderFor(this.config.sessionCookiePath), fn);
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
   * A runner of the app's commands for tests (Flask's `app.test_cli_runner()`).
   *
   * @example
   * const result = await app.testCliRunner().invoke(["init-db"]);
   * assert.equal(result.exitCode, 0);
   */
  testCliRunner(): CliRunner {
    return new CliRunner(this.cli);
  }

  /**
   * Runs `fn` inside a request context for `url`, so that `request`, `urlFor`, `session` work
   * outside a real request (scripts, tests): a GET, or what `options` describe (Flask's
   * `test_request_context("/", method="POST", data=…)`: `method`, `headers`, `query`, `json`,
   * `form`, `data`, as the test client takes them). The URL is matched to its route, so
   * `request.endpoint`, `params` and `blueprint` are set when one matches; no hook runs before
   * `fn`. When `fn` ends (its promise settles), the teardownRequest hooks run (the route's
   * blueprint's, then the app's), then the teardownAppcontext hooks, as after a request.
   *
   * @example
   * app.testRequestContext("/?q=1", () => request.args.get("q")); // "1"
   * app.testRequestContext("/login", { method: "POST", form: { user: "ada" } }, () =>
   *   request.form.get("user"),
   * ); // "ada"
   */
  testRequestContext<T>(url: string, fn: () => T): T;
  testRequestContext<T>(url: string, options: TestRequestContextOptions, fn: () => T): T;
  testRequestContext<T>(
    url: string,
    optionsOrFn: TestRequestContextOptions | (() => T),
    maybeFn?: () => T,
  ): T {
    const [options, fn] =
      typeof optionsOrFn === "function" ? [{}, optionsOrFn] : [optionsOrFn, maybeFn];
    if (typeof fn !== "function") {
      throw new CarafeError(
        "ERR_TEST_CLIENT",
        "testRequestContext(url, options?, fn): fn must be a function",
      );
    }
    if ("files" in options) {
      throw new CarafeError(
        "ERR_TEST_CLIENT",
        "testRequestContext() takes no files: a multipart body is parsed before a view runs; send it with app.testClient().post(url, { files })",
      );
    }
    const outgoing = outgoingRequest(options.method ?? "GET", url, {
      ...options,
      headers: { host: this.config.serverName ?? "localhost", ...options.headers },
      scheme: options.scheme ?? this.config.preferredUrlScheme,
    });
    const request = new Request(requestRecordOf(outgoing), NO_PARAMS);
    const context = this.#pipeline.testContext(request);
    return runThenEnd(context, fn, (error) => this.#pipeline.endRequestContext(context, error));
  }

  /**
   * Runs `fn` inside an app context of this app (Flask's `with app.app_context():`):
   * `currentApp`, a fresh `g` and `urlFor` work in it and in everything it awaits, while
   * `request` and `session` do not (there is no request). Returns what `fn` returns (a promise
   * for an async `fn`). When `fn` ends, or its promise settles, the teardownAppcontext hooks run.
   *
   * @example
   * await app.appContext(async () => {
   *   await initDb(); // code that reads currentApp.config and keeps its connection on g
   * });
   */
  appContext<T>(fn: () => T): T {
    return runThenEnd(new AppContext(this), fn, (error) => this.#endAppContext(error));
  }

  /**
   * Runs `hook` whenever an app context ends, with the error that ended it (or `undefined`):
   * after every request (after its teardownRequest hooks), after `appContext(fn)`,
   * `testRequestContext(url, fn)` and each CLI command. The place to close what a request or
   * command opened on `g`. A hook that fails is logged; the others still run.
   *
   * @example
   * app.teardownAppcontext(() => {
   *   (g.db as Database | undefined)?.close();
   * });
   */
  teardownAppcontext(hook: TeardownHook): this {
    this.checkSetup("teardownAppcontext()");
    if (typeof hook !== "function") {
      throw new CarafeError(
        "ERR_BAD_HOOK",
        "teardownAppcontext(hook): the hook must be a function",
      );
    }
    this.teardownAppcontextHooks.push(hook);
    return this;
  }

  /** The teardownAppcontext hooks of an app context that has no request. */
  #endAppContext(error: unknown): void | Promise<void> {
    return drive(
      runTeardownHooks(this.teardownAppcontextHooks, error, (hookError) =>
        this.logger.error("A teardownAppcontext hook failed", hookError),
      ),
    );
  }

  /**
   * Serves the app with the development server (127.0.0.1:5000 by default). Does nothing when
   * the module is being served by `carafe serve` or `carafe run`, or imported by a pool thread.
   * With threads, each pool thread imports the module whose code called `run()` and serves the
   * app whose `run()` that code calls there: the same app, made the same way, a factory's too.
   */
  async run(options: RunOptions = {}): Promise<void> {
    const slot = runnerSlot();
    const runFile = callerFile();
    registerRun(this, runFile);
    if (slot.managed) return;
    if (slot.runner === undefined) {
      throw new CarafeError(
        "ERR_NO_SERVER",
        "app.run() needs Carafe's server; import the app class from 'carafe' (not from its framework files)",
      );
    }
    if (options.debug !== undefined) this.config.debug = options.debug;
    await slot.runner(this, options, runFile);
  }

  /**
   * Opens a file of the app by its path relative to `rootPath`, for reading (Flask's
   * `open_resource`): `read()` gives its bytes, `text()` its text. A missing file, or a path that
   * leaves `rootPath`, is a `CarafeError`.
   *
   * @example
   * db.exec(currentApp.openResource("schema.sql").text());
   */
  openResource(path: string): Resource {
    return openResourceIn(this.rootPath, path, "r", "openResource");
  }

  /**
   * Opens a file of the instance folder by its path relative to `instancePath` (Flask's
   * `open_instance_resource`): `"r"` to read it (the default), `"w"` to write it from empty,
   * `"a"` to add to it. A path that leaves the folder is a `CarafeError`.
   *
   * @example
   * app.openInstanceResource("visits.log", "a").write(`${new Date().toISOString()}\n`);
   * const settings = app.openInstanceResource("settings.txt").text();
   */
  openInstanceResource(path: string, mode: ResourceMode = "r"): Resource {
    return openResourceIn(this.instancePath, path, mode, "openInstanceResource");
  }

  /** Opens the session from the request's cookie. @internal */
  openSession(request: Request): Session {
    return openSession(this.config, request.cookies);
  }
}

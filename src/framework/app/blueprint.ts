// Blueprints: a group of routes, hooks and error handlers registered on an app under a name
// (endpoints become `name.endpoint`) and an optional URL prefix. Its app-wide hooks
// (`beforeAppRequest`, `appTemplateFilter`, …) are kept as setup steps the app replays on
// itself when it first registers the blueprint, in the order they were made (Flask's
// `record_once`).

import type { HTTPException } from "../errors.ts";
import { CarafeError } from "../errors.ts";
import {
  Scaffold,
  checkFunction,
  errorKey,
  namedTemplateFunction,
  type AfterRequestHook,
  type BeforeRequestHook,
  type ContextProcessor,
  type ErrorClass,
  type ErrorHandler,
  type RouteSpec,
  type SocketSpec,
  type TeardownHook,
  type TemplateFunction,
} from "./scaffold.ts";

/** Options of `new Blueprint`. */
export interface BlueprintOptions {
  /** Prefix of every rule of the blueprint, e.g. `/admin`. */
  urlPrefix?: string;
}

/** What a blueprint's app-wide hooks register on: the app. @internal */
export interface BlueprintSetupTarget extends Scaffold {
  templateFilter(name: string, filter: TemplateFunction): unknown;
  templateGlobal(name: string, fn: TemplateFunction): unknown;
  templateTest(name: string, test: TemplateFunction): unknown;
}

/** One app-wide registration a blueprint makes on the app that registers it. @internal */
export type BlueprintSetup = (app: BlueprintSetupTarget) => void;

/**
 * A group of routes with its own hooks and error handlers.
 *
 * @example
 * const admin = new Blueprint("admin", { urlPrefix: "/admin" });
 * admin.get("/", function index() { return "admin home"; }); // endpoint "admin.index"
 * app.registerBlueprint(admin);
 */
export class Blueprint extends Scaffold {
  /** The routes and sockets an app adds when it registers the blueprint. @internal */
  readonly routes: RouteSpec[] = [];
  /** @internal */
  readonly sockets: SocketSpec[] = [];
  /** The app-wide registrations, replayed on the app at its first registration. @internal */
  readonly appSetup: BlueprintSetup[] = [];
  #registered = false;

  constructor(
    readonly name: string,
    readonly options: BlueprintOptions = {},
  ) {
    super();
    if (!name || name.includes(".")) {
      throw new CarafeError(
        "ERR_BAD_BLUEPRINT",
        `blueprint name ${JSON.stringify(name)} must be non-empty and must not contain '.'`,
      );
    }
  }

  protected addRoute(spec: RouteSpec): void {
    this.routes.push(spec);
  }

  protected addSocket(spec: SocketSpec): void {
    this.sockets.push(spec);
  }

  protected checkSetup(method: string): void {
    if (this.#registered) {
      throw new CarafeError(
        "ERR_SETUP_FINISHED",
        `${method} was called on blueprint '${this.name}' after it was registered on an app; add its routes and hooks before app.registerBlueprint()`,
      );
    }
  }

  #onApp(method: string, setup: BlueprintSetup): this {
    this.checkSetup(method);
    this.appSetup.push(setup);
    return this;
  }

  /**
   * Runs `hook` before every request of the app, not only the blueprint's (Flask's
   * `before_app_request`).
   *
   * @example
   * auth.beforeAppRequest(() => {
   *   const id = session.get("userId");
   *   g.user = id === undefined ? null : db.getUser(id);
   * });
   */
  beforeAppRequest(hook: BeforeRequestHook): this {
    return this.#onApp("beforeAppRequest()", (app) => app.beforeRequest(hook));
  }

  /** Runs `hook` with the response of every request of the app (Flask's `after_app_request`). */
  afterAppRequest(hook: AfterRequestHook): this {
    return this.#onApp("afterAppRequest()", (app) => app.afterRequest(hook));
  }

  /** Runs `hook` at the end of every request of the app (Flask's `teardown_app_request`). */
  teardownAppRequest(hook: TeardownHook): this {
    return this.#onApp("teardownAppRequest()", (app) => app.teardownRequest(hook));
  }

  /**
   * Handles errors of a status code or class in every request of the app, not only the
   * blueprint's (Flask's `app_errorhandler`).
   *
   * @example
   * errors.appErrorHandler(404, () => makeResponse(renderTemplate("404.html"), 404));
   */
  appErrorHandler(status: number, handler: ErrorHandler<HTTPException>): this;
  appErrorHandler<E>(errorClass: ErrorClass<E>, handler: ErrorHandler<E>): this;
  appErrorHandler(key: number | ErrorClass<unknown>, handler: ErrorHandler<never>): this {
    errorKey(key); // refused here, where the mistake is, rather than at registration
    return this.#onApp("appErrorHandler()", (app) =>
      app.errorHandler(key as ErrorClass<unknown>, handler as ErrorHandler<unknown>),
    );
  }

  /**
   * Merges what `processor` returns into the context of every template the app renders (the
   * blueprint's own `contextProcessor` applies to its requests only).
   */
  appContextProcessor(processor: ContextProcessor): this {
    checkFunction("appContextProcessor()", processor);
    return this.#onApp("appContextProcessor()", (app) => app.contextProcessor(processor));
  }

  /** Adds a filter for every template of the app; see `Carafe.templateFilter`. */
  appTemplateFilter(filter: TemplateFunction): this;
  appTemplateFilter(name: string, filter: TemplateFunction): this;
  appTemplateFilter(nameOrFn: string | TemplateFunction, maybeFn?: TemplateFunction): this {
    const [name, fn] = namedTemplateFunction("appTemplateFilter()", nameOrFn, maybeFn);
    return this.#onApp("appTemplateFilter()", (app) => app.templateFilter(name, fn));
  }

  /** Adds a global function for every template of the app; see `Carafe.templateGlobal`. */
  appTemplateGlobal(fn: TemplateFunction): this;
  appTemplateGlobal(name: string, fn: TemplateFunction): this;
  appTemplateGlobal(nameOrFn: string | TemplateFunction, maybeFn?: TemplateFunction): this {
    const [name, fn] = namedTemplateFunction("appTemplateGlobal()", nameOrFn, maybeFn);
    return this.#onApp("appTemplateGlobal()", (app) => app.templateGlobal(name, fn));
  }

  /** Adds a test (`{% if n is prime %}`) for every template of the app; see `Carafe.templateTest`. */
  appTemplateTest(test: TemplateFunction): this;
  appTemplateTest(name: string, test: TemplateFunction): this;
  appTemplateTest(nameOrFn: string | TemplateFunction, maybeFn?: TemplateFunction): this {
    const [name, fn] = namedTemplateFunction("appTemplateTest()", nameOrFn, maybeFn);
    return this.#onApp("appTemplateTest()", (app) => app.templateTest(name, fn));
  }

  /** Marks the blueprint as registered; later setup calls fail. @internal */
  markRegistered(): void {
    this.#registered = true;
  }
}

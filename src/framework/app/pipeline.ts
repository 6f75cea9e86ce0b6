// The request pipeline, from a RequestRecord and its route's match to a ResponseRecord:
// preprocessRequest → dispatchRequest → finalizeRequest, with error handling and teardown
// (Flask's order). Its stages are generators driven by drive.ts, so a synchronous request
// creates no promise; a plain view with no hook around it is called directly (the fast path).

import type { AppConfig } from "./config.ts";
import {
  RequestContext,
  bindStream,
  runHeld,
  runSync,
  type ContextApp,
} from "../context/context.ts";
import { drive, type Pipeline } from "./drive.ts";
import { reportRequestException } from "./exception-reports.ts";
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
import { parseMultipart } from "../http/forms.ts";
import type { JsonProvider } from "../http/json-provider.ts";
import type { Logger } from "./logging.ts";
import type { ClientConnection, RequestRecord, ResponseRecord } from "../boundary/records.ts";
import { Request } from "../http/request.ts";
import { requestNote } from "../boundary/request-id.ts";
import {
  Response,
  exceptionResponse,
  plainRecord,
  prefersJson,
  toResponse,
  viewReturned,
} from "../http/response.ts";
import { redirectLocation, type MatchResult } from "../routing/url-map.ts";
import {
  findErrorHandler,
  type AfterRequestHook,
  type HookScope,
  type TeardownHook,
} from "./scaffold.ts";
import { saveSession } from "../context/sessions.ts";
import { untrustedHostResponse } from "../http/trusted-hosts.ts";
import { debugPage, isLoopback } from "./debug-page.ts";
import {
  callView,
  limitOf,
  scopeChainOf,
  settle,
  type AppUrlMap,
  type RoutePayload,
  type ScopeChain,
  type ViewOutcome,
} from "./views.ts";

/** What the pipeline reads of its app, which is also the app of each request's context. */
export interface PipelineApp extends ContextApp {
  readonly config: AppConfig;
  /** Read at each use: an app may replace its logger. */
  readonly logger: Logger;
  readonly urlMap: AppUrlMap;
  /** The app's `teardownAppcontext` hooks, run after every request's teardownRequest hooks. */
  readonly teardownAppcontextHooks: readonly TeardownHook[];
  /** Read at each use: an app may replace its JSON provider. */
  readonly json: JsonProvider;
}

/** The hook scopes of an app: its own under `undefined`, each blueprint's under its name. */
export type HookScopes = ReadonlyMap<string | undefined, HookScope>;

const NO_PARAMS: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

/**
 * Drives `pipeline` with `context` kept across its awaits; the drive itself releases the
 * storage when it ends, so no promise is chained to find out.
 */
function driveInContext<T>(context: RequestContext, pipeline: Pipeline<T>): T | Promise<T> {
  return runHeld(context, (release) => drive(pipeline, undefined, release));
}

/**
 * Runs teardown `hooks`, the last registered first, with the error (or `undefined`); a hook
 * that fails is handed to `failed` and the others still run.
 */
export function* runTeardownHooks(
  hooks: readonly TeardownHook[],
  error: unknown,
  failed: (hookError: unknown) => void,
): Pipeline<void> {
  for (let i = hooks.length - 1; i >= 0; i -= 1) {
    try {
      yield (hooks[i] as TeardownHook)(error);
    } catch (hookError) {
      failed(hookError);
    }
  }
}

/** A request whose body exceeded its route's limit (or the server said so). */
function isBodyTooLarge(request: Request): boolean {
  const { record, maxContentLength: limit } = request;
  return (
    record.bodyTooLarge === true ||
    (limit !== null && record.body !== null && record.body.byteLength > limit)
  );
}

/** Whether the body needs a step before the view: refusing it as too large, or parsing a form. */
function needsBodyStep(request: Request): boolean {
  const { record } = request;
  return (
    isBodyTooLarge(request) ||
    (record.headers["content-type"] !== undefined &&
      !request.bodyIsStreamed &&
      request.mimetype === "multipart/form-data")
  );
}

function* loadBody(request: Request): Pipeline<void> {
  if (isBodyTooLarge(request)) throw bodyTooLarge(request.maxContentLength);
  const parsed = yield parseMultipart(request.record.body, request.contentType, {
    maxFormParts: request.maxFormParts,
  });
  request.setForm(parsed as Awaited<ReturnType<typeof parseMultipart>>);
}

/** Sets on `request` what its route's match found: the rule's values, endpoint and blueprint. */
function setRoute(
  request: Request,
  match: Extract<MatchResult<RoutePayload>, { kind: "found" }>,
): void {
  const { rule } = match;
  request.params = match.params;
  request.endpoint = rule.endpoint;
  request.rule = rule.rule;
  request.blueprint = rule.payload.blueprint;
}

function* dispatchRequest(request: Request, match: MatchResult<RoutePayload>): Pipeline<unknown> {
  switch (match.kind) {
    case "found":
      return yield match.rule.payload.handler(request as Request<never>);
    case "options":
      return new Response("", { headers: { Allow: match.allowed.join(", ") } });
    case "method-not-allowed":
      throw new MethodNotAllowed(match.allowed);
    case "redirect":
      throw new RequestRedirect(
        redirectLocation(
          request.scheme,
          request.record.headers["host"],
          match.path,
          request.queryString,
        ),
      );
    case "bad-path":
      throw new BadRequest("The URL's percent-encoding is malformed.");
    case "not-found":
      throw new NotFound();
  }
}

function toRecord(context: RequestContext, response: Response): ResponseRecord {
  const record = response.toRecord(context.request.method);
  const body = record.body;
  if (body !== null && typeof body !== "string" && !(body instanceof Uint8Array)) {
    record.body = bindStream(body, context);
  }
  return record;
}

/** The request pipeline of one app. */
export class RequestPipeline {
  readonly #app: PipelineApp;
  readonly #scopes: HookScopes;
  readonly #chains = new Map<string | undefined, ScopeChain>();

  constructor(app: PipelineApp, scopes: HookScopes) {
    this.#app = app;
    this.#scopes = scopes;
  }

  /**
   * The context of a request made up outside a real one (`testRequestContext`): its URL is
   * matched, as Flask matches a test request context's, so its endpoint, params and blueprint
   * are known (and its blueprint's teardownRequest hooks run at its end); no hook runs now.
   */
  testContext(request: Request): RequestContext {
    const matched = this.#app.urlMap.match(request.method, request.rawPath);
    if (matched.kind === "found") setRoute(request, matched);
    return new RequestContext(this.#app, request);
  }

  /**
   * Handles one request: `match` is its route's, as its plan found it (matched here when the
   * caller had no plan). `capture`, given by the test client only, receives the request's
   * context (for `client.session` and `client.g`).
   */
  handle(
    record: RequestRecord,
    match: MatchResult<RoutePayload> | undefined,
    connection?: ClientConnection,
    bodyStream?: AsyncIterable<Uint8Array>,
    capture?: (context: RequestContext) => void,
  ): ResponseRecord | Promise<ResponseRecord> {
    const config = this.#app.config;
    const request = new Request(record, NO_PARAMS, connection, bodyStream);
    const untrusted = untrustedHostResponse(config, request);
    if (untrusted !== null) return untrusted;
    request.maxFormParts = config.maxFormParts;
    const context = new RequestContext(this.#app, request);
    if (capture !== undefined) capture(context);
    const matched = match ?? this.#app.urlMap.match(request.method, request.rawPath);
    if (matched.kind === "found") {
      setRoute(request, matched);
      request.maxContentLength = limitOf(matched.rule.payload, config.maxContentLength);
    } else {
      request.maxContentLength = config.maxContentLength;
    }
    let outcome: ViewOutcome | undefined;
    if (this.#isPlain(matched, request)) {
      // A plain view with no hook or body step around it is called directly, and a text or
      // JSON value becomes the record at once. The pipeline finishes whatever else it gives:
      // an exception, a promise, another kind of value, or an opened session to save.
      outcome = callView(context, matched.rule.payload.handler, request);
      if (!outcome.threw && context.openedSession === undefined) {
        const direct = plainRecord(outcome.value, record.method, this.#app.json);
        if (direct !== null) return direct;
      }
    }
    const pipeline = this.#pipeline(context, matched, outcome);
    // Plain functions all the way: the context only has to be there while they run.
    return this.#needsAsyncContext(matched)
      ? driveInContext(context, pipeline)
      : runSync(context, () => drive(pipeline, (step) => runSync(context, step)));
  }

  /**
   * Runs the before-request hooks of `context`'s request (a WebSocket upgrade's): the value one
   * returned, or `undefined` to go on.
   */
  async runBeforeHooks(context: RequestContext): Promise<unknown> {
    return this.#chainOf(context.request.blueprint).before
      ? driveInContext(context, this.#preprocessRequest(context))
      : undefined;
  }

  /** The response for a value a view, hook or error handler returned. */
  makeResponse(request: Request, value: unknown): Response {
    if (value instanceof HTTPException)
      return exceptionResponse(value, prefersJson(request.headers.get("accept")));
    return toResponse(value, viewReturned(request), this.#app.json);
  }

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
    return toRecord(context, response);
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
      // A view already called (`outcome`) was plain: #isPlain found no body step for it.
      if (outcome === undefined && needsBodyStep(request)) yield* loadBody(request);
      if (this.#chainOf(request.blueprint).before) value = yield* this.#preprocessRequest(context);
      if (outcome !== undefined) value = yield settle(outcome);
      else if (value === undefined) value = yield* dispatchRequest(request, match);
    } catch (caught) {
      value = yield* this.#handleUserException(context, caught);
    }
    return yield* this.#finalizeRequest(context, value, false);
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
      !chain.before && !chain.after && !chain.teardown && !chain.async && !needsBodyStep(request)
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
      const scopes = this.#scopes;
      const app = scopes.get(undefined) as HookScope;
      const scope = blueprint === undefined ? undefined : scopes.get(blueprint);
      chain = scopeChainOf(
        scope === undefined ? [app] : [app, scope],
        this.#app.teardownAppcontextHooks,
      );
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

  *#handleUserException(context: RequestContext, error: unknown): Pipeline<unknown> {
    if (error instanceof RequestRedirect) return error;
    const handler = findErrorHandler(this.#scopesOf(context.request), error);
    if (handler !== undefined) return yield handler(error);
    if (error instanceof HTTPException) return error;
    throw error;
  }

  *#handleException(context: RequestContext, error: unknown): Pipeline<Response> {
    const request = context.request;
    const logger = this.#app.logger;
    logger.error(
      `Exception on ${request.path} [${request.method}] ${requestNote(request.rule, request.id)}`,
      error,
    );
    reportRequestException(error);
    const serverError = new InternalServerError(undefined, { cause: error });
    let value: unknown = serverError;
    const handler = findErrorHandler(this.#scopesOf(request), serverError);
    if (handler !== undefined) {
      try {
        value = yield handler(serverError);
      } catch (handlerError) {
        logger.error(
          `The error handler for 500 failed on ${request.path} ${requestNote(request.rule, request.id)}`,
          handlerError,
        );
      }
    } else if (this.#app.config.debug && isLoopback(request.remoteAddr)) {
      // The stack trace is shown to loopback clients only: a debug server reachable from the
      // network must not hand its internals to anyone who can make it fail.
      value = debugPage(error);
    }
    try {
      return yield* this.#finalizeRequest(context, value, true);
    } catch (finalizeError) {
      logger.error(`Could not build the error response for ${request.path}`, finalizeError);
      return exceptionResponse(serverError, false);
    }
  }

  *#finalizeRequest(
    context: RequestContext,
    value: unknown,
    fromErrorHandler: boolean,
  ): Pipeline<Response> {
    let response = this.makeResponse(context.request, value);
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
      saveSession(this.#app.config, context.openedSession, response);
    } catch (error) {
      if (!fromErrorHandler) throw error;
      this.#app.logger.error(`Request finalizing failed on ${context.request.path}`, error);
    }
    return response;
  }

  /**
   * Ends a request context made outside the pipeline (`testRequestContext`): the teardownRequest
   * hooks of its route's blueprint, then the app's, then its teardownAppcontext hooks. The hooks
   * are read now, as registration may still go on.
   */
  endRequestContext(context: RequestContext, error: unknown): void | Promise<void> {
    const app = this.#scopes.get(undefined) as HookScope;
    const blueprint = context.request.blueprint;
    const own = blueprint === undefined ? undefined : this.#scopes.get(blueprint);
    const outward = own === undefined ? [app] : [app, own];
    return drive(
      this.#teardown(context, error, scopeChainOf(outward, this.#app.teardownAppcontextHooks)),
    );
  }

  *#teardown(
    context: RequestContext,
    error: unknown,
    chain: ScopeChain = this.#chainOf(context.request.blueprint),
  ): Pipeline<void> {
    const { logger } = this.#app;
    const path = context.request.path;
    for (const scope of chain.inward) {
      yield* runTeardownHooks(scope.teardownHooks, error, (hookError) =>
        logger.error(`A teardownRequest hook failed on ${path}`, hookError),
      );
    }
    yield* runTeardownHooks(chain.appTeardown, error, (hookError) =>
      logger.error(`A teardownAppcontext hook failed on ${path}`, hookError),
    );
  }
}

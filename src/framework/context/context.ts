// Design: the context (`currentApp` and `g` of an app context; `request` and `session` besides
// in a request context, which is its own app context) is found in one of two places. A route whose handler and hooks are all plain functions runs synchronously: its
// context sits in a module variable exactly while its code runs (`runSync`), which costs
// nothing. A route with an `async` handler or hook (and every streamed body) runs inside one
// AsyncLocalStorage (`runAsync`), so each await and callback started inside the request sees
// its own context and concurrent requests on one loop never see each other's objects.
// AsyncLocalStorage makes every async resource in the process pay a hook on Node 20, so the
// storage is switched off whenever no request needs it. The exported names are proxies that
// look the current context up on each property access.

import { AsyncLocalStorage } from "node:async_hooks";
import { CarafeError } from "../errors.ts";
import type { BodyStream } from "../boundary/records.ts";
import type { Request } from "../http/request.ts";
import type { Session } from "./sessions.ts";

/**
 * Per-request storage (Flask's `g`). Declare your fields by declaration merging:
 *
 * @example
 * declare module "carafe" {
 *   interface AppGlobals { user?: { id: number } }
 * }
 */
export interface AppGlobals {
  [key: string]: unknown;
}

/** What the context needs of an app (kept minimal so this file does not import app.ts). */
export interface ContextApp {
  /** Opens the session for the current request (lazily, on first use). */
  openSession(request: Request): Session;
}

/**
 * The state of an app while some code works with it outside a request (`app.appContext()`, a
 * CLI command): the app and its `g`. A request's context (`RequestContext`) is its own app
 * context: it has the same `app` and `g`.
 */
export class AppContext<A extends ContextApp = ContextApp> {
  #g: AppGlobals | undefined;

  constructor(readonly app: A) {}

  /** The context's storage (`g`), made on first use: most requests never touch it. */
  get g(): AppGlobals {
    this.#g ??= {};
    return this.#g;
  }
}

/**
 * The state of one request while it is handled; also its app context. (It repeats `g` rather
 * than extending `AppContext`: a derived constructor costs every request measurably.)
 */
export class RequestContext<A extends ContextApp = ContextApp> {
  #g: AppGlobals | undefined;
  #session: Session | undefined;

  constructor(
    readonly app: A,
    readonly request: Request,
  ) {}

  /** Per-request storage (`g`), made on first use: most requests never touch it. */
  get g(): AppGlobals {
    this.#g ??= {};
    return this.#g;
  }

  /** The session, opened from the cookie on first use. */
  get session(): Session {
    this.#session ??= this.app.openSession(this.request);
    return this.#session;
  }

  /** The session if it was opened during this request. */
  get openedSession(): Session | undefined {
    return this.#session;
  }
}

/** An app context: a request's, or one without a request. */
export type AnyAppContext = AppContext | RequestContext;

const storage = new AsyncLocalStorage<AnyAppContext>();
/** The context of the synchronous code running right now (`runSync`), if any. */
let syncContext: AnyAppContext | undefined;
/** Requests and streams that may still resume inside `storage`. */
let asyncRuns = 0;

/**
 * Whether `fn` was declared `async` (its calls return a promise and may await), or wraps (through
 * `wraps`) a function that was: a plain decorator around an `async` view returns the view's
 * promise, whose awaits need the request context as much as the view's own. @internal
 */
export function isAsyncFunction(fn: unknown): boolean {
  // Bounded, so a function that names itself as `__wrapped__` cannot loop forever.
  for (let depth = 0; typeof fn === "function" && depth < 100; depth += 1) {
    if (fn.constructor.name === "AsyncFunction") return true;
    fn = (fn as { __wrapped__?: unknown }).__wrapped__;
  }
  return false;
}

/** Runs `fn` synchronously with `context` as the current context. @internal */
export function runSync<T>(context: AnyAppContext, fn: () => T): T {
  const outer = syncContext;
  syncContext = context;
  try {
    return fn();
  } finally {
    syncContext = outer;
  }
}

/**
 * Runs `fn` with `context` as the current context for everything it starts, awaits and
 * callbacks included, until the promise it returns settles. @internal
 */
export function runAsync<T>(context: AnyAppContext, fn: () => T): T {
  return runHeld(context, (release) => {
    const result = fn();
    if (result instanceof Promise) result.then(release, release);
    else release();
    return result;
  });
}

/**
 * `runAsync` for code that knows itself when its async work has settled: `fn` calls `release`
 * then (at least once), which spares the promise `runAsync` chains to find out. @internal
 */
export function runHeld<T>(context: AnyAppContext, fn: (release: () => void) => T): T {
  const release = holdStorage();
  try {
    return enterStorage(context, () => fn(release));
  } catch (error) {
    release();
    throw error;
  }
}

/**
 * Runs `fn` with `context` as the current context, as `runAsync` does, then `end` with the error
 * `fn` threw (or its promise rejected with), or `undefined`, still inside `context`: how an app
 * context closes with its teardown hooks. `end` must not throw. A promise of `fn` settles once
 * `end` has finished; after a synchronous `fn`, a promise `end` returns is not waited for (the
 * context stays until it settles). @internal
 */
export function runThenEnd<T>(
  context: AnyAppContext,
  fn: () => T,
  end: (error: unknown) => void | Promise<void>,
): T {
  // Released here rather than by runHeld, which would release as soon as `fn` throws, while
  // an async `end` still needs the context.
  const release = holdStorage();
  return enterStorage(context, () => {
    let result: T;
    try {
      result = fn();
    } catch (error) {
      const ending = end(error);
      if (ending instanceof Promise) void ending.finally(release);
      else release();
      throw error;
    }
    if (result instanceof Promise) {
      return result.then(
        async (value: unknown) => {
          await end(undefined);
          release();
          return value;
        },
        async (error: unknown) => {
          await end(error);
          release();
          throw error;
        },
      ) as T;
    }
    const ending = end(undefined);
    if (ending instanceof Promise) void ending.finally(release);
    else release();
    return result;
  });
}

function enterStorage<T>(context: AnyAppContext, fn: () => T): T {
  const outer = syncContext;
  syncContext = undefined;
  try {
    return storage.run(context, fn);
  } finally {
    syncContext = outer;
  }
}

/** Keeps the storage on until the returned function is called (once). */
function holdStorage(): () => void {
  asyncRuns += 1;
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    asyncRuns -= 1;
    if (asyncRuns === 0) storage.disable();
  };
}

/** The current request context, or `undefined` outside a request. */
export function findContext(): RequestContext | undefined {
  const context = syncContext ?? storage.getStore();
  return context instanceof RequestContext ? context : undefined;
}

/**
 * The rule and the id of the request being handled, as a log entry names them; `null` outside a
 * request. @internal
 */
export function requestLogFields(): { route: string | null; requestId: string } | null {
  const request = findContext()?.request;
  return request === undefined ? null : { route: request.rule ?? null, requestId: request.id };
}

/**
 * The current app context (a request's included), or `undefined` outside any.
 *
 * @example
 * const app = findAppContext()?.app; // the app of the running request or command, if any
 */
export function findAppContext(): AnyAppContext | undefined {
  return syncContext ?? storage.getStore();
}

/** The current app context (a request's included); throws a clear error outside any. */
export function currentAppContext(name: string): AnyAppContext {
  const context = syncContext ?? storage.getStore();
  if (context === undefined) {
    throw new CarafeError(
      "ERR_NO_APP_CONTEXT",
      `${name} is only available inside an app context: while a request is being handled (a handler, a hook, or code they call), in a CLI command, or inside app.appContext(() => …). Elsewhere, import the app and use it directly. Callbacks of a promise made by a plain (non-async) handler or hook run after it returned: declare that function async.`,
    );
  }
  return context;
}

/** The current request context; throws a clear error outside a request. */
export function currentContext(name = "the request context"): RequestContext {
  const context = syncContext ?? storage.getStore();
  if (!(context instanceof RequestContext)) {
    throw new CarafeError(
      "ERR_NO_REQUEST_CONTEXT",
      `${name} is only available while a request is being handled (inside a handler, a hook, or code they call). Outside a request, pass the values you need explicitly, or wrap the code in app.testRequestContext(). Callbacks of a promise made by a plain (non-async) handler or hook run after it returned: declare that function async, or use its req argument.`,
    );
  }
  return context;
}

function contextProxy<C extends AnyAppContext, T extends object>(
  name: string,
  find: (name: string) => C,
  pick: (context: C) => T,
): T {
  const current = (): T => pick(find(`'${name}'`));
  return new Proxy({} as T, {
    get(_target, key) {
      const target = current();
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === "function"
        ? (value as (...args: unknown[]) => unknown).bind(target)
        : value;
    },
    set(_target, key, value) {
      return Reflect.set(current(), key, value);
    },
    has(_target, key) {
      return Reflect.has(current(), key);
    },
    deleteProperty(_target, key) {
      return Reflect.deleteProperty(current(), key);
    },
    ownKeys() {
      return Reflect.ownKeys(current());
    },
    getOwnPropertyDescriptor(_target, key) {
      const descriptor = Reflect.getOwnPropertyDescriptor(current(), key);
      if (descriptor) descriptor.configurable = true;
      return descriptor;
    },
  });
}

/**
 * The request being handled, from anywhere inside it.
 *
 * @example
 * import { request } from "carafe";
 * app.get("/", () => `Hello from ${request.remoteAddr}`);
 */
export const request: Request = contextProxy(
  "request",
  currentContext,
  (context) => context.request,
);

/**
 * The current app context's storage (Flask's `g`): one per request, so set it in a
 * `beforeRequest` hook and read it in the handler; one per `app.appContext()` or CLI command.
 */
export const g: AppGlobals = contextProxy("g", currentAppContext, (context) => context.g);

/** The current user's session (a signed cookie). */
export const session: Session = contextProxy(
  "session",
  currentContext,
  (context) => context.session,
);

/** Runs each step of a streamed body inside the request's context, until it ends. */
export function bindStream(stream: BodyStream, context: RequestContext): BodyStream {
  const release = holdStorage();
  let iterator: AsyncIterator<Uint8Array | string> | undefined;
  const start = (): AsyncIterator<Uint8Array | string> =>
    (iterator ??= enterStorage(context, () => stream[Symbol.asyncIterator]()));
  const last = <R extends IteratorResult<unknown>>(step: Promise<R>): Promise<R> =>
    step.then(
      (result) => {
        if (result.done) release();
        return result;
      },
      (error: unknown) => {
        release();
        throw error;
      },
    );
  return {
    [Symbol.asyncIterator]: () => ({
      next: () => last(enterStorage(context, () => start().next())),
      return: (value?: unknown) => {
        const it = start();
        const done: Promise<IteratorResult<Uint8Array | string>> = it.return
          ? enterStorage(context, () => (it.return as NonNullable<typeof it.return>)(value))
          : Promise.resolve({ done: true, value: undefined });
        return done.finally(release);
      },
    }),
    cancel: () => {
      release();
      if (stream.cancel) stream.cancel();
      else void iterator?.return?.();
    },
  };
}

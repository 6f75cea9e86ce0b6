// Design: the request context (`request`, `g`, `session`, `currentApp`) is found in one of two
// places. A route whose handler and hooks are all plain functions runs synchronously: its
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

/** The state of one request while it is handled. */
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

const storage = new AsyncLocalStorage<RequestContext>();
/** The context of the synchronous code running right now (`runSync`), if any. */
let syncContext: RequestContext | undefined;
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

/** Runs `fn` synchronously with `context` as the current request context. @internal */
export function runSync<T>(context: RequestContext, fn: () => T): T {
  const outer = syncContext;
  syncContext = context;
  try {
    return fn();
  } finally {
    syncContext = outer;
  }
}

/**
 * Runs `fn` with `context` as the current request context for everything it starts, awaits
 * and callbacks included, until the promise it returns settles. @internal
 */
export function runAsync<T>(context: RequestContext, fn: () => T): T {
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
export function runHeld<T>(context: RequestContext, fn: (release: () => void) => T): T {
  const release = holdStorage();
  try {
    return enterStorage(context, () => fn(release));
  } catch (error) {
    release();
    throw error;
  }
}

function enterStorage<T>(context: RequestContext, fn: () => T): T {
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
  return syncContext ?? storage.getStore();
}

/** The current request context; throws a clear error outside a request. */
export function currentContext(name = "the request context"): RequestContext {
  const context = syncContext ?? storage.getStore();
  if (context === undefined) {
    throw new CarafeError(
      "ERR_NO_REQUEST_CONTEXT",
      `${name} is only available while a request is being handled (inside a handler, a hook, or code they call). Outside a request, pass the values you need explicitly, or wrap the code in app.testRequestContext(). Callbacks of a promise made by a plain (non-async) handler or hook run after it returned: declare that function async, or use its req argument.`,
    );
  }
  return context;
}

function contextProxy<T extends object>(name: string, pick: (context: RequestContext) => T): T {
  return new Proxy({} as T, {
    get(_target, key) {
      const target = pick(currentContext(`'${name}'`));
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === "function"
        ? (value as (...args: unknown[]) => unknown).bind(target)
        : value;
    },
    set(_target, key, value) {
      return Reflect.set(pick(currentContext(`'${name}'`)), key, value);
    },
    has(_target, key) {
      return Reflect.has(pick(currentContext(`'${name}'`)), key);
    },
    deleteProperty(_target, key) {
      return Reflect.deleteProperty(pick(currentContext(`'${name}'`)), key);
    },
    ownKeys() {
      return Reflect.ownKeys(pick(currentContext(`'${name}'`)));
    },
    getOwnPropertyDescriptor(_target, key) {
      const descriptor = Reflect.getOwnPropertyDescriptor(pick(currentContext(`'${name}'`)), key);
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
export const request: Request = contextProxy("request", (context) => context.request);

/** Per-request storage: set it in a `beforeRequest` hook, read it in the handler. */
export const g: AppGlobals = contextProxy("g", (context) => context.g);

/** The current user's session (a signed cookie). */
export const session: Session = contextProxy("session", (context) => context.session);

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

// Design: one call of a function on another thread, as plain data. A target is either a
// function a module exports (marked with threadTarget(), so the thread imports the module and
// takes the export) or a self-contained function whose source text is sent and compiled there.
// Errors cross back as their name, message, stack and code, and are rebuilt as the same class
// where one exists. The same executeCall runs in a Thread, in toThread's own pool and in a
// served app's pool threads.

import { ThreadTargetError, ThreadingError } from "./errors.ts";
import * as errors from "./errors.ts";
import { fromShared } from "./shared.ts";
import { loadTracingApi, withSpanContext, type SpanContextData } from "./trace-context.ts";
import { isTypeScript, registerTypeScript } from "./typescript.ts";

/** Where the function comes from. */
export type Target = { module: string; name: string } | { source: string; name: string };

/** One call to make on a thread. */
export interface ThreadCall {
  target: Target;
  args: unknown[];
  /** The span active where the call was made: spans the call starts are its children. */
  trace?: SpanContextData;
}

/** An error as it crosses a thread boundary. */
export interface ErrorInfo {
  name: string;
  message: string;
  stack?: string;
  code?: string;
}

export type CallOutcome = { ok: true; value: unknown } | { ok: false; error: ErrorInfo };

const TARGET = Symbol.for("carafe.threadTarget");

type AnyFunction = (...args: never[]) => unknown;

/**
 * Marks `fn` as exported by the module at `moduleUrl` under `exportName` (its own name by
 * default), so a thread can import it instead of receiving its source: it may then use the
 * module's imports and other exports. Returns `fn` itself, with its types.
 *
 * @example
 * // work.ts
 * export const hash = threadTarget(import.meta.url, function hash(text: string) {
 *   return createHash("sha256").update(text).digest("hex");
 * });
 */
export function threadTarget<F extends AnyFunction>(
  moduleUrl: string,
  fn: F,
  exportName: string = fn.name,
): F {
  if (typeof fn !== "function") {
    throw new ThreadTargetError("threadTarget(moduleUrl, fn): fn must be a function");
  }
  if (exportName === "") {
    throw new ThreadTargetError(
      "threadTarget(moduleUrl, fn): fn has no name; pass the name it is exported under as the third argument",
    );
  }
  Object.defineProperty(fn, TARGET, { value: { module: moduleUrl, name: exportName } });
  return fn;
}

/** How a function is sent to a thread; throws `ThreadTargetError` for one that cannot be. */
export function describeTarget(fn: AnyFunction): Target {
  if (typeof fn !== "function") {
    throw new ThreadTargetError(`a thread's target must be a function, got ${typeof fn}`);
  }
  const marked = (fn as unknown as Record<symbol, Target | undefined>)[TARGET];
  if (marked !== undefined) return marked;
  const source = Function.prototype.toString.call(fn);
  if (source.endsWith("{ [native code] }")) {
    throw new ThreadTargetError(
      `${fn.name || "the function"} is native or bound, so its source cannot be sent to a thread; wrap the call in a function of your own`,
    );
  }
  return { source, name: fn.name || "anonymous" };
}

const compiled = new Map<string, AnyFunction>();

/** Builds a function from its source with nothing around it, as a thread receives it. */
function compile(target: { source: string; name: string }): AnyFunction {
  let fn = compiled.get(target.source);
  if (fn !== undefined) return fn;
  // `__name` is the helper esbuild (tsx) adds to keep function names; nothing else is in scope.
  const prelude = "const __name = (target) => target;";
  const attempts = [`(${target.source})`, `({ ${target.source} })[${JSON.stringify(target.name)}]`];
  for (const expression of attempts) {
    try {
      fn = new Function(`"use strict"; ${prelude} return ${expression};`)() as AnyFunction;
      break;
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
    }
  }
  if (fn === undefined) {
    throw new ThreadTargetError(
      `the source of ${target.name} cannot be compiled on its own; export it and mark it with threadTarget(import.meta.url, ${target.name})`,
    );
  }
  compiled.set(target.source, fn);
  return fn;
}

/** Module functions this thread has imported, by module URL and export name. */
const imported = new Map<string, AnyFunction>();

function resolveTarget(target: Target): AnyFunction | Promise<AnyFunction> {
  if ("source" in target) return compile(target);
  // Even a cached module's import() goes through the loader (and tsx's hooks), every call.
  return imported.get(`${target.name}@${target.module}`) ?? importTarget(target);
}

async function importTarget(target: { module: string; name: string }): Promise<AnyFunction> {
  if (isTypeScript(new URL(target.module).pathname)) await registerTypeScript();
  const module = (await import(target.module)) as Record<string, unknown>;
  const fn = module[target.name];
  if (typeof fn !== "function") {
    throw new ThreadTargetError(
      `${target.module} has no exported function named '${target.name}'; export the function under the name threadTarget() was given`,
    );
  }
  imported.set(`${target.name}@${target.module}`, fn as AnyFunction);
  return fn as AnyFunction;
}

/** Runs `call` in this thread; never rejects. */
export async function executeCall(call: ThreadCall): Promise<CallOutcome> {
  try {
    const fn = await resolveTarget(call.target);
    const args = fromShared(call.args) as never[];
    // Only a call made under a span carries one; the api is imported for the first such call.
    if (call.trace !== undefined) await loadTracingApi();
    const value = await withSpanContext(call.trace, () => fn(...args));
    return { ok: true, value };
  } catch (error) {
    return { ok: false, error: errorInfo(explain(error, call.target)) };
  }
}

/** A variable missing from a sent function's scope becomes an error that says why. */
function explain(error: unknown, target: Target): unknown {
  if (!("source" in target) || !(error instanceof ReferenceError)) return error;
  const missing = /^(\S+) is not defined$/.exec(error.message)?.[1];
  if (missing === undefined) return error;
  const explained = new ThreadTargetError(
    `${target.name} uses '${missing}', which is defined outside the function: a function sent to a thread by its source carries nothing from around it. Pass '${missing}' in args, or import it inside a module function marked with threadTarget(import.meta.url, ${target.name}).`,
  );
  explained.stack = `${explained.name}: ${explained.message}\n${error.stack?.split("\n").slice(1).join("\n") ?? ""}`;
  return explained;
}

/**
 * Sends `outcome` with `send` (a postMessage); a result that cannot be cloned (a function, a
 * socket…) is sent as an error that says so instead of being lost.
 */
export function sendOutcome(send: (outcome: CallOutcome) => void, outcome: CallOutcome): void {
  try {
    send(outcome);
  } catch (error) {
    send(failure("the thread's result cannot be sent back", error));
  }
}

/**
 * The outcome of a call whose arguments could not be posted to a thread (a function, a
 * socket…): the call never ran, and the thread it was meant for is still free.
 */
export function unsendable(error: unknown): CallOutcome {
  return failure("the call's arguments cannot be sent to a thread", error);
}

/** A failed outcome carrying `error`, its message prefixed with what could not be done. */
function failure(what: string, error: unknown): CallOutcome {
  const reason = errorInfo(error);
  reason.message = `${what}: ${reason.message}`;
  return { ok: false, error: reason };
}

/** An error as plain data. */
export function errorInfo(error: unknown): ErrorInfo {
  if (!(error instanceof Error)) {
    return { name: "Error", message: `a non-Error value was thrown: ${String(error)}` };
  }
  const info: ErrorInfo = { name: error.name, message: error.message };
  if (error.stack !== undefined) info.stack = error.stack;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") info.code = code;
  return info;
}

const BUILT_IN: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

/** The error `info` describes, as the same class where it is a built-in or one of ours. */
export function rebuildError(info: ErrorInfo): Error {
  const ours = (errors as Record<string, unknown>)[info.name];
  const error =
    typeof ours === "function" &&
    (ours === ThreadingError || ours.prototype instanceof ThreadingError)
      ? new (ours as new (message: string) => Error)(info.message)
      : new (BUILT_IN[info.name] ?? Error)(info.message);
  if (error.name !== info.name) error.name = info.name;
  if (info.stack !== undefined) error.stack = info.stack;
  if (info.code !== undefined && (error as { code?: unknown }).code !== info.code) {
    Object.defineProperty(error, "code", { value: info.code, enumerable: true });
  }
  return error;
}

/** The result of a call, or its error rebuilt. */
export function settleOutcome(outcome: CallOutcome): unknown {
  if (outcome.ok) return fromShared(outcome.value);
  throw rebuildError(outcome.error);
}

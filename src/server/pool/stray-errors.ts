// Design: inside a pool thread, an error thrown outside any request (by a timer a handler left
// behind, or a promise nobody handled) is reported and the thread goes on serving, as a Python
// thread's exception leaves the rest of the server running. Ending the thread would fail the
// request it happened to be running, or about to start, which had nothing to do with the error.
//
// Which request scheduled the callback is known for timers: while a request runs, the thread's
// setTimeout, setInterval and setImmediate tag the callbacks they are given with it. An
// AsyncLocalStorage would know for every kind of callback, but on Node 20 it makes every promise
// of every request pay a hook (about a tenth of a quick route's throughput on a thread), where
// tagging costs only the timers, and only theirs.

import process from "node:process";
import { requestNote, type Logger, type RequestRecord } from "../../framework/internal.ts";
import type { ThreadMessage } from "./wire-protocol.ts";

/**
 * A request as its callbacks remember it: one object per request (its identity tells two
 * requests of one route apart), holding only the name the log gives it (`GET /path`), and the
 * route and id a log entry names it by (none for a toThread call).
 */
export interface RequestTag {
  readonly name: string;
  readonly route?: string | null;
  readonly requestId?: string;
}

/** Where an error outside a request came from. */
export type StrayOrigin = "exception" | "rejection";

type Schedule = (callback: unknown, ...rest: unknown[]) => unknown;

/**
 * The request whose code may be running now: the thread's own, or a tagged callback's. Only its
 * name is kept: a timer that outlives its request (a pool's reaper, an interval) must not hold
 * the request's body for the life of the thread.
 */
let current: RequestTag | null = null;
/** The last error a tagged callback threw, with its request, for the handler that follows. */
let thrown: { error: unknown; by: RequestTag } | null = null;
/** Promises returned by tagged callbacks (async ones), with their request. */
const returned = new WeakMap<Promise<unknown>, RequestTag>();

/** A new tag for `record` on the route `rule`, as callbacks and the log know it. */
export function tagOf(record: RequestRecord, rule: string | null): RequestTag {
  const requestId = record.id ?? "-";
  return {
    name: `${record.method} ${record.url} ${requestNote(rule, requestId)}`,
    route: rule,
    requestId,
  };
}

/** The thread starts running the request tagged `tag` (or, with `null`, has finished it). */
export function setRunning(tag: RequestTag | null): void {
  current = tag;
}

/** A timer function whose callbacks remember the request that scheduled them. */
function tagCallbacks(schedule: Schedule): Schedule {
  const tagged: Schedule = (callback, ...rest) => {
    const by = current;
    if (by === null || typeof callback !== "function") return schedule(callback, ...rest);
    const run = function (this: unknown, ...args: unknown[]): unknown {
      const outer = current;
      // What the callback schedules in turn is its request's too.
      current = by;
      try {
        const result = (callback as (...args: unknown[]) => unknown).apply(this, args);
        if (result instanceof Promise) returned.set(result, by);
        return result;
      } catch (error) {
        thrown = { error, by };
        throw error;
      } finally {
        current = outer;
      }
    };
    return schedule(run, ...rest);
  };
  // util.promisify(setTimeout) and the like read the original's own properties.
  return Object.defineProperties(tagged, Object.getOwnPropertyDescriptors(schedule));
}

/**
 * Keeps the thread alive through errors thrown outside a request, handing each to `report`
 * with the request that scheduled it when that is known. Call before the app is imported.
 */
export function catchStrayErrors(
  report: (origin: StrayOrigin, error: unknown, by: RequestTag | null) => void,
): void {
  const timers = globalThis as unknown as Record<
    "setTimeout" | "setInterval" | "setImmediate",
    Schedule
  >;
  for (const name of ["setTimeout", "setInterval", "setImmediate"] as const) {
    timers[name] = tagCallbacks(timers[name]);
  }
  process.on("uncaughtException", (error) => {
    const by = thrown !== null && thrown.error === error ? thrown.by : null;
    thrown = null;
    report("exception", error, by);
  });
  process.on("unhandledRejection", (reason, promise) => {
    report("rejection", reason, returned.get(promise) ?? null);
  });
}

/**
 * On the loop: logs what thread `threadId` reported of an error outside a request's own code;
 * the thread goes on unless it was fatal.
 */
export function logStrayError(
  logger: Logger,
  threadId: number,
  message: ThreadMessage & { type: "stray-error" },
): void {
  const what =
    message.origin === "exception" ? "An uncaught error" : "An unhandled promise rejection";
  const by = message.route === null ? "" : ` in a callback scheduled by ${message.route}`;
  const after = message.fatal
    ? "while a request ran that may wait on it; the thread ends, and that request gets a 500"
    : "outside any request; the thread keeps serving";
  logger.error(`${what} on pool thread ${threadId}${by}, ${after}:\n${message.stack}`);
}

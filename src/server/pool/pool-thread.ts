// Design: the code that runs inside a pool thread. It imports the app module itself (as each
// gunicorn worker imports the app), so module state is per thread, then answers `request`
// messages one at a time, in the order the loop sent them. A streamed body is pulled from the
// app's iterator only while fewer than STREAM_WINDOW chunks wait for the loop's ack, so a slow
// client slows the producer instead of filling memory. Pool threads never touch sockets: the
// loop says when a request's client left (`cancel`), and its `request.signal` aborts then.
//
// The answer to a request is held back while the thread goes straight on to a next request
// whose route has been quick, so that a run of quick answers reaches the loop as one message
// (one wake-up, one callback). Anything else (the thread falling idle, a route that is slow or
// not yet known, bytes the app may reuse, a stream, HOLD_MS passing) sends what is held first.
// Starting a request that may be slow, the thread says so (`slow`): the loop then takes back
// the requests waiting behind it, for another thread.
//
// The thread writes the id of each request it starts to memory it shares with the loop, so
// that if it dies, the loop knows which request was running (it gets a 500) and which never
// started (they run on another thread). A thread that exits on purpose (process.exit in the
// app) sends what it holds first; only running out of heap loses held answers.

import { performance } from "node:perf_hooks";
import process from "node:process";
import { parentPort, workerData } from "node:worker_threads";
import type {
  BodyChunk,
  BodyStream,
  ClientConnection,
  RequestRecord,
  RoutePlan,
  ServableApp,
} from "../../framework/internal.ts";
import {
  claimToStart,
  claimsOf,
  errorInfo,
  executeCall,
  loadTracingApi,
  sendOutcome,
  withSpanContext,
  type ErrorInfo,
  type SpanContextData,
  type ThreadCall,
} from "../../threading/internal.ts";
import {
  adoptServerLogger,
  consoleLogger,
  metricStore,
  onRequestException,
  requestLogFields,
  type Logger,
} from "../../framework/internal.ts";
import { entryLogger } from "../http/app-logger.ts";
import { internalServerError } from "../http/plain-response.ts";
import { NotInPoolThreadError } from "./errors.ts";
import { loadApp } from "../loading/load-app.ts";
import { catchStrayErrors, setRunning, tagOf, type RequestTag } from "./stray-errors.ts";
import {
  STREAM_WINDOW,
  type LoopMessage,
  type ThreadData,
  type ThreadMessage,
} from "./wire-protocol.ts";

const port = parentPort;
if (port === null) throw new NotInPoolThreadError();

/** Longest (ms) an answer is held back for others to go with it. */
const HOLD_MS = 0.5;
/** A route whose recent runs all took less than this (ms) is quick. */
const QUICK_MS = 0.5;
/** How fast a slow run is forgotten: each later run lowers the route's recent longest by this. */
const FORGET = 0.9;
/** Most answers held back. */
const MOST_HELD = 32;

/** Answers held back, and since when (`performance.now()`). */
let held: ThreadMessage[] = [];
let heldSince = 0;

/** Sends `message` now, after whatever is held (order is kept). */
function post(message: ThreadMessage, transfer: ArrayBuffer[] = []): void {
  sendHeld();
  (port as NonNullable<typeof parentPort>).postMessage(message, transfer);
}

/** Holds a complete answer back, to go with the next ones (see `startNext`). */
function hold(message: ThreadMessage): void {
  if (held.length === 0) heldSince = performance.now();
  held.push(message);
  if (held.length >= MOST_HELD) sendHeld();
}

function sendHeld(): void {
  if (held.length === 0) return;
  const batch = held;
  held = [];
  (port as NonNullable<typeof parentPort>).postMessage(batch.length === 1 ? batch[0] : batch);
}

/** Each route's longest recent run (ms), by rule, slowly forgotten; see `FORGET`. */
const recentLongest = new Map<string, number>();

/** Whether a request on `rule` is expected to be quick; a call (no rule) never is. */
function isQuick(rule: string | null, call: boolean): boolean {
  if (call || rule === null) return false;
  return (recentLongest.get(rule) ?? Infinity) < QUICK_MS;
}

function ran(rule: string | null, ms: number): void {
  if (rule === null) return;
  const before = recentLongest.get(rule);
  recentLongest.set(rule, before === undefined ? ms : Math.max(ms, before * FORGET));
}

/** A streamed body being sent: its iterator, the unacknowledged chunks, and the waiting pull. */
interface Outgoing {
  iterator: AsyncIterator<BodyChunk>;
  stream: BodyStream;
  inFlight: number;
  resume: (() => void) | null;
  cancelled: boolean;
}

const outgoing = new Map<number, Outgoing>();

/** A request's client as the thread knows it: gone once the loop says so. */
class LoopClient implements ClientConnection {
  readonly writableFinished = false;
  destroyed = false;
  #listeners: (() => void)[] = [];

  once(_event: "close", listener: () => void): this {
    this.#listeners.push(listener);
    return this;
  }

  left(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const listener of this.#listeners.splice(0)) listener();
  }
}

/** The clients of the requests this thread holds, from their arrival until they are answered. */
const clients = new Map<number, LoopClient>();

/**
 * What the traced request running now raised to be answered 500: its span is on the loop, so
 * the exception goes back with the answer to be recorded there. `null` while the request
 * running is not traced.
 */
let raised: { error?: ErrorInfo } | null = null;

onRequestException((error) => {
  if (raised !== null) raised.error = errorInfo(error);
});

/**
 * Where the thread's own messages go, and the app's if it kept the default logger. Under carafe
 * serve: to the loop, which writes them to the error log with its own. One writer per process
 * keeps each entry whole and in the order it was made, follows the log's level, format and
 * reopening after rotation without the thread knowing of them, and writes a handler's exception
 * before its 500 goes out (a thread's messages arrive in the order it sent them). Elsewhere
 * (`app.run()`): to standard error.
 */
const log: Logger = (workerData as ThreadData).logs
  ? entryLogger(
      (entry) => post({ type: "log", entry }),
      // Outside the request's context (its answer failing to be made), the request running.
      () => requestLogFields() ?? runningRequest(),
    )
  : consoleLogger;

function failure(id: number, error: unknown): ThreadMessage & { type: "response" } {
  log.error(`${runningTag?.name ?? "a request"} failed on a pool thread`, error);
  if (raised !== null) raised.error = errorInfo(error);
  return { type: "response", id, response: internalServerError() };
}

/** `message` with the exception the traced request raised, if it raised one. */
function withException(
  message: ThreadMessage & { type: "response" },
): ThreadMessage & { type: "response" } {
  if (raised?.error !== undefined) message.exception = raised.error;
  return message;
}

async function sendStream(id: number, stream: BodyStream): Promise<void> {
  const state: Outgoing = {
    iterator: stream[Symbol.asyncIterator](),
    stream,
    inFlight: 0,
    resume: null,
    cancelled: false,
  };
  outgoing.set(id, state);
  try {
    for (;;) {
      if (state.inFlight >= STREAM_WINDOW) {
        await new Promise<void>((resolve) => (state.resume = resolve));
      }
      if (state.cancelled) break;
      const step = await state.iterator.next();
      if (step.done || state.cancelled) break;
      state.inFlight += 1;
      // Copied, not transferred: the app may keep the bytes (a cached page) for the next request.
      post({ type: "chunk", id, chunk: step.value });
    }
    post({ type: "end", id });
  } catch (error) {
    log.error(
      `the streamed response of ${runningTag?.name ?? "a request"} failed on a pool thread`,
      error,
    );
    post({ type: "end", id, error: error instanceof Error ? error.message : String(error) });
  } finally {
    outgoing.delete(id);
  }
}

async function runCall(id: number, call: ThreadCall): Promise<void> {
  const outcome = await executeCall(call);
  sendOutcome((sent) => post({ type: "outcome", id, outcome: sent }), outcome);
}

/**
 * Serves a request; a traced one with its span as the active context throughout, a streamed
 * body included, so that spans the app starts are children of the request's.
 */
async function serve(
  app: ServableApp,
  id: number,
  record: RequestRecord,
  plan: RoutePlan | undefined,
  trace: SpanContextData | undefined,
): Promise<void> {
  if (trace === undefined) {
    raised = null;
    return answer(app, id, record, plan);
  }
  raised = {};
  // Imported once, by the first traced request; the app registered its provider already.
  await loadTracingApi();
  return withSpanContext(trace, () => answer(app, id, record, plan));
}

async function answer(
  app: ServableApp,
  id: number,
  record: RequestRecord,
  plan: RoutePlan | undefined,
): Promise<void> {
  let result;
  try {
    result = await app.handle(record, plan, clients.get(id));
  } catch (error) {
    hold(withException(failure(id, error)));
    return;
  }
  const body = result.body;
  // Text cannot change once returned; bytes can (a buffer the app reuses): they leave now.
  if (body === null || typeof body === "string") {
    hold(withException({ type: "response", id, response: { ...result, body } }));
    return;
  }
  if (body instanceof Uint8Array) {
    post(withException({ type: "response", id, response: { ...result, body } }));
    return;
  }
  post({ type: "head", id, status: result.status, headers: result.headers });
  await sendStream(id, body);
}

const claims = claimsOf(workerData as ThreadData);
const waiting: (LoopMessage & { type: "request" | "call" })[] = [];
let running = false;
/** The request running now, which a stray error may have come from. */
let runningTag: RequestTag | null = null;

function runningRequest(): { route: string | null; requestId: string } | null {
  const tag = runningTag;
  return tag?.requestId === undefined
    ? null
    : { route: tag.route ?? null, requestId: tag.requestId };
}

/** Starts the next waiting request, skipping any the loop took back. */
function startNext(app: ServableApp): void {
  for (let next = waiting.shift(); next !== undefined; next = waiting.shift()) {
    const slot = next.type === "request" ? next.slot : undefined;
    if (!claimToStart(claims, slot, next.id)) {
      // The loop took it back while it waited: another thread runs it.
      clients.delete(next.id);
      continue;
    }
    running = true;
    const id = next.id;
    const call = next.type === "call";
    // The thread plans the request it is sent, once: the plan names its route (one that
    // matched nothing is keyed as one, answered without running a handler) and goes to handle.
    const plan =
      next.type === "request" ? app.planOf(next.record.method, next.record.url, true) : undefined;
    runningTag =
      next.type === "call"
        ? { name: `toThread(${next.call.target.name})` }
        : tagOf(next.record, plan?.rule ?? null);
    setRunning(runningTag);
    const rule = plan === undefined ? null : (plan.rule ?? "");
    const quick = isQuick(rule, call);
    const began = performance.now();
    // A call is never sent ahead: unless something waits behind it already, nothing need move.
    if (quick === false && (!call || waiting.length > 0)) hold({ type: "slow", id });
    if (quick !== true || began - heldSince >= HOLD_MS) sendHeld();
    const work =
      next.type === "call" ? runCall(id, next.call) : serve(app, id, next.record, plan, next.trace);
    void work.finally(() => {
      ran(rule, performance.now() - began);
      setRunning(null);
      runningTag = null;
      clients.delete(id);
      running = false;
      startNext(app);
    });
    return;
  }
  // Nothing more to run: what is held leaves now.
  sendHeld();
}

function onMessage(app: ServableApp, message: LoopMessage): void {
  if (message.type === "request" || message.type === "call") {
    // A toThread call has no client; a request's may leave while it waits or runs.
    if (message.type === "request") clients.set(message.id, new LoopClient());
    waiting.push(message);
    if (!running) startNext(app);
    return;
  }
  if (message.type === "report-metrics") {
    reportMetrics(true);
    return;
  }
  if (message.type === "cancel") clients.get(message.id)?.left();
  const state = outgoing.get(message.id);
  if (state === undefined) return;
  if (message.type === "ack") state.inFlight -= 1;
  else {
    state.cancelled = true;
    if (state.stream.cancel) state.stream.cancel();
    else void state.iterator.return?.();
  }
  const resume = state.resume;
  state.resume = null;
  resume?.();
}

catchStrayErrors((origin, error, by) => {
  const stack =
    error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
  // An exception thrown while a request runs, by its own callback or by one nobody can name,
  // may be what that request awaits: its answer would never come and the thread would stay
  // busy for good. The thread ends instead, so the request gets its 500 now and the requests
  // that wait for the thread run on another one.
  const fatal = origin === "exception" && running && (by === null || by === runningTag);
  post({ type: "stray-error", origin, stack, route: by === null ? null : by.name, fatal });
  if (fatal) process.exit(1);
});
/** How often (ms) a thread reports its app metrics to the loop: what a killed thread may lose. */
const METRICS_EVERY_MS = 1000;

/** Hands what the app's metrics recorded since the last report to the loop: if anything, or if asked. */
function reportMetrics(asked = false): void {
  const families = metricStore.drain();
  if (families.length > 0 || asked) post({ type: "metrics", families, asked });
}

// process.exit() in a handler ends the thread after this: the answers held leave first.
process.on("exit", () => {
  if ((workerData as ThreadData).metrics) reportMetrics();
  sendHeld();
});
if ((workerData as ThreadData).metrics) {
  setInterval(() => reportMetrics(), METRICS_EVERY_MS).unref();
}

try {
  const app = await loadApp((workerData as ThreadData).appSpec);
  if ((workerData as ThreadData).logs) adoptServerLogger(app, log);
  // No socket lives on a thread: its broadcasts go to the loop, which has them.
  const rooms = app.broadcasting?.rooms;
  if (rooms !== undefined) {
    rooms.relay = { publish: (envelope) => post({ type: "broadcast", envelope }) };
    rooms.holdsMembers = false;
  }
  // Messages the loop sent together come as one array.
  port.on("message", (message: LoopMessage | LoopMessage[]) => {
    if (!Array.isArray(message)) onMessage(app, message);
    else for (const each of message) onMessage(app, each);
  });
  post({ type: "ready" });
} catch (error) {
  post({ type: "boot-failed", message: error instanceof Error ? error.message : String(error) });
}

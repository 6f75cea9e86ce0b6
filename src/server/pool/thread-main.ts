// Design: the code that runs inside a pool thread. It imports the app module itself (as each
// gunicorn worker imports the app), so module state is per thread, then answers `request`
// messages one at a time, in the order the loop sent them. A streamed body is pulled from the
// app's iterator only while fewer than STREAM_WINDOW chunks wait for the loop's ack, so a slow
// client slows the producer instead of filling memory. Pool threads never touch sockets: the
// loop says when a request's client left (`cancel`), and its `request.signal` aborts then.

import { parentPort, workerData } from "node:worker_threads";
import type {
  BodyChunk,
  BodyStream,
  ClientConnection,
  RecordHandler,
  RequestRecord,
} from "../../framework/index.ts";
import { executeCall, sendOutcome, type ThreadCall } from "../../threading/calls.ts";
import { hasRooms } from "../broadcasts.ts";
import { loadApp } from "../load-app.ts";
import {
  STREAM_WINDOW,
  type LoopMessage,
  type ThreadData,
  type ThreadMessage,
} from "./wire-protocol.ts";

const port = parentPort;
if (port === null) throw new Error("thread-main runs only inside a pool thread");

function post(message: ThreadMessage, transfer: ArrayBuffer[] = []): void {
  (port as NonNullable<typeof parentPort>).postMessage(message, transfer);
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

function failure(id: number, error: unknown): ThreadMessage & { type: "response" } {
  console.error("[carafe] ERROR a request failed on a pool thread:", error);
  const text = "Internal Server Error\n";
  return {
    type: "response",
    id,
    response: {
      status: 500,
      headers: ["Content-Type", "text/plain; charset=utf-8", "Content-Length", String(text.length)],
      body: text,
    },
  };
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
    console.error("[carafe] ERROR a streamed response failed on a pool thread:", error);
    post({ type: "end", id, error: error instanceof Error ? error.message : String(error) });
  } finally {
    outgoing.delete(id);
  }
}

/** The response a toThread call's outcome travels on. */
const CALL_DONE = { status: 200, headers: [], body: null };

async function runCall(id: number, call: ThreadCall): Promise<void> {
  const outcome = await executeCall(call);
  sendOutcome(
    (sent) => post({ type: "response", id, response: CALL_DONE, outcome: sent }),
    outcome,
  );
}

async function serve(
  app: RecordHandler,
  id: number,
  record: RequestRecord,
  call?: ThreadCall,
): Promise<void> {
  if (call !== undefined) return runCall(id, call);
  let result;
  try {
    result = await app.handle(record, clients.get(id));
  } catch (error) {
    post(failure(id, error));
    return;
  }
  const body = result.body;
  if (body === null || typeof body === "string" || body instanceof Uint8Array) {
    post({ type: "response", id, response: { ...result, body } });
    return;
  }
  post({ type: "head", id, status: result.status, headers: result.headers });
  await sendStream(id, body);
}

const claim = new Int32Array((workerData as ThreadData).claim);
const waiting: (LoopMessage & { type: "request" })[] = [];
let running = false;

/** Starts the next waiting request, skipping any the loop took back. */
function startNext(app: RecordHandler): void {
  for (let next = waiting.shift(); next !== undefined; next = waiting.shift()) {
    if (next.ahead && Atomics.compareExchange(claim, 0, next.id, -next.id) !== next.id) {
      clients.delete(next.id);
      continue;
    }
    running = true;
    const id = next.id;
    void serve(app, id, next.record, next.call).finally(() => {
      clients.delete(id);
      running = false;
      startNext(app);
    });
    return;
  }
}

function onMessage(app: RecordHandler, message: LoopMessage): void {
  if (message.type === "request") {
    // A toThread call has no client; a request's may leave while it waits or runs.
    if (message.call === undefined) clients.set(message.id, new LoopClient());
    waiting.push(message);
    if (!running) startNext(app);
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

try {
  const app = await loadApp((workerData as ThreadData).appSpec);
  // No socket lives on a thread: its broadcasts go to the loop, which has them.
  if (hasRooms(app)) {
    app.rooms.relay = { publish: (envelope) => post({ type: "broadcast", envelope }) };
    app.rooms.holdsMembers = false;
  }
  port.on("message", (message: LoopMessage) => onMessage(app, message));
  post({ type: "ready" });
} catch (error) {
  post({ type: "boot-failed", message: error instanceof Error ? error.message : String(error) });
}

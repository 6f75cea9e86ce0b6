// Design: Server-Sent Events as a streamed response. `sse()` turns an (async) iterable of
// events into `text/event-stream` frames, and writes a comment line whenever the source has
// been quiet for the heartbeat interval, so that proxies and load balancers do not drop an idle
// connection. When the client leaves, the server cancels the body: that wakes the frame loop
// from its wait at once (on the source or on the heartbeat timer), and the source's iterator is
// closed with `return()`.

import type { HeadersInit } from "./datastructures.ts";
import type { BodyStream } from "../boundary/records.ts";
import { CarafeError } from "../errors.ts";
import { Response } from "./response.ts";

/** One event of a stream: `data` (text, or any JSON-able value), and the optional fields. */
export interface ServerSentEvent {
  /** The payload; text is sent as it is (one `data:` line per line), anything else as JSON. */
  data?: unknown;
  /** The event type, for `source.addEventListener(type, …)`; `message` when absent. */
  event?: string;
  /** The id the browser sends back as `Last-Event-ID` when it reconnects. */
  id?: string | number;
  /** How long (ms) the browser waits before it reconnects. */
  retry?: number;
  /** A comment line, ignored by browsers. */
  comment?: string;
}

/** Options of `sse()`. */
export interface SseOptions {
  /** Milliseconds of silence after which a comment line is sent; default 15000, 0 for none. */
  heartbeatMs?: number;
  /** A `retry:` field sent first: how long (ms) the browser waits before it reconnects. */
  retry?: number;
  /** More response headers. */
  headers?: HeadersInit;
}

type SourceItem = ServerSentEvent | string | Uint8Array;

/** An event source: events, or plain text or bytes (sent as `data`), produced as they happen. */
export type EventSource = AsyncIterable<SourceItem> | Iterable<SourceItem>;

/** A field value (event type, id) that would end the line or the event early is refused. */
function fieldValue(name: string, value: string): string {
  if (/[\r\n]/.test(value) || (name === "id" && value.includes("\0"))) {
    throw new CarafeError(
      "ERR_BAD_EVENT",
      `a server-sent event's ${name} cannot contain a line break${name === "id" ? " or NUL" : ""}: ${JSON.stringify(value)}; put such text in data, which may span lines`,
    );
  }
  return value;
}

/** The text of one event, ending with the blank line that dispatches it. */
export function formatEvent(message: SourceItem): string {
  if (typeof message === "string") return `${dataLines(message)}\n`;
  // An event stream is text: bytes (a binary broadcast, say) are read as UTF-8.
  if (message instanceof Uint8Array) return `${dataLines(utf8.decode(message))}\n`;
  let text = "";
  if (message.comment !== undefined) {
    for (const line of message.comment.split(/\r\n|\r|\n/)) text += `: ${line}\n`;
  }
  if (message.event !== undefined) text += `event: ${fieldValue("event", message.event)}\n`;
  if (message.id !== undefined) text += `id: ${fieldValue("id", String(message.id))}\n`;
  if (message.retry !== undefined) text += `retry: ${retryValue(message.retry)}\n`;
  if (message.data !== undefined) {
    text += dataLines(typeof message.data === "string" ? message.data : jsonText(message.data));
  }
  return `${text}\n`;
}

const utf8 = new TextDecoder();

function dataLines(text: string): string {
  let lines = "";
  for (const line of text.split(/\r\n|\r|\n/)) lines += `data: ${line}\n`;
  return lines;
}

function jsonText(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) {
    throw new CarafeError(
      "ERR_BAD_EVENT",
      `a server-sent event's data cannot be sent as JSON (${String(value)}); send a string, or an object, array, number, boolean or null`,
    );
  }
  return text;
}

function retryValue(retry: number): number {
  if (!Number.isInteger(retry) || retry < 0) {
    throw new CarafeError(
      "ERR_BAD_EVENT",
      `sse(): retry must be a whole number of milliseconds (>= 0), got ${retry}`,
    );
  }
  return retry;
}

/**
 * A Server-Sent Events response: each event of `source` is sent as it is produced, with a
 * heartbeat comment while the source is quiet. Read `request.lastEventId` to resume a stream
 * where a reconnecting browser left it, and stop producing when `request.signal` aborts.
 *
 * @example
 * app.get("/clock", async (req) =>
 *   sse(
 *     (async function* () {
 *       for (let n = Number(req.lastEventId ?? 0) + 1; !req.signal.aborted; n += 1) {
 *         yield { id: n, event: "tick", data: { now: Date.now() } };
 *         await sleep(1000);
 *       }
 *     })(),
 *   ),
 * );
 */
export function sse(source: EventSource, options: SseOptions = {}): Response {
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  if (!Number.isFinite(heartbeatMs) || heartbeatMs < 0) {
    throw new CarafeError(
      "ERR_BAD_EVENT",
      `sse(): heartbeatMs must be a number of milliseconds (>= 0), got ${heartbeatMs}; pass 0 for no heartbeat`,
    );
  }
  if (options.retry !== undefined) retryValue(options.retry);
  const response = new Response(null, { status: 200, headers: options.headers });
  response.headers.set("Content-Type", "text/event-stream");
  // Proxies must pass each event on at once and unchanged: no caching, no compression, and
  // (nginx) no buffering.
  response.headers.set("Cache-Control", "no-cache, no-transform");
  response.headers.set("X-Accel-Buffering", "no");
  response.body = eventStream(source, heartbeatMs, options.retry);
  return response;
}

function eventStream(
  source: EventSource,
  heartbeatMs: number,
  retry: number | undefined,
): BodyStream {
  const iterator: AsyncIterator<SourceItem> | Iterator<SourceItem> =
    Symbol.asyncIterator in source
      ? source[Symbol.asyncIterator]()
      : (source as Iterable<SourceItem>)[Symbol.iterator]();
  // One step of the source at a time; its outcome waits here until the frame loop takes it.
  let outcome: Outcome | null = null;
  let wake: (() => void) | null = null;
  let stopped = false;
  const askSource = (): void => {
    Promise.resolve(iterator.next()).then(
      (result) => {
        outcome = { ok: true, result };
        wake?.();
      },
      (error: unknown) => {
        outcome = { ok: false, error };
        wake?.();
      },
    );
  };

  async function* frames(): AsyncGenerator<string> {
    let timer: NodeJS.Timeout | undefined;
    let finished = false;
    try {
      if (retry !== undefined) yield `retry: ${retry}\n\n`;
      askSource();
      for (;;) {
        if (outcome === null) {
          let quiet = false;
          // A fresh promise per wait: racing one long-lived promise would pile up reactions.
          await new Promise<void>((resolve) => {
            wake = resolve;
            if (heartbeatMs > 0) {
              timer = setTimeout(() => {
                quiet = true;
                resolve();
              }, heartbeatMs);
            }
          });
          wake = null;
          clearTimeout(timer);
          if (stopped) return;
          if (quiet && outcome === null) {
            yield ": heartbeat\n\n";
            continue;
          }
        }
        const step = outcome as Outcome;
        outcome = null;
        if (!step.ok) throw step.error;
        if (step.result.done === true) {
          finished = true;
          return;
        }
        yield formatEvent(step.result.value);
        askSource();
      }
    } finally {
      clearTimeout(timer);
      // The source is closed when the stream ends early (the client left, or a frame failed);
      // not awaited, since a source busy awaiting finishes that step first.
      if (!finished) Promise.resolve(iterator.return?.()).catch(() => {});
    }
  }

  const generator = frames();
  return {
    [Symbol.asyncIterator]: () => generator,
    cancel: () => {
      stopped = true;
      wake?.();
      void generator.return(undefined);
    },
  };
}

/** What one step of the source gave: an iterator result, or the error it threw. */
type Outcome =
  | { readonly ok: true; readonly result: IteratorResult<SourceItem> }
  | { readonly ok: false; readonly error: unknown };

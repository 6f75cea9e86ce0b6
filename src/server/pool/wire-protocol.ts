// The messages between a process's event loop and its pool threads. One discriminated union
// per direction; every message is plain data, and messages that leave together travel as one
// array, in order. Request bodies, which the server allocated, travel in the transfer list;
// response bytes are copied, since the app may hold on to them. The messages every pool thread
// speaks (its boot, toThread calls and their outcomes) are carafe/threading's pool core's.

import type {
  BodyChunk,
  BroadcastEnvelope,
  FamilyDelta,
  RequestRecord,
  ResponseRecord,
} from "../../framework/internal.ts";
import type {
  CallMessage,
  CoreThreadMessage,
  ErrorInfo,
  PoolThreadData,
  SpanContextData,
} from "../../threading/internal.ts";
import type { LogEntry } from "../http/app-logger.ts";

/**
 * What a pool thread is started with (its `workerData`): its claim memory (who owns a request
 * sent ahead, which request it started last) and the app's named shared values come from the
 * pool core.
 */
export interface ThreadData extends PoolThreadData {
  /** `path/to/app.ts[:export]`: the module the thread imports, as the worker process did. */
  appSpec: string;
  /** Report the app's metrics to the loop now and then (`metrics` messages). */
  metrics: boolean;
  /** Hand what is logged on the thread to the loop (`log` messages), for the error log. */
  logs: boolean;
}

/** A response whose body is bytes or text (a streamed one is announced by `head`). */
export type CompleteResponse = Omit<ResponseRecord, "body"> & { body: BodyChunk | null };

/** Loop → thread. */
export type LoopMessage =
  /**
   * Run the app on this request; answer with `response`, or `head` then `chunk`s and `end`.
   * `slot` when it was sent ahead, while another request runs: it waits its turn and is started
   * only if the loop has not taken it back (its slot of `ThreadData.claim`). `trace`: the
   * request's server span, when it is traced; it is the active span while the request runs.
   */
  | {
      type: "request";
      id: number;
      record: RequestRecord;
      slot?: number;
      trace?: SpanContextData;
    }
  /** Run a `toThread` call; answer with `outcome`. */
  | CallMessage
  /** A streamed chunk was written to the socket: the thread may send one more. */
  | { type: "ack"; id: number }
  /** The client went away: its `request.signal` aborts, and a streamed body stops. */
  | { type: "cancel"; id: number }
  /** Report the app's metrics now (a scrape), answering with `metrics` `asked`. */
  | { type: "report-metrics" };

/** Thread → loop. */
export type ThreadMessage =
  /** `ready` once the app module is imported, `boot-failed` if it is not; a call's `outcome`. */
  | CoreThreadMessage
  /** `exception`: what a traced request raised to be answered 500, for its span. */
  | { type: "response"; id: number; response: CompleteResponse; exception?: ErrorInfo }
  /**
   * The thread starts this request, and its route is not known to be quick: what waits behind
   * it on the thread is better run by another.
   */
  | { type: "slow"; id: number }
  /** A streamed response begins: status and headers now, the body in `chunk`s. */
  | { type: "head"; id: number; status: number; headers: string[] }
  | { type: "chunk"; id: number; chunk: BodyChunk }
  /** The streamed body is complete (`error` set when its producer failed part-way). */
  | { type: "end"; id: number; error?: string }
  /** A handler on the thread broadcast to a room: the sockets live on the loop. */
  | { type: "broadcast"; envelope: BroadcastEnvelope }
  /**
   * What the app's metrics recorded on the thread since its last report: `asked` when it answers
   * `report-metrics`, otherwise the report it sends each second.
   */
  | { type: "metrics"; families: FamilyDelta[]; asked: boolean }
  /**
   * Something logged on the thread (a handler's exception among them), for the loop to write
   * to the error log: sent before the answer of the request it was logged in.
   */
  | { type: "log"; entry: LogEntry }
  /**
   * An error was thrown outside any request (by a timer, or a promise nobody handled); the
   * thread goes on serving. `route` is the request that scheduled the callback, when known.
   */
  | {
      type: "stray-error";
      origin: "exception" | "rejection";
      stack: string;
      route: string | null;
      /** The error came while a request ran that may wait on it: the thread ends. */
      fatal: boolean;
    };

/** Chunks a thread may send ahead of the loop's acks: bounds memory for a slow client. */
export const STREAM_WINDOW = 8;

/**
 * The buffer to transfer along with `bytes`, or none when transferring would detach memory
 * that others share (Node's small Buffers are slices of one pooled allocation).
 */
export function transferable(bytes: BodyChunk | null): ArrayBuffer[] {
  if (bytes === null || typeof bytes === "string") return [];
  const buffer = bytes.buffer;
  return buffer instanceof ArrayBuffer &&
    bytes.byteOffset === 0 &&
    bytes.byteLength === buffer.byteLength
    ? [buffer]
    : [];
}

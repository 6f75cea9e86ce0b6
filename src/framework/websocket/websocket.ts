// Design: a WebSocket as a handler sees it, independent of the library that speaks the protocol.
// The server hands each accepted connection a `SocketTransport` (the `ws` library behind it) and
// reports what arrives through `deliver` and `ended`; everything here runs on the event loop.
// Incoming messages wait in a queue until the handler reads them; past `QUEUE_HIGH` the server
// stops reading the socket (TCP then slows the client), and reads again below `QUEUE_LOW`.
// `send` resolves once the message is handed to the socket while little is buffered, so a
// handler that awaits its sends never grows memory because of a slow client. A broadcast
// cannot wait for every socket in a room: it offers the message, and a socket with more than
// `maxBuffered` bytes still waiting for its client is closed with 1013 instead.
//
// A route given as event handlers (`handleWith`) has each message handed to its handler as it
// arrives, with no promise in between; a message waits in the same queue while the handler's
// call for the one before (an async one, or one whose send waits for the client) still runs.

import { CarafeError } from "../errors.ts";

/** A message: text, or bytes for a binary frame. */
export type WebSocketMessage = string | Uint8Array;

/** A text message with its UTF-8 bytes: a broadcast encodes once for its whole room. @internal */
export interface EncodedText {
  readonly text: string;
  readonly utf8: Uint8Array;
}

/** A route's message handler: a promise while its call still runs. */
type MessageHandler = (message: WebSocketMessage) => Promise<void> | undefined;

/** What a server gives Carafe for one accepted connection. @internal */
export interface SocketTransport {
  /** The subprotocol agreed on, or `""`. */
  readonly protocol: string;
  /** Bytes queued for the socket but not yet written. */
  readonly bufferedAmount: number;
  /** Queues `data` for the client; `done` (when given) is told once it is written. */
  send(data: WebSocketMessage | EncodedText, done?: (error?: Error) => void): void;
  close(code: number, reason: string): void;
  /** Stops / resumes reading from the socket. */
  pause(): void;
  resume(): void;
}

/** What `send` rejects with once the connection is closed (`receive` gives `null` instead). */
export class WebSocketClosed extends CarafeError {
  constructor(
    readonly closeCode: number,
    readonly reason: string,
  ) {
    super("ERR_WEBSOCKET_CLOSED", `the WebSocket is closed (code ${closeCode})`);
  }
}

/** Each `WebSocketClosed` a socket's `send` rejected with, and that socket. */
const raisedBy = new WeakMap<WebSocketClosed, WebSocket>();

const QUEUE_HIGH = 64;
const QUEUE_LOW = 16;
/** Bytes buffered for the client above which `send` waits until they are written. */
const SEND_HIGH = 1 << 20;
const RESOLVED = Promise.resolve();
/** The end of a message iterator (a socket's, or a room subscription's). @internal */
export const DONE: IteratorReturnResult<undefined> = Object.freeze({
  done: true,
  value: undefined,
});

/**
 * `promise`, marked handled: a send nobody awaits (a handler that sends and goes on) must not
 * end the process as an unhandled rejection when the socket has closed; a caller that awaits
 * it still gets the error.
 */
function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

/** What a WebSocket needs of its app's `Rooms` (rooms.ts imports this file, not the reverse). */
interface RoomRegistry {
  add(room: string, member: WebSocket): void;
  remove(room: string, member: WebSocket): void;
}

/**
 * One WebSocket connection: read messages with `for await`, answer with `send`.
 *
 * @example
 * app.websocket("/echo", async (ws) => {
 *   for await (const message of ws) await ws.send(message);
 * });
 */
export class WebSocket implements AsyncIterable<WebSocketMessage> {
  readonly #transport: SocketTransport;
  readonly #queue: WebSocketMessage[] = [];
  /** The pending `receive()` or iterator `next()`, and which of the two it is. */
  #waiting: ((value: unknown) => void) | null = null;
  #waitingForResult = false;
  #ended: { code: number; reason: string } | null = null;
  #paused = false;
  #announceEnd: (state: { code: number; reason: string }) => void = () => {};
  readonly #rooms: RoomRegistry;
  readonly #joined = new Set<string>();
  readonly #maxBuffered: number;
  /** The route's message handler (`handleWith`); `null` when the handler reads the socket. */
  #onMessage: MessageHandler | null = null;
  #onEnd: ((code: number, reason: string) => void) | null = null;
  /** A call of the message handler (or `open`) still runs: messages wait in the queue. */
  #busy = false;
  /** The last send that waits for the client to read what is buffered, until it settles. */
  #slowSend: Promise<void> | null = null;

  /** Settles with the close code and reason once the connection has closed. */
  readonly closed: Promise<{ code: number; reason: string }>;

  /** @internal A server creates it for each accepted connection. */
  constructor(transport: SocketTransport, rooms: RoomRegistry, maxBuffered: number) {
    this.#transport = transport;
    this.#rooms = rooms;
    this.#maxBuffered = maxBuffered;
    this.closed = new Promise((resolve) => {
      this.#announceEnd = resolve;
    });
  }

  /** The subprotocol agreed on with the client, or `""`. */
  get protocol(): string {
    return this.#transport.protocol;
  }

  /** Bytes sent but not yet written to the client (the browser WebSocket's `bufferedAmount`). */
  get bufferedAmount(): number {
    return this.#transport.bufferedAmount;
  }

  /** Whether the connection is still open. */
  get open(): boolean {
    return this.#ended === null;
  }

  /**
   * The next message; `null` once the connection has closed and every message was read.
   *
   * @example
   * const hello = await ws.receive();
   */
  receive(): Promise<WebSocketMessage | null> {
    return this.#take(false);
  }

  [Symbol.asyncIterator](): AsyncIterator<WebSocketMessage> {
    // A plain iterator rather than an async generator, whose promise is the iterator result
    // itself: one promise per message, not three.
    return {
      next: () => this.#take(true),
      return: () => Promise.resolve(DONE),
    };
  }

  /** The next message, as itself or (for the iterator) as an iterator result. */
  #take(asResult: true): Promise<IteratorResult<WebSocketMessage>>;
  #take(asResult: false): Promise<WebSocketMessage | null>;
  #take(asResult: boolean): Promise<unknown> {
    if (this.#onMessage !== null) {
      throw new CarafeError(
        "ERR_WEBSOCKET_RECEIVE",
        "this WebSocket's messages go to its route's message handler; receive() and for await read the sockets of routes given a handler function",
      );
    }
    const next = this.#shift();
    if (next !== undefined) return Promise.resolve(asResult ? { done: false, value: next } : next);
    if (this.#ended !== null) return Promise.resolve(asResult ? DONE : null);
    if (this.#waiting !== null) {
      throw new CarafeError(
        "ERR_WEBSOCKET_RECEIVE",
        "receive() was called while another receive() is waiting; read a WebSocket from one place",
      );
    }
    this.#waitingForResult = asResult;
    return new Promise((resolve) => {
      this.#waiting = resolve;
    });
  }

  /** The oldest queued message, reading the socket again once the queue is short. */
  #shift(): WebSocketMessage | undefined {
    const next = this.#queue.shift();
    if (next !== undefined && this.#paused && this.#queue.length <= QUEUE_LOW) {
      this.#paused = false;
      this.#transport.resume();
    }
    return next;
  }

  /** Settles the waiting `receive` or `next` with `message` (`null`: the end). */
  #settle(waiting: (value: unknown) => void, message: WebSocketMessage | null): void {
    this.#waiting = null;
    if (!this.#waitingForResult) waiting(message);
    else waiting(message === null ? DONE : { done: false, value: message });
  }

  /**
   * Sends a message (a string as text, bytes as binary). Resolves once it is handed to the
   * socket and little is waiting there. Rejects with `WebSocketClosed` when the connection is
   * closed first, a send still waiting for the client included: the client left (code 1006
   * when it went without a close frame) or the socket was closed. A handler may let that
   * rejection end it: the app takes it as the connection's normal end and logs nothing.
   */
  send(data: WebSocketMessage): Promise<void> {
    if (this.#ended !== null) {
      return handled(Promise.reject(this.#closedError(this.#ended)));
    }
    const transport = this.#transport;
    // Little buffered: the caller may go on at once; the write completes on its own.
    if (transport.bufferedAmount < SEND_HIGH) {
      transport.send(data);
      return RESOLVED;
    }
    const sent = new Promise<void>((resolve, reject) => {
      transport.send(data, (error) => {
        if (error === undefined) resolve();
        // A failed write may come before the server reports the end and its code.
        else reject(this.#closedError(this.#ended ?? { code: 1006, reason: "" }));
      });
    });
    this.#slowSend = sent;
    return handled(sent);
  }

  #closedError(state: { code: number; reason: string }): WebSocketClosed {
    const error = new WebSocketClosed(state.code, state.reason);
    raisedBy.set(error, this);
    return error;
  }

  /**
   * Whether `error` is the `WebSocketClosed` one of this socket's sends rejected with: a handler
   * that lets it through ended because its connection did, not because it failed. @internal
   */
  closedWith(error: unknown): boolean {
    return error instanceof WebSocketClosed && raisedBy.get(error) === this;
  }

  /**
   * Joins `room`: every `broadcast(room, …)` from now on reaches this socket, whichever worker
   * process or pool thread makes it. A closed socket leaves its rooms.
   *
   * @example
   * app.websocket("/chat/<room>", async (ws, req) => {
   *   ws.join(req.params.room);
   *   for await (const message of ws) broadcast(req.params.room, message, { except: ws });
   * });
   */
  join(room: string): void {
    if (this.#ended !== null || this.#joined.has(room)) return;
    this.#joined.add(room);
    this.#rooms.add(room, this);
  }

  /** Leaves `room`. */
  leave(room: string): void {
    if (!this.#joined.delete(room)) return;
    this.#rooms.remove(room, this);
  }

  /** The rooms this socket is in. */
  get rooms(): ReadonlySet<string> {
    return this.#joined;
  }

  /**
   * A broadcast's message: sent without waiting, unless the client already has more than
   * `maxBuffered` bytes unread, in which case the socket is closed (1013) rather than
   * buffering without bound. @internal
   */
  offer(data: WebSocketMessage | EncodedText): void {
    if (this.#ended !== null) return;
    if (this.#transport.bufferedAmount > this.#maxBuffered) {
      this.close(1013, "client too slow: too many broadcast messages unread");
      return;
    }
    this.#transport.send(data);
  }

  /** Closes the connection (1000, normal closure, by default). */
  close(code = 1000, reason = ""): void {
    if (this.#ended !== null) return;
    this.#transport.close(code, reason);
  }

  /**
   * Hands each message to `onMessage` instead of a reader, and tells `onEnd` once the socket
   * has closed and every message was handled; `onOpen` runs first. A call that returns a
   * promise holds the messages after it until it settles. @internal
   */
  handleWith(
    onOpen: () => Promise<void> | undefined,
    onMessage: MessageHandler,
    onEnd: (code: number, reason: string) => void,
  ): void {
    this.#onMessage = onMessage;
    this.#onEnd = onEnd;
    const opening = onOpen();
    if (opening !== undefined) this.#holdUntil(opening);
  }

  #handle(message: WebSocketMessage): void {
    this.#slowSend = null;
    const running = (this.#onMessage as MessageHandler)(message);
    // A handler that cannot await its sends still waits for a client that stopped reading.
    const waiting = running ?? this.#slowSend;
    if (waiting !== null) this.#holdUntil(waiting);
  }

  #holdUntil(running: Promise<void>): void {
    this.#busy = true;
    const next = (): void => {
      this.#busy = false;
      this.#pump();
    };
    running.then(next, next);
  }

  /** Hands queued messages to the handler while it is free; after the last, reports the end. */
  #pump(): void {
    while (!this.#busy) {
      const next = this.#shift();
      if (next === undefined) break;
      this.#handle(next);
    }
    if (!this.#busy && this.#ended !== null) this.#finish(this.#ended);
  }

  #finish(state: { code: number; reason: string }): void {
    const onEnd = this.#onEnd;
    this.#onEnd = null;
    onEnd?.(state.code, state.reason);
  }

  /** @internal The server reports a message from the client. */
  deliver(message: WebSocketMessage): void {
    const waiting = this.#waiting;
    if (waiting !== null) {
      this.#settle(waiting, message);
      return;
    }
    if (this.#onMessage !== null && !this.#busy) {
      this.#handle(message);
      return;
    }
    this.#queue.push(message);
    if (!this.#paused && this.#queue.length >= QUEUE_HIGH) {
      this.#paused = true;
      this.#transport.pause();
    }
  }

  /** @internal The server reports that the connection has closed. */
  ended(code: number, reason: string): void {
    if (this.#ended !== null) return;
    this.#ended = { code, reason };
    for (const room of this.#joined) this.#rooms.remove(room, this);
    this.#joined.clear();
    const waiting = this.#waiting;
    if (waiting !== null) this.#settle(waiting, null);
    this.#announceEnd(this.#ended);
    // Messages still queued reach the handler first (see #pump).
    if (this.#onMessage !== null && !this.#busy) this.#finish(this.#ended);
  }
}

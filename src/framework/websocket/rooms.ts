// Design: rooms and broadcast. Each app keeps, in each process, which of its open WebSockets
// are in which room. `broadcast(room, message)` sends to the room's sockets here and hands the
// message to the relay the server installed, which carries it to the app in the other places
// that hold sockets: the other worker processes (through the supervisor), other servers
// (through Redis), or the event loop when the broadcast comes from a pool thread. A message
// that arrives through a relay reaches this process's sockets only, so it never travels twice.
// A broadcast never waits for a socket; a client that has fallen too far behind is closed
// instead (see `WebSocket.offer`), so a slow reader cannot grow the server's memory. Besides
// sockets, a room holds subscriptions: the messages as an async iterable, for a Server-Sent
// Events stream (`sse(subscribe(room))`), bounded the same way.

import { Buffer } from "node:buffer";
import { CarafeError } from "../errors.ts";
import { DONE, type EncodedText, type WebSocket, type WebSocketMessage } from "./websocket.ts";

/** A broadcast as it travels between processes: plain, JSON-safe data. @internal */
export interface BroadcastEnvelope {
  readonly room: string;
  /** The text, or the bytes of a binary message in base64. */
  readonly data: string;
  readonly binary: boolean;
}

/** Carries broadcasts to the app's sockets elsewhere; installed by the server. @internal */
export interface BroadcastRelay {
  publish(envelope: BroadcastEnvelope): void;
}

/** Options of `broadcast`. */
export interface BroadcastOptions {
  /** A socket that does not receive this message (usually the sender). */
  except?: WebSocket;
}

/** Options of `subscribe`. */
export interface SubscribeOptions {
  /**
   * Messages that may wait unread (default 1000); one more ends the subscription with an
   * error, so a reader that cannot keep up never grows memory without bound.
   */
  maxQueued?: number;
}

/** What a room holds: a WebSocket, or a subscription. @internal */
export interface RoomMember {
  /** A broadcast's message; never waits. */
  offer(data: WebSocketMessage | EncodedText): void;
}

const DEFAULT_MAX_QUEUED = 1000;

/**
 * The messages broadcast to some rooms, in order, from the moment of subscribing: an async
 * iterable that leaves its rooms when the loop over it ends (or on `close()`).
 *
 * @example
 * app.get("/news", { thread: false }, () => sse(subscribe("news")));
 */
export class Subscription implements AsyncIterable<WebSocketMessage>, RoomMember {
  readonly #rooms: Rooms;
  readonly #names: readonly string[];
  readonly #maxQueued: number;
  readonly #queue: WebSocketMessage[] = [];
  #waiting: ((step: IteratorResult<WebSocketMessage>) => void) | null = null;
  #overflow: CarafeError | null = null;
  #closed = false;

  /** @internal Made by `subscribe`. */
  constructor(rooms: Rooms, names: readonly string[], maxQueued: number) {
    this.#rooms = rooms;
    this.#names = names;
    this.#maxQueued = maxQueued;
    for (const name of names) rooms.add(name, this);
  }

  /** @internal */
  offer(data: WebSocketMessage | EncodedText): void {
    if (this.#closed) return;
    const message = typeof data === "string" || data instanceof Uint8Array ? data : data.text;
    const waiting = this.#waiting;
    if (waiting !== null) {
      this.#waiting = null;
      waiting({ done: false, value: message });
      return;
    }
    if (this.#queue.length < this.#maxQueued) {
      this.#queue.push(message);
      return;
    }
    this.#overflow = new CarafeError(
      "ERR_SUBSCRIPTION_OVERFLOW",
      `a subscriber to ${this.#names.join(", ")} left more than ${this.#maxQueued} messages unread and was dropped (maxQueued)`,
    );
    this.close();
  }

  /** Leaves the rooms; a loop over the subscription ends once it has read what came before. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const name of this.#names) this.#rooms.remove(name, this);
    const waiting = this.#waiting;
    this.#waiting = null;
    waiting?.(DONE);
  }

  [Symbol.asyncIterator](): AsyncIterator<WebSocketMessage> {
    return {
      next: () => {
        const next = this.#queue.shift();
        if (next !== undefined) return Promise.resolve({ done: false, value: next });
        if (this.#overflow !== null) return Promise.reject(this.#overflow);
        if (this.#closed) return Promise.resolve(DONE);
        return new Promise((resolve) => {
          this.#waiting = resolve;
        });
      },
      return: () => {
        this.close();
        this.#queue.length = 0;
        return Promise.resolve(DONE);
      },
    };
  }
}

/** The envelope that carries `message` to `room` elsewhere. @internal */
export function envelopeOf(room: string, message: WebSocketMessage): BroadcastEnvelope {
  return typeof message === "string"
    ? { room, data: message, binary: false }
    : { room, data: Buffer.from(message).toString("base64"), binary: true };
}

function messageOf(envelope: BroadcastEnvelope): WebSocketMessage {
  return envelope.binary ? Buffer.from(envelope.data, "base64") : envelope.data;
}

/** The rooms of one app in this process, and where their broadcasts go beyond it. @internal */
export class Rooms {
  readonly #members = new Map<string, Set<RoomMember>>();
  /** Where broadcasts also go; `null` when this process is the only place with sockets. */
  relay: BroadcastRelay | null = null;
  /** Whether broadcasts reach members here: not on a pool thread, where none can live. */
  holdsMembers = true;
  /** Broadcasts made in this process, on its loop or (forwarded) on its pool threads. */
  made = 0;

  /** Called by `ws.join` and `subscribe`. */
  add(room: string, member: RoomMember): void {
    let members = this.#members.get(room);
    if (members === undefined) {
      members = new Set();
      this.#members.set(room, members);
    }
    members.add(member);
  }

  /** Called by `ws.leave`, when a socket closes, and when a subscription ends. */
  remove(room: string, member: RoomMember): void {
    const members = this.#members.get(room);
    if (members === undefined) return;
    members.delete(member);
    if (members.size === 0) this.#members.delete(room);
  }

  /** The messages broadcast to `rooms` from now on, for this process's event loop to read. */
  subscribe(rooms: readonly string[], options: SubscribeOptions = {}): Subscription {
    if (!this.holdsMembers) {
      throw new CarafeError(
        "ERR_SUBSCRIBE_ON_THREAD",
        "subscribe() runs on the event loop, where broadcasts arrive; on a pool thread it would never receive one: make the handler async or mark the route { thread: false }",
      );
    }
    const maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
    if (!Number.isInteger(maxQueued) || maxQueued <= 0) {
      throw new CarafeError(
        "ERR_SUBSCRIBE_OPTIONS",
        `subscribe(): maxQueued must be a positive whole number of messages, got ${String(maxQueued)}`,
      );
    }
    return new Subscription(this, rooms, maxQueued);
  }

  /** How many sockets of this process are in `room`. */
  localSize(room: string): number {
    return this.#members.get(room)?.size ?? 0;
  }

  /** Sends `message` to every socket in `room`, here and, through the relay, everywhere else. */
  broadcast(room: string, message: WebSocketMessage, options: BroadcastOptions = {}): void {
    if (
      typeof room !== "string" ||
      !(typeof message === "string" || message instanceof Uint8Array)
    ) {
      throw new CarafeError(
        "ERR_BAD_BROADCAST",
        `broadcast(room, message) takes a room name and text or bytes, got ${typeof room} and ${typeof message}: JSON.stringify an object first`,
      );
    }
    // A pool thread's broadcast is counted once, when the loop forwards it.
    if (this.holdsMembers) this.made += 1;
    this.#deliver(room, message, options.except);
    this.relay?.publish(envelopeOf(room, message));
  }

  /** A broadcast made where no socket lives (a pool thread): sent on as if it were made here. */
  forward(envelope: BroadcastEnvelope): void {
    this.made += 1;
    this.receive(envelope);
    this.relay?.publish(envelope);
  }

  /** A broadcast made in another process: for this process's sockets only. */
  receive(envelope: BroadcastEnvelope): void {
    this.#deliver(envelope.room, messageOf(envelope), undefined);
  }

  #deliver(room: string, message: WebSocketMessage, except: WebSocket | undefined): void {
    const members = this.#members.get(room);
    if (members === undefined) return;
    // Text is encoded once for the room rather than once for each socket.
    const data: WebSocketMessage | EncodedText =
      typeof message === "string" && members.size > 1
        ? { text: message, utf8: Buffer.from(message) }
        : message;
    for (const member of members) if (member !== except) member.offer(data);
  }
}

// Design: rooms and broadcast. Each app keeps, in each process, which of its open WebSockets
// are in which room. `broadcast(room, message)` sends to the room's sockets here and hands the
// message to the relay the server installed, which carries it to the app in the other places
// that hold sockets: the other worker processes (through the supervisor), other servers
// (through Redis), or the event loop when the broadcast comes from a pool thread. A message
// that arrives through a relay reaches this process's sockets only, so it never travels twice.
// A broadcast never waits for a socket; a client that has fallen too far behind is closed
// instead (see `WebSocket.offer`), so a slow reader cannot grow the server's memory.

import type { EncodedText, WebSocket, WebSocketMessage } from "./websocket.ts";

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
  readonly #members = new Map<string, Set<WebSocket>>();
  /** Where broadcasts also go; `null` when this process is the only place with sockets. */
  relay: BroadcastRelay | null = null;

  /** Called by `ws.join`. */
  add(room: string, ws: WebSocket): void {
    let members = this.#members.get(room);
    if (members === undefined) {
      members = new Set();
      this.#members.set(room, members);
    }
    members.add(ws);
  }

  /** Called by `ws.leave` and when a socket closes. */
  remove(room: string, ws: WebSocket): void {
    const members = this.#members.get(room);
    if (members === undefined) return;
    members.delete(ws);
    if (members.size === 0) this.#members.delete(room);
  }

  /** How many sockets of this process are in `room`. */
  localSize(room: string): number {
    return this.#members.get(room)?.size ?? 0;
  }

  /** Sends `message` to every socket in `room`, here and, through the relay, everywhere else. */
  broadcast(room: string, message: WebSocketMessage, options: BroadcastOptions = {}): void {
    this.#deliver(room, message, options.except);
    this.relay?.publish(envelopeOf(room, message));
  }

  /** A broadcast made where no socket lives (a pool thread): sent on as if it were made here. */
  forward(envelope: BroadcastEnvelope): void {
    this.#deliver(envelope.room, messageOf(envelope), undefined);
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
      typeof message === "string" && members.size > 1 ? { utf8: Buffer.from(message) } : message;
    for (const ws of members) if (ws !== except) ws.offer(data);
  }
}

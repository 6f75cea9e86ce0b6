// A chat over WebSockets: the page at `/?room=lobby&name=ada` opens a socket to `/ws/lobby`, and
// each message a client sends is broadcast to every socket in that room, in every worker process
// (a worker hands the broadcast to the supervisor, which passes it to the others). A client
// sends `{"name", "text"}` as JSON; anything else, or a name or text out of bounds, is dropped,
// and what is broadcast is the checked pair re-encoded, never the client's raw bytes. The server
// greets each socket with the pid of the worker process that holds it, which the page shows: two
// tabs on different workers see each other's messages, so the broadcast crossed processes.
//
// Serve it with:    carafe serve examples/chat/app.ts:app --workers 2 --bind 127.0.0.1:8000
// (in a checkout:   node --conditions=carafe-source bin/carafe.js serve, then the same arguments)
// or develop with:  node --conditions=carafe-source --import tsx examples/chat/app.ts (app.run())
// and open http://127.0.0.1:8000/?room=lobby&name=ada in two windows.

import { Carafe, broadcast, renderTemplate } from "carafe";

export const app = new Carafe();

const ROOM = /^[\w-]{1,32}$/;
const MAX_NAME = 32;
const MAX_TEXT = 500;

/** A name or text as sent: trimmed, and `null` when empty or longer than `max`. */
function bounded(value: unknown, max: number): string | null {
  if (typeof value !== "string") return null;
  const text = value.trim();
  return text !== "" && text.length <= max ? text : null;
}

/** The `{name, text}` a client sent, checked, or `null` for anything else. */
function chatMessageOf(message: string | Uint8Array): { name: string; text: string } | null {
  if (typeof message !== "string") return null;
  let sent: { name?: unknown; text?: unknown } | null;
  try {
    sent = JSON.parse(message) as typeof sent;
  } catch {
    return null;
  }
  const name = bounded(sent?.name, MAX_NAME);
  const text = bounded(sent?.text, MAX_TEXT);
  return name === null || text === null ? null : { name, text };
}

app.get("/", function index(req) {
  const room = req.args.get("room", "").trim();
  const name = req.args.get("name", "").trim();
  const joined = ROOM.test(room) && bounded(name, MAX_NAME) !== null;
  return renderTemplate("index.html", { room, name, joined, maxName: MAX_NAME, maxText: MAX_TEXT });
});

// 4 KiB is far more than a 500-character message needs; a bigger frame closes the socket (1009).
app.websocket("/ws/<room>", { maxMessageSize: 4096 }, async function chat(ws, req) {
  const room = req.params.room;
  if (!ROOM.test(room)) return ws.close(1008, "a room is 1 to 32 letters, digits, - or _");
  ws.join(room);
  await ws.send(JSON.stringify({ type: "hello", worker: process.pid }));
  for await (const message of ws) {
    const checked = chatMessageOf(message);
    if (checked !== null) broadcast(room, JSON.stringify({ type: "message", ...checked }));
  }
});

// Under `carafe serve` or `carafe run` this line does nothing.
await app.run({ port: 8000 });

// The WebSocket benchmark app on a bare `ws` server (a WebSocketServer on node:http): the floor
// for Carafe's WebSocket routes, as node-http.ts is for its HTTP routes. `/echo` sends every
// message back; `/room/<name>` puts the socket in a room, greets it like Carafe's app does, and
// sends every message it receives to each socket in the room, the sender included.
import { createServer } from "node:http";
import { WebSocketServer, type WebSocket } from "ws";
import { HELLO, portFromEnv, roomHello } from "./work.ts";

// Rooms live as long as the server: the benchmark uses one.
const rooms = new Map<string, Set<WebSocket>>();

function roomOf(name: string): Set<WebSocket> {
  let room = rooms.get(name);
  if (room === undefined) {
    room = new Set();
    rooms.set(name, room);
  }
  return room;
}

const server = createServer((_req, res) => {
  res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
  res.end(HELLO);
});
const sockets = new WebSocketServer({ server, perMessageDeflate: false, clientTracking: false });

sockets.on("connection", (ws, req) => {
  const path = req.url ?? "/";
  // W1 and W3 differ only in how Carafe's route is written.
  if (path === "/echo" || path === "/echo-events") {
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
  } else if (path.startsWith("/room/")) {
    const room = roomOf(decodeURIComponent(path.slice("/room/".length)));
    room.add(ws);
    ws.on("close", () => room.delete(ws));
    ws.send(roomHello());
    ws.on("message", (data, isBinary) => {
      for (const peer of room) peer.send(data, { binary: isBinary });
    });
  } else {
    ws.close(1008, "no such route");
  }
});

server.listen(portFromEnv(), "127.0.0.1");

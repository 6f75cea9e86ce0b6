// The WebSocket benchmark app on Carafe (W1, W2, W3), served by
// `carafe serve bench/.build/carafe-ws.js:app`: an echo route written both ways a route can be
// (a handler that reads the socket, and event handlers), and a room whose every message is
// broadcast to all its sockets, written as an app would write them. The room route also greets
// each socket with the pid of the worker that holds it (bench only, see work.ts).
import { Carafe, broadcast } from "carafe";
import { HELLO, roomHello } from "./work.ts";

export const app = new Carafe();

// What the harness asks to know that the server is ready, as it does of every server.
app.get("/", () => HELLO);

app.websocket("/echo", async (ws) => {
  for await (const message of ws) await ws.send(message);
});

app.websocket("/echo-events", {
  message: (ws, message) => void ws.send(message),
});

app.websocket("/room/<name>", async (ws, req) => {
  ws.join(req.params.name);
  await ws.send(roomHello());
  for await (const message of ws) broadcast(req.params.name, message);
});

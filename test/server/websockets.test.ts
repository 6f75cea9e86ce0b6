// WebSocket routes over a real socket, with the `ws` library as the client.
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, request, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { WebSocket as Client } from "ws";
import type { Socket } from "node:net";
import { setImmediate as nextTurn } from "node:timers/promises";
import {
  Blueprint,
  WebSocketClosed,
  abort,
  broadcast,
  g,
  request as current,
  type Carafe,
  type WebSocket,
} from "carafe";
import { createRequestListener } from "../../src/server/http/http-loop.ts";
import { createUpgrades, type Upgrades } from "../../src/server/http/websocket-upgrades.ts";
import { captureLogs, deferred, newApp } from "../helpers.ts";

const logger = { error: (message: string, error?: unknown) => console.error(message, error) };

async function serve(
  app: Carafe,
  pingIntervalMs?: number,
): Promise<{ server: Server; url: string; upgrades: Upgrades }> {
  const listener = createRequestListener(app, logger);
  const server = createServer(listener);
  assert.ok(app.sockets, "an app with WebSocket routes has the contract's socket part");
  const upgrades = createUpgrades(app.sockets, logger, {
    httpListener: listener,
    ...(pingIntervalMs ? { pingIntervalMs } : {}),
  });
  server.on("upgrade", upgrades.listener);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`, upgrades };
}

/** Every message a client receives, kept from the start: one may arrive with the handshake. */
const inboxes = new WeakMap<Client, { messages: string[]; waiting: ((text: string) => void)[] }>();

function open(
  url: string,
  options: { protocols?: string[]; headers?: Record<string, string>; autoPong?: boolean } = {},
): Client {
  const client = new Client(url, options.protocols, {
    ...(options.headers ? { headers: options.headers } : {}),
    ...(options.autoPong === false ? { autoPong: false } : {}),
  });
  const inbox = { messages: [] as string[], waiting: [] as ((text: string) => void)[] };
  inboxes.set(client, inbox);
  client.on("message", (data) => {
    const text = String(data);
    const waiter = inbox.waiting.shift();
    if (waiter) waiter(text);
    else inbox.messages.push(text);
  });
  return client;
}

/** Connects and resolves once open (or rejects with the refusal's status). */
async function connect(url: string, protocols?: string[]): Promise<Client> {
  const client = open(url, protocols ? { protocols } : {});
  await new Promise<void>((resolve, reject) => {
    client.once("open", resolve);
    client.once("unexpected-response", (_request, response: IncomingMessage) =>
      reject(new Error(`refused with ${response.statusCode}`)),
    );
    client.once("error", reject);
  });
  return client;
}

function nextMessage(client: Client): Promise<string> {
  const inbox = inboxes.get(client);
  assert.ok(inbox);
  const ready = inbox.messages.shift();
  if (ready !== undefined) return Promise.resolve(ready);
  return new Promise((resolve) => inbox.waiting.push(resolve));
}

/** A request through node:http, which (unlike fetch) lets a test send `Upgrade`. */
function fetchRaw(
  target: string,
  options: { method?: string; headers: Record<string, string>; body?: string },
): Promise<{ status: number; headers: IncomingMessage["headers"]; body: string }> {
  return new Promise((resolve, reject) => {
    const sent = request(target, { method: options.method ?? "GET", headers: options.headers });
    sent.on("response", (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () =>
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
      );
    });
    sent.on("error", reject);
    sent.end(options.body);
  });
}

function closeOf(client: Client): Promise<number> {
  return new Promise((resolve) => client.once("close", (code) => resolve(code)));
}

describe("WebSocket routes", () => {
  const app = newApp();
  const errors = captureLogs(app);
  const ended = deferred<number>();
  const reads = deferred();
  app.beforeRequest((req) => {
    if (req.args.get("token") === "bad") abort(401, "A valid token is needed.");
  });
  app.websocket("/echo/<name>", async (ws, req) => {
    await ws.send(`hello ${req.params.name}`);
    for await (const message of ws) await ws.send(message);
  });
  app.websocket("/protocol", { subprotocols: ["chat.v2", "chat.v1"] }, async (ws) => {
    await ws.send(`agreed ${ws.protocol}`);
  });
  app.websocket("/small", { maxMessageSize: 16 }, async (ws) => {
    for await (const message of ws) await ws.send(message);
  });
  app.websocket("/fails", () => {
    throw new Error("the handler broke");
  });
  app.websocket("/watch", async (ws) => {
    const { code } = await ws.closed;
    const refused = await ws.send("too late").then(
      () => "sent",
      (error: unknown) => (error as { closeCode?: number }).closeCode,
    );
    ended.resolve(refused === code ? code : -1);
  });
  app.websocket("/later", async (ws) => {
    await reads.promise;
    let count = 0;
    let last = "";
    for await (const message of ws) {
      count += 1;
      last = String(message);
      if (last === "end") break;
    }
    await ws.send(`${count} ${last}`);
  });
  const admin = new Blueprint("admin", { urlPrefix: "/admin" });
  admin.beforeRequest((req) => {
    if (req.headers.get("x-admin") !== "yes") abort(403);
  });
  admin.websocket("/feed", async (ws) => {
    await ws.send("admin feed");
  });
  app.registerBlueprint(admin);
  app.get("/plain", () => "an HTTP route");

  let server: Server;
  let url: string;
  before(async () => ({ server, url } = await serve(app)));
  after(() => server.close());

  it("echoes text and bytes, with params typed from the rule", async () => {
    const client = await connect(`${url}/echo/ada`);
    assert.equal(await nextMessage(client), "hello ada");
    // The echo reuses the bytes it received, as a text frame.
    const frame = new Promise<boolean>((resolve) =>
      client.prependOnceListener("message", (_data, binary) => resolve(binary)),
    );
    client.send("ping");
    assert.equal(await nextMessage(client), "ping");
    assert.equal(await frame, false);
    const bytes = new Promise<Buffer>((resolve) =>
      client.prependOnceListener("message", (data, isBinary) => {
        assert.equal(isBinary, true);
        resolve(data as Buffer);
      }),
    );
    client.send(Buffer.from([1, 2, 3]));
    assert.deepEqual([...(await bytes)], [1, 2, 3]);
    await nextMessage(client);
    client.close(1000);
    assert.equal(await closeOf(client), 1000);
  });

  it("serves many clients at once", async () => {
    const clients = await Promise.all(
      Array.from({ length: 50 }, (_, i) => connect(`${url}/echo/c${i}`)),
    );
    const replies = await Promise.all(
      clients.map(async (client, i) => {
        assert.equal(await nextMessage(client), `hello c${i}`);
        client.send(`message ${i}`);
        return nextMessage(client);
      }),
    );
    assert.deepEqual(
      replies,
      clients.map((_, i) => `message ${i}`),
    );
    for (const client of clients) client.close();
  });

  it("lets a beforeRequest hook refuse the upgrade", async () => {
    await assert.rejects(connect(`${url}/echo/ada?token=bad`), /refused with 401/);
    await assert.rejects(connect(`${url}/admin/feed`), /refused with 403/);
    const client = open(`${url}/admin/feed`, { headers: { "X-Admin": "yes" } });
    assert.equal(await nextMessage(client), "admin feed");
  });

  it("answers 404 to an upgrade on a path with no socket route", async () => {
    await assert.rejects(connect(`${url}/plain`), /refused with 404/);
    await assert.rejects(connect(`${url}/nothing`), /refused with 404/);
  });

  it("answers an upgrade to anything but WebSocket as an ordinary request", async () => {
    const base = url.replace("ws:", "http:");
    const h2c = { Connection: "Upgrade, HTTP2-Settings", Upgrade: "h2c", "HTTP2-Settings": "" };
    const plain = await fetchRaw(`${base}/plain`, { headers: h2c });
    assert.equal(plain.status, 200);
    assert.equal(plain.body, "an HTTP route");
    assert.equal(plain.headers.connection, "close");
    assert.equal((await fetchRaw(`${base}/nothing`, { headers: h2c })).status, 404);
    const withBody = await fetchRaw(`${base}/plain`, { method: "POST", headers: h2c, body: "x" });
    assert.equal(withBody.status, 400);
    assert.match(withBody.body, /upgrade to 'h2c' is not supported/);
  });

  it("agrees on the first subprotocol the client offers that the route speaks", async () => {
    const client = await connect(`${url}/protocol`, ["chat.v1", "other"]);
    assert.equal(client.protocol, "chat.v1");
    assert.equal(await nextMessage(client), "agreed chat.v1");
  });

  it("closes with 1009 when a message is over maxMessageSize", async () => {
    const client = await connect(`${url}/small`);
    client.send("short");
    assert.equal(await nextMessage(client), "short");
    client.send("x".repeat(17));
    assert.equal(await closeOf(client), 1009);
  });

  it("closes with 1011 when the handler throws", async () => {
    const client = await connect(`${url}/fails`);
    assert.equal(await closeOf(client), 1011);
    assert.match(errors[0]?.message ?? "", /The WebSocket handler failed on \/fails/);
    assert.match(String(errors[0]?.error), /the handler broke/);
  });

  it("tells the handler when the client leaves, and refuses later sends", async () => {
    const client = await connect(`${url}/watch`);
    client.close(4001, "bye");
    assert.equal(await ended.promise, 4001);
  });

  it("keeps every message a handler has not read yet, in order", async () => {
    const client = await connect(`${url}/later`);
    for (let i = 1; i <= 499; i += 1) client.send(`m${i}`);
    client.send("end");
    reads.resolve();
    assert.equal(await nextMessage(client), "500 end");
  });
});

describe("WebSocket routes given as events", () => {
  const app = newApp();
  const errors = captureLogs(app);
  const closed = deferred<string>();
  const steps: string[] = [];
  const full = deferred<number>();
  const starts: number[] = [];
  app.beforeRequest((req) => {
    if (req.args.get("token") === "bad") abort(401);
  });
  app.websocket("/events/<name>", {
    open(ws, req) {
      g.opened = req.params.name;
      void ws.send(`hello ${req.params.name}`);
    },
    // Plain functions: the request context is there while each runs.
    message(ws, message) {
      void ws.send(`${String(g.opened)} ${current.path}: ${String(message)}`);
    },
    close(_ws, code, reason, req) {
      if (req.params.name === "bo") closed.resolve(`${code} ${reason}`);
    },
  });
  app.websocket("/ordered", {
    async message(ws, message) {
      steps.push(`start ${String(message)}`);
      await nextTurn();
      steps.push(`end ${String(message)} ${current.path}`);
      await ws.send(message);
    },
    close() {
      steps.push("close");
    },
  });
  const brokenClose = deferred<number>();
  app.websocket("/breaks", {
    message(_ws, message) {
      if (message === "break") throw new Error("the message handler broke");
    },
    close(_ws, code) {
      brokenClose.resolve(code);
    },
  });
  app.websocket("/reads", {
    open(ws) {
      try {
        void ws.receive();
      } catch (error) {
        void ws.send((error as { code: string }).code);
      }
    },
    message() {},
  });
  const late = deferred();
  app.websocket("/late", {
    message() {},
    close(ws) {
      void ws.send("too late");
      late.resolve();
    },
  });
  const chunk = "x".repeat(512 << 10);
  app.websocket("/big", {
    message(ws) {
      starts.push(ws.bufferedAmount);
      void ws.send(chunk);
      if (ws.bufferedAmount >= 1 << 20) full.resolve(starts.length);
    },
  });

  let server: Server;
  let url: string;
  before(async () => ({ server, url } = await serve(app)));
  after(() => server.close());

  it("calls open, then message for each message, with params and the request context", async () => {
    const client = await connect(`${url}/events/ada`);
    assert.equal(await nextMessage(client), "hello ada");
    client.send("one");
    client.send("two");
    assert.equal(await nextMessage(client), "ada /events/ada: one");
    assert.equal(await nextMessage(client), "ada /events/ada: two");
    client.close(4002, "done");
    assert.equal(await closeOf(client), 4002);
  });

  it("calls close once the client has gone, with its code and reason", async () => {
    const client = await connect(`${url}/events/bo`);
    await nextMessage(client);
    client.close(4003, "bye");
    assert.equal(await closed.promise, "4003 bye");
  });

  it("hands an async handler one message at a time, in order, and close after the last", async () => {
    const client = await connect(`${url}/ordered`);
    client.send("a");
    client.send("b");
    client.send("c");
    assert.equal(await nextMessage(client), "a");
    assert.equal(await nextMessage(client), "b");
    assert.equal(await nextMessage(client), "c");
    client.close();
    await closeOf(client);
    assert.deepEqual(steps.slice(0, 6), [
      "start a",
      "end a /ordered",
      "start b",
      "end b /ordered",
      "start c",
      "end c /ordered",
    ]);
  });

  it("closes with 1011 when a message handler throws, calls it no more, and still calls close", async () => {
    const client = await connect(`${url}/breaks`);
    client.send("fine");
    client.send("break");
    client.send("after");
    assert.equal(await closeOf(client), 1011);
    const failures = errors.filter((each) => /failed on \/breaks/.test(each.message));
    assert.equal(failures.length, 1);
    assert.match(String(failures[0]?.error), /the message handler broke/);
    assert.equal(await brokenClose.promise, 1011);
  });

  it("lets a handler send to a closed socket without awaiting, with no unhandled rejection", async () => {
    const unhandled: unknown[] = [];
    const record = (reason: unknown): void => void unhandled.push(reason);
    process.on("unhandledRejection", record);
    try {
      const client = await connect(`${url}/late`);
      client.close();
      await late.promise;
      // Node reports unhandled rejections once the microtasks of the turn have run.
      await nextTurn();
      assert.deepEqual(unhandled, []);
    } finally {
      process.off("unhandledRejection", record);
    }
  });

  it("refuses receive() on a socket whose messages go to a handler", async () => {
    const client = await connect(`${url}/reads`);
    assert.equal(await nextMessage(client), "ERR_WEBSOCKET_RECEIVE");
    client.close();
  });

  it("lets a beforeRequest hook refuse the upgrade", async () => {
    await assert.rejects(connect(`${url}/events/x?token=bad`), /refused with 401/);
  });

  it("holds the next message while a client leaves more than 1 MiB unread", async () => {
    const client = await connect(`${url}/big`);
    client.pause();
    for (let i = 0; i < 40; i += 1) client.send("go");
    const calls = await full.promise;
    client.resume();
    let bytes = 0;
    for (let i = 0; i < 40; i += 1) bytes += (await nextMessage(client)).length;
    assert.equal(bytes, 40 * chunk.length);
    client.close();
    assert.ok(calls < 40);
    // A send that finds 1 MiB waiting holds the next call: none started with more than that
    // and the one 512 KiB message (and its 10-byte frame header) sent after it.
    const limit = (1 << 20) + chunk.length + 10;
    assert.ok(
      starts.every((each) => each <= limit),
      starts.join(" "),
    );
  });

  it("rejects a handler object without a message function", () => {
    assert.throws(
      () => newApp().websocket("/x", { open() {} } as never),
      /the handler must be a function, or an object with a message function/,
    );
  });
});

describe("WebSocket keepalive", () => {
  it("cuts a peer that stops answering pings", async () => {
    const app = newApp();
    const closed = deferred<number>();
    app.websocket("/quiet", async (ws) => {
      closed.resolve((await ws.closed).code);
    });
    const { server, url } = await serve(app, 30);
    try {
      const client = open(`${url}/quiet`, { autoPong: false });
      await once(client, "open");
      assert.equal(await closeOf(client), 1006);
      assert.equal(await closed.promise, 1006);
    } finally {
      server.close();
    }
  });
});

describe("A WebSocket client that leaves", () => {
  it("ends a handler awaiting a send with WebSocketClosed, and logs nothing", async () => {
    const app = newApp();
    const logged: string[] = [];
    app.logger = {
      error: (message, error) => logged.push(`error ${message} ${String(error)}`),
      warn: (message) => logged.push(`warn ${message}`),
      info: (message) => logged.push(`info ${message}`),
    };
    const stuck = deferred();
    const run = deferred<{ handler: Promise<void> }>();
    const chunk = "x".repeat(512 << 10);
    async function flood(ws: WebSocket): Promise<void> {
      for (;;) {
        // Over 1 MiB unread, the send waits for the client, which does not read.
        if (ws.bufferedAmount >= 1 << 20) stuck.resolve();
        await ws.send(chunk);
      }
    }
    app.websocket("/flood", (ws) => {
      const handler = flood(ws);
      run.resolve({ handler });
      return handler;
    });
    const { server, url } = await serve(app);
    try {
      const client = await connect(`${url}/flood`);
      client.pause();
      const { handler } = await run.promise;
      await stuck.promise;
      client.terminate();
      await assert.rejects(
        handler,
        (error) => error instanceof WebSocketClosed && error.closeCode === 1006,
      );
      // The server handles the rejection in the microtasks after it; they have all run once
      // the next turn of the event loop comes.
      await nextTurn();
      assert.deepEqual(logged, []);
    } finally {
      server.close();
    }
  });
});

describe("WebSocket rooms and broadcast", () => {
  const app = newApp();
  const slowClosed = deferred<number>();
  app.websocket("/room/<name>", async (ws, req) => {
    const room = req.params.name;
    ws.join(room);
    await ws.send(`joined ${room}`);
    for await (const message of ws) {
      const text = String(message);
      if (text === "leave") {
        ws.leave(room);
        await ws.send(`left; in ${ws.rooms.size} rooms`);
      } else if (text.startsWith("others ")) broadcast(room, text, { except: ws });
      else broadcast(room, message);
    }
  });
  app.websocket("/slow", { maxBuffered: 64 * 1024 }, async (ws) => {
    ws.join("firehose");
    await ws.send("joined");
    slowClosed.resolve((await ws.closed).code);
  });
  app.post("/announce/<name>", async (req) => {
    app.broadcast(req.params.name, await req.text());
    return "sent";
  });

  let server: Server;
  let url: string;
  before(async () => ({ server, url } = await serve(app)));
  after(() => server.close());

  async function join(room: string): Promise<Client> {
    const client = await connect(`${url}/room/${room}`);
    assert.equal(await nextMessage(client), `joined ${room}`);
    return client;
  }

  it("sends a broadcast to every socket in the room and to no other", async () => {
    const [a1, a2, a3, b1] = [await join("a"), await join("a"), await join("a"), await join("b")];
    // Text encoded once for the room still travels as a text frame.
    const frame = new Promise<boolean>((resolve) =>
      a2.prependOnceListener("message", (_data, binary) => resolve(binary)),
    );
    a1.send("hello a");
    assert.equal(await frame, false);
    for (const client of [a1, a2, a3]) assert.equal(await nextMessage(client), "hello a");
    b1.send("hello b");
    assert.equal(await nextMessage(b1), "hello b");
    // The room's order is the sender's order: had "hello a" reached b1, it would come first.
    a2.send("others only");
    for (const client of [a1, a3]) assert.equal(await nextMessage(client), "others only");
    a2.send("hello again");
    assert.equal(await nextMessage(a2), "hello again");
    for (const client of [a1, a2, a3, b1]) client.close();
  });

  it("carries bytes as bytes", async () => {
    const [one, two] = [await join("bytes"), await join("bytes")];
    const received = new Promise<{ data: Buffer; binary: boolean }>((resolve) =>
      two.prependOnceListener("message", (data, binary) =>
        resolve({ data: data as Buffer, binary }),
      ),
    );
    one.send(Buffer.from([0, 255, 7]));
    const { data, binary } = await received;
    assert.equal(binary, true);
    assert.deepEqual([...data], [0, 255, 7]);
    one.close();
    two.close();
  });

  it("reaches a room from an HTTP route", async () => {
    const client = await join("news");
    const response = await fetch(`${url.replace("ws:", "http:")}/announce/news`, {
      method: "POST",
      body: "extra",
    });
    assert.equal(await response.text(), "sent");
    assert.equal(await nextMessage(client), "extra");
    client.close();
  });

  it("takes a socket out of its rooms on leave() and when it closes", async () => {
    const [stays, leaves] = [await join("c"), await join("c")];
    assert.equal(app.rooms.localSize("c"), 2);
    leaves.send("leave");
    assert.equal(await nextMessage(leaves), "left; in 0 rooms");
    stays.send("after");
    assert.equal(await nextMessage(stays), "after");
    leaves.send("still here");
    // "still here" went to the room, which `leaves` is no longer in; only `stays` hears it.
    assert.equal(await nextMessage(stays), "still here");
    const closed = closeOf(stays);
    stays.close();
    await closed;
    leaves.close();
    await closeOf(leaves);
    assert.equal(app.rooms.localSize("c"), 0);
  });

  it("closes a client that leaves more than maxBuffered unread with 1013", async () => {
    const client = await connect(`${url}/slow`);
    assert.equal(await nextMessage(client), "joined");
    // The client stops reading: what the server sends piles up in its socket.
    const socket = (client as unknown as { _socket: Socket })._socket;
    socket.pause();
    let received = 0;
    client.on("message", () => (received += 1));
    const megabyte = "x".repeat(1 << 20);
    const sent = 64;
    for (let i = 0; i < sent; i += 1) {
      app.broadcast("firehose", megabyte);
      await nextTurn();
    }
    const code = closeOf(client);
    socket.resume();
    assert.equal(await code, 1013);
    assert.equal(await slowClosed.promise, 1013);
    // Closed long before the 64 MiB were sent: the rest was never buffered.
    assert.ok(received < sent / 2, `the client received ${received} of ${sent} messages`);
  });
});

// WebSockets under `carafe serve --workers 2`: real worker processes, real `ws` clients.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { after, describe, it } from "node:test";
import { WebSocket as Client } from "ws";
import { redisMissing, startRedis } from "./redis-process.ts";
import { allListening, freePort, startServe, type ServeProcess } from "./serve-process.ts";

const running: ServeProcess[] = [];
const others: ChildProcess[] = [];
after(async () => {
  for (const child of others) child.kill("SIGKILL");
  await Promise.all(running.map((server) => server.stop("SIGKILL")));
});

/** `carafe serve` of the sockets fixture, once each of its `workers` listens. */
async function serveSockets(workers: number, env: Record<string, string> = {}) {
  const server = await startServe(
    [
      "test/fixtures/sockets/app.ts:app",
      "--bind",
      "127.0.0.1:0",
      "--workers",
      String(workers),
      "--log-level",
      "debug",
    ],
    { env },
  );
  running.push(server);
  await allListening(server, workers);
  return server;
}

/** A client of `/room/<room>` that keeps every message; `pid` is the worker it joined on. */
interface Member {
  client: Client;
  pid: string;
  inbox: string[];
  /** Resolves once the inbox holds `count` messages. */
  holds(count: number): Promise<string[]>;
}

async function joinRoom(base: string, room: string): Promise<Member> {
  const client = new Client(`${base.replace("http://", "ws://")}/room/${room}`);
  const inbox: string[] = [];
  const waiters: (() => void)[] = [];
  const joined = new Promise<string>((resolve) =>
    client.once("message", (data) => resolve(String(data).replace("joined ", ""))),
  );
  await once(client, "open");
  const pid = await joined;
  client.on("message", (data, binary) => {
    inbox.push(binary ? `bytes ${(data as Buffer).toString("hex")}` : String(data));
    for (const wake of waiters.splice(0)) wake();
  });
  const holds = async (count: number): Promise<string[]> => {
    while (inbox.length < count) await new Promise<void>((wake) => waiters.push(wake));
    return inbox;
  };
  return { client, pid, inbox, holds };
}

/** Joins `room` until members sit on `processes` different worker processes. */
async function membersOnEveryWorker(base: string, room: string, processes: number) {
  const members: Member[] = [];
  while (new Set(members.map((member) => member.pid)).size < processes || members.length < 6) {
    members.push(await joinRoom(base, room));
  }
  return members;
}

/** Opens a client and resolves with it and its first reply to `text`. */
async function echo(url: string, text: string): Promise<{ client: Client; reply: string }> {
  const client = new Client(url);
  const reply = new Promise<string>((resolve) =>
    client.once("message", (data) => resolve(String(data))),
  );
  await once(client, "open");
  client.send(text);
  return { client, reply: await reply };
}

describe("WebSockets under carafe serve", () => {
  it("serves sockets on every worker and closes them with 1001 on TERM", async () => {
    const server = await serveSockets(2);
    const url = server.url.replace("http://", "ws://") + "/echo";
    const pids = new Set<string>();
    const clients: Client[] = [];
    // The primary hands connections to the workers in turn: 20 clients reach both.
    for (let i = 0; i < 20; i += 1) {
      const { client, reply } = await echo(url, `hello ${i}`);
      const [pid, ...rest] = reply.split(" ");
      assert.equal(rest.join(" "), `hello ${i}`);
      pids.add(pid ?? "");
      clients.push(client);
    }
    assert.equal(pids.size, 2, `replies came from ${[...pids].join(", ")}`);
    // A handler lives on the loop (thread 0) and hands heavy work to a pool thread.
    const offload = server.url.replace("http://", "ws://") + "/offload";
    const { client: worker, reply: threads } = await echo(offload, "work");
    const [loop, pool] = threads.split(" ").map(Number);
    assert.equal(loop, 0);
    assert.ok((pool ?? 0) > 0, `toThread ran on thread ${String(pool)}`);
    clients.push(worker);
    const codes = clients.map(
      (client) => new Promise<number>((resolve) => client.once("close", resolve)),
    );
    const exit = server.stop("SIGTERM");
    assert.deepEqual(new Set(await Promise.all(codes)), new Set([1001]));
    assert.equal(await exit, 0);
  });
});

describe("Broadcast across worker processes", () => {
  it("reaches every member on both workers, from a socket, an HTTP route and a pool thread", async () => {
    const server = await serveSockets(2);
    const members = await membersOnEveryWorker(server.url, "lobby", 2);
    const outsider = await joinRoom(server.url, "elsewhere");
    members[0]?.client.send("from a socket");
    members[members.length - 1]?.client.send(Buffer.from([1, 2, 3]));
    const post = (path: string): Promise<string> =>
      fetch(`${server.url}${path}`, { method: "POST" }).then((response) => response.text());
    assert.equal(await post("/announce/lobby?text=hi"), "sent\n");
    assert.equal(await post("/announce-from-thread/lobby?text=yo"), "sent\n");
    for (const member of members) {
      const inbox = await member.holds(4);
      // Each arrives once; the two socket messages may come in either order.
      assert.deepEqual(
        [...inbox].sort(),
        [
          "bytes 010203",
          "from a socket",
          "thread yo",
          inbox.find((m) => m.startsWith("loop ")),
        ].sort(),
        `worker ${member.pid} got ${inbox.join(" | ")}`,
      );
    }
    assert.deepEqual(outsider.inbox, []);
    for (const member of [...members, outsider]) member.client.close();
  });
});

/** An SSE stream of `/events/<room>`: its worker's pid, and every `data:` line after it. */
async function listen(base: string, room: string) {
  const response = await fetch(`${base}/events/${room}`);
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const data: string[] = [];
  let text = "";
  const more = async (): Promise<void> => {
    const { value, done } = await reader.read();
    if (done) throw new Error("the event stream ended");
    text += decoder.decode(value, { stream: true });
    for (let end = text.indexOf("\n\n"); end >= 0; end = text.indexOf("\n\n")) {
      const event = text.slice(0, end);
      text = text.slice(end + 2);
      for (const line of event.split("\n")) if (line.startsWith("data: ")) data.push(line.slice(6));
    }
  };
  while (data.length === 0) await more();
  const pid = (data.shift() as string).replace("joined ", "");
  const holds = async (count: number): Promise<string[]> => {
    while (data.length < count) await more();
    return data;
  };
  return { pid, holds, close: () => reader.cancel() };
}

describe("Server-Sent Events subscribed to a room", () => {
  it("receive broadcasts from every worker process", async () => {
    const server = await serveSockets(2);
    const streams = [];
    while (new Set(streams.map((stream) => stream.pid)).size < 2 || streams.length < 4) {
      streams.push(await listen(server.url, "news"));
    }
    const members = await membersOnEveryWorker(server.url, "news", 2);
    members[0]?.client.send("from a socket");
    await fetch(`${server.url}/announce-from-thread/news?text=yo`, { method: "POST" });
    for (const stream of streams) {
      assert.deepEqual([...(await stream.holds(2))].sort(), ["from a socket", "thread yo"]);
    }
    for (const stream of streams) await stream.close();
    for (const member of members) member.client.close();
  });
});

describe("Broadcast across servers through Redis", { skip: redisMissing }, () => {
  it("reaches members of two separate servers, each once", async () => {
    const port = await freePort();
    others.push(await startRedis(port));
    const env = { REDIS_URL: `redis://127.0.0.1:${port}` };
    const [one, two] = await Promise.all([serveSockets(2, env), serveSockets(1, env)]);
    const members = [
      ...(await membersOnEveryWorker(one.url, "lobby", 2)),
      await joinRoom(two.url, "lobby"),
      await joinRoom(two.url, "lobby"),
    ];
    members[0]?.client.send("from server one");
    members[members.length - 1]?.client.send("from server two");
    await fetch(`${two.url}/announce-from-thread/lobby?text=yo`, { method: "POST" });
    for (const member of members) {
      const inbox = await member.holds(3);
      assert.deepEqual([...inbox].sort(), ["from server one", "from server two", "thread yo"]);
    }
    // Nothing arrives twice: a last marker comes right after the three.
    members[0]?.client.send("last");
    for (const member of members) assert.equal((await member.holds(4))[3], "last");
    for (const member of members) member.client.close();
  });

  it("refuses to boot when the Redis server cannot be reached", async () => {
    const port = await freePort();
    const server = await startServe(["test/fixtures/sockets/app.ts:app", "--bind", "127.0.0.1:0"], {
      env: { REDIS_URL: `redis://127.0.0.1:${port}` },
      waitForListening: false,
    });
    running.push(server);
    await server.waitFor(/could not reach the Redis server of app.config.broadcastUrl/);
    assert.notEqual(await server.exited, 0);
  });
});

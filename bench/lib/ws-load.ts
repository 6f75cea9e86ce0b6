// The load client of the WebSocket scenarios (W1, W2): a process of its own, as wrk is for HTTP,
// speaking to the server through the `ws` client. run.ts starts it through runSocketLoad
// (load.ts) and reads the one line of JSON it prints, a SocketLoadResult.
//
//   node --import tsx bench/lib/ws-load.ts --mode echo --url ws://127.0.0.1:8000/echo \
//     --clients 50 --seconds 5 [--warmup 1]
//
// echo       Every client sends a 32-byte text message and waits for it to come back before it
//            sends the next. The rate is round trips per second over all clients.
// broadcast  Every client joins the room, and the server greets it with its pid. The first also
//            publishes: a 32-byte text message holding the time it was sent, which the server
//            sends to the whole room, the publisher included. A new one goes out whenever fewer
//            than IN_FLIGHT broadcasts are still arriving: as fast as deliveries keep up, never
//            piling up in the server. The rate is messages received per second over all clients;
//            a message's latency is its receipt time minus the time written in it (one process,
//            one clock).
//
// Design: clients connect in batches, each batch waiting until all its sockets are open (and
// greeted), so a thousand connections never overflow the server's accept backlog and every
// socket is in the room before the first broadcast. The load runs for --warmup + --seconds;
// only what arrives within the last --seconds is counted.
import { parseArgs } from "node:util";
import { setTimeout as delay } from "node:timers/promises";
import { WebSocket } from "ws";
import { ROOM_HELLO } from "../apps/work.ts";
import type { SocketLoadResult } from "./load.ts";

const MESSAGE = "0123456789abcdefghijklmnopqrstuv";
const MESSAGE_BYTES = Buffer.from(MESSAGE);
/** Broadcasts being delivered at once: two keep the server busy while the clients read. */
const IN_FLIGHT = 2;
const CONNECT_BATCH = 100;
const CONNECT_TIMEOUT_MS = 10_000;
/** How long broadcasts published before the end may take to arrive before they count as lost. */
const DRAIN_MS = 10_000;

interface Client {
  ws: WebSocket;
  /** The server process that holds the socket, from its greeting (broadcast only). */
  pid: number | null;
  /** Broadcasts received. */
  received: number;
  /** Socket errors, and closes the load did not ask for. */
  errors: number;
}

/** Set once the load closes the sockets itself. */
let closing = false;

/**
 * What the run counts between the end of the warm-up (`from`) and the end (`to`); `errors`
 * are wrong echoes, whenever they come.
 */
class Tally {
  count = 0;
  errors = 0;
  readonly latencies: number[] = [];

  constructor(
    readonly from: number,
    readonly to: number,
  ) {}

  record(sentAt: number, at: number): void {
    if (at < this.from || at > this.to) return;
    this.count += 1;
    this.latencies.push(at - sentAt);
  }
}

function open(url: string, greeted: boolean): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const client: Client = { ws, pid: null, received: 0, errors: 0 };
    const fail = (error: Error): void => {
      clearTimeout(timer);
      reject(error);
    };
    const timer = setTimeout(() => {
      fail(new Error(`no connection to ${url} within ${CONNECT_TIMEOUT_MS} ms`));
      ws.terminate();
    }, CONNECT_TIMEOUT_MS);
    const done = (): void => {
      clearTimeout(timer);
      ws.off("error", fail);
      ws.on("error", () => (client.errors += 1));
      ws.once("close", () => {
        if (!closing) client.errors += 1;
      });
      resolve(client);
    };
    ws.once("error", fail);
    if (!greeted) {
      ws.once("open", done);
      return;
    }
    ws.once("message", (data) => {
      const text = String(data);
      if (text.startsWith(ROOM_HELLO)) client.pid = Number(text.slice(ROOM_HELLO.length));
      done();
    });
  });
}

async function connectAll(url: string, count: number, greeted: boolean): Promise<Client[]> {
  const clients: Client[] = [];
  while (clients.length < count) {
    const batch = Math.min(CONNECT_BATCH, count - clients.length);
    clients.push(...(await Promise.all(Array.from({ length: batch }, () => open(url, greeted)))));
  }
  return clients;
}

/** One client's round trips until the end; resolves when it stops. */
function echo({ ws }: Client, tally: Tally): Promise<void> {
  return new Promise((resolve) => {
    let sentAt = 0;
    const next = (): void => {
      const now = performance.now();
      if (now >= tally.to || ws.readyState !== WebSocket.OPEN) return resolve();
      sentAt = now;
      ws.send(MESSAGE);
    };
    ws.on("message", (data) => {
      const at = performance.now();
      if (!(Buffer.isBuffer(data) && MESSAGE_BYTES.equals(data))) tally.errors += 1;
      tally.record(sentAt, at);
      next();
    });
    ws.once("close", () => resolve());
    next();
  });
}

/** Publishes until the end, then waits for the last deliveries; resolves with those lost. */
function broadcast(everyone: Client[], tally: Tally): Promise<number> {
  // A socket that closed while the others connected is counted already (Client.errors).
  const clients = everyone.filter(({ ws }) => ws.readyState === WebSocket.OPEN);
  if (clients.length === 0) return Promise.resolve(0);
  const publisher = (clients[0] as Client).ws;
  let open = clients.length;
  let published = 0;
  /** Deliveries still due to the clients that are open. */
  let owed = 0;
  let publishing = true;
  return new Promise((resolve) => {
    const finish = (): void => {
      clearTimeout(timer);
      resolve(Math.max(owed, 0));
    };
    const timer = setTimeout(finish, tally.to - performance.now() + DRAIN_MS);
    const publish = (): void => {
      while (publishing && owed <= (IN_FLIGHT - 1) * open) {
        const now = performance.now();
        if (now >= tally.to || publisher.readyState !== WebSocket.OPEN) {
          publishing = false;
          break;
        }
        publisher.send(now.toFixed(3).padStart(MESSAGE.length, "0"));
        published += 1;
        owed += open;
      }
      if (!publishing && owed <= 0) finish();
    };
    for (const client of clients) {
      client.ws.on("message", (data) => {
        const at = performance.now();
        client.received += 1;
        owed -= 1;
        tally.record(parseFloat(String(data)), at);
        publish();
      });
      client.ws.once("close", () => {
        // What a closed client was still owed will never come.
        open -= 1;
        owed -= published - client.received;
        publish();
      });
    }
    publish();
  });
}

async function closeAll(clients: Client[]): Promise<void> {
  const closed = clients.map(({ ws }) =>
    ws.readyState === WebSocket.CLOSED
      ? Promise.resolve()
      : new Promise<void>((resolve) => ws.once("close", () => resolve())),
  );
  for (const { ws } of clients) ws.close(1000);
  await Promise.race([Promise.all(closed), delay(5000, undefined, { ref: false })]);
  for (const { ws } of clients) ws.terminate();
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] as number;
}

function socketsPerProcess(clients: Client[]): number[] {
  const counts = new Map<number, number>();
  for (const { pid } of clients) if (pid !== null) counts.set(pid, (counts.get(pid) ?? 0) + 1);
  return [...counts.values()].sort((a, b) => b - a);
}

/** A flag's number: at least `least`, and whole when `whole`; the run stops otherwise. */
function numberFlag(name: string, text: string | undefined, least: number, whole: boolean): number {
  const value = Number(text);
  if (text === undefined || !(value >= least) || (whole && !Number.isInteger(value))) {
    console.error(`ws-load: --${name} must be a ${whole ? "whole " : ""}number ≥ ${least}`);
    process.exit(2);
  }
  return value;
}

const { values } = parseArgs({
  options: {
    mode: { type: "string" },
    url: { type: "string" },
    clients: { type: "string" },
    seconds: { type: "string" },
    warmup: { type: "string", default: "0" },
  },
});
const mode = values.mode;
if ((mode !== "echo" && mode !== "broadcast") || values.url === undefined) {
  console.error("ws-load: --mode echo|broadcast and --url ws://… are required");
  process.exit(2);
}
const clientCount = numberFlag("clients", values.clients, 1, true);
const seconds = numberFlag("seconds", values.seconds, 0.1, false);
const warmup = numberFlag("warmup", values.warmup, 0, false);

let clients: Client[];
try {
  clients = await connectAll(values.url, clientCount, mode === "broadcast");
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  const hint = message.includes("EMFILE")
    ? ` (too many open files: raise the limit, ulimit -n, above ${clientCount})`
    : "";
  console.error(`ws-load: connecting ${clientCount} clients to ${values.url}: ${message}${hint}`);
  process.exit(1);
}

const started = performance.now();
const tally = new Tally(started + warmup * 1000, started + (warmup + seconds) * 1000);
let lost = 0;
if (mode === "echo") await Promise.all(clients.map((client) => echo(client, tally)));
else lost = await broadcast(clients, tally);
closing = true;
await closeAll(clients);

const sorted = Float64Array.from(tally.latencies).sort();
const result: SocketLoadResult = {
  messagesPerSecond: tally.count / seconds,
  p50: percentile(sorted, 0.5),
  p99: percentile(sorted, 0.99),
  errors: clients.reduce((sum, client) => sum + client.errors, tally.errors + lost),
  socketsPerProcess: socketsPerProcess(clients),
};
process.stdout.write(JSON.stringify(result) + "\n");

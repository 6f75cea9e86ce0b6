// The load client of `npm run soak` (bench/soak.ts): a process of its own, as wrk is for the
// benchmark, driving the soak app (bench/apps/soak.ts) with a steady mix until it is told to stop.
//
//   node --import tsx bench/lib/soak-load.ts --url http://127.0.0.1:8751 \
//     [--loop 16] [--thread 4] [--upload 2] [--ws 4] [--report-ms 2000]
//
// --loop N     connections on the event-loop routes (/, /json, /user/<id>, /io, /session, /to-thread)
// --thread N   connections on the thread routes (/t/hello, /t/cpu, /t/block, /t/stream)
// --upload N   connections posting bodies under 1 MiB: multipart files, urlencoded forms and a
//              streamed upload, each answer checked against the sizes sent
// --ws N       WebSocket clients, each in a cycle: connect (to /ws/echo or a random room of
//              /ws/room/<name>), echo 5–50 text and binary messages of 16 B–64 KiB one at a time,
//              then close (one in ten is cut without a close frame instead), and again
//
// Every connection sends its requests one after the other, and closes (Connection: close) after a
// random 50–500 of them, so connections come and go as well as requests. Every HTTP request that
// does not answer 200 with the expected body, and every WebSocket error, unexpected close or wrong
// echo counts as an error of its kind; nothing is retried.
//
// Output: one line of JSON every --report-ms (a SoakLoadReport, totals so far). It stops on
// SIGTERM, SIGINT or when its stdin closes (the soak tool went away): it lets what is in flight
// finish (10 s at most), prints the last line and exits.
import { randomBytes, randomInt } from "node:crypto";
import { Agent, request, type IncomingHttpHeaders } from "node:http";
import { parseArgs } from "node:util";
import { WebSocket } from "ws";

/** What the load prints: totals since it started. */
export interface SoakLoadReport {
  /** Milliseconds since the load started. */
  elapsedMs: number;
  /** Answers that were right, by route (or `ws /ws/echo` etc.: messages echoed). */
  requests: Record<string, number>;
  /** Failures by kind: `GET /t/cpu: HTTP 503`, `ws /ws/echo: ECONNRESET`, … */
  errors: Record<string, number>;
  /** WebSocket sessions opened and closed in full. */
  wsSessions: number;
  /**
   * Times this process's own event loop stood still for more than STALL_MS (the machine busy
   * elsewhere): seconds since the start, and for how long (ms). Requests on connections left
   * idle that long may find them closed by the server's keep-alive timeout (ECONNRESET).
   */
  stalls: [atS: number, ms: number][];
  /** Whether this is the last line (the load has stopped). */
  final: boolean;
}

/** An answer longer than this is cut and counted as wrong. */
const MAX_ANSWER = 4 << 20;
const REQUEST_TIMEOUT_MS = 30_000;
/** A pause of this process's event loop (ms) worth reporting; see SoakLoadReport.stalls. */
const STALL_MS = 1000;
const WS_TIMEOUT_MS = 30_000;
/** Random bytes the bodies and messages are cut from. */
const NOISE = randomBytes(1 << 20);
const ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const TEXT = Array.from({ length: 1 << 18 }, (_, i) => ALNUM[(i * 7919) % ALNUM.length]).join("");

const requests: Record<string, number> = {};
const errors: Record<string, number> = {};
let wsSessions = 0;
const stalls: [number, number][] = [];
let stopping = false;
const started = performance.now();

function count(table: Record<string, number>, key: string): void {
  table[key] = (table[key] ?? 0) + 1;
}

interface Call {
  /** How it is counted: `GET /user/<id>`. */
  label: string;
  method: "GET" | "POST";
  path: string;
  headers?: Record<string, string | number>;
  body?: Buffer;
  /** Why the answer is wrong, or `null` when it is right. */
  check?(body: Buffer, headers: IncomingHttpHeaders): string | null;
}

function jsonCheck(expected: Record<string, number>): (body: Buffer) => string | null {
  return (body) => {
    let got: Record<string, unknown>;
    try {
      got = JSON.parse(body.toString()) as Record<string, unknown>;
    } catch {
      return "wrong body (not JSON)";
    }
    for (const [key, value] of Object.entries(expected)) {
      if (got[key] !== value) return `wrong body (${key} ${String(got[key])}, sent ${value})`;
    }
    return null;
  };
}

const STREAM_LENGTH = Array.from(
  { length: 16 },
  (_, i) => `chunk ${i} ${"y".repeat(1000)}\n`.length,
).reduce((a, b) => a + b, 0);

const LOOP_CALLS: (() => Call)[] = [
  () => ({ label: "GET /", method: "GET", path: "/" }),
  () => ({ label: "GET /json", method: "GET", path: "/json" }),
  () => {
    const id = randomInt(1_000_000);
    return {
      label: "GET /user/<id>",
      method: "GET",
      path: `/user/${id}?x=${TEXT.slice(id % 1000, (id % 1000) + 20)}`,
      check: jsonCheck({ id }),
    };
  },
  () => ({ label: "GET /io", method: "GET", path: "/io" }),
  () => ({
    label: "GET /session",
    method: "GET",
    path: "/session",
    check: jsonCheck({ visits: 1 }),
  }),
  () => ({
    label: "GET /to-thread",
    method: "GET",
    path: "/to-thread",
    check: jsonCheck({ sum: 42 }),
  }),
];

const THREAD_CALLS: (() => Call)[] = [
  () => ({ label: "GET /t/hello", method: "GET", path: "/t/hello" }),
  () => ({ label: "GET /t/cpu", method: "GET", path: "/t/cpu" }),
  () => ({ label: "GET /t/block", method: "GET", path: "/t/block" }),
  () => ({
    label: "GET /t/stream",
    method: "GET",
    path: "/t/stream",
    check: (body) => (body.length === STREAM_LENGTH ? null : `wrong body (${body.length} bytes)`),
  }),
];

function noise(size: number): Buffer {
  const from = randomInt(NOISE.length - size + 1);
  return NOISE.subarray(from, from + size);
}

function multipart(): Call {
  const boundary = `soak${randomBytes(8).toString("hex")}`;
  const files = randomInt(1, 4);
  let bytes = 0;
  const parts: Buffer[] = [];
  for (let i = 0; i < files; i++) {
    const file = noise(randomInt(1, Math.floor((768 << 10) / files)));
    bytes += file.length;
    parts.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="file${i}"; filename="f${i}.bin"\r\n` +
          "Content-Type: application/octet-stream\r\n\r\n",
      ),
      file,
      Buffer.from("\r\n"),
    );
  }
  parts.push(
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nsoak\r\n`),
    Buffer.from(`--${boundary}--\r\n`),
  );
  return {
    label: "POST /upload (multipart)",
    method: "POST",
    path: "/upload",
    headers: { "content-type": `multipart/form-data; boundary=${boundary}` },
    body: Buffer.concat(parts),
    check: jsonCheck({ files, bytes }),
  };
}

function urlencoded(): Call {
  const fields = randomInt(1, 50);
  const pairs: string[] = [];
  let chars = 0;
  for (let i = 0; i < fields; i++) {
    const size = randomInt(0, Math.floor((256 << 10) / fields));
    const from = randomInt(TEXT.length - size + 1);
    pairs.push(`f${i}=${TEXT.slice(from, from + size)}`);
    chars += size;
  }
  return {
    label: "POST /form (urlencoded)",
    method: "POST",
    path: "/form",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: Buffer.from(pairs.join("&")),
    check: jsonCheck({ fields, chars }),
  };
}

function streamed(): Call {
  const body = noise(randomInt(1, 768 << 10));
  return {
    label: "POST /upload-stream",
    method: "POST",
    path: "/upload-stream",
    headers: { "content-type": "application/octet-stream" },
    body,
    check: jsonCheck({ bytes: body.length }),
  };
}

const UPLOAD_CALLS: (() => Call)[] = [multipart, urlencoded, streamed];

/** Sends `call`; resolves once it is counted, as an answer or as an error. */
function send(agent: Agent, host: string, port: number, call: Call, close: boolean): Promise<void> {
  return new Promise((resolve) => {
    let done = false;
    const fail = (kind: string): void => {
      if (done) return;
      done = true;
      count(errors, `${call.label}: ${kind}`);
      resolve();
    };
    const headers: Record<string, string | number> = { ...call.headers };
    if (call.body !== undefined) headers["content-length"] = call.body.length;
    if (close) headers["connection"] = "close";
    const req = request(
      { host, port, agent, method: call.method, path: call.path, headers },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size <= MAX_ANSWER) chunks.push(chunk);
        });
        res.on("error", (error: NodeJS.ErrnoException) => fail(error.code ?? error.message));
        res.on("end", () => {
          if (res.statusCode !== 200) return fail(`HTTP ${res.statusCode}`);
          const wrong =
            size > MAX_ANSWER
              ? "answer too long"
              : call.check?.(Buffer.concat(chunks), res.headers);
          if (wrong != null) return fail(wrong);
          done = true;
          count(requests, call.label);
          resolve();
        });
      },
    );
    req.setTimeout(REQUEST_TIMEOUT_MS, () => {
      fail(`no answer within ${REQUEST_TIMEOUT_MS / 1000} s`);
      req.destroy();
    });
    req.on("error", (error: NodeJS.ErrnoException) => fail(error.code ?? error.message));
    req.end(call.body);
  });
}

/** One connection's worth of requests, one after another, until the load stops. */
async function httpUser(agent: Agent, url: URL, calls: (() => Call)[]): Promise<void> {
  const port = Number(url.port);
  let left = randomInt(50, 501);
  while (!stopping) {
    left -= 1;
    const call = (calls[randomInt(calls.length)] as () => Call)();
    await send(agent, url.hostname, port, call, left === 0);
    if (left === 0) left = randomInt(50, 501);
  }
}

function wsMessage(): string | Buffer {
  const size = randomInt(16, 64 << 10);
  if (randomInt(2) === 0) return noise(size);
  const from = randomInt(TEXT.length - size + 1);
  return TEXT.slice(from, from + size);
}

function sameMessage(sent: string | Buffer, data: Buffer, isBinary: boolean): boolean {
  return typeof sent === "string"
    ? !isBinary && data.toString() === sent
    : isBinary && sent.equals(data);
}

/** One WebSocket session: connect, echo some messages, close. Resolves when it is over. */
function wsSession(base: string, path: string): Promise<void> {
  const label = `ws ${path.startsWith("/ws/room/") ? "/ws/room/<name>" : path}`;
  return new Promise((resolve) => {
    const ws = new WebSocket(base + path, { perMessageDeflate: false });
    let left = randomInt(5, 51);
    let sent: string | Buffer | null = null;
    let over = false;
    let timer = setTimeout(() => end(`no echo within ${WS_TIMEOUT_MS / 1000} s`), WS_TIMEOUT_MS);
    const end = (error?: string): void => {
      if (over) return;
      over = true;
      clearTimeout(timer);
      if (error !== undefined) {
        count(errors, `${label}: ${error}`);
        ws.terminate();
      }
      resolve();
    };
    const next = (): void => {
      clearTimeout(timer);
      if (left === 0 || stopping) {
        // Most sessions end with a close handshake; some are cut, as a dropped client would be.
        if (randomInt(10) === 0) {
          ws.terminate();
          wsSessions += 1;
          return end();
        }
        timer = setTimeout(() => end(`no close within ${WS_TIMEOUT_MS / 1000} s`), WS_TIMEOUT_MS);
        ws.close(1000);
        return;
      }
      left -= 1;
      sent = wsMessage();
      timer = setTimeout(() => end(`no echo within ${WS_TIMEOUT_MS / 1000} s`), WS_TIMEOUT_MS);
      ws.send(sent);
    };
    ws.on("open", next);
    ws.on("message", (data: Buffer, isBinary) => {
      if (sent === null || !sameMessage(sent, data, isBinary)) {
        // A room also carries the other clients' messages, at any time (while this one closes
        // too); an echo must be the message sent, and only then.
        if (label === "ws /ws/echo")
          end(sent === null ? "a message nobody asked for" : "wrong echo");
        return;
      }
      sent = null;
      count(requests, label);
      next();
    });
    ws.on("unexpected-response", (_req, res) => end(`HTTP ${res.statusCode} to the upgrade`));
    ws.on("error", (error: NodeJS.ErrnoException) => end(error.code ?? error.message));
    ws.on("close", (code) => {
      if (over) return;
      if (code !== 1000) return end(`closed by the server with ${code}`);
      wsSessions += 1;
      end();
    });
  });
}

async function wsUser(base: string, index: number): Promise<void> {
  while (!stopping) {
    const path = index % 2 === 0 ? "/ws/echo" : `/ws/room/room-${randomInt(1000)}`;
    await wsSession(base, path);
  }
}

function report(final: boolean): void {
  const line: SoakLoadReport = {
    elapsedMs: Math.round(performance.now() - started),
    requests,
    errors,
    wsSessions,
    stalls,
    final,
  };
  process.stdout.write(JSON.stringify(line) + "\n");
}

function whole(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) {
    console.error(`soak-load: --${name} must be a whole number ≥ 0, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return value;
}

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    loop: { type: "string" },
    thread: { type: "string" },
    upload: { type: "string" },
    ws: { type: "string" },
    "report-ms": { type: "string" },
  },
});
if (values.url === undefined) {
  console.error("soak-load: --url http://host:port is required");
  process.exit(2);
}
const url = new URL(values.url);
const wsBase = `ws://${url.host}`;
const users = [
  ...Array.from({ length: whole("loop", values.loop, 16) }, () => LOOP_CALLS),
  ...Array.from({ length: whole("thread", values.thread, 4) }, () => THREAD_CALLS),
  ...Array.from({ length: whole("upload", values.upload, 2) }, () => UPLOAD_CALLS),
];
const everyMs = whole("report-ms", values["report-ms"], 2000);

// One agent per kind of load, each keeping as many connections as it has users.
const agents = new Map<(() => Call)[], Agent>();
const running: Promise<void>[] = [];
for (const calls of users) {
  let agent = agents.get(calls);
  if (agent === undefined) {
    agent = new Agent({ keepAlive: true, maxSockets: users.filter((c) => c === calls).length });
    agents.set(calls, agent);
  }
  running.push(httpUser(agent, url, calls));
}
for (let i = 0; i < whole("ws", values.ws, 4); i++) running.push(wsUser(wsBase, i));

const ticker = setInterval(() => report(false), everyMs);
let tick = performance.now();
const watch = setInterval(() => {
  const now = performance.now();
  if (now - tick > STALL_MS + 100)
    stalls.push([Math.round((tick - started) / 1000), Math.round(now - tick - 100)]);
  tick = now;
}, 100);
let stopped = false;
const stop = async (): Promise<void> => {
  if (stopped) return;
  stopped = true;
  stopping = true;
  clearInterval(ticker);
  clearInterval(watch);
  await Promise.race([Promise.all(running), new Promise((resolve) => setTimeout(resolve, 10_000))]);
  report(true);
  for (const agent of agents.values()) agent.destroy();
  process.exit(0);
};
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());
process.stdin.on("end", () => void stop());
process.stdin.resume();

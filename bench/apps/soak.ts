// The soak app (`npm run soak`, bench/soak.ts): a little of every path a request can take through
// `carafe serve` — the event loop, pool threads, quick and slow thread routes, streamed answers,
// multipart and urlencoded bodies, a streamed upload, toThread, sessions and hooks, WebSocket echo
// and rooms — so that memory held by any of them shows as growth over a long run.
//
// `GET /_soak/memory` reports the worker that answers it: its pid, its main thread's
// process.memoryUsage() and V8 heap, and the heap of each pool thread. A pool thread cannot be
// asked directly (a request lands on whichever thread is free), so each one writes its own V8
// figures into a slot of a shared array every second, and the route reads the slots.
// `POST /_soak/snapshot?label=…` writes a heap snapshot of the main thread into
// $SOAK_SNAPSHOT_DIR (and answers 404 when it is not set).
import { createHash } from "node:crypto";
import { join } from "node:path";
import { getHeapSpaceStatistics, getHeapStatistics, writeHeapSnapshot } from "node:v8";
import { isMainThread, threadId } from "node:worker_threads";
import { Carafe, broadcast, g, json, session } from "carafe";
import { add } from "./thread-task.ts";
import { block } from "./work.ts";

export const app = new Carafe({ secretKey: "soak", maxContentLength: 2 * 1024 * 1024 });

// ---- what each pool thread reports about itself

/** The figures each thread writes into its slot, in this order. */
const THREAD_FIELDS = [
  "threadId",
  "at",
  "heapUsed",
  "heapTotal",
  "newSpace",
  "external",
  "malloced",
] as const;
const SLOTS = 64;
/** A slot not written for this long (ms) belongs to a thread that is gone. */
const STALE_MS = 5000;

const slots = app.shared.array("soak.threads", Float64Array, SLOTS * THREAD_FIELDS.length);
const nextSlot = app.shared.counter("soak.next-slot");

/**
 * Bytes V8 holds for its young generation. It grows under a high allocation rate, up to twice
 * --max-semi-space-size (16 MiB on 64-bit Node 20), and is part of heapTotal, not of heapUsed.
 */
function newSpaceSize(): number {
  return (
    getHeapSpaceStatistics().find((space) => space.space_name === "new_space")?.space_size ?? 0
  );
}

function writeThreadFigures(slot: number): void {
  const heap = getHeapStatistics();
  const figures = [
    threadId,
    Date.now(),
    heap.used_heap_size,
    heap.total_heap_size,
    newSpaceSize(),
    heap.external_memory,
    heap.malloced_memory,
  ];
  slots.set(figures, slot * THREAD_FIELDS.length);
}

if (!isMainThread) {
  // A replaced thread takes a new slot; past SLOTS threads the newest share the last one.
  const slot = Math.min(nextSlot.increment() - 1, SLOTS - 1);
  writeThreadFigures(slot);
  setInterval(() => writeThreadFigures(slot), 1000).unref();
}

function threadFigures(): Record<(typeof THREAD_FIELDS)[number], number>[] {
  const now = Date.now();
  const threads = [];
  for (let slot = 0; slot < Math.min(nextSlot.value, SLOTS); slot++) {
    const values = slots.subarray(slot * THREAD_FIELDS.length, (slot + 1) * THREAD_FIELDS.length);
    const figures = Object.fromEntries(THREAD_FIELDS.map((name, i) => [name, values[i] ?? 0]));
    if (now - (figures.at ?? 0) < STALE_MS)
      threads.push(figures as Record<(typeof THREAD_FIELDS)[number], number>);
  }
  return threads;
}

app.get("/_soak/memory", { thread: false }, () => {
  const heap = getHeapStatistics();
  return {
    pid: process.pid,
    main: {
      ...process.memoryUsage(),
      malloced: heap.malloced_memory,
      newSpace: newSpaceSize(),
      nativeContexts: heap.number_of_native_contexts,
      detachedContexts: heap.number_of_detached_contexts,
    },
    threads: threadFigures(),
  };
});

app.post("/_soak/snapshot", { thread: false }, (req) => {
  const dir = process.env["SOAK_SNAPSHOT_DIR"];
  if (dir === undefined) return json({ error: "SOAK_SNAPSHOT_DIR is not set" }, 404);
  const label = (req.args.get("label") ?? "snapshot").replace(/[^\w-]/g, "_");
  const path = writeHeapSnapshot(join(dir, `worker-${process.pid}-${label}.heapsnapshot`));
  return { pid: process.pid, path };
});

// ---- the load

app.beforeRequest(() => {
  g.started = performance.now();
});

app.afterRequest((res) => {
  res.headers.set("x-soak-ms", (performance.now() - (g.started as number)).toFixed(2));
  return res;
});

// On the event loop, whatever --threads says.
app.get("/", { thread: false }, () => "Hello, World!");
app.get("/json", { thread: false }, () => ({ message: "Hello, World!", at: Date.now() }));
app.get("/user/<int:id>", { thread: false }, (req) => ({
  id: req.params.id,
  x: req.args.get("x"),
}));
app.get("/io", async () => {
  await new Promise((resolve) => setTimeout(resolve, 5));
  return "waited";
});
app.get("/session", { thread: false }, () => {
  const visits = Number(session.get("visits") ?? 0) + 1;
  session.set("visits", visits);
  return { visits };
});
app.get("/to-thread", async () => ({ sum: await add(20, 22) }));

// On a pool thread: plain functions with --threads N, and the routes marked thread: true.
app.get("/t/hello", () => "Hello from a thread");
app.get("/t/cpu", { thread: true }, () =>
  createHash("sha256").update("x".repeat(200_000)).digest("hex"),
);
app.get("/t/block", { thread: true }, block);
app.get("/t/stream", { thread: true }, function* () {
  for (let i = 0; i < 16; i++) yield `chunk ${i} ${"y".repeat(1000)}\n`;
});

// Bodies: the client checks the sizes it gets back against what it sent.
app.post("/upload", (req) => {
  let bytes = 0;
  for (const [, file] of req.files) bytes += file.size;
  return { files: req.files.size, bytes, fields: req.form.size };
});
app.post("/form", { thread: false }, (req) => {
  let chars = 0;
  for (const [, value] of req.form) chars += value.length;
  return { fields: req.form.size, chars };
});
app.post("/upload-stream", { streamBody: true }, async (req) => {
  let bytes = 0;
  for await (const chunk of req.stream()) bytes += chunk.byteLength;
  return { bytes };
});

// WebSockets: an echo, and rooms that come and go (each client picks one of many at random).
app.websocket("/ws/echo", async (ws) => {
  for await (const message of ws) await ws.send(message);
});
app.websocket("/ws/room/<name>", async (ws, req) => {
  ws.join(req.params.name);
  for await (const message of ws) broadcast(req.params.name, message);
});

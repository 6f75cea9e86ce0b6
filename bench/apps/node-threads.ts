// The yardstick for Carafe's `--threads N` on tiny routes: raw node:http that hands every
// request to one of two worker threads (in turn) and writes back what the thread answers, one
// postMessage per request each way. It is as little as a server can do per request to run each
// handler off the event loop; sending several requests or answers in one message, as Carafe's
// pool does, is the way below it.
import { createServer, type ServerResponse } from "node:http";
import { Worker, isMainThread, parentPort } from "node:worker_threads";
import { HELLO, JSON_BODY, block, cpu, io, portFromEnv, user } from "./work.ts";

interface Job {
  id: number;
  method: string;
  url: string;
  body: string;
}

interface Answer {
  id: number;
  status: number;
  type: string;
  body: string;
}

const text = "text/plain; charset=utf-8";
const json = "application/json";

/** The same routes as node-http.ts, computed on a thread from plain data. */
function answer(job: Job): Answer | Promise<Answer> {
  const reply = (type: string, body: string, status = 200): Answer => ({
    id: job.id,
    status,
    type,
    body,
  });
  const url = new URL(job.url, "http://localhost");
  const path = url.pathname;
  if (job.method === "GET" && path === "/") return reply(text, HELLO);
  if (job.method === "GET" && path === "/json") return reply(json, JSON.stringify(JSON_BODY));
  if (job.method === "GET" && path.startsWith("/user/")) {
    const id = decodeURIComponent(path.slice(6));
    return reply(json, JSON.stringify(user(id, url.searchParams.get("x"))));
  }
  if (job.method === "POST" && path === "/echo") {
    try {
      return reply(json, JSON.stringify(JSON.parse(job.body)));
    } catch {
      return reply(text, "", 400);
    }
  }
  if (job.method === "GET" && path === "/cpu") return reply(text, cpu());
  if (job.method === "GET" && path === "/block") return reply(text, block());
  if (job.method === "GET" && path === "/io") return io().then((body) => reply(text, body));
  return reply(text, "", 404);
}

if (isMainThread) {
  const threads = [0, 1].map(() => new Worker(new URL(import.meta.url)));
  const waiting = new Map<number, ServerResponse>();
  for (const thread of threads) {
    thread.on("message", (done: Answer) => {
      const res = waiting.get(done.id);
      if (res === undefined) return;
      waiting.delete(done.id);
      res.writeHead(done.status, {
        "Content-Type": done.type,
        "Content-Length": Buffer.byteLength(done.body),
      });
      res.end(done.body);
    });
  }
  let next = 0;
  createServer((req, res) => {
    const id = next;
    next += 1;
    waiting.set(id, res);
    const post = (body: string): void =>
      (threads[id % threads.length] as Worker).postMessage({
        id,
        method: req.method ?? "GET",
        url: req.url ?? "/",
        body,
      } satisfies Job);
    if (req.method !== "POST") return post("");
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => post(Buffer.concat(chunks).toString("utf8")));
  }).listen(portFromEnv(), "127.0.0.1");
} else {
  const port = parentPort as NonNullable<typeof parentPort>;
  port.on("message", (job: Job) => {
    const done = answer(job);
    if (done instanceof Promise) void done.then((each) => port.postMessage(each));
    else port.postMessage(done);
  });
}

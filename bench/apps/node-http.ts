// The benchmark app on raw node:http: the floor every framework adds its cost to.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { HELLO, JSON_BODY, block, cpu, io, portFromEnv, user } from "./work.ts";

function send(res: ServerResponse, type: string, body: string): void {
  res.writeHead(200, { "Content-Type": type, "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

const text = "text/plain; charset=utf-8";
const json = "application/json";

export function handler(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? "/", "http://localhost");
  const path = url.pathname;
  if (req.method === "GET" && path === "/") return send(res, text, HELLO);
  if (req.method === "GET" && path === "/json") return send(res, json, JSON.stringify(JSON_BODY));
  if (req.method === "GET" && path.startsWith("/user/")) {
    const id = decodeURIComponent(path.slice(6));
    return send(res, json, JSON.stringify(user(id, url.searchParams.get("x"))));
  }
  if (req.method === "POST" && path === "/echo") {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      try {
        send(res, json, JSON.stringify(JSON.parse(Buffer.concat(chunks).toString("utf8"))));
      } catch {
        res.writeHead(400).end();
      }
    });
    return;
  }
  if (req.method === "GET" && path === "/cpu") return send(res, text, cpu());
  if (req.method === "GET" && path === "/block") return send(res, text, block());
  if (req.method === "GET" && path === "/io") {
    void io().then((body) => send(res, text, body));
    return;
  }
  res.writeHead(404).end();
}

if (process.env["BENCH_ROLE"] !== "library") {
  createServer(handler).listen(portFromEnv(), "127.0.0.1");
}

// The raw node:http app in 2 node:cluster processes: the floor for `carafe serve --workers 2`.
import cluster from "node:cluster";
import { createServer } from "node:http";
import { portFromEnv } from "./work.ts";

process.env["BENCH_ROLE"] = "library";
const { handler } = await import("./node-http.ts");

if (cluster.isPrimary) {
  for (let i = 0; i < 2; i++) cluster.fork();
  process.on("SIGTERM", () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill();
    process.exit(0);
  });
} else {
  createServer(handler).listen(portFromEnv(), "127.0.0.1");
}

// A redis-server of its own for a test, on a free port, with nothing saved to disk.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";

/** `false` when redis-server can run here, otherwise why not (a `skip` reason). */
export const redisMissing: string | false =
  spawnSync("redis-server", ["--version"]).status === 0
    ? false
    : "redis-server is not installed (apt-get install redis-server)";

/**
 * Starts redis-server on `port`, listening on `hosts`, and resolves once it accepts connections.
 * The caller kills the process it returns.
 */
export async function startRedis(
  port: number,
  hosts: readonly string[] = ["127.0.0.1"],
): Promise<ChildProcess> {
  const redis = spawn(
    "redis-server",
    // Reached from other network namespaces too, without a password: a server of the test's own.
    ["--port", String(port), "--bind", ...hosts, "--protected-mode", "no"].concat([
      "--save",
      "",
      "--appendonly",
      "no",
    ]),
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let output = "";
  redis.stdout.setEncoding("utf8");
  const exited = once(redis, "exit").then(([code]) => {
    throw new Error(`redis-server exited (${String(code)}) before it was ready:\n${output}`);
  });
  while (!output.includes("Ready to accept connections")) {
    const [text] = (await Promise.race([once(redis.stdout, "data"), exited])) as [string];
    output += text;
  }
  exited.catch(() => {});
  return redis;
}

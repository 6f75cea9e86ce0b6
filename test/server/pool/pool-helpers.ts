// Helpers of the thread-pool tests: a pool on a fixture app whose logs a test can wait for,
// closed after the file's tests, and request records.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { after } from "node:test";
import type { RequestRecord, ResponseRecord } from "carafe";
import { ThreadPool, type ThreadPoolOptions } from "../../../src/server/pool/index.ts";

export const APP = fileURLToPath(new URL("../../fixtures/pool/app.ts", import.meta.url));

export interface Logged {
  level: "info" | "warn" | "error";
  message: string;
}

/** Starts a pool on the fixture app (2 threads, no timeout) that keeps what it logs. */
export function startPool(
  options: Partial<ThreadPoolOptions> = {},
): Promise<ThreadPool> & { logs: Logged[]; logged: (pattern: RegExp) => Promise<Logged> } {
  const logs: Logged[] = [];
  const waiting: { pattern: RegExp; found: (log: Logged) => void }[] = [];
  const log = (level: Logged["level"], message: string): void => {
    const entry = { level, message };
    logs.push(entry);
    for (const waiter of waiting.filter((each) => each.pattern.test(message))) {
      waiting.splice(waiting.indexOf(waiter), 1);
      waiter.found(entry);
    }
  };
  /** The first log line that matches `pattern`, once there is one. */
  const logged = (pattern: RegExp): Promise<Logged> => {
    const found = logs.find((entry) => pattern.test(entry.message));
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve) => waiting.push({ pattern, found: resolve }));
  };
  const started = ThreadPool.start({
    appSpec: APP,
    size: 2,
    timeoutMs: 0,
    maxQueue: 100,
    maxRequests: 0,
    maxRequestsJitter: 0,
    logger: {
      info: (message) => log("info", message),
      warn: (message) => log("warn", message),
      error: (message) => log("error", message),
    },
    ...options,
  });
  return Object.assign(started, { logs, logged });
}

const pools: ThreadPool[] = [];
after(() => Promise.all(pools.map((pool) => pool.close(0))));

/** `startPool`, closed once the test file is done. */
export async function pool(options: Partial<ThreadPoolOptions> = {}) {
  const started = startPool(options);
  const ready = await started;
  pools.push(ready);
  return { pool: ready, logs: started.logs, logged: started.logged };
}

export function record(url: string, method = "GET", body: Uint8Array | null = null): RequestRecord {
  return { method, url, headers: {}, body, remoteAddress: "127.0.0.1", scheme: "http" };
}

export function text(response: ResponseRecord): string {
  const body = response.body;
  if (body === null) return "";
  if (typeof body === "string") return body;
  if (body instanceof Uint8Array) return Buffer.from(body).toString("utf8");
  throw new Error("a streamed body; use drain()");
}

/** The thread that answered `response` (200, from a fixture route that names its thread). */
export function threadOf(response: ResponseRecord): number {
  assert.equal(response.status, 200, text(response));
  return (JSON.parse(text(response)) as { threadId: number }).threadId;
}

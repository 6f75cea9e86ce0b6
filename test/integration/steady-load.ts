// A steady stream of requests, as users send them: `concurrency` clients, each sending its next
// request as soon as the last is answered, over kept-alive connections. Every answer that is not a
// 2xx and every connection error counts as a failure.

import { Agent, request } from "node:http";

/** The stream's totals. */
export interface LoadSummary {
  sent: number;
  answered: number;
  /** One line per failed request: its status and the start of its body, or the error. */
  failures: string[];
  /** Answers per host (the `host` of each JSON answer). */
  byHost: Record<string, number>;
}

/** A running stream of requests. */
export interface SteadyLoad {
  /** Resolves once a worker process that `pids` holds has answered a request of the stream. */
  reached(pids: readonly number[]): Promise<void>;
  /** Stops sending and resolves, once the requests in flight are done, with the totals. */
  stop(): Promise<LoadSummary>;
}

/**
 * Starts sending `method` (GET by default) `url`, answered with JSON naming `host` and `pid`,
 * from `concurrency` clients; a POST carries a small body.
 */
export function startSteadyLoad(
  url: string,
  concurrency: number,
  method: "GET" | "POST" = "GET",
): SteadyLoad {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const summary: LoadSummary = { sent: 0, answered: 0, failures: [], byHost: {} };
  const seenPids = new Set<number>();
  const waiters: { pids: readonly number[]; done: () => void }[] = [];
  let stopping = false;

  const answered = (status: number, text: string): void => {
    if (status < 200 || status >= 300) {
      summary.failures.push(`${status} ${text.slice(0, 200)}`);
      return;
    }
    summary.answered += 1;
    const { host, pid } = JSON.parse(text) as { host: string; pid: number };
    summary.byHost[host] = (summary.byHost[host] ?? 0) + 1;
    if (seenPids.has(pid)) return;
    seenPids.add(pid);
    for (const waiter of [...waiters]) {
      if (waiter.pids.includes(pid)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.done();
      }
    }
  };
  const once = (): Promise<void> =>
    new Promise((done) => {
      summary.sent += 1;
      const req = request(url, { agent, method }, (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
        res.on("end", () => {
          answered(res.statusCode ?? 0, text);
          done();
        });
        res.on("error", (error) => {
          summary.failures.push(`response error ${error.message}`);
          done();
        });
      });
      req.on("error", (error: NodeJS.ErrnoException) => {
        summary.failures.push(`error ${error.code ?? error.message}`);
        done();
      });
      req.end(method === "POST" ? "order=1" : undefined);
    });
  const client = async (): Promise<void> => {
    while (!stopping) await once();
  };
  const clients = Array.from({ length: concurrency }, client);

  return {
    reached: (pids) =>
      pids.some((pid) => seenPids.has(pid))
        ? Promise.resolve()
        : new Promise((done) => waiters.push({ pids, done })),
    stop: async () => {
      stopping = true;
      await Promise.all(clients);
      agent.destroy();
      return summary;
    },
  };
}

// The code that runs inside a thread carafe/threading started: one call for a Thread, or calls
// as they come for toThread's own pool. The named shared values of the starting thread arrive
// in workerData (see shared.ts).

import { parentPort, workerData } from "node:worker_threads";
import { executeCall, sendOutcome, type CallOutcome, type ThreadCall } from "./calls.ts";
import { ThreadingError } from "./errors.ts";

/** What the starting thread puts in workerData. */
export type ThreadStart = { mode: "thread"; call: ThreadCall } | { mode: "pool" };

/** Pool messages: a call in, its outcome out. */
export interface PoolRequest {
  id: number;
  call: ThreadCall;
}
export interface PoolReply {
  id: number;
  outcome: CallOutcome;
}

const port = parentPort;
if (port === null) throw new ThreadingError("thread-main runs only inside a worker thread");

function post(outcome: CallOutcome, id?: number): void {
  (port as NonNullable<typeof parentPort>).postMessage(
    id === undefined ? { outcome } : { id, outcome },
  );
}

const start = workerData as ThreadStart;
if (start.mode === "thread") {
  sendOutcome(post, await executeCall(start.call));
} else {
  port.on("message", (request: PoolRequest) => {
    void executeCall(request.call).then((outcome) =>
      sendOutcome((sent) => post(sent, request.id), outcome),
    );
  });
}

// The code that runs inside a thread carafe/threading started: one call for a Thread, or calls
// as they come for toThread's own pool (pool/core.ts), one at a time. The named shared values of
// the starting thread arrive in workerData (see shared.ts).

import { parentPort, workerData } from "node:worker_threads";
import { executeCall, sendOutcome, type CallOutcome, type ThreadCall } from "./calls.ts";
import { ThreadingError } from "./errors.ts";
import { claimToStart, claimsOf } from "./pool/claims.ts";
import type { CallMessage, CoreThreadMessage, PoolThreadData } from "./pool/messages.ts";

/** What the starting thread puts in workerData. */
export type ThreadStart =
  { mode: "thread"; call: ThreadCall } | ({ mode: "pool" } & PoolThreadData);

const port = parentPort;
if (port === null) throw new ThreadingError("thread-main runs only inside a worker thread");

function post(message: CoreThreadMessage | { outcome: CallOutcome }): void {
  (port as NonNullable<typeof parentPort>).postMessage(message);
}

const start = workerData as ThreadStart;
if (start.mode === "thread") {
  sendOutcome((outcome) => post({ outcome }), await executeCall(start.call));
} else {
  const claims = claimsOf(start);
  port.on("message", (message: CallMessage) => {
    // The pool sends a call only to an idle thread: it starts at once (no claim slot).
    claimToStart(claims, undefined, message.id);
    void executeCall(message.call).then((outcome) =>
      sendOutcome((sent) => post({ type: "outcome", id: message.id, outcome: sent }), outcome),
    );
  });
  post({ type: "ready" });
}

// A toThread call as a pool job: it travels as its own `call` message and comes back as its own
// `outcome`, whichever pool runs it (a served app's request pool, or toThread's own). When the
// pool cannot run it, the caller gets an error of carafe/threading, rebuilt on its side by name.

import type { Worker } from "node:worker_threads";
import { unsendable, type CallOutcome, type ErrorInfo, type ThreadCall } from "../calls.ts";
import { PoolJob, type Failure } from "./job.ts";
import type { CallMessage } from "./messages.ts";

const PREFIX = "the thread pool could not run the call";

/** The error a call gets when the pool could not run it (or stopped it). */
export function callFailure(failure: Failure): ErrorInfo {
  const unavailable = (why: string): ErrorInfo => ({
    name: "ThreadingError",
    code: "ERR_POOL_UNAVAILABLE",
    message: `${PREFIX}: ${why}`,
  });
  const died = (why: string): ErrorInfo => ({
    name: "ThreadDiedError",
    code: "ERR_THREAD_DIED",
    message: why,
  });
  switch (failure.kind) {
    case "timeout": {
      const seconds = failure.ms / 1000;
      return {
        name: "ThreadingTimeoutError",
        code: "ERR_THREADING_TIMEOUT",
        message: `${PREFIX}: it ran longer than ${seconds} second${seconds === 1 ? "" : "s"}, the pool's time limit (--timeout), and its thread was stopped`,
      };
    }
    case "died":
      if (!failure.outOfHeap) {
        return died(`the thread running the call exited (code ${failure.exitCode})`);
      }
      return died(
        failure.heapMb > 0
          ? `the thread running the call outgrew its heap bound of ${failure.heapMb} MB`
          : "the thread running the call outgrew V8's heap limit",
      );
    case "unreachable":
      return died(`${PREFIX}: it could not be posted to a thread`);
    case "closing":
      return unavailable("the pool is closing");
    case "full":
      return unavailable(
        `all ${failure.threads} threads are busy and ${failure.waiting} jobs are waiting (--max-queue)`,
      );
    case "stopped":
      return unavailable("its thread was stopped");
    case "lost":
      return unavailable("its thread stopped before starting it, with its transferred arguments");
    case "no-thread":
      return unavailable("no thread can start right now");
  }
}

/** One toThread call waiting for, or running on, a pool thread. */
export class CallJob extends PoolJob {
  readonly rule = null;
  // Cancelling a running call ends its thread: it never waits behind another job.
  readonly mayWait = false;
  readonly name: string;
  /** Settles once, with the call's outcome or the pool's failure. */
  readonly outcome: Promise<CallOutcome>;
  #settle!: (outcome: CallOutcome) => void;
  #settled = false;

  constructor(
    readonly call: ThreadCall,
    readonly transfer: readonly ArrayBuffer[],
  ) {
    super();
    this.name = `toThread(${call.target.name})`;
    this.outcome = new Promise((settle) => (this.#settle = settle));
  }

  /**
   * Posts the call to `worker` now; `false` (and the call settled) when its arguments cannot be
   * cloned: only posting tells, and the thread it was meant for is still free.
   */
  post(worker: Worker): boolean {
    const message: CallMessage = { type: "call", id: this.id, call: this.call };
    try {
      worker.postMessage(message, [...this.transfer]);
    } catch (error) {
      this.settle(unsendable(error));
      return false;
    }
    this.moved = this.transfer.length > 0;
    return true;
  }

  settle(outcome: CallOutcome): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#settle(outcome);
  }

  fail(failure: Failure): void {
    this.settle({ ok: false, error: callFailure(failure) });
  }
}

// A job of a thread pool as the pool's core sees it: what the scheduler reads (its route, whether
// it may wait on a busy thread), its deadline, its id and claim slot on the thread it was last
// sent to, and how it fails when the pool cannot run it. The server's requests and toThread's
// calls are both jobs; each says in its own terms (an error page, a rejected call) what failed.

import type { Job } from "./scheduler.ts";
import type { Watched } from "./deadlines.ts";

/** Why the pool could not run a job, or stopped it. */
export type Failure =
  /** The pool is closing. */
  | { kind: "closing" }
  /** The queue is full (`maxQueue`); `threads` busy, `waiting` jobs wait. */
  | { kind: "full"; threads: number; waiting: number }
  /** Its thread was stopped on purpose before the job could finish. */
  | { kind: "stopped" }
  /** Its thread died while running it; `outOfHeap` when it outgrew `heapMb` (0: V8's limit). */
  | { kind: "died"; outOfHeap: boolean; heapMb: number; exitCode: number }
  /** Its thread died before starting it, and what it carried went with the thread: resend it. */
  | { kind: "lost" }
  /** No thread can start right now (the thread's module fails to load). */
  | { kind: "no-thread" }
  /** It ran past the pool's time limit (`ms`); its thread was stopped. */
  | { kind: "timeout"; ms: number }
  /** It could not be posted to its thread. */
  | { kind: "unreachable" };

/** The base of every job a `PoolCore` runs. */
export abstract class PoolJob implements Job, Watched {
  /**
   * Names it in the messages to and from the thread it was last posted to: a fresh id for each
   * post, so a copy left on a thread by a take-back can never claim the slot of a later copy.
   */
  id = 0;
  /** Its slot in the thread's claims while it is sent ahead; -1 otherwise. */
  slot = -1;
  /** What it carries was transferred to a thread: it cannot be sent to another. */
  moved = false;
  deadline = Infinity;
  overdue: (() => void) | null = null;

  abstract readonly rule: string | null;
  abstract readonly mayWait: boolean;
  /** How the log names it (`GET /path`, `toThread(hash)`). */
  abstract readonly name: string;

  /** Settles the job with `failure`; the pool does not run it (any more). */
  abstract fail(failure: Failure): void;
}

// The messages every pool thread exchanges with its pool, whatever else it runs: the boot
// handshake, and calls (toThread) with their own outcome. A pool's own protocol (the server's
// requests and streamed responses) adds its messages beside these; every message is plain data.

import type { CallOutcome, ThreadCall } from "../calls.ts";
import type { ClaimBuffers } from "./claims.ts";

/** What every pool thread is started with (its `workerData`), beside its pool's own data. */
export interface PoolThreadData extends ClaimBuffers {
  /** The named shared values of the thread that started it (see shared.ts). */
  "carafe.shared": Record<string, unknown>;
}

/** Loop → thread: run `call` (never sent ahead, so no claim slot); answer with `outcome`. */
export type CallMessage = { type: "call"; id: number; call: ThreadCall };

/** Thread → loop. */
export type CoreThreadMessage =
  /** The thread's module is imported; it takes jobs. */
  | { type: "ready" }
  /** The thread's module failed to import; `message` is the module's own error. */
  | { type: "boot-failed"; message: string }
  /** The call of the `call` message `id` is done. */
  | { type: "outcome"; id: number; outcome: CallOutcome };

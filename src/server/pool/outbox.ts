// Design: messages to a pool thread leave together once the loop has handled what woke it
// (setImmediate): one message, one wake-up and one callback per batch instead of per request is
// most of what a thread costs the loop. Order is kept, per thread; a batch of several travels as
// one array. Something that must leave at once (a call, whose posting alone tells whether its
// arguments can be cloned; a request known slow) flushes its thread's batch first.

import type { Worker } from "node:worker_threads";
import type { LoopMessage } from "./wire-protocol.ts";

interface Batch {
  messages: LoopMessage[];
  transfer: ArrayBuffer[];
}

/** The messages waiting to leave for each thread. */
export class Outbox<T extends { readonly worker: Worker; readonly stopping: boolean }> {
  private readonly batches = new Map<T, Batch>();
  private flushing = false;

  /** @param lost a batch could not be posted (not expected: records are plain data). */
  constructor(private readonly lost: (thread: T, error: unknown) => void) {}

  /** Queues `message` for `thread`, with the buffers it transfers. */
  post(thread: T, message: LoopMessage, transfer: readonly ArrayBuffer[] = []): void {
    let batch = this.batches.get(thread);
    if (batch === undefined) {
      batch = { messages: [], transfer: [] };
      this.batches.set(thread, batch);
    }
    batch.messages.push(message);
    for (const buffer of transfer) batch.transfer.push(buffer);
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(this.flushAll);
    }
  }

  /** Sends `thread` what waits for it now. */
  flush(thread: T): void {
    const batch = this.batches.get(thread);
    if (batch === undefined) return;
    this.batches.delete(thread);
    // A stopped thread's jobs were settled or requeued when it stopped.
    if (thread.stopping) return;
    const { messages, transfer } = batch;
    try {
      thread.worker.postMessage(messages.length === 1 ? messages[0] : messages, transfer);
    } catch (error) {
      this.lost(thread, error);
    }
  }

  private readonly flushAll = (): void => {
    this.flushing = false;
    for (const thread of [...this.batches.keys()]) this.flush(thread);
  };
}

// The loop's side of a streamed response coming from a pool thread: chunks arrive as
// messages and are handed to the http loop's writer one at a time; each one taken is
// acknowledged, so the thread never runs more than STREAM_WINDOW chunks ahead of the socket.

import type { BodyChunk, BodyStream } from "../../framework/internal.ts";

/** A streamed response body fed by a thread's `chunk` messages. */
export class IncomingStream implements BodyStream {
  private readonly chunks: BodyChunk[] = [];
  private done = false;
  private error: Error | null = null;
  private wake: (() => void) | null = null;

  constructor(
    private readonly ack: () => void,
    private readonly stop: () => void,
  ) {}

  push(chunk: BodyChunk): void {
    this.chunks.push(chunk);
    this.notify();
  }

  finish(error?: Error): void {
    this.done = true;
    if (error) this.error = error;
    this.notify();
  }

  readonly cancel = (): void => {
    if (this.done) return;
    this.stop();
    this.finish();
  };

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<BodyChunk> {
    for (;;) {
      const chunk = this.chunks.shift();
      if (chunk !== undefined) {
        // The previous chunk was written (the writer asks for the next one only after the
        // socket took it), so the thread may produce one more.
        this.ack();
        yield chunk;
        continue;
      }
      if (this.error) throw this.error;
      if (this.done) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}

// Design: where the access log and the error log write, a standard stream (`-`) or a file
// opened for appending. Files are opened with O_APPEND, so workers sharing one file never
// interleave mid-line.
//
// The access log is batched: its lines gather for at most FLUSH_MS, or until they fill
// BATCH_BYTES, and go out in one write(2): under load a write then carries hundreds of lines,
// where writing each turn of the event loop's cost as much as formatting them. A file is written
// synchronously, as Node writes standard output to a file: an append lands in the page cache
// without waiting on the disk, it costs no hop to libuv's thread pool, and no line ever waits in
// a queue that exiting would drop. The lines still gathering are written when the process
// exits, however it exits short of a kill, so a graceful stop (TERM) loses none.
//
// A failing target must not take the server down: its first error is reported once on stderr
// and later lines are dropped until `reopen()` succeeds. `reopen()` (SIGUSR1, after log
// rotation) writes what is pending to the old file, then opens the path afresh.

import { Buffer } from "node:buffer";
import { closeSync, openSync, writeSync } from "node:fs";
import process from "node:process";
import { ServerError } from "../errors.ts";

/** Thrown when a log file cannot be opened; `code` is stable. */
export class LogTargetError extends ServerError {
  override name = "LogTargetError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_LOG_TARGET", message, options);
  }
}

/** Bytes a batch of lines holds before it is written at once. */
const BATCH_BYTES = 64 * 1024;
/** Most bytes a UTF-16 code unit takes in UTF-8: a line of n units needs at most 3n bytes. */
const UTF8_PER_UNIT = 3;
/** Longest a line waits to be written (ms): never long enough for `tail -f` to notice. */
const FLUSH_MS = 100;

/** Writes all of `bytes` to `fd` (a write to a regular file may take only part of it). */
function writeAll(fd: number, bytes: Uint8Array): void {
  for (let offset = 0; offset < bytes.byteLength;) {
    offset += writeSync(fd, bytes, offset);
  }
}

/** A log target: a standard stream (`-`) or a file opened for appending. */
export class LogSink {
  /** The open file; `null` for a standard stream. */
  #fd: number | null = null;
  #failed = false;
  #closed = false;
  // The batch: lines encoded into one buffer as they come, outside the JavaScript heap, so a
  // batch that waits costs the garbage collector nothing.
  #batch: Buffer | null = null;
  #used = 0;
  #scheduled = false;

  constructor(
    private readonly target: string,
    private readonly standard: "stdout" | "stderr",
    private readonly label: string,
    /** Whether lines may wait to go out together (never the error log's). */
    private readonly batched = false,
  ) {
    if (target === "-") {
      // Without a listener a failed write (EPIPE) would crash the process.
      process[standard].on("error", this.#onStreamError);
    } else {
      this.#fd = this.#open();
    }
    if (batched) process.on("exit", this.#flush);
  }

  /** Opens the file synchronously, so a bad path fails at startup (or at reopen), not on a write. */
  #open(): number {
    try {
      return openSync(this.target, "a");
    } catch (error) {
      const reason = (error as Error).message;
      throw new LogTargetError(`cannot open the ${this.label} '${this.target}': ${reason}`, {
        cause: error,
      });
    }
  }

  readonly #onStreamError = (error: Error): void => this.#fail(error);

  #fail(error: Error): void {
    if (this.#failed) return;
    this.#failed = true;
    // A broken stderr cannot report about itself.
    if (this.target === "-" && this.standard === "stderr") return;
    const where = this.target === "-" ? this.standard : `'${this.target}'`;
    process.stderr.write(
      `carafe: writing the ${this.label} to ${where} failed: ${error.message}; ` +
        "lines are dropped until it is reopened\n",
    );
  }

  /** Writes `bytes` now: to the file, or to the standard stream. */
  #emit(bytes: Uint8Array): void {
    if (this.#failed || this.#closed) return;
    if (this.#fd === null) {
      process[this.standard].write(bytes);
      return;
    }
    try {
      writeAll(this.#fd, bytes);
    } catch (error) {
      this.#fail(error as Error);
    }
  }

  /** Writes `line` (ending in a newline): at once, or with the lines of the next FLUSH_MS. */
  write(line: string): void {
    if (this.#failed || this.#closed) return;
    if (!this.batched) {
      this.#emit(Buffer.from(line));
      return;
    }
    const room = line.length * UTF8_PER_UNIT;
    if (this.#used + room > BATCH_BYTES) {
      this.#flush();
      // A line longer than a whole batch goes out on its own.
      if (room > BATCH_BYTES) {
        this.#emit(Buffer.from(line));
        return;
      }
    }
    this.#batch ??= Buffer.allocUnsafe(BATCH_BYTES);
    this.#used += this.#batch.write(line, this.#used);
    if (!this.#scheduled) {
      this.#scheduled = true;
      // Unreferenced: a process that has nothing else to do exits, writing its lines then.
      setTimeout(this.#flushSoon, FLUSH_MS).unref();
    }
  }

  readonly #flush = (): void => {
    if (this.#used === 0 || this.#batch === null) return;
    const used = this.#used;
    this.#used = 0;
    // A standard stream may keep what it is given until its pipe drains: give it a copy, since
    // the batch's buffer is filled again. A file has taken the bytes when writeSync returns.
    const bytes = this.#batch.subarray(0, used);
    this.#emit(this.#fd === null ? Buffer.from(bytes) : bytes);
  };

  readonly #flushSoon = (): void => {
    this.#scheduled = false;
    this.#flush();
  };

  /** Opens the file again (after rotation moved it); a no-op for a standard stream. */
  reopen(): void {
    if (this.#closed) return;
    // What was logged before the rotation belongs in the old file.
    this.#flush();
    if (this.#fd !== null) {
      let fd: number;
      try {
        fd = this.#open();
      } catch (error) {
        // Keep writing to the open (perhaps renamed) file rather than losing lines.
        process.stderr.write(`carafe: ${(error as Error).message}\n`);
        return;
      }
      try {
        closeSync(this.#fd);
      } catch {
        // The old file's lines were written already; the new file is what matters now.
      }
      this.#fd = fd;
    }
    this.#failed = false;
  }

  /** Writes what is pending and closes the file; a standard stream stays open. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#flush();
    this.#closed = true;
    if (this.batched) process.off("exit", this.#flush);
    if (this.#fd === null) process[this.standard].off("error", this.#onStreamError);
    else {
      try {
        closeSync(this.#fd);
      } catch {
        // Its lines were written (or their failure reported) already: nothing is left to lose.
      }
    }
    return Promise.resolve();
  }
}

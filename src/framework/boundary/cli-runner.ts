// The CLI runner (Flask's `app.test_cli_runner()`, click's CliRunner): runs an app's commands
// in-process, as `carafe --app app.ts NAME ...` would, and keeps what they wrote.

import { AsyncLocalStorage } from "node:async_hooks";
import { Buffer } from "node:buffer";
import process from "node:process";
import type { CommandGroup } from "../app/commands.ts";
import { CarafeError } from "../errors.ts";

/** What `invoke` gives back. */
export interface CliResult {
  /** 0 done, 1 the command failed, 2 the command line was wrong (click's codes). */
  exitCode: number;
  /** Everything written meanwhile, standard output and error interleaved as a terminal shows them. */
  output: string;
  /** What the command threw, when it failed (exit code 1). */
  error?: unknown;
}

// Design: while an invocation runs, `process.stdout.write` and `process.stderr.write` are
// replaced by functions that look up the invocation whose code is writing (an
// AsyncLocalStorage started around it, so awaits and callbacks count) and write to its output;
// writes from anywhere else (the test runner's own reports, concurrent code) pass through.

type Write = typeof process.stdout.write;

/** The output of the invocation whose code runs now. */
const sinks = new AsyncLocalStorage<(text: string) => void>();
/** Invocations running; the streams are restored when none is left. */
let running = 0;
let restore: (() => void) | undefined;

/** Routes `stream`'s writes from inside an invocation to its output; returns the undo. */
function redirect(stream: NodeJS.WriteStream): () => void {
  const original = stream.write;
  const write = function (this: unknown, chunk: unknown, ...rest: unknown[]): boolean {
    const sink = sinks.getStore();
    if (sink === undefined) return Reflect.apply(original, stream, [chunk, ...rest]) as boolean;
    sink(typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8"));
    const done = rest.find((each) => typeof each === "function") as (() => void) | undefined;
    if (done !== undefined) process.nextTick(done);
    return true;
  };
  stream.write = write as Write;
  return () => {
    stream.write = original;
  };
}

/** Runs `fn` with what its code writes to stdout and stderr going to `sink`. */
async function capturing<T>(sink: (text: string) => void, fn: () => Promise<T>): Promise<T> {
  if (running === 0) {
    const undo = [redirect(process.stdout), redirect(process.stderr)];
    restore = () => undo.forEach((each) => each());
  }
  running += 1;
  try {
    return await sinks.run(sink, fn);
  } finally {
    running -= 1;
    if (running === 0) restore?.();
  }
}

/**
 * Runs an app's commands without a terminal.
 *
 * @example
 * const result = await app.testCliRunner().invoke(["init-db"]);
 * assert.equal(result.exitCode, 0);
 * assert.match(result.output, /Initialized/);
 */
export class CliRunner {
  readonly #cli: CommandGroup;

  constructor(cli: CommandGroup) {
    this.#cli = cli;
  }

  /**
   * Runs the command line `args` (`["create-user", "ada", "--admin"]`) and resolves with its
   * exit code and output: what the command writes with `console.log`, `echo` or to
   * `process.stdout`/`stderr`, awaits and callbacks included, is captured (and not shown).
   */
  async invoke(args: readonly string[]): Promise<CliResult> {
    if (!Array.isArray(args) || args.some((arg) => typeof arg !== "string")) {
      throw new CarafeError(
        "ERR_BAD_COMMAND_LINE",
        "invoke(args): args must be an array of strings, e.g. ['init-db', '--force']",
      );
    }
    let output = "";
    const sink = (text: string): void => {
      output += text;
    };
    const { exitCode, error } = await capturing(sink, () =>
      this.#cli.main(args, { out: sink, err: sink, prog: "carafe" }),
    );
    return error === undefined ? { exitCode, output } : { exitCode, output, error };
  }
}

// The slot through which `app.run()` reaches a server without the framework importing one
// (imports point from server to framework, never back). The server layer fills the slot when
// it loads; the slot lives on globalThis so that two copies of Carafe (source and build) agree.

import type { RecordHandler } from "./records.ts";

/** Options of `app.run()`, the development server. */
export interface RunOptions {
  /** Interface to listen on; default `127.0.0.1`. */
  host?: string;
  /** Port to listen on; default `5000`. */
  port?: number;
  /** Debug mode (stack traces in error pages). */
  debug?: boolean;
}

/** Something that can serve an app. */
export type Runner = (
  app: RecordHandler & { config: { debug: boolean } },
  options: RunOptions,
) => Promise<unknown>;

interface RunnerSlot {
  runner?: Runner;
  /** Set by `carafe serve`/`carafe run`: they serve the module themselves, so `app.run()` is a no-op. */
  managed?: boolean;
}

const SLOT = Symbol.for("carafe.runner");

function slot(): RunnerSlot {
  const holder = globalThis as { [SLOT]?: RunnerSlot };
  holder[SLOT] ??= {};
  return holder[SLOT];
}

/** Installs the server that `app.run()` uses. @internal */
export function setRunner(runner: Runner): void {
  slot().runner = runner;
}

/** Marks this process as served by the CLI, so `app.run()` in the app's module does nothing. @internal */
export function setManaged(managed: boolean): void {
  slot().managed = managed;
}

/** The installed runner (or `undefined`) and whether the CLI manages this process. */
export function runnerSlot(): Readonly<RunnerSlot> {
  return slot();
}

// The slot through which `app.run()` reaches a server without the framework importing one
// (imports point from server to framework, never back). The server layer fills the slot when
// it loads; the slot lives on globalThis so that two copies of Carafe (source and build) agree.

import { dirname, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { ServableApp } from "../boundary/servable-app.ts";

/** Options of `app.run()`, the development server. */
export interface RunOptions {
  /** Interface to listen on; default `127.0.0.1`. */
  host?: string;
  /** Port to listen on; default `5000`. */
  port?: number;
  /** Debug mode: stack traces in error pages (for loopback clients) and reload on change. */
  debug?: boolean;
  /** Run synchronous handlers on a pool of worker threads. */
  threaded?: boolean;
  /** Size of the pool when `threaded` (default: the number of cores). */
  threads?: number;
  /**
   * Largest JS heap (MB) of each pool thread, as `carafe serve --thread-max-heap` (default: sized
   * from the machine, 128 to 512; 0 = V8's own limit).
   */
  threadMaxHeap?: number;
  /** Warn when a handler holds the event loop longer than this, in ms (default 100; 0 = off). */
  watchdogMs?: number;
}

/**
 * Something that can serve an app. `runFile` is the module whose code called `app.run()`: pool
 * threads import it to build their own copy of the app.
 */
export type Runner = (
  app: ServableApp,
  options: RunOptions,
  runFile: string | undefined,
) => Promise<unknown>;

interface RunnerSlot {
  /** Every app created in this thread, with the module that created it. */
  apps?: { app: ServableApp; file: string | undefined }[];
  /** Every app whose `run()` was called in this thread, with the module that called it. */
  runs?: { app: ServableApp; file: string | undefined }[];
  runner?: Runner;
  /** Set by `carafe serve`/`carafe run`: they serve the module themselves, so `app.run()` is a no-op. */
  managed?: boolean;
  /** Folders of compiled copies of TypeScript sources, each mirroring the disk below it. */
  compiledRoots?: string[];
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

/** Records an app and the module that created it (so a thread can find an unexported app). @internal */
export function registerApp(app: ServableApp, file: string | undefined): void {
  (slot().apps ??= []).push({ app, file });
}

/** The apps created by the module `file` in this thread, in creation order. */
export function appsCreatedIn(file: string): ServableApp[] {
  return (slot().apps ?? []).filter((entry) => entry.file === file).map((entry) => entry.app);
}

/** Records that the module `file` called `app.run()`. @internal */
export function registerRun(app: ServableApp, file: string | undefined): void {
  (slot().runs ??= []).push({ app, file });
}

/**
 * The apps whose `run()` the module `file` called in this thread, first call first: in a pool
 * thread (or under `carafe serve`), where `run()` does nothing, this is the app the module
 * serves, however it was made (an exported app, a factory's, one imported from elsewhere).
 */
export function appsRunIn(file: string): ServableApp[] {
  return (slot().runs ?? []).filter((entry) => entry.file === file).map((entry) => entry.app);
}

// This file lives in framework/app/: the framework is the folder above.
const FRAMEWORK_DIR = dirname(dirname(fileURLToPath(import.meta.url)));

/**
 * Records a folder whose files are compiled copies of TypeScript sources, placed as the sources
 * are on disk (`<root>/srv/app/db.ts.mjs` for `/srv/app/db.ts`), so that the code in them is
 * known by its source. @internal
 */
export function registerCompiledRoot(root: string): void {
  const roots = (slot().compiledRoots ??= []);
  if (!roots.includes(root)) roots.push(root);
}

/** The source of `file` when it is a compiled copy (see registerCompiledRoot), else `file`. */
function sourceOf(file: string): string {
  const root = slot().compiledRoots?.find((each) => file.startsWith(each + sep));
  if (root === undefined || !file.endsWith(".mjs")) return file;
  const mirrored = file.slice(root.length, -".mjs".length);
  if (sep === "/") return mirrored;
  const [volume, ...rest] = mirrored.split(sep).filter((part) => part !== "");
  return `${volume ?? ""}:${sep}${rest.join(sep)}`;
}

/** The file of the first caller outside Carafe's own code: the module that made the app. */
export function callerFile(): string | undefined {
  const original = Error.prepareStackTrace;
  try {
    Error.prepareStackTrace = (_error, stack) => stack;
    const stack = new Error().stack as unknown as NodeJS.CallSite[];
    for (const site of stack) {
      let file = site.getFileName();
      if (!file || file.startsWith("node:")) continue;
      if (file.startsWith("file:")) file = fileURLToPath(file);
      if (!file.startsWith(FRAMEWORK_DIR)) return sourceOf(file);
    }
  } catch {
    // unknown: the caller decides the fallback
  } finally {
    Error.prepareStackTrace = original;
  }
  return undefined;
}

// Design: TypeScript modules (an app, a carafe.config.ts, a thread's target) import without a
// build step through tsx's loader hooks. Node 20 runs the hooks of every thread that registers
// them on a thread of their own, about 20 MiB each, so tsx is registered only when a TypeScript
// module is about to load: a JavaScript app served from the build never pays for it, in any
// process or pool thread.

import { pathToFileURL } from "node:url";

/** Set on `globalThis` by whoever registered tsx in this thread (also bin/carafe.js and the
 * thread entries, which cannot import this file before tsx is registered). */
const REGISTERED = Symbol.for("carafe.typescript");

const TYPESCRIPT_FILE = /\.[cm]?tsx?$/;

/** Whether a module path names a TypeScript file (`.ts`, `.mts`, `.cts`, `.tsx`). */
export function isTypeScript(file: string): boolean {
  return TYPESCRIPT_FILE.test(file);
}

/** Registers tsx's loader hooks in this thread, once. */
export async function registerTypeScript(): Promise<void> {
  const flags = globalThis as { [REGISTERED]?: boolean };
  if (flags[REGISTERED] === true) return;
  flags[REGISTERED] = true;
  (await import("tsx/esm/api")).register();
  (await import("tsx/cjs/api")).register();
}

/** Imports a module by its file path, registering tsx first when it is TypeScript. */
export async function importFile(file: string): Promise<unknown> {
  if (isTypeScript(file)) await registerTypeScript();
  return import(pathToFileURL(file).href);
}

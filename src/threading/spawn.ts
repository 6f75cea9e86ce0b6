// Starting a worker thread on one of Carafe's thread entries. A worker cannot start from a .ts
// file, so the thread runs a few lines of JavaScript that register tsx first when the entry is
// TypeScript (Carafe from its sources), then import the entry. Code the entry imports later
// registers tsx itself if it is TypeScript (typescript.ts).

import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker, type WorkerOptions } from "node:worker_threads";
import { isTypeScript } from "./typescript.ts";

// It imports node:worker_threads rather than requiring it: a process started with
// --input-type=module passes that on, and the thread then evaluates this as a module.
const BOOT = `
(async () => {
  const { workerData } = await import("node:worker_threads");
  const boot = workerData["carafe.boot"];
  if (boot.typescript) {
    (await import(boot.tsxEsm)).register();
    (await import(boot.tsxCjs)).register();
    globalThis[Symbol.for("carafe.typescript")] = true;
  }
  await import(boot.entry);
})();
`;

const OWN_EXTENSION = extname(fileURLToPath(import.meta.url));

/** The URL of `name` (an entry beside this file), in this file's own flavour (.ts or .js). */
export function entryUrl(name: string, base: string = import.meta.url): string {
  return new URL(`./${name}${OWN_EXTENSION}`, base).href;
}

/**
 * Starts a worker on `entry` with `data` as its workerData; tsx is registered in it first when
 * the entry is TypeScript.
 */
export function spawnThread(
  entry: string,
  data: Record<string, unknown>,
  workerOptions: Omit<WorkerOptions, "eval" | "workerData"> = {},
): Worker {
  const boot = {
    entry,
    typescript: isTypeScript(fileURLToPath(entry)),
    tsxEsm: import.meta.resolve("tsx/esm/api"),
    tsxCjs: import.meta.resolve("tsx/cjs/api"),
  };
  return new Worker(BOOT, {
    ...workerOptions,
    eval: true,
    workerData: { ...data, "carafe.boot": boot },
  });
}

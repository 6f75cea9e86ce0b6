// Loads the app a command names as `MODULE[:EXPORT]`, the way gunicorn loads `module:app`.

import { existsSync, readFileSync } from "node:fs";
import { dirname, extname, join, resolve } from "node:path";
import { appsCreatedIn, setManaged, type ServableApp } from "../../framework/internal.ts";
import { toRecordHandler } from "./fetch-app.ts";
import { importFile } from "../../threading/internal.ts";
import { ServerError } from "../errors.ts";

/** The error `carafe` prints (without a stack) when the app cannot be loaded. */
export class AppLoadError extends ServerError {
  override name = "AppLoadError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_APP_LOAD", message, options);
  }
}

const DEFAULT_EXPORTS = ["app", "application", "default"];

/** Splits `path/to/app.ts:export` into the module path and the export name (if given). */
export function parseAppSpec(spec: string): { modulePath: string; exportName: string | undefined } {
  const colon = spec.lastIndexOf(":");
  // A colon in the first two characters is a Windows drive letter, not an export.
  if (colon > 1 && !spec.slice(colon + 1).includes("/")) {
    return { modulePath: spec.slice(0, colon), exportName: spec.slice(colon + 1) };
  }
  return { modulePath: spec, exportName: undefined };
}

/** Imports the module and returns its app; throws `AppLoadError` with an actionable message. */
export async function loadApp(spec: string): Promise<ServableApp> {
  const { modulePath, exportName } = parseAppSpec(spec);
  const file = resolve(modulePath);
  if (!existsSync(file))
    throw new AppLoadError(`cannot find the app module '${modulePath}' (looked at ${file})`);
  // The module may call app.run() at top level for `tsx app.ts`; under the CLI that is a no-op.
  setManaged(true);
  let module: Record<string, unknown>;
  try {
    module = (await importFile(file)) as Record<string, unknown>;
  } catch (error) {
    const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
    throw new AppLoadError(`importing '${modulePath}' failed:\n${detail}${commonJsHint(file)}`);
  }
  const names = exportName === undefined ? DEFAULT_EXPORTS : [exportName];
  for (const name of names) {
    const app = toRecordHandler(module[name]);
    if (app !== null) return app;
  }
  // An app the module created but did not export (it calls app.run() itself) is still its app.
  if (exportName === undefined) {
    const [created] = appsCreatedIn(file);
    if (created !== undefined) return created;
  }
  const available = Object.keys(module).join(", ") || "none";
  const missing =
    exportName === undefined
      ? `'${modulePath}' exports no app named ${DEFAULT_EXPORTS.join(", ")} (its exports: ${available}); name it as ${modulePath}:EXPORT`
      : `'${modulePath}' has no app (a Carafe app or an object with fetch) exported as '${exportName}' (its exports: ${available})`;
  throw new AppLoadError(missing + commonJsHint(file));
}

/**
 * Why a module may have failed, when Node loads it as CommonJS: a `.ts` or `.js` file whose
 * nearest package.json does not say `"type": "module"` (npm init writes `"commonjs"`). Carafe
 * and its apps are ES modules; loaded as CommonJS, an app gets a second, converted copy of
 * Carafe, and its exports arrive wrapped in `default`.
 */
function commonJsHint(file: string): string {
  const extension = extname(file);
  if (extension !== ".ts" && extension !== ".js" && extension !== ".tsx") return "";
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest)) {
      let type: unknown;
      try {
        type = (JSON.parse(readFileSync(manifest, "utf8")) as { type?: unknown }).type;
      } catch {
        return "";
      }
      if (type === "module") return "";
      return `\n${manifest} does not say "type": "module", so Node loads '${file}' as CommonJS. Carafe apps are ES modules: add "type": "module" to that package.json, or name the file with .mts (.mjs).`;
    }
    if (dirname(dir) === dir) {
      return `\nNo package.json says "type": "module" above '${file}', so Node loads it as CommonJS. Carafe apps are ES modules: add a package.json with "type": "module" beside it, or name the file with .mts (.mjs).`;
    }
  }
}

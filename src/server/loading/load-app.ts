// Loads the app a command names as `MODULE[:EXPORT]`, the way gunicorn loads `module:app`, or
// as `MODULE:factory(args)`, the way Flask calls `app:create_app('dev')`: the arguments are
// literals (strings, numbers, booleans, null), read here and never evaluated. Without an
// export named: the app whose run() the module calls (see app.run()), then Flask's discovery
// (an `app`/`application`/`default` export, the one app the module exports, a `createApp` or
// `makeApp` factory called without arguments), and last an app the module created without
// exporting it. Every worker process and every pool thread loads its app from the same spec.
// How a spec is read and which file its MODULE is: app-spec.ts.

import { existsSync, readFileSync } from "node:fs";
import { dirname, extname, join } from "node:path";
import {
  appsCreatedIn,
  appsRunIn,
  registerCompiledRoot,
  setManaged,
  type ServableApp,
} from "../../framework/internal.ts";
import { importCompiled } from "./compile-app.ts";
import { toRecordHandler } from "./fetch-app.ts";
import { AppLoadError, parseAppSpec, resolveAppModule, type SpecLiteral } from "./app-spec.ts";

export {
  AppLoadError,
  DEFAULT_MODULES,
  MODULE_EXTENSIONS,
  findDefaultModule,
  moduleCandidates,
  parseAppSpec,
  resolveAppModule,
  type AppSpec,
  type SpecLiteral,
} from "./app-spec.ts";

const DEFAULT_EXPORTS = ["app", "application", "default"];
const FACTORIES = ["createApp", "makeApp"];

/** `createApp('dev', 2)` as a spec writes it, for messages. */
function callText(name: string, args: readonly SpecLiteral[]): string {
  return `${name}(${args.map((arg) => (typeof arg === "string" ? `'${arg}'` : String(arg))).join(", ")})`;
}

/** Calls the factory `name` of `modulePath` with `args`; its (awaited) result must be an app. */
async function callFactory(
  factory: unknown,
  name: string,
  args: readonly SpecLiteral[],
  modulePath: string,
  discovered: boolean,
): Promise<ServableApp> {
  const call = callText(name, args);
  if (typeof factory !== "function") {
    throw new AppLoadError(
      `'${modulePath}' exports '${name}', but it is ${factory === undefined ? "missing" : `a ${typeof factory}`}, not a function to call as ${call}`,
    );
  }
  let made: unknown;
  try {
    made = await (factory as (...values: SpecLiteral[]) => unknown)(...args);
  } catch (error) {
    const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
    const hint = discovered
      ? `\nCarafe found the factory '${name}' and called it without arguments; if it needs some, name them: ${modulePath}:${name}('dev')`
      : "";
    throw new AppLoadError(`calling ${call} of '${modulePath}' failed:\n${detail}${hint}`, {
      cause: error,
    });
  }
  const app = toRecordHandler(made);
  if (app === null) {
    throw new AppLoadError(
      `${call} of '${modulePath}' returned ${describe(made)}, not an app (a Carafe app or an object with fetch); return the app it makes`,
    );
  }
  return app;
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === "object") return `an object (${value.constructor?.name ?? "Object"})`;
  return `a ${typeof value}`;
}

/** Imports the module and returns its app; throws `AppLoadError` with an actionable message. */
export async function loadApp(spec: string): Promise<ServableApp> {
  const { modulePath, exportName, args } = parseAppSpec(spec);
  const file = resolveAppModule(modulePath);
  // The module may call app.run() at top level for `tsx app.ts`; under the CLI that is a no-op.
  setManaged(true);
  let module: Record<string, unknown>;
  try {
    module = (await importCompiled(file, registerCompiledRoot)) as Record<string, unknown>;
  } catch (error) {
    const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
    throw new AppLoadError(`importing '${modulePath}' failed:\n${detail}${commonJsHint(file)}`);
  }
  const available = Object.keys(module).join(", ") || "none";
  if (exportName !== undefined) {
    if (args !== undefined) {
      if (!(exportName in module)) {
        throw new AppLoadError(
          `'${modulePath}' has no export named '${exportName}' to call (its exports: ${available})`,
        );
      }
      return callFactory(module[exportName], exportName, args, modulePath, false);
    }
    const named = module[exportName];
    const app = toRecordHandler(named);
    if (app !== null) return app;
    // As Flask does with `app:create_app`, a function named without a call is called.
    if (typeof named === "function") return callFactory(named, exportName, [], modulePath, false);
    throw new AppLoadError(
      `'${modulePath}' has no app (a Carafe app or an object with fetch) exported as '${exportName}' (its exports: ${available})${commonJsHint(file)}`,
    );
  }
  // The app whose run() the module's own code called: what it serves when run as a script,
  // so what a pool thread of `app.run({ threaded: true })` must serve, however it was made.
  const [ran] = appsRunIn(file);
  if (ran !== undefined) return ran;
  for (const name of DEFAULT_EXPORTS) {
    const app = toRecordHandler(module[name]);
    if (app !== null) return app;
  }
  // The one app the module exports under another name, as Flask finds a single app instance.
  const exported = Object.entries(module).filter(([, value]) => toRecordHandler(value) !== null);
  if (exported.length > 1) {
    const names = exported.map(([name]) => name).join(", ");
    throw new AppLoadError(
      `'${modulePath}' exports several apps (${names}); name one, e.g. ${modulePath}:${exported[0]?.[0] ?? "app"}`,
    );
  }
  if (exported.length === 1)
    return toRecordHandler((exported[0] as [string, unknown])[1]) as ServableApp;
  for (const name of FACTORIES) {
    if (typeof module[name] === "function")
      return callFactory(module[name], name, [], modulePath, true);
  }
  // An app the module created but did not export (it calls app.run() itself) is still its app.
  const [created] = appsCreatedIn(file);
  if (created !== undefined) return created;
  throw new AppLoadError(
    `'${modulePath}' exports no app named ${DEFAULT_EXPORTS.join(", ")} and no factory named ${FACTORIES.join(" or ")} (its exports: ${available}); name it as ${modulePath}:EXPORT, or call a factory as ${modulePath}:createApp()${commonJsHint(file)}`,
  );
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

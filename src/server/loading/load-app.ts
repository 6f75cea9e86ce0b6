// Loads the app a command names as `MODULE[:EXPORT]`, the way gunicorn loads `module:app`, or
// as `MODULE:factory(args)`, the way Flask calls `app:create_app('dev')`: the arguments are
// literals (strings, numbers, booleans, null), read here and never evaluated. Without an
// export named: the app whose run() the module calls (see app.run()), then Flask's discovery
// (an `app`/`application`/`default` export, the one app the module exports, a `createApp` or
// `makeApp` factory called without arguments), and last an app the module created without
// exporting it. Every worker process and every pool thread loads its app from the same spec.
// MODULE is a file (`app.ts`, `src/app.ts`) or, as gunicorn and Flask name one, a module name
// without an extension (`app`, `pkg.module`), which resolveAppModule turns into a file.

import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, extname, join, resolve } from "node:path";
import process from "node:process";
import {
  appsCreatedIn,
  appsRunIn,
  setManaged,
  type ServableApp,
} from "../../framework/internal.ts";
import { importApp } from "./compile-app.ts";
import { toRecordHandler } from "./fetch-app.ts";
import { ServerError } from "../errors.ts";

/** The error `carafe` prints (without a stack) when the app cannot be loaded. */
export class AppLoadError extends ServerError {
  override name = "AppLoadError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_APP_LOAD", message, options);
  }
}

const DEFAULT_EXPORTS = ["app", "application", "default"];
const FACTORIES = ["createApp", "makeApp"];

/** A literal argument of a factory call in an app spec. */
export type SpecLiteral = string | number | boolean | null;

/** What an app spec names: the module, the export, and the factory call's arguments if any. */
export interface AppSpec {
  modulePath: string;
  exportName: string | undefined;
  /** The arguments of `export(...)`, or `undefined` when the spec has no call. */
  args: SpecLiteral[] | undefined;
}

/** `name` or `name(...)` after the module's colon. */
const EXPORT_PART = /^([A-Za-z_$][\w$]*)\s*(?:\((.*)\))?\s*$/s;

/**
 * Splits `path/to/app.ts:export` into the module path and the export name (if given), and
 * `app.ts:createApp('dev', 2)` also into the factory's arguments. A malformed call throws an
 * `AppLoadError` naming the spec and what is wrong.
 */
export function parseAppSpec(spec: string): AppSpec {
  // The first colon whose right side is an export (or a call): a colon after one letter and
  // before a slash is a Windows drive letter, and one inside the call's arguments comes later.
  const start = /^[A-Za-z]:[\\/]/.test(spec) ? 2 : 1;
  for (let colon = spec.indexOf(":", start); colon !== -1; colon = spec.indexOf(":", colon + 1)) {
    const rest = spec.slice(colon + 1);
    const match = EXPORT_PART.exec(rest);
    if (match !== null) {
      const [, exportName, argsText] = match;
      return {
        modulePath: spec.slice(0, colon),
        exportName,
        args: argsText === undefined ? undefined : parseArguments(argsText, spec),
      };
    }
    if (/^[A-Za-z_$][\w$]*\s*\(/.test(rest)) {
      throw new AppLoadError(
        `cannot read the app '${spec}': the call after the colon must close with ')', as in app.ts:createApp('dev')`,
      );
    }
  }
  const colon = spec.lastIndexOf(":");
  if (colon >= start && !spec.slice(colon + 1).includes("/")) {
    return { modulePath: spec.slice(0, colon), exportName: spec.slice(colon + 1), args: undefined };
  }
  return { modulePath: spec, exportName: undefined, args: undefined };
}

const ESCAPES: Record<string, string> = {
  n: "\n",
  t: "\t",
  r: "\r",
  b: "\b",
  f: "\f",
  v: "\v",
  "0": "\0",
};

/** Reads the literal arguments of a factory call: `'dev', 3, true, null`. */
function parseArguments(text: string, spec: string): SpecLiteral[] {
  const fail = (problem: string): never => {
    throw new AppLoadError(
      `cannot read the arguments of '${spec}': ${problem}. A factory takes literals only: 'text' or "text", numbers, true, false, null`,
    );
  };
  const args: SpecLiteral[] = [];
  let i = 0;
  const skipSpaces = (): void => {
    while (i < text.length && /\s/.test(text[i] as string)) i += 1;
  };
  skipSpaces();
  while (i < text.length) {
    const char = text[i] as string;
    if (char === "'" || char === '"') {
      let value = "";
      i += 1;
      for (;;) {
        if (i >= text.length) fail(`the string starting ${char} is not closed`);
        const next = text[i] as string;
        i += 1;
        if (next === char) break;
        if (next !== "\\") {
          value += next;
          continue;
        }
        const escaped = text[i] ?? fail("a backslash ends the arguments");
        i += 1;
        if (escaped === "u" || escaped === "x") {
          const digits = text.slice(i, i + (escaped === "u" ? 4 : 2));
          if (!/^[0-9a-fA-F]+$/.test(digits) || digits.length !== (escaped === "u" ? 4 : 2)) {
            fail(`\\${escaped} must be followed by ${escaped === "u" ? 4 : 2} hex digits`);
          }
          value += String.fromCharCode(parseInt(digits, 16));
          i += digits.length;
        } else value += ESCAPES[escaped] ?? escaped;
      }
      args.push(value);
    } else {
      const word = /^[^,\s]+/.exec(text.slice(i))?.[0] ?? "";
      i += word.length;
      if (word === "true" || word === "false") args.push(word === "true");
      else if (word === "null") args.push(null);
      else if (
        /^[-+]?(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][-+]?\d+)?$|^0[xX][0-9a-fA-F]+$/.test(
          word,
        )
      ) {
        args.push(Number(word.replaceAll("_", "")));
      } else if (/^[A-Za-z_$][\w$]*=/.test(word)) {
        fail(`'${word}' is a keyword argument; pass the values in order`);
      } else fail(`'${word}' is not a literal`);
    }
    skipSpaces();
    if (i >= text.length) break;
    if (text[i] !== ",") fail(`expected ',' between arguments at '${text.slice(i)}'`);
    i += 1;
    skipSpaces();
    // A trailing comma is allowed, as in JavaScript; an empty argument is not.
    if (text[i] === ",") fail("an argument is missing between two commas");
  }
  return args;
}

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

/** The extensions a module named without one is tried with, in this order. */
export const MODULE_EXTENSIONS: readonly string[] = [".ts", ".mts", ".js", ".mjs"];

/** Extensions that make a module path a file name as written, never a module name. */
const FILE_EXTENSIONS = new Set([...MODULE_EXTENSIONS, ".tsx", ".cts", ".cjs", ".jsx"]);

/** `pkg.module`: names joined by dots, without a slash (gunicorn's dotted module path). */
const DOTTED = /^[^./\\]+(?:\.[^./\\]+)+$/;

/**
 * The files a spec's module may be, in the order they are tried, relative as the spec writes
 * them: `app.ts` and `src/app.mjs` are themselves; a name without such an extension is tried as
 * `name.ts`, `.mts`, `.js`, `.mjs` (after `name` itself when that is a file); and a dotted name
 * without a slash is gunicorn's module path, `pkg.module` being `pkg/module.ts` and so on.
 *
 * @example
 * moduleCandidates("pkg.module"); // ["pkg/module.ts", "pkg/module.mts", "pkg/module.js", "pkg/module.mjs"]
 */
export function moduleCandidates(modulePath: string): string[] {
  if (FILE_EXTENSIONS.has(extname(modulePath))) return [modulePath];
  const base = DOTTED.test(modulePath) ? modulePath.replaceAll(".", "/") : modulePath;
  return MODULE_EXTENSIONS.map((extension) => `${base}${extension}`);
}

function isFile(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() === true;
}

/**
 * The absolute path of the file a spec's module names (see {@link moduleCandidates}), found
 * from `cwd`; an `AppLoadError` saying which files were looked for when none exists. Reads the
 * file system only, never imports.
 */
export function resolveAppModule(modulePath: string, cwd: string = process.cwd()): string {
  const asWritten = resolve(cwd, modulePath);
  const candidates = moduleCandidates(modulePath);
  // A file named exactly as written (an extensionless script, say) is taken as it is.
  if (candidates[0] !== modulePath && isFile(asWritten)) return asWritten;
  for (const candidate of candidates) {
    const file = resolve(cwd, candidate);
    if (isFile(file)) return file;
  }
  if (candidates.length === 1) {
    throw new AppLoadError(`cannot find the app module '${modulePath}' (looked at ${asWritten})`);
  }
  throw new AppLoadError(
    `cannot find the app module '${modulePath}': looked for ${candidates.join(", ")} in ${cwd}`,
  );
}

/** The modules a command looks for when no app is named, in Flask's order: wsgi, then app. */
export const DEFAULT_MODULES: readonly string[] = ["wsgi", "app"];

/**
 * The first of {@link DEFAULT_MODULES} that `cwd` holds, as the file name found (`app.ts`), or
 * `undefined` when there is none: what `flask run` does without `--app` or `FLASK_APP`.
 */
export function findDefaultModule(cwd: string = process.cwd()): string | undefined {
  for (const name of DEFAULT_MODULES) {
    const found = moduleCandidates(name).find((candidate) => isFile(resolve(cwd, candidate)));
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Imports the module and returns its app; throws `AppLoadError` with an actionable message. */
export async function loadApp(spec: string): Promise<ServableApp> {
  const { modulePath, exportName, args } = parseAppSpec(spec);
  const file = resolveAppModule(modulePath);
  // The module may call app.run() at top level for `tsx app.ts`; under the CLI that is a no-op.
  setManaged(true);
  let module: Record<string, unknown>;
  try {
    module = (await importApp(file)) as Record<string, unknown>;
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

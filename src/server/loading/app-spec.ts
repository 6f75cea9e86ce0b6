// How a command names its app: `MODULE[:EXPORT]`, as gunicorn names `module:app`, or
// `MODULE:factory(args)`, as Flask calls `app:create_app('dev')`, with literal arguments read
// here and never evaluated; and which file a MODULE is (`app.ts`, or `app` and `pkg.module` as
// gunicorn and Flask write them). Nothing here imports the app, so the supervisor checks a spec
// with this alone.

import { statSync } from "node:fs";
import { extname, resolve } from "node:path";
import process from "node:process";
import { ServerError } from "../errors.ts";

/** The error `carafe` prints (without a stack) when the app cannot be loaded. */
export class AppLoadError extends ServerError {
  override name = "AppLoadError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_APP_LOAD", message, options);
  }
}

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

/** The extensions a module named without one is tried with, in this order. */
export const MODULE_EXTENSIONS: readonly string[] = [".ts", ".mts", ".js", ".mjs"];

/** Extensions that make a module path a file name as written, never a module name. */
const FILE_EXTENSIONS = new Set([...MODULE_EXTENSIONS, ".tsx", ".cts", ".cjs", ".jsx"]);

/** `pkg.module`: names joined by dots, without a slash (gunicorn's dotted module path). */
const DOTTED = /^[^./\\]+(?:\.[^./\\]+)+$/;

/**
 * The files a spec's module may be, in the order they are tried, relative as the spec writes
 * them: `app.ts` and `src/app.mjs` are themselves; a name without such an extension is tried as
 * `name.ts`, `.mts`, `.js`, `.mjs` (after `name` itself when that is a file), then as a folder's
 * `name/index.ts` and so on (a Python package's `__init__.py`); and a dotted name without a
 * slash is gunicorn's module path, `pkg.module` being `pkg/module.ts` and so on.
 *
 * @example
 * moduleCandidates("pkg.module"); // ["pkg/module.ts", …, "pkg/module.mjs", "pkg/module/index.ts", …]
 */
export function moduleCandidates(modulePath: string): string[] {
  if (FILE_EXTENSIONS.has(extname(modulePath))) return [modulePath];
  const base = DOTTED.test(modulePath) ? modulePath.replaceAll(".", "/") : modulePath;
  return [base, `${base}/index`].flatMap((stem) =>
    MODULE_EXTENSIONS.map((extension) => `${stem}${extension}`),
  );
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
    `cannot find the app module '${modulePath}': looked for ${listCandidates(candidates)} in ${cwd}`,
  );
}

/** `pkg/a.ts, .mts, .js, .mjs, pkg/a/index.ts, .mts, …`: candidates for a message, each stem once. */
export function listCandidates(candidates: readonly string[]): string {
  const byStem = new Map<string, string[]>();
  for (const candidate of candidates) {
    const extension = extname(candidate);
    const stem = candidate.slice(0, -extension.length);
    byStem.set(stem, [...(byStem.get(stem) ?? []), extension]);
  }
  return [...byStem].map(([stem, extensions]) => `${stem}${extensions.join(", ")}`).join(", ");
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

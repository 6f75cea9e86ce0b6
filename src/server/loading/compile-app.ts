// Design: a TypeScript app is compiled once, to plain JavaScript that every thread imports
// without tsx. Node 20 runs the loader hooks of each thread that registers tsx on a thread of
// their own (about 20 MiB each), so a pool of TypeScript threads would otherwise cost twice what
// a pool of JavaScript ones does.
//
// The main thread of a process compiles the app's own TypeScript files (those it imports by a
// path, never a package's) one by one with esbuild, into a cache that mirrors their place on
// disk: `/srv/app/db.ts` becomes `<cache>/files/srv/app/db.ts.mjs`. Each compiled file imports
// the others' compiled copies, and everything else (packages, JavaScript files, JSON) by the
// absolute URL Node would have loaded, so a module is what it was, only compiled. What the code
// learns about its own place still names the source: `import.meta.url`, `.filename` and
// `.dirname` are replaced by the source's (and `.resolve` resolves a path from it), the stack traces map back to it (an inline source
// map, and `sourceFileOf` for Carafe's own look at its callers, which finds an app's
// `rootPath`). A manifest beside the compiled entry lists each source, and the tsconfig.json
// each was compiled under, with its size and modification time; a pool thread (or a later process) imports the compiled entry only while
// the manifest still matches the sources, which is how `--reload` and a HUP see new code.
//
// Anything this cannot handle (a compile error, a cache that cannot be written, a pool thread
// that finds the cache stale) falls back to importing the source through tsx, as before.

import type * as Esbuild from "esbuild";
import { builtinModules } from "node:module";
import {
  mkdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join, parse, sep } from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { isMainThread, threadId } from "node:worker_threads";
import { importFile, isTypeScript } from "../../threading/boot.ts";

/** A compiled source as the manifest records it. */
interface SourceStamp {
  source: string;
  size: number;
  mtimeMs: number;
}

const COMPILED_EXTENSION = ".mjs";

/** What a compiled file calls for `import.meta.resolve`, which resolves from the source. */
const RESOLVE = "__carafeResolveFromSource";

/**
 * Imports the module `file` (an app, a config file): its compiled JavaScript when it is
 * TypeScript and can be. `beforeImport` learns the folder of the compiled copies first (the
 * app loader registers it, so code that looks at its callers finds the sources).
 */
export async function importCompiled(
  file: string,
  beforeImport: (compiledRoot: string) => void = () => {},
): Promise<unknown> {
  if (!isTypeScript(file)) return importFile(file);
  const root = cacheRoot(file);
  if (root === undefined) return importFile(file);
  let compiled = isFresh(root, file) ? compiledPath(root, file) : undefined;
  if (compiled === undefined && isMainThread) compiled = await compileApp(root, file);
  if (compiled === undefined) return importFile(file);
  beforeImport(filesDir(root));
  process.setSourceMapsEnabled(true);
  return import(pathToFileURL(compiled).href);
}

/**
 * The cache of compiled apps: node_modules/.cache/carafe above the app, else a folder of this
 * user's in the temp directory, or `undefined` when that folder is not this user's alone
 * (another user could plant code in it). Its real path: Node imports a module by its real
 * path, which is what stack traces then name.
 */
function cacheRoot(file: string): string | undefined {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const modules = join(dir, "node_modules");
    if (isDirectory(modules)) return join(realpathSync(modules), ".cache", "carafe");
    if (dirname(dir) === dir) break;
  }
  const uid = process.getuid?.();
  const root = join(tmpdir(), `carafe-${uid ?? "user"}`);
  try {
    mkdirSync(root, { recursive: true, mode: 0o700 });
    const stats = statSync(root);
    if (uid !== undefined && (stats.uid !== uid || (stats.mode & 0o022) !== 0)) return undefined;
    return realpathSync(root);
  } catch {
    return undefined;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The folder of compiled copies for this Node and the `--conditions` it runs with: the copies
 * are compiled for this Node's syntax, and the conditions decide which file a package's import
 * names (Carafe's own TypeScript under `carafe-source`).
 */
function filesDir(root: string): string {
  const parts = ["files", `node${process.versions.node}`, ...nodeConditions().sort()];
  return join(root, parts.join("+").replace(/[^\w.+-]/g, "_"));
}

/** The tsconfig.json esbuild reads for a source in `dir`: the nearest one above it. */
function nearestTsconfig(dir: string): string | undefined {
  for (; ; dir = dirname(dir)) {
    const file = join(dir, "tsconfig.json");
    if (statSync(file, { throwIfNoEntry: false })?.isFile() === true) return file;
    if (dirname(dir) === dir) return undefined;
  }
}

/** Where the compiled copy of `source` goes: its absolute path under the cache. */
function compiledPath(root: string, source: string): string {
  const { root: drive } = parse(source);
  const relative = source.slice(drive.length);
  const volume = drive.replace(/[:\\/]/g, "");
  return join(filesDir(root), volume, relative) + COMPILED_EXTENSION;
}

function manifestPath(root: string, entry: string): string {
  return `${compiledPath(root, entry)}.manifest.json`;
}

function stampOf(source: string): SourceStamp {
  const stats = statSync(source);
  return { source, size: stats.size, mtimeMs: stats.mtimeMs };
}

/** Whether the compiled entry exists and every source it was compiled from is unchanged. */
function isFresh(root: string, entry: string): boolean {
  try {
    const stamps = JSON.parse(readFileSync(manifestPath(root, entry), "utf8")) as SourceStamp[];
    return stamps.every((stamp) => {
      const now = stampOf(stamp.source);
      return now.size === stamp.size && now.mtimeMs === stamp.mtimeMs;
    });
  } catch {
    return false;
  }
}

/** Writes `text` to `path` whole: another process compiling the same app reads old or new. */
function writeWhole(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}-${threadId}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, path);
}

/** The `--conditions` Node was started with, which decide how packages resolve. */
function nodeConditions(): string[] {
  const flags = [...process.execArgv, ...(process.env["NODE_OPTIONS"] ?? "").split(/\s+/)];
  const conditions: string[] = [];
  for (let i = 0; i < flags.length; i += 1) {
    const flag = flags[i] as string;
    const inline = /^(?:--conditions|-C)=(.+)$/.exec(flag);
    if (inline !== null) conditions.push(inline[1] as string);
    else if ((flag === "--conditions" || flag === "-C") && i + 1 < flags.length)
      conditions.push(flags[(i += 1)] as string);
  }
  return conditions;
}

/** Whether an import names a file by its path (the app's own), rather than a package. */
function isPathSpecifier(specifier: string): boolean {
  return /^(?:\.{1,2}(?:\/|$)|\/|file:)/.test(specifier);
}

/** Compiles `entry` and the TypeScript files it imports by path; the compiled entry's path. */
async function compileApp(root: string, entry: string): Promise<string | undefined> {
  let esbuild: typeof Esbuild;
  try {
    esbuild = await import("esbuild");
  } catch {
    return undefined;
  }
  const conditions = nodeConditions();
  const builtins = new Set(builtinModules);
  const queue = [entry];
  const stamps: SourceStamp[] = [];
  const seen = new Set<string>();
  const imported = new Set<string>();
  const resolving = Symbol("resolving");
  try {
    for (let source = queue.pop(); source !== undefined; source = queue.pop()) {
      if (seen.has(source)) continue;
      seen.add(source);
      stamps.push(stampOf(source));
      // Its compiler options shape the output: a change to them compiles the app again.
      const tsconfig = nearestTsconfig(dirname(source));
      if (tsconfig !== undefined && !seen.has(tsconfig)) {
        seen.add(tsconfig);
        stamps.push(stampOf(tsconfig));
      }
      const outfile = compiledPath(root, source);
      const result = await esbuild.build({
        entryPoints: [source],
        outfile,
        write: false,
        bundle: true,
        format: "esm",
        platform: "node",
        target: `node${process.versions.node}`,
        conditions,
        mainFields: ["main"],
        sourcemap: "inline",
        sourcesContent: false,
        // Each file is compiled alone, but esbuild renames what collides as if bundling: a
        // function keeps its name (an endpoint's, a thread target's), as tsx keeps it.
        keepNames: true,
        logLevel: "silent",
        // A path resolves from the source's folder; a package's name as Node resolves it.
        banner: {
          js: `const ${RESOLVE} = (specifier, ...rest) => /^\\.{0,2}\\//.test(specifier) ? new URL(specifier, ${JSON.stringify(pathToFileURL(source).href)}).href : import.meta.resolve(specifier, ...rest);`,
        },
        define: {
          "import.meta.resolve": RESOLVE,
          "import.meta.url": JSON.stringify(pathToFileURL(source).href),
          "import.meta.filename": JSON.stringify(source),
          "import.meta.dirname": JSON.stringify(dirname(source)),
        },
        plugins: [
          {
            name: "carafe-app-files",
            setup(build) {
              build.onResolve({ filter: /.*/ }, async (args) => {
                if (args.kind === "entry-point" || args.pluginData === resolving) return undefined;
                const bare = args.path.replace(/^node:/, "");
                if (args.path.startsWith("node:") || builtins.has(bare)) {
                  return { path: args.path, external: true };
                }
                const found = await build.resolve(args.path, {
                  kind: args.kind,
                  importer: args.importer,
                  resolveDir: args.resolveDir,
                  pluginData: resolving,
                });
                if (found.errors.length > 0) return { errors: found.errors };
                const file = found.path;
                const own =
                  isPathSpecifier(args.path) &&
                  isTypeScript(file) &&
                  !file.split(sep).includes("node_modules");
                if (own) queue.push(file);
                // A package's file that moves (an upgrade) must not leave a copy importing it.
                else if (isAbsolute(file)) imported.add(file);
                const target = own ? compiledPath(root, file) : file;
                return { path: pathToFileURL(target).href, external: true };
              });
            },
          },
        ],
      });
      const [output] = result.outputFiles;
      if (output === undefined) return undefined;
      writeWhole(outfile, output.text);
    }
    for (const file of imported) stamps.push(stampOf(file));
    writeWhole(manifestPath(root, entry), JSON.stringify(stamps));
    return compiledPath(root, entry);
  } catch {
    return undefined;
  } finally {
    await esbuild.stop();
  }
}

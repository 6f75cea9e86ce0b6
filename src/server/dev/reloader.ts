// The reloader behind `carafe run --reload` and `app.run({ debug: true })`: the parent process
// watches the source folder and runs the app in a child process, restarting it on a change.
//
// Design:
// - Watching is event-driven (inotify, FSEvents, ReadDirectoryChangesW), never stat polling.
//   On macOS and Windows one `fs.watch(root, { recursive: true })` is native. On Linux, Node 20
//   emulates `recursive` by watching every file, node_modules included, and loses a file after
//   an editor's atomic save (write a temp file, rename it over): every later save of that file
//   goes unseen. So on Linux each folder is watched on its own, ignored folders are never
//   entered, and a folder that appears is watched (and its files reported) when it appears.
// - Handlers enqueue, one function owns the state: watcher callbacks, timers, the child's
//   `exit` and the parent's signals only call `#handle(event)`, whose switch is the whole
//   state machine (running → restarting → running; running → waiting after a crash; any →
//   stopping). Events from a child that was already replaced are dropped by identity.
// - A burst of changes (a save touching several files, a `git checkout`) is debounced into one
//   restart; changes while the old child is still exiting need no second restart.

import { spawn, type ChildProcess } from "node:child_process";
import { lstatSync, readdirSync, statSync, watch, type FSWatcher } from "node:fs";
import { constants } from "node:os";
import { extname, join, relative, resolve, sep } from "node:path";
import process from "node:process";
import { ServerError } from "../errors.ts";

/** The variable set in the child's environment; {@link isReloaderChild} reads it. */
export const RELOADER_CHILD_ENV = "CARAFE_RELOADER_CHILD";

/** Options of {@link runWithReloader}. */
export interface ReloaderOptions {
  /** The child's argv: `[process.execPath, ...process.execArgv, script, ...args]`. */
  command: string[];
  /** The folder to watch, recursively. */
  watch: string;
  /** The child's environment (default `process.env`); `CARAFE_RELOADER_CHILD=1` is added. */
  env?: NodeJS.ProcessEnv;
  /** Where the reloader's own lines go (default: stderr). */
  log?: (line: string) => void;
  /** Also ignore these paths (relative to `watch`, `/`-separated; folders and files). */
  ignore?: (path: string) => boolean;
  /** Quiet period that ends a burst of changes, in ms (default 100). */
  debounceMs?: number;
  /** How long a child may take to exit after SIGTERM before it gets SIGKILL (default 5000). */
  killTimeoutMs?: number;
}

/** The reloader's failures, with a stable `code`. */
export class ReloaderError extends ServerError {
  override name = "ReloaderError";
  constructor(
    code: "ERR_RELOADER_WATCH" | "ERR_RELOADER_OPTIONS",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

const IGNORED_FOLDERS = new Set(["node_modules", ".git", "dist"]);
const WATCHED_EXTENSIONS = new Set([
  ".ts",
  ".mts",
  ".cts",
  ".tsx",
  ".js",
  ".mjs",
  ".cjs",
  ".jsx",
  ".json",
  ".html",
  ".css",
  ".env",
]);

function isEnvFile(name: string): boolean {
  return name === ".env" || name.startsWith(".env.");
}

/** Whether a folder (path relative to the watched root, `/`-separated) is never entered. */
function isIgnoredFolder(path: string): boolean {
  const name = path.slice(path.lastIndexOf("/") + 1);
  return IGNORED_FOLDERS.has(name) || name.startsWith(".");
}

/**
 * Whether a change to `path` (relative to the watched root, `/`-separated) restarts the app:
 * a source, template, style or `.env` file outside node_modules, .git, dist and dot-folders.
 *
 * @example
 * shouldReload("src/app.ts"); // true
 * shouldReload("node_modules/x/index.js"); // false
 */
export function shouldReload(path: string): boolean {
  const parts = path.split("/");
  const name = parts.pop() ?? "";
  for (const folder of parts)
    if (IGNORED_FOLDERS.has(folder) || folder.startsWith(".")) return false;
  if (isEnvFile(name)) return true;
  return !name.startsWith(".") && WATCHED_EXTENSIONS.has(extname(name));
}

/** Whether this process is the app that a reloader runs (and so must serve, not watch). */
export function isReloaderChild(): boolean {
  return process.env[RELOADER_CHILD_ENV] === "1";
}

/** A watcher over a folder tree; `onChange` gets paths relative to the root, `/`-separated. */
interface TreeWatcher {
  close(): void;
}

function toRelative(root: string, path: string): string {
  const rel = relative(root, path);
  return sep === "/" ? rel : rel.split(sep).join("/");
}

function watchTreeNatively(
  root: string,
  ignored: (path: string) => boolean,
  onChange: (path: string) => void,
): TreeWatcher {
  const watcher = watch(root, { recursive: true }, (_event, name) => {
    if (name === null) return;
    const path = name.split(sep).join("/");
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) if (ignored(parts.slice(0, i).join("/"))) return;
    onChange(path);
  });
  return { close: () => watcher.close() };
}

function watchTreeByFolder(
  root: string,
  ignored: (path: string) => boolean,
  onChange: (path: string) => void,
  onError: (error: ReloaderError) => void,
): TreeWatcher {
  const watchers = new Map<string, FSWatcher>();

  const unwatch = (folder: string): void => {
    for (const [path, watcher] of watchers) {
      if (path === folder || path.startsWith(folder + sep)) {
        watcher.close();
        watchers.delete(path);
      }
    }
  };

  // `announce`: report the files found, for a folder that appeared after the start (its files
  // may have been written before its watcher existed).
  const add = (folder: string, announce: boolean): void => {
    if (watchers.has(folder)) return;
    let watcher: FSWatcher;
    try {
      watcher = watch(folder, (event, name) => {
        if (name !== null) changed(join(folder, name), event === "rename");
      });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") return;
      throw new ReloaderError(
        "ERR_RELOADER_WATCH",
        code === "ENOSPC"
          ? `cannot watch '${folder}': the system's limit of watched folders is reached; raise fs.inotify.max_user_watches or watch a smaller folder`
          : `cannot watch '${folder}': ${(error as Error).message}`,
      );
    }
    // A watched folder that is removed (or unreadable) ends its watcher, not the reloader.
    watcher.on("error", () => unwatch(folder));
    watchers.set(folder, watcher);
    // Listed after the watcher exists, so nothing created in between is missed.
    let entries;
    try {
      entries = readdirSync(folder, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) {
        if (!ignored(toRelative(root, path))) add(path, announce);
      } else if (announce) onChange(toRelative(root, path));
    }
  };

  const changed = (path: string, renamed: boolean): void => {
    const rel = toRelative(root, path);
    if (renamed) {
      let isFolder = false;
      try {
        isFolder = lstatSync(path).isDirectory();
      } catch {
        // Gone: if it was a watched folder, its watchers go with it.
        unwatch(path);
      }
      if (isFolder) {
        if (!ignored(rel)) {
          try {
            add(path, true);
          } catch (error) {
            onError(error as ReloaderError);
          }
        }
        return;
      }
    }
    onChange(rel);
  };

  add(root, false);
  return {
    close: () => {
      for (const watcher of watchers.values()) watcher.close();
      watchers.clear();
    },
  };
}

/**
 * Watches the source files under `root` (those {@link shouldReload} accepts, minus `ignore`)
 * with the platform's change events; `onChange` gets each changed path relative to `root`.
 * Throws `ReloaderError` when `root` cannot be watched.
 */
export function watchSources(
  root: string,
  onChange: (path: string) => void,
  onError: (error: ReloaderError) => void,
  ignore?: (path: string) => boolean,
): { close(): void } {
  const ignoredFolder = (path: string): boolean =>
    isIgnoredFolder(path) || (ignore !== undefined && ignore(path));
  const changed = (path: string): void => {
    if (shouldReload(path) && !(ignore !== undefined && ignore(path))) onChange(path);
  };
  let isFolder = false;
  try {
    isFolder = statSync(root).isDirectory();
  } catch {
    // Missing or unreadable: refused below.
  }
  if (!isFolder)
    throw new ReloaderError("ERR_RELOADER_WATCH", `cannot watch '${root}': not a folder`);
  const native = process.platform === "darwin" || process.platform === "win32";
  try {
    return native
      ? watchTreeNatively(root, ignoredFolder, changed)
      : watchTreeByFolder(root, ignoredFolder, changed, onError);
  } catch (error) {
    if (error instanceof ReloaderError) throw error;
    throw new ReloaderError(
      "ERR_RELOADER_WATCH",
      `cannot watch '${root}': ${(error as Error).message}`,
    );
  }
}

type ReloaderEvent =
  | { type: "change"; path: string }
  | { type: "settled" }
  | { type: "exit"; child: ChildProcess; code: number }
  | { type: "kill-timeout"; child: ChildProcess }
  | { type: "stop"; signal: NodeJS.Signals };

type Phase = "running" | "restarting" | "waiting" | "stopping";

class Reloader {
  readonly #options: ReloaderOptions;
  readonly #root: string;
  readonly #log: (line: string) => void;
  readonly #finish: (code: number) => void;
  #phase: Phase = "running";
  #child: ChildProcess | null = null;
  #killTimer: NodeJS.Timeout | null = null;
  #debounceTimer: NodeJS.Timeout | null = null;
  #changedPath: string | null = null;
  #lastCode = 0;
  #watcher: TreeWatcher | null = null;
  readonly #onSignal = (signal: NodeJS.Signals): void => this.#handle({ type: "stop", signal });

  constructor(options: ReloaderOptions, finish: (code: number) => void) {
    this.#options = options;
    this.#root = resolve(options.watch);
    this.#log = options.log ?? ((line) => process.stderr.write(line + "\n"));
    this.#finish = finish;
  }

  start(): void {
    this.#watcher = watchSources(
      this.#root,
      (path) => this.#handle({ type: "change", path }),
      (error) => this.#log(` * ${error.message}`),
      this.#options.ignore,
    );
    process.on("SIGINT", this.#onSignal);
    process.on("SIGTERM", this.#onSignal);
    this.#spawn();
  }

  #spawn(): void {
    const [program, ...args] = this.#options.command as [string, ...string[]];
    const child = spawn(program, args, {
      stdio: "inherit",
      env: { ...(this.#options.env ?? process.env), [RELOADER_CHILD_ENV]: "1" },
    });
    this.#child = child;
    this.#phase = "running";
    child.once("exit", (code, signal) => {
      const number = code ?? 128 + (signal === null ? 0 : constants.signals[signal]);
      this.#handle({ type: "exit", child, code: number });
    });
    child.once("error", (error) => {
      // Only a failed spawn is reported here without an `exit` to follow.
      if (child.pid !== undefined) return;
      this.#log(` * Cannot start the app: ${error.message}`);
      this.#handle({ type: "exit", child, code: 127 });
    });
  }

  #terminate(child: ChildProcess, signal: NodeJS.Signals): void {
    child.kill(signal);
    this.#killTimer ??= setTimeout(
      () => this.#handle({ type: "kill-timeout", child }),
      this.#options.killTimeoutMs ?? 5000,
    );
  }

  #handle(event: ReloaderEvent): void {
    switch (event.type) {
      case "change": {
        if (this.#phase === "stopping") return;
        this.#changedPath ??= event.path;
        if (this.#debounceTimer !== null) clearTimeout(this.#debounceTimer);
        this.#debounceTimer = setTimeout(
          () => this.#handle({ type: "settled" }),
          this.#options.debounceMs ?? 100,
        );
        return;
      }
      case "settled": {
        this.#debounceTimer = null;
        if (this.#phase === "stopping") return;
        this.#log(` * Detected change in '${this.#changedPath ?? ""}', reloading`);
        this.#changedPath = null;
        if (this.#phase === "waiting") this.#spawn();
        else if (this.#phase === "running" && this.#child !== null) {
          this.#phase = "restarting";
          this.#terminate(this.#child, "SIGTERM");
        }
        // Already restarting: the next child reads the files as they are now.
        return;
      }
      case "exit": {
        if (event.child !== this.#child) return;
        this.#child = null;
        this.#lastCode = event.code;
        if (this.#killTimer !== null) clearTimeout(this.#killTimer);
        this.#killTimer = null;
        if (this.#phase === "stopping") this.#stop();
        else if (this.#phase === "restarting") this.#spawn();
        else {
          this.#phase = "waiting";
          this.#log(` * The app exited with code ${event.code}; waiting for a change to restart`);
        }
        return;
      }
      case "kill-timeout": {
        this.#killTimer = null;
        if (event.child === this.#child) event.child.kill("SIGKILL");
        return;
      }
      case "stop": {
        if (this.#phase === "stopping") {
          // A second Ctrl+C: do not wait for a graceful exit.
          this.#child?.kill("SIGKILL");
          return;
        }
        this.#phase = "stopping";
        if (this.#debounceTimer !== null) clearTimeout(this.#debounceTimer);
        this.#debounceTimer = null;
        if (this.#child === null) this.#stop();
        else this.#terminate(this.#child, event.signal);
        return;
      }
    }
  }

  #stop(): void {
    process.off("SIGINT", this.#onSignal);
    process.off("SIGTERM", this.#onSignal);
    this.#watcher?.close();
    this.#watcher = null;
    this.#finish(this.#lastCode);
  }
}

/**
 * Runs the app in a child process and restarts it whenever a watched file changes, until the
 * parent gets SIGINT or SIGTERM; resolves with the last child's exit code (128 + signal number
 * when a signal ended it). A child that exits by itself (a syntax error after an edit) is
 * started again on the next change. Rejects with `ReloaderError` when the folder cannot be
 * watched.
 *
 * @example
 * if (!isReloaderChild()) {
 *   process.exitCode = await runWithReloader({
 *     command: [process.execPath, ...process.execArgv, ...process.argv.slice(1)],
 *     watch: process.cwd(),
 *   });
 * }
 */
export function runWithReloader(options: ReloaderOptions): Promise<number> {
  if (options.command.length === 0) {
    return Promise.reject(
      new ReloaderError("ERR_RELOADER_OPTIONS", "runWithReloader needs a command to run"),
    );
  }
  return new Promise<number>((resolveRun, reject) => {
    try {
      new Reloader(options, resolveRun).start();
    } catch (error) {
      reject(error);
    }
  });
}

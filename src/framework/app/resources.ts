// Files that belong to the app, opened by a path relative to one of its folders: Flask's
// `open_resource` (beside the app's code, read only) and `open_instance_resource` (the instance
// folder, also written). Reading is synchronous, as Flask's file objects are: a schema or a seed
// file is read once at setup (`db.exec(app.openResource("schema.sql").text())`), not per request.

import { Buffer } from "node:buffer";
import { appendFileSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { isAbsolute, relative, resolve, sep } from "node:path";
import { CarafeError } from "../errors.ts";

/**
 * How `openInstanceResource` opens a file, as Python's `open`: `"r"` to read it, `"w"` to write
 * it from empty (it is emptied, or created, at once), `"a"` to add to its end (created when
 * missing).
 */
export type ResourceMode = "r" | "w" | "a";

const MODES: ReadonlySet<string> = new Set<ResourceMode>(["r", "w", "a"]);

/** Node's error code, when `error` has one. */
function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * A file of the app, from `app.openResource` or `app.openInstanceResource`. It holds no file
 * descriptor: each call reads or writes the file whole, so there is nothing to close.
 *
 * @example
 * db.exec(app.openResource("schema.sql").text());
 * app.openInstanceResource("notes.txt", "a").write("started\n");
 */
export class Resource {
  /** How the app opened it, for errors: `app.openResource("schema.sql")`. */
  readonly #where: string;

  /** Made by `app.openResource` and `app.openInstanceResource`, which check the path. @internal */
  constructor(
    /** The file's absolute path. */
    readonly path: string,
    /** The mode it was opened with. */
    readonly mode: ResourceMode,
    where: string,
  ) {
    this.#where = where;
  }

  /**
   * The file's content as bytes (Python's `f.read()` in `"rb"` mode).
   *
   * @example
   * const logo = app.openResource("static/logo.png").read();
   */
  read(): Buffer {
    if (this.mode !== "r") {
      throw new CarafeError(
        "ERR_RESOURCE_MODE",
        `${this.#where} was opened with mode '${this.mode}', for writing; open it with mode 'r' to read it`,
      );
    }
    try {
      return readFileSync(this.path);
    } catch (error) {
      throw new CarafeError(
        errorCode(error) === "ENOENT" ? "ERR_RESOURCE_MISSING" : "ERR_RESOURCE_IO",
        `${this.#where}: cannot read ${this.path}: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
  }

  /**
   * The file's content as text, UTF-8 unless `encoding` says otherwise (Python's `f.read()` in
   * `"r"` mode).
   *
   * @example
   * db.exec(currentApp.openResource("schema.sql").text());
   */
  text(encoding: BufferEncoding = "utf8"): string {
    return this.read().toString(encoding);
  }

  /**
   * Adds `data` to the file (text is written as UTF-8); returns the resource, so writes chain.
   * Needs mode `"w"` or `"a"`.
   *
   * @example
   * app.openInstanceResource("seed.sql", "w").write("INSERT INTO …;\n").write("COMMIT;\n");
   */
  write(data: string | Uint8Array): this {
    if (this.mode === "r") {
      throw new CarafeError(
        "ERR_RESOURCE_MODE",
        `${this.#where} was opened for reading; open it with mode 'w' (to replace it) or 'a' (to add to it) to write it`,
      );
    }
    try {
      appendFileSync(this.path, typeof data === "string" ? data : Buffer.from(data));
    } catch (error) {
      throw new CarafeError(
        "ERR_RESOURCE_IO",
        `${this.#where}: cannot write ${this.path}: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    return this;
  }
}

/**
 * Opens `path` inside `folder` (the app's `rootPath` or `instancePath`). A path that leaves the
 * folder (`../secrets`, an absolute path) is refused: resources are named from their folder,
 * and a path built from outside input must never reach further. `method` names the call for
 * errors (`openResource`). @internal
 */
export function openResourceIn(
  folder: string,
  path: string,
  mode: ResourceMode,
  method: string,
): Resource {
  const where = `app.${method}(${JSON.stringify(path)})`;
  if (typeof path !== "string" || path === "" || path.includes("\0")) {
    throw new CarafeError(
      "ERR_RESOURCE_PATH",
      `app.${method}() needs a file's path relative to ${folder} (got ${JSON.stringify(path) ?? String(path)})`,
    );
  }
  if (!MODES.has(mode)) {
    throw new CarafeError(
      "ERR_RESOURCE_MODE",
      `${where}: mode must be 'r' (read), 'w' (write from empty) or 'a' (add to the end); got ${JSON.stringify(mode) ?? String(mode)}`,
    );
  }
  const file = resolve(folder, path);
  const inside = relative(folder, file);
  if (isAbsolute(path) || inside === "" || inside === ".." || inside.startsWith(`..${sep}`)) {
    throw new CarafeError(
      "ERR_RESOURCE_PATH",
      `${where}: the path leaves ${folder}; name a file inside it, relative to it`,
    );
  }
  try {
    if (mode === "r") {
      if (!statSync(file).isFile()) {
        throw new CarafeError("ERR_RESOURCE_MISSING", `${where}: ${file} is not a file`);
      }
    } else {
      // Python's open() empties a file opened with "w", and creates one for "w" and "a", at once.
      writeFileSync(file, "", { flag: mode });
    }
  } catch (error) {
    if (error instanceof CarafeError) throw error;
    const missing = errorCode(error) === "ENOENT";
    throw new CarafeError(
      missing ? "ERR_RESOURCE_MISSING" : "ERR_RESOURCE_IO",
      missing
        ? mode === "r"
          ? `${where}: there is no file ${file}`
          : `${where}: the folder of ${file} does not exist; create it first (an app factory makes its instance folder with mkdirSync(app.instancePath, { recursive: true }))`
        : `${where}: cannot open ${file}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  return new Resource(file, mode, where);
}

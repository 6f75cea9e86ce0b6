// The object `app.config` is: Carafe's keys and the app's own as plain own properties, and the
// loaders (Flask's `from_file`, `from_prefixed_env`, `from_mapping`) on its prototype, so that
// `Object.keys(app.config)`, a spread or a template's `config` see keys only. Every loader goes
// through one gate, `#assign`, which names keys (Flask's `SECRET_KEY` → `secretKey`), refuses
// what cannot be meant and sets nothing until every key has passed.

import { readFileSync } from "node:fs";
import { extname, resolve } from "node:path";
import process from "node:process";
import { CarafeError } from "../errors.ts";
import {
  APP_OPTIONS,
  CONFIG_KINDS,
  FLASK_ONLY_KEYS,
  FLASK_RENAMED,
  closestKey,
  defaultConfig,
  plainKey,
  type AppConfig,
  type CarafeConfig,
  type ConfigFileLoader,
  type ConfigLoaders,
  type FromFileOptions,
  type ValueKind,
} from "./config.ts";

const CARAFE_KEYS: readonly string[] = Object.keys(CONFIG_KINDS);

/** Flask's spelling of a key: upper-case words joined by `_` (`SECRET_KEY`, `DATABASE`). */
const FLASK_SPELLING = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/;

/** The loaders of files named by their extension; any other needs the `load` argument. */
const LOADERS: Readonly<Record<string, ConfigFileLoader>> = {
  // A byte-order mark is not JSON, but editors on Windows write one.
  ".json": (text) => JSON.parse(text.replace(/^\uFEFF/, "")) as unknown,
};

/** Keys that would reach an object's prototype instead of setting a value on it. */
const UNSAFE_KEYS = new Set(["__proto__", "constructor", "prototype"]);

/** One value a loader sets: `path` is the key, then the keys inside it (`db.host`). */
interface Setting {
  readonly path: readonly string[];
  readonly value: unknown;
  /** Where the value came from, for errors: `CARAFE_DEBUG`, `app.config.fromFile('…')`. */
  readonly where: string;
}

/** The type Carafe's key `key` must have; `undefined` for a key of the app's own. */
function kindOf(key: string): ValueKind | undefined {
  return Object.hasOwn(CONFIG_KINDS, key) ? CONFIG_KINDS[key as keyof CarafeConfig] : undefined;
}

/** Camel case of a Flask-spelled name, `HOST_NAME` → `hostName`; other names are kept. */
function camelCase(name: string): string {
  if (!FLASK_SPELLING.test(name)) return name;
  return name.toLowerCase().replace(/_([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
}

/** The config key a loader's key names: Carafe's name of a Flask key, or its camel case. */
function keyName(key: string): string {
  return Object.hasOwn(FLASK_RENAMED, key) ? (FLASK_RENAMED[key] as string) : camelCase(key);
}

/** A value for an error message: secrets are described, never shown. */
function describe(key: string, value: unknown): string {
  const what =
    value === null
      ? "null"
      : Array.isArray(value)
        ? "an array"
        : value instanceof Map
          ? "a Map"
          : typeof value === "object"
            ? "an object"
            : `a ${typeof value}`;
  if (/secret/i.test(key) || typeof value === "object" || typeof value === "function") return what;
  const shown = JSON.stringify(value) ?? String(value);
  return `${what} (${shown.length > 60 ? `${shown.slice(0, 57)}...` : shown})`;
}

/** Whether `value` can hold keys: a plain object, a class instance, a module's namespace. */
function isObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Map)
  );
}

function keyError(where: string, message: string): CarafeError {
  return new CarafeError("ERR_CONFIG_KEY", `${where}: ${message}`);
}

/**
 * The value `CARAFE_<KEY>=raw` gives `key` (`undefined` for a key inside an object): JSON when
 * it parses (Flask's rule), except that one of Carafe's keys keeps the raw string when only
 * that fits its type (a numeric secret key).
 */
function envValue(key: string | undefined, raw: string): unknown {
  let parsed: unknown = raw;
  try {
    parsed = JSON.parse(raw) as unknown;
  } catch {
    // Not JSON: the value stays a string, as in Flask.
  }
  const kind = key === undefined ? undefined : kindOf(key);
  return kind !== undefined && !kind.accepts(parsed) && kind.accepts(raw) ? raw : parsed;
}

/** The message of a failed read, in words a person acts on. */
function readFailure(error: unknown): string {
  switch ((error as NodeJS.ErrnoException).code) {
    case "ENOENT":
    case "ENOTDIR":
      return "there is no such file; create it, or pass { silent: true } to go on without it";
    case "EISDIR":
      return "it is a folder, not a file";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    default:
      return error instanceof Error ? error.message : String(error);
  }
}

/**
 * The configuration object of an app (`app.config`). Its keys are own properties; its methods
 * are the loaders of `ConfigLoaders`.
 */
class Config implements ConfigLoaders {
  /** The folder relative config files start from (Flask's `Config.root_path`). */
  readonly #root: string;

  constructor(root: string) {
    this.#root = root;
  }

  fromFile(
    path: string,
    loadOrOptions?: ConfigFileLoader | FromFileOptions,
    moreOptions?: FromFileOptions,
  ): boolean {
    if (typeof path !== "string" || path === "") {
      throw new CarafeError(
        "ERR_CONFIG_FILE",
        `app.config.fromFile() needs the path of a file (got ${describe("path", path)})`,
      );
    }
    const load = typeof loadOrOptions === "function" ? loadOrOptions : undefined;
    const options = (typeof loadOrOptions === "function" ? moreOptions : loadOrOptions) ?? {};
    const file = resolve(this.#root, path);
    const where = `app.config.fromFile('${file}')`;
    const parse = load ?? LOADERS[extname(file).toLowerCase()];
    if (parse === undefined) {
      throw new CarafeError(
        "ERR_CONFIG_FILE",
        `${where}: Carafe reads .json files by itself; for a '${extname(file)}' file pass its parser as the second argument, e.g. fromFile('${path}', parse) with parse from a TOML or YAML package, or load a module with app.config.fromMapping(await import(...))`,
      );
    }
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const missing = code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR";
      if (options.silent === true && missing) return false;
      throw new CarafeError("ERR_CONFIG_FILE", `${where}: ${readFailure(error)}`, {
        cause: error,
      });
    }
    let mapping: unknown;
    try {
      mapping = parse(text);
    } catch (error) {
      throw new CarafeError(
        "ERR_CONFIG_FILE",
        `${where}: the file could not be parsed: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    if (!isObject(mapping)) {
      throw new CarafeError(
        "ERR_CONFIG_FILE",
        `${where}: the file must hold an object of config keys, not ${describe("", mapping)}`,
      );
    }
    this.#assign(this.#settingsOf(mapping, where));
    return true;
  }

  fromPrefixedEnv(prefix = "CARAFE"): void {
    if (typeof prefix !== "string" || !/^[A-Za-z0-9_]+$/.test(prefix)) {
      throw new CarafeError(
        "ERR_CONFIG_KEY",
        `app.config.fromPrefixedEnv(): the prefix must be letters, digits and '_', such as 'CARAFE' (got ${describe("prefix", prefix)})`,
      );
    }
    const start = prefix.endsWith("_") ? prefix : `${prefix}_`;
    const settings: Setting[] = [];
    for (const name of Object.keys(process.env).sort()) {
      const raw = process.env[name];
      if (!name.startsWith(start) || name === start || raw === undefined) continue;
      const [top = "", ...inner] = name.slice(start.length).split("__");
      const key = keyName(top);
      const path = [key, ...inner.map(camelCase)];
      if (path.some((part) => part === "")) {
        throw keyError(name, "an empty key; '__' separates the keys of nested objects");
      }
      settings.push({
        path,
        value: inner.length === 0 ? envValue(key, raw) : envValue(undefined, raw),
        where: name,
      });
    }
    this.#assign(settings);
  }

  fromMapping(mapping: object): void {
    if (!isObject(mapping)) {
      throw new CarafeError(
        "ERR_CONFIG_KEY",
        `app.config.fromMapping() needs an object of config keys, not ${describe("", mapping)}${mapping instanceof Map ? "; pass Object.fromEntries(map)" : ""}`,
      );
    }
    this.#assign(this.#settingsOf(mapping, "app.config.fromMapping()"));
  }

  /**
   * The settings of a mapping's keys: a key whose value is `undefined` is not given, and a
   * module's `default` export is not a key.
   */
  #settingsOf(mapping: Record<string, unknown>, where: string): Setting[] {
    const isModule =
      (mapping as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === "Module";
    return Object.entries(mapping)
      .filter(([key, value]) => value !== undefined && !(isModule && key === "default"))
      .map(([key, value]) => ({ path: [keyName(key)], value, where }));
  }

  /**
   * Checks every setting, then applies them: a refused one leaves the config unchanged. A nested
   * setting (`db.host`) works on copies of the objects it passes through, put in place at the
   * end, so one that meets a value that is not an object (`DB=5`, then `DB__HOST`) changes nothing.
   */
  #assign(settings: readonly Setting[]): void {
    for (const setting of settings) this.#check(setting);
    const target = this as unknown as Record<string, unknown>;
    const staged = new Map<string, unknown>();
    const copies = new WeakSet<object>();
    const objectOf = (value: unknown, reached: string, where: string): Record<string, unknown> => {
      if (isObject(value) && copies.has(value)) return value;
      if (value !== undefined && !isObject(value)) {
        throw keyError(
          where,
          `config key '${reached}' holds ${describe(reached, value)}, not an object, so no key can be set inside it`,
        );
      }
      const copy = { ...value };
      copies.add(copy);
      return copy;
    };
    for (const { path, value, where } of settings) {
      const [key = "", ...inner] = path;
      const last = inner.pop();
      if (last === undefined) {
        staged.set(key, value);
        continue;
      }
      let holder = objectOf(staged.has(key) ? staged.get(key) : target[key], key, where);
      staged.set(key, holder);
      let reached = key;
      for (const part of inner) {
        reached = `${reached}.${part}`;
        const next = objectOf(
          Object.hasOwn(holder, part) ? holder[part] : undefined,
          reached,
          where,
        );
        holder[part] = next;
        holder = next;
      }
      holder[last] = value;
    }
    for (const [key, value] of staged) target[key] = value;
  }

  /** Refuses a key that is a method, a Flask key Carafe lacks, or a typo of Carafe's. */
  #check({ path, value, where }: Setting): void {
    const [key = ""] = path;
    const target = this as unknown as Record<string, unknown>;
    for (const part of path) {
      if (UNSAFE_KEYS.has(part)) {
        throw keyError(where, `'${part}' cannot be a config key: it names the object's prototype`);
      }
    }
    if (key in target && !Object.hasOwn(target, key)) {
      throw keyError(where, `'${key}' names a method of app.config, not a config key`);
    }
    const kind = kindOf(key);
    if (kind !== undefined) {
      if (path.length > 1) {
        throw keyError(
          where,
          `config key '${key}' is not an object; it cannot hold '${path.slice(1).join(".")}'`,
        );
      }
      if (kind.accepts(value)) return;
      throw new CarafeError(
        "ERR_CONFIG_VALUE",
        `${where}: config key '${key}' must be ${kind.text}; got ${describe(key, value)}`,
      );
    }
    // A key the app has set already is its own, whatever it resembles.
    if (Object.hasOwn(target, key)) return;
    const flaskOnly = FLASK_ONLY_KEYS.find((flask) => plainKey(flask) === plainKey(key));
    if (flaskOnly !== undefined) {
      throw keyError(
        where,
        `Flask's ${flaskOnly} has no Carafe counterpart, so nothing would read '${key}'; remove it (docs/flask-to-carafe.md says what replaces it)`,
      );
    }
    const closest = closestKey(key, CARAFE_KEYS);
    if (closest !== undefined) {
      throw keyError(
        where,
        `unknown config key '${key}'; did you mean '${closest}'? (A key of your own that close to one of Carafe's is taken once app.config has it.)`,
      );
    }
  }
}

/**
 * The config of a new app: Carafe's defaults overridden by `overrides`, the config keys given
 * to `new Carafe`; `root` is where `fromFile` finds relative paths. A key Carafe does not know
 * is refused, naming the closest known one: from JavaScript a typo would otherwise leave a
 * setting at its default without a word. @internal
 */
export function makeConfig(overrides: Readonly<Record<string, unknown>>, root: string): AppConfig {
  const config = defaultConfig();
  for (const key of Object.keys(overrides)) {
    if (Object.hasOwn(config, key)) continue;
    const closest = closestKey(key, [...Object.keys(config), ...APP_OPTIONS]);
    throw new CarafeError(
      "ERR_CONFIG_KEY",
      `new Carafe(): unknown config key '${key}'${closest === undefined ? "" : `; did you mean '${closest}'?`} Keys of your own are set on app.config once the app exists (app.config.fromMapping({ … }), or one by one), and typed by declaring them on AppConfig (declare module "carafe" { interface AppConfig { … } })`,
    );
  }
  return Object.assign(new Config(root), config, overrides) as unknown as AppConfig;
}

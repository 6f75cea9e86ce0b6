// The app's configuration: Flask's keys in camelCase, with Flask's defaults. The set of keys is
// closed (a typo is an error, not a silently ignored setting); an app adds its own by
// declaration merging on `AppConfig`. The loaders (`fromFile`, `fromPrefixedEnv`, `fromMapping`)
// are declared here and live in config-object.ts, on the config object's prototype.

/** Carafe's own configuration keys, with Flask's defaults (see `AppConfig` for your own). */
export interface CarafeConfig {
  /** Debug mode: error pages show the stack trace. Never enable in production. */
  debug: boolean;
  /** Testing mode (set by you in tests; Carafe does not change behaviour on it yet). */
  testing: boolean;
  /** Signs session cookies. Required to write a session. */
  secretKey: string | null;
  /** Older secrets still accepted when reading sessions (key rotation). */
  secretKeyFallbacks: string[];
  /**
   * Largest accepted request body in bytes (413 above it), for every route that does not set
   * its own `maxContentLength`. Default 1 MiB (`DEFAULT_MAX_CONTENT_LENGTH`). There is no
   * app-wide "unlimited": a route that needs it says `maxContentLength: null` itself.
   */
  maxContentLength: number;
  /** Most parts of a multipart form, or fields of an urlencoded one, accepted (413 above it). */
  maxFormParts: number;
  /** Name of the session cookie. */
  sessionCookieName: string;
  /** Domain of the session cookie; `null` for the current host only. */
  sessionCookieDomain: string | null;
  /** Path of the session cookie. */
  sessionCookiePath: string;
  /** Hide the session cookie from page scripts. */
  sessionCookieHttpOnly: boolean;
  /** Send the session cookie only over HTTPS. */
  sessionCookieSecure: boolean;
  /** SameSite of the session cookie; `null` to omit it. */
  sessionCookieSameSite: "Strict" | "Lax" | "None" | null;
  /** Lifetime of a permanent session, and the oldest session cookie accepted, in seconds. */
  permanentSessionLifetime: number;
  /** Re-send a permanent session's cookie on every request, extending its life. */
  sessionRefreshEachRequest: boolean;
  /** Host (and port) for external URLs built outside a request. */
  serverName: string | null;
  /**
   * The host names the app answers for; a request for any other host gets 400 before hooks and
   * views run. An entry starting with `.` matches the domain and its subdomains
   * (`.example.com`); ports are ignored. `null` believes any Host, so external URLs and
   * redirects may name a host of the client's choosing: set it in production.
   */
  trustedHosts: string[] | null;
  /** Scheme of external URLs built outside a request. */
  preferredUrlScheme: "http" | "https";
  /** `Cache-Control` max-age of static files in seconds; `null` sends `no-cache`. */
  sendFileMaxAge: number | null;
  /**
   * A Redis server (`redis://host:6379`) that carries WebSocket broadcasts between servers;
   * `null` keeps them within one server (its worker processes). Needs the `ioredis` package.
   */
  broadcastUrl: string | null;
  /** The Redis channel broadcasts travel on; apps sharing a Redis server need their own. */
  broadcastChannel: string;
}

/**
 * The app's configuration, `app.config`: Carafe's keys (`CarafeConfig`) and the ones your app
 * declares by merging into this interface, as `AppGlobals` and `SessionData` are extended.
 * `new Carafe({ … })` takes Carafe's keys only, and refuses any other at run time (a typo such
 * as `secretkey` names the key it resembles): set your own on `app.config` once the app exists,
 * one by one, with `Object.assign` (Flask's `app.config.update`), or with the loaders of
 * `ConfigLoaders` (`fromMapping`, `fromFile`, `fromPrefixedEnv`), which check them.
 *
 * @example
 * declare module "carafe" {
 *   interface AppConfig {
 *     siteName?: string;
 *   }
 * }
 * const app = new Carafe({ secretKey: process.env["SECRET_KEY"] ?? null });
 * app.config.siteName = "Carafe & Co";
 * Object.assign(app.config, { siteName: "Carafe & Co", debug: true });
 * app.config.fromMapping({ SITE_NAME: "Carafe & Co", DEBUG: true }); // Flask's spelling
 */
export interface AppConfig extends CarafeConfig, ConfigLoaders {}

/** The keys of `app.config` and their types: `AppConfig` without its loading methods. */
export type ConfigValues = Omit<AppConfig, keyof ConfigLoaders>;

/**
 * What `fromMapping` accepts: any object whose keys that name a config key (`ConfigValues`)
 * hold that key's type, or `undefined` (skipped); other keys (Flask's `SECRET_KEY` spelling,
 * an app's own keys not declared on `AppConfig`) are checked when the mapping is loaded.
 */
export type ConfigMapping<T> = {
  readonly [K in keyof T]: K extends keyof ConfigValues ? ConfigValues[K] | undefined : unknown;
};

/**
 * Parses a config file's text into its keys: `JSON.parse`, a TOML or YAML parser's `parse`.
 */
export type ConfigFileLoader = (text: string) => unknown;

/** Options of `app.config.fromFile`. */
export interface FromFileOptions {
  /** Return `false` when the file does not exist, instead of failing (Flask's `silent=True`). */
  silent?: boolean;
}

/**
 * The loading methods of `app.config` (Flask's `from_file`, `from_prefixed_env`,
 * `from_mapping`). They live on the config's prototype, so `Object.keys(app.config)`, a spread
 * of it and templates see the config keys only.
 *
 * Every loader takes a key in Carafe's spelling (`secretKey`) or in Flask's (`SECRET_KEY`, made
 * `secretKey`; `DATABASE`, made `database`), so a ported Flask config works unchanged. A value
 * of one of Carafe's keys is checked against its type; a key that resembles one of Carafe's
 * (`secretkey`), or a Flask key Carafe has no counterpart for (`USE_X_SENDFILE`), is refused
 * with `ERR_CONFIG_KEY`, unless `app.config` has that key already (a key of the app's own that
 * happens to be close); any other key is the app's own and is set as given. Nothing is set
 * unless every key is accepted.
 */
export interface ConfigLoaders {
  /**
   * Sets the keys of a config file: a relative `path` starts from the app's `rootPath` (its
   * `instancePath` with `instanceRelativeConfig: true`). `load` parses the file's text; without
   * it a `.json` file is read with `JSON.parse`, and any other extension needs one. Returns
   * `true` once loaded, `false` for a missing file with `{ silent: true }`; any other failure
   * is a `CarafeError` (`ERR_CONFIG_FILE`) naming the file.
   *
   * @example
   * import { parse } from "smol-toml";
   * const app = new Carafe({ instanceRelativeConfig: true });
   * app.config.fromFile("config.json", { silent: true }); // instance/config.json, if present
   * app.config.fromFile("settings.toml", parse);
   */
  fromFile(path: string, load?: ConfigFileLoader, options?: FromFileOptions): boolean;
  /** `fromFile(path, { silent: true })`: a `.json` file, with options and no loader. */
  fromFile(path: string, options: FromFileOptions): boolean;
  /**
   * Sets a key for each environment variable named `<prefix>_<KEY>`, sorted by name:
   * `CARAFE_SECRET_KEY` sets `secretKey`. A value is parsed as JSON when it parses (`8`, `true`,
   * `["a.example"]`) and kept as a string otherwise, as Flask does; for one of Carafe's keys
   * the raw string is kept when JSON gives the wrong type (`CARAFE_SECRET_KEY=1234` is the
   * string `"1234"`). `__` sets a key inside an object: `CARAFE_DB__HOST` sets `db.host`,
   * making `db` an empty object first when it is missing.
   *
   * @example
   * // SHOP_SECRET_KEY=s3cret SHOP_MAX_CONTENT_LENGTH=16777216 SHOP_DB__HOST=db.internal
   * app.config.fromPrefixedEnv("SHOP");
   * app.config.secretKey; // "s3cret"
   */
  fromPrefixedEnv(prefix?: string): void;
  /**
   * Sets the keys of `mapping` (Flask's `from_mapping`, `config.update`): an object, a parsed
   * file, a module's exports (`await import("./settings.ts")`, whose `default` export is not
   * read as a key). A key whose value is `undefined` is skipped, as an optional one not given.
   *
   * @example
   * app.config.fromMapping({ secretKey: "dev", DATABASE: join(app.instancePath, "flaskr.sqlite") });
   */
  fromMapping<T extends object & ConfigMapping<T>>(mapping: T): void;
}

/**
 * The default body limit, 1 MiB: Fastify's default, ten times Express's JSON limit. A body is
 * held whole in memory (and handed to a pool thread) before its view runs, so the limit is what
 * one request can cost a worker; an upload route raises it for itself, or streams its body.
 */
export const DEFAULT_MAX_CONTENT_LENGTH = 1024 * 1024;

/** Flask's default `maxFormParts`. @internal */
export const DEFAULT_MAX_FORM_PARTS = 1000;

/** Flask's defaults, and bounds where Flask has none. */
export function defaultConfig(): CarafeConfig {
  return {
    debug: false,
    testing: false,
    secretKey: null,
    secretKeyFallbacks: [],
    maxContentLength: DEFAULT_MAX_CONTENT_LENGTH,
    maxFormParts: DEFAULT_MAX_FORM_PARTS,
    sessionCookieName: "session",
    sessionCookieDomain: null,
    sessionCookiePath: "/",
    sessionCookieHttpOnly: true,
    sessionCookieSecure: false,
    sessionCookieSameSite: "Lax",
    permanentSessionLifetime: 31 * 24 * 3600,
    sessionRefreshEachRequest: true,
    serverName: null,
    trustedHosts: null,
    preferredUrlScheme: "http",
    sendFileMaxAge: null,
    broadcastUrl: null,
    broadcastChannel: "carafe",
  };
}

/** What a value of one of Carafe's keys must be, as a loader checks it. @internal */
export interface ValueKind {
  /** The rule in words, for the error: `true or false`. */
  readonly text: string;
  accepts(value: unknown): boolean;
}

const kind = (text: string, accepts: (value: unknown) => boolean): ValueKind => ({
  text,
  accepts,
});
const orNull = (of: ValueKind): ValueKind =>
  kind(`${of.text}, or null`, (value) => value === null || of.accepts(value));
const oneOf = (...values: readonly unknown[]): ValueKind =>
  kind(`one of ${values.map((value) => JSON.stringify(value)).join(", ")}`, (value) =>
    values.includes(value),
  );
const flag = kind("true or false", (value) => typeof value === "boolean");
const text = kind("a string", (value) => typeof value === "string");
const texts = kind(
  "an array of strings",
  (value) => Array.isArray(value) && value.every((item) => typeof item === "string"),
);
const count = kind(
  "a whole number, 0 or more",
  (value) => Number.isSafeInteger(value) && (value as number) >= 0,
);
const seconds = kind(
  "a number of seconds, 0 or more",
  (value) => typeof value === "number" && Number.isFinite(value) && value >= 0,
);

/** The type of each of Carafe's keys, checked when a loader sets it. @internal */
export const CONFIG_KINDS: { readonly [K in keyof CarafeConfig]: ValueKind } = {
  debug: flag,
  testing: flag,
  secretKey: orNull(text),
  secretKeyFallbacks: texts,
  maxContentLength: count,
  maxFormParts: count,
  sessionCookieName: text,
  sessionCookieDomain: orNull(text),
  sessionCookiePath: text,
  sessionCookieHttpOnly: flag,
  sessionCookieSecure: flag,
  sessionCookieSameSite: oneOf("Strict", "Lax", "None", null),
  permanentSessionLifetime: seconds,
  sessionRefreshEachRequest: flag,
  serverName: orNull(text),
  trustedHosts: orNull(texts),
  preferredUrlScheme: oneOf("http", "https"),
  sendFileMaxAge: orNull(seconds),
  broadcastUrl: orNull(text),
  broadcastChannel: text,
};

/**
 * Flask's keys whose camel case is not Carafe's name (the others are Flask's in camel case:
 * `SECRET_KEY`, `secretKey`). @internal
 */
export const FLASK_RENAMED: Readonly<Record<string, keyof CarafeConfig>> = {
  SEND_FILE_MAX_AGE_DEFAULT: "sendFileMaxAge",
  SESSION_COOKIE_HTTPONLY: "sessionCookieHttpOnly",
  SESSION_COOKIE_SAMESITE: "sessionCookieSameSite",
};

/**
 * Flask's keys Carafe has no counterpart for: a loader refuses them rather than keep a setting
 * nothing reads (docs/flask-to-carafe.md says what replaces each). @internal
 */
export const FLASK_ONLY_KEYS: readonly string[] = [
  "APPLICATION_ROOT",
  "EXPLAIN_TEMPLATE_LOADING",
  "MAX_COOKIE_SIZE",
  "MAX_FORM_MEMORY_SIZE",
  "PROPAGATE_EXCEPTIONS",
  "PROVIDE_AUTOMATIC_OPTIONS",
  "SESSION_COOKIE_PARTITIONED",
  "TEMPLATES_AUTO_RELOAD",
  "TRAP_BAD_REQUEST_ERRORS",
  "TRAP_HTTP_EXCEPTIONS",
  "USE_X_SENDFILE",
];

/** The options of `new Carafe` that are not config keys, offered when one is misspelt. @internal */
export const APP_OPTIONS = [
  "name",
  "rootPath",
  "staticFolder",
  "staticUrlPath",
  "templateFolder",
  "instancePath",
  "instanceRelativeConfig",
];

/**
 * The known key nearest to `key` (ignoring case, `_` and `-`, as in `SECRET_KEY`), if any is
 * near. @internal
 */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const wanted = plainKey(key);
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(wanted.length / 3)) + 1;
  for (const candidate of known) {
    const distance = editDistance(wanted, plainKey(candidate));
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** A key without case, `_` or `-`: `SESSION_COOKIE_HTTPONLY` and `sessionCookieHttpOnly` meet. @internal */
export function plainKey(key: string): string {
  return key.toLowerCase().replace(/[_-]/g, "");
}

/** Levenshtein distance: insertions, deletions and substitutions from `a` to `b`. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(
        Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, substitution),
      );
    }
    previous = current;
  }
  return previous[b.length] as number;
}

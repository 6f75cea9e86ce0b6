// The app's configuration: Flask's keys in camelCase, with Flask's defaults. The set of keys is
// closed (a typo is an error, not a silently ignored setting); an app adds its own by
// declaration merging on `AppConfig`.

import { CarafeError } from "../errors.ts";

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
 * one by one or with `Object.assign` (Flask's `app.config.update`).
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
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- the merge target apps extend
export interface AppConfig extends CarafeConfig {}

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

/** The options of `new Carafe` that are not config keys, offered when one is misspelt. */
const APP_OPTIONS = ["name", "rootPath", "staticFolder", "staticUrlPath", "templateFolder"];

/**
 * The config of a new app: Carafe's defaults overridden by `overrides`, the config keys given
 * to `new Carafe`. A key Carafe does not know is refused, naming the closest known one: from
 * JavaScript a typo would otherwise leave a setting at its default without a word. @internal
 */
export function makeConfig(overrides: Readonly<Record<string, unknown>>): AppConfig {
  const config = defaultConfig();
  for (const key of Object.keys(overrides)) {
    if (Object.hasOwn(config, key)) continue;
    const closest = closestKey(key, [...Object.keys(config), ...APP_OPTIONS]);
    throw new CarafeError(
      "ERR_CONFIG_KEY",
      `new Carafe(): unknown config key '${key}'${closest === undefined ? "" : `; did you mean '${closest}'?`} Keys of your own are set on app.config once the app exists, and typed by declaring them on AppConfig (declare module "carafe" { interface AppConfig { … } })`,
    );
  }
  return { ...config, ...overrides } as AppConfig;
}

/** The known key nearest to `key` (ignoring case, `_` and `-`, as in `SECRET_KEY`), if any is near. */
function closestKey(key: string, known: readonly string[]): string | undefined {
  const plain = (text: string): string => text.toLowerCase().replace(/[_-]/g, "");
  const wanted = plain(key);
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(wanted.length / 3)) + 1;
  for (const candidate of known) {
    const distance = editDistance(wanted, plain(candidate));
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
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

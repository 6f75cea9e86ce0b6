// The app's configuration: Flask's keys in camelCase, with Flask's defaults.

/** Configuration of an app; your own keys may be added next to Carafe's. */
export interface AppConfig {
  [key: string]: unknown;
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
 * The default body limit, 1 MiB: Fastify's default, ten times Express's JSON limit. A body is
 * held whole in memory (and handed to a pool thread) before its view runs, so the limit is what
 * one request can cost a worker; an upload route raises it for itself, or streams its body.
 */
export const DEFAULT_MAX_CONTENT_LENGTH = 1024 * 1024;

/** Flask's default `maxFormParts`. @internal */
export const DEFAULT_MAX_FORM_PARTS = 1000;

/** Flask's defaults, and bounds where Flask has none. */
export function defaultConfig(): AppConfig {
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

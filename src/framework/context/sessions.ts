// Signed-cookie sessions: the session's data lives in the client's cookie as JSON with a
// timestamp and an HMAC-SHA256 signature, so any worker process on any host can read it.
// Keys rotate: the first secret signs, every secret (and fallback) verifies.

import { Buffer } from "node:buffer";
import { createHmac, timingSafeEqual } from "node:crypto";
import type { AppConfig } from "../app/config.ts";
import { CarafeError } from "../errors.ts";
import { parseCookies } from "../http/cookies.ts";
import { Response } from "../http/response.ts";

/**
 * Session data types. Declare your keys by declaration merging to type `session.get`:
 *
 * @example
 * declare module "carafe" {
 *   interface SessionData { userId?: number }
 * }
 */
export interface SessionData {
  [key: string]: unknown;
}

/**
 * The current user's session: a small map stored in a signed cookie.
 *
 * @example
 * session.set("userId", 7);
 * const id = session.get("userId");
 */
export class Session {
  /** Keep the cookie for `permanentSessionLifetime` instead of until the browser closes. */
  #permanent: boolean;
  /** Set whenever the data changes; the cookie is then written. */
  modified = false;
  /** Set when the data was read; responses then vary on `Cookie`. */
  accessed = false;
  readonly #data: Map<string, unknown>;

  constructor(
    data: Record<string, unknown> = {},
    permanent = false,
    /** Why the session cannot be written (no secret key), or `null` when it can. */
    private readonly unwritable: string | null = null,
    /** Whether the session came from a valid cookie. */
    readonly isNew = true,
  ) {
    this.#data = new Map(Object.entries(data));
    this.#permanent = permanent;
  }

  get permanent(): boolean {
    return this.#permanent;
  }

  set permanent(value: boolean) {
    this.#check();
    if (value !== this.#permanent) this.modified = true;
    this.#permanent = value;
  }

  /** The value of `key`, or `undefined`. */
  get<K extends keyof SessionData & string>(key: K): SessionData[K] | undefined {
    this.accessed = true;
    return this.#data.get(key) as SessionData[K] | undefined;
  }

  has(key: string): boolean {
    this.accessed = true;
    return this.#data.has(key);
  }

  /** Stores a JSON-serialisable value under `key`. */
  set<K extends keyof SessionData & string>(key: K, value: SessionData[K]): void {
    this.#check();
    this.accessed = true;
    this.modified = true;
    this.#data.set(key, value);
  }

  /** Removes `key` and returns its value. */
  pop<K extends keyof SessionData & string>(key: K): SessionData[K] | undefined {
    this.#check();
    this.accessed = true;
    const value = this.#data.get(key) as SessionData[K] | undefined;
    if (this.#data.delete(key)) this.modified = true;
    return value;
  }

  delete(key: string): void {
    this.pop(key);
  }

  /** Empties the session (log out); the cookie is then deleted. */
  clear(): void {
    this.#check();
    this.accessed = true;
    if (this.#data.size > 0) this.modified = true;
    this.#data.clear();
  }

  keys(): string[] {
    this.accessed = true;
    return [...this.#data.keys()];
  }

  get size(): number {
    return this.#data.size;
  }

  toJSON(): Record<string, unknown> {
    return Object.fromEntries(this.#data);
  }

  #check(): void {
    if (this.unwritable !== null) throw new CarafeError("ERR_NO_SECRET_KEY", this.unwritable);
  }
}

/** Why sessions cannot be written without a secret key. */
export const NO_SECRET_KEY =
  "the session cannot be written because no secret key is set; set `secretKey` in the app's config (for example from an environment variable) to a long random string";

function derive(secret: string): Buffer {
  // A key per purpose, so the secret itself never signs user-controlled data directly.
  return createHmac("sha256", secret).update("carafe.session.signing-key").digest();
}

function sign(key: Buffer, payload: string): string {
  return createHmac("sha256", key).update(payload).digest("base64url");
}

/** Signs session data into a cookie value: `data.timestamp.signature` (base64url). */
export function encodeSession(
  data: Record<string, unknown>,
  secret: string,
  now = Date.now(),
): string {
  const payload = `${Buffer.from(JSON.stringify(data)).toString("base64url")}.${Math.floor(now / 1000).toString(36)}`;
  return `${payload}.${sign(derive(secret), payload)}`;
}

/**
 * Verifies and decodes a session cookie. Returns `null` (an empty session, never an error)
 * when the signature matches no secret, the cookie is older than `maxAge` seconds, or it is
 * malformed.
 */
export function decodeSession(
  cookie: string,
  secrets: readonly string[],
  maxAge: number,
  now = Date.now(),
): Record<string, unknown> | null {
  const parts = cookie.split(".");
  if (parts.length !== 3) return null;
  const [data = "", stamp = "", signature = ""] = parts;
  const payload = `${data}.${stamp}`;
  const given = Buffer.from(signature, "base64url");
  const valid = secrets.some((secret) => {
    const expected = Buffer.from(sign(derive(secret), payload), "base64url");
    return expected.length === given.length && timingSafeEqual(expected, given);
  });
  if (!valid) return null;
  const issued = parseInt(stamp, 36);
  if (!Number.isFinite(issued) || issued * 1000 + maxAge * 1000 < now) return null;
  try {
    const value: unknown = JSON.parse(Buffer.from(data, "base64url").toString("utf8"));
    return value !== null && typeof value === "object" && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

/** Opens the session from the request's cookies: empty when absent, tampered or expired. */
export function openSession(config: AppConfig, cookies: ReadonlyMap<string, string>): Session {
  const secret = config.secretKey;
  if (!secret) return new Session({}, false, NO_SECRET_KEY);
  const cookie = cookies.get(config.sessionCookieName);
  if (cookie === undefined) return new Session();
  const data = decodeSession(
    cookie,
    [secret, ...config.secretKeyFallbacks],
    config.permanentSessionLifetime,
  );
  if (data === null) return new Session();
  const permanent = data["_permanent"] === true;
  delete data["_permanent"];
  return new Session(data, permanent, null, false);
}

/** Writes the session cookie when the session changed (or deletes it when emptied). */
export function saveSession(
  config: AppConfig,
  session: Session | undefined,
  response: Response,
): void {
  if (session === undefined) return;
  if (
    session.accessed &&
    !response.headers.getAll("Vary").some((value) => /\bcookie\b/i.test(value))
  ) {
    response.headers.append("Vary", "Cookie");
  }
  const cookie = {
    path: config.sessionCookiePath,
    ...(config.sessionCookieDomain === null ? {} : { domain: config.sessionCookieDomain }),
    secure: config.sessionCookieSecure,
    httpOnly: config.sessionCookieHttpOnly,
    ...(config.sessionCookieSameSite === null ? {} : { sameSite: config.sessionCookieSameSite }),
  };
  if (session.size === 0) {
    if (session.modified) response.deleteCookie(config.sessionCookieName, cookie);
    return;
  }
  if (!session.modified && !(session.permanent && config.sessionRefreshEachRequest)) return;
  if (!config.secretKey) return;
  const data = session.permanent ? { ...session.toJSON(), _permanent: true } : session.toJSON();
  const lifetime = config.permanentSessionLifetime;
  response.setCookie(
    config.sessionCookieName,
    encodeSession(data, config.secretKey),
    session.permanent
      ? { ...cookie, maxAge: lifetime, expires: new Date(Date.now() + lifetime * 1000) }
      : cookie,
  );
}

/**
 * Opens the session that `cookieHeader` carries, lets `fn` read and change it, and returns the
 * headers of a response that saves it (`Set-Cookie` when it changed): the test client's
 * `sessionTransaction`. @internal
 */
export async function sessionTransaction<T>(
  config: AppConfig,
  cookieHeader: string,
  fn: (session: Session) => T | Promise<T>,
): Promise<[T, string[]]> {
  if (!config.secretKey) {
    throw new CarafeError("ERR_NO_SECRET_KEY", `sessionTransaction(): ${NO_SECRET_KEY}`);
  }
  const session = openSession(config, parseCookies(cookieHeader));
  const result = await fn(session);
  const response = new Response();
  saveSession(config, session, response);
  return [result, response.headers.toFlat()];
}

// Cookie parsing (request `Cookie` header) and `Set-Cookie` serialisation (RFC 6265), in
// Werkzeug's format: values outside the cookie-octets travel in quotes with backslash escapes.

import { Buffer } from "node:buffer";
import { CarafeError } from "../errors.ts";

/** Attributes of a `Set-Cookie` header. */
export interface CookieOptions {
  /** Lifetime in seconds (`Max-Age`, and the `Expires` it implies); `0` deletes the cookie. */
  maxAge?: number;
  /** Absolute expiry (`Expires`); without it, `maxAge` sets `Expires` too. */
  expires?: Date;
  /** Path the cookie is sent for; default `/`. */
  path?: string;
  /** Domain the cookie is sent to; default: only the host that set it. */
  domain?: string;
  /** Send only over HTTPS. */
  secure?: boolean;
  /** Hide from JavaScript in the page. */
  httpOnly?: boolean;
  /** Cross-site sending policy. */
  sameSite?: "Strict" | "Lax" | "None";
  /** Partitioned (CHIPS) cookie; implies `secure`. */
  partitioned?: boolean;
}

const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// cookie-octet of RFC 6265: anything printable but space, DQUOTE, comma, semicolon, backslash.
const COOKIE_VALUE = /^[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*$/;
// Attribute values must not contain control characters or ";" (they would split the header).
// eslint-disable-next-line no-control-regex
const ATTRIBUTE_VALUE = /^[^\x00-\x1F\x7F;]*$/;
const CONTROL_CHARACTER = /\p{Cc}/u;
const CONTROL_CHARACTERS = /\p{Cc}/gu;
// A backslash and the byte it escapes, or three octal digits for any byte.
const ESCAPE = /\\([0-3][0-7]{2}|[\s\S])/g;
// What a quoted value escapes: the quote and backslash, the comma and semicolon that split a
// header for some clients, and the bytes past ASCII (UTF-8), none of which a header carries.
const NEEDS_ESCAPE = /["\\,;\x7F-\xFF]/g;

/**
 * Parses a `Cookie` header into a map; the first value of a repeated name wins. Values are read
 * as Werkzeug reads them: never percent-decoded, and a value in double quotes has its `\"`,
 * `\\` and octal `\ooo` escapes undone (what `serializeCookie` writes). Control characters
 * (CR, LF, NUL…) are removed after that, so none reaches the app. The header is split at every
 * semicolon, even one inside quotes (Werkzeug keeps that one in the value), so that one
 * cookie's value cannot swallow the cookies after it.
 */
export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  if (!header) return cookies;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (name === "" || cookies.has(name)) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
      value = unquoteCookieValue(value.slice(1, -1));
    }
    cookies.set(name, value.replace(CONTROL_CHARACTERS, ""));
  }
  return cookies;
}

/** Undoes the escapes of a quoted value. */
function unquoteCookieValue(quoted: string): string {
  if (!quoted.includes("\\")) return quoted;
  // An escape stands for a byte, so the work is done on the UTF-8 bytes (one latin1 character
  // each) and the result decoded as UTF-8 after.
  const bytes = Buffer.from(quoted, "utf8")
    .toString("latin1")
    .replace(ESCAPE, (_, escaped: string) =>
      escaped.length === 3 ? String.fromCharCode(parseInt(escaped, 8)) : escaped,
    );
  return Buffer.from(bytes, "latin1").toString("utf8");
}

/** A value that is not all cookie-octets, quoted with the escapes `parseCookies` undoes. */
function quoteCookieValue(value: string): string {
  const bytes = Buffer.from(value, "utf8")
    .toString("latin1")
    .replace(NEEDS_ESCAPE, (byte) =>
      byte === '"' || byte === "\\"
        ? `\\${byte}`
        : `\\${byte.charCodeAt(0).toString(8).padStart(3, "0")}`,
    );
  return `"${bytes}"`;
}

/**
 * Builds one `Set-Cookie` header value; throws on a name or attribute that would break it. A
 * value that is not all RFC 6265 cookie-octets is sent in double quotes with backslash escapes,
 * as Werkzeug sends it (`"Ada Lovelace"`, `"caf\303\251"`). A value with a control character
 * throws, since `parseCookies` would not give it back: encode such data first (base64url).
 */
export function serializeCookie(name: string, value: string, options: CookieOptions = {}): string {
  if (!COOKIE_NAME.test(name)) {
    throw new CarafeError(
      "ERR_BAD_COOKIE",
      `setCookie(${JSON.stringify(name)}): a cookie name is letters, digits and !#$%&'*+-.^_\`|~ only`,
    );
  }
  let encoded = value;
  if (!COOKIE_VALUE.test(value)) {
    if (CONTROL_CHARACTER.test(value)) {
      throw new CarafeError(
        "ERR_BAD_COOKIE",
        `setCookie("${name}"): the value ${JSON.stringify(value)} has a control character; encode the value first (e.g. base64url)`,
      );
    }
    encoded = quoteCookieValue(value);
  }
  let header = `${name}=${encoded}`;
  if (options.domain !== undefined)
    header += `; Domain=${checkAttribute("Domain", options.domain)}`;
  const maxAge = options.maxAge === undefined ? undefined : Math.floor(options.maxAge);
  if (maxAge !== undefined && !Number.isFinite(maxAge)) {
    throw new CarafeError(
      "ERR_BAD_COOKIE",
      `setCookie("${name}", …, { maxAge: ${options.maxAge} }): maxAge is a finite number of seconds; omit it for a session cookie`,
    );
  }
  // As Werkzeug does, a Max-Age brings the Expires it implies, for clients that know only Expires.
  const expires =
    options.expires ?? (maxAge === undefined ? undefined : new Date(Date.now() + maxAge * 1000));
  if (expires !== undefined) header += `; Expires=${expires.toUTCString()}`;
  if (maxAge !== undefined) header += `; Max-Age=${maxAge}`;
  header += `; Path=${checkAttribute("Path", options.path ?? "/")}`;
  // Browsers drop a Partitioned cookie that is not Secure, so partitioned implies it (as in Werkzeug).
  if (options.secure || options.partitioned) header += "; Secure";
  if (options.httpOnly) header += "; HttpOnly";
  if (options.sameSite !== undefined) header += `; SameSite=${options.sameSite}`;
  if (options.partitioned) header += "; Partitioned";
  return header;
}

function checkAttribute(name: string, value: string): string {
  if (!ATTRIBUTE_VALUE.test(value)) {
    throw new CarafeError(
      "ERR_BAD_COOKIE",
      `setCookie(): the cookie's ${name} ${JSON.stringify(value)} has a ';' or a control character, which would add attributes of its own; pass the bare ${name.toLowerCase()}`,
    );
  }
  return value;
}

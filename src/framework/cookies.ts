// Cookie parsing (request `Cookie` header) and `Set-Cookie` serialisation (RFC 6265).

/** Attributes of a `Set-Cookie` header. */
export interface CookieOptions {
  /** Lifetime in seconds (`Max-Age`); `0` deletes the cookie. */
  maxAge?: number;
  /** Absolute expiry (`Expires`). */
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

/** Parses a `Cookie` header into a map; the first value of a repeated name wins. */
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
      value = value.slice(1, -1);
    }
    cookies.set(name, decodeCookieValue(value));
  }
  return cookies;
}

function decodeCookieValue(value: string): string {
  if (!value.includes("%")) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** Builds one `Set-Cookie` header value; throws on a name or attribute that would break it. */
export function serializeCookie(name: string, value: string, options: CookieOptions = {}): string {
  if (!COOKIE_NAME.test(name)) throw new TypeError(`invalid cookie name ${JSON.stringify(name)}`);
  const encoded = COOKIE_VALUE.test(value) ? value : encodeURIComponent(value);
  let header = `${name}=${encoded}`;
  if (options.domain !== undefined)
    header += `; Domain=${checkAttribute("Domain", options.domain)}`;
  if (options.expires !== undefined) header += `; Expires=${options.expires.toUTCString()}`;
  if (options.maxAge !== undefined) {
    if (!Number.isFinite(options.maxAge))
      throw new TypeError("cookie maxAge must be a finite number");
    header += `; Max-Age=${Math.floor(options.maxAge)}`;
  }
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
    throw new TypeError(`cookie ${name} ${JSON.stringify(value)} has a forbidden character`);
  }
  return value;
}

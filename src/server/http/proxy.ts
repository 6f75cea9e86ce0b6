// Trusted proxy headers (gunicorn's --forwarded-allow-ips). Behind a reverse proxy the socket's
// peer is the proxy, not the client; the proxy names the client in X-Forwarded-For / Forwarded.
// Anyone can send those headers, so they count only when the peer is a proxy we trust.
//
// Design: the walk goes from the right. Each proxy appends the address it received the request
// from, so the rightmost entry was written by our peer (trusted); the entry left of it was
// written by the proxy the rightmost entry names — trustworthy only if that address is trusted
// too. The first untrusted address is therefore the client; everything further left is
// client-supplied and ignored.
//
// Unix-socket peers (empty remoteAddress) are trusted by default, as gunicorn does: a Unix
// socket is reachable only by local processes that have filesystem permission on it — in
// practice the reverse proxy in front — and it has no address that an allow list could name.

import { BlockList, isIP } from "node:net";
import type { RequestRecord } from "../../framework/internal.ts";
import { isHost } from "./host-name.ts";
import { ServerError } from "../errors.ts";

/** Thrown by `createProxyTrust` for an allow-list entry that is not an address, network or `*`. */
export class ProxyTrustError extends ServerError {
  override name = "ProxyTrustError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_BAD_PROXY_ADDRESS", message, options);
  }
}

/** Options of `createProxyTrust`. */
export interface ProxyTrustOptions {
  /**
   * Whether a peer on a Unix socket (empty address) is trusted. Default `true`, like gunicorn:
   * only local processes with permission on the socket file can connect to it.
   */
  unixSockets?: boolean;
}

type Family = "ipv4" | "ipv6";

/** The family of an address as BlockList wants it; `null` when `text` is not an IP address. */
function familyOf(text: string): Family | null {
  const version = isIP(text);
  return version === 4 ? "ipv4" : version === 6 ? "ipv6" : null;
}

type TrustEntry =
  | { kind: "any" }
  | { kind: "address"; address: string; family: Family }
  | { kind: "network"; address: string; prefix: number; family: Family };

// BlockList itself matches an IPv4-mapped IPv6 address (`::ffff:127.0.0.1`, what a dual-stack
// socket reports) against IPv4 entries and the other way round, so entries stay as written.
function parseTrustEntry(text: string): TrustEntry | null {
  const entry = text.trim();
  if (entry === "*") return { kind: "any" };
  const [address = "", prefixText, ...rest] = entry.split("/");
  const family = entry.includes("%") || rest.length > 0 ? null : familyOf(address);
  if (family === null) return null;
  if (prefixText === undefined) return { kind: "address", address, family };
  const prefix = Number(prefixText);
  const bits = family === "ipv4" ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefixText) || prefix > bits) return null;
  return { kind: "network", address, prefix, family };
}

/**
 * Whether `text` is a valid allow-list entry: an IPv4 or IPv6 address, a CIDR network
 * (`10.0.0.0/8`, `fd00::/8`) or `*`.
 */
export function isTrustEntry(text: string): boolean {
  return parseTrustEntry(text) !== null;
}

/**
 * Builds the predicate that says whether a peer address is a trusted proxy.
 *
 * Entries are exact addresses, CIDR networks or `*` (every peer). An IPv4-mapped IPv6 peer
 * (`::ffff:127.0.0.1`, what a dual-stack socket reports) matches its IPv4 entries.
 *
 * @example
 * const trusted = createProxyTrust(["127.0.0.1", "::1", "10.0.0.0/8"]);
 * trusted("10.1.2.3"); // true
 * trusted("::ffff:127.0.0.1"); // true
 * trusted("203.0.113.9"); // false
 */
export function createProxyTrust(
  allowIps: readonly string[],
  options: ProxyTrustOptions = {},
): (address: string) => boolean {
  const unixSockets = options.unixSockets ?? true;
  const list = new BlockList();
  let any = false;
  // gunicorn takes one comma-separated string; accept it inside an entry as well.
  for (const text of allowIps.flatMap((entries) => entries.split(","))) {
    if (text.trim() === "") continue;
    const entry = parseTrustEntry(text);
    if (entry === null) {
      throw new ProxyTrustError(
        `--forwarded-allow-ips: '${text.trim()}' is not a trusted proxy address; use an IPv4 or IPv6 address, a network such as 10.0.0.0/8, or * for every peer`,
      );
    }
    if (entry.kind === "any") any = true;
    else if (entry.kind === "address") list.addAddress(entry.address, entry.family);
    else list.addSubnet(entry.address, entry.prefix, entry.family);
  }
  // A BlockList lookup costs microseconds; the peers of one server are few (its proxies), so
  // each answer is remembered, up to a bound that a scan of many addresses cannot exceed.
  const known = new Map<string, boolean>();
  return (address: string): boolean => {
    if (address === "") return unixSockets;
    if (any) return true;
    let trusted = known.get(address);
    if (trusted === undefined) {
      // A link-local peer carries its zone (`fe80::1%eth0`); allow-list entries cannot.
      const bare = address.split("%", 1)[0] as string;
      const family = familyOf(bare);
      trusted = family !== null && list.check(bare, family);
      if (known.size >= KNOWN_PEERS) known.clear();
      known.set(address, trusted);
    }
    return trusted;
  };
}

const KNOWN_PEERS = 1024;

/** Longest request id taken from a proxy's X-Request-ID header. */
export const MAX_REQUEST_ID_LENGTH = 200;

// Visible ASCII only: no space, no control character, nothing a log line would have to escape
// beyond a quote or a backslash.
const REQUEST_ID = new RegExp(`^[\\x21-\\x7e]{1,${MAX_REQUEST_ID_LENGTH}}$`);

/**
 * Whether a proxy's `X-Request-ID` may serve as the request's id: 1 to 200 visible ASCII
 * characters (no spaces, no control characters). Any other is replaced by a fresh id.
 */
export function isRequestId(text: string): boolean {
  return REQUEST_ID.test(text);
}

/** The IP address in one hop of X-Forwarded-For or a `for=` value; `null` when it names none. */
function hopAddress(text: string): string | null {
  const hop = text.trim();
  // Some proxies (Azure, RFC 7239) add the port: `[2001:db8::1]:443`, `192.0.2.7:5000`.
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(hop);
  if (bracketed) return isIP(bracketed[1] as string) === 6 ? (bracketed[1] as string) : null;
  const withPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(hop);
  const address = withPort ? (withPort[1] as string) : hop;
  return isIP(address) === 0 ? null : address;
}

function schemeOf(text: string | undefined): "http" | "https" | null {
  const value = text?.trim().toLowerCase();
  return value === "http" || value === "https" ? value : null;
}

function hostOf(text: string | undefined): string | null {
  const value = text?.trim();
  return value !== undefined && isHost(value) ? value : null;
}

/** The rightmost non-empty entry of a comma-separated header: the one our peer wrote. */
function rightmost(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const entries = header.split(",").filter((entry) => entry.trim() !== "");
  return entries[entries.length - 1];
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/**
 * Parses an RFC 7239 `Forwarded` header into its elements (parameter names in lower case);
 * `null` when it does not follow the grammar, so a garbled header is ignored as a whole.
 */
function parseForwarded(header: string): Array<Map<string, string>> | null {
  const elements: Array<Map<string, string>> = [];
  let current = new Map<string, string>();
  let i = 0;
  const skipSpaces = (): void => {
    while (header[i] === " " || header[i] === "\t") i += 1;
  };
  for (;;) {
    skipSpaces();
    if (i < header.length && header[i] !== "," && header[i] !== ";") {
      let name = "";
      while (i < header.length && TCHAR.test(header[i] as string)) name += header[i++];
      if (name === "" || header[i] !== "=") return null;
      i += 1;
      let value = "";
      if (header[i] === '"') {
        i += 1;
        for (;;) {
          if (i >= header.length) return null;
          const char = header[i++] as string;
          if (char === '"') break;
          if (char === "\\") {
            if (i >= header.length) return null;
            value += header[i++];
          } else value += char;
        }
      } else {
        while (i < header.length && TCHAR.test(header[i] as string)) value += header[i++];
        if (value === "") return null;
      }
      const key = name.toLowerCase();
      // A parameter may occur once per element (RFC 7239 section 4).
      if (current.has(key)) return null;
      current.set(key, value);
      skipSpaces();
    }
    if (i >= header.length) break;
    const separator = header[i++];
    if (separator === ",") {
      if (current.size > 0) elements.push(current);
      current = new Map();
    } else if (separator !== ";") return null;
  }
  if (current.size > 0) elements.push(current);
  return elements;
}

/**
 * Walks the hops from the right and returns the client — the first hop that is not a trusted
 * proxy, or the leftmost when all are — with its index. A hop that names no address (malformed,
 * `unknown`, an obfuscated `_name`) ends what can be known: the client is the last trusted hop
 * to its right, or `null` when there is none.
 */
function findClient(
  hops: ReadonlyArray<string | null>,
  trusted: (address: string) => boolean,
): { client: string | null; index: number } {
  let client: string | null = null;
  let index = hops.length - 1;
  for (; index > 0; index -= 1) {
    const address = hops[index] ?? null;
    if (address === null) return { client, index };
    client = address;
    if (!trusted(address)) return { client, index };
  }
  return { client: hops[0] ?? client, index: 0 };
}

function applyForwarded(
  record: RequestRecord,
  elements: ReadonlyArray<Map<string, string>>,
  trusted: (address: string) => boolean,
): void {
  const hops = elements.map((element) => hopAddress(element.get("for") ?? ""));
  const { client, index } = findClient(hops, trusted);
  if (client !== null) record.remoteAddress = client;
  // The element naming the client was written by a trusted proxy: its proto and host are what
  // that proxy saw.
  const chosen = elements[index] as Map<string, string>;
  const scheme = schemeOf(chosen.get("proto"));
  if (scheme !== null) record.scheme = scheme;
  const host = hostOf(chosen.get("host"));
  if (host !== null) record.headers.host = host;
}

function applyXForwarded(record: RequestRecord, trusted: (address: string) => boolean): void {
  const { headers } = record;
  const hops = (headers["x-forwarded-for"] ?? "")
    .split(",")
    .filter((hop) => hop.trim() !== "")
    .map(hopAddress);
  const { client } = findClient(hops, trusted);
  if (client !== null) record.remoteAddress = client;
  // gunicorn's default --secure-scheme-headers, X-Forwarded-Proto first.
  const scheme =
    schemeOf(rightmost(headers["x-forwarded-proto"])) ??
    (headers["x-forwarded-ssl"]?.trim().toLowerCase() === "on" ||
    headers["x-forwarded-protocol"]?.trim().toLowerCase() === "ssl"
      ? "https"
      : null);
  if (scheme !== null) record.scheme = scheme;
  const host = hostOf(rightmost(headers["x-forwarded-host"]));
  if (host !== null) record.headers.host = host;
}

/**
 * Rewrites the record's client address, scheme and host from proxy headers — only when the
 * peer (`record.remoteAddress`) is trusted; from any other peer the headers are ignored. A
 * trusted peer's `X-Request-ID` becomes the record's id (`request.id`) when it is well formed
 * (1 to 200 visible ASCII characters); any other is left for a fresh id to replace.
 *
 * A valid RFC 7239 `Forwarded` header wins over `X-Forwarded-For`/`-Proto`/`-Host` (and
 * gunicorn's `X-Forwarded-Ssl: on` / `X-Forwarded-Protocol: ssl`). The client is the first
 * untrusted hop counted from the right, so an address a client prepends itself is never taken
 * unless every hop is trusted (`*`). Schemes other than http/https and malformed addresses or
 * hosts are ignored. The headers themselves stay in the record.
 *
 * @example
 * const trusted = createProxyTrust(["10.0.0.0/8"]);
 * // peer 10.0.0.2, X-Forwarded-For: 203.0.113.9, 10.0.0.5 and X-Forwarded-Proto: https
 * applyProxyHeaders(record, trusted);
 * record.remoteAddress; // "203.0.113.9"
 * record.scheme; // "https"
 */
export function applyProxyHeaders(
  record: RequestRecord,
  trusted: (address: string) => boolean,
): void {
  const { headers } = record;
  const forwarded = headers["forwarded"];
  // Most requests carry none of these headers: nothing to rewrite, no peer to check.
  if (
    forwarded === undefined &&
    headers["x-forwarded-for"] === undefined &&
    headers["x-forwarded-proto"] === undefined &&
    headers["x-forwarded-host"] === undefined &&
    headers["x-forwarded-ssl"] === undefined &&
    headers["x-forwarded-protocol"] === undefined &&
    headers["x-request-id"] === undefined
  ) {
    return;
  }
  // The peer is checked before its address is replaced by the client's.
  if (!trusted(record.remoteAddress)) return;
  const requestId = headers["x-request-id"];
  if (requestId !== undefined && isRequestId(requestId)) record.id = requestId;
  if (forwarded !== undefined) {
    const elements = parseForwarded(forwarded);
    if (elements !== null && elements.length > 0) {
      applyForwarded(record, elements, trusted);
      return;
    }
  }
  applyXForwarded(record, trusted);
}

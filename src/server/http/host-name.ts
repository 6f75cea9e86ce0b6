// What a valid host is, on its own: the options that name hosts (--forwarded-allow-ips) check
// theirs with it in the supervisor, which loads nothing of the framework.

import { isIPv6 } from "node:net";

// RFC 3986 section 3.2.2 lets a host hold sub-delimiters (`'`, `(`, `;`, …) and percent-escapes,
// but no name a resolver knows does, and a Host is copied into URLs, redirects and pages: only
// what DNS names and IP addresses are made of is taken (letters, digits, `-`, `_`, `.`, or an IPv6
// address in brackets), then an optional port of at most five digits. An empty name is valid
// in a URI but not in an http one (RFC 9110 section 4.2.1), so one character at least.
const NAME_HOST = /^[A-Za-z0-9_.-]+(?::[0-9]{0,5})?$/;
const IPV6_HOST = /^\[([0-9A-Fa-f:.]+)\](?::[0-9]{0,5})?$/;

/**
 * Whether `text` is a valid `host[:port]`: a DNS name or IPv4 address, or an IPv6 one in
 * brackets, then an optional port.
 *
 * @example
 * isHost("example.com:8000"); // true
 * isHost("[::1]"); // true
 * isHost("a b"); // false
 */
export function isHost(text: string): boolean {
  // Most Hosts are a plain name or IPv4 address: one cheap test, with no capture to allocate.
  if (NAME_HOST.test(text)) return true;
  const ipv6 = IPV6_HOST.exec(text)?.[1];
  return ipv6 !== undefined && isIPv6(ipv6);
}

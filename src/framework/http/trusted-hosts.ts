// The hosts an app answers for: `config.trustedHosts`, Flask's TRUSTED_HOSTS and Django's
// ALLOWED_HOSTS. External URLs and redirects are built from the request's host, which is what
// the client sent (or a trusted proxy forwarded); with a list, a request for any other host is
// answered with 400 before hooks and views run, so no link to a host of the client's choosing
// is ever made.

import type { AppConfig } from "../app/config.ts";
import { BadRequest } from "../errors.ts";
import type { ResponseRecord } from "../boundary/records.ts";
import type { Request } from "./request.ts";
import { exceptionResponse, prefersJson } from "./response.ts";

/**
 * A host name without its port, in lower case and in its ASCII (punycode) form, with an IPv6
 * address in brackets written the one way URLs write it; `null` when it has a port that is not
 * digits or is no name at all.
 */
function nameOf(host: string): string | null {
  let name = host.toLowerCase();
  // An IPv6 address written without brackets (a list entry `::1`): it has no port.
  if (name.charCodeAt(0) !== 91 /* "[" */ && name.indexOf(":") !== name.lastIndexOf(":")) {
    name = `[${name}]`;
  }
  const colon = name.lastIndexOf(":");
  if (colon > name.lastIndexOf("]")) {
    if (!/^\d*$/.test(name.slice(colon + 1))) return null;
    name = name.slice(0, colon);
  }
  if (name === "") return null;
  if (name.charCodeAt(0) !== 91 /* "[" */ && /^[\x21-\x7e]*$/.test(name)) return name;
  // International names and IPv6 addresses: the URL parser knows their one form.
  try {
    return new URL(`http://${name}/`).hostname;
  } catch {
    return null;
  }
}

/**
 * Whether `host` (a Host header: name and optional port) is one of `trusted`. The port is
 * ignored; an entry starting with `.` matches that domain and every subdomain of it
 * (`.example.com`: `example.com`, `www.example.com`), any other entry only itself. Names match
 * whatever their case, and international names in either form.
 *
 * @example
 * isTrustedHost("www.example.com:8443", [".example.com"]); // true
 * isTrustedHost("example.com.evil.test", [".example.com"]); // false
 */
export function isTrustedHost(host: string, trusted: readonly string[]): boolean {
  const name = nameOf(host);
  if (name === null) return false;
  for (const entry of trusted) {
    const suffix = entry.charCodeAt(0) === 46; // "."
    const reference = nameOf(suffix ? entry.slice(1) : entry);
    if (reference === null) continue;
    if (name === reference) return true;
    if (suffix && name.endsWith(`.${reference}`)) return true;
  }
  return false;
}

/**
 * The 400 answer to a request for a host that `config.trustedHosts` does not list; `null` when
 * it lists it, or when there is no list.
 */
export function untrustedHostResponse(config: AppConfig, request: Request): ResponseRecord | null {
  const trusted = config.trustedHosts;
  if (trusted == null) return null;
  const host = request.host;
  // One name given as a string is a list of one, as Werkzeug takes it.
  if (isTrustedHost(host, typeof trusted === "string" ? [trusted] : trusted)) return null;
  const refused = new BadRequest(
    `The host '${host}' is not served here; if it should be, add it to the app's trustedHosts.`,
  );
  return exceptionResponse(refused, prefersJson(request.headers.get("accept"))).toRecord(
    request.method,
  );
}

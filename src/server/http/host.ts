// The Host of a request, checked before the app is called (RFC 9112 section 3.2). The app
// builds external URLs and redirects from it, so a Host that is missing, doubled or not a host
// at all is answered with 400 here rather than turned into `http://a b/`. An absolute-form
// target (`GET http://a.example/x HTTP/1.1`) names the host itself, and it wins over the Host
// header (section 3.2.2): the record the app sees carries it as its Host and an origin-form url.

import type { IncomingMessage } from "node:http";
import {
  BadRequest,
  exceptionResponse,
  type RequestRecord,
  type ResponseRecord,
} from "../../framework/internal.ts";
import { isHost } from "./host-name.ts";

export { isHost };

/** An absolute-form target split into its scheme, authority and the rest (path and query). */
const ABSOLUTE_FORM = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/s;

function refusal(method: string, description: string): ResponseRecord {
  return exceptionResponse(new BadRequest(description), false).toRecord(method);
}

/** Why the absolute-form `target` cannot be served, or `null` when its authority is a host. */
function targetError(target: string): string | null {
  const parts = ABSOLUTE_FORM.exec(target);
  if (parts === null) return null;
  const scheme = (parts[1] as string).toLowerCase();
  const authority = parts[2] as string;
  if (scheme !== "http" && scheme !== "https") {
    return `The request target '${target}' is not an http or https URL; send a path such as /index.html.`;
  }
  // RFC 9110 section 4.2.4: a recipient treats userinfo in an http URI as an error.
  if (authority.includes("@")) {
    return `The request target '${target}' carries a user name; send the URL without the part before '@'.`;
  }
  if (!isHost(authority)) {
    return `The request target '${target}' does not name a valid host[:port]; send a path such as /index.html, or a URL such as http://example.com/.`;
  }
  return null;
}

/**
 * The 400 response for a request whose Host cannot be used, or `null` when it can: an HTTP/1.1
 * request needs exactly one Host header, any Host header must be a valid `host[:port]`, and an
 * absolute-form target must be an http(s) URL with a valid host and no user name. An HTTP/1.0
 * request may come without Host.
 */
export function hostError(request: IncomingMessage): ResponseRecord | null {
  const method = request.method ?? "GET";
  // node:http keeps the first of two Host headers and drops the other: count them raw.
  const raw = request.rawHeaders;
  let host: string | undefined;
  let count = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 4 && name.toLowerCase() === "host") {
      count += 1;
      host = raw[i + 1] as string;
    }
  }
  if (count > 1) {
    return refusal(
      method,
      `The request has ${count} Host headers; send exactly one, naming the server (Host: example.com).`,
    );
  }
  if (host === undefined) {
    if (request.httpVersionMajor === 1 && request.httpVersionMinor === 0) return null;
    return refusal(
      method,
      "The request has no Host header; HTTP/1.1 requires one naming the server (Host: example.com).",
    );
  }
  if (!isHost(host)) {
    return refusal(
      method,
      `The Host header '${host}' is not a valid host[:port]; send the server's name or address, such as Host: example.com or Host: 127.0.0.1:8000.`,
    );
  }
  const target = request.url ?? "/";
  if (target.charCodeAt(0) === 47 /* "/" */) return null;
  const error = targetError(target);
  return error === null ? null : refusal(method, error);
}

/**
 * Makes an absolute-form target's authority the record's Host and its url origin-form
 * (`http://a.example/x?q` → Host `a.example`, url `/x?q`), as RFC 9112 section 3.2.2 asks. The
 * scheme stays the connection's: a client cannot claim HTTPS by naming it. Anything else,
 * including a target `hostError` refuses, is left as it is.
 */
export function useTargetAuthority(record: RequestRecord): void {
  const parts = ABSOLUTE_FORM.exec(record.url);
  if (parts === null || targetError(record.url) !== null) return;
  const rest = parts[3] as string;
  record.headers.host = parts[2] as string;
  record.url = rest.charCodeAt(0) === 47 /* "/" */ ? rest : `/${rest}`;
}

// The URL map: every rule of an app, HTTP and WebSocket alike (as Starlette's router and
// Werkzeug's Map hold both), the matchers compiled from them, and URL building. The two kinds
// share one endpoint namespace and one converter table, so `urlFor` builds either; each kind
// has its own matcher, so a path may have an HTTP route and a socket route, and an HTTP request
// is never answered 405 because of a socket rule.

import { BuildError, CarafeError } from "../errors.ts";
import { DEFAULT_CONVERTERS, type Converter, type ConverterFactory } from "./converters.ts";
import { SegmentMatcher } from "./matcher.ts";
import { parseRule, type ParsedRule } from "./rule.ts";

/** One registered rule: a parsed URL pattern, its endpoint, methods and payload. */
export class Rule<P> {
  /** Methods answered, HEAD included wherever GET is. */
  readonly methods: ReadonlySet<string>;
  constructor(
    readonly parsed: ParsedRule,
    readonly endpoint: string,
    methods: readonly string[],
    /** Whether OPTIONS is answered automatically (it is unless the rule lists it). */
    readonly automaticOptions: boolean,
    readonly strictSlashes: boolean,
    readonly payload: P,
  ) {
    const set = new Set(methods.map((method) => method.toUpperCase()));
    if (set.has("GET")) set.add("HEAD");
    this.methods = set;
  }

  get rule(): string {
    return this.parsed.rule;
  }
}

/** The outcome of matching a method and path against the map. */
export type MatchResult<P> =
  | { readonly kind: "found"; readonly rule: Rule<P>; readonly params: Record<string, unknown> }
  | { readonly kind: "options"; readonly allowed: readonly string[] }
  | { readonly kind: "method-not-allowed"; readonly allowed: readonly string[] }
  | { readonly kind: "redirect"; readonly path: string }
  | { readonly kind: "not-found" }
  | { readonly kind: "bad-path" };

/** Options for `UrlMap.build`. */
export interface BuildOptions {
  /** Prefer a rule that answers this method. */
  method?: string;
}

/** A matched rule's variables by name, from their values in the rule's order. */
function paramsOf(rule: Rule<unknown>, values: readonly unknown[]): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  const names = rule.parsed.variables;
  for (let i = 0; i < names.length; i += 1) params[names[i] as string] = values[i];
  return params;
}

/** Whether a rule answers the method (the matcher's test for the request's rule). */
function answers(rule: Rule<unknown>, method: string): boolean {
  return rule.methods.has(method);
}

/** Whether a rule redirects the path without its trailing slash to itself. */
function isStrict(rule: Rule<unknown>): boolean {
  return rule.strictSlashes;
}

function allowedList(methods: Set<string>): string[] {
  methods.add("OPTIONS");
  return [...methods].sort();
}

/** Whether every percent-encoded character of `path` decodes (else the request is a 400). */
function decodes(path: string): boolean {
  if (!path.includes("%")) return true;
  try {
    decodeURIComponent(path);
    return true;
  } catch {
    return false;
  }
}

const UNRESERVED = /[!'()*]/g;

function encodeSegment(text: string): string {
  return encodeURIComponent(text).replace(
    UNRESERVED,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/**
 * A Host header that is only an authority: a name or an IPv4 or bracketed IPv6 address, and a
 * port. Anything else (`@`, `/`, `\\`, spaces, non-ASCII) would make a URL point elsewhere.
 */
const AUTHORITY = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(?::\d{0,5})?$/;

/**
 * The `Location` of a redirect routing answers (the 308 of a missing trailing slash), absolute as
 * Werkzeug's `RequestRedirect` sends it: `scheme://host/path?query`, from the request's scheme and
 * `Host` (as the server resolved them, a trusted proxy's `X-Forwarded-*` included). Without a
 * `Host`, or with one that is not a plain authority, the path and query alone.
 */
export function redirectLocation(
  scheme: string,
  host: string | undefined,
  path: string,
  query: string,
): string {
  const target = query ? `${path}?${query}` : path;
  return host !== undefined && AUTHORITY.test(host) ? `${scheme}://${host}${target}` : target;
}

/** Accepts any rule: a WebSocket rule answers an upgrade whatever its method. */
function always(): boolean {
  return true;
}

/**
 * Every rule of an app: HTTP rules with payload `P`, WebSocket rules with payload `S`.
 *
 * @example
 * const map = new UrlMap<string, string>();
 * map.add("/user/<int:id>", { endpoint: "user", methods: ["GET"], payload: "user" });
 * map.addSocket("/chat/<room>", { endpoint: "chat", payload: "chat" });
 * map.match("GET", "/user/7"); // { kind: "found", params: { id: 7 }, … }
 * map.build("chat", { room: "lobby" }); // "/chat/lobby"
 */
export class UrlMap<P, S = never> {
  readonly #converters = new Map<string, ConverterFactory>(DEFAULT_CONVERTERS);
  readonly #matcher = new SegmentMatcher<Rule<P>>();
  readonly #socketMatcher = new SegmentMatcher<Rule<S>>();
  /** Every rule by endpoint; a `null` payload is a rule that only builds URLs. */
  readonly #byEndpoint = new Map<string, Rule<P | S | null>[]>();
  readonly #rules: Rule<P>[] = [];
  readonly #socketRules: Rule<S>[] = [];
  /** The rules without variables, by their path: most requests match one without a walk. */
  readonly #static = new Map<string, Rule<P>[]>();

  /** Registers a converter usable in rules as `<name:var>` or `<name(args):var>`. */
  addConverter(name: string, converter: ConverterFactory | Converter): void {
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name)) {
      throw new CarafeError(
        "ERR_BAD_CONVERTER",
        `converter name ${JSON.stringify(name)} is not an identifier`,
      );
    }
    this.#converters.set(name, typeof converter === "function" ? converter : () => converter);
  }

  /** Parses `rule` with this map's converters (throws `ERR_BAD_RULE` naming the rule). */
  parse(rule: string): ParsedRule {
    return parseRule(rule, this.#converters);
  }

  /** Adds a rule; the caller has checked the endpoint is not taken by another view. */
  add(
    rule: string,
    options: { endpoint: string; methods: readonly string[]; strictSlashes?: boolean; payload: P },
  ): Rule<P> {
    const methods = options.methods.map((method) => method.toUpperCase());
    const entry = new Rule(
      this.parse(rule),
      options.endpoint,
      methods,
      !methods.includes("OPTIONS"),
      options.strictSlashes ?? true,
      options.payload,
    );
    this.#matcher.insert(entry.parsed.segments, entry);
    this.#index(entry);
    this.#rules.push(entry);
    const segments = entry.parsed.segments;
    if (segments.every((segment) => segment.kind === "static")) {
      const path = `/${segments.map((segment) => segment.text).join("/")}`;
      const same = this.#static.get(path);
      if (same === undefined) this.#static.set(path, [entry]);
      else same.push(entry);
    }
    return entry;
  }

  /** Adds a WebSocket rule; the caller has checked the endpoint is not taken by another view. */
  addSocket(rule: string, options: { endpoint: string; payload: S }): Rule<S> {
    const entry = new Rule(
      this.parse(rule),
      options.endpoint,
      ["GET"],
      false,
      true,
      options.payload,
    );
    this.#socketMatcher.insert(entry.parsed.segments, entry);
    this.#index(entry);
    this.#socketRules.push(entry);
    return entry;
  }

  /**
   * Adds a rule that `build` uses and requests never match (Flask's `add_url_rule` without a
   * view): another name, or another path, for URLs of a view registered elsewhere.
   */
  addBuildOnly(rule: string, options: { endpoint: string; methods: readonly string[] }): void {
    const methods = options.methods.map((method) => method.toUpperCase());
    this.#index(new Rule(this.parse(rule), options.endpoint, methods, false, true, null));
  }

  #index(entry: Rule<P | S | null>): void {
    const list = this.#byEndpoint.get(entry.endpoint);
    if (list === undefined) this.#byEndpoint.set(entry.endpoint, [entry]);
    else list.push(entry);
  }

  /** Every HTTP rule, in registration order. */
  rules(): readonly Rule<P>[] {
    return this.#rules;
  }

  /** Every WebSocket rule, in registration order. */
  socketRules(): readonly Rule<S>[] {
    return this.#socketRules;
  }

  /** The rules, of either kind, registered under `endpoint` (empty when none). */
  rulesFor(endpoint: string): readonly Rule<P | S | null>[] {
    return this.#byEndpoint.get(endpoint) ?? [];
  }

  /** Finds the WebSocket rule for `path` (percent-encoded, without query). */
  matchSocket(path: string): MatchResult<S> {
    if (!decodes(path)) return { kind: "bad-path" };
    const values: unknown[] = [];
    const rule = this.#socketMatcher.find(path, always, undefined, values);
    if (rule === undefined) return { kind: "not-found" };
    return { kind: "found", rule, params: paramsOf(rule, values) };
  }

  /** Finds the rule for `method` and `path` (the percent-encoded path, without query). */
  match(method: string, path: string): MatchResult<P> {
    // The walk tries static children first, so a static rule for the whole path that answers
    // the method is what it would find too. Anything else (another method, a percent-encoded
    // path, a dynamic rule) takes the walk.
    if (!path.includes("%")) {
      const rules = this.#static.get(path);
      if (rules !== undefined) {
        for (const rule of rules) {
          if (answers(rule, method)) return { kind: "found", rule, params: {} };
        }
      }
    }
    if (!decodes(path)) return { kind: "bad-path" };
    const result = this.#matchPath(method, path);
    if (result.kind !== "not-found" || path.endsWith("/")) return result;
    // Werkzeug's strict slashes: `/dir` reaches a `/dir/` rule through a 308 redirect.
    const strict = this.#matcher.find(`${path}/`, isStrict, undefined, []);
    return strict !== undefined ? { kind: "redirect", path: `${path}/` } : result;
  }

  #matchPath(method: string, path: string): MatchResult<P> {
    const values: unknown[] = [];
    const rule = this.#matcher.find(path, answers, method, values);
    if (rule !== undefined) return { kind: "found", rule, params: paramsOf(rule, values) };
    const rules = this.#matcher.all(path);
    if (rules.length === 0) return { kind: "not-found" };
    const allowed = new Set<string>();
    for (const each of rules) for (const name of each.methods) allowed.add(name);
    if (method === "OPTIONS" && rules.every((each) => each.automaticOptions))
      return { kind: "options", allowed: allowedList(allowed) };
    return { kind: "method-not-allowed", allowed: allowedList(allowed) };
  }

  /**
   * Builds the path and query string for `endpoint` from `values`: converters turn values into
   * URL text, values the rule does not use go to the query string.
   */
  build(
    endpoint: string,
    values: Readonly<Record<string, unknown>>,
    options: BuildOptions = {},
  ): string {
    const candidates = this.#byEndpoint.get(endpoint);
    if (candidates === undefined) {
      throw new BuildError(`could not build a URL for endpoint '${endpoint}': no such endpoint`);
    }
    // `null` and `undefined` count as not given (Werkzeug's None).
    const provided = Object.keys(values).filter((key) => values[key] != null);
    const method = options.method?.toUpperCase();
    const rule =
      candidates.find(
        (each) =>
          (method === undefined || each.methods.has(method)) &&
          each.parsed.variables.every((name) => provided.includes(name)),
      ) ?? null;
    if (rule === null) {
      const first = candidates[0] as Rule<P | S>;
      const missing = first.parsed.variables.filter((name) => !provided.includes(name));
      throw new BuildError(
        missing.length > 0
          ? `could not build a URL for endpoint '${endpoint}' (rule '${first.rule}'): missing ${missing.map((name) => `'${name}'`).join(", ")}`
          : `could not build a URL for endpoint '${endpoint}': no rule accepts method ${method ?? ""}`,
      );
    }
    let path = "";
    for (const part of rule.parsed.parts) {
      if (part.kind === "static") {
        path += part.text.split("/").map(encodeSegment).join("/");
        continue;
      }
      let text: string;
      try {
        text = part.converter.toUrl(values[part.name]);
      } catch (error) {
        throw new BuildError(
          `could not build a URL for endpoint '${endpoint}': parameter '${part.name}': ${(error as Error).message}`,
        );
      }
      path +=
        part.converter.partIsolating === false
          ? text.split("/").map(encodeSegment).join("/")
          : encodeSegment(text);
    }
    const query = new URLSearchParams();
    for (const key of provided) {
      if (rule.parsed.variables.includes(key)) continue;
      const value = values[key];
      if (Array.isArray(value)) for (const item of value) query.append(key, String(item));
      else query.append(key, String(value));
    }
    const search = query.toString();
    return search ? `${path}?${search}` : path;
  }
}

// Small containers shared by requests and responses: a multi-valued dictionary (query strings,
// forms, files) and header maps for each direction.

import { BadRequest, CarafeError } from "../errors.ts";

/**
 * A dictionary whose keys may hold several values, in the order they arrived
 * (`?tag=a&tag=b`). `get` returns the first value, `getAll` all of them.
 *
 * @example
 * request.args.get("page", "1"); // "1" when absent
 * request.args.getAll("tag");    // ["a", "b"]
 */
export class MultiDict<V = string> implements Iterable<[string, V]> {
  readonly #map = new Map<string, V[]>();

  constructor(entries?: Iterable<readonly [string, V]>) {
    if (entries) for (const [key, value] of entries) this.append(key, value);
  }

  /**
   * The first value of `key`, or `fallback` (default `undefined`) when it is absent. With
   * `{ type, default }` the value goes through `type` first, as in Werkzeug: a `type` that
   * throws, or gives `NaN`, gives the default instead (`?n=abc` with `type: Number`). A blank
   * value given to `Number` gives the default too, as Python's `int("")` fails where
   * `Number("")` would be `0`.
   *
   * @example
   * request.args.get("page", { type: Number, default: 1 }); // 1 for ?page=x or no page
   */
  get(key: string): V | undefined;
  get<T, D = undefined>(key: string, options: GetOptions<V, T, D>): T | D;
  get<D>(key: string, fallback: D): V | D;
  get<T, D>(key: string, fallback?: D | GetOptions<V, T, D>): V | T | D | undefined {
    const values = this.#map.get(key);
    if (!isGetOptions<V, T, D>(fallback)) return values === undefined ? fallback : values[0];
    if (values === undefined) return fallback.default as D;
    if ((fallback.type as unknown) === Number && String(values[0]).trim() === "")
      return fallback.default as D;
    try {
      const converted = fallback.type(values[0] as V);
      return Number.isNaN(converted) ? (fallback.default as D) : converted;
    } catch {
      return fallback.default as D;
    }
  }

  /**
   * The first value of `key`; a 400 Bad Request naming the key when it is absent (Flask's
   * `request.form["title"]`).
   */
  require(key: string): V {
    const values = this.#map.get(key);
    if (values === undefined) throw new BadRequest(`The request has no '${key}'.`);
    return values[0] as V;
  }

  /** Every value of `key`, in arrival order; empty when it is absent. */
  getAll(key: string): V[] {
    return this.#map.get(key)?.slice() ?? [];
  }

  has(key: string): boolean {
    return this.#map.has(key);
  }

  /** Adds a value to `key`, keeping the ones it had. */
  append(key: string, value: V): void {
    const values = this.#map.get(key);
    if (values === undefined) this.#map.set(key, [value]);
    else values.push(value);
  }

  /** Replaces every value of `key` with one. */
  set(key: string, value: V): void {
    this.#map.set(key, [value]);
  }

  delete(key: string): void {
    this.#map.delete(key);
  }

  get size(): number {
    return this.#map.size;
  }

  keys(): IterableIterator<string> {
    return this.#map.keys();
  }

  /** The first value of each key, in key order (Werkzeug's `values()`; `getAll` for the rest). */
  *values(): IterableIterator<V> {
    for (const values of this.#map.values()) yield values[0] as V;
  }

  /** Each key with its first value (Werkzeug's `items()`; iterate the dict for every pair). */
  *items(): IterableIterator<[string, V]> {
    for (const [key, values] of this.#map) yield [key, values[0] as V];
  }

  /** Every `[key, value]` pair, repeated keys included. */
  *[Symbol.iterator](): Iterator<[string, V]> {
    for (const [key, values] of this.#map) for (const value of values) yield [key, value];
  }

  /** A plain object of first values (what `JSON.stringify` shows). */
  toJSON(): Record<string, V> {
    const out: Record<string, V> = {};
    for (const [key, values] of this.#map) out[key] = values[0] as V;
    return out;
  }
}

/** How `MultiDict.get` converts a value: `type` makes it, `default` stands in when it fails. */
export interface GetOptions<V, T, D> {
  type: (value: V) => T;
  default?: D;
}

function isGetOptions<V, T, D>(value: unknown): value is GetOptions<V, T, D> {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { type?: unknown }).type === "function"
  );
}

/** Read-only, case-insensitive view of a request's headers. */
export class RequestHeaders implements Iterable<[string, string]> {
  constructor(private readonly raw: Record<string, string>) {}

  /** The header's value (repeated headers joined with `, `), or `fallback` when it is absent. */
  get(name: string): string | undefined;
  get<D>(name: string, fallback: D): string | D;
  get<D>(name: string, fallback?: D): string | D | undefined {
    return this.raw[name.toLowerCase()] ?? fallback;
  }

  has(name: string): boolean {
    return this.raw[name.toLowerCase()] !== undefined;
  }

  [Symbol.iterator](): Iterator<[string, string]> {
    return Object.entries(this.raw)[Symbol.iterator]();
  }

  toJSON(): Record<string, string> {
    return { ...this.raw };
  }
}

/** A response's headers: case-insensitive, repeatable (`Set-Cookie`), kept in order. */
export class HeaderMap implements Iterable<[string, string]> {
  // Flat [name, value, name, value, …]: responses have few headers, so a linear scan beats a
  // Map, and this is already the shape node:http's writeHead takes.
  readonly #flat: string[];

  constructor(init?: HeadersInit) {
    this.#flat = [];
    if (init === undefined) return;
    if (init instanceof HeaderMap) this.#flat.push(...init.#flat);
    else if (Array.isArray(init)) for (const [name, value] of init) this.append(name, value);
    else for (const [name, value] of Object.entries(init)) this.append(name, value);
  }

  /** The first value of `name`, or `undefined`. */
  get(name: string): string | undefined {
    const index = this.#indexOf(name);
    return index < 0 ? undefined : this.#flat[index + 1];
  }

  /** Every value of `name`, in order. */
  getAll(name: string): string[] {
    const lower = name.toLowerCase();
    const values: string[] = [];
    for (let i = 0; i < this.#flat.length; i += 2) {
      if ((this.#flat[i] as string).toLowerCase() === lower)
        values.push(this.#flat[i + 1] as string);
    }
    return values;
  }

  has(name: string): boolean {
    return this.#indexOf(name) >= 0;
  }

  /** Replaces every value of `name` with one. */
  set(name: string, value: string | number): void {
    assertHeader(name, String(value));
    const index = this.#indexOf(name);
    if (index < 0) {
      this.#flat.push(name, String(value));
      return;
    }
    this.#flat[index + 1] = String(value);
    this.#removeFrom(name, index + 2);
  }

  /** Adds a value, keeping the ones `name` had. */
  append(name: string, value: string | number): void {
    assertHeader(name, String(value));
    this.#flat.push(name, String(value));
  }

  /** Sets `name` only when it has no value yet. */
  setDefault(name: string, value: string | number): void {
    if (this.#indexOf(name) < 0) this.append(name, value);
  }

  delete(name: string): void {
    this.#removeFrom(name, 0);
  }

  *[Symbol.iterator](): Iterator<[string, string]> {
    for (let i = 0; i < this.#flat.length; i += 2) {
      yield [this.#flat[i] as string, this.#flat[i + 1] as string];
    }
  }

  /** The flat `[name, value, …]` list a `ResponseRecord` carries. */
  toFlat(): string[] {
    return this.#flat.slice();
  }

  #indexOf(name: string): number {
    const lower = name.toLowerCase();
    for (let i = 0; i < this.#flat.length; i += 2) {
      const each = this.#flat[i] as string;
      // Only a name of the same length can match: most are skipped without a lowercase copy.
      if (each.length === lower.length && (each === name || each.toLowerCase() === lower)) {
        return i;
      }
    }
    return -1;
  }

  #removeFrom(name: string, start: number): void {
    const lower = name.toLowerCase();
    for (let i = this.#flat.length - 2; i >= start; i -= 2) {
      if ((this.#flat[i] as string).toLowerCase() === lower) this.#flat.splice(i, 2);
    }
  }
}

/** Headers as an object, a list of pairs, or another `HeaderMap`. */
export type HeadersInit =
  Record<string, string> | ReadonlyArray<readonly [string, string]> | HeaderMap;

// A header value with CR or LF would let a caller split the response (header injection).
const INVALID_HEADER_VALUE = /[\r\n\0]/;
const VALID_HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function assertHeader(name: string, value: string): void {
  if (!VALID_HEADER_NAME.test(name)) {
    throw new CarafeError(
      "ERR_BAD_HEADER",
      `header name ${JSON.stringify(name)} is not a token (letters, digits and !#$%&'*+-.^_\`|~); check its spelling`,
    );
  }
  if (INVALID_HEADER_VALUE.test(value)) {
    throw new CarafeError(
      "ERR_BAD_HEADER",
      `header ${name} has a line break or NUL in its value, which would split the response; encode the value first (encodeURIComponent)`,
    );
  }
}

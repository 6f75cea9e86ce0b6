// Jinja's item access in Nunjucks templates. Jinja reads `request.form['title']` as an item,
// and `session.user_id` as an item when there is no attribute of that name; Nunjucks compiles
// both `x.k` and `x['k']` to a property read, which a MultiDict, the request's headers, its
// cookie map or the session answer with nothing. So templates get a view of these objects: a
// Proxy made while a template renders (handling a request costs nothing) that answers a
// property read with the object's own member when it has one (`get`, `keys`, `size`) and with
// the value of that key otherwise (`undefined` when absent, which renders empty as Jinja's
// Undefined does). Iterating a view gives its keys, as iterating a Python dict does (the
// headers give `[name, value]` pairs, as Werkzeug's do); `'k' in view` tests a key.

import { MultiDict, Request, RequestHeaders, Session } from "../framework/index.ts";

/** What the dictionaries templates read have in common. */
interface Dictionary {
  get(key: string): unknown;
  has(key: string): boolean;
}

/** The keys of a dictionary, in its order. */
function keysOf(source: Dictionary): string[] {
  if (source instanceof RequestHeaders) return [...source].map(([name]) => name);
  return [...(source as Dictionary & { keys(): Iterable<string> }).keys()];
}

/** Python's `items()` and `values()`, for a dictionary that has no method of that name. */
const DICT_METHODS: Readonly<Record<string, (source: Dictionary) => () => unknown[]>> = {
  items: (source) => () => keysOf(source).map((key) => [key, templateValue(source.get(key))]),
  values: (source) => () => keysOf(source).map((key) => templateValue(source.get(key))),
};

/** Whether `value` is an iterator (what `keys()` returns), which Nunjucks' filters cannot read. */
function isIterator(value: unknown): value is IterableIterator<unknown> {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    typeof (value as Partial<Iterator<unknown>>).next === "function" &&
    Symbol.iterator in value
  );
}

/**
 * A member of `target` as a template reads it: a method is called on the real object (`this`
 * is not the view) and an iterator it returns becomes a list, as Jinja's `keys() | join` needs.
 */
function memberOf(target: object, key: string | symbol): unknown {
  const value: unknown = Reflect.get(target, key);
  if (typeof value !== "function") return templateValue(value);
  return (...args: unknown[]): unknown => {
    const result: unknown = Reflect.apply(value, target, args);
    return isIterator(result) ? Array.from(result, templateValue) : templateValue(result);
  };
}

function dictionaryView(source: Dictionary): object {
  const iterate =
    source instanceof RequestHeaders
      ? () => source[Symbol.iterator]()
      : () => keysOf(source)[Symbol.iterator]();
  // The target is a plain object, so Nunjucks treats the view as one ('in', for … in, length).
  return new Proxy(
    {},
    {
      get(_target, key) {
        if (key === Symbol.iterator) return iterate;
        if (typeof key === "symbol") return undefined;
        if (key in source) return memberOf(source, key);
        const method = DICT_METHODS[key];
        if (method !== undefined) return method(source);
        return templateValue(source.get(key));
      },
      has(_target, key) {
        return key === Symbol.iterator || (typeof key === "string" && source.has(key));
      },
      ownKeys() {
        return keysOf(source);
      },
      getOwnPropertyDescriptor(_target, key) {
        if (typeof key !== "string" || !source.has(key)) return undefined;
        const value = templateValue(source.get(key));
        return { value, enumerable: true, configurable: true, writable: false };
      },
    },
  );
}

function requestView(request: Request): object {
  return new Proxy(request, {
    // Getters run on the real request: its private fields are not the proxy's.
    get: (target, key) => memberOf(target, key),
  });
}

const views = new WeakMap<object, object>();

/**
 * `value` as a template reads it: a view with item access for the request, its MultiDicts,
 * headers and cookies, and the session; any other value as it is.
 */
export function templateValue(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  let view = views.get(value);
  if (view === undefined) {
    if (value instanceof Request) view = requestView(value);
    else if (
      value instanceof MultiDict ||
      value instanceof RequestHeaders ||
      value instanceof Session ||
      value instanceof Map
    ) {
      view = dictionaryView(value as Dictionary);
    } else return value;
    views.set(value, view);
  }
  return view;
}

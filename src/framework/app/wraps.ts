// Python's functools.wraps, for view decorators: the wrapper takes over the name of the view it
// wraps (so the endpoint a route derives from the name stays the view's), its own properties
// (`methods`, `viewClass`, …) and a reference to it (`__wrapped__`, which also tells the app
// that an `async` view sits inside a plain wrapper).

import { CarafeError } from "../errors.ts";

/** A function's own properties that describe the function itself, not the view. */
const INTRINSIC = new Set<PropertyKey>(["length", "name", "prototype", "arguments", "caller"]);

/**
 * Makes `wrapper` look like `wrapped` (Python's `functools.wraps`): it takes `wrapped`'s name, so
 * a route registered with it gets the view's endpoint, and copies its own enumerable properties
 * (the `methods` a class view carries, for one). `wrapper.__wrapped__` is `wrapped`. Returns
 * `wrapper`, typed as `wrapped` (typed route parameters included), so a decorator keeps the type
 * of the view it decorates.
 *
 * @example
 * function loginRequired<R extends string>(view: Handler<R>): Handler<R> {
 *   return wraps((req) => (g.user == null ? redirect(urlFor("auth.login")) : view(req)), view);
 * }
 * bp.route("/create", { methods: ["GET", "POST"] }, loginRequired(function create(req) { … }));
 * // endpoint "blog.create", as in Flask
 */
export function wraps<F extends (...args: never[]) => unknown>(
  wrapper: (this: ThisParameterType<F>, ...args: Parameters<F>) => ReturnType<F>,
  wrapped: F,
): F {
  if (typeof wrapper !== "function" || typeof wrapped !== "function") {
    throw new CarafeError(
      "ERR_BAD_WRAPS",
      `wraps(wrapper, wrapped) takes two functions: the new one first, then the one it wraps (got ${typeof wrapper} and ${typeof wrapped})`,
    );
  }
  for (const key of Reflect.ownKeys(wrapped)) {
    if (INTRINSIC.has(key)) continue;
    const descriptor = Reflect.getOwnPropertyDescriptor(wrapped, key);
    if (descriptor?.enumerable === true) Object.defineProperty(wrapper, key, descriptor);
  }
  Object.defineProperty(wrapper, "name", { value: wrapped.name, configurable: true });
  Object.defineProperty(wrapper, "__wrapped__", {
    value: wrapped,
    configurable: true,
    writable: true,
  });
  return wrapper as unknown as F;
}

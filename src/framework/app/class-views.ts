// Class-based views (Flask's `View` and `MethodView`): a class whose `asView(name, …args)` makes
// the view function a route registers. The function builds an instance per request (or one for
// all, with `initEveryRequest = false`), applies the class's `decorators`, and carries the
// class's `methods`, which a route takes when it names none.

import { isAsyncFunction } from "../context/context.ts";
import { CarafeError, MethodNotAllowed } from "../errors.ts";
import type { Request } from "../http/request.ts";
import type { ResponseValue } from "../http/response.ts";
import type { Awaitable, Handler, HttpMethod } from "./scaffold.ts";

/** A function that takes a view and returns the view to register (`loginRequired`). */
export type ViewDecorator = (view: Handler) => Handler;

/** The function `asView` makes: a view that carries its class and the methods it answers. */
export type ClassView<C = typeof View> = Handler & {
  /** The methods the route answers when it names none (the class's `methods`). */
  readonly methods?: readonly HttpMethod[];
  /** The class the view was made from (Flask's `view_class`). */
  readonly viewClass: C;
};

/** A concrete view class, as `asView` reads it: its constructor and its static settings. */
export type ViewClass = (new (...args: never[]) => View) & {
  readonly name: string;
  readonly methods?: readonly HttpMethod[];
  readonly decorators?: readonly ViewDecorator[];
  readonly initEveryRequest: boolean;
};

/** The methods a `MethodView` dispatches to, as Flask's `http_method_funcs`. */
const METHOD_FUNCTIONS = ["get", "post", "head", "options", "delete", "put", "trace", "patch"];

/**
 * A class-based view (Flask's `View`): implement `dispatchRequest`, then register
 * `MyView.asView(name, …constructorArgs)` as a route's view.
 *
 * @example
 * class ShowUsers extends View {
 *   static override methods = ["GET"];
 *   constructor(readonly template: string) { super(); }
 *   dispatchRequest() { return renderTemplate(this.template, { users: db.users() }); }
 * }
 * app.addUrlRule("/users/", { view: ShowUsers.asView("showUsers", "users.html") });
 */
export abstract class View {
  /** The methods the view answers; a route that names none takes them. Default: GET. */
  declare static methods?: readonly HttpMethod[];
  /** Applied in order to the function `asView` makes, the last one outermost. */
  declare static decorators?: readonly ViewDecorator[];
  /**
   * `true` (the default): each request gets a new instance, built with the arguments given to
   * `asView`. `false`: one instance, built by `asView`, serves every request, which saves the
   * construction when it is costly; then keep no request's data on `this`.
   */
  static initEveryRequest = true;

  /** Answers a request: what a function view would do. */
  abstract dispatchRequest(request: Request): Awaitable<ResponseValue>;

  /**
   * The view function of this class, for `route` or `addUrlRule`: `name` is its endpoint, and
   * `args` go to the constructor. An `async` `dispatchRequest` (or, on a `MethodView`, any
   * `async` method) makes it an async view, run where async views run.
   *
   * @example
   * app.route("/users/<int:id>", UserApi.asView("user", db));
   */
  static asView<C extends ViewClass>(
    this: C,
    name: string,
    ...args: ConstructorParameters<C>
  ): ClassView<C> {
    return makeView(this, name, args) as ClassView<C>;
  }
}

/**
 * A view that answers each method with the method of that name (Flask's `MethodView`): `get`,
 * `post`, `put`, `patch`, `delete`, … HEAD falls back to `get`. The methods the class defines
 * (its own and inherited ones) are the route's methods, unless the class sets `methods`.
 *
 * @example
 * class UserApi extends MethodView {
 *   get(req: Request) { return db.user(req.params.id); }
 *   async patch(req: Request) { return db.update(req.params.id, await req.json()); }
 * }
 * app.addUrlRule("/users/<int:id>", { view: UserApi.asView("user") }); // GET, HEAD, PATCH
 */
export class MethodView extends View {
  /** Calls the method named after the request's method (`get` for GET), or answers 405. */
  dispatchRequest(request: Request): Awaitable<ResponseValue> {
    const method = request.method;
    let handler = methodFunction(this, method.toLowerCase());
    if (handler === undefined && method === "HEAD") handler = methodFunction(this, "get");
    if (handler === undefined) {
      // The route lists a method the class does not define (`{ methods }` given to the route).
      const allowed = new Set(methodsOf(this.constructor as ViewClass) ?? []);
      if (allowed.has("GET")) allowed.add("HEAD");
      allowed.add("OPTIONS");
      throw new MethodNotAllowed([...allowed].sort());
    }
    return handler.call(this, request);
  }
}

/** `asView`'s work: the view function of `cls`, named `name`, its instances built from `args`. */
function makeView(cls: ViewClass, name: string, args: readonly unknown[]): Handler {
  if (typeof name !== "string" || name === "") {
    throw new CarafeError(
      "ERR_BAD_VIEW",
      `${cls.name}.asView(name): the name is the view's endpoint and must be a non-empty string (got ${JSON.stringify(name) ?? String(name)})`,
    );
  }
  const make = (): View => new cls(...(args as never[]));
  const shared = cls.initEveryRequest === false ? make() : undefined;
  const dispatch = (request: Request): Awaitable<ResponseValue> =>
    (shared ?? make()).dispatchRequest(request);
  let view: Handler = isAsyncClass(cls)
    ? async (request) => dispatch(request as Request)
    : (request) => dispatch(request as Request);
  nameView(view, name);
  (cls.decorators ?? []).forEach((decorator, index) => {
    const decorated: unknown = typeof decorator === "function" ? decorator(view) : decorator;
    if (typeof decorated !== "function") {
      throw new CarafeError(
        "ERR_BAD_VIEW",
        `${cls.name}.decorators[${index}] ${typeof decorator === "function" ? `returned ${typeof decorated}` : `is ${typeof decorator}`}; a decorator is a function that takes the view and returns a view function`,
      );
    }
    view = decorated as Handler;
  });
  nameView(view, name);
  const methods = methodsOf(cls);
  if (methods !== undefined) define(view, "methods", methods);
  define(view, "viewClass", cls);
  return view;
}

type MethodFunction = (this: View, request: Request) => Awaitable<ResponseValue>;

/** The instance's method named `name` (a lower-case HTTP method), if it has one. */
function methodFunction(view: View, name: string): MethodFunction | undefined {
  // `constructor` and `__proto__` are the object's, never an HTTP method's.
  if (name in Object.prototype) return undefined;
  const value: unknown = (view as unknown as Record<string, unknown>)[name];
  return typeof value === "function" ? (value as MethodFunction) : undefined;
}

/**
 * The methods of a view class: its own `methods`; on a `MethodView` that sets none, the
 * methods of its parent class and those it defines a function for (Flask's `__init_subclass__`).
 */
function methodsOf(cls: ViewClass): readonly HttpMethod[] | undefined {
  if (Object.hasOwn(cls, "methods") || !(cls.prototype instanceof MethodView)) return cls.methods;
  const methods = new Set<string>(methodsOf(Object.getPrototypeOf(cls) as ViewClass));
  for (const name of METHOD_FUNCTIONS) {
    if (typeof (cls.prototype as unknown as Record<string, unknown>)[name] === "function") {
      methods.add(name.toUpperCase());
    }
  }
  return methods.size > 0 ? [...methods] : undefined;
}

/** Whether the class's `dispatchRequest` or one of its method functions is `async`. */
function isAsyncClass(cls: ViewClass): boolean {
  const prototype = cls.prototype as Record<string, unknown>;
  return ["dispatchRequest", ...METHOD_FUNCTIONS].some((name) => isAsyncFunction(prototype[name]));
}

function nameView(view: Handler, name: string): void {
  Object.defineProperty(view, "name", { value: name, configurable: true });
}

/** An own, enumerable property, so that `wraps` copies it onto a decorator's wrapper. */
function define(view: Handler, key: string, value: unknown): void {
  Object.defineProperty(view, key, { value, enumerable: true, configurable: true, writable: true });
}

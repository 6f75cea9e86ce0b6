// Type tests for view decorators (`wraps`): checked by `npm run typecheck` (tsc over test/),
// never run. Each `Expect<Equal<…>>` fails to compile when a type is wrong, and each
// `@ts-expect-error` fails the build when the line below it compiles.

import {
  Blueprint,
  MethodView,
  View,
  redirect,
  wraps,
  type Handler,
  type Request,
  type RouteParams,
} from "carafe";

type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;

// ---- wraps returns the wrapped function's type ----------------------------------------------

const marked = Object.assign((a: number, b: string) => `${a}${b}`, { methods: ["GET"] });
const _wrapped = wraps((a, b) => {
  const _a: Expect<Equal<typeof a, number>> = true;
  const _b: Expect<Equal<typeof b, string>> = true;
  return marked(a, b);
}, marked);
const _same: Expect<Equal<typeof _wrapped, typeof marked>> = true;
const _methods: Expect<Equal<typeof _wrapped.methods, string[]>> = true;

const toText = (a: number): string => String(a);
// @ts-expect-error the wrapper must return what the wrapped function returns
wraps((a: number) => a, toText);

// ---- a decorator keeps the typed route parameters -------------------------------------------

function loginRequired<R extends string>(view: Handler<R>): Handler<R> {
  return wraps((req) => {
    const _req: Expect<Equal<typeof req, Parameters<Handler<R>>[0]>> = true;
    return req.args.has("user") ? view(req) : redirect("/login");
  }, view);
}

// An async wrapper fits a view's type too.
function audited<R extends string>(view: Handler<R>): Handler<R> {
  return wraps(async (req) => {
    await Promise.resolve();
    return view(req);
  }, view);
}

const blog = new Blueprint("blog");
blog.route(
  "/<int:id>/update",
  { methods: ["GET", "POST"] },
  loginRequired(function update(req) {
    const _id: Expect<Equal<typeof req.params.id, number>> = true;
    // @ts-expect-error a param not in the rule does not exist
    void req.params.slug;
    return String(req.params.id);
  }),
);
blog.get(
  "/<slug>",
  audited(
    loginRequired((req) => {
      const _slug: Expect<Equal<typeof req.params.slug, string>> = true;
      return req.params.slug;
    }),
  ),
);

// ---- addUrlRule types the view from the rule ------------------------------------------------

blog.addUrlRule("/tag/<any(a, b):tag>", {
  view: (req) => {
    const _tag: Expect<Equal<typeof req.params.tag, "a" | "b">> = true;
    return req.params.tag;
  },
});
blog.addUrlRule("/n/<int:n>", {
  // @ts-expect-error a view typed for other params does not fit the rule
  view: (req: Request<{ n: string }>) => req.params.n,
});

// ---- class views -----------------------------------------------------------------------------

class Greeting extends View {
  constructor(
    readonly word: string,
    readonly times: number,
  ) {
    super();
  }
  dispatchRequest(): string {
    return this.word.repeat(this.times);
  }
}
const greeting = Greeting.asView("greeting", "hi", 2);
const _viewClass: Expect<Equal<typeof greeting.viewClass, typeof Greeting>> = true;
blog.route("/greeting/<int:n>", greeting);
// @ts-expect-error asView passes its arguments to the constructor, typed
Greeting.asView("greeting", "hi", "2");
// @ts-expect-error a missing constructor argument
Greeting.asView("greeting", "hi");
// @ts-expect-error View is abstract: asView belongs to a concrete subclass
View.asView("view");

class NoDispatch extends View {
  // @ts-expect-error dispatchRequest must return what a view returns
  dispatchRequest(): number {
    return 1;
  }
}
void NoDispatch;

// A method may name the params of the rule it serves.
class UserApi extends MethodView {
  get(req: Request<RouteParams<"/users/<int:id>">>): string {
    return req.params.id.toFixed(0);
  }
}
blog.addUrlRule("/users/<int:id>", { view: UserApi.asView("user") });
blog.route("/people/<int:id>", loginRequired(UserApi.asView("person")));

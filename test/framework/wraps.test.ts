import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Blueprint, g, redirect, request, urlFor, wraps, type Handler, type Request } from "carafe";
import { newApp, isCarafeError } from "../helpers.ts";

declare module "carafe" {
  interface AppGlobals {
    wrapsUser?: string | null;
  }
}

/** Flaskr's `login_required`, ported. */
function loginRequired<R extends string>(view: Handler<R>): Handler<R> {
  return wraps(function wrappedView(req) {
    if (g.wrapsUser == null) return redirect(urlFor("auth.login"));
    return view(req);
  }, view);
}

describe("wraps", () => {
  it("keeps the view's endpoint behind a decorator, as functools.wraps does", async () => {
    const app = newApp();
    const auth = new Blueprint("auth", { urlPrefix: "/auth" });
    auth.get("/login", function login() {
      return "log in";
    });
    const blog = new Blueprint("blog");
    blog.beforeRequest((req) => {
      g.wrapsUser = req.args.get("user") ?? null;
    });
    blog.route(
      "/create",
      { methods: ["GET", "POST"] },
      loginRequired(function create(req) {
        return `${req.endpoint ?? ""} by ${g.wrapsUser ?? ""} at ${urlFor("blog.create")}`;
      }),
    );
    app.registerBlueprint(auth);
    app.registerBlueprint(blog);

    assert.deepEqual(
      app.listRoutes().map((route) => route.endpoint),
      ["auth.login", "blog.create"],
    );
    const client = app.testClient();
    const anonymous = await client.get("/create");
    assert.equal(anonymous.status, 302);
    assert.equal(anonymous.headers.get("location"), "/auth/login");
    assert.equal((await client.post("/create?user=ada")).text(), "blog.create by ada at /create");
  });

  it("copies the view's own properties and methods, and names the view __wrapped__", () => {
    const symbol = Symbol("mark");
    const view = Object.assign(
      function show() {
        return "show";
      },
      { methods: ["GET", "PUT"], label: "shown", [symbol]: 1 },
    );
    const wrapper = wraps(() => view(), view);
    assert.equal(wrapper.name, "show");
    assert.deepEqual(wrapper.methods, ["GET", "PUT"]);
    assert.equal(wrapper.label, "shown");
    assert.equal(wrapper[symbol], 1);
    assert.equal((wrapper as unknown as { __wrapped__: unknown }).__wrapped__, view);
    assert.equal(wrapper(), "show");
  });

  it("makes a route answer the methods the wrapped view carries", async () => {
    const app = newApp();
    const view = Object.assign(
      function item(req: Request) {
        return req.method;
      },
      { methods: ["GET", "DELETE"] },
    );
    app.route(
      "/item",
      wraps((req) => view(req), view),
    );
    const client = app.testClient();
    assert.equal((await client.delete("/item")).text(), "DELETE");
    const refused = await client.post("/item");
    assert.equal(refused.status, 405);
    assert.equal(refused.headers.get("allow"), "DELETE, GET, HEAD, OPTIONS");
  });

  it("keeps the request context across the awaits of an async view inside a plain wrapper", async () => {
    const app = newApp();
    const view = async function slow(req: Request): Promise<string> {
      await new Promise<void>((resolve) => setImmediate(resolve));
      return `${request.path} ${req.endpoint ?? ""}`;
    };
    // A plain function that returns the async view's promise.
    app.get(
      "/slow",
      wraps((req) => view(req), view),
    );
    const res = await app.testClient().get("/slow");
    assert.equal(res.status, 200);
    assert.equal(res.text(), "/slow slow");
    assert.deepEqual(
      app.listRoutes().map((route) => route.withThreads),
      ["loop"],
    );
  });

  it("refuses what is not a function", () => {
    assert.throws(
      () => wraps("view" as unknown as () => string, () => "x"),
      isCarafeError("ERR_BAD_WRAPS", /two functions/),
    );
  });
});

describe("routes take their methods from the view", () => {
  it("uses the view's methods when the route names none, its own when it does", async () => {
    const app = newApp();
    const both = Object.assign(
      function both(req: Request) {
        return req.method;
      },
      { methods: ["get", "post"] },
    );
    const listed = Object.assign(
      function listed(req: Request) {
        return req.method;
      },
      { methods: ["GET", "POST"] },
    );
    app.route("/both", both);
    app.route("/listed", { methods: ["PUT"] }, listed);
    const client = app.testClient();
    assert.equal((await client.post("/both")).text(), "POST");
    assert.equal((await client.get("/both")).text(), "GET");
    assert.equal((await client.put("/listed")).text(), "PUT");
    assert.equal((await client.post("/listed")).status, 405);
  });

  it("refuses a methods property that lists no method names", () => {
    const app = newApp();
    for (const methods of [[], "GET", [1], {}]) {
      const view = Object.assign(() => "x", { methods });
      assert.throws(
        () => app.route("/x", view as unknown as Handler<"/x">),
        isCarafeError("ERR_BAD_ROUTE", /the view's own methods property must list method names/),
        JSON.stringify(methods),
      );
    }
  });

  it("registers a view with addUrlRule, as Flask's add_url_rule", async () => {
    const app = newApp();
    const view = Object.assign(
      function user(req: Request<{ id: number }>) {
        return `user ${req.params.id + 1} ${req.method}`;
      },
      { methods: ["GET", "PATCH"] },
    );
    app.addUrlRule("/users/<int:id>", { view });
    app.addUrlRule("/people/<int:id>", { view: () => "person", endpoint: "person" });
    const client = app.testClient();
    assert.equal((await client.patch("/users/1")).text(), "user 2 PATCH");
    assert.equal(app.urlFor("user", { id: 4 }), "/users/4");
    assert.equal(app.urlFor("person", { id: 5 }), "/people/5");
    assert.throws(
      () => app.addUrlRule("/z", undefined as unknown as { view: Handler<"/z"> }),
      isCarafeError("ERR_BAD_ROUTE", /\{ view \}/),
    );
    assert.throws(
      () => app.addUrlRule("/z", {} as unknown as { view: Handler<"/z"> }),
      isCarafeError("ERR_BAD_ROUTE", /give the view \(\{ view \}\), or the endpoint/),
    );
  });
});

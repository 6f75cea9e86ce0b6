import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Blueprint, CarafeError, NotFound, abort, json, makeResponse } from "carafe";
import { newApp, isCarafeError } from "../helpers.ts";

describe("blueprint routes", () => {
  it("serves routes under the blueprint's urlPrefix", async () => {
    const app = newApp();
    const admin = new Blueprint("admin", { urlPrefix: "/admin" });
    admin.get("/", function index() {
      return "admin home";
    });
    admin.get("/users/<int:id>", function user(req) {
      return `user ${req.params.id}`;
    });
    app.registerBlueprint(admin);
    const client = app.testClient();
    assert.equal((await client.get("/admin/")).text(), "admin home");
    assert.equal((await client.get("/admin/users/3")).text(), "user 3");
    assert.equal((await client.get("/users/3")).status, 404);
  });

  it("names endpoints 'blueprint.view' and records the blueprint on the request", async () => {
    const app = newApp();
    const admin = new Blueprint("admin", { urlPrefix: "/admin" });
    admin.get("/users/<int:id>", function user(req) {
      return { endpoint: req.endpoint, blueprint: req.blueprint, rule: req.rule };
    });
    app.get("/", function index(req) {
      return { endpoint: req.endpoint, blueprint: req.blueprint ?? null };
    });
    app.registerBlueprint(admin);
    const client = app.testClient();
    assert.deepEqual((await client.get("/admin/users/1")).json(), {
      endpoint: "admin.user",
      blueprint: "admin",
      rule: "/admin/users/<int:id>",
    });
    assert.deepEqual((await client.get("/")).json(), { endpoint: "index", blueprint: null });
    assert.equal(app.urlFor("admin.user", { id: 9 }), "/admin/users/9");
  });

  it("serves a blueprint without a prefix at the root", async () => {
    const app = newApp();
    const pages = new Blueprint("pages");
    pages.get("/about", function about() {
      return "about";
    });
    app.registerBlueprint(pages);
    assert.equal((await app.testClient().get("/about")).text(), "about");
    assert.equal(app.urlFor("pages.about"), "/about");
  });

  it("lets registerBlueprint's urlPrefix override the blueprint's own", async () => {
    const app = newApp();
    const api = new Blueprint("api", { urlPrefix: "/api" });
    api.get("/items", function items() {
      return [1, 2];
    });
    app.registerBlueprint(api, { urlPrefix: "/v2/" });
    const client = app.testClient();
    assert.deepEqual((await client.get("/v2/items")).json(), [1, 2]);
    assert.equal((await client.get("/api/items")).status, 404);
  });

  it("mounts one blueprint twice under different names and prefixes", async () => {
    const app = newApp();
    const api = new Blueprint("api");
    api.get("/ping", function ping(req) {
      return String(req.endpoint);
    });
    app.registerBlueprint(api, { urlPrefix: "/v1" });
    app.registerBlueprint(api, { urlPrefix: "/v2", name: "api_v2" });
    const client = app.testClient();
    assert.equal((await client.get("/v1/ping")).text(), "api.ping");
    assert.equal((await client.get("/v2/ping")).text(), "api_v2.ping");
    assert.equal(app.urlFor("api_v2.ping"), "/v2/ping");
    assert.equal(app.urlFor("api.ping"), "/v1/ping");
  });

  it("refuses a prefix that does not start with '/'", () => {
    const app = newApp();
    assert.throws(
      () => app.registerBlueprint(new Blueprint("x"), { urlPrefix: "admin" }),
      isCarafeError("ERR_BAD_BLUEPRINT", /must start with '\/'/),
    );
  });

  it("refuses a blueprint name that is empty or has a dot", () => {
    assert.throws(() => new Blueprint(""), isCarafeError("ERR_BAD_BLUEPRINT"));
    assert.throws(() => new Blueprint("a.b"), isCarafeError("ERR_BAD_BLUEPRINT"));
  });
});

describe("blueprint hooks", () => {
  it("runs a blueprint's hooks only for its own routes", async () => {
    const app = newApp();
    const admin = new Blueprint("admin", { urlPrefix: "/admin" });
    const calls: string[] = [];
    admin.beforeRequest((req) => {
      calls.push(`before ${req.path}`);
    });
    admin.afterRequest((response) => {
      response.headers.set("X-Admin", "1");
    });
    admin.teardownRequest(() => {
      calls.push("teardown");
    });
    admin.get("/", function index() {
      return "admin";
    });
    app.get("/", function home() {
      return "home";
    });
    app.registerBlueprint(admin);
    const client = app.testClient();
    const home = await client.get("/");
    assert.equal(home.headers.has("x-admin"), false);
    assert.deepEqual(calls, []);
    const adminRes = await client.get("/admin/");
    assert.equal(adminRes.headers.get("x-admin"), "1");
    assert.deepEqual(calls, ["before /admin/", "teardown"]);
  });

  it("lets a blueprint's beforeRequest short-circuit its routes only", async () => {
    const app = newApp();
    const admin = new Blueprint("admin", { urlPrefix: "/admin" });
    admin.beforeRequest((req) =>
      req.headers.get("x-role") === "admin" ? undefined : abort(403, "Admins only."),
    );
    admin.get("/", function index() {
      return "admin";
    });
    app.get("/", function home() {
      return "home";
    });
    app.registerBlueprint(admin);
    const client = app.testClient();
    assert.equal((await client.get("/admin/")).status, 403);
    assert.equal((await client.get("/admin/", { headers: { "x-role": "admin" } })).text(), "admin");
    assert.equal((await client.get("/")).text(), "home");
  });

  it("keeps the hooks of one blueprint away from another's routes", async () => {
    const app = newApp();
    const a = new Blueprint("a", { urlPrefix: "/a" });
    const b = new Blueprint("b", { urlPrefix: "/b" });
    a.afterRequest((response) => {
      response.headers.set("X-From", "a");
    });
    a.get("/", function index() {
      return "a";
    });
    b.get("/", function index() {
      return "b";
    });
    app.registerBlueprint(a);
    app.registerBlueprint(b);
    const client = app.testClient();
    assert.equal((await client.get("/a/")).headers.get("x-from"), "a");
    assert.equal((await client.get("/b/")).headers.has("x-from"), false);
  });
});

class ItemMissing extends Error {}

describe("blueprint error handlers", () => {
  it("uses the blueprint's handler over the app's for the blueprint's routes", async () => {
    const app = newApp();
    const api = new Blueprint("api", { urlPrefix: "/api" });
    api.errorHandler(404, (error) => json({ error: error.description }, 404));
    api.get("/items/<int:id>", function item() {
      return abort(404, "No such item.");
    });
    app.errorHandler(404, () => makeResponse("<h1>app 404</h1>", 404));
    app.get("/page", function page() {
      return abort(404);
    });
    app.registerBlueprint(api);
    const client = app.testClient();
    const fromBlueprint = await client.get("/api/items/1");
    assert.equal(fromBlueprint.status, 404);
    assert.deepEqual(fromBlueprint.json(), { error: "No such item." });
    const fromApp = await client.get("/page");
    assert.equal(fromApp.text(), "<h1>app 404</h1>");
  });

  it("uses the blueprint's class handler over the app's for the blueprint's routes", async () => {
    const app = newApp();
    const shop = new Blueprint("shop", { urlPrefix: "/shop" });
    shop.errorHandler(ItemMissing, () => makeResponse("shop handler", 410));
    shop.get("/x", function x() {
      throw new ItemMissing();
    });
    app.errorHandler(ItemMissing, () => makeResponse("app handler", 404));
    app.get("/x", function x() {
      throw new ItemMissing();
    });
    app.registerBlueprint(shop);
    const client = app.testClient();
    const fromShop = await client.get("/shop/x");
    assert.equal(fromShop.status, 410);
    assert.equal(fromShop.text(), "shop handler");
    const fromApp = await client.get("/x");
    assert.equal(fromApp.status, 404);
    assert.equal(fromApp.text(), "app handler");
  });

  it("does not apply a blueprint's handler to other routes", async () => {
    const app = newApp();
    const api = new Blueprint("api", { urlPrefix: "/api" });
    api.errorHandler(NotFound, () => "blueprint handler");
    api.get("/x", function x() {
      return "x";
    });
    app.get("/missing", function missing() {
      return abort(404);
    });
    app.registerBlueprint(api);
    const res = await app.testClient().get("/missing");
    assert.equal(res.status, 404);
    assert.notEqual(res.text(), "blueprint handler");
  });

  it("falls back to the app's handler when the blueprint has none for the error", async () => {
    const app = newApp();
    const api = new Blueprint("api", { urlPrefix: "/api" });
    api.errorHandler(404, () => "bp 404");
    api.get("/x", function x() {
      return abort(409);
    });
    app.errorHandler(409, () => makeResponse("app 409", 409));
    app.registerBlueprint(api);
    const res = await app.testClient().get("/api/x");
    assert.equal(res.status, 409);
    assert.equal(res.text(), "app 409");
  });
});

describe("registration rules", () => {
  it("refuses to register the same name twice", () => {
    const app = newApp();
    app.registerBlueprint(new Blueprint("admin"), { urlPrefix: "/a" });
    assert.throws(
      () => app.registerBlueprint(new Blueprint("admin"), { urlPrefix: "/b" }),
      isCarafeError("ERR_DUPLICATE_BLUEPRINT", /'admin' is already registered/),
    );
  });

  it("refuses to register one blueprint twice under the same name", () => {
    const app = newApp();
    const bp = new Blueprint("bp");
    app.registerBlueprint(bp, { urlPrefix: "/one" });
    assert.throws(
      () => app.registerBlueprint(bp, { urlPrefix: "/two" }),
      isCarafeError("ERR_DUPLICATE_BLUEPRINT"),
    );
  });

  it("refuses routes, hooks and handlers added to a blueprint after registration", () => {
    const app = newApp();
    const bp = new Blueprint("late");
    bp.get("/early", function early() {
      return "early";
    });
    app.registerBlueprint(bp);
    const setup: [string, () => unknown][] = [
      ["route", () => bp.route("/late", () => "late")],
      ["get", () => bp.get("/late", () => "late")],
      ["post", () => bp.post("/late", () => "late")],
      ["beforeRequest", () => bp.beforeRequest(() => undefined)],
      ["afterRequest", () => bp.afterRequest(() => undefined)],
      ["teardownRequest", () => bp.teardownRequest(() => undefined)],
      ["errorHandler", () => bp.errorHandler(404, () => "x")],
    ];
    for (const [name, call] of setup) {
      assert.throws(
        call,
        isCarafeError("ERR_SETUP_FINISHED", /blueprint 'late' after it was registered/),
        name,
      );
    }
    assert.deepEqual(
      bp.routes.map((route) => route.rule),
      ["/early"],
    );
  });

  it("fails fast when the app is set up after its first request", async () => {
    const app = newApp();
    app.get("/", function index() {
      return "ok";
    });
    assert.equal(app.serving, false);
    assert.equal((await app.testClient().get("/")).text(), "ok");
    assert.equal(app.serving, true);
    const setup: [string, () => unknown][] = [
      ["route", () => app.route("/late", () => "late")],
      ["get", () => app.get("/late", () => "late")],
      ["beforeRequest", () => app.beforeRequest(() => undefined)],
      ["afterRequest", () => app.afterRequest(() => undefined)],
      ["teardownRequest", () => app.teardownRequest(() => undefined)],
      ["errorHandler", () => app.errorHandler(500, () => "x")],
      ["registerBlueprint", () => app.registerBlueprint(new Blueprint("late"))],
      [
        "addConverter",
        () => app.addConverter("hex", { regex: "[0-9a-f]+", toValue: (s) => s, toUrl: String }),
      ],
    ];
    for (const [name, call] of setup) {
      assert.throws(
        call,
        isCarafeError("ERR_SETUP_FINISHED", /after the app started serving requests/),
        name,
      );
    }
    assert.equal((await app.testClient().get("/late")).status, 404);
  });

  it("names the call that came too late in the error message", async () => {
    const app = newApp();
    app.get("/", () => "ok");
    await app.testClient().get("/");
    assert.throws(
      () => app.route("/too-late", () => "x"),
      isCarafeError("ERR_SETUP_FINISHED", /route\("\/too-late"\)/),
    );
    assert.throws(
      () => app.registerBlueprint(new Blueprint("tardy")),
      isCarafeError("ERR_SETUP_FINISHED", /registerBlueprint\('tardy'\)/),
    );
  });

  it("refuses two routes with one endpoint name but different handlers", () => {
    const app = newApp();
    const bp = new Blueprint("bp");
    bp.get("/a", { endpoint: "same" }, () => "a");
    bp.get("/b", { endpoint: "same" }, () => "b");
    assert.throws(() => app.registerBlueprint(bp), isCarafeError("ERR_DUPLICATE_ENDPOINT"));
  });
});

describe("failed blueprint registration", () => {
  it("leaves the app unchanged when one of the blueprint's rules is refused", async () => {
    const app = newApp();
    const bp = new Blueprint("bp");
    bp.get("/ok", function ok() {
      return "ok";
    });
    bp.get("/bad", { endpoint: "ok" }, () => "another handler");
    assert.throws(() => app.registerBlueprint(bp), CarafeError);
    assert.equal(app.urlMap.rules().filter((rule) => rule.endpoint.startsWith("bp.")).length, 0);
    assert.equal((await app.testClient().get("/ok")).status, 404);
  });
});

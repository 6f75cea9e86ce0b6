// A blueprint's app-wide hooks (Flask's before_app_request and kin): registered on the app when
// the blueprint is, so they run for every request of the app.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Blueprint, CarafeError, NotFound, g, json, makeResponse } from "carafe";
import { newApp } from "../helpers.ts";

describe("blueprint app-wide hooks", () => {
  it("run before and after every request of the app, in Flask's order", async () => {
    const app = newApp();
    const calls: string[] = [];
    const bp = new Blueprint("bp");
    app.beforeRequest(() => void calls.push("app1"));
    bp.beforeAppRequest(() => void calls.push("bp-app"));
    bp.beforeRequest(() => void calls.push("bp-own"));
    bp.afterAppRequest(() => void calls.push("bp-after-app"));
    bp.get("/b", function b() {
      return "b";
    });
    app.get("/a", function a() {
      return "a";
    });
    app.registerBlueprint(bp);
    app.registerBlueprint(bp, { name: "again", urlPrefix: "/again" });
    app.beforeRequest(() => void calls.push("app2"));
    app.afterRequest(() => void calls.push("app-after"));
    const client = app.testClient();
    // What Flask 3.1 records for the same app.
    await client.get("/a");
    assert.deepEqual(calls, ["app1", "bp-app", "app2", "app-after", "bp-after-app"]);
    calls.length = 0;
    await client.get("/b");
    assert.deepEqual(calls, ["app1", "bp-app", "app2", "bp-own", "app-after", "bp-after-app"]);
    calls.length = 0;
    await client.get("/again/b");
    assert.deepEqual(calls, ["app1", "bp-app", "app2", "bp-own", "app-after", "bp-after-app"]);
  });

  it("load the user for every page, as Flaskr's auth blueprint does", async () => {
    const app = newApp({ secretKey: "s3cret" });
    const auth = new Blueprint("auth", { urlPrefix: "/auth" });
    auth.beforeAppRequest((req) => {
      g["user"] = req.headers.get("x-user", null);
    });
    auth.get("/whoami", function whoami() {
      return { user: g["user"] ?? null };
    });
    app.registerBlueprint(auth);
    app.get("/", function index() {
      return { user: g["user"] ?? null };
    });
    const client = app.testClient();
    assert.deepEqual((await client.get("/", { headers: { "x-user": "ada" } })).json(), {
      user: "ada",
    });
    assert.deepEqual((await client.get("/auth/whoami")).json(), { user: null });
  });

  it("answer the request when a beforeAppRequest hook returns a value", async () => {
    const app = newApp();
    const gate = new Blueprint("gate");
    gate.beforeAppRequest((req) => (req.args.has("deny") ? json({ denied: true }, 403) : null));
    app.get("/", () => "open");
    app.registerBlueprint(gate);
    const client = app.testClient();
    assert.equal((await client.get("/")).text(), "open");
    const denied = await client.get("/", { query: { deny: "1" } });
    assert.equal(denied.status, 403);
    assert.deepEqual(denied.json(), { denied: true });
  });

  it("run teardownAppRequest after every request, with the error", async () => {
    const app = newApp();
    const seen: unknown[] = [];
    const db = new Blueprint("db");
    db.teardownAppRequest((error) => void seen.push(error ?? "clean"));
    app.get("/", () => "ok");
    app.get("/fail", () => {
      throw new TypeError("boom");
    });
    app.registerBlueprint(db);
    app.logger = { error: () => {}, warn: () => {}, info: () => {} };
    const client = app.testClient();
    await client.get("/");
    assert.equal((await client.get("/fail")).status, 500);
    assert.equal(seen[0], "clean");
    assert.ok(seen[1] instanceof TypeError);
  });

  it("handle errors of the whole app with appErrorHandler; a blueprint's own handler wins", async () => {
    const app = newApp();
    const errors = new Blueprint("errors");
    errors.appErrorHandler(404, () => makeResponse("app-wide 404", 404));
    errors.appErrorHandler(RangeError, (error) => makeResponse(`range: ${error.message}`, 400));
    const shop = new Blueprint("shop", { urlPrefix: "/shop" });
    shop.errorHandler(404, () => makeResponse("no such product", 404));
    shop.get("/<int:id>", function product() {
      throw new NotFound();
    });
    app.get("/range", () => {
      throw new RangeError("too big");
    });
    app.registerBlueprint(errors);
    app.registerBlueprint(shop);
    const client = app.testClient();
    assert.equal((await client.get("/nowhere")).text(), "app-wide 404");
    assert.equal((await client.get("/shop/3")).text(), "no such product");
    const range = await client.get("/range");
    assert.equal(range.status, 400);
    assert.equal(range.text(), "range: too big");
  });

  it("refuse a bad status at the call and app-wide hooks after registration", () => {
    const bp = new Blueprint("bp");
    assert.throws(
      () => bp.appErrorHandler(200, () => "x"),
      (error: unknown) => error instanceof CarafeError && error.code === "ERR_BAD_ERROR_HANDLER",
    );
    newApp().registerBlueprint(bp);
    for (const register of [
      () => bp.beforeAppRequest(() => undefined),
      () => bp.afterAppRequest(() => undefined),
      () => bp.teardownAppRequest(() => undefined),
      () => bp.appErrorHandler(404, () => "x"),
      () => bp.appContextProcessor(() => ({})),
      () => bp.appTemplateGlobal("x", () => 1),
    ]) {
      assert.throws(register, { code: "ERR_SETUP_FINISHED", message: /blueprint 'bp'/ });
    }
  });

  it("add app-wide hooks to each app that registers the blueprint", async () => {
    const bp = new Blueprint("stamp");
    bp.afterAppRequest((res) => {
      res.headers.set("X-Stamp", "yes");
    });
    const one = newApp();
    const two = newApp();
    one.get("/", () => "one");
    two.get("/", () => "two");
    one.registerBlueprint(bp);
    two.registerBlueprint(bp);
    assert.equal((await one.testClient().get("/")).headers.get("x-stamp"), "yes");
    assert.equal((await two.testClient().get("/")).headers.get("x-stamp"), "yes");
  });
});

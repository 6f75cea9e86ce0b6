import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { TestClient, g, redirect, session } from "carafe";
import { newApp, isCarafeError } from "../helpers.ts";

declare module "carafe" {
  interface AppGlobals {
    visitor?: string;
  }
  interface SessionData {
    userId?: number;
    theme?: string;
  }
}

function loginApp(): ReturnType<typeof newApp> {
  const app = newApp({ secretKey: "test-secret" });
  app.beforeRequest((req) => {
    g.visitor = req.args.get("as") ?? "anonymous";
  });
  app.post("/login", function login() {
    session.set("userId", 7);
    return redirect("/");
  });
  app.get("/", function index() {
    return `user ${session.get("userId") ?? "none"}, theme ${session.get("theme") ?? "none"}`;
  });
  app.get("/later", async function later() {
    await new Promise<void>((resolve) => setImmediate(resolve));
    g.visitor = `${g.visitor ?? ""} (async)`;
    return "later";
  });
  return app;
}

describe("client.session and client.g", () => {
  it("are those of the last request handled, as inside Flask's `with client:`", async () => {
    const client = loginApp().testClient();
    await client.post("/login?as=ada");
    assert.equal(client.session.get("userId"), 7);
    assert.equal(client.g.visitor, "ada");
    await client.get("/later?as=bob");
    assert.equal(client.g.visitor, "bob (async)");
    assert.equal(client.session.get("userId"), 7);
  });

  it("say so when no request was sent, or the last one had no context", async () => {
    const app = loginApp();
    app.config.trustedHosts = ["example.com"];
    const client = app.testClient();
    assert.throws(() => client.session, isCarafeError("ERR_NO_TEST_REQUEST", /has sent none yet/));
    assert.throws(() => client.g, isCarafeError("ERR_NO_TEST_REQUEST", /client\.g is the g/));
    const res = await client.get("/", { headers: { host: "example.com" } });
    assert.equal(res.status, 200);
    assert.equal(client.g.visitor, "anonymous");
    assert.equal((await client.get("/")).status, 400);
    assert.throws(() => client.g, isCarafeError("ERR_NO_TEST_REQUEST", /refused before/));
  });

  it("are not there for an app that only handles records", async () => {
    const app = loginApp();
    const client = new TestClient({
      planOf: (method, url) => app.planOf(method, url),
      handle: (record, plan) => app.handle(record, plan),
    });
    assert.equal((await client.get("/")).status, 200);
    assert.throws(() => client.session, isCarafeError("ERR_TEST_CLIENT", /needs a Carafe app/));
    await assert.rejects(
      client.sessionTransaction(() => {}),
      isCarafeError("ERR_TEST_CLIENT", /sessionTransaction\(\) needs a Carafe app/),
    );
  });
});

describe("client.sessionTransaction", () => {
  it("sets up a session the next request reads", async () => {
    const client = loginApp().testClient();
    const result = await client.sessionTransaction((sess) => {
      assert.equal(sess.get("userId"), undefined);
      sess.set("userId", 3);
      return "done";
    });
    assert.equal(result, "done");
    assert.equal((await client.get("/")).text(), "user 3, theme none");
  });

  it("changes the session the client's cookie holds, async functions included", async () => {
    const client = loginApp().testClient();
    await client.post("/login");
    await client.sessionTransaction(async (sess) => {
      await Promise.resolve();
      assert.equal(sess.get("userId"), 7);
      sess.set("theme", "dark");
    });
    assert.equal((await client.get("/")).text(), "user 7, theme dark");
    await client.sessionTransaction((sess) => sess.clear());
    assert.equal(client.getCookie("session"), undefined);
    assert.equal((await client.get("/")).text(), "user none, theme none");
  });

  it("leaves the cookie as it was when the function throws", async () => {
    const client = loginApp().testClient();
    await client.post("/login");
    const before = client.getCookie("session");
    await assert.rejects(
      client.sessionTransaction((sess) => {
        sess.set("userId", 99);
        throw new Error("changed my mind");
      }),
      /changed my mind/,
    );
    assert.equal(client.getCookie("session"), before);
    assert.equal((await client.get("/")).text(), "user 7, theme none");
  });

  it("needs the app's secret key", async () => {
    const client = newApp().testClient();
    await assert.rejects(
      client.sessionTransaction((sess) => sess.set("userId", 1)),
      isCarafeError("ERR_NO_SECRET_KEY", /sessionTransaction\(\).*secret key/),
    );
  });
});

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Blueprint, Response, abort, g, json } from "carafe";
import { captureLogs, deferred, newApp } from "../helpers.ts";

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe("beforeRequest", () => {
  it("short-circuits the view when a beforeRequest hook returns a value", async () => {
    const app = newApp();
    const calls: string[] = [];
    app.beforeRequest((req) => {
      calls.push("hook");
      if (!req.headers.has("x-token")) return json({ error: "token required" }, 401);
    });
    app.beforeRequest(() => {
      calls.push("second hook");
    });
    app.get("/", () => {
      calls.push("view");
      return "secret";
    });
    const client = app.testClient();
    const denied = await client.get("/");
    assert.equal(denied.status, 401);
    assert.deepEqual(denied.json(), { error: "token required" });
    assert.deepEqual(calls, ["hook"]);
    calls.length = 0;
    const allowed = await client.get("/", { headers: { "x-token": "t" } });
    assert.equal(allowed.text(), "secret");
    assert.deepEqual(calls, ["hook", "second hook", "view"]);
  });

  it("converts a short-circuit value like a view's (string → HTML)", async () => {
    const app = newApp();
    app.beforeRequest(() => "maintenance");
    app.get("/", () => "view");
    const res = await app.testClient().get("/");
    assert.equal(res.status, 200);
    assert.equal(res.text(), "maintenance");
    assert.equal(res.mimetype, "text/html");
  });

  it("runs app hooks, then blueprint hooks, each in registration order", async () => {
    const app = newApp();
    const bp = new Blueprint("admin");
    const calls: string[] = [];
    bp.beforeRequest(() => {
      calls.push("bp 1");
    });
    bp.beforeRequest(() => {
      calls.push("bp 2");
    });
    bp.get("/", function index() {
      calls.push("view");
      return "admin";
    });
    app.beforeRequest(() => {
      calls.push("app 1");
    });
    app.beforeRequest(() => {
      calls.push("app 2");
    });
    app.registerBlueprint(bp, { urlPrefix: "/admin" });
    await app.testClient().get("/admin/");
    assert.deepEqual(calls, ["app 1", "app 2", "bp 1", "bp 2", "view"]);
  });

  it("lets an app hook short-circuit before any blueprint hook runs", async () => {
    const app = newApp();
    const bp = new Blueprint("admin");
    let blueprintHookRan = false;
    bp.beforeRequest(() => {
      blueprintHookRan = true;
    });
    bp.get("/", function index() {
      return "admin";
    });
    app.beforeRequest(() => "stopped by app");
    app.registerBlueprint(bp, { urlPrefix: "/admin" });
    const res = await app.testClient().get("/admin/");
    assert.equal(res.text(), "stopped by app");
    assert.equal(blueprintHookRan, false);
  });

  it("sees the matched endpoint and params", async () => {
    const app = newApp();
    let seen: unknown;
    app.beforeRequest((req) => {
      seen = { endpoint: req.endpoint, params: req.params };
    });
    app.get("/user/<int:id>", function user(req) {
      return String(req.params.id);
    });
    await app.testClient().get("/user/42");
    assert.deepEqual(seen, { endpoint: "user", params: { id: 42 } });
  });

  it("turns an HTTP error raised in a hook into its response", async () => {
    const app = newApp();
    app.beforeRequest(() => abort(403, "Blocked by hook."));
    app.get("/", () => "view");
    const res = await app.testClient().get("/");
    assert.equal(res.status, 403);
    assert.match(res.text(), /Blocked by hook\./);
  });

  it("awaits async hooks, in order, before the view", async () => {
    const app = newApp();
    const calls: string[] = [];
    app.beforeRequest(async () => {
      await nextTurn();
      calls.push("async 1");
    });
    app.beforeRequest(async () => {
      await Promise.resolve();
      calls.push("async 2");
    });
    app.get("/", () => {
      calls.push("view");
      return "ok";
    });
    await app.testClient().get("/");
    assert.deepEqual(calls, ["async 1", "async 2", "view"]);
  });

  it("short-circuits with the value an async hook resolves to", async () => {
    const app = newApp();
    let viewRan = false;
    app.beforeRequest(async () => {
      await nextTurn();
      return new Response("from async hook", { status: 429 });
    });
    app.get("/", () => {
      viewRan = true;
      return "view";
    });
    const res = await app.testClient().get("/");
    assert.equal(res.status, 429);
    assert.equal(res.text(), "from async hook");
    assert.equal(viewRan, false);
  });
});

describe("afterRequest", () => {
  it("may modify the response in place", async () => {
    const app = newApp();
    app.afterRequest((response) => {
      response.headers.set("X-Frame-Options", "DENY");
      response.status = 203;
    });
    app.get("/", () => "page");
    const res = await app.testClient().get("/");
    assert.equal(res.status, 203);
    assert.equal(res.headers.get("x-frame-options"), "DENY");
    assert.equal(res.text(), "page");
  });

  it("may replace the response by returning another", async () => {
    const app = newApp();
    app.afterRequest((response) => new Response(`wrapped(${response.text()})`, { status: 201 }));
    app.get("/", () => "inner");
    const res = await app.testClient().get("/");
    assert.equal(res.status, 201);
    assert.equal(res.text(), "wrapped(inner)");
  });

  it("runs in reverse registration order, each seeing the previous one's response", async () => {
    const app = newApp();
    const calls: string[] = [];
    app.afterRequest((response) => {
      calls.push("first registered");
      return new Response(`${response.text()}>first`);
    });
    app.afterRequest((response) => {
      calls.push("second registered");
      return new Response(`${response.text()}>second`);
    });
    app.get("/", () => "view");
    const res = await app.testClient().get("/");
    assert.deepEqual(calls, ["second registered", "first registered"]);
    assert.equal(res.text(), "view>second>first");
  });

  it("runs blueprint hooks before app hooks, each in reverse order", async () => {
    const app = newApp();
    const bp = new Blueprint("api");
    const calls: string[] = [];
    for (const name of ["app 1", "app 2"]) {
      app.afterRequest(() => {
        calls.push(name);
      });
    }
    for (const name of ["bp 1", "bp 2"]) {
      bp.afterRequest(() => {
        calls.push(name);
      });
    }
    bp.get("/x", function x() {
      return "x";
    });
    app.registerBlueprint(bp, { urlPrefix: "/api" });
    await app.testClient().get("/api/x");
    assert.deepEqual(calls, ["bp 2", "bp 1", "app 2", "app 1"]);
  });

  it("also runs for short-circuited and error responses", async () => {
    const app = newApp();
    captureLogs(app);
    app.afterRequest((response) => {
      response.headers.set("X-After", String(response.status));
    });
    app.beforeRequest((req) => (req.path === "/blocked" ? "blocked" : undefined));
    app.get("/blocked", () => "view");
    app.get("/fail", () => {
      throw new Error("boom");
    });
    const client = app.testClient();
    assert.equal((await client.get("/blocked")).headers.get("x-after"), "200");
    assert.equal((await client.get("/missing")).headers.get("x-after"), "404");
    assert.equal((await client.get("/fail")).headers.get("x-after"), "500");
  });

  it("awaits async hooks", async () => {
    const app = newApp();
    app.afterRequest(async (response) => {
      await nextTurn();
      response.headers.set("X-Async", "done");
    });
    app.afterRequest(async (response) => {
      await Promise.resolve();
      return new Response(`${response.text()}!`);
    });
    app.get("/", () => "hi");
    const res = await app.testClient().get("/");
    assert.equal(res.text(), "hi!");
    assert.equal(res.headers.get("x-async"), "done");
  });

  it("answers 500 when a hook returns something other than a Response", async () => {
    const app = newApp();
    const errors = captureLogs(app);
    app.afterRequest(() => "not a response" as unknown as Response);
    app.get("/", () => "view");
    const res = await app.testClient().get("/");
    assert.equal(res.status, 500);
    assert.match(String((errors[0]?.error as Error).message), /afterRequest/);
  });
});

describe("teardownRequest", () => {
  it("runs after the response is built, with undefined when the request succeeded", async () => {
    const app = newApp();
    const calls: string[] = [];
    const received: unknown[] = [];
    app.afterRequest(() => {
      calls.push("after");
    });
    app.teardownRequest((error) => {
      calls.push("teardown");
      received.push(error);
    });
    app.get("/", () => {
      calls.push("view");
      return "ok";
    });
    const res = await app.testClient().get("/");
    assert.equal(res.text(), "ok");
    assert.deepEqual(calls, ["view", "after", "teardown"]);
    assert.deepEqual(received, [undefined]);
  });

  it("receives the error when the view throws", async () => {
    const app = newApp();
    captureLogs(app);
    const thrown = new Error("view failed");
    const received: unknown[] = [];
    app.teardownRequest((error) => {
      received.push(error);
    });
    app.get("/", () => {
      throw thrown;
    });
    const res = await app.testClient().get("/");
    assert.equal(res.status, 500);
    assert.deepEqual(received, [thrown]);
  });

  it("receives the error from a failing beforeRequest hook", async () => {
    const app = newApp();
    captureLogs(app);
    const thrown = new Error("hook failed");
    let received: unknown;
    app.beforeRequest(() => {
      throw thrown;
    });
    app.teardownRequest((error) => {
      received = error;
    });
    app.get("/", () => "view");
    await app.testClient().get("/");
    assert.equal(received, thrown);
  });

  it("receives undefined when an HTTP error was handled into a response", async () => {
    const app = newApp();
    const received: unknown[] = [];
    app.teardownRequest((error) => {
      received.push(error);
    });
    app.get("/", () => abort(404));
    assert.equal((await app.testClient().get("/")).status, 404);
    assert.deepEqual(received, [undefined]);
  });

  it("runs in reverse order, blueprint hooks before app hooks", async () => {
    const app = newApp();
    const bp = new Blueprint("bp");
    const calls: string[] = [];
    for (const name of ["app 1", "app 2"]) {
      app.teardownRequest(() => {
        calls.push(name);
      });
    }
    for (const name of ["bp 1", "bp 2"]) {
      bp.teardownRequest(() => {
        calls.push(name);
      });
    }
    bp.get("/x", function x() {
      return "x";
    });
    app.registerBlueprint(bp);
    await app.testClient().get("/x");
    assert.deepEqual(calls, ["bp 2", "bp 1", "app 2", "app 1"]);
  });

  it("logs an error thrown by a teardown hook instead of raising it, and runs the rest", async () => {
    const app = newApp();
    const errors = captureLogs(app);
    const teardownError = new Error("teardown broke");
    let otherRan = false;
    app.teardownRequest(() => {
      otherRan = true;
    });
    app.teardownRequest(() => {
      throw teardownError;
    });
    app.get("/", () => "fine");
    const res = await app.testClient().get("/");
    assert.equal(res.status, 200);
    assert.equal(res.text(), "fine");
    assert.equal(otherRan, true);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.error, teardownError);
    assert.match(errors[0]?.message ?? "", /teardownRequest/);
  });

  it("logs a rejection of an async teardown hook instead of raising it", async () => {
    const app = newApp();
    const errors = captureLogs(app);
    app.teardownRequest(async () => {
      await nextTurn();
      throw new Error("async teardown broke");
    });
    app.get("/", () => "fine");
    const res = await app.testClient().get("/");
    assert.equal(res.status, 200);
    assert.equal((errors[0]?.error as Error).message, "async teardown broke");
  });

  it("finishes async teardown hooks before the response is handed back", async () => {
    const app = newApp();
    let cleanedUp = false;
    app.teardownRequest(async () => {
      await nextTurn();
      await nextTurn();
      cleanedUp = true;
    });
    app.get("/", () => "ok");
    await app.testClient().get("/");
    assert.equal(cleanedUp, true);
  });
});

describe("g", () => {
  it("carries values from a beforeRequest hook to the view and afterRequest", async () => {
    const app = newApp();
    app.beforeRequest((req) => {
      g.user = req.args.get("user", "anonymous");
    });
    app.afterRequest((response) => {
      response.headers.set("X-User", String(g.user));
    });
    app.get("/", () => `hello ${String(g.user)}`);
    const res = await app.testClient().get("/?user=ada");
    assert.equal(res.text(), "hello ada");
    assert.equal(res.headers.get("x-user"), "ada");
  });

  it("starts empty on every request", async () => {
    const app = newApp();
    app.get("/", (req) => {
      const before = "count" in g ? "leaked" : "fresh";
      g.count = Number(req.args.get("n", "0"));
      return before;
    });
    const client = app.testClient();
    assert.equal((await client.get("/?n=1")).text(), "fresh");
    assert.equal((await client.get("/?n=2")).text(), "fresh");
  });

  it("is isolated between concurrent requests", async () => {
    const app = newApp();
    const count = 20;
    const gates = Array.from({ length: count }, () => deferred());
    const arrived = deferred();
    let waiting = 0;
    app.beforeRequest(async (req) => {
      await nextTurn();
      g.id = req.args.get("id");
    });
    app.get("/", async (req) => {
      const id = Number(req.args.get("id"));
      waiting += 1;
      if (waiting === count) arrived.resolve();
      await (gates[id] as { promise: Promise<void> }).promise;
      return { id, g: g.id };
    });
    const client = app.testClient();
    const responses = Array.from({ length: count }, (_, id) => client.get(`/?id=${id}`));
    await arrived.promise;
    // Release in reverse order so that the last request to start is the first to finish.
    for (let id = count - 1; id >= 0; id -= 1) gates[id]?.resolve();
    const bodies = await Promise.all(responses.map(async (res) => (await res).json()));
    assert.deepEqual(
      bodies,
      Array.from({ length: count }, (_, id) => ({ id, g: String(id) })),
    );
  });
});

describe("beforeRequest returning null", () => {
  it("carries on to the view when a hook returns null, like Flask's None", async () => {
    const app = newApp();
    app.beforeRequest(() => null);
    app.get("/", () => "view ran");
    const res = await app.testClient().get("/");
    assert.equal(res.status, 200);
    assert.equal(res.text(), "view ran");
  });
});

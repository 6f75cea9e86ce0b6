// The app context (Flask's `with app.app_context():`) and its teardownAppcontext hooks: at the
// end of `appContext(fn)`, of `testRequestContext(url, fn)` and of every request.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  Blueprint,
  CarafeError,
  currentApp,
  findAppContext,
  findContext,
  g,
  request,
  session,
  urlFor,
  type ResponseRecord,
} from "carafe";
import { captureLogs, deferred, getRecord, newApp } from "../helpers.ts";

describe("app.appContext(fn)", () => {
  it("gives currentApp, g and urlFor to fn and returns what it returns", () => {
    const app = newApp({ name: "cli-app" });
    app.get("/user/<int:id>", function user() {
      return "x";
    });
    const result = app.appContext(() => {
      g.note = "kept";
      return { name: currentApp.name, note: g.note, url: urlFor("user", { id: 3 }) };
    });
    assert.deepEqual(result, { name: "cli-app", note: "kept", url: "/user/3" });
  });

  it("makes a fresh g for each app context, and none is left once it ends", () => {
    const app = newApp();
    app.appContext(() => {
      g.db = "open";
    });
    assert.deepEqual(
      app.appContext(() => Object.keys(g)),
      [],
    );
    assert.equal(findAppContext(), undefined);
    assert.throws(() => g.db, { code: "ERR_NO_APP_CONTEXT" });
  });

  it("gives a nested app context its own g and restores the outer one after it", () => {
    const app = newApp();
    const seen = app.appContext(() => {
      g.level = "outer";
      const inner = app.appContext(() => {
        g.level = "inner";
        return g.level;
      });
      return [inner, g.level];
    });
    assert.deepEqual(seen, ["inner", "outer"]);
  });

  it("builds external URLs from serverName, or localhost without one", () => {
    const plain = newApp();
    plain.get("/", function index() {
      return "";
    });
    assert.equal(
      plain.appContext(() => urlFor("index", {}, { external: true })),
      "http://localhost/",
    );
    const named = newApp({ serverName: "example.com", preferredUrlScheme: "https" });
    named.get("/", function index() {
      return "";
    });
    assert.equal(
      named.appContext(() => urlFor("index", {}, { external: true })),
      "https://example.com/",
    );
  });

  it("has no request: request and session throw ERR_NO_REQUEST_CONTEXT, findContext is undefined", () => {
    const app = newApp({ secretKey: "k" });
    app.appContext(() => {
      assert.throws(() => request.path, { code: "ERR_NO_REQUEST_CONTEXT" });
      assert.throws(() => session.get("x"), { code: "ERR_NO_REQUEST_CONTEXT" });
      assert.equal(findContext(), undefined);
      assert.equal(findAppContext()?.app, app);
    });
  });

  it("keeps the context across the awaits of an async fn, apart from concurrent ones", async () => {
    const app = newApp();
    const gates = [deferred(), deferred()];
    const run = (n: number): Promise<string> =>
      app.appContext(async () => {
        g.n = n;
        await (gates[n] as { promise: Promise<void> }).promise;
        await new Promise((resolve) => setImmediate(resolve));
        return `${n}:${String(g.n)}:${currentApp === undefined ? "" : "app"}`;
      });
    const both = Promise.all([run(0), run(1)]);
    gates[1]?.resolve();
    gates[0]?.resolve();
    assert.deepEqual(await both, ["0:0:app", "1:1:app"]);
  });
});

describe("app.teardownAppcontext(hook)", () => {
  it("runs the hooks when appContext's fn returns, last registered first, inside the context", () => {
    const app = newApp();
    const calls: string[] = [];
    app.teardownAppcontext((error) => void calls.push(`first ${String(error)} ${String(g.db)}`));
    app.teardownAppcontext((error) => void calls.push(`second ${String(error)} ${String(g.db)}`));
    const result = app.appContext(() => {
      g.db = "conn";
      calls.push("fn");
      return 42;
    });
    assert.equal(result, 42);
    assert.deepEqual(calls, ["fn", "second undefined conn", "first undefined conn"]);
  });

  it("hands the hooks the error fn threw, then throws it again", () => {
    const app = newApp();
    const seen: unknown[] = [];
    app.teardownAppcontext((error) => void seen.push(error));
    const failure = new Error("command failed");
    assert.throws(
      () =>
        app.appContext(() => {
          throw failure;
        }),
      (error) => error === failure,
    );
    assert.deepEqual(seen, [failure]);
  });

  it("runs after an async fn settles, and the promise settles after the hooks finished", async () => {
    const app = newApp();
    const calls: string[] = [];
    app.teardownAppcontext(async (error) => {
      await new Promise((resolve) => setImmediate(resolve));
      calls.push(`hook ${String(error)} ${String(g.step)}`);
    });
    const value = await app.appContext(async () => {
      await new Promise((resolve) => setImmediate(resolve));
      g.step = "done";
      calls.push("fn");
      return "value";
    });
    assert.equal(value, "value");
    assert.deepEqual(calls, ["fn", "hook undefined done"]);
    const failure = new Error("late");
    await assert.rejects(
      app.appContext(async () => {
        await Promise.resolve();
        throw failure;
      }),
      (error) => error === failure,
    );
    assert.equal(calls.at(-1), `hook ${String(failure)} undefined`);
  });

  it("logs a failing hook instead of throwing it over fn's result or error, and runs the others", () => {
    const app = newApp();
    const errors = captureLogs(app);
    const calls: string[] = [];
    const hookError = new Error("close failed");
    app.teardownAppcontext(() => void calls.push("first"));
    app.teardownAppcontext(() => {
      throw hookError;
    });
    assert.equal(
      app.appContext(() => "ok"),
      "ok",
    );
    const original = new Error("original");
    assert.throws(
      () =>
        app.appContext(() => {
          throw original;
        }),
      (error) => error === original,
    );
    assert.deepEqual(calls, ["first", "first"]);
    assert.equal(errors.length, 2);
    assert.equal(errors[0]?.error, hookError);
    assert.match(errors[0]?.message ?? "", /teardownAppcontext/);
  });

  it("runs after every request, after the teardownRequest hooks, with the request's error", async () => {
    const app = newApp();
    captureLogs(app);
    const calls: string[] = [];
    app.teardownRequest((error) => void calls.push(`request ${String(error)}`));
    app.teardownAppcontext((error) => void calls.push(`app ${String(error)} ${request.path}`));
    app.get("/ok", () => "ok");
    const failure = new Error("view broke");
    app.get("/fail", () => {
      throw failure;
    });
    assert.equal((await app.testClient().get("/ok")).text(), "ok");
    assert.equal((await app.testClient().get("/fail")).status, 500);
    assert.equal((await app.testClient().get("/missing")).status, 404);
    assert.deepEqual(calls, [
      "request undefined",
      "app undefined /ok",
      `request ${String(failure)}`,
      `app ${String(failure)} /fail`,
      "request undefined",
      "app undefined /missing",
    ]);
  });

  it("runs after the requests of a blueprint, after its own teardown hooks", async () => {
    const app = newApp();
    const calls: string[] = [];
    const bp = new Blueprint("admin", { urlPrefix: "/admin" });
    bp.teardownRequest(() => void calls.push("blueprint"));
    bp.get("/", () => "admin");
    app.registerBlueprint(bp);
    app.teardownAppcontext(() => void calls.push("app context"));
    await app.testClient().get("/admin/");
    assert.deepEqual(calls, ["blueprint", "app context"]);
  });

  it("keeps a synchronous request synchronous, and waits for an async hook before answering", async () => {
    const syncApp = newApp();
    let closed = 0;
    syncApp.teardownAppcontext(() => void (closed += 1));
    syncApp.get("/", () => "sync");
    const result = syncApp.handle(getRecord("/"));
    assert.equal(result instanceof Promise, false);
    assert.equal((result as ResponseRecord).body, "sync");
    assert.equal(closed, 1);

    const asyncApp = newApp();
    const released = deferred();
    let finished = false;
    asyncApp.teardownAppcontext(async () => {
      await released.promise;
      finished = true;
    });
    asyncApp.get("/", () => "async hook");
    const pending = asyncApp.testClient().get("/");
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(finished, false);
    released.resolve();
    assert.equal((await pending).text(), "async hook");
    assert.equal(finished, true);
  });

  it("logs a hook that fails after a request, naming the path, and still answers", async () => {
    const app = newApp();
    const errors = captureLogs(app);
    app.teardownAppcontext(() => {
      throw new Error("close failed");
    });
    app.get("/", () => "fine");
    assert.equal((await app.testClient().get("/")).text(), "fine");
    assert.equal(errors.length, 1);
    assert.match(errors[0]?.message ?? "", /teardownAppcontext hook failed on \//);
  });

  it("runs at the end of testRequestContext, after its teardownRequest hooks", async () => {
    const app = newApp();
    const calls: string[] = [];
    app.teardownRequest((error) => void calls.push(`request ${String(error)} ${request.path}`));
    app.teardownAppcontext((error) => void calls.push(`app ${String(error)} ${String(g.x)}`));
    const value = app.testRequestContext("/here", () => {
      g.x = 1;
      return request.path;
    });
    assert.equal(value, "/here");
    assert.deepEqual(calls, ["request undefined /here", "app undefined 1"]);

    calls.length = 0;
    const failure = new Error("in test");
    await assert.rejects(
      app.testRequestContext("/async", async () => {
        await new Promise((resolve) => setImmediate(resolve));
        throw failure;
      }),
      (error) => error === failure,
    );
    assert.deepEqual(calls, [
      `request ${String(failure)} /async`,
      `app ${String(failure)} undefined`,
    ]);
  });

  it("matches the URL, so its blueprint's teardownRequest hooks run too, as Flask's does", () => {
    const app = newApp();
    const calls: string[] = [];
    const admin = new Blueprint("admin", { urlPrefix: "/admin" });
    admin.get("/user/<int:id>", function user() {
      return "x";
    });
    admin.teardownRequest(() => void calls.push(`admin ${String(request.endpoint)}`));
    admin.teardownAppRequest(() => void calls.push("admin app-wide"));
    app.teardownRequest(() => void calls.push(`app ${String(request.endpoint)}`));
    app.registerBlueprint(admin);
    const seen = app.testRequestContext("/admin/user/7?tab=posts", () => ({
      endpoint: request.endpoint,
      rule: request.rule,
      blueprint: request.blueprint,
      params: request.params,
      relative: urlFor(".user", { id: 8 }),
    }));
    assert.deepEqual(seen, {
      endpoint: "admin.user",
      rule: "/admin/user/<int:id>",
      blueprint: "admin",
      params: { id: 7 },
      relative: "/admin/user/8",
    });
    // Flask's order: the blueprint's own hooks, then the app's (the app-wide one among them).
    assert.deepEqual(calls, ["admin admin.user", "admin app-wide", "app admin.user"]);

    calls.length = 0;
    app.testRequestContext("/nowhere", () => undefined);
    assert.deepEqual(calls, ["admin app-wide", "app undefined"]);
  });

  it("takes Flask's method, headers and body: a form, JSON or raw data", () => {
    const app = newApp();
    app.post("/login", function login() {
      return "x";
    });
    const seen = app.testRequestContext(
      "/login?next=/home",
      { method: "post", form: { user: "ada", tag: ["a", "b"] }, headers: { "X-Trace": "t1" } },
      () => ({
        method: request.method,
        endpoint: request.endpoint,
        user: request.form.get("user"),
        tags: request.form.getAll("tag"),
        next: request.args.get("next"),
        trace: request.headers.get("x-trace"),
        host: request.host,
      }),
    );
    assert.deepEqual(seen, {
      method: "POST",
      endpoint: "login",
      user: "ada",
      tags: ["a", "b"],
      next: "/home",
      trace: "t1",
      host: "localhost",
    });
    const json = app.testRequestContext(
      "/api",
      { method: "PUT", json: { n: 1 }, requestId: "r-1" },
      () => [request.json(), request.mimetype, request.id],
    );
    assert.deepEqual(json, [{ n: 1 }, "application/json", "r-1"]);
    const raw = app.testRequestContext("/raw", { method: "POST", data: "plain body" }, () =>
      request.text(),
    );
    assert.equal(raw, "plain body");
  });

  it("refuses files and a missing fn with a message saying what to do", () => {
    const app = newApp();
    assert.throws(
      () =>
        app.testRequestContext(
          "/up",
          { files: { f: { filename: "a.txt", content: "x" } } } as never,
          () => undefined,
        ),
      (error) =>
        error instanceof CarafeError &&
        error.code === "ERR_TEST_CLIENT" &&
        error.message.includes("testClient().post(url, { files })"),
    );
    assert.throws(
      () => app.testRequestContext("/", {} as never),
      (error) => error instanceof CarafeError && error.message.includes("fn must be a function"),
    );
  });

  it("is refused once the app serves, like every setup method", async () => {
    const app = newApp();
    app.get("/", () => "");
    await app.testClient().get("/");
    assert.throws(
      () => app.teardownAppcontext(() => undefined),
      (error) =>
        error instanceof CarafeError &&
        error.code === "ERR_SETUP_FINISHED" &&
        error.message.includes("teardownAppcontext()"),
    );
  });

  it("refuses a hook that is not a function", () => {
    const app = newApp();
    assert.throws(
      () => app.teardownAppcontext("close" as unknown as () => void),
      (error) => error instanceof CarafeError && /must be a function/.test(error.message),
    );
  });
});

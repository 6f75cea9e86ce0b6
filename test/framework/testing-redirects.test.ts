import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { makeResponse, redirect, type Request } from "carafe";
import { newApp, isCarafeError } from "../helpers.ts";

const ALL = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];

/** What the final view saw of the request that reached it. */
function seen(req: Request): { method: string; body: string; type: string | null } {
  return { method: req.method, body: req.text(), type: req.headers.get("content-type") ?? null };
}

/** An app whose `/from/<status>` redirects to `/to` with that status. */
function redirectingApp(): ReturnType<typeof newApp> {
  const app = newApp();
  app.route("/from/<int:status>", { methods: ALL }, function from(req) {
    return redirect("/to", req.params.status);
  });
  app.route("/to", { methods: ALL }, function to(req) {
    return req.method === "HEAD" ? "" : seen(req);
  });
  return app;
}

describe("followRedirects", () => {
  it("follows to the final response, with the earlier ones in history", async () => {
    const app = newApp({ secretKey: "s" });
    app.post("/login", function login(req) {
      const res = redirect(`/step?user=${req.form.get("user") ?? ""}`);
      res.setCookie("who", req.form.get("user") ?? "");
      return res;
    });
    app.get("/step", function step(req) {
      return redirect(`/home?user=${req.args.get("user") ?? ""}`, 303);
    });
    app.get("/home", function home(req) {
      return `home of ${req.cookies.get("who") ?? "?"} (${req.args.get("user") ?? ""})`;
    });
    const client = app.testClient();
    const res = await client.post("/login", { form: { user: "ada" }, followRedirects: true });
    assert.equal(res.status, 200);
    assert.equal(res.text(), "home of ada (ada)");
    assert.deepEqual(res.request, {
      method: "GET",
      url: "http://localhost/home?user=ada",
      path: "/home",
    });
    assert.deepEqual(
      res.history.map((each) => [each.status, each.request.method, each.request.path]),
      [
        [302, "POST", "/login"],
        [303, "GET", "/step"],
      ],
    );
    assert.equal(res.history[1]?.history.length, 1);
    assert.equal(res.history[0]?.history.length, 0);
  });

  it("repeats the method and body for 307 and 308, and for 301 and 302 but after a POST", async () => {
    const client = redirectingApp().testClient();
    for (const [status, method, expected] of [
      [307, "POST", "POST"],
      [308, "PUT", "PUT"],
      [301, "PATCH", "PATCH"],
      [302, "DELETE", "DELETE"],
      [302, "POST", "GET"],
      [301, "POST", "GET"],
      [303, "PUT", "GET"],
    ] as const) {
      const res = await client.request(method, `/from/${status}`, {
        json: { n: 1 },
        followRedirects: true,
      });
      const kept = expected === method;
      assert.deepEqual(
        res.json(),
        {
          method: expected,
          body: kept ? '{"n":1}' : "",
          type: kept ? "application/json" : null,
        },
        `${status} after ${method}`,
      );
      assert.equal(res.history[0]?.status, status);
    }
  });

  it("keeps HEAD through a 303", async () => {
    const res = await redirectingApp().testClient().head("/from/303", { followRedirects: true });
    assert.equal(res.status, 200);
    assert.equal(res.request.method, "HEAD");
  });

  it("gives the redirect itself without followRedirects", async () => {
    const res = await redirectingApp().testClient().post("/from/302?x=1");
    assert.equal(res.status, 302);
    assert.deepEqual(res.history, []);
    assert.deepEqual(res.request, {
      method: "POST",
      url: "http://localhost/from/302?x=1",
      path: "/from/302",
    });
  });

  it("follows an absolute Location on the app's host, another scheme included", async () => {
    const app = newApp();
    app.get("/secure", () => redirect("https://localhost/done"));
    app.get("/done", (req) => `${req.scheme} ${req.host}`);
    const res = await app.testClient().get("/secure", { followRedirects: true });
    assert.equal(res.text(), "https localhost");
    assert.equal(res.request.url, "https://localhost/done");
  });

  it("refuses to leave the app's host", async () => {
    const app = newApp();
    app.get("/away", () => redirect("https://example.com/"));
    await assert.rejects(
      app.testClient().get("/away", { followRedirects: true }),
      isCarafeError("ERR_EXTERNAL_REDIRECT", /to https:\/\/example\.com\/, outside the app's host/),
    );
  });

  it("gives up with a clear error after 30 redirects", async () => {
    const app = newApp();
    let requests = 0;
    app.get("/loop", () => {
      requests += 1;
      return redirect("/loop");
    });
    await assert.rejects(
      app.testClient().get("/loop", { followRedirects: true }),
      isCarafeError("ERR_TOO_MANY_REDIRECTS", /GET \/loop: followed 30 redirects.*302 to \/loop/),
    );
    assert.equal(requests, 31);
  });

  it("stops at a redirect status without a Location", async () => {
    const app = newApp();
    app.get("/nowhere", () => makeResponse("no location", 302));
    const res = await app.testClient().get("/nowhere", { followRedirects: true });
    assert.equal(res.status, 302);
    assert.deepEqual(res.history, []);
  });
});

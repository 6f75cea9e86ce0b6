import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { redirect, request } from "carafe";
import { captureLogs, getRecord, newApp } from "../helpers.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("request.id", () => {
  it("gives each request its own id, the same wherever the request reads it", async () => {
    const app = newApp();
    app.route("/", (req) => ({ id: req.id, again: req.id, global: request.id }));
    const client = app.testClient();
    const first = (await client.get("/")).json<Record<string, string>>();
    const second = (await client.get("/")).json<Record<string, string>>();
    assert.match(first.id as string, UUID);
    assert.equal(first.again, first.id);
    assert.equal(first.global, first.id);
    assert.notEqual(second.id, first.id);
  });

  it("is the id the record carries, as a server sets it", async () => {
    const app = newApp();
    app.route("/", (req) => req.id);
    const response = await app.handle({ ...getRecord("/"), id: "from-the-proxy" });
    assert.equal(response.body, "from-the-proxy");
  });

  it("is the test client's requestId when given, and a fresh one after a redirect", async () => {
    const app = newApp();
    app.route("/", (req) => req.id);
    app.route("/moved", (req) => redirect(`/?from=${req.id}`));
    const client = app.testClient();
    assert.equal((await client.get("/", { requestId: "req-1" })).text(), "req-1");
    const followed = await client.get("/moved", { requestId: "req-2", followRedirects: true });
    assert.equal(followed.history[0]?.headers.get("location"), "/?from=req-2");
    assert.match(followed.text(), UUID);
  });

  it("does not take a client's X-Request-ID header: only a server behind a trusted proxy does", async () => {
    const app = newApp();
    app.route("/", (req) => req.id);
    const response = await app.testClient().get("/", { headers: { "X-Request-ID": "forged" } });
    assert.match(response.text(), UUID);
  });

  it("is named, with the route, in the log of an exception", async () => {
    const app = newApp();
    const logged = captureLogs(app);
    app.route("/user/<int:id>", () => {
      throw new Error("boom");
    });
    const response = await app.testClient().get("/user/7", { requestId: "req-9" });
    assert.equal(response.status, 500);
    assert.equal(
      logged[0]?.message,
      "Exception on /user/7 [GET] (route /user/<int:id>, request id req-9)",
    );
  });
});

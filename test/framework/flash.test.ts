import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { flash, getFlashedMessages, redirect, session } from "carafe";
import { captureLogs, newApp } from "../helpers.ts";

/** An app that flashes each `category:message` `/flash` is given, then shows them on `/show`. */
function flashingApp() {
  const app = newApp({ secretKey: "s3cret" });
  app.post("/flash", function flashed(req) {
    for (const each of req.form.getAll("flash")) {
      const colon = each.indexOf(":");
      if (colon < 0) flash(each);
      else flash(each.slice(colon + 1), each.slice(0, colon));
    }
    return redirect("/show");
  });
  app.get("/show", function show(req) {
    const filter = req.args.getAll("category");
    return {
      first: getFlashedMessages({ withCategories: true, categoryFilter: filter }),
      again: getFlashedMessages(),
    };
  });
  app.get("/stored", function stored() {
    return { stored: session.get("_flashes") ?? null };
  });
  return app;
}

describe("flash and getFlashedMessages", () => {
  it("carry a message across a redirect to the next request, once", async () => {
    const client = flashingApp().testClient();
    const posted = await client.post("/flash", { form: { flash: "Saved." } });
    assert.equal(posted.status, 302);
    assert.deepEqual((await client.get("/show")).json(), {
      first: [["message", "Saved."]],
      again: ["Saved."],
    });
    assert.deepEqual((await client.get("/show")).json(), { first: [], again: [] });
  });

  it("store [category, message] pairs under _flashes in the session, as Flask does", async () => {
    const client = flashingApp().testClient();
    await client.post("/flash", { form: { flash: ["error:Title is required.", "info:Draft"] } });
    assert.deepEqual((await client.get("/stored")).json(), {
      stored: [
        ["error", "Title is required."],
        ["info", "Draft"],
      ],
    });
  });

  it("use the category 'message' when none is given", async () => {
    const app = newApp({ secretKey: "s3cret" });
    app.get("/", () => {
      flash("plain");
      return { stored: session.get("_flashes") ?? null };
    });
    assert.deepEqual((await app.testClient().get("/")).json(), { stored: [["message", "plain"]] });
  });

  it("filter by category, keeping every message for the rest of the request", async () => {
    const client = flashingApp().testClient();
    await client.post("/flash", {
      form: { flash: ["error:Title is required.", "info:Draft saved", "error:Body is required."] },
    });
    const shown = await client.get("/show", { query: { category: "error" } });
    assert.deepEqual(shown.json(), {
      first: [
        ["error", "Title is required."],
        ["error", "Body is required."],
      ],
      again: ["Title is required.", "Draft saved", "Body is required."],
    });
  });

  it("keep a message flashed after the read for the next request", async () => {
    const app = newApp({ secretKey: "s3cret" });
    app.get("/", () => {
      const before = getFlashedMessages();
      flash("later");
      return { before, after: getFlashedMessages() };
    });
    const client = app.testClient();
    assert.deepEqual((await client.get("/")).json(), { before: [], after: [] });
    assert.deepEqual((await client.get("/")).json(), { before: ["later"], after: ["later"] });
  });

  it("remove the messages from the session cookie once read", async () => {
    const client = flashingApp().testClient();
    const posted = await client.post("/flash", { form: { flash: "once" } });
    assert.match(posted.headers.get("set-cookie") ?? "", /^session=/);
    const shown = await client.get("/show");
    // The session held nothing else: reading the messages empties it, so its cookie goes.
    assert.match(shown.headers.get("set-cookie") ?? "", /^session=; .*Max-Age=0/i);
    assert.deepEqual((await client.get("/stored")).json(), { stored: null });
  });

  it("work in async handlers across awaits", async () => {
    const app = newApp({ secretKey: "s3cret" });
    app.get("/", async () => {
      await new Promise((resolve) => setImmediate(resolve));
      flash("from async", "info");
      await Promise.resolve();
      return "ok";
    });
    app.get("/show", async () => {
      await Promise.resolve();
      return { messages: getFlashedMessages({ withCategories: true }) };
    });
    const client = app.testClient();
    await client.get("/");
    assert.deepEqual((await client.get("/show")).json(), { messages: [["info", "from async"]] });
  });

  it("refuse to flash without a secret key, naming secretKey", async () => {
    const app = newApp();
    const errors = captureLogs(app);
    app.get("/", () => {
      flash("lost");
      return "unreachable";
    });
    app.get("/show", () => ({ messages: getFlashedMessages() }));
    const client = app.testClient();
    assert.equal((await client.get("/")).status, 500);
    const error = errors[0]?.error as { code?: string; message?: string };
    assert.equal(error.code, "ERR_NO_SECRET_KEY");
    assert.match(error.message ?? "", /secretKey/);
    assert.deepEqual((await client.get("/show")).json(), { messages: [] });
  });

  it("throw ERR_NO_REQUEST_CONTEXT outside a request, naming the call", () => {
    assert.throws(() => flash("nowhere"), {
      code: "ERR_NO_REQUEST_CONTEXT",
      message: /^flash\(\) is only available while a request is being handled/,
    });
    assert.throws(() => getFlashedMessages(), {
      code: "ERR_NO_REQUEST_CONTEXT",
      message: /^getFlashedMessages\(\) is only available/,
    });
  });

  it("refuse a message or category that is not a string", () => {
    const app = newApp({ secretKey: "s3cret" });
    app.testRequestContext("/", () => {
      assert.throws(() => flash(42 as unknown as string), { code: "ERR_BAD_FLASH" });
      assert.throws(() => flash("ok", null as unknown as string), { code: "ERR_BAD_FLASH" });
      assert.throws(() => getFlashedMessages({ categoryFilter: "error" as unknown as string[] }), {
        code: "ERR_BAD_FLASH",
        message: /list of categories/,
      });
    });
  });

  it("type the result by withCategories", () => {
    const app = newApp({ secretKey: "s3cret" });
    app.testRequestContext("/", () => {
      const texts: string[] = getFlashedMessages();
      const pairs: [string, string][] = getFlashedMessages({ withCategories: true });
      // @ts-expect-error: pairs are not plain strings
      const wrong: string[] = getFlashedMessages({ withCategories: true });
      assert.deepEqual([texts, pairs, wrong], [[], [], []]);
    });
  });
});

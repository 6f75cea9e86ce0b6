import assert from "node:assert/strict";
import { test } from "node:test";
import { getDb } from "../db.ts";
import { setUp } from "./fixtures.ts";

test("index", async (t) => {
  const { client, auth } = setUp(t);
  let page = (await client.get("/")).text();
  assert.ok(page.includes("Log In"));
  assert.ok(page.includes("Register"));

  await auth.login();
  page = (await client.get("/")).text();
  assert.ok(page.includes("test title"));
  assert.ok(page.includes("by test on 2018-01-01"));
  assert.ok(page.includes("test\nbody"));
  assert.ok(page.includes('href="/1/update"'));
});

for (const path of ["/create", "/1/update", "/1/delete"]) {
  test(`login required: ${path}`, async (t) => {
    const { client } = setUp(t);
    const response = await client.post(path);
    assert.equal(response.headers.get("Location"), "/auth/login");
  });
}

test("author required", async (t) => {
  const { app, client, auth } = setUp(t);
  // Make the post another user's.
  app.appContext(() => getDb().run("UPDATE post SET author_id = 2 WHERE id = 1"));

  await auth.login();
  // The current user cannot change another user's post, nor sees its edit link.
  assert.equal((await client.post("/1/update")).status, 403);
  assert.equal((await client.post("/1/delete")).status, 403);
  assert.ok(!(await client.get("/")).text().includes('href="/1/update"'));
});

for (const path of ["/2/update", "/2/delete"]) {
  test(`exists required: ${path}`, async (t) => {
    const { client, auth } = setUp(t);
    await auth.login();
    assert.equal((await client.post(path)).status, 404);
  });
}

test("create", async (t) => {
  const { app, client, auth } = setUp(t);
  await auth.login();
  assert.equal((await client.get("/create")).status, 200);
  await client.post("/create", { form: { title: "created", body: "" } });

  app.appContext(() => {
    assert.equal(getDb().get("SELECT COUNT(id) AS n FROM post")?.["n"], 2);
  });
});

test("update", async (t) => {
  const { app, client, auth } = setUp(t);
  await auth.login();
  assert.equal((await client.get("/1/update")).status, 200);
  await client.post("/1/update", { form: { title: "updated", body: "" } });

  app.appContext(() => {
    assert.equal(getDb().get("SELECT * FROM post WHERE id = 1")?.["title"], "updated");
  });
});

for (const path of ["/create", "/1/update"]) {
  test(`create and update validate: ${path}`, async (t) => {
    const { client, auth } = setUp(t);
    await auth.login();
    const response = await client.post(path, { form: { title: "", body: "" } });
    assert.ok(response.text().includes("Title is required."));
  });
}

test("delete", async (t) => {
  const { app, client, auth } = setUp(t);
  await auth.login();
  const response = await client.post("/1/delete");
  assert.equal(response.headers.get("Location"), "/");

  app.appContext(() => {
    assert.equal(getDb().get("SELECT * FROM post WHERE id = 1"), null);
  });
});

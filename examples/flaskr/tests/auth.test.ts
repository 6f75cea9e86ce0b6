import assert from "node:assert/strict";
import { test } from "node:test";
import { getDb } from "../db.ts";
import { setUp } from "./fixtures.ts";

test("register", async (t) => {
  const { app, client } = setUp(t);
  assert.equal((await client.get("/auth/register")).status, 200);

  const response = await client.post("/auth/register", { form: { username: "a", password: "a" } });
  assert.equal(response.headers.get("Location"), "/auth/login");

  app.appContext(() => {
    assert.notEqual(getDb().get("SELECT * FROM user WHERE username = 'a'"), null);
  });
});

for (const [username, password, message] of [
  ["", "", "Username is required."],
  ["a", "", "Password is required."],
  ["test", "test", "already registered"],
] as const) {
  test(`register validates input: '${username}' '${password}'`, async (t) => {
    const { client } = setUp(t);
    const response = await client.post("/auth/register", { form: { username, password } });
    assert.ok(response.text().includes(message), response.text());
  });
}

test("login", async (t) => {
  const { client, auth } = setUp(t);
  assert.equal((await client.get("/auth/login")).status, 200);

  const response = await auth.login();
  assert.equal(response.headers.get("Location"), "/");

  // The session of the next request holds the user's id; the user is loaded from it.
  await client.get("/");
  assert.equal(client.session.get("userId"), 1);
  assert.equal(client.g.user?.username, "test");
});

for (const [username, password, message] of [
  ["a", "test", "Incorrect username."],
  ["test", "a", "Incorrect password."],
] as const) {
  test(`login validates input: '${username}' '${password}'`, async (t) => {
    const { auth } = setUp(t);
    const response = await auth.login(username, password);
    assert.ok(response.text().includes(message), response.text());
  });
}

test("logout", async (t) => {
  const { client, auth } = setUp(t);
  await auth.login();
  await auth.logout();
  assert.equal(client.session.has("userId"), false);
});

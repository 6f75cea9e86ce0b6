import assert from "node:assert/strict";
import { test } from "node:test";
import { createApp } from "../app.ts";
import { setUp } from "./fixtures.ts";

test("config: testing only when the test config says so", () => {
  assert.equal(createApp().config.testing, false);
  assert.equal(createApp({ TESTING: true }).config.testing, true);
});

test("hello", async (t) => {
  const { client } = setUp(t);
  const response = await client.get("/hello");
  assert.equal(response.text(), "Hello, World!");
});

import assert from "node:assert/strict";
import { test } from "node:test";
import { getDb, type Database } from "../db.ts";
import { makeApp } from "./fixtures.ts";

test("one connection per app context, closed when it ends", (t) => {
  const app = makeApp(t);
  let db: Database | undefined;
  app.appContext(() => {
    db = getDb();
    assert.equal(getDb(), db);
  });
  assert.throws(() => db?.exec("SELECT 1"), /closed/);
});

test("init-db empties the database and says so", async (t) => {
  const app = makeApp(t);
  const count = () => app.appContext(() => getDb().get("SELECT COUNT(*) AS n FROM post")?.["n"]);
  assert.equal(count(), 1);
  const result = await app.testCliRunner().invoke(["init-db"]);
  assert.equal(result.exitCode, 0);
  assert.match(result.output, /Initialized/);
  assert.equal(count(), 0);
});

// What every Flaskr test starts from: an app on a database of its own holding data.sql, its
// test client, its command runner, and a way to log in and out.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import type { Carafe, TestClient } from "carafe";
import { createApp } from "../app.ts";
import { getDb, initDb } from "../db.ts";

const dataSql = readFileSync(new URL("data.sql", import.meta.url), "utf8");

/** A new app whose database (removed after the test) holds the test data. */
export function makeApp(t: TestContext): Carafe {
  const folder = mkdtempSync(join(tmpdir(), "flaskr-"));
  t.after(() => rmSync(folder, { recursive: true, force: true }));
  const app = createApp({ TESTING: true, DATABASE: join(folder, "flaskr.sqlite") });
  app.appContext(() => {
    initDb();
    getDb().exec(dataSql);
  });
  return app;
}

/** Logs the client in and out through the real forms. */
export class AuthActions {
  constructor(private readonly client: TestClient) {}

  login(username = "test", password = "test") {
    return this.client.post("/auth/login", { form: { username, password } });
  }

  logout() {
    return this.client.get("/auth/logout");
  }
}

/** An app, its test client and its auth actions. */
export function setUp(t: TestContext) {
  const app = makeApp(t);
  const client = app.testClient();
  return { app, client, auth: new AuthActions(client) };
}

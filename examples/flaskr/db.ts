// The database: one SQLite connection per request (or per app context), opened on first use
// and closed by the app's teardown, and the `init-db` command that creates the tables.
import { type Carafe, currentApp, g } from "carafe";
import sqlite from "node-sqlite3-wasm";

export type Database = InstanceType<typeof sqlite.Database>;

declare module "carafe" {
  interface AppConfig {
    /** Path of the SQLite file. */
    database: string;
  }
  interface AppGlobals {
    db?: Database;
  }
}

/** The current context's connection, opened on first use. */
export function getDb(): Database {
  if (g.db === undefined) {
    const db = new sqlite.Database(currentApp.config.database);
    // Another worker or thread may be writing: wait for its lock instead of failing at once.
    db.exec("PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;");
    g.db = db;
  }
  return g.db;
}

/** Closes the connection this context opened, if any. */
export function closeDb(): void {
  const db = g.db;
  delete g.db;
  db?.close();
}

/** Drops and creates the tables. */
export function initDb(): void {
  getDb().exec(currentApp.openResource("schema.sql").text());
}

/** Registers the teardown and the command with an app (called by the factory). */
export function initApp(app: Carafe): void {
  app.teardownAppcontext(closeDb);
  app.cli.command("init-db", { help: "Clear the existing data and create new tables." }, () => {
    initDb();
    console.log("Initialized the database.");
  });
}

// Flaskr, the blog of Flask's tutorial, on Carafe. `createApp` is the app factory:
//   carafe --app 'examples/flaskr/app.ts:createApp()' init-db
//   carafe run 'examples/flaskr/app.ts:createApp()'
//   carafe serve 'examples/flaskr/app.ts:createApp()' --workers 2 --threads 4
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Carafe } from "carafe";
import * as auth from "./auth.ts";
import * as blog from "./blog.ts";
import * as db from "./db.ts";

/** Makes a Flaskr app; `testConfig` replaces the instance folder's config.json (for tests). */
export function createApp(testConfig?: Record<string, unknown>): Carafe {
  const app = new Carafe({ instanceRelativeConfig: true });
  app.config.fromMapping({
    // Overridden by the instance folder's config.json in production.
    SECRET_KEY: "dev",
    DATABASE: join(app.instancePath, "flaskr.sqlite"),
  });
  if (testConfig === undefined) app.config.fromFile("config.json", { silent: true });
  else app.config.fromMapping(testConfig);
  mkdirSync(app.instancePath, { recursive: true });

  app.get("/hello", function hello() {
    return "Hello, World!";
  });

  db.initApp(app);
  app.registerBlueprint(auth.bp);
  app.registerBlueprint(blog.bp);
  // The blog is the front page: urlFor("index") is "/", as urlFor("blog.index").
  app.addUrlRule("/", { endpoint: "index" });
  return app;
}

// Naming the app as gunicorn and Flask users do, with real processes: `carafe serve app:app`
// and `pkg.module:app` resolve module names to files, a missing module stops the supervisor
// before it forks, and `carafe run` without an app finds one in the current directory.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, describe, it } from "node:test";
import {
  fetchReply,
  runCarafe,
  startNode,
  type CarafeRun,
  type ServeProcess,
} from "./serve-process.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const CARAFE = ["--conditions=carafe-source", resolve(ROOT, "bin/carafe.js")];
const NAMING = resolve(ROOT, "test/fixtures/naming");
const ANY_PORT = ["--bind", "127.0.0.1:0"];

const running: ServeProcess[] = [];
after(() => Promise.all(running.map((server) => server.stop("SIGKILL"))));

/** Starts `carafe ...args` in `cwd` and waits until it listens. */
async function start(
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<ServeProcess> {
  const server = await startNode([...CARAFE, ...args], {
    cwd,
    env: { CARAFE_APP: "", ...env },
    listening: args[0] === "serve" ? /Listening at: (\S+)/ : /Running on (http:\/\/\S+)/,
  });
  running.push(server);
  return server;
}

/** What `GET /` of a started server answers, then stops it. */
async function indexOf(server: ServeProcess): Promise<string> {
  try {
    return (await fetchReply(`${server.url}/`)).text;
  } finally {
    await server.stop();
  }
}

/** Runs `carafe ...args` in `cwd` to its end. */
function carafe(args: string[], cwd: string): Promise<CarafeRun> {
  return runCarafe(args, { cwd });
}

describe("naming the app", { timeout: 60_000 }, () => {
  it("serves app:app from app.ts, as gunicorn names a module", async () => {
    assert.equal(await indexOf(await start(["serve", "app:app", ...ANY_PORT], NAMING)), "app.ts");
  });

  it("serves pkg.module:app from pkg/module.ts, and calls a factory there", async () => {
    const server = await start(["serve", "pkg.module:app", ...ANY_PORT], NAMING);
    assert.equal(await indexOf(server), "pkg/module.ts");
    const made = await start(["serve", "pkg.module:createApp('made')", ...ANY_PORT], NAMING);
    assert.equal(await indexOf(made), "made");
  });

  it("serves pkg:app from pkg/index.ts, as gunicorn imports a package", async () => {
    assert.equal(
      await indexOf(await start(["serve", "pkg:app", ...ANY_PORT], NAMING)),
      "pkg/index.ts",
    );
  });

  it("still takes a file name and a path", async () => {
    const file = await start(["serve", "wsgi.ts:app", ...ANY_PORT], NAMING);
    assert.equal(await indexOf(file), "wsgi.ts");
    const path = await start(["serve", "test/fixtures/naming/pkg/module.ts", ...ANY_PORT], ROOT);
    assert.equal(await indexOf(path), "pkg/module.ts");
  });

  it("stops before forking a worker, with exit code 3 and one line, when the module is missing", async () => {
    const run = await carafe(["serve", "missing:app", ...ANY_PORT, "--workers", "2"], NAMING);
    assert.equal(run.code, 3);
    assert.equal(
      run.stderr,
      `carafe: cannot find the app module 'missing': looked for missing.ts, .mts, .js, .mjs, missing/index.ts, .mts, .js, .mjs in ${NAMING}\n`,
    );
    assert.doesNotMatch(run.stdout, /Booting worker/);
  });

  it("with --preload, stops with exit code 3 and the app's error when the app does not load", async () => {
    const broken = await carafe(["serve", "broken:app", "--preload", ...ANY_PORT], NAMING);
    assert.equal(broken.code, 3);
    assert.match(broken.stderr, /^carafe: importing 'broken' failed:\nError: broken at import\n/);
    assert.doesNotMatch(broken.stdout, /Booting worker/);
    const noApp = await carafe(["serve", "app:missing", "--preload", ...ANY_PORT], NAMING);
    assert.equal(noApp.code, 3);
    assert.match(noApp.stderr, /^carafe: .*has no app .* exported as 'missing'/);
    const served = await start(["serve", "app:app", "--preload", ...ANY_PORT], NAMING);
    assert.equal(await indexOf(served), "app.ts");
  });

  it("runs wsgi.ts, before app.ts, when no app is named, as flask run does", async () => {
    assert.equal(await indexOf(await start(["run", "--port", "0"], NAMING)), "wsgi.ts");
  });

  it("runs CARAFE_APP's module before the defaults, a module name included", async () => {
    const server = await start(["run", "--port", "0"], NAMING, { CARAFE_APP: "app" });
    assert.equal(await indexOf(server), "app.ts");
  });

  it("finds a JavaScript app.mjs when no app is named", async () => {
    const server = await start(["run", "--port", "0"], join(NAMING, "js-only"));
    assert.equal(await indexOf(server), "app.mjs");
  });

  it("exits 2 saying what it looked for when the directory has no app", async () => {
    const dir = mkdtempSync(join(tmpdir(), "carafe-no-app-"));
    try {
      const run = await carafe(["run", "--port", "0"], dir);
      assert.equal(run.code, 2);
      assert.match(
        run.stderr,
        /^carafe: run needs the app: none was named and the current directory \(.*\) has none of wsgi\.ts, \.mts, \.js, \.mjs, wsgi\/index\.ts, \.mts, \.js, \.mjs, app\.ts, \.mts, \.js, \.mjs, app\/index\.ts, \.mts, \.js, \.mjs; name it, e\.g\. carafe run app\.ts:app/,
      );
      assert.equal(run.stdout, "");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("lists the routes of the app found, and runs its own commands", async () => {
    const routes = await carafe(["routes"], NAMING);
    assert.equal(routes.code, 0, routes.stderr);
    assert.match(routes.stdout, /index +GET +\/ +loop/);
    assert.deepEqual(await carafe(["where"], NAMING), { code: 0, stdout: "wsgi.ts\n", stderr: "" });
  });
});

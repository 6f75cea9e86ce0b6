// `carafe --app MODULE NAME` as users run it: the real bin/carafe.js, a child process per
// command, on a fixture app with commands of its own.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fetchReply, runCarafe, startNode, type CarafeRun } from "./serve-process.ts";

const APP = "test/fixtures/cli/commands.ts";

/** Runs `carafe ...args` to its end. */
function carafe(args: string[], env: Record<string, string> = {}): Promise<CarafeRun> {
  return runCarafe(args, { env });
}

describe("carafe --app MODULE NAME", { timeout: 60_000 }, () => {
  it("runs the app's command with its arguments and options", async () => {
    const run = await carafe(["--app", APP, "greet", "Ada", "--shout"]);
    assert.deepEqual(run, { code: 0, stdout: "HELLO, ADA!\n", stderr: "" });
  });

  it("takes the app from CARAFE_APP, and --app=MODULE", async () => {
    assert.equal(
      (await carafe(["greet", "-s", "Bob"], { CARAFE_APP: APP })).stdout,
      "HELLO, BOB!\n",
    );
    assert.equal((await carafe([`--app=${APP}`, "greet", "Cy"])).stdout, "Hello, Cy!\n");
  });

  it("runs the command in an app context, its teardownAppcontext hooks after it", async () => {
    const run = await carafe(["--app", APP, "init-db"]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(
      run.stdout,
      "Initialized the database of commands-fixture.\nclosed the database\n",
    );
  });

  it("exits 1 with the error's stack when the command fails", async () => {
    const run = await carafe(["--app", APP, "fail"]);
    assert.equal(run.code, 1);
    assert.equal(run.stdout, "closed the database after a failure\n");
    assert.match(run.stderr, /^Error: the database is locked\n\s+at .*commands\.ts:\d+/);
  });

  it("exits 2 naming a usage error under the command's usage", async () => {
    const run = await carafe(["--app", APP, "greet"]);
    assert.equal(run.code, 2);
    assert.equal(run.stdout, "");
    assert.equal(
      run.stderr,
      "Usage: carafe greet [OPTIONS] NAME\nTry 'carafe greet --help' for help.\n\nError: Missing argument 'NAME'.\n",
    );
  });

  it("prints a command's help", async () => {
    const run = await carafe(["--app", APP, "greet", "--help"]);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /^Usage: carafe greet \[OPTIONS\] NAME\n\n {2}Greet someone\.\n/);
    assert.match(run.stdout, /-s, --shout/);
  });

  it("lists the app's commands beside carafe's for --help", async () => {
    const run = await carafe(["--app", APP, "--help"]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Usage: carafe \[--app MODULE\[:EXPORT\]\] COMMAND/);
    const listed = run.stdout.slice(run.stdout.indexOf(`Commands of ${APP}:`));
    for (const name of ["fail", "greet", "init-db", "leave-timer", "routes", "run", "serve"]) {
      assert.match(listed, new RegExp(`\\n {2}${name}\\b`), name);
    }
    assert.match(listed, /\n {2}init-db {6}Clear the existing data and create new tables\.\n/);
    assert.ok(listed.endsWith("threads\n"), "one newline at the end");
  });

  it("lists the commands of the app found in the current directory, as flask --help does", async () => {
    const found = await runCarafe(["--help"], { cwd: "examples/flaskr", env: { CARAFE_APP: "" } });
    assert.equal(found.code, 0, found.stderr);
    assert.match(
      found.stdout,
      /\nCommands of app\.ts:\n(?:.*\n)*? {2}init-db {2}Clear the existing/,
    );
    const dir = mkdtempSync(join(tmpdir(), "carafe-help-"));
    try {
      writeFileSync(join(dir, "app.mjs"), 'throw new Error("broken at import");\n');
      const broken = await runCarafe(["--help"], { cwd: dir, env: { CARAFE_APP: "" } });
      assert.equal(broken.code, 0, broken.stderr);
      assert.match(
        broken.stdout,
        /\nThe app found in the current directory \(app\.mjs\) did not load, so its commands are not listed:\nimporting 'app\.mjs' failed: Error: broken at import\n$/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("exits 2 for an unknown command, listing the available ones", async () => {
    const run = await carafe(["--app", APP, "frobnicate"]);
    assert.equal(run.code, 2);
    assert.match(
      run.stderr,
      /No such command 'frobnicate'\. Available commands: fail, greet, init, init-db, leave-timer, routes, run, serve/,
    );
    const without = await carafe(["frobnicate"]);
    assert.equal(without.code, 2);
    assert.match(without.stderr, /unknown command 'frobnicate'.*carafe --app app\.ts frobnicate/);
  });

  it("ends the process when the command is done, though it left a timer running", async () => {
    const run = await carafe(["--app", APP, "leave-timer"]);
    assert.deepEqual(run, { code: 0, stdout: "left a timer running\n", stderr: "" });
  });

  it("keeps routes and run working with --app, and refuses an app named twice", async () => {
    const routes = await carafe(["--app", APP, "routes"]);
    assert.equal(routes.code, 0, routes.stderr);
    assert.match(routes.stdout, /hello +GET +\/hello +loop/);
    const twice = await carafe(["--app", APP, "routes", APP]);
    assert.equal(twice.code, 2);
    assert.match(twice.stderr, /routes got two apps/);

    const server = await startNode(
      ["--conditions=carafe-source", "bin/carafe.js", "--app", APP, "run", "--port", "0"],
      { listening: /Running on (http:\/\/\S+)/ },
    );
    try {
      assert.equal((await fetchReply(`${server.url}/hello`)).text, "hello");
    } finally {
      await server.stop();
    }
  });

  it("keeps serve working with CARAFE_APP", async () => {
    const server = await startNode(
      ["--conditions=carafe-source", "bin/carafe.js", "serve", "--bind", "127.0.0.1:0"],
      { listening: /Listening at: (\S+)/, env: { CARAFE_APP: APP } },
    );
    try {
      assert.equal((await fetchReply(`${server.url}/hello`)).text, "hello");
    } finally {
      await server.stop();
    }
  });
});

// Apps made by a factory, as users serve them: `carafe serve 'app.ts:createApp(…)'` (every
// worker process and every pool thread calls the factory), run, routes and --app with one.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  allListening,
  bootedPids,
  fetchReply,
  runCarafe,
  serveInThisFile,
  startNode,
} from "./serve-process.ts";

const FACTORY = "test/fixtures/factories/factory.ts";

const serve = serveInThisFile();

interface Info {
  name: string;
  count: number;
  flag: boolean;
  extra: unknown;
  threadId: number;
  pid: number;
  made: number;
}

const carafe = (args: string[]) => runCarafe(args);

describe("factory specs", { timeout: 60_000 }, () => {
  it("serves 'app.ts:createApp(…)' with 2 workers × 2 threads, each thread calling the factory", async () => {
    const server = await serve([
      `${FACTORY}:createApp('served', 2, true, null)`,
      "--bind",
      "127.0.0.1:0",
      "--workers",
      "2",
      "--threads",
      "2",
      "--log-level",
      "debug",
    ]);
    await allListening(server, 2);
    const replies = await Promise.all(
      Array.from({ length: 20 }, () => fetchReply(`${server.url}/on-thread`)),
    );
    const infos = replies.map((reply) => {
      assert.equal(reply.status, 200, reply.text);
      return JSON.parse(reply.text) as Info;
    });
    for (const info of infos) {
      assert.deepEqual(
        { name: info.name, count: info.count, flag: info.flag, extra: info.extra },
        { name: "served", count: 2, flag: true, extra: null },
      );
      assert.notEqual(info.threadId, 0, "a pool thread answered");
      // Each thread's copy of the module made its own app, once.
      assert.equal(info.made, 1);
    }
    // The primary hands connections to the workers in turn: both answered.
    assert.deepEqual(new Set(infos.map((info) => info.pid)), new Set(bootedPids(server.lines)));
    await server.stop();
  });

  it("runs, lists and commands an app made by a factory", async () => {
    const spec = `${FACTORY}:createApp("dev", 7)`;
    const dev = await startNode(
      ["--conditions=carafe-source", "bin/carafe.js", "run", spec, "--port", "0"],
      {
        listening: /Running on (http:\/\/\S+)/,
      },
    );
    try {
      const info = JSON.parse((await fetchReply(`${dev.url}/info`)).text) as Info;
      assert.deepEqual([info.name, info.count, info.flag], ["dev", 7, false]);
    } finally {
      await dev.stop();
    }
    // The spec before the command, as `flask --app 'hello:create_app("dev", 2)' run` takes it.
    const named = await startNode(
      [
        "--conditions=carafe-source",
        "bin/carafe.js",
        "--app",
        `${FACTORY}:createApp('named', 3)`,
        "run",
        "--port",
        "0",
      ],
      { listening: /Running on (http:\/\/\S+)/ },
    );
    try {
      const info = JSON.parse((await fetchReply(`${named.url}/info`)).text) as Info;
      assert.deepEqual([info.name, info.count, info.flag], ["named", 3, false]);
    } finally {
      await named.stop();
    }
    const routes = await carafe(["routes", spec]);
    assert.equal(routes.code, 0, routes.stderr);
    assert.match(routes.stdout, /onThread +GET +\/on-thread +thread/);
    const whoami = await carafe(["--app", `${FACTORY}:createApp('cli', 1, true)`, "whoami"]);
    assert.deepEqual(whoami, { code: 0, stdout: "cli 1 true none\n", stderr: "" });
    const discovered = await carafe(["--app", FACTORY, "whoami"]);
    assert.equal(discovered.stdout, "made 1 false none\n");
  });

  it("runs app.run({ threaded: true }) of a factory-made app: each pool thread serves that app", async () => {
    // The factory lives in factory.ts; run-threaded.ts makes the app with its own arguments.
    const server = await startNode(
      ["--conditions=carafe-source", "--import", "tsx", "test/fixtures/factories/run-threaded.ts"],
      { listening: /Running on (http:\/\/\S+)/ },
    );
    try {
      assert.ok(server.lines.some((line) => line.includes("synchronous ones on 2 threads")));
      const infos = await Promise.all(
        Array.from(
          { length: 8 },
          async () => JSON.parse((await fetchReply(`${server.url}/info`)).text) as Info,
        ),
      );
      for (const info of infos) {
        assert.notEqual(info.threadId, 0, "a pool thread answered");
        assert.deepEqual(
          {
            name: info.name,
            count: info.count,
            flag: info.flag,
            extra: info.extra,
            made: info.made,
          },
          { name: "run-made", count: 5, flag: true, extra: "from run", made: 1 },
        );
      }
    } finally {
      await server.stop();
    }
  });

  it("exits 1 naming a spec whose arguments are not literals", async () => {
    const run = await carafe(["routes", `${FACTORY}:createApp(process.exit(3))`]);
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /carafe: cannot read the arguments of '.*createApp\(process\.exit\(3\)\)': 'process\.exit\(3\)' is not a literal/,
    );
  });
});

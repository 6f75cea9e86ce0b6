// Carafe as an installed package runs it: from the build (dist/, no carafe-source condition).
// A JavaScript app then loads without tsx in any thread, and so does a TypeScript app, compiled
// once by the process that loads it.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { fetchReply, startNode, type ServeProcess } from "./serve-process.ts";

const ROOT = resolve(import.meta.dirname, "../..");

const running: ServeProcess[] = [];
after(() => Promise.all(running.map((server) => server.stop("SIGKILL"))));

async function serveBuilt(app: string): Promise<ServeProcess> {
  const server = await startNode(
    ["bin/carafe.js", "serve", `test/fixtures/build/${app}:app`, "--bind", "127.0.0.1:0"],
    { listening: /Listening at: (\S+)/ },
  );
  running.push(server);
  return server;
}

async function where(
  server: ServeProcess,
  path: string,
): Promise<{ threadId: number; tsx: boolean }> {
  const reply = await fetchReply(`${server.url}${path}`);
  assert.equal(reply.status, 200, reply.text);
  return JSON.parse(reply.text) as { threadId: number; tsx: boolean };
}

describe("carafe serve from the build", { timeout: 120_000 }, () => {
  before(() => {
    const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
    execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: ROOT });
  });

  it("serves a JavaScript app without registering tsx on the loop or a pool thread", async () => {
    const server = await serveBuilt("plain.js");
    assert.deepEqual(await where(server, "/loop"), { threadId: 0, tsx: false });
    const thread = await where(server, "/thread");
    assert.notEqual(thread.threadId, 0);
    assert.equal(thread.tsx, false);
    assert.equal(await server.stop(), 0);
  });

  it("compiles a TypeScript app, so neither the loop nor a pool thread registers tsx", async () => {
    const server = await serveBuilt("typed.ts");
    assert.deepEqual(await where(server, "/loop"), { threadId: 0, tsx: false });
    const thread = await where(server, "/thread");
    assert.notEqual(thread.threadId, 0);
    assert.equal(thread.tsx, false);
    assert.equal(await server.stop(), 0);
  });
});

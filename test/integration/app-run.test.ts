// `app.run()` as a user runs it: a module that serves itself, started with `node --import tsx`.
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, describe, it } from "node:test";
import { fetchReply, once, startNode, type ServeProcess } from "./serve-process.ts";

const FIXTURE = resolve(import.meta.dirname, "../fixtures/dev/app.ts");

const running: ServeProcess[] = [];
after(() => Promise.all(running.map((server) => server.stop("SIGKILL"))));

async function runModule(file: string, env: Record<string, string>): Promise<ServeProcess> {
  const server = await startNode(["--conditions=carafe-source", "--import", "tsx", file], {
    env,
    listening: /Running on (http:\/\/\S+)/,
  });
  running.push(server);
  return server;
}

function threadOf(text: string): number {
  return (JSON.parse(text) as { threadId: number }).threadId;
}

describe("app.run()", () => {
  it("runs handlers on the event loop by default", async () => {
    const server = await runModule(FIXTURE, {});
    assert.equal(threadOf((await fetchReply(`${server.url}/where`)).text), 0);
    assert.ok(server.lines.some((line) => line.includes("on the event loop, but routes marked")));
    await server.stop();
  });

  it("with threaded: true runs sync handlers on pool threads and async ones on the loop", async () => {
    const server = await runModule(FIXTURE, { THREADED: "1" });
    assert.ok(server.lines.some((line) => line.includes("synchronous ones on 2 threads")));
    assert.notEqual(threadOf((await fetchReply(`${server.url}/where`)).text), 0);
    assert.equal(threadOf((await fetchReply(`${server.url}/where-async`)).text), 0);
    await server.stop();
  });

  it("starts a pool for a { thread: true } route even when not threaded", async () => {
    const server = await runModule(FIXTURE, {});
    assert.notEqual(threadOf((await fetchReply(`${server.url}/pinned`)).text), 0);
    assert.equal(threadOf((await fetchReply(`${server.url}/where`)).text), 0);
    await server.stop();
  });

  it("warns once per route that blocks the event loop, naming the way out", async () => {
    const server = await runModule(FIXTURE, {});
    await fetchReply(`${server.url}/hog`);
    const line = await server.waitFor(/\/hog/);
    assert.match(line, /held the event loop for \d+ ms/);
    assert.match(line, /thread: true|--threads/);
    await fetchReply(`${server.url}/hog`);
    await fetchReply(`${server.url}/where`);
    // A second warning would be written before its reply, yet read from the pipe after it:
    // count only once the process has ended and its output has been read to the end.
    const outputRead = once(server.child, "close");
    await server.stop();
    await outputRead;
    assert.equal(server.lines.filter((each) => each.includes("/hog")).length, 1);
  });

  it("in debug mode shows the stack trace to a loopback client", async () => {
    const server = await runModule(FIXTURE, { DEBUG: "1" });
    const reply = await fetchReply(`${server.url}/fail`);
    assert.equal(reply.status, 500);
    assert.match(reply.text, /something broke/);
    await server.stop();
  });

  it("prints a failing handler's exception to the console, on the loop and on a thread", async () => {
    const server = await runModule(FIXTURE, { THREADED: "1" });
    for (const [path, message] of [
      ["/fail", "something broke"],
      ["/fail-async", "something async broke"],
    ]) {
      assert.equal((await fetchReply(`${server.url}${path}`)).status, 500);
      const from = server.lines.indexOf(
        await server.waitFor(new RegExp(`^\\[carafe\\] ERROR Exception on ${path} \\[GET\\]`)),
      );
      await server.waitFor(new RegExp(`^Error: ${message}$`), from);
    }
    await server.stop();
  });

  it("in debug mode restarts with the new code when the source changes", async () => {
    const dir = mkdtempSync(join(resolve(import.meta.dirname, "../fixtures/dev"), "reload-"));
    try {
      const file = join(dir, "app.ts");
      copyFileSync(FIXTURE, file);
      const server = await runModule(file, { DEBUG: "1" });
      assert.equal((await fetchReply(`${server.url}/`)).text, "version 1");
      const from = server.lines.length;
      writeFileSync(file, readFileSync(file, "utf8").replace('"version 1"', '"version 2"'));
      const line = await server.waitFor(/Running on (http:\/\/\S+)/, from);
      const url = (/Running on (http:\/\/\S+)/.exec(line) as RegExpExecArray)[1] as string;
      assert.equal((await fetchReply(`${url}/`)).text, "version 2");
      await server.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

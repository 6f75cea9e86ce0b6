// WebSockets under `carafe serve --workers 2`: real worker processes, real `ws` clients.
import assert from "node:assert/strict";
import { once } from "node:events";
import { after, describe, it } from "node:test";
import { WebSocket as Client } from "ws";
import { startServe, type ServeProcess } from "./serve-process.ts";

const running: ServeProcess[] = [];
after(() => Promise.all(running.map((server) => server.stop("SIGKILL"))));

/** Opens a client and resolves with it and its first reply to `text`. */
async function echo(url: string, text: string): Promise<{ client: Client; reply: string }> {
  const client = new Client(url);
  const reply = new Promise<string>((resolve) =>
    client.once("message", (data) => resolve(String(data))),
  );
  await once(client, "open");
  client.send(text);
  return { client, reply: await reply };
}

describe("WebSockets under carafe serve", () => {
  it("serves sockets on every worker and closes them with 1001 on TERM", async () => {
    const server = await startServe([
      "test/fixtures/sockets/app.ts:app",
      "--bind",
      "127.0.0.1:0",
      "--workers",
      "2",
      "--log-level",
      "debug",
    ]);
    running.push(server);
    // Debug logging says when each worker listens.
    while (server.lines.filter((line) => / is listening$/.test(line)).length < 2) {
      await server.waitFor(/ is listening$/, server.lines.length);
    }
    const url = server.url.replace("http://", "ws://") + "/echo";
    const pids = new Set<string>();
    const clients: Client[] = [];
    // The primary hands connections to the workers in turn: 20 clients reach both.
    for (let i = 0; i < 20; i += 1) {
      const { client, reply } = await echo(url, `hello ${i}`);
      const [pid, ...rest] = reply.split(" ");
      assert.equal(rest.join(" "), `hello ${i}`);
      pids.add(pid ?? "");
      clients.push(client);
    }
    assert.equal(pids.size, 2, `replies came from ${[...pids].join(", ")}`);
    const codes = clients.map(
      (client) => new Promise<number>((resolve) => client.once("close", resolve)),
    );
    const exit = server.stop("SIGTERM");
    assert.deepEqual(new Set(await Promise.all(codes)), new Set([1001]));
    assert.equal(await exit, 0);
  });
});

// The http loop over a real socket: how a response record's headers reach the client.
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, get, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";
import type { RecordHandler } from "../../src/framework/internal.ts";
import { createRequestListener } from "../../src/server/http/http-loop.ts";

const app: RecordHandler = {
  planOf: () => ({ rule: null, placement: "loop", body: { read: "buffer", limit: null } }),
  handle: () => ({
    status: 201,
    headers: [
      "Set-Cookie",
      "a=1",
      "X-Trace",
      "t-1",
      "Set-Cookie",
      "b=2",
      "Set-Cookie",
      "c=3",
      "Content-Length",
      "2",
    ],
    body: "ok",
  }),
};

describe("http loop", () => {
  it("writes every header of the record, each repeated Set-Cookie on its own line", async () => {
    const logger = { error: (message: string) => assert.fail(message) };
    const server = createServer(createRequestListener(app, logger)).listen(0, "127.0.0.1");
    await once(server, "listening");
    try {
      const { port } = server.address() as AddressInfo;
      const response = await new Promise<IncomingMessage>((done) =>
        get(`http://127.0.0.1:${port}/`, done),
      );
      response.resume();
      assert.equal(response.statusCode, 201);
      assert.deepEqual(response.headers["set-cookie"], ["a=1", "b=2", "c=3"]);
      assert.equal(response.headers["x-trace"], "t-1");
      assert.ok(response.rawHeaders.includes("X-Trace"), "the name keeps its case");
    } finally {
      server.close();
    }
  });
});

// Request bodies over a real socket: each is bounded, and read only when a view will use it.
import assert from "node:assert/strict";
import { once } from "node:events";
import {
  createServer,
  request as httpRequest,
  type ClientRequest,
  type IncomingMessage,
  type Server,
} from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { DEFAULT_MAX_CONTENT_LENGTH, type Carafe } from "carafe";
import { createRequestListener } from "../../src/server/http/http-loop.ts";
import { newApp } from "../helpers.ts";

const MiB = 1024 * 1024;
// A test that waits for an answer the server never gives fails here, not at the run's timeout.
const WITHIN = { timeout: 20_000 };

/** Serves `app` through the http loop, answering "Expect: 100-continue" as the worker does. */
async function serve(app: Carafe): Promise<{ server: Server; port: number }> {
  const logger = { error: (message: string, error?: unknown) => console.error(message, error) };
  const listener = createRequestListener(app, logger);
  const server = createServer(listener).listen(0, "127.0.0.1");
  server.on("checkContinue", (request, response) => listener(request, response, true));
  await once(server, "listening");
  return { server, port: (server.address() as AddressInfo).port };
}

async function textOf(response: IncomingMessage): Promise<string> {
  response.setEncoding("utf8");
  let text = "";
  for await (const chunk of response) text += chunk as string;
  return text;
}

describe("request bodies over a real socket", () => {
  const app = newApp();
  let handled = 0;
  app.get("/", () => "home");
  app.post("/count", (req) => {
    handled += 1;
    return { bytes: req.data.byteLength };
  });
  app.post("/upload", { maxContentLength: 4 * MiB }, (req) => ({ bytes: req.data.byteLength }));
  app.post("/anything", { maxContentLength: null }, (req) => ({ bytes: req.data.byteLength }));

  let server: Server;
  let port: number;
  before(async () => ({ server, port } = await serve(app)));
  after(() => server.close());

  function post(path: string, headers: Record<string, string> = {}) {
    const client = httpRequest({
      host: "127.0.0.1",
      port,
      path,
      method: "POST",
      agent: false,
      headers: { "Content-Type": "application/octet-stream", ...headers },
    });
    const response = new Promise<IncomingMessage>((done, fail) => {
      client.on("response", done).on("error", fail);
    });
    return { client, response };
  }

  /** Writes 64 KiB chunks until the answer arrives, or `most` bytes were sent; the bytes sent. */
  async function sendUntilAnswered(
    client: ClientRequest,
    response: Promise<IncomingMessage>,
    most: number,
  ): Promise<number> {
    let answered = false;
    void response.then(() => (answered = true));
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let sent = 0;
    while (!answered && sent < most) {
      sent += chunk.byteLength;
      if (!client.write(chunk)) {
        await Promise.race([once(client, "drain"), response]);
      }
    }
    if (!answered) client.end();
    return sent;
  }

  it("has a 1 MiB body limit by default", () => {
    assert.equal(DEFAULT_MAX_CONTENT_LENGTH, MiB);
    assert.equal(app.config.maxContentLength, MiB);
  });

  it(
    "answers 405 to a body sent to a GET-only route without waiting for the body",
    WITHIN,
    async () => {
      const { client, response } = post("/");
      client.write("the first chunk of a body that never ends");
      const res = await response;
      assert.equal(res.statusCode, 405);
      assert.equal(res.headers["allow"], "GET, HEAD, OPTIONS");
      assert.equal(res.headers["connection"], "close", "the unread rest cannot be skipped");
      await textOf(res);
      client.destroy();
    },
  );

  it(
    "answers 404 to a body sent to an unknown path without waiting for the body",
    WITHIN,
    async () => {
      const { client, response } = post("/nowhere", { "Content-Length": String(200 * MiB) });
      client.write("only this much of 200 MiB is ever sent");
      const res = await response;
      assert.equal(res.statusCode, 404);
      assert.equal(res.headers["connection"], "close");
      await textOf(res);
      client.destroy();
    },
  );

  it("answers 413 once a chunked body passes the limit, reading no further", WITHIN, async () => {
    handled = 0;
    const { client, response } = post("/count");
    const sent = await sendUntilAnswered(client, response, 64 * MiB);
    const res = await response;
    assert.equal(res.statusCode, 413);
    assert.match(await textOf(res), /larger than the limit of 1048576 bytes/);
    assert.equal(res.headers["connection"], "close");
    assert.equal(handled, 0, "the view never ran");
    // What socket buffers hold on the way is all the client could send past the limit.
    assert.ok(sent < 16 * MiB, `the client sent ${sent} bytes before the answer`);
    client.destroy();
  });

  it(
    "answers 413 to a declared length over the limit without asking for the body",
    WITHIN,
    async () => {
      const { client, response } = post("/count", {
        "Content-Length": String(MiB + 1),
        Expect: "100-continue",
      });
      let continued = false;
      client.on("continue", () => (continued = true));
      client.flushHeaders();
      const res = await response;
      assert.equal(res.statusCode, 413);
      assert.equal(continued, false, "no 100 Continue for a body that will not be read");
      await textOf(res);
      client.destroy();
    },
  );

  it("sends 100 Continue for a body it will read, then serves it", WITHIN, async () => {
    const { client, response } = post("/count", {
      "Content-Length": "5",
      Expect: "100-continue",
    });
    client.on("continue", () => client.end("hello"));
    client.flushHeaders();
    const res = await response;
    assert.equal(res.statusCode, 200);
    assert.deepEqual(JSON.parse(await textOf(res)), { bytes: 5 });
  });

  it(
    "takes a route's own limit over the app's, and none where the route says null",
    WITHIN,
    async () => {
      const body = Buffer.alloc(2 * MiB, 0x62);
      for (const [path, status] of [
        ["/count", 413],
        ["/upload", 200],
        ["/anything", 200],
      ] as const) {
        const { client, response } = post(path, { "Content-Length": String(body.byteLength) });
        client.end(body);
        const res = await response;
        const text = await textOf(res);
        assert.equal(res.statusCode, status, `${path}: ${text}`);
        if (status === 200) assert.deepEqual(JSON.parse(text), { bytes: body.byteLength });
      }
    },
  );
});

// The http loop over a real socket: how a response record's headers reach the client.
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, get, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";
import type { BodyStream, RecordHandler } from "../../src/framework/internal.ts";
import {
  createRequestListener,
  type Exchange,
  type LoopOptions,
} from "../../src/server/http/http-loop.ts";
import { RequestMeter } from "../../src/server/metrics/request-meter.ts";

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

  it("answers the probe paths before the app, 503 on the readiness path while draining", async () => {
    let draining = false;
    let handled = 0;
    const counting: RecordHandler = {
      ...app,
      handle: (...args) => (handled++, app.handle(...args)),
    };
    const { get: fetch, close } = await serveLoop(counting, {
      probes: { healthz: "/livez", readyz: "/readyz" },
      isDraining: () => draining,
    });
    try {
      assert.deepEqual(await fetch("/livez"), { status: 200, text: "ok\n" });
      assert.deepEqual(await fetch("/readyz?verbose=1"), { status: 200, text: "ready\n" });
      draining = true;
      assert.deepEqual(await fetch("/readyz"), { status: 503, text: "draining\n" });
      assert.deepEqual(await fetch("/livez"), { status: 200, text: "ok\n" });
      assert.equal(handled, 0, "no probe reached the app");
      assert.equal((await fetch("/other")).status, 201);
      assert.equal(handled, 1);
    } finally {
      close();
    }
  });

  it("meters each request by method, route rule, status and scheme", async () => {
    const meter = new RequestMeter();
    const routed: RecordHandler = {
      planOf: (_method, url) => ({
        rule: url.startsWith("/user/") ? "/user/<int:id>" : null,
        placement: "loop",
        body: { read: "buffer", limit: null },
      }),
      handle: (record) => ({
        status: record.url.startsWith("/user/") ? 200 : 404,
        headers: [],
        body: "abc",
      }),
    };
    const { get: fetch, close } = await serveLoop(routed, { meter });
    try {
      for (const url of ["/user/1", "/user/2", "/nothing", "/user/3"]) await fetch(url);
      const duration = meter.collect().find((family) => family.name.endsWith("duration_seconds"));
      const counts = duration?.values.filter((sample) => sample.metricName?.endsWith("_count"));
      assert.deepEqual(
        counts?.map((sample) => [sample.labels, sample.value]),
        [
          [
            {
              http_request_method: "GET",
              http_route: "/user/<int:id>",
              http_response_status_code: "200",
              url_scheme: "http",
            },
            3,
          ],
          [{ http_request_method: "GET", http_response_status_code: "404", url_scheme: "http" }, 1],
        ],
      );
      const active = meter
        .collect()
        .find((family) => family.name === "http_server_active_requests");
      assert.equal(active?.values[0]?.value, 0);
      const sizes = meter
        .collect()
        .find((family) => family.name.startsWith("http_server_response"));
      const sum = sizes?.values.find((sample) => sample.metricName?.endsWith("_sum"));
      assert.equal(sum?.value, 9, "three bodies of 3 bytes on the matched route");
    } finally {
      close();
    }
  });

  it("reports each exchange with its route and id: a complete body at once, a stream when it ends", async () => {
    let release = (): void => {};
    const released = new Promise<void>((done) => (release = done));
    const streamed: BodyStream = (async function* () {
      yield "first ";
      await released;
      yield "last";
    })();
    const routed: RecordHandler = {
      planOf: (_method, url) => ({
        rule: url === "/user/7" ? "/user/<int:id>" : null,
        placement: "loop",
        body: { read: "buffer", limit: null },
      }),
      handle: (record) =>
        record.url === "/stream"
          ? { status: 200, headers: [], body: streamed }
          : { status: 200, headers: ["Content-Type", "text/plain"], body: "hello" },
    };
    const exchanges: Exchange[] = [];
    let bothReported = (): void => {};
    const reported = new Promise<void>((done) => (bothReported = done));
    const logger = { error: (message: string) => assert.fail(message) };
    const listener = createRequestListener(routed, logger, {
      onExchange: (exchange) => {
        if (exchanges.push(exchange) === 2) bothReported();
      },
      echoRequestId: true,
    });
    const server = createServer(listener).listen(0, "127.0.0.1");
    await once(server, "listening");
    try {
      const { port } = server.address() as AddressInfo;
      const fetched = (path: string): Promise<IncomingMessage> =>
        new Promise((done) => get(`http://127.0.0.1:${port}${path}`, done));
      const user = await fetched("/user/7");
      user.resume();
      const [complete] = exchanges;
      assert.ok(complete !== undefined, "reported once the response was written");
      assert.equal(complete.route, "/user/<int:id>");
      assert.equal(complete.url, "/user/7");
      assert.equal(complete.responseBytes, 5);
      assert.equal(complete.requestId, user.headers["x-request-id"]);
      assert.ok(complete.durationMs >= 0);

      const stream = await fetched("/stream");
      stream.resume();
      assert.equal(exchanges.length, 1, "a stream is not reported before it ends");
      release();
      await once(stream, "end");
      await reported;
      const [, ended] = exchanges;
      assert.equal(ended?.route, null);
      assert.equal(ended?.responseBytes, "first last".length);
      assert.equal(ended?.requestId, stream.headers["x-request-id"]);
    } finally {
      server.close();
    }
  });
});

/** Serves `handler` through the loop on a free port; `get` answers with the status and text. */
async function serveLoop(
  handler: RecordHandler,
  options: LoopOptions,
): Promise<{ get(path: string): Promise<{ status: number; text: string }>; close(): void }> {
  const logger = { error: (message: string) => assert.fail(message) };
  const server = createServer(createRequestListener(handler, logger, options));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    get: (path) =>
      new Promise((done, fail) => {
        get(`http://127.0.0.1:${port}${path}`, (response) => {
          let text = "";
          response.setEncoding("utf8");
          response.on("data", (chunk: string) => (text += chunk));
          response.on("end", () => done({ status: response.statusCode ?? 0, text }));
        }).on("error", fail);
      }),
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

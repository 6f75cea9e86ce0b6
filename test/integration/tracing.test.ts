// OpenTelemetry in a served app: `carafe serve` makes each request a server span, continues a
// trusted caller's traceparent, and hands the span's context to the pool thread that runs a
// request or a toThread call, so spans started there are its children. Each thread of the app
// prints the spans it ends (test/fixtures/tracing/telemetry.ts); the tests read those lines.
import assert from "node:assert/strict";
import { once } from "node:events";
import type { IncomingMessage } from "node:http";
import { describe, it } from "node:test";
import { WebSocket as Client } from "ws";
import { fetchReply, serveInThisFile, type ServeProcess } from "./serve-process.ts";
import type { PrintedSpan } from "../fixtures/tracing/telemetry.ts";

const APP = "test/fixtures/tracing/app.ts";
const startServe = serveInThisFile();

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN = "00f067aa0ba902b7";
const TRACEPARENT = `00-${TRACE_ID}-${CALLER_SPAN}-01`;

function serve(args: string[] = [], env: Record<string, string> = {}): Promise<ServeProcess> {
  return startServe([APP, "--bind", "127.0.0.1:0", "--threads", "2", ...args], {
    env: { CARAFE_TEST_TRACING: "print", ...env },
  });
}

/** The next span named `name` the server prints from line `from` on. */
async function printedSpan(server: ServeProcess, name: string, from: number): Promise<PrintedSpan> {
  const line = await server.waitFor(new RegExp(`^span \\{"name":${JSON.stringify(name)},`), from);
  return JSON.parse(line.slice("span ".length)) as PrintedSpan;
}

describe("tracing a served app", () => {
  it("continues a trusted caller's trace into a thread handler's own span", async () => {
    const server = await serve();
    const from = server.lines.length;
    const reply = await fetchReply(`${server.url}/work?n=1`, {
      headers: { traceparent: TRACEPARENT },
    });
    assert.equal(reply.status, 200, reply.text);
    const request = await printedSpan(server, "GET /work", from);
    const work = await printedSpan(server, "work", from);
    assert.equal(request.kind, 1, "a SERVER span");
    assert.equal(request.traceId, TRACE_ID);
    assert.equal(request.parentSpanId, CALLER_SPAN);
    assert.equal(request.threadId, 0, "the request span is the loop's");
    assert.equal(request.attributes["http.route"], "/work");
    assert.equal(request.attributes["url.query"], "n=1");
    assert.equal(request.attributes["http.response.status_code"], 200);
    assert.equal(work.threadId, (JSON.parse(reply.text) as { threadId: number }).threadId);
    assert.notEqual(work.threadId, 0, "the handler's span is the pool thread's");
    assert.equal(work.traceId, TRACE_ID);
    assert.equal(work.parentSpanId, request.spanId);
  });

  it("makes a toThread call's span a child of the request span", async () => {
    const server = await serve();
    const from = server.lines.length;
    const reply = await fetchReply(`${server.url}/offload`, {
      headers: { traceparent: TRACEPARENT },
    });
    assert.equal(reply.status, 200, reply.text);
    const ran = JSON.parse(reply.text) as { loop: number; call: number };
    const request = await printedSpan(server, "GET /offload", from);
    const offloaded = await printedSpan(server, "offloaded", from);
    assert.equal(request.threadId, ran.loop);
    assert.equal(offloaded.threadId, ran.call);
    assert.notEqual(offloaded.threadId, ran.loop, "the call ran on another thread");
    assert.equal(offloaded.traceId, TRACE_ID);
    assert.equal(offloaded.parentSpanId, request.spanId);
  });

  it("makes the spans a streamed body starts on a thread children of the request span", async () => {
    const server = await serve();
    const from = server.lines.length;
    const reply = await fetchReply(`${server.url}/stream`);
    assert.equal(reply.text, "ab");
    const request = await printedSpan(server, "GET /stream", from);
    assert.equal(request.attributes["http.response.body.size"], 2, "the bytes written");
    for (const name of ["chunk a", "chunk b"]) {
      const chunk = await printedSpan(server, name, from);
      assert.equal(chunk.traceId, request.traceId, name);
      assert.equal(chunk.parentSpanId, request.spanId, name);
    }
  });

  it("ends a streamed body's span as an error when the body fails after its status was sent", async () => {
    const server = await serve();
    // A thread's exception crosses to the loop as the message of the response it cut.
    for (const [where, type] of [
      ["loop", "TypeError"],
      ["thread", "ResponseCutError"],
    ]) {
      const from = server.lines.length;
      const path = `/stream-fails/${where}`;
      await assert.rejects(fetchReply(`${server.url}${path}`), `${where}: the connection is cut`);
      const request = await printedSpan(server, `GET ${path}`, from);
      assert.equal(request.attributes["http.response.status_code"], 200);
      assert.equal(request.attributes["http.response.body.size"], 1, where);
      assert.equal(request.attributes["error.type"], type);
      assert.equal(request.status, 2, `${where}: an ERROR status`);
      assert.deepEqual(request.exceptions, ["the stream broke"], where);
    }
  });

  it("records on the request span the exception a thread handler raised", async () => {
    const server = await serve();
    const from = server.lines.length;
    assert.equal((await fetchReply(`${server.url}/fails`)).status, 500);
    const request = await printedSpan(server, "GET /fails", from);
    assert.equal(request.status, 2, "an ERROR status");
    assert.equal(request.attributes["error.type"], "500");
    assert.deepEqual(request.exceptions, ["failed on a thread"]);
  });

  it("starts a new trace when the caller is not a trusted proxy", async () => {
    const server = await serve(["--forwarded-allow-ips", "10.0.0.1"]);
    const from = server.lines.length;
    await fetchReply(`${server.url}/work`, { headers: { traceparent: TRACEPARENT } });
    const request = await printedSpan(server, "GET /work", from);
    const work = await printedSpan(server, "work", from);
    assert.notEqual(request.traceId, TRACE_ID);
    assert.equal(request.parentSpanId, null);
    assert.equal(
      work.traceId,
      request.traceId,
      "the thread's span is still in the request's trace",
    );
    assert.equal(work.parentSpanId, request.spanId);
  });

  it("continues any caller's trace with --trust-traceparent", async () => {
    const server = await serve(["--forwarded-allow-ips", "10.0.0.1", "--trust-traceparent"]);
    const from = server.lines.length;
    const reply = await fetchReply(`${server.url}/user/5`, {
      headers: { traceparent: TRACEPARENT },
    });
    const request = await printedSpan(server, "GET /user/<int:id>", from);
    assert.equal(request.attributes["http.response.body.size"], Buffer.byteLength(reply.text));
    assert.equal(request.traceId, TRACE_ID);
    assert.equal(request.parentSpanId, CALLER_SPAN);
  });

  it(
    "makes a WebSocket upgrade a span named after its route, parent of its handler's spans",
    { timeout: 30_000 },
    async () => {
      const server = await serve();
      const ws = server.url.replace("http://", "ws://");
      for (const [path, rule, prefix] of [
        ["/chat/a", "/chat/<room>", "message"],
        ["/events/b", "/events/<room>", "event"],
      ] as const) {
        const from = server.lines.length;
        const client = new Client(`${ws}${path}`, { headers: { traceparent: TRACEPARENT } });
        await once(client, "open");
        const upgrade = await printedSpan(server, `GET ${rule}`, from);
        assert.equal(upgrade.kind, 1, "a SERVER span");
        assert.equal(upgrade.traceId, TRACE_ID);
        assert.equal(upgrade.parentSpanId, CALLER_SPAN);
        assert.equal(upgrade.attributes["http.route"], rule);
        assert.equal(upgrade.attributes["url.path"], path);
        assert.equal(upgrade.attributes["http.response.status_code"], 101);
        assert.equal(upgrade.status, 0, "not an error");
        // The span ended with the handshake; the messages that follow are its children.
        for (const text of ["one", "two"]) {
          client.send(text);
          const [reply] = (await once(client, "message")) as [Buffer];
          assert.equal(String(reply), `got ${text}`);
          const message = await printedSpan(server, `${prefix} ${text}`, from);
          assert.equal(message.traceId, TRACE_ID, `${path}: ${text}`);
          assert.equal(message.parentSpanId, upgrade.spanId, `${path}: ${text}`);
        }
        client.close();
        await once(client, "close");
      }

      // A hook that refuses: the span has the route and the refusal's status, and the hook's span.
      const from = server.lines.length;
      const refused = new Client(`${ws}/chat/c?token=bad`);
      const [, response] = (await once(refused, "unexpected-response")) as [
        unknown,
        IncomingMessage,
      ];
      assert.equal(response.statusCode, 401);
      response.resume();
      const upgrade = await printedSpan(server, "GET /chat/<room>", from);
      assert.equal(upgrade.attributes["http.response.status_code"], 401);
      const check = await printedSpan(server, "check token", from);
      assert.equal(check.parentSpanId, upgrade.spanId);

      // No socket route: named by the method alone, as an unmatched request is.
      const nowhere = new Client(`${ws}/nowhere`);
      const [, missing] = (await once(nowhere, "unexpected-response")) as [
        unknown,
        IncomingMessage,
      ];
      assert.equal(missing.statusCode, 404);
      missing.resume();
      const unmatched = await printedSpan(server, "GET", from);
      assert.equal(unmatched.attributes["url.path"], "/nowhere");
      assert.equal(unmatched.attributes["http.route"], undefined);
      assert.equal(unmatched.attributes["http.response.status_code"], 404);
    },
  );

  it(
    "traces requests from the moment the app registers a provider, however late",
    { timeout: 30_000 },
    async () => {
      const server = await serve([], { CARAFE_TEST_TRACING: "late" });
      const before = await fetchReply(`${server.url}/user/1`);
      assert.equal(before.status, 200);
      const from = server.lines.length;
      const registered = await fetchReply(`${server.url}/register-telemetry`, { method: "POST" });
      assert.equal(registered.text, "registered");
      assert.equal((await fetchReply(`${server.url}/user/2`)).status, 200);
      const request = await printedSpan(server, "GET /user/<int:id>", from);
      assert.equal(request.attributes["url.path"], "/user/2");
      assert.equal(request.kind, 1, "a SERVER span");
      // The server stops only after every response has been written: a span would be printed.
      assert.equal(await server.stop(), 0);
      const paths = server.lines
        .filter((line) => line.startsWith("span "))
        .map(
          (line) => (JSON.parse(line.slice("span ".length)) as PrintedSpan).attributes["url.path"],
        );
      assert.deepEqual(paths, ["/user/2"], "no span for the requests before the provider");
    },
  );

  it("traces nothing, and serves as before, when the app registers no provider", async () => {
    const server = await serve([], { CARAFE_TEST_TRACING: "off" });
    const answers = await Promise.all(
      ["/work", "/offload", "/user/5"].map((path) =>
        fetchReply(`${server.url}${path}`, { headers: { traceparent: TRACEPARENT } }),
      ),
    );
    assert.deepEqual(
      answers.map((answer) => answer.status),
      [200, 200, 200],
    );
    // The server stops only after every response has been written: a span would be printed.
    assert.equal(await server.stop(), 0);
    assert.deepEqual(
      server.lines.filter((line) => line.startsWith("span ")),
      [],
    );
  });
});

// Requests as OpenTelemetry server spans, over a real socket: the http loop with the tracing a
// worker gives it, and the SDK's in-memory exporter registered in this process.
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { trace, type SpanContext } from "@opentelemetry/api";
import {
  InMemorySpanExporter,
  NodeTracerProvider,
  SimpleSpanProcessor,
  type ReadableSpan,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-node";
import { createRequestListener } from "../../src/server/http/http-loop.ts";
import { applyProxyHeaders, createProxyTrust } from "../../src/server/http/proxy.ts";
import {
  loadRequestTracing,
  providerRegistered,
  requestAttributes,
} from "../../src/server/http/tracing.ts";
import { loadTracingApi, type TracingApi } from "../../src/threading/trace-context.ts";
import { getRecord, newApp } from "../helpers.ts";

const exporter = new InMemorySpanExporter();
/** Resolves, for each span name asked for, with the span once it has ended. */
const waiting = new Map<string, (span: ReadableSpan) => void>();
const notifier: SpanProcessor = {
  onStart: () => {},
  onEnd: (span) => waiting.get(span.name)?.(span),
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};

/** The next span named `name` to end. */
function nextSpan(name: string): Promise<ReadableSpan> {
  return new Promise((resolve) =>
    waiting.set(name, (span) => {
      waiting.delete(name);
      resolve(span);
    }),
  );
}

const PARENT_TRACE = "0af7651916cd43dd8448eb211c80319c";
const PARENT_SPAN = "b7ad6b7169203331";
const TRACEPARENT = `00-${PARENT_TRACE}-${PARENT_SPAN}-01`;

const app = newApp();
app.logger = { error: () => {}, warn: () => {}, info: () => {} };
app.get("/user/<int:id>", (req) => ({ id: req.params.id }));
app.get("/stream", async function* () {
  await Promise.resolve();
  yield trace.getTracer("test").startActiveSpan("chunk", (span) => {
    span.end();
    return "streamed";
  });
});
app.route("/cache", { methods: ["PURGE"] }, () => "purged");
app.get("/fails", () => {
  throw new Error("the view failed");
});
app.get("/nested", async () =>
  trace.getTracer("test").startActiveSpan("inside", async (span) => {
    await Promise.resolve();
    span.end();
    return "nested";
  }),
);

function get(
  url: string,
  headers: Record<string, string> = {},
  method = "GET",
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** A server of `app` on 127.0.0.1 whose trusted proxies are `allowIps`. */
async function serveTraced(allowIps: string[]): Promise<{ url: string; server: Server }> {
  const trusted = createProxyTrust(allowIps);
  const tracing = await loadRequestTracing(trusted, "test");
  assert.ok(tracing !== null, "the api is installed, so requests can be traced");
  const server = createServer(
    createRequestListener(
      app,
      { error: () => {} },
      {
        tracing,
        applyProxy: (record) => applyProxyHeaders(record, trusted),
      },
    ),
  ).listen(0, "127.0.0.1");
  await once(server, "listening");
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe("request tracing", () => {
  let trusting: { url: string; server: Server };
  let distrusting: { url: string; server: Server };
  let api: TracingApi;

  before(async () => {
    api = (await loadTracingApi()) as TracingApi;
    assert.equal(providerRegistered(api), false, "no provider is registered before the app's");
    // Loaded before the app registers its provider, as when it does so after an await.
    const early = await loadRequestTracing(() => true);
    assert.equal(early?.enabled(), false, "no provider: no request is traced");
    trusting = await serveTraced(["127.0.0.1"]);
    new NodeTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(exporter), notifier],
    }).register();
    assert.equal(early.enabled(), true, "a request is traced once a provider is registered");
    distrusting = await serveTraced(["10.0.0.1"]);
  });
  after(() => {
    trusting.server.close();
    distrusting.server.close();
  });

  it("makes a request a SERVER span named after its route, with the HTTP attributes", async () => {
    const ended = nextSpan("GET /user/<int:id>");
    const reply = await get(`${trusting.url}/user/42?tab=posts`, { "user-agent": "probe/1.0" });
    assert.equal(reply.status, 200);
    const span = await ended;
    assert.equal(span.kind, 1 /* SERVER */);
    assert.equal(span.status.code, 0 /* UNSET */);
    assert.equal(span.instrumentationScope.name, "carafe");
    const port = Number(new URL(trusting.url).port);
    assert.deepEqual(span.attributes, {
      "http.request.method": "GET",
      "url.path": "/user/42",
      "url.query": "tab=posts",
      "url.scheme": "http",
      "network.protocol.version": "1.1",
      "http.route": "/user/<int:id>",
      "server.address": "127.0.0.1",
      "server.port": port,
      "client.address": "127.0.0.1",
      "network.peer.address": "127.0.0.1",
      "user_agent.original": "probe/1.0",
      "http.response.status_code": 200,
      "http.response.body.size": Buffer.byteLength(reply.text),
    });
  });

  it("names a request no route matched by its method alone", async () => {
    const ended = nextSpan("GET");
    assert.equal((await get(`${trusting.url}/nowhere`)).status, 404);
    const span = await ended;
    assert.equal(span.attributes["http.route"], undefined);
    assert.equal(span.attributes["url.path"], "/nowhere");
    assert.equal(span.attributes["http.response.status_code"], 404);
    assert.equal(span.status.code, 0, "a 4xx is not a server error");
  });

  it("continues the traceparent of a trusted caller", async () => {
    const ended = nextSpan("GET /user/<int:id>");
    await get(`${trusting.url}/user/1`, { traceparent: TRACEPARENT, tracestate: "vendor=x" });
    const span = await ended;
    assert.equal(span.spanContext().traceId, PARENT_TRACE);
    assert.equal(span.parentSpanContext?.spanId, PARENT_SPAN);
    assert.equal(span.parentSpanContext?.isRemote, true);
    assert.equal(span.spanContext().traceState?.get("vendor"), "x");
  });

  it("starts a new trace for an untrusted caller's traceparent", async () => {
    const ended = nextSpan("GET /user/<int:id>");
    await get(`${distrusting.url}/user/1`, { traceparent: TRACEPARENT });
    const span = await ended;
    assert.notEqual(span.spanContext().traceId, PARENT_TRACE);
    assert.equal(span.parentSpanContext, undefined, "a root span");
  });

  it("takes the client address from a trusted proxy, and its traceparent", async () => {
    const ended = nextSpan("GET /user/<int:id>");
    await get(`${trusting.url}/user/1`, {
      traceparent: TRACEPARENT,
      "x-forwarded-for": "203.0.113.9",
      "x-forwarded-proto": "https",
      "x-forwarded-host": "shop.example",
    });
    const span = await ended;
    assert.equal(span.spanContext().traceId, PARENT_TRACE);
    assert.equal(span.attributes["client.address"], "203.0.113.9");
    assert.equal(span.attributes["network.peer.address"], "127.0.0.1");
    assert.equal(span.attributes["url.scheme"], "https");
    assert.equal(span.attributes["server.address"], "shop.example");
    assert.equal(span.attributes["server.port"], 443);
  });

  it("marks a 500 as an error and records the exception the view raised", async () => {
    const ended = nextSpan("GET /fails");
    assert.equal((await get(`${trusting.url}/fails`)).status, 500);
    const span = await ended;
    assert.equal(span.status.code, 2 /* ERROR */);
    assert.equal(span.attributes["error.type"], "500");
    const exception = span.events.find((event) => event.name === "exception");
    assert.equal(exception?.attributes?.["exception.type"], "Error");
    assert.equal(exception?.attributes?.["exception.message"], "the view failed");
  });

  it("makes the request span the parent of spans the handler starts", async () => {
    const inside = nextSpan("inside");
    const ended = nextSpan("GET /nested");
    assert.equal(
      (await get(`${trusting.url}/nested`, { traceparent: TRACEPARENT })).text,
      "nested",
    );
    const [child, server] = await Promise.all([inside, ended]);
    const context: SpanContext = server.spanContext();
    assert.equal(child.spanContext().traceId, PARENT_TRACE);
    assert.equal(child.parentSpanContext?.spanId, context.spanId);
  });

  it("makes the request span the parent of spans a streamed body starts", async () => {
    const chunk = nextSpan("chunk");
    const ended = nextSpan("GET /stream");
    assert.equal((await get(`${trusting.url}/stream`)).text, "streamed");
    const [child, server] = await Promise.all([chunk, ended]);
    assert.equal(child.parentSpanContext?.spanId, server.spanContext().spanId);
  });

  it("names an unknown method _OTHER, keeping the original", async () => {
    const ended = nextSpan("HTTP /cache");
    assert.equal((await get(`${trusting.url}/cache`, {}, "PURGE")).text, "purged");
    const span = await ended;
    assert.equal(span.attributes["http.request.method"], "_OTHER");
    assert.equal(span.attributes["http.request.method_original"], "PURGE");
  });
});

describe("requestAttributes", () => {
  const request = { httpVersion: "1.0", socket: { remoteAddress: "::1" } } as Parameters<
    typeof requestAttributes
  >[0];

  it("reads the server's address and port from an IPv6 Host", () => {
    const record = { ...getRecord("/"), headers: { host: "[::1]:8443" } };
    const { attributes } = requestAttributes(request, record, "/");
    assert.equal(attributes["server.address"], "::1");
    assert.equal(attributes["server.port"], 8443);
    assert.equal(attributes["network.protocol.version"], "1.0");
  });

  it("leaves out what the request does not carry", () => {
    const record = { ...getRecord("/a"), headers: {} };
    const { name, attributes } = requestAttributes(request, record, null);
    assert.equal(name, "GET");
    for (const key of ["url.query", "http.route", "server.address", "user_agent.original"]) {
      assert.equal(attributes[key], undefined, key);
    }
  });
});

describe("tracing without the api", () => {
  it("is off, with nothing registered, when @opentelemetry/api cannot be imported", async () => {
    const tracing = await loadRequestTracing(
      () => true,
      undefined,
      () => Promise.resolve(null),
    );
    assert.equal(tracing, null);
  });
});

// Design: each request as an OpenTelemetry SERVER span, named and described by the HTTP
// semantic conventions, when the app registers a tracer provider. `@opentelemetry/api` is an
// optional peer dependency: without it `loadRequestTracing` gives `null`, and the loop does
// nothing more per request than compare against it. With it, a provider may be registered at
// any time (after an `await` in the app module, by a module imported later, on a first
// request): until one is, each request asks the api whether one is now, which costs a few
// property reads and starts nothing; from the first request that finds one, every request is
// traced and nothing is asked again.
//
// A caller's `traceparent`/`tracestate` is continued only from a trusted peer (the proxies of
// --forwarded-allow-ips, or every peer with --trust-traceparent): anyone else could attach
// their requests to a trace of their choosing, or force sampling on. An untrusted caller's
// request starts a new trace.
//
// The span is active while the app handles the request on the loop. A request placed on a pool
// thread takes the span's context along (as plain data, see threading's trace-context.ts), and
// an exception it raises comes back with its answer to be recorded here, where the span is.

import type { IncomingMessage } from "node:http";
import { performance } from "node:perf_hooks";
import { onRequestException, type RequestRecord } from "../../framework/internal.ts";
import {
  loadTracingApi,
  spanContextData,
  type ApiSpan,
  type ApiTracer,
  type AttributeValue,
  type ErrorInfo,
  type SpanContextData,
  type TraceContext,
  type TracingApi,
} from "../../threading/internal.ts";
import { semconvMethod } from "./semconv.ts";

/** OpenTelemetry's SpanKind.SERVER and SpanStatusCode.ERROR (stable numbers of the api). */
const SERVER = 1;
const ERROR = 2;

/** One request's server span. */
export interface RequestSpan {
  /** The span's identity, to send with the request to a pool thread. */
  readonly context: SpanContextData;
  /** Runs `fn` with the span active, so spans the app starts are its children. */
  run<T>(fn: () => T): T;
  /** Names the span after the route that matched once it had started (`GET /room/<name>`). */
  route(rule: string): void;
  /** Records an exception the request raised (an Error, or one as plain data from a thread). */
  recordException(error: unknown): void;
  /**
   * Ends the span with the response's status and, when known, the size of its body; `error`
   * is what cut a streamed body short after its status was sent.
   */
  end(status: number, bodyBytes?: number | null, error?: unknown): void;
}

/** Starts the server span of each request. */
export interface RequestTracing {
  /** Whether a request arriving now is traced: a tracer provider is registered. */
  enabled(): boolean;
  /**
   * The span of `record` (proxy headers already applied), routed to `rule` (`null`: no route,
   * or not known yet); `startTime` is when the request arrived, in milliseconds since the
   * epoch. Only once `enabled()` said so.
   */
  start(
    request: IncomingMessage,
    record: RequestRecord,
    rule: string | null,
    startTime: number,
  ): RequestSpan;
}

/** The value of a Host header as `server.address` and `server.port`. */
function serverOf(
  host: string | undefined,
  scheme: "http" | "https",
): { address: string; port: number } | null {
  if (host === undefined || host === "") return null;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(host);
  let address: string;
  let port: string | undefined;
  if (bracketed !== null) {
    address = bracketed[1] as string;
    port = bracketed[2];
  } else {
    const colon = host.lastIndexOf(":");
    address = colon === -1 ? host : host.slice(0, colon);
    port = colon === -1 ? undefined : host.slice(colon + 1);
  }
  const number = port === undefined || port === "" ? (scheme === "https" ? 443 : 80) : Number(port);
  return { address, port: number };
}

/** The span name and attributes of a request, per the HTTP semantic conventions. */
export function requestAttributes(
  request: Pick<IncomingMessage, "httpVersion" | "socket">,
  record: RequestRecord,
  rule: string | null,
): { name: string; attributes: Record<string, AttributeValue> } {
  const method = semconvMethod(record.method);
  const question = record.url.indexOf("?");
  const attributes: Record<string, AttributeValue> = {
    "http.request.method": method,
    "url.path": question === -1 ? record.url : record.url.slice(0, question),
    "url.scheme": record.scheme,
    "network.protocol.version": request.httpVersion,
  };
  if (method !== record.method) attributes["http.request.method_original"] = record.method;
  if (question !== -1) attributes["url.query"] = record.url.slice(question + 1);
  if (rule !== null) attributes["http.route"] = rule;
  const server = serverOf(record.headers.host, record.scheme);
  if (server !== null) {
    attributes["server.address"] = server.address;
    attributes["server.port"] = server.port;
  }
  if (record.remoteAddress !== "") attributes["client.address"] = record.remoteAddress;
  const peer = request.socket.remoteAddress;
  if (peer !== undefined && peer !== "") attributes["network.peer.address"] = peer;
  const agent = record.headers["user-agent"];
  if (agent !== undefined) attributes["user_agent.original"] = agent;
  // `{method} {route}`; the method alone when no route matched (the path would make a name per
  // URL, which the conventions forbid), and `HTTP` for a method they do not name.
  const verb = method === record.method ? method : "HTTP";
  return { name: rule === null ? verb : `${verb} ${rule}`, attributes };
}

/**
 * Whether a tracer provider is registered: the api hands out no-op tracers until one is, and a
 * request then costs nothing to trace. The api's own provider says so without starting a span
 * (a probe span could be dropped by a sampler and mislead).
 */
export function providerRegistered(api: TracingApi): boolean {
  const provider = api.trace.getTracerProvider();
  if (typeof provider.getDelegateTracer !== "function") return true;
  return provider.getDelegateTracer("carafe") !== undefined;
}

/** Now, in milliseconds since the epoch, below the millisecond (span times are that precise). */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Records `error` (an Error, an exception as plain data, or any thrown value) on `span`. */
function recordOn(span: ApiSpan, error: unknown): void {
  if (error instanceof Error) span.recordException(error);
  else if (typeof error === "object" && error !== null && "message" in error) {
    span.recordException(error as ErrorInfo);
  } else span.recordException({ name: "Error", message: String(error) });
}

class ServerSpan implements RequestSpan {
  #ended = false;

  constructor(
    private readonly api: TracingApi,
    private readonly span: ApiSpan,
    private readonly active: TraceContext,
    /** The span's name before a route was known: the method. */
    private readonly verb: string,
  ) {}

  // Only a request sent to a pool thread needs its span's identity as data.
  get context(): SpanContextData {
    return spanContextData(this.span.spanContext());
  }

  run<T>(fn: () => T): T {
    return this.api.context.with(this.active, fn);
  }

  recordException(error: unknown): void {
    recordOn(this.span, error);
  }

  route(rule: string): void {
    this.span.setAttribute("http.route", rule);
    this.span.updateName(`${this.verb} ${rule}`);
  }

  end(status: number, bodyBytes: number | null = null, error?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.span.setAttribute("http.response.status_code", status);
    if (bodyBytes !== null) this.span.setAttribute("http.response.body.size", bodyBytes);
    if (error !== undefined) {
      // The status went out as it was; the body did not: the request failed all the same.
      recordOn(this.span, error);
      this.span.setAttribute("error.type", error instanceof Error ? error.name : "_OTHER");
      this.span.setStatus({ code: ERROR });
    } else if (status >= 500) {
      // A server span is an error for 5xx only: a 4xx is the client's mistake, answered well.
      this.span.setAttribute("error.type", String(status));
      this.span.setStatus({ code: ERROR });
    }
    this.span.end(epochMs());
  }
}

/**
 * The tracing of this process's requests, or `null` when `@opentelemetry/api` is not installed.
 * Requests are traced from the moment a tracer provider is registered (see the Design note).
 * `trustsCaller` says whether a peer's `traceparent` may be continued.
 *
 * @example
 * const tracing = await loadRequestTracing(createProxyTrust(["127.0.0.1"]), "1.0.0");
 */
export async function loadRequestTracing(
  trustsCaller: (address: string) => boolean,
  version?: string,
  loadApi: () => Promise<TracingApi | null> = loadTracingApi,
): Promise<RequestTracing | null> {
  const api = await loadApi();
  if (api === null) return null;
  // Taken once a provider is registered: a tracer asked for before would be the api's proxy,
  // whose spans cost a request something even while they record nothing.
  let tracer: ApiTracer | null = null;
  // The span active when the pipeline catches an exception is the request's: it is recorded
  // there (a request on a pool thread sends its exception back instead, see pool-thread.ts).
  onRequestException((error) => {
    const span = api.trace.getActiveSpan();
    if (span !== undefined) recordOn(span, error);
  });
  return {
    enabled() {
      if (tracer !== null) return true;
      if (!providerRegistered(api)) return false;
      tracer = api.trace.getTracer("carafe", version);
      return true;
    },
    start(request, record, rule, startTime) {
      const peer = request.socket.remoteAddress ?? "";
      // Extracted from the headers as they came: a proxy's rewrite of the client address
      // (applied to the record already) does not decide whose trace this is.
      const parent = trustsCaller(peer)
        ? api.propagation.extract(api.ROOT_CONTEXT, record.headers)
        : api.ROOT_CONTEXT;
      const { name, attributes } = requestAttributes(request, record, rule);
      const span = (tracer as ApiTracer).startSpan(
        name,
        { kind: SERVER, attributes, startTime },
        parent,
      );
      const verb = rule === null ? name : name.slice(0, name.indexOf(" "));
      return new ServerSpan(api, span, api.trace.setSpan(parent, span), verb);
    },
  };
}

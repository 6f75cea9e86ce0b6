// Design: OpenTelemetry's span context across a thread boundary. A context is a value in the
// memory of one thread (AsyncLocalStorage), and a closure cannot cross to another; so the span
// that is active where a request is dispatched or a toThread call is made travels as plain data
// (trace id, span id, flags, trace state), and the thread that runs the work makes it the
// active context around it. Spans the work starts with the api are then children of the one
// active at the call. The thread needs a tracer provider of its own to record them: each
// thread has its own globals, so the provider the app module registers at its top level is
// registered again by each thread that imports the app.
//
// `@opentelemetry/api` is an optional peer dependency, imported here only, once per thread and
// only when something asks for it; without it (or with no span active) nothing travels and
// nothing is wrapped. The api's own types are not used, so that Carafe's declarations never
// name a package that may be missing: the few members used are described below.

/** A span's identity as plain data, which a thread receives with a request or a call. */
export interface SpanContextData {
  /** 32 lower-case hex digits. */
  traceId: string;
  /** 16 lower-case hex digits. */
  spanId: string;
  /** W3C trace flags (1: sampled). */
  traceFlags: number;
  /** The W3C `tracestate`, serialized; absent when empty. */
  traceState?: string;
}

/** An OpenTelemetry context (immutable, opaque). */
export type TraceContext = object;

/** The members of an OpenTelemetry span context that are used here. */
export interface ApiSpanContext {
  traceId: string;
  spanId: string;
  traceFlags: number;
  isRemote?: boolean;
  traceState?: { serialize(): string };
}

/** Attribute values as the api takes them. */
export type AttributeValue = string | number | boolean;

/** The members of an OpenTelemetry span that are used here. */
export interface ApiSpan {
  spanContext(): ApiSpanContext;
  isRecording(): boolean;
  setAttribute(key: string, value: AttributeValue): unknown;
  updateName(name: string): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  recordException(exception: Error | { name?: string; message?: string; stack?: string }): void;
  end(endTime?: number): void;
}

/** The members of an OpenTelemetry tracer that are used here. */
export interface ApiTracer {
  startSpan(
    name: string,
    options?: {
      kind?: number;
      attributes?: Record<string, AttributeValue>;
      startTime?: number;
      root?: boolean;
    },
    context?: TraceContext,
  ): ApiSpan;
}

/** The members of `@opentelemetry/api` that Carafe uses. */
export interface TracingApi {
  trace: {
    getTracer(name: string, version?: string): ApiTracer;
    getTracerProvider(): { getDelegateTracer?(name: string): ApiTracer | undefined };
    getActiveSpan(): ApiSpan | undefined;
    getSpanContext(context: TraceContext): ApiSpanContext | undefined;
    setSpan(context: TraceContext, span: ApiSpan): TraceContext;
    setSpanContext(context: TraceContext, spanContext: ApiSpanContext): TraceContext;
  };
  context: {
    active(): TraceContext;
    with<T>(context: TraceContext, fn: () => T): T;
  };
  propagation: {
    extract(context: TraceContext, carrier: Record<string, string>): TraceContext;
  };
  isSpanContextValid(spanContext: ApiSpanContext): boolean;
  createTraceState(text?: string): ApiSpanContext["traceState"];
  ROOT_CONTEXT: TraceContext;
}

/** The api once imported; `null` when it is not installed; `undefined` before the attempt. */
let api: TracingApi | null | undefined;
let loading: Promise<TracingApi | null> | null = null;

/**
 * Imports `@opentelemetry/api` once for this thread; `null` when it is not installed, in which
 * case Carafe runs without tracing. `importApi` stands in for the import (tests); only the first
 * call's is used, until `resetTracingApi`.
 */
export function loadTracingApi(
  importApi: () => Promise<unknown> = () => import("@opentelemetry/api"),
): Promise<TracingApi | null> {
  loading ??= importApi().then(
    (module) => (api = tracingApiOf(module)),
    () => (api = null),
  );
  return loading;
}

/** The api's namespace (an ES module, or a CommonJS one behind `default`), or `null`. */
function tracingApiOf(module: unknown): TracingApi | null {
  const candidates = [module, (module as { default?: unknown } | null)?.default];
  for (const candidate of candidates) {
    const members = candidate as Partial<TracingApi> | null | undefined;
    if (
      typeof members?.trace?.getTracer === "function" &&
      typeof members.context?.with === "function" &&
      typeof members.propagation?.extract === "function" &&
      typeof members.isSpanContextValid === "function" &&
      typeof members.createTraceState === "function" &&
      members.ROOT_CONTEXT !== undefined
    ) {
      return members as TracingApi;
    }
  }
  return null;
}

/** The api, if this thread has imported it (see `loadTracingApi`); `null` otherwise. */
export function tracingApi(): TracingApi | null {
  return api ?? null;
}

/** For tests: forgets the api, as if this thread had not imported it. */
export function resetTracingApi(): void {
  api = undefined;
  loading = null;
}

/** `spanContext` as plain data. */
export function spanContextData(spanContext: ApiSpanContext): SpanContextData {
  const data: SpanContextData = {
    traceId: spanContext.traceId,
    spanId: spanContext.spanId,
    traceFlags: spanContext.traceFlags,
  };
  const traceState = spanContext.traceState?.serialize();
  if (traceState !== undefined && traceState !== "") data.traceState = traceState;
  return data;
}

/**
 * The span context active here, as plain data to send with work for another thread; absent
 * when the api was not imported or no valid span is active (nothing is sent then).
 */
export function activeSpanContext(): SpanContextData | undefined {
  if (api === undefined || api === null) return undefined;
  const spanContext = api.trace.getSpanContext(api.context.active());
  return spanContext !== undefined && api.isSpanContextValid(spanContext)
    ? spanContextData(spanContext)
    : undefined;
}

/**
 * Runs `fn` with `data` as the active span context, so spans it starts are children of that
 * span. Runs `fn` as it is when there is no context or the api is not imported.
 */
export function withSpanContext<T>(data: SpanContextData | undefined, fn: () => T): T {
  if (data === undefined || api === undefined || api === null) return fn();
  const spanContext: ApiSpanContext = {
    traceId: data.traceId,
    spanId: data.spanId,
    traceFlags: data.traceFlags,
    // Like a context a propagator extracts: the parent span lives elsewhere.
    isRemote: true,
  };
  if (data.traceState !== undefined) spanContext.traceState = api.createTraceState(data.traceState);
  return api.context.with(api.trace.setSpanContext(api.context.active(), spanContext), fn);
}

// The span context across a thread boundary: what toThread and Thread send along, how a thread
// makes it active, and that nothing of it happens without @opentelemetry/api.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { context, createTraceState, trace, type Span } from "@opentelemetry/api";
import { Thread, toThread } from "../../src/threading/index.ts";
import { closeDefaultPool } from "../../src/threading/to-thread.ts";
import {
  activeSpanContext,
  loadTracingApi,
  resetTracingApi,
  tracingApi,
  withSpanContext,
} from "../../src/threading/trace-context.ts";
// Its import registers a provider (and the context manager) here as well as in each thread.
import { activeTrace } from "../fixtures/tracing/work.ts";

after(() => closeDefaultPool());

/** Runs `fn` inside a new active span whose trace state is `vendor=a`; the span is ended after. */
function inSpan<T>(fn: (span: Span) => Promise<T>): Promise<T> {
  const tracer = trace.getTracer("test");
  const state = trace.setSpanContext(context.active(), {
    traceId: "5bd66ef5095369c7b0d1f8f4bd33716a",
    spanId: "c532cb4098ac3dd2",
    traceFlags: 1,
    isRemote: true,
    traceState: createTraceState("vendor=a"),
  });
  return context.with(state, () =>
    tracer.startActiveSpan("caller", async (span) => {
      try {
        return await fn(span);
      } finally {
        span.end();
      }
    }),
  );
}

describe("span context across threads", () => {
  it("sends nothing and wraps nothing when the api cannot be imported", async () => {
    resetTracingApi();
    const api = await loadTracingApi(() => Promise.reject(new Error("Cannot find package")));
    assert.equal(api, null);
    assert.equal(tracingApi(), null);
    assert.equal(activeSpanContext(), undefined);
    const data = {
      traceId: "5bd66ef5095369c7b0d1f8f4bd33716a",
      spanId: "c532cb4098ac3dd2",
      traceFlags: 1,
    };
    assert.equal(
      withSpanContext(data, () => "ran"),
      "ran",
    );
    resetTracingApi();
  });

  it("takes a module that is not the api as no api", async () => {
    resetTracingApi();
    assert.equal(await loadTracingApi(() => Promise.resolve({ trace: {} })), null);
    resetTracingApi();
  });

  it("gives no span context where no span is active", async () => {
    await loadTracingApi();
    assert.equal(activeSpanContext(), undefined);
  });

  it("makes the caller's span the active one in a toThread call and in a Thread", async () => {
    await loadTracingApi();
    await inSpan(async (span) => {
      const expected = {
        traceId: span.spanContext().traceId,
        spanId: span.spanContext().spanId,
        traceFlags: 1,
        traceState: "vendor=a",
      };
      assert.deepEqual(activeSpanContext(), expected);
      assert.deepEqual(await toThread(activeTrace), expected);
      const thread = new Thread({ target: activeTrace }).start();
      assert.deepEqual(await thread.join(), expected);
    });
    assert.equal(await toThread(activeTrace), null, "no span: nothing active on the thread");
  });

  it("makes the data active around a function on this thread", async () => {
    await loadTracingApi();
    const data = {
      traceId: "5bd66ef5095369c7b0d1f8f4bd33716a",
      spanId: "c532cb4098ac3dd2",
      traceFlags: 1,
      traceState: "k=v",
    };
    const seen = withSpanContext(data, () => trace.getSpanContext(context.active()));
    assert.equal(seen?.spanId, data.spanId);
    assert.equal(seen?.isRemote, true);
    assert.equal(seen?.traceState?.get("k"), "v");
  });
});

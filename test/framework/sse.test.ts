import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { sse, type BodyStream, type ResponseRecord, type ServerSentEvent } from "carafe";
import { formatEvent } from "../../src/framework/http/sse.ts";
import { deferred, getRecord, newApp } from "../helpers.ts";

function streamOf(record: ResponseRecord): BodyStream {
  const body = record.body;
  assert.ok(body !== null && typeof body === "object" && !(body instanceof Uint8Array));
  return body;
}

function headerOf(record: ResponseRecord, name: string): string | undefined {
  for (let i = 0; i < record.headers.length; i += 2) {
    if (record.headers[i]?.toLowerCase() === name.toLowerCase()) return record.headers[i + 1];
  }
  return undefined;
}

async function allFrames(record: ResponseRecord): Promise<string> {
  let text = "";
  for await (const chunk of streamOf(record)) text += String(chunk);
  return text;
}

describe("formatEvent", () => {
  it("sends bytes (a binary broadcast, say) as UTF-8 text", () => {
    assert.equal(formatEvent(new TextEncoder().encode("é\nx")), "data: é\ndata: x\n\n");
  });

  const cases: [string, ServerSentEvent | string, string][] = [
    ["a string as data", "hello", "data: hello\n\n"],
    ["every line of the data", "one\ntwo\r\nthree", "data: one\ndata: two\ndata: three\n\n"],
    ["a value as JSON", { data: { n: 1, tags: ["a"] } }, 'data: {"n":1,"tags":["a"]}\n\n'],
    [
      "each field in order",
      { comment: "c", event: "tick", id: 7, retry: 500, data: "x" },
      ": c\nevent: tick\nid: 7\nretry: 500\ndata: x\n\n",
    ],
    ["an empty data line", { data: "" }, "data: \n\n"],
  ];
  for (const [label, event, text] of cases) {
    it(`writes ${label}`, () => {
      assert.equal(formatEvent(event), text);
    });
  }

  it("refuses an event type or id that would break the stream", () => {
    assert.throws(() => formatEvent({ event: "a\nb", data: "x" }), /event cannot contain/);
    assert.throws(() => formatEvent({ id: "1\r", data: "x" }), /id cannot contain/);
    assert.throws(() => formatEvent({ id: "1\0", data: "x" }), /line break or NUL/);
    assert.throws(() => formatEvent({ retry: -1 }), /retry must be a whole number/);
    assert.throws(() => formatEvent({ data: () => 1 }), /cannot be sent as JSON/);
    assert.throws(() => formatEvent({ event: "a\nb" }), {
      name: "CarafeError",
      code: "ERR_BAD_EVENT",
    });
  });
});

describe("sse()", () => {
  it("answers text/event-stream for proxies to pass on at once, with no length", async () => {
    const app = newApp();
    app.get("/events", () => sse(["a", { event: "end", data: "b" }], { retry: 1000 }));
    const record = await app.handle(getRecord("/events"));
    assert.equal(record.status, 200);
    assert.equal(headerOf(record, "content-type"), "text/event-stream");
    assert.equal(headerOf(record, "cache-control"), "no-cache, no-transform");
    assert.equal(headerOf(record, "x-accel-buffering"), "no");
    assert.equal(headerOf(record, "content-length"), undefined);
    assert.equal(await allFrames(record), "retry: 1000\n\ndata: a\n\nevent: end\ndata: b\n\n");
  });

  it("gives the handler the Last-Event-ID a reconnecting client sends", async () => {
    const app = newApp();
    app.get("/events", (req) => {
      const after = Number(req.lastEventId ?? 0);
      return sse([1, 2, 3].filter((n) => n > after).map((n) => ({ id: n, data: `n${n}` })));
    });
    const record = await app.handle({
      ...getRecord("/events"),
      headers: { host: "localhost", "last-event-id": "2" },
    });
    assert.equal(await allFrames(record), "id: 3\ndata: n3\n\n");
  });

  it("sends a heartbeat comment while the source is quiet", async () => {
    const app = newApp();
    const next = deferred<string>();
    app.get("/events", () =>
      sse(
        (async function* () {
          yield await next.promise;
        })(),
        { heartbeatMs: 5 },
      ),
    );
    const iterator = streamOf(await app.handle(getRecord("/events")))[Symbol.asyncIterator]();
    assert.deepEqual(await iterator.next(), { done: false, value: ": heartbeat\n\n" });
    next.resolve("late");
    // The heartbeat may have fired again before the event: skip over those.
    let step = await iterator.next();
    while (step.value === ": heartbeat\n\n") step = await iterator.next();
    assert.deepEqual(step, { done: false, value: "data: late\n\n" });
    assert.equal((await iterator.next()).done, true);
  });

  it("closes the source when the server cancels the stream, even mid-wait", async () => {
    const app = newApp();
    const closed = deferred<string>();
    app.get("/events", () =>
      sse(
        (function* () {
          try {
            for (let n = 0; ; n += 1) yield String(n);
          } finally {
            closed.resolve("source closed");
          }
        })(),
        { heartbeatMs: 60_000 },
      ),
    );
    const stream = streamOf(await app.handle(getRecord("/events")));
    const iterator = stream[Symbol.asyncIterator]();
    assert.deepEqual(await iterator.next(), { done: false, value: "data: 0\n\n" });
    stream.cancel?.();
    assert.equal(await closed.promise, "source closed");
    assert.equal((await iterator.next()).done, true);
  });

  it("wakes a stream waiting on a quiet source when it is cancelled", async () => {
    const quiet = newApp();
    const never = new Promise<string>(() => {});
    quiet.get("/events", () =>
      sse(
        (async function* () {
          yield await never;
        })(),
        { heartbeatMs: 0 },
      ),
    );
    const stream = streamOf(await quiet.handle(getRecord("/events")));
    const iterator = stream[Symbol.asyncIterator]();
    const pending = iterator.next();
    stream.cancel?.();
    assert.equal((await pending).done, true);
  });

  it("refuses a negative heartbeat or retry at once", () => {
    assert.throws(() => sse([], { heartbeatMs: -1 }), /heartbeatMs must be/);
    assert.throws(() => sse([], { retry: 1.5 }), /retry must be a whole number/);
  });

  it("sends no body for HEAD", async () => {
    const app = newApp();
    app.get("/events", () => sse(["a"]));
    const record = await app.handle({ ...getRecord("/events"), method: "HEAD" });
    assert.equal(record.body, null);
    assert.equal(headerOf(record, "content-type"), "text/event-stream");
  });
});

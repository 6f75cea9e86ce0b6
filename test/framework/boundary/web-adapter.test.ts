import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  recordFromRequest,
  recordFromResponse,
  requestFromRecord,
  responseFromRecord,
  type BodyStream,
  type RequestRecord,
  type ResponseRecord,
} from "../../../src/framework/internal.ts";
import { deferred } from "../../helpers.ts";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

async function collect(body: ResponseRecord["body"]): Promise<Buffer> {
  if (body === null) return Buffer.alloc(0);
  if (typeof body === "string" || body instanceof Uint8Array) return Buffer.from(body);
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** Header pairs as a sorted list of `name: value` lines, names in lower case. */
function pairs(headers: readonly string[]): string[] {
  const lines: string[] = [];
  for (let i = 0; i < headers.length; i += 2)
    lines.push(`${(headers[i] as string).toLowerCase()}: ${headers[i + 1] as string}`);
  return lines.sort();
}

/** A web stream of `chunks`; `cancelled` settles when it is cancelled. */
function chunkStream(chunks: readonly string[]): {
  stream: ReadableStream<Uint8Array>;
  cancelled: Promise<void>;
  wasCancelled: () => boolean;
} {
  const cancel = deferred();
  let cancelled = false;
  let next = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = chunks[next++];
      if (chunk === undefined) controller.close();
      else controller.enqueue(bytes(chunk));
    },
    cancel() {
      cancelled = true;
      cancel.resolve();
    },
  });
  return { stream, cancelled: cancel.promise, wasCancelled: () => cancelled };
}

describe("request records and web Requests", () => {
  it("keeps method, target, headers, scheme and body bytes from record to Request and back", async () => {
    const record: RequestRecord = {
      method: "PUT",
      url: "/files/a%20b/c?tag=x&tag=y&q=caf%C3%A9",
      headers: {
        host: "example.test:8080",
        accept: "text/html, application/json",
        "content-type": "application/octet-stream",
        "content-length": "4",
        "x-trace": "1",
      },
      body: new Uint8Array([0, 1, 254, 255]),
      remoteAddress: "",
      scheme: "https",
    };
    const request = requestFromRecord(record);
    assert.equal(request.url, "https://example.test:8080/files/a%20b/c?tag=x&tag=y&q=caf%C3%A9");
    const back = await recordFromRequest(request, null);
    assert.deepEqual(
      { ...back, body: Buffer.from(back.body ?? []) },
      {
        ...record,
        body: Buffer.from(record.body ?? []),
      },
    );
  });

  it("takes the origin of an absolute-form target from the target, not from Host", () => {
    const request = requestFromRecord({
      method: "GET",
      url: "http://other.test/path?x=1",
      headers: { host: "example.test" },
      body: null,
      remoteAddress: "",
      scheme: "http",
    });
    assert.equal(request.url, "http://other.test/path?x=1");
  });

  it("drops the body of a GET record, which a web Request cannot carry", async () => {
    const request = requestFromRecord({
      method: "GET",
      url: "/",
      headers: { host: "h.test" },
      body: bytes("ignored"),
      remoteAddress: "",
      scheme: "http",
    });
    assert.equal(request.body, null);
  });

  it("keeps method, URL, repeated headers, Set-Cookie and a streamed body from Request to record and back", async () => {
    const headers = new Headers();
    headers.append("accept", "text/html");
    headers.append("accept", "application/json");
    headers.append("set-cookie", "a=1");
    headers.append("set-cookie", "b=2");
    headers.set("content-type", "text/plain");
    const { stream } = chunkStream(["hello, ", "streamed ", "world"]);
    const request = new Request("http://example.test/echo?x=1&x=2", {
      method: "POST",
      headers,
      body: stream,
      duplex: "half",
    } as RequestInit);

    const record = await recordFromRequest(request, 1024);
    assert.equal(record.method, "POST");
    assert.equal(record.url, "/echo?x=1&x=2");
    assert.equal(record.headers["accept"], "text/html, application/json");
    assert.equal(record.headers["set-cookie"], "a=1, b=2");
    assert.equal(record.headers["host"], "example.test");
    assert.equal(Buffer.from(record.body ?? []).toString(), "hello, streamed world");

    const again = requestFromRecord(record);
    assert.equal(again.method, request.method);
    assert.equal(again.url, request.url);
    for (const name of ["accept", "set-cookie", "content-type"])
      assert.equal(again.headers.get(name), request.headers.get(name), name);
    assert.equal(await again.text(), "hello, streamed world");
  });

  it("marks a streamed body over the limit too large, reads no further and cancels the stream", async () => {
    const { stream, cancelled } = chunkStream(["12345", "67890", "never read"]);
    const request = new Request("http://example.test/", {
      method: "POST",
      body: stream,
      duplex: "half",
    } as RequestInit);
    const record = await recordFromRequest(request, 8);
    assert.equal(record.bodyTooLarge, true);
    assert.equal(record.body, null);
    await cancelled;
  });

  it("refuses a declared Content-Length over the limit without reading the body", async () => {
    const { stream, wasCancelled } = chunkStream(["tiny"]);
    const request = new Request("http://example.test/", {
      method: "POST",
      headers: { "content-length": "100" },
      body: stream,
      duplex: "half",
    } as RequestInit);
    const record = await recordFromRequest(request, 10);
    assert.equal(record.bodyTooLarge, true);
    assert.equal(record.body, null);
    assert.equal(wasCancelled(), false);
  });
});

describe("response records and web Responses", () => {
  it("keeps status, repeated headers, each Set-Cookie and body bytes from record to Response and back", async () => {
    const record: ResponseRecord = {
      status: 201,
      headers: [
        "content-type",
        "application/octet-stream",
        "vary",
        "accept, cookie",
        "set-cookie",
        "a=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Path=/",
        "set-cookie",
        "b=2; HttpOnly",
        "content-length",
        "3",
      ],
      body: new Uint8Array([1, 2, 3]),
    };
    const response = responseFromRecord(record);
    assert.equal(response.status, 201);
    assert.deepEqual(response.headers.getSetCookie(), [
      "a=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Path=/",
      "b=2; HttpOnly",
    ]);
    const back = recordFromResponse(response, "GET");
    assert.equal(back.status, 201);
    assert.deepEqual(pairs(back.headers), pairs(record.headers));
    assert.deepEqual(await collect(back.body), Buffer.from([1, 2, 3]));
  });

  it("keeps a streamed record body streamed, text and bytes alike, and passes cancel through", async () => {
    const body: BodyStream = (async function* () {
      yield "text, ";
      yield bytes("then bytes");
    })();
    const response = responseFromRecord({
      status: 200,
      headers: ["content-type", "text/plain"],
      body,
    });
    const back = recordFromResponse(response, "GET");
    assert.equal(typeof back.body === "object" && !(back.body instanceof Uint8Array), true);
    assert.equal((await collect(back.body)).toString(), "text, then bytes");

    const cancelled = deferred();
    const endless: BodyStream = Object.assign(
      (async function* () {
        for (;;) yield "more";
      })(),
      { cancel: () => cancelled.resolve() },
    );
    const stopped = recordFromResponse(
      responseFromRecord({ status: 200, headers: [], body: endless }),
      "GET",
    );
    const chunks = (stopped.body as BodyStream)[Symbol.asyncIterator]();
    await chunks.next();
    // The web stream's cancel reaches the record's producer.
    (stopped.body as BodyStream).cancel?.();
    await cancelled.promise;
  });

  it("keeps status, headers, each Set-Cookie and a streamed body from Response to record and back", async () => {
    const { stream } = chunkStream(["one ", "two ", "three"]);
    const headers = new Headers({ "content-type": "text/plain", "x-id": "42" });
    headers.append("set-cookie", "a=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT");
    headers.append("set-cookie", "b=2");
    const response = new Response(stream, { status: 418, headers });

    const record = recordFromResponse(response, "GET");
    assert.equal(record.status, 418);
    assert.deepEqual(pairs(record.headers), [
      "content-type: text/plain",
      "set-cookie: a=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT",
      "set-cookie: b=2",
      "x-id: 42",
    ]);

    const again = responseFromRecord(record);
    assert.equal(again.status, 418);
    assert.deepEqual(again.headers.getSetCookie(), headers.getSetCookie());
    assert.equal(again.headers.get("x-id"), "42");
    assert.equal(await again.text(), "one two three");
  });

  it("cancels the web stream when the record's body is cancelled", async () => {
    const { stream, cancelled } = chunkStream(["a", "b", "c"]);
    const record = recordFromResponse(new Response(stream), "GET");
    (record.body as BodyStream).cancel?.();
    await cancelled;
  });

  it("has no body for HEAD, 204 and 304, and cancels the one the app made", async () => {
    const { stream, cancelled } = chunkStream(["unsent"]);
    const head = recordFromResponse(new Response(stream, { status: 200 }), "HEAD");
    assert.equal(head.body, null);
    await cancelled;
    for (const status of [204, 304]) {
      assert.equal(recordFromResponse(new Response(null, { status }), "GET").body, null);
    }
  });

  it("says an empty body is empty with content-length 0", () => {
    const record = recordFromResponse(new Response(null, { status: 200 }), "GET");
    assert.deepEqual(record, { status: 200, headers: ["content-length", "0"], body: null });
  });
});

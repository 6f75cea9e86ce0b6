// Disconnects, streamed responses and Server-Sent Events over a real socket, with node:http
// as the client.
import assert from "node:assert/strict";
import { once } from "node:events";
import {
  createServer,
  get,
  request as httpRequest,
  type IncomingMessage,
  type Server,
} from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { sse, type Carafe } from "carafe";
import { createRequestListener } from "../../src/server/http/http-loop.ts";
import { deferred, newApp } from "../helpers.ts";

/** Serves `app` on a free loopback port through the http loop. */
async function serve(app: Carafe): Promise<{ server: Server; url: string }> {
  const logger = { error: (message: string, error?: unknown) => console.error(message, error) };
  const server = createServer(createRequestListener(app, logger)).listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function request(url: string, headers: Record<string, string> = {}): Promise<IncomingMessage> {
  return new Promise((done, fail) => get(url, { headers, agent: false }, done).on("error", fail));
}

/** Reads the events of a text/event-stream response as they arrive. */
class EventReader {
  readonly #chunks: AsyncIterator<string>;
  #pending = "";
  readonly events: Record<string, string>[] = [];

  constructor(response: IncomingMessage) {
    response.setEncoding("utf8");
    this.#chunks = response[Symbol.asyncIterator]() as AsyncIterator<string>;
  }

  /** Reads until `enough` holds for the events so far, or the stream ends. */
  async until(enough: (events: Record<string, string>[]) => boolean): Promise<void> {
    while (!enough(this.events)) {
      const step = await this.#chunks.next();
      if (step.done === true) return;
      this.#pending += step.value;
      for (let end = this.#pending.indexOf("\n\n"); end >= 0; end = this.#pending.indexOf("\n\n")) {
        const event: Record<string, string> = {};
        for (const line of this.#pending.slice(0, end).split("\n")) {
          const colon = line.indexOf(":");
          const name = line.slice(0, colon);
          event[name === "" ? "comment" : name] = line.slice(colon + 1).trimStart();
        }
        this.events.push(event);
        this.#pending = this.#pending.slice(end + 2);
      }
    }
  }
}

describe("request.signal over a real socket", () => {
  const app = newApp();
  const started = deferred();
  const aborted = deferred<string>();
  let completedSignal: AbortSignal | undefined;
  const streamClosed = deferred<boolean>();

  app.get("/slow", async (req) => {
    started.resolve();
    await new Promise((resolve) => req.signal.addEventListener("abort", resolve));
    aborted.resolve((req.signal.reason as Error).name);
    return "never sent";
  });
  app.get("/quick", (req) => {
    completedSignal = req.signal;
    return "done";
  });
  app.get("/stream", (req) =>
    (async function* () {
      try {
        yield "first\n";
        await new Promise((resolve) => req.signal.addEventListener("abort", resolve));
        yield "never\n";
      } finally {
        streamClosed.resolve(req.signal.aborted);
      }
    })(),
  );

  let server: Server;
  let url: string;
  before(async () => ({ server, url } = await serve(app)));
  after(() => server.close());

  it("aborts when the client disconnects while an async handler waits", async () => {
    const client = get(`${url}/slow`, { agent: false });
    client.on("error", () => {});
    await started.promise;
    client.destroy();
    assert.equal(await aborted.promise, "AbortError");
  });

  it("does not abort once the whole response was sent", async () => {
    const closed = deferred();
    server.once("request", (_request, response: NodeJS.EventEmitter) =>
      response.once("close", () => closed.resolve()),
    );
    const response = await request(`${url}/quick`);
    response.resume();
    await once(response, "end");
    await closed.promise;
    assert.equal(completedSignal?.aborted, false);
  });

  it("closes a streamed body's iterator when the client leaves mid-stream", async () => {
    const response = await request(`${url}/stream`);
    response.setEncoding("utf8");
    const [first] = (await once(response, "data")) as [string];
    assert.equal(first, "first\n");
    response.destroy();
    assert.equal(await streamClosed.promise, true);
  });
});

describe("Server-Sent Events over a real socket", () => {
  const app = newApp();
  app.get("/count", (req) => {
    const start = Number(req.lastEventId ?? 0) + 1;
    return sse(
      (function* () {
        for (let n = start; n <= 5; n += 1) yield { id: n, event: "count", data: { n } };
      })(),
    );
  });
  const release = deferred<string>();
  app.get("/quiet", () =>
    sse(
      (async function* () {
        yield { data: await release.promise };
      })(),
      { heartbeatMs: 10 },
    ),
  );

  let server: Server;
  let url: string;
  before(async () => ({ server, url } = await serve(app)));
  after(() => server.close());

  it("streams events, and resumes after Last-Event-ID when the client reconnects", async () => {
    const first = await request(`${url}/count`);
    assert.equal(first.headers["content-type"], "text/event-stream");
    assert.equal(first.headers["cache-control"], "no-cache, no-transform");
    assert.equal(first.headers["x-accel-buffering"], "no");
    assert.equal(first.headers["transfer-encoding"], "chunked");
    const reader = new EventReader(first);
    await reader.until((events) => events.length >= 3);
    first.destroy();
    const early = reader.events;
    assert.deepEqual(
      early.slice(0, 3).map((event) => [event["id"], event["event"], event["data"]]),
      [
        ["1", "count", '{"n":1}'],
        ["2", "count", '{"n":2}'],
        ["3", "count", '{"n":3}'],
      ],
    );

    const lastId = early[2]?.["id"] ?? "";
    const again = await request(`${url}/count`, { "Last-Event-ID": lastId });
    const rest = new EventReader(again);
    await rest.until(() => false);
    assert.deepEqual(
      rest.events.map((event) => event["id"]),
      ["4", "5"],
    );
  });

  it("keeps a quiet stream alive with heartbeat comments", async () => {
    const response = await request(`${url}/quiet`);
    const reader = new EventReader(response);
    await reader.until((events) => events.length >= 1);
    assert.equal(reader.events[0]?.["comment"], "heartbeat");
    release.resolve("finally");
    await reader.until((events) => events.some((event) => "data" in event));
    assert.equal(reader.events.find((event) => "data" in event)?.["data"], "finally");
    response.destroy();
  });
});

describe("streamed request bodies over a real socket", () => {
  const app = newApp({ maxContentLength: 64 });
  const firstChunk = deferred<string>();
  let refusedEarly = true;
  app.post("/upload", { streamBody: true }, async (req) => {
    const chunks: string[] = [];
    for await (const chunk of req.stream()) {
      chunks.push(Buffer.from(chunk).toString("utf8"));
      if (chunks.length === 1) firstChunk.resolve(chunks[0] as string);
    }
    return { chunks };
  });
  app.post("/count", { streamBody: true }, async (req) => {
    refusedEarly = false;
    let bytes = 0;
    for await (const chunk of req.stream()) bytes += chunk.byteLength;
    return { bytes };
  });

  let server: Server;
  let url: string;
  before(async () => ({ server, url } = await serve(app)));
  after(() => server.close());

  function post(path: string, headers: Record<string, string> = {}) {
    const client = httpRequest(`${url}${path}`, { method: "POST", agent: false, headers });
    const response = new Promise<IncomingMessage>((done, fail) => {
      client.on("response", done).on("error", fail);
    });
    return { client, response };
  }

  async function bodyOf(response: IncomingMessage): Promise<string> {
    response.setEncoding("utf8");
    let text = "";
    for await (const chunk of response) text += chunk as string;
    return text;
  }

  it("hands the handler each chunk as it arrives, before the body is complete", async () => {
    const { client, response } = post("/upload", {
      "Content-Type": "text/plain",
      Connection: "keep-alive",
    });
    client.write("first;");
    // The handler has the first chunk while the client has not sent the second yet.
    assert.equal(await firstChunk.promise, "first;");
    client.end("second");
    const res = await response;
    assert.equal(res.statusCode, 200);
    assert.deepEqual(JSON.parse(await bodyOf(res)), { chunks: ["first;", "second"] });
    assert.equal(res.headers["connection"], "keep-alive");
  });

  it("answers 413 and closes the connection when a chunked body passes the limit", async () => {
    const { client, response } = post("/count", { Connection: "keep-alive" });
    client.write("x".repeat(40));
    client.end("y".repeat(40));
    const res = await response;
    assert.equal(res.statusCode, 413);
    assert.match(await bodyOf(res), /larger than the limit of 64 bytes/);
    assert.equal(res.headers["connection"], "close");
  });

  it("answers 413 without calling the handler when the declared length is over the limit", async () => {
    refusedEarly = true;
    const { client, response } = post("/count", {
      "Content-Length": "100",
      Connection: "keep-alive",
    });
    client.end("z".repeat(100));
    const res = await response;
    assert.equal(res.statusCode, 413);
    await bodyOf(res);
    assert.equal(res.headers["connection"], "close");
    assert.equal(refusedEarly, true);
  });
});

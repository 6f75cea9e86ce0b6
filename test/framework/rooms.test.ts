// Rooms without a socket: subscriptions (what an SSE stream reads) and broadcast's rules.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { broadcast, subscribe } from "carafe";
import { newApp } from "../helpers.ts";

describe("subscriptions", () => {
  it("receive every broadcast to their rooms from the moment they subscribe, in order", async () => {
    const app = newApp();
    app.broadcast("news", "before");
    const news = app.subscribe(["news", "sport"]);
    app.broadcast("news", "one");
    app.broadcast("weather", "elsewhere");
    app.broadcast("sport", new Uint8Array([1, 2]));
    app.broadcast("news", "two");
    const seen: unknown[] = [];
    for await (const message of news) {
      seen.push(typeof message === "string" ? message : [...message]);
      if (seen.length === 3) break;
    }
    assert.deepEqual(seen, ["one", [1, 2], "two"]);
  });

  it("leave their rooms when the loop over them ends, or on close()", async () => {
    const app = newApp();
    const first = app.subscribe("news");
    const second = app.subscribe("news");
    assert.equal(app.rooms.localSize("news"), 2);
    app.broadcast("news", "hello");
    for await (const message of first) {
      assert.equal(message, "hello");
      break;
    }
    assert.equal(app.rooms.localSize("news"), 1);
    second.close();
    assert.equal(app.rooms.localSize("news"), 0);
    // What came before close() is still read; then the loop ends.
    const rest: unknown[] = [];
    for await (const message of second) rest.push(message);
    assert.deepEqual(rest, ["hello"]);
  });

  it("wake a reader that waits, and end it when closed", async () => {
    const app = newApp();
    const news = app.subscribe("news");
    const iterator = news[Symbol.asyncIterator]();
    const next = iterator.next();
    app.broadcast("news", "now");
    assert.deepEqual(await next, { done: false, value: "now" });
    const last = iterator.next();
    news.close();
    assert.deepEqual(await last, { done: true, value: undefined });
  });

  it("end with an error once more than maxQueued messages wait unread", async () => {
    const app = newApp();
    const slow = app.subscribe("firehose", { maxQueued: 3 });
    for (let i = 1; i <= 5; i += 1) app.broadcast("firehose", `m${i}`);
    assert.equal(app.rooms.localSize("firehose"), 0);
    const read: unknown[] = [];
    await assert.rejects(
      (async () => {
        for await (const message of slow) read.push(message);
      })(),
      /left more than 3 messages unread and was dropped \(maxQueued\)/,
    );
    assert.deepEqual(read, ["m1", "m2", "m3"]);
  });

  it("refuse a maxQueued that is not a positive whole number", () => {
    assert.throws(() => newApp().subscribe("x", { maxQueued: 0 }), /maxQueued must be a positive/);
  });

  it("are refused where broadcasts never arrive (a pool thread)", () => {
    const app = newApp();
    app.rooms.holdsMembers = false;
    assert.throws(() => app.subscribe("news"), /subscribe\(\) runs on the event loop/);
  });

  it("work from a request through subscribe() and broadcast()", async () => {
    const app = newApp();
    app.get("/subscribe-and-send", async () => {
      const news = subscribe("news");
      broadcast("news", "inside");
      for await (const message of news) return { got: message };
      return { got: null };
    });
    const response = await app.testClient().get("/subscribe-and-send");
    assert.deepEqual(response.json(), { got: "inside" });
  });

  it("refuse a message that is neither text nor bytes, saying what to send", () => {
    const app = newApp();
    const wrong = { text: "hi" } as unknown as string;
    assert.throws(() => app.broadcast("news", wrong), /text or bytes, got string and object/);
  });

  it("name what is missing when broadcast() is called outside a request", () => {
    assert.throws(() => broadcast("news", "x"), /broadcast\(\)/);
  });
});

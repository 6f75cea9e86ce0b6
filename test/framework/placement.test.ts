import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Carafe, type RequestRecord, type ResponseRecord } from "carafe";

function record(url: string, method = "GET"): RequestRecord {
  return {
    method,
    url,
    headers: { host: "localhost" },
    body: null,
    remoteAddress: "127.0.0.1",
    scheme: "http",
  };
}

async function text(result: ResponseRecord | Promise<ResponseRecord>): Promise<string> {
  const { body } = await result;
  if (body === null) return "";
  return typeof body === "string" ? body : Buffer.from(body as Uint8Array).toString("utf8");
}

describe("threadRuleOf (DESIGN.md, what runs where)", () => {
  const app = new Carafe();
  app.get("/sync", () => "sync");
  app.get("/async", async () => "async");
  app.get("/marked", { thread: true }, async () => "marked");
  app.get("/pinned", { thread: false }, () => "pinned");

  it("keeps every unmarked handler on the loop without threads", () => {
    assert.equal(app.threadRuleOf("GET", "/sync", false), null);
    assert.equal(app.threadRuleOf("GET", "/async", false), null);
  });

  it("sends unmarked sync handlers to a thread when the server has threads, async ones never", () => {
    assert.equal(app.threadRuleOf("GET", "/sync?x=1", true), "/sync");
    assert.equal(app.threadRuleOf("GET", "/async", true), null);
  });

  it("follows { thread } marks either way", () => {
    assert.equal(app.threadRuleOf("GET", "/marked", false), "/marked");
    assert.equal(app.threadRuleOf("GET", "/pinned", true), null);
  });

  it("places unmatched requests, absolute-form targets included, by their route", () => {
    assert.equal(app.threadRuleOf("GET", "/nowhere", true), null);
    assert.equal(app.threadRuleOf("POST", "/sync", true), null);
    assert.equal(app.threadRuleOf("GET", "http://localhost/sync", true), "/sync");
  });
});

describe("the match threadRuleOf hands to handle", () => {
  const app = new Carafe();
  app.get("/user/<int:id>", (req) => {
    const params = req.params as { id: number; touched?: boolean };
    const seen = params.touched === true ? "reused" : "fresh";
    params.touched = true;
    return `${params.id} ${seen}`;
  });

  it("gives each request its own params, even for the same URL twice", async () => {
    for (let i = 0; i < 2; i++) {
      assert.equal(app.threadRuleOf("GET", "/user/7", false), null);
      assert.equal(await text(app.handle(record("/user/7"))), "7 fresh");
    }
  });

  it("is not used for another request than the one placed", async () => {
    app.threadRuleOf("GET", "/user/1", false);
    assert.equal(await text(app.handle(record("/user/2"))), "2 fresh");
    app.threadRuleOf("GET", "/user/3", false);
    assert.equal(await text(app.handle(record("/user/3", "HEAD"))), "");
    assert.equal(await text(app.handle(record("/user/3"))), "3 fresh");
    // Handled without being placed again (the test client, fetch): matched afresh.
    assert.equal(await text(app.handle(record("/user/3"))), "3 fresh");
  });
});

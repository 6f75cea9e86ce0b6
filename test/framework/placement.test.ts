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

/** Where `planOf` places a request: the rule when it runs on a thread, `null` on the loop. */
function threadRule(app: Carafe, method: string, url: string, threaded: boolean): string | null {
  const plan = app.planOf(method, url, threaded);
  return plan.placement === "thread" ? plan.rule : null;
}

describe("the route plan's placement (DESIGN.md, what runs where)", () => {
  const app = new Carafe();
  app.get("/sync", () => "sync");
  app.get("/async", async () => "async");
  app.get("/marked", { thread: true }, async () => "marked");
  app.get("/pinned", { thread: false }, () => "pinned");
  app.post("/streamed", { streamBody: true }, () => "streamed");

  it("keeps every unmarked handler on the loop without threads", () => {
    assert.equal(threadRule(app, "GET", "/sync", false), null);
    assert.equal(threadRule(app, "GET", "/async", false), null);
  });

  it("sends unmarked sync handlers to a thread when the server has threads, async ones never", () => {
    assert.equal(threadRule(app, "GET", "/sync?x=1", true), "/sync");
    assert.equal(threadRule(app, "GET", "/async", true), null);
  });

  it("follows { thread } marks either way", () => {
    assert.equal(threadRule(app, "GET", "/marked", false), "/marked");
    assert.equal(threadRule(app, "GET", "/pinned", true), null);
  });

  it("keeps a sync streamBody route on the loop, where its body arrives", () => {
    assert.equal(threadRule(app, "POST", "/streamed", true), null);
    assert.deepEqual(app.planOf("POST", "/streamed", true).body, {
      read: "stream",
      limit: app.config.maxContentLength,
    });
  });

  it("places unmatched requests, absolute-form targets included, by their route", () => {
    assert.equal(threadRule(app, "GET", "/nowhere", true), null);
    assert.equal(threadRule(app, "POST", "/sync", true), null);
    assert.equal(threadRule(app, "GET", "http://localhost/sync", true), "/sync");
  });

  it("names the rule of a loop request too, and none for a request that matched nothing", () => {
    assert.equal(app.planOf("GET", "/pinned", true).rule, "/pinned");
    assert.equal(app.planOf("GET", "/nowhere", true).rule, null);
    assert.equal(app.planOf("GET", "/nowhere", true).body.read, "skip");
  });

  it("lists each route with the placement its requests are planned with", () => {
    app.websocket("/live", async () => {});
    const listed = new Map(app.listRoutes().map((route) => [route.rule, route]));
    const placements = (rule: string) => {
      const route = listed.get(rule);
      return [route?.withoutThreads, route?.withThreads];
    };
    assert.deepEqual(placements("/sync"), ["loop", "thread"]);
    assert.deepEqual(placements("/async"), ["loop", "loop"]);
    assert.deepEqual(placements("/marked"), ["thread", "thread"]);
    assert.deepEqual(placements("/pinned"), ["loop", "loop"]);
    assert.deepEqual(placements("/streamed"), ["loop", "loop"]);
    assert.deepEqual(placements("/live"), ["loop", "loop"]);
    assert.equal(listed.get("/live")?.websocket, true);
  });
});

describe("the plan handed to handle", () => {
  const app = new Carafe();
  app.get("/user/<int:id>", (req) => {
    const params = req.params as { id: number; touched?: boolean };
    const seen = params.touched === true ? "reused" : "fresh";
    params.touched = true;
    return `${params.id} ${seen}`;
  });

  it("gives each request its own params, even for the same URL twice", async () => {
    for (let i = 0; i < 2; i++) {
      const plan = app.planOf("GET", "/user/7");
      assert.equal(plan.rule, "/user/<int:id>");
      assert.equal(await text(app.handle(record("/user/7"), plan)), "7 fresh");
    }
  });

  it("keeps nothing in the app between planOf and handle", async () => {
    const first = app.planOf("GET", "/user/1");
    const second = app.planOf("GET", "/user/2");
    // Handled out of order, each request goes on from its own plan.
    assert.equal(await text(app.handle(record("/user/2"), second)), "2 fresh");
    assert.equal(await text(app.handle(record("/user/1"), first)), "1 fresh");
    // Planned and not handled: the next request is not affected.
    app.planOf("GET", "/user/3");
    assert.equal(await text(app.handle(record("/user/3", "HEAD"))), "");
    // Handled without a plan (the test client, fetch): matched afresh.
    assert.equal(await text(app.handle(record("/user/3"))), "3 fresh");
  });

  it("matches afresh from a plan another app made", async () => {
    const other = new Carafe();
    other.get("/user/<int:id>", () => "other");
    const plan = other.planOf("GET", "/user/4");
    assert.equal(await text(app.handle(record("/user/4"), plan)), "4 fresh");
  });
});

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHook } from "node:async_hooks";
import { CarafeError, currentApp, g, request, session, urlFor, type ResponseRecord } from "carafe";
import { deferred, getRecord, newApp } from "../helpers.ts";

/** A deterministic pseudo-random sequence, so a failing interleaving can be replayed. */
function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

/** Yields to the event loop `steps` times, alternating timers, immediates and microtasks. */
async function asyncChain(steps: number): Promise<void> {
  for (let i = 0; i < steps; i += 1) {
    if (i % 3 === 0) await new Promise<void>((resolve) => setTimeout(resolve, 0));
    else if (i % 3 === 1) await new Promise<void>((resolve) => setImmediate(resolve));
    else await Promise.resolve();
  }
}

/** Counts the promises created from now until `stop()`. */
function promiseCounter(): { readonly count: number; stop(): void } {
  let count = 0;
  const hook = createHook({
    init(_id, type) {
      if (type === "PROMISE") count += 1;
    },
  });
  hook.enable();
  return {
    get count() {
      return count;
    },
    stop: () => void hook.disable(),
  };
}

function noRequestContext(name: string): (error: unknown) => boolean {
  return (error) =>
    error instanceof CarafeError &&
    error.code === "ERR_NO_REQUEST_CONTEXT" &&
    error.message.includes(name) &&
    error.message.includes("only available while a request is being handled") &&
    error.message.includes("testRequestContext");
}

function noAppContext(name: string): (error: unknown) => boolean {
  return (error) =>
    error instanceof CarafeError &&
    error.code === "ERR_NO_APP_CONTEXT" &&
    error.message.includes(name) &&
    error.message.includes("only available inside an app context") &&
    error.message.includes("app.appContext(");
}

describe("context globals inside a request", () => {
  it("gives handlers the current request, g and app", async () => {
    const app = newApp({ name: "ctx-app" });
    app.get("/info", function info(req) {
      g.note = "set in view";
      return {
        same: request.path === req.path,
        path: request.path,
        arg: request.args.get("q"),
        header: request.headers.get("x-test"),
        note: g.note,
        app: currentApp.name,
        isApp: currentApp.urlFor("info") === "/info",
      };
    });
    const res = await app.testClient().get("/info?q=42", { headers: { "x-test": "yes" } });
    assert.deepEqual(res.json(), {
      same: true,
      path: "/info",
      arg: "42",
      header: "yes",
      note: "set in view",
      app: "ctx-app",
      isApp: true,
    });
  });

  it("works inside beforeRequest, afterRequest and teardownRequest hooks", async () => {
    const app = newApp({ name: "hooked" });
    const seen: string[] = [];
    app.beforeRequest(() => {
      g.trace = [`before ${request.args.get("id")}`];
    });
    app.get("/", () => {
      (g.trace as string[]).push(`view ${request.args.get("id")}`);
      return "ok";
    });
    app.afterRequest((response) => {
      (g.trace as string[]).push(`after ${request.args.get("id")}`);
      response.headers.set("X-App", currentApp.name);
    });
    app.teardownRequest(() => {
      seen.push(...(g.trace as string[]), `teardown ${request.args.get("id")}`);
    });
    const res = await app.testClient().get("/?id=7");
    assert.equal(res.headers.get("x-app"), "hooked");
    assert.deepEqual(seen, ["before 7", "view 7", "after 7", "teardown 7"]);
  });

  it("works inside error handlers", async () => {
    const app = newApp();
    app.errorHandler(404, () => `no page at ${request.path}`);
    const res = await app.testClient().get("/nothing/here");
    assert.equal(res.text(), "no page at /nothing/here");
  });

  it("reads and writes the session through the imported session", async () => {
    const app = newApp({ secretKey: "test secret key" });
    app.get("/login", () => {
      session.set("user", request.args.get("user", ""));
      return "logged in";
    });
    app.get("/me", () => String(session.get("user") ?? "nobody"));
    app.beforeRequest(() => {
      g.sessionUser = session.get("user");
    });
    app.get("/hook", () => String(g.sessionUser ?? "nobody"));
    const client = app.testClient();
    assert.equal((await client.get("/me")).text(), "nobody");
    await client.get("/login?user=ada");
    assert.equal((await client.get("/me")).text(), "ada");
    assert.equal((await client.get("/hook")).text(), "ada");
  });

  it("supports 'in', delete and key listing on g", async () => {
    const app = newApp();
    app.get("/", () => {
      g.a = 1;
      g.b = 2;
      delete g.a;
      return { hasA: "a" in g, hasB: "b" in g, keys: Object.keys(g) };
    });
    assert.deepEqual((await app.testClient().get("/")).json(), {
      hasA: false,
      hasB: true,
      keys: ["b"],
    });
  });

  it("keeps the request while a streamed body is produced after the view returned", async () => {
    const app = newApp();
    app.get("/stream", async function* stream() {
      yield `${request.args.get("n")}:`;
      await new Promise<void>((resolve) => setImmediate(resolve));
      yield `${request.args.get("n")}:${String(g.tag)}`;
    });
    app.beforeRequest(() => {
      g.tag = `tag${request.args.get("n")}`;
    });
    const client = app.testClient();
    const [a, b] = await Promise.all([client.get("/stream?n=1"), client.get("/stream?n=2")]);
    assert.equal(a?.text(), "1:1:tag1");
    assert.equal(b?.text(), "2:2:tag2");
  });

  it("serves app.testRequestContext outside a real request", () => {
    const app = newApp({ name: "contextual", serverName: "example.com" });
    app.get("/user/<int:id>", function user() {
      return "x";
    });
    const result = app.testRequestContext("/somewhere?x=1", () => ({
      path: request.path,
      x: request.args.get("x"),
      url: urlFor("user", { id: 3 }),
      app: currentApp.name,
    }));
    assert.deepEqual(result, { path: "/somewhere", x: "1", url: "/user/3", app: "contextual" });
  });
});

describe("context across awaits and concurrent requests", () => {
  it("gives each of 50 concurrent async requests its own request and g, whatever order they finish in", async () => {
    const app = newApp();
    const count = 50;
    const random = seededRandom(20240607);
    const steps = Array.from({ length: count }, () => 1 + Math.floor(random() * 6));
    const gates = Array.from({ length: count }, () => deferred());
    const allWaiting = deferred();
    const finished: number[] = [];
    let waiting = 0;

    app.beforeRequest(async () => {
      const id = Number(request.args.get("id"));
      await asyncChain(steps[id] as number);
      g.id = request.args.get("id");
    });
    app.get("/work", async () => {
      const id = Number(request.args.get("id"));
      const seen: string[] = [];
      await asyncChain(steps[(id + 17) % count] as number);
      seen.push(request.args.get("id") ?? "none", String(g.id));
      waiting += 1;
      if (waiting === count) allWaiting.resolve();
      await (gates[id] as { promise: Promise<void> }).promise;
      await asyncChain(steps[(id + 31) % count] as number);
      seen.push(request.args.get("id") ?? "none", String(g.id), request.url);
      finished.push(id);
      return { id, seen };
    });

    const client = app.testClient();
    const pending = Array.from({ length: count }, (_, id) =>
      client.get("/work", { query: { id } }),
    );
    await allWaiting.promise;
    // Open the gates in a shuffled order: request i must not care which requests finish first.
    const order = Array.from({ length: count }, (_, id) => id).sort(() => random() - 0.5);
    for (const id of order) gates[id]?.resolve();
    const bodies = await Promise.all(
      pending.map(async (res) => (await res).json<{ id: number; seen: string[] }>()),
    );

    for (const [index, body] of bodies.entries()) {
      const id = String(index);
      assert.deepEqual(body, {
        id: index,
        seen: [id, id, id, id, `http://localhost/work?id=${id}`],
      });
    }
    assert.equal(finished.length, count);
    assert.notDeepEqual(
      finished,
      Array.from({ length: count }, (_, id) => id),
      "the requests finished in another order than they started",
    );
  });

  it("keeps the context in timer and immediate callbacks started by an async handler", async () => {
    const app = newApp();
    app.get("/", async () => {
      return new Promise<string>((resolve) => {
        setTimeout(() => {
          const first = request.args.get("v");
          setImmediate(() => resolve(`${first}/${request.args.get("v")}`));
        }, 0);
      });
    });
    const client = app.testClient();
    const [a, b] = await Promise.all([client.get("/?v=a"), client.get("/?v=b")]);
    assert.equal(a?.text(), "a/a");
    assert.equal(b?.text(), "b/b");
  });
});

describe("the context of plain (non-async) handlers", () => {
  it("is there while the handler and its hooks run, and after an await of the pipeline", async () => {
    const app = newApp();
    const seen: string[] = [];
    app.beforeRequest(() => void seen.push(`before ${request.path}`));
    app.afterRequest((response) => {
      seen.push(`after ${request.path}`);
      return response;
    });
    // A plain function that returns a promise: the pipeline awaits it, then runs the hooks.
    app.get("/late", () => {
      seen.push(`handler ${request.path}`);
      return new Promise<string>((resolve) => setTimeout(() => resolve("done"), 1));
    });
    const response = await app.testClient().get("/late");
    assert.equal(response.text(), "done");
    assert.deepEqual(seen, ["before /late", "handler /late", "after /late"]);
  });

  it("runs beside async requests without disturbing their context", async () => {
    const app = newApp();
    let release = (): void => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    app.get("/async/<name>", async () => {
      await gate;
      await new Promise((resolve) => setTimeout(resolve, 1));
      return `async ${request.path}`;
    });
    app.get("/sync/<name>", () => `sync ${request.path}`);
    const client = app.testClient();
    const waiting = client.get("/async/a");
    for (const name of ["b", "c"]) {
      assert.equal((await client.get(`/sync/${name}`)).text(), `sync /sync/${name}`);
    }
    release();
    assert.equal((await waiting).text(), "async /async/a");
    // Once nothing async is in flight, the next async request gets its context again.
    const again = client.get("/async/d");
    assert.equal((await again).text(), "async /async/d");
  });

  it("follows a streamed body of a plain handler across its awaits", async () => {
    const app = newApp();
    app.get("/stream", () => {
      async function* lines(): AsyncGenerator<string> {
        for (let i = 0; i < 3; i++) {
          await new Promise((resolve) => setTimeout(resolve, 1));
          yield `${request.path} ${i}\n`;
        }
      }
      return lines();
    });
    const response = await app.testClient().get("/stream");
    assert.equal(response.text(), "/stream 0\n/stream 1\n/stream 2\n");
  });

  it("is gone in callbacks that run after the handler returned, with an error saying why", async () => {
    const app = newApp();
    let failure: unknown;
    app.get("/", () => {
      return new Promise<string>((resolve) => {
        setTimeout(() => {
          try {
            resolve(request.path);
          } catch (error) {
            failure = error;
            resolve("no context");
          }
        }, 0);
      });
    });
    const response = await app.testClient().get("/");
    assert.equal(response.text(), "no context");
    assert.ok(noRequestContext("'request'")(failure));
    assert.match(
      (failure as Error).message,
      /declare that function async, or use its req argument/,
    );
  });
});

describe("context globals outside a request", () => {
  it("throws ERR_NO_REQUEST_CONTEXT with a helpful message for request", () => {
    assert.throws(() => request.path, noRequestContext("'request'"));
    assert.throws(() => request.args.get("x"), noRequestContext("'request'"));
  });

  it("throws ERR_NO_APP_CONTEXT for g, on read and on write", () => {
    assert.throws(() => g.user, noAppContext("'g'"));
    assert.throws(() => {
      g.user = 1;
    }, noAppContext("'g'"));
    assert.throws(() => "user" in g, noAppContext("'g'"));
  });

  it("throws ERR_NO_REQUEST_CONTEXT for session, ERR_NO_APP_CONTEXT for currentApp", () => {
    assert.throws(() => session.get("user"), noRequestContext("'session'"));
    assert.throws(() => currentApp.name, noAppContext("'currentApp'"));
  });

  it("throws ERR_NO_APP_CONTEXT for urlFor", () => {
    assert.throws(() => urlFor("index"), noAppContext("urlFor()"));
  });

  it("throws again once the request is over", async () => {
    const app = newApp();
    let leaked: (() => unknown) | undefined;
    app.get("/", () => {
      leaked = () => request.path;
      return String(leaked());
    });
    assert.equal((await app.testClient().get("/")).text(), "/");
    assert.ok(leaked);
    assert.throws(leaked, noRequestContext("'request'"));
  });
});

describe("synchronous handling", () => {
  it("returns a plain record, not a promise, for a synchronous app", () => {
    const app = newApp();
    app.beforeRequest(() => {
      g.started = true;
    });
    app.afterRequest((response) => {
      response.headers.set("X-Sync", "1");
    });
    app.teardownRequest(() => undefined);
    app.get("/", () => `sync ${request.args.get("n")}`);
    const result = app.handle(getRecord("/?n=1"));
    assert.equal(result instanceof Promise, false);
    assert.equal(typeof (result as { then?: unknown }).then, "undefined");
    const record = result as ResponseRecord;
    assert.equal(record.status, 200);
    assert.equal(record.body, "sync 1");
    assert.ok(record.headers.includes("X-Sync"));
  });

  it("creates no promise while handling a synchronous request", async () => {
    const app = newApp();
    app.get("/", (req) => ({ n: req.args.get("n") }));
    app.get("/async", async (req) => ({ n: req.args.get("n") }));
    void app.handle(getRecord("/?n=0")); // warm up lazy module state (a synchronous route)
    let promises = 0;
    const countPromises = (url: string): ResponseRecord | Promise<ResponseRecord> => {
      const counter = promiseCounter();
      try {
        return app.handle(getRecord(url));
      } finally {
        counter.stop();
        promises = counter.count;
      }
    };
    const result = countPromises("/?n=1");
    assert.equal(promises, 0);
    assert.equal(result instanceof Promise, false);
    // The same count sees the promises of an async handler, so the zero above is meaningful.
    const asyncResult = countPromises("/async?n=2");
    assert.ok(promises > 0);
    await asyncResult;
  });

  it("adds at most two promises of its own to an async handler's", async () => {
    const app = newApp();
    const view = async (): Promise<string> => {
      await Promise.resolve();
      return "waited";
    };
    app.get("/async", view);
    await app.handle(getRecord("/async")); // warm up lazy module state
    const promisesOf = async (run: () => unknown): Promise<number> => {
      const counter = promiseCounter();
      try {
        await run();
      } finally {
        counter.stop();
      }
      return counter.count;
    };
    const alone = await promisesOf(view);
    const handled = await promisesOf(() => app.handle(getRecord("/async")));
    // The same count sees the handler's own promises, so the bound below is not vacuous.
    assert.ok(alone > 0);
    // A budget, not a count: the driver's async function and its await are two, and each more
    // costs a hook call per request while AsyncLocalStorage is on (Node 20). Fewer is fine.
    assert.ok(
      handled - alone <= 2,
      `an async request made ${handled - alone} promises besides its handler's`,
    );
  });

  it("returns synchronous records for errors of a synchronous app", () => {
    const app = newApp();
    app.logger = { error: () => {}, warn: () => {}, info: () => {} };
    app.get("/fail", () => {
      throw new Error("sync failure");
    });
    const missing = app.handle(getRecord("/missing"));
    const failed = app.handle(getRecord("/fail"));
    assert.equal(missing instanceof Promise, false);
    assert.equal((missing as ResponseRecord).status, 404);
    assert.equal(failed instanceof Promise, false);
    assert.equal((failed as ResponseRecord).status, 500);
  });

  it("returns a promise for an async handler", async () => {
    const app = newApp();
    app.get("/", async () => {
      await Promise.resolve();
      return `async ${request.args.get("n")}`;
    });
    const result = app.handle(getRecord("/?n=2"));
    assert.ok(result instanceof Promise);
    const record = await result;
    assert.equal(record.status, 200);
    assert.equal(record.body, "async 2");
  });

  it("returns a promise when only a hook is async", async () => {
    const app = newApp();
    app.beforeRequest(async () => {
      g.value = "from async hook";
    });
    app.get("/", () => String(g.value));
    const result = app.handle(getRecord("/"));
    assert.ok(result instanceof Promise);
    assert.equal((await result).body, "from async hook");
  });
});

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  Blueprint,
  MethodView,
  View,
  g,
  request,
  urlFor,
  wraps,
  type Handler,
  type Request,
  type ResponseValue,
  type ViewDecorator,
} from "carafe";
import { newApp, isCarafeError } from "../helpers.ts";

declare module "carafe" {
  interface AppGlobals {
    trail?: string[];
  }
}

describe("View", () => {
  it("builds a new instance per request with the arguments given to asView", async () => {
    const built: Counter[] = [];
    class Counter extends View {
      hits = 0;
      constructor(readonly greeting: string) {
        super();
        built.push(this);
      }
      dispatchRequest(req: Request): string {
        this.hits += 1;
        return `${this.greeting} ${req.endpoint ?? ""} ${this.hits}`;
      }
    }
    const app = newApp();
    app.addUrlRule("/hello", { view: Counter.asView("hello", "hi") });
    const client = app.testClient();
    assert.equal(built.length, 0);
    assert.equal((await client.get("/hello")).text(), "hi hello 1");
    assert.equal((await client.get("/hello")).text(), "hi hello 1");
    assert.equal(built.length, 2);
    assert.equal(app.urlFor("hello"), "/hello");
  });

  it("builds one instance for every request when initEveryRequest is false", async () => {
    let built = 0;
    class Shared extends View {
      static override initEveryRequest = false;
      hits = 0;
      constructor() {
        super();
        built += 1;
      }
      dispatchRequest(): string {
        this.hits += 1;
        return String(this.hits);
      }
    }
    const app = newApp();
    app.route("/shared", Shared.asView("shared"));
    assert.equal(built, 1);
    const client = app.testClient();
    assert.equal((await client.get("/shared")).text(), "1");
    assert.equal((await client.get("/shared")).text(), "2");
    assert.equal(built, 1);
  });

  it("answers the methods the class lists, GET otherwise", async () => {
    class Listed extends View {
      static override methods = ["GET", "POST"];
      dispatchRequest(req: Request): string {
        return req.method;
      }
    }
    class Unlisted extends View {
      dispatchRequest(req: Request): string {
        return req.method;
      }
    }
    const app = newApp();
    app.route("/listed", Listed.asView("listed"));
    app.route("/unlisted", Unlisted.asView("unlisted"));
    const client = app.testClient();
    assert.equal((await client.post("/listed")).text(), "POST");
    assert.equal((await client.get("/unlisted")).text(), "GET");
    const refused = await client.post("/unlisted");
    assert.equal(refused.status, 405);
    assert.equal(refused.headers.get("allow"), "GET, HEAD, OPTIONS");
  });

  it("applies its decorators in order, the last outermost, keeping the endpoint", async () => {
    const mark =
      (label: string): ViewDecorator =>
      (view) =>
        wraps((req) => {
          (g.trail ??= []).push(`${label}:${view.name}`);
          return view(req);
        }, view);
    class Decorated extends View {
      static override decorators = [mark("inner"), mark("outer")];
      dispatchRequest(): ResponseValue {
        return g.trail ?? [];
      }
    }
    const app = newApp();
    const view = Decorated.asView("decorated");
    assert.equal(view.name, "decorated");
    assert.equal(view.viewClass, Decorated);
    app.route("/decorated", view);
    const res = await app.testClient().get("/decorated");
    assert.deepEqual(res.json(), ["outer:decorated", "inner:decorated"]);
    assert.deepEqual(
      app.listRoutes().map((route) => route.endpoint),
      ["decorated"],
    );
  });

  it("runs an async dispatchRequest as an async view, with the request context kept", async () => {
    class Later extends View {
      async dispatchRequest(): Promise<string> {
        await new Promise<void>((resolve) => setImmediate(resolve));
        return `${request.path} ${urlFor("later")}`;
      }
    }
    const app = newApp();
    app.route("/later", Later.asView("later"));
    assert.equal((await app.testClient().get("/later")).text(), "/later /later");
    assert.deepEqual(
      app.listRoutes().map((route) => route.withThreads),
      ["loop"],
    );
  });

  it("refuses a missing name and a decorator that returns no view", () => {
    class Plain extends View {
      dispatchRequest(): string {
        return "plain";
      }
    }
    assert.throws(
      () => Plain.asView(""),
      isCarafeError("ERR_BAD_VIEW", /Plain\.asView\(name\).*non-empty string/),
    );
    class Broken extends View {
      static override decorators = [(() => undefined) as unknown as ViewDecorator];
      dispatchRequest(): string {
        return "broken";
      }
    }
    assert.throws(
      () => Broken.asView("broken"),
      isCarafeError("ERR_BAD_VIEW", /Broken\.decorators\[0\] returned undefined/),
    );
  });
});

describe("MethodView", () => {
  class ItemApi extends MethodView {
    get(req: Request): ResponseValue {
      return { item: req.params["id"] as number };
    }
    post(req: Request): string {
      return `created ${String(req.params["id"])}`;
    }
  }

  it("dispatches to the method of the request's name and answers its methods", async () => {
    const app = newApp();
    app.addUrlRule("/items/<int:id>", { view: ItemApi.asView("item") });
    const client = app.testClient();
    assert.deepEqual((await client.get("/items/3")).json(), { item: 3 });
    assert.equal((await client.post("/items/3")).text(), "created 3");
    const refused = await client.put("/items/3");
    assert.equal(refused.status, 405);
    assert.equal(refused.headers.get("allow"), "GET, HEAD, OPTIONS, POST");
    const options = await client.options("/items/3");
    assert.equal(options.headers.get("allow"), "GET, HEAD, OPTIONS, POST");
  });

  it("answers HEAD with get, without a body", async () => {
    const app = newApp();
    app.addUrlRule("/items/<int:id>", { view: ItemApi.asView("item") });
    const res = await app.testClient().head("/items/3");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/json");
    assert.equal(res.headers.get("content-length"), String('{"item":3}'.length));
    assert.equal(res.body.byteLength, 0);
  });

  it("answers 405 with Allow for a method the route lists and the class lacks", async () => {
    const app = newApp();
    app.route("/items/<int:id>", { methods: ["GET", "PUT"] }, ItemApi.asView("item"));
    const res = await app.testClient().put("/items/1");
    assert.equal(res.status, 405);
    assert.equal(res.headers.get("allow"), "GET, HEAD, OPTIONS, POST");
  });

  it("adds the methods a subclass defines to its parent's, unless it lists its own", async () => {
    class Editable extends ItemApi {
      delete(): string {
        return "deleted";
      }
    }
    class ReadOnly extends Editable {
      static override methods = ["GET"];
    }
    const app = newApp();
    app.route("/editable", Editable.asView("editable"));
    app.route("/read-only", ReadOnly.asView("readOnly"));
    const routes = Object.fromEntries(
      app.listRoutes().map((route) => [route.rule, [...route.methods].sort()]),
    );
    assert.deepEqual(routes["/editable"], ["DELETE", "GET", "HEAD", "POST"]);
    assert.deepEqual(routes["/read-only"], ["GET", "HEAD"]);
    const client = app.testClient();
    assert.equal((await client.delete("/editable")).text(), "deleted");
    assert.equal((await client.delete("/read-only")).status, 405);
  });

  it("runs as an async view when one of its methods is async", async () => {
    class Slow extends MethodView {
      get(): string {
        return request.path;
      }
      async post(req: Request): Promise<ResponseValue> {
        const body = await req.json<{ n: number }>();
        await new Promise<void>((resolve) => setImmediate(resolve));
        return { n: body.n, path: request.path };
      }
    }
    const app = newApp();
    app.route("/slow", Slow.asView("slow"));
    const client = app.testClient();
    assert.equal((await client.get("/slow")).text(), "/slow");
    assert.deepEqual((await client.post("/slow", { json: { n: 2 } })).json(), {
      n: 2,
      path: "/slow",
    });
    assert.deepEqual(
      app.listRoutes().map((route) => route.withThreads),
      ["loop"],
    );
  });

  it("is named blueprint.name on a blueprint, and keeps its methods through a decorator", async () => {
    const loginRequired = <R extends string>(view: Handler<R>): Handler<R> =>
      wraps((req) => (req.args.has("user") ? view(req) : "log in first"), view);
    const api = new Blueprint("api", { urlPrefix: "/api" });
    api.route("/items/<int:id>", loginRequired(ItemApi.asView("item")));
    const app = newApp();
    app.registerBlueprint(api);
    assert.equal(app.urlFor("api.item", { id: 9 }), "/api/items/9");
    const client = app.testClient();
    assert.equal((await client.post("/api/items/9")).text(), "log in first");
    assert.equal((await client.post("/api/items/9?user=ada")).text(), "created 9");
  });
});

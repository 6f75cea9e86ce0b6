import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Blueprint, BuildError, Carafe, CarafeError, urlFor } from "carafe";

function newApp(options: ConstructorParameters<typeof Carafe>[0] = {}): Carafe {
  const app = new Carafe({ staticFolder: null, ...options });
  app.get("/", function index() {
    return "home";
  });
  app.get("/user/<int:id>", function user() {
    return "user";
  });
  app.get("/files/<path:name>", function file() {
    return "file";
  });
  app.get("/sort/<any(asc, desc):order>", function sorted() {
    return "sorted";
  });
  app.get("/café/<name>", function cafe() {
    return "cafe";
  });
  return app;
}

/** Asserts that `fn` throws a BuildError whose message matches every pattern. */
function assertBuildError(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof BuildError, `expected a BuildError, got ${String(error)}`);
    assert.equal(error.code, "ERR_URL_BUILD");
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  });
}

describe("app.urlFor outside a request", () => {
  it("builds a static rule", () => {
    assert.equal(newApp().urlFor("index"), "/");
  });

  it("applies the converters of the rule", () => {
    const app = newApp();
    assert.equal(app.urlFor("user", { id: 7 }), "/user/7");
    assert.equal(app.urlFor("sorted", { order: "desc" }), "/sort/desc");
  });

  it("keeps the slashes of a path value and encodes the rest", () => {
    assert.equal(newApp().urlFor("file", { name: "docs/a b/c.txt" }), "/files/docs/a%20b/c.txt");
  });

  it("percent-encodes non-ASCII text and reserved characters in values and rules", () => {
    assert.equal(newApp().urlFor("cafe", { name: "a/b?c" }), "/caf%C3%A9/a%2Fb%3Fc");
  });

  it("puts params the rule does not use in the query string", () => {
    assert.equal(newApp().urlFor("user", { id: 7, tab: "posts" }), "/user/7?tab=posts");
  });

  it("repeats the key for each item of an array param", () => {
    assert.equal(
      newApp().urlFor("index", { tag: ["a", "b c"], page: 2 }),
      "/?tag=a&tag=b+c&page=2",
    );
  });

  it("leaves out undefined and null query params", () => {
    assert.equal(newApp().urlFor("user", { id: 1, a: undefined, b: null }), "/user/1");
  });

  it("throws a BuildError naming a missing parameter", () => {
    assertBuildError(() => newApp().urlFor("user", {}), /'user'/, /missing 'id'/);
    assertBuildError(() => newApp().urlFor("user", { id: undefined }), /missing 'id'/);
  });

  it("throws a BuildError naming an unknown endpoint", () => {
    assertBuildError(() => newApp().urlFor("nope"), /'nope'/, /no such endpoint/);
  });

  it("throws a BuildError naming a parameter the converter cannot turn into a URL", () => {
    assertBuildError(
      () => newApp().urlFor("user", { id: "seven" }),
      /parameter 'id'/,
      /expected a number/,
    );
    assertBuildError(() => newApp().urlFor("user", { id: 1.5 }), /parameter 'id'/);
    assertBuildError(
      () => newApp().urlFor("sorted", { order: "random" }),
      /parameter 'order'/,
      /asc, desc/,
    );
  });

  it("appends an encoded anchor", () => {
    assert.equal(newApp().urlFor("user", { id: 3 }, { anchor: "top" }), "/user/3#top");
    assert.equal(newApp().urlFor("index", {}, { anchor: "a b" }), "/#a%20b");
  });

  it("puts the anchor after the query string", () => {
    assert.equal(
      newApp().urlFor("user", { id: 3, tab: "x" }, { anchor: "top" }),
      "/user/3?tab=x#top",
    );
  });

  it("builds an external URL from config.serverName and preferredUrlScheme", () => {
    const app = newApp({ serverName: "example.com:8443", preferredUrlScheme: "https" });
    assert.equal(
      app.urlFor("user", { id: 1 }, { external: true }),
      "https://example.com:8443/user/1",
    );
    assert.equal(
      app.urlFor("user", { id: 1 }, { external: true, scheme: "http" }),
      "http://example.com:8443/user/1",
    );
  });

  it("throws a clear error for an external URL without config.serverName", () => {
    assert.throws(
      () => newApp().urlFor("index", {}, { external: true }),
      (error: unknown) => {
        assert.ok(error instanceof BuildError);
        assert.match(error.message, /serverName/);
        assert.match(error.message, /urlFor\('index'/);
        return true;
      },
    );
  });

  it("picks the rule that answers the requested method", () => {
    const app = new Carafe({ staticFolder: null });
    const handler = function item() {
      return "item";
    };
    app.get("/item/<int:id>", handler);
    app.route("/items", { methods: ["POST"] }, handler);
    assert.equal(app.urlFor("item", { id: 2 }), "/item/2");
    assert.equal(app.urlFor("item", {}, { method: "POST" }), "/items");
    assertBuildError(() => app.urlFor("item", { id: 2 }, { method: "DELETE" }), /DELETE/);
  });

  it("picks the first rule of an endpoint whose params are all given", () => {
    const app = new Carafe({ staticFolder: null });
    const handler = function page() {
      return "page";
    };
    app.get("/page/<int:n>", handler);
    app.get("/page", handler);
    assert.equal(app.urlFor("page", { n: 2 }), "/page/2");
    assert.equal(app.urlFor("page"), "/page");
  });

  it("uses a registered converter's toUrl", () => {
    const app = new Carafe({ staticFolder: null });
    app.addConverter("hex", {
      regex: "[0-9a-f]+",
      toValue: (raw) => parseInt(raw, 16),
      toUrl: (value) => (value as number).toString(16),
    });
    app.get("/color/<hex:value>", function color() {
      return "color";
    });
    assert.equal(app.urlFor("color", { value: 255 }), "/color/ff");
  });

  it("builds a URL that routes back to the same params", async () => {
    const app = new Carafe({ staticFolder: null });
    app.get("/p/<name>/<int:n>/<path:rest>", function echo(req) {
      return { name: req.params.name, n: req.params.n, rest: req.params.rest };
    });
    const values = { name: "été & co", n: 12, rest: "a/b c/d" };
    const res = await app.testClient().get(app.urlFor("echo", values));
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), values);
  });

  it("treats '.name' as an app endpoint outside a blueprint", () => {
    assert.equal(newApp().urlFor(".user", { id: 4 }), "/user/4");
  });
});

describe("urlFor inside a request", () => {
  it("builds URLs from a handler", async () => {
    const app = newApp();
    app.get("/link", () => urlFor("user", { id: 9, ref: "nav" }));
    assert.equal((await app.testClient().get("/link")).text(), "/user/9?ref=nav");
  });

  it("builds external URLs from the request's host and scheme", async () => {
    const app = newApp({ serverName: "configured.example" });
    app.get("/link", () => urlFor("user", { id: 9 }, { external: true }));
    const client = app.testClient();
    const res = await client.get("/link", { headers: { host: "shop.example:8080" } });
    assert.equal(res.text(), "http://shop.example:8080/user/9");
    const secure = await client.get("/link", { scheme: "https", headers: { host: "a.example" } });
    assert.equal(secure.text(), "https://a.example/user/9");
  });

  it("builds external URLs inside a request without config.serverName", async () => {
    const app = newApp();
    app.get("/link", () => urlFor("index", {}, { external: true }));
    assert.equal((await app.testClient().get("/link")).text(), "http://localhost/");
  });

  it("works inside app.testRequestContext", () => {
    const app = newApp({ serverName: "example.com" });
    const url = app.testRequestContext("/", () => urlFor("user", { id: 1 }, { external: true }));
    assert.equal(url, "http://example.com/user/1");
  });

  it("throws a BuildError from a handler that names a missing parameter", async () => {
    const app = newApp();
    let caught: unknown;
    app.get("/broken", () => {
      try {
        return urlFor("user");
      } catch (error) {
        caught = error;
        throw error;
      }
    });
    app.logger = { error: () => undefined, warn: () => undefined, info: () => undefined };
    const res = await app.testClient().get("/broken");
    assert.equal(res.status, 500);
    assert.ok(caught instanceof BuildError);
    assert.match(caught.message, /missing 'id'/);
  });

  it("throws a clear error when called outside an app context", () => {
    assert.throws(
      () => urlFor("index"),
      (error: unknown) => {
        assert.ok(error instanceof CarafeError);
        assert.equal(error.code, "ERR_NO_APP_CONTEXT");
        assert.match(error.message, /urlFor\(\)/);
        return true;
      },
    );
  });
});

describe("urlFor with blueprints", () => {
  function blueprintApp(): Carafe {
    const app = new Carafe({ staticFolder: null });
    app.get("/", function index() {
      return urlFor(".index");
    });
    const shop = new Blueprint("shop", { urlPrefix: "/shop" });
    shop.get("/", function index() {
      return urlFor(".index");
    });
    shop.get("/item/<int:id>", function item() {
      return "item";
    });
    shop.get("/link", function link() {
      return urlFor(".item", { id: 5 });
    });
    shop.get("/home", function home() {
      return urlFor("index");
    });
    app.registerBlueprint(shop);
    return app;
  }

  it("builds a blueprint endpoint as 'name.view' with its prefix", () => {
    const app = blueprintApp();
    assert.equal(app.urlFor("shop.item", { id: 3 }), "/shop/item/3");
    assert.equal(app.urlFor("shop.index"), "/shop/");
  });

  it("resolves '.name' against the blueprint of the current request", async () => {
    const client = blueprintApp().testClient();
    assert.equal((await client.get("/shop/link")).text(), "/shop/item/5");
    assert.equal((await client.get("/shop/")).text(), "/shop/");
  });

  it("resolves '.name' to the app's endpoint in an app view", async () => {
    assert.equal((await blueprintApp().testClient().get("/")).text(), "/");
  });

  it("resolves a plain name to the app's endpoint from a blueprint view", async () => {
    assert.equal((await blueprintApp().testClient().get("/shop/home")).text(), "/");
  });

  it("names the blueprint endpoint in a BuildError", () => {
    assertBuildError(() => blueprintApp().urlFor("shop.item"), /'shop\.item'/, /missing 'id'/);
    assertBuildError(() => blueprintApp().urlFor("shop.nope"), /'shop\.nope'/);
  });

  it("builds the URLs of a blueprint registered twice under different names", () => {
    const app = new Carafe({ staticFolder: null });
    const bp = new Blueprint("docs");
    bp.get("/page", function page() {
      return "page";
    });
    app.registerBlueprint(bp, { urlPrefix: "/v1" });
    app.registerBlueprint(bp, { urlPrefix: "/v2", name: "docs2" });
    assert.equal(app.urlFor("docs.page"), "/v1/page");
    assert.equal(app.urlFor("docs2.page"), "/v2/page");
  });
});

describe("urlFor with null values", () => {
  it("treats a null parameter as missing, like Werkzeug's None", () => {
    const app = newApp();
    app.get("/u/<name>", function profile() {
      return "";
    });
    assert.throws(
      () => app.urlFor("profile", { name: null }),
      (error: unknown) => {
        assert.ok(error instanceof BuildError);
        assert.match(error.message, /missing 'name'/);
        return true;
      },
    );
    assert.equal(app.urlFor("profile", { name: "ada", tab: null }), "/u/ada");
  });
});

describe("urlFor of WebSocket routes (one URL map holds both kinds)", () => {
  it("builds the path of a socket endpoint from its parameters", () => {
    const app = newApp();
    app.websocket("/chat/<room>", async function chat() {});
    app.websocket("/live/<int:id>", { endpoint: "live" }, { message: () => {} });
    assert.equal(app.urlFor("chat", { room: "x y" }), "/chat/x%20y");
    assert.equal(app.urlFor("live", { id: 7, since: 3 }), "/live/7?since=3");
  });

  it("builds a blueprint's socket endpoint with its prefix, '.name' included", async () => {
    const app = newApp();
    const rooms = new Blueprint("rooms", { urlPrefix: "/rooms" });
    rooms.websocket("/<name>/ws", async function join() {});
    rooms.get("/<name>", function page(req) {
      return urlFor(".join", { name: req.params.name });
    });
    app.registerBlueprint(rooms);
    assert.equal(app.urlFor("rooms.join", { name: "lobby" }), "/rooms/lobby/ws");
    assert.equal((await app.testClient().get("/rooms/lobby")).text(), "/rooms/lobby/ws");
  });

  it("keeps an HTTP route and a socket route on the same path apart", async () => {
    const app = newApp();
    app.get("/feed", function feedPage() {
      return "page";
    });
    app.websocket("/feed", async function feedSocket() {});
    app.websocket("/only-socket", async function onlySocket() {});
    assert.equal(app.urlFor("feedPage"), "/feed");
    assert.equal(app.urlFor("feedSocket"), "/feed");
    const client = app.testClient();
    assert.equal((await client.get("/feed")).text(), "page");
    // A plain HTTP request never reaches a socket rule: 404, not 405.
    assert.equal((await client.get("/only-socket")).status, 404);
    assert.equal((await client.post("/feed")).headers.get("allow"), "GET, HEAD, OPTIONS");
    const record = {
      method: "GET",
      url: "/feed",
      headers: { host: "localhost" },
      body: null,
      remoteAddress: "127.0.0.1",
      scheme: "http" as const,
    };
    assert.equal((await app.sockets?.accept(record))?.kind, "accept");
  });

  it("refuses a socket endpoint an HTTP view already has", () => {
    const app = newApp();
    assert.throws(
      () => app.websocket("/ws", { endpoint: "index" }, async () => {}),
      (error: unknown) => error instanceof CarafeError && error.code === "ERR_DUPLICATE_ENDPOINT",
    );
  });
});

describe("addUrlRule without a view", () => {
  it("names a path for urlFor while another rule's view serves it, as Flaskr's index", async () => {
    const blog = new Blueprint("blog");
    blog.get("/", function index() {
      return "posts";
    });
    const app = new Carafe({ staticFolder: null });
    app.registerBlueprint(blog);
    app.addUrlRule("/", { endpoint: "index" });
    assert.equal(app.urlFor("index"), "/");
    assert.equal(app.urlFor("blog.index"), "/");
    const res = await app.testClient().get("/");
    assert.equal(res.text(), "posts");
    assert.deepEqual(
      app.listRoutes().map((route) => route.endpoint),
      ["blog.index"],
    );
  });

  it("is never matched: a request only it would match is 404", async () => {
    const app = new Carafe({ staticFolder: null });
    app.addUrlRule("/elsewhere/<int:id>", { endpoint: "elsewhere" });
    assert.equal(app.urlFor("elsewhere", { id: 3 }), "/elsewhere/3");
    assert.equal((await app.testClient().get("/elsewhere/3")).status, 404);
  });

  it("lets a view take the endpoint later, and a blueprint hold one", () => {
    const app = new Carafe({ staticFolder: null });
    app.addUrlRule("/home", { endpoint: "home" });
    app.get("/start", function home() {
      return "start";
    });
    const bp = new Blueprint("docs", { urlPrefix: "/docs" });
    bp.addUrlRule("/latest", { endpoint: "latest" });
    app.registerBlueprint(bp);
    assert.equal(app.urlFor("docs.latest"), "/docs/latest");
    assert.equal(app.urlFor("home"), "/home");
  });

  it("needs an endpoint to be named by", () => {
    const app = new Carafe({ staticFolder: null });
    assert.throws(
      () => app.addUrlRule("/x", { endpoint: "" }),
      (error: unknown) => error instanceof CarafeError && /\{ endpoint \}/.test(error.message),
    );
  });
});

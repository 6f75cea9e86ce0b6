import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { redirect, urlFor } from "carafe";
import { isTrustedHost } from "../../src/framework/http/trusted-hosts.ts";
import { getRecord, newApp } from "../helpers.ts";

/** An app that answers with an external URL built from the request's host. */
function appFor(trustedHosts: string[] | null) {
  const app = newApp({ trustedHosts });
  app.get("/", function index() {
    return urlFor("index", {}, { external: true });
  });
  app.get("/away", () => redirect(urlFor("index", {}, { external: true })));
  return app;
}

describe("trustedHosts", () => {
  it("answers 400 to a host that is not listed, before hooks and views run", async () => {
    const app = appFor(["app.example"]);
    let hooks = 0;
    app.beforeRequest(() => {
      hooks += 1;
    });
    const client = app.testClient();
    for (const path of ["/", "/away", "/missing"]) {
      const res = await client.get(path, { headers: { host: "evil.example" } });
      assert.equal(res.status, 400, path);
      assert.match(res.text(), /The host &#39;evil.example&#39; is not served here/);
      assert.doesNotMatch(res.headers.get("location") ?? "", /evil/);
    }
    assert.equal(hooks, 0);
  });

  it("serves a listed host whatever its port and case, and no other", async () => {
    const client = appFor(["app.example"]).testClient();
    for (const host of ["app.example", "app.example:8443", "APP.Example"]) {
      const res = await client.get("/", { headers: { host } });
      assert.equal(res.status, 200, host);
      assert.equal(res.text(), `http://${host}/`);
    }
    for (const host of ["www.app.example", "app.example.evil.test", "app.example:evil"]) {
      assert.equal((await client.get("/", { headers: { host } })).status, 400, host);
    }
  });

  it("answers in JSON to a client that prefers it", async () => {
    const res = await appFor(["app.example"])
      .testClient()
      .get("/", { headers: { host: "evil.example", accept: "application/json" } });
    assert.equal(res.status, 400);
    assert.match(
      res.json<{ error: { description: string } }>().error.description,
      /'evil.example' is not served here/,
    );
  });

  it("checks the test client's default host, localhost, like any other", async () => {
    assert.equal((await appFor(["app.example"]).testClient().get("/")).status, 400);
    assert.equal((await appFor(["localhost"]).testClient().get("/")).status, 200);
  });

  it("believes any Host until it is set, and is read on each request", async () => {
    const app = appFor(null);
    const client = app.testClient();
    const before = await client.get("/", { headers: { host: "evil.example" } });
    assert.equal(before.text(), "http://evil.example/");
    app.config.trustedHosts = ["app.example"];
    assert.equal((await client.get("/", { headers: { host: "evil.example" } })).status, 400);
  });

  it("holds for app.fetch: the URL's host is checked", async () => {
    const app = appFor(["app.example"]);
    assert.equal((await app.fetch(new Request("http://evil.example/"))).status, 400);
    const res = await app.fetch(new Request("http://app.example/"));
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "http://app.example/");
  });

  it("refuses a WebSocket upgrade for a host that is not listed", async () => {
    const app = appFor(["app.example"]);
    app.websocket("/ws", async () => {});
    const record = { ...getRecord("/ws"), headers: { host: "evil.example" } };
    assert.ok(app.sockets, "an app with WebSocket routes has the contract's socket part");
    const decision = await app.sockets.accept(record);
    assert.equal(decision.kind, "refuse");
    assert.equal(decision.kind === "refuse" ? decision.response.status : 0, 400);
  });
});

describe("isTrustedHost", () => {
  it("matches an entry with a leading dot to the domain and its subdomains", () => {
    const list = [".example.com"];
    assert.equal(isTrustedHost("example.com", list), true);
    assert.equal(isTrustedHost("www.example.com:8000", list), true);
    assert.equal(isTrustedHost("a.b.example.com", list), true);
    assert.equal(isTrustedHost("badexample.com", list), false);
    assert.equal(isTrustedHost("example.com.evil.test", list), false);
  });

  it("matches an entry without a dot to itself alone", () => {
    assert.equal(isTrustedHost("example.com", ["example.com"]), true);
    assert.equal(isTrustedHost("www.example.com", ["example.com"]), false);
  });

  it("ignores ports on both sides, but not a port that is not digits", () => {
    assert.equal(isTrustedHost("example.com:80", ["example.com:8000"]), true);
    assert.equal(isTrustedHost("example.com:evil", ["example.com"]), false);
  });

  it("matches IP addresses, IPv6 in brackets or not, in any of their spellings", () => {
    assert.equal(isTrustedHost("127.0.0.1:8000", ["127.0.0.1"]), true);
    assert.equal(isTrustedHost("[::1]:8000", ["::1"]), true);
    assert.equal(isTrustedHost("[0:0::1]", ["[::1]"]), true);
    assert.equal(isTrustedHost("[::2]", ["::1"]), false);
  });

  it("matches an international name to its punycode form", () => {
    assert.equal(isTrustedHost("xn--bcher-kva.example", ["bücher.example"]), true);
    assert.equal(isTrustedHost("www.xn--bcher-kva.example", [".Bücher.example"]), true);
  });

  it("trusts nothing with an empty list, and skips empty entries", () => {
    assert.equal(isTrustedHost("example.com", []), false);
    assert.equal(isTrustedHost("example.com", ["", "."]), false);
    assert.equal(isTrustedHost("", [""]), false);
  });
});

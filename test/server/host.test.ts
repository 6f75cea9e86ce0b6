// The Host of a request over a real socket: refused before the app when missing, doubled or
// malformed, and taken from an absolute-form target over the Host header.
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { Carafe, urlFor, type RecordHandler, type RequestRecord } from "carafe";
import { startDevServer, type DevServer } from "../../src/server/index.ts";
import { createRequestListener } from "../../src/server/http/http-loop.ts";
import { isHost } from "../../src/server/http/host.ts";
import { applyProxyHeaders, createProxyTrust } from "../../src/server/http/proxy.ts";

/** Sends `head` (a request without body) on a new connection and reads until it closes. */
async function exchange(port: number, head: string): Promise<string> {
  const socket = connect(port, "127.0.0.1");
  await once(socket, "connect");
  socket.end(head);
  let text = "";
  socket.setEncoding("latin1");
  socket.on("data", (chunk: string) => (text += chunk));
  await once(socket, "close");
  return text;
}

function statusOf(response: string): number {
  return Number(response.slice(9, 12));
}

function bodyOf(response: string): string {
  return response.slice(response.indexOf("\r\n\r\n") + 4);
}

/** The status of `head` sent to the server on `port`, and what the app saw (its JSON body). */
async function send(port: number, head: string): Promise<[number, string]> {
  const response = await exchange(port, head);
  return [statusOf(response), bodyOf(response)];
}

async function listen(server: Server): Promise<number> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return (server.address() as AddressInfo).port;
}

const BAD_HOSTS = [
  "a b",
  "",
  "a/b",
  "a.example:80x",
  "user@a.example",
  "[1:2]",
  "[::1",
  "é.example",
];
const GOOD_HOSTS = [
  "a.example",
  "a.example:8000",
  "127.0.0.1:80",
  "[::1]:8000",
  "a_b.example",
  "xn--bcher-kva.example",
];

describe("the Host a request may carry", () => {
  const seen: RequestRecord[] = [];
  // An app that answers with the host and url it was given.
  const app: RecordHandler = {
    planOf: () => ({ rule: null, placement: "loop", body: { read: "buffer", limit: null } }),
    handle: (record) => {
      seen.push(record);
      const body = JSON.stringify({ host: record.headers.host ?? null, url: record.url });
      return {
        status: 200,
        headers: ["Content-Type", "application/json", "Content-Length", String(body.length)],
        body,
      };
    },
  };
  const logger = { error: (message: string) => assert.fail(message) };
  const server = createServer({ requireHostHeader: false }, createRequestListener(app, logger));
  let port = 0;
  before(async () => {
    port = await listen(server);
  });
  after(() => server.close());

  /** Sends a GET of `target` with `fields` (header lines), closing the connection after it. */
  const get = (target: string, fields: string[], version = "1.1"): Promise<[number, string]> =>
    send(
      port,
      `GET ${target} HTTP/${version}\r\n${[...fields, "Connection: close"].join("\r\n")}\r\n\r\n`,
    );

  it("answers 400 without calling the app when an HTTP/1.1 request has no Host, not HTTP/1.0", async () => {
    seen.length = 0;
    const [status, body] = await get("/", []);
    assert.equal(status, 400);
    assert.match(body, /no Host header; HTTP\/1\.1 requires one/);
    assert.equal(seen.length, 0);
    assert.deepEqual(await get("/", [], "1.0"), [200, '{"host":null,"url":"/"}']);
  });

  it("answers 400 to two Host headers, even when they agree", async () => {
    seen.length = 0;
    for (const second of ["Host: b.example", "host: a.example"]) {
      const [status, body] = await get("/", ["Host: a.example", second]);
      assert.equal(status, 400);
      assert.match(body, /2 Host headers; send exactly one/);
    }
    assert.equal(seen.length, 0);
  });

  it("answers 400 without calling the app to a Host that is not a host[:port]", async () => {
    seen.length = 0;
    for (const host of BAD_HOSTS) {
      const [status, body] = await get("/", [`Host: ${host}`]);
      assert.equal(status, 400, host);
      assert.match(body, /is not a valid host\[:port\]/);
    }
    assert.equal(seen.length, 0);
  });

  it("passes a valid Host on to the app, and only a valid one", async () => {
    for (const host of GOOD_HOSTS) {
      const expected = JSON.stringify({ host, url: "/x" });
      assert.deepEqual(await get("/x", [`Host: ${host}`]), [200, expected]);
    }
    assert.equal((await get("/x", ["Host: a b"]))[0], 400);
  });

  it("takes the host of an absolute-form target over the Host header", async () => {
    const cases = [
      ["http://a.example/x?q=1", "/x?q=1"],
      ["http://a.example:8080/x", "/x"],
      ["HTTP://a.example", "/"],
      ["https://a.example?q", "/?q"],
    ];
    for (const [target, url] of cases) {
      const host = new URL(target as string).host;
      const [status, body] = await get(target as string, ["Host: b.example"]);
      assert.equal(status, 200, target);
      assert.deepEqual(JSON.parse(body), { host, url }, target);
    }
  });

  for (const [target, reason] of [
    ["http://u:p@a.example/", /carries a user name/],
    ["ftp://a.example/", /not an http or https URL/],
    ["http:///x", /does not name a valid host/],
  ] as const) {
    it(`answers 400 to the target ${target}`, async () => {
      const [status, body] = await get(target, ["Host: a.example"]);
      assert.equal(status, 400);
      assert.match(body, reason);
    });
  }
});

describe("the host an app builds URLs from, on a server", () => {
  const app = new Carafe({ staticFolder: null });
  app.get("/", () => urlFor("page", {}, { external: true }));
  app.get("/page", function page() {
    return "page";
  });
  app.websocket("/ws", async () => {});
  let dev: DevServer;
  let port = 0;
  before(async () => {
    dev = await startDevServer(app, { port: 0, watchdogMs: 0 });
    port = Number(new URL(dev.url).port);
  });
  after(() => dev.close());

  it("answers a request without Host with a message, not node:http's empty 400", async () => {
    const [status, body] = await send(port, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert.equal(status, 400);
    assert.match(body, /no Host header/);
  });

  it("refuses a WebSocket upgrade without Host", async () => {
    const [status, body] = await send(
      port,
      "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    assert.equal(status, 400);
    assert.match(body, /no Host header/);
  });

  it("holds a WebSocket upgrade to the request limits and the HTTP version of any request", async () => {
    const upgrade =
      "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nHost: a.example\r\n";
    const fields = Array.from({ length: 120 }, (_, i) => `X-Field-${i}: ${i}\r\n`).join("");
    const [tooMany, body] = await send(port, `GET /ws HTTP/1.1\r\n${upgrade}${fields}\r\n`);
    assert.equal(tooMany, 431);
    assert.match(body, /more than 100 header fields/);
    const [version] = await send(port, `GET /ws HTTP/1.2\r\n${upgrade}\r\n`);
    assert.equal(version, 400);
  });

  it("builds external URLs on the absolute-form target's host", async () => {
    const [status, body] = await send(
      port,
      "GET http://a.example/ HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
    );
    assert.equal(status, 200);
    assert.equal(body, "http://a.example/page");
  });
});

describe("trustedHosts on a server behind a proxy", () => {
  const app = new Carafe({ staticFolder: null, trustedHosts: ["app.example"] });
  app.get("/", function index() {
    return urlFor("index", {}, { external: true });
  });
  app.get("/docs/", () => "docs");
  const trusted = createProxyTrust(["127.0.0.1"]);
  const server = createServer(
    { requireHostHeader: false },
    createRequestListener(
      app,
      { error: (message) => assert.fail(message) },
      {
        applyProxy: (record) => applyProxyHeaders(record, trusted),
      },
    ),
  );
  let port = 0;
  before(async () => {
    port = await listen(server);
  });
  after(() => server.close());

  it("checks the X-Forwarded-Host of a trusted proxy against the list", async () => {
    const head = (forwarded: string): string =>
      `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-Host: ${forwarded}\r\nConnection: close\r\n\r\n`;
    assert.deepEqual(await send(port, head("app.example")), [200, "http://app.example/"]);
    const [status, body] = await send(port, head("evil.example"));
    assert.equal(status, 400);
    assert.match(body, /The host &#39;evil.example&#39; is not served here/);
  });

  it("redirects a missing trailing slash to the proxy's scheme and host, and no other", async () => {
    const head = (forwarded: string): string =>
      `GET /docs?page=2 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: ${forwarded}\r\nConnection: close\r\n\r\n`;
    const redirected = await exchange(port, head("app.example"));
    assert.equal(statusOf(redirected), 308);
    assert.match(redirected, /\r\nlocation: https:\/\/app\.example\/docs\/\?page=2\r\n/i);
    const refused = await exchange(port, head("evil.example"));
    assert.equal(statusOf(refused), 400);
    assert.doesNotMatch(refused, /location:/i);
  });

  it("answers 400 to a Host that is not on the list", async () => {
    const [status] = await send(
      port,
      "GET / HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
    );
    assert.equal(status, 400);
  });
});

describe("isHost", () => {
  it("takes DNS names and IP addresses with an optional port, and nothing a URL could be bent by", () => {
    for (const host of [
      "a",
      "a.example",
      "a.example:",
      "a.example:65535",
      "192.0.2.1",
      "[2001:db8::1]:443",
      "_service.example",
    ]) {
      assert.equal(isHost(host), true, host);
    }
    for (const host of [
      "",
      ":80",
      "a b",
      "a\tb",
      "[2001:db8::g]",
      "2001:db8::1",
      "a.example:8o",
      "a@b",
      "a/b",
      "a?b",
      "a#b",
      "%4.example",
      "%41.example",
      "a!$&'()*+,;=b",
      "a.test'onmouseover=alert(1)",
      "a.example:123456",
      "[v1.future]",
      "[]",
    ]) {
      assert.equal(isHost(host), false, host);
    }
  });
});

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { RequestRecord } from "carafe";
import {
  ProxyTrustError,
  applyProxyHeaders,
  createProxyTrust,
  isRequestId,
  isTrustEntry,
} from "../../src/server/http/proxy.ts";

/** A request from `peer` carrying `headers`, after the proxy headers were applied. */
function applied(
  peer: string,
  headers: Record<string, string>,
  allowIps: readonly string[] = ["127.0.0.1", "::1", "10.0.0.0/8"],
): RequestRecord {
  const record: RequestRecord = {
    method: "GET",
    url: "/",
    headers: { host: "internal:8000", ...headers },
    body: null,
    remoteAddress: peer,
    scheme: "http",
  };
  applyProxyHeaders(record, createProxyTrust(allowIps));
  return record;
}

/** The client address, scheme and host a request ends up with. */
function seen(record: RequestRecord): [string, string, string | undefined] {
  return [record.remoteAddress, record.scheme, record.headers.host];
}

const PROXY_HEADERS = {
  "x-forwarded-for": "198.51.100.7",
  "x-forwarded-proto": "https",
  "x-forwarded-host": "example.com",
};

describe("createProxyTrust", () => {
  it("trusts exact IPv4 and IPv6 addresses and nothing else", () => {
    const trusted = createProxyTrust(["127.0.0.1", "::1"]);
    assert.equal(trusted("127.0.0.1"), true);
    assert.equal(trusted("::1"), true);
    assert.equal(trusted("127.0.0.2"), false);
    assert.equal(trusted("::2"), false);
    assert.equal(trusted("not an address"), false);
  });

  it("trusts every address inside a CIDR network, up to its edges", () => {
    const trusted = createProxyTrust(["10.0.0.0/8", "192.168.4.0/22", "fd00::/8"]);
    assert.equal(trusted("10.255.255.255"), true);
    assert.equal(trusted("11.0.0.0"), false);
    assert.equal(trusted("192.168.7.1"), true);
    assert.equal(trusted("192.168.8.1"), false);
    assert.equal(trusted("fd12:3456::1"), true);
    assert.equal(trusted("fe80::1"), false);
  });

  it("gives the same answers when it is asked again, and after more peers than it remembers", () => {
    const trusted = createProxyTrust(["10.0.0.0/8"]);
    const peer = (i: number): string => `${i % 2 === 0 ? 10 : 11}.0.${(i >> 8) & 255}.${i & 255}`;
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 3000; i++) assert.equal(trusted(peer(i)), i % 2 === 0, peer(i));
    }
  });

  it("trusts every peer with *", () => {
    const trusted = createProxyTrust(["*"]);
    assert.equal(trusted("203.0.113.9"), true);
    assert.equal(trusted("2001:db8::1"), true);
  });

  it("matches an IPv4-mapped IPv6 peer against IPv4 entries", () => {
    const trusted = createProxyTrust(["127.0.0.1", "10.0.0.0/8"]);
    assert.equal(trusted("::ffff:127.0.0.1"), true);
    assert.equal(trusted("::ffff:10.1.2.3"), true);
    assert.equal(trusted("::ffff:192.0.2.1"), false);
  });

  it("matches an IPv4 peer against an IPv4-mapped IPv6 network", () => {
    const trusted = createProxyTrust(["::ffff:10.0.0.0/104"]);
    assert.equal(trusted("10.1.2.3"), true);
    assert.equal(trusted("11.1.2.3"), false);
  });

  it("matches a link-local peer whatever its zone", () => {
    assert.equal(createProxyTrust(["fe80::/10"])("fe80::1%eth0"), true);
  });

  it("trusts a Unix-socket peer (empty address) as gunicorn does, unless told not to", () => {
    assert.equal(createProxyTrust(["127.0.0.1"])(""), true);
    assert.equal(createProxyTrust([])(""), true);
    assert.equal(createProxyTrust(["127.0.0.1"], { unixSockets: false })(""), false);
  });

  it("accepts gunicorn's comma-separated list and ignores blank entries", () => {
    const trusted = createProxyTrust(["127.0.0.1, ::1 ,", " "]);
    assert.equal(trusted("::1"), true);
    assert.equal(trusted("127.0.0.1"), true);
  });

  for (const entry of [
    "localhost",
    "300.1.1.1",
    "10.0.0.0/33",
    "fd00::/129",
    "10.0.0.0/",
    "10.0.0.0/8/1",
    "10.0.0.0/-1",
    "fe80::1%eth0",
    "**",
  ]) {
    it(`rejects '${entry}' with a ProxyTrustError that names it and says what is allowed`, () => {
      assert.equal(isTrustEntry(entry), false);
      assert.throws(
        () => createProxyTrust(["127.0.0.1", entry]),
        (error: unknown) =>
          error instanceof ProxyTrustError &&
          error.code === "ERR_BAD_PROXY_ADDRESS" &&
          error.message.includes(`'${entry}'`) &&
          error.message.includes("--forwarded-allow-ips") &&
          error.message.includes("10.0.0.0/8"),
      );
    });
  }

  it("accepts addresses, networks and * as entries", () => {
    for (const entry of ["127.0.0.1", "::1", "10.0.0.0/8", "fd00::/8", "0.0.0.0/0", "*"]) {
      assert.equal(isTrustEntry(entry), true, entry);
    }
  });
});

describe("applyProxyHeaders", () => {
  it("ignores every proxy header from an untrusted peer", () => {
    const record = applied("203.0.113.50", {
      ...PROXY_HEADERS,
      forwarded: "for=198.51.100.7;proto=https;host=example.com",
      "x-forwarded-ssl": "on",
    });
    assert.deepEqual(seen(record), ["203.0.113.50", "http", "internal:8000"]);
  });

  it("takes the client, scheme and host from a trusted peer's X-Forwarded-* headers", () => {
    assert.deepEqual(seen(applied("127.0.0.1", PROXY_HEADERS)), [
      "198.51.100.7",
      "https",
      "example.com",
    ]);
  });

  it("honours a trusted IPv4-mapped, IPv6 or Unix-socket peer", () => {
    for (const peer of ["::ffff:127.0.0.1", "::1", ""]) {
      assert.equal(applied(peer, PROXY_HEADERS).remoteAddress, "198.51.100.7", peer);
    }
  });

  it("takes the rightmost untrusted hop, so an address the client prepends is ignored", () => {
    const headers = { "x-forwarded-for": "192.0.2.66, 198.51.100.7, 10.0.0.5" };
    assert.equal(applied("10.0.0.2", headers).remoteAddress, "198.51.100.7");
  });

  it("takes the leftmost hop when every hop is trusted, as with *", () => {
    const headers = { "x-forwarded-for": "192.0.2.66, 198.51.100.7, 10.0.0.5" };
    assert.equal(applied("10.0.0.2", headers, ["*"]).remoteAddress, "192.0.2.66");
  });

  it("reads hops with ports and bracketed IPv6 hops", () => {
    const v4 = applied("127.0.0.1", { "x-forwarded-for": "198.51.100.7:5000" });
    const v6 = applied("127.0.0.1", { "x-forwarded-for": "[2001:db8::7]:443" });
    const bare = applied("127.0.0.1", { "x-forwarded-for": "2001:db8::8" });
    assert.equal(v4.remoteAddress, "198.51.100.7");
    assert.equal(v6.remoteAddress, "2001:db8::7");
    assert.equal(bare.remoteAddress, "2001:db8::8");
  });

  it("keeps the peer when the rightmost hop is not an address", () => {
    const headers = { "x-forwarded-for": "198.51.100.7, unknown" };
    assert.equal(applied("127.0.0.1", headers).remoteAddress, "127.0.0.1");
  });

  it("ignores a scheme other than http or https and a host that is not a host", () => {
    const headers = { "x-forwarded-proto": "ftp", "x-forwarded-host": "evil.com/path" };
    assert.deepEqual(seen(applied("127.0.0.1", headers)), ["127.0.0.1", "http", "internal:8000"]);
  });

  it("takes a forwarded host only when a Host header could name it", () => {
    for (const host of ["[1:2]", "[::1", "a b", "%61.example", "a.test'x=1"]) {
      const record = applied("127.0.0.1", { "x-forwarded-host": host });
      assert.equal(record.headers.host, "internal:8000", host);
    }
    for (const host of ["[::1]:8443", "a.example:8000", "_a.example"]) {
      assert.equal(applied("127.0.0.1", { "x-forwarded-host": host }).headers.host, host);
    }
  });

  it("uses the proto and host the nearest proxy wrote", () => {
    const headers = { "x-forwarded-proto": "http, https", "x-forwarded-host": "a.test, b.test" };
    assert.deepEqual(seen(applied("127.0.0.1", headers)), ["127.0.0.1", "https", "b.test"]);
  });

  it("accepts gunicorn's other secure-scheme headers", () => {
    assert.equal(applied("127.0.0.1", { "x-forwarded-ssl": "on" }).scheme, "https");
    assert.equal(applied("127.0.0.1", { "x-forwarded-protocol": "ssl" }).scheme, "https");
    assert.equal(applied("127.0.0.1", { "x-forwarded-ssl": "off" }).scheme, "http");
  });

  it("reads the client, proto and host from a Forwarded header", () => {
    const forwarded = "for=198.51.100.7;proto=https;host=example.com, for=10.0.0.5";
    assert.deepEqual(seen(applied("10.0.0.2", { forwarded })), [
      "198.51.100.7",
      "https",
      "example.com",
    ]);
  });

  it("reads a quoted IPv6 address with a port from Forwarded", () => {
    const forwarded = 'For="[2001:db8:cafe::17]:4711";Proto=https';
    assert.deepEqual(seen(applied("127.0.0.1", { forwarded })), [
      "2001:db8:cafe::17",
      "https",
      "internal:8000",
    ]);
  });

  it("prefers Forwarded over X-Forwarded-*", () => {
    const record = applied("127.0.0.1", { ...PROXY_HEADERS, forwarded: "for=192.0.2.1" });
    assert.deepEqual(seen(record), ["192.0.2.1", "http", "internal:8000"]);
  });

  it("keeps the peer when Forwarded names the client unknown or obfuscated", () => {
    for (const forwarded of ["for=unknown;proto=https", "for=_hidden;proto=https"]) {
      assert.deepEqual(seen(applied("127.0.0.1", { forwarded })), [
        "127.0.0.1",
        "https",
        "internal:8000",
      ]);
    }
  });

  it("falls back to X-Forwarded-* when Forwarded is malformed", () => {
    for (const forwarded of ["for=192.0.2.1 proto=https", 'for="192.0.2.1', "for=a;for=b"]) {
      assert.equal(
        applied("127.0.0.1", { ...PROXY_HEADERS, forwarded }).remoteAddress,
        "198.51.100.7",
      );
    }
  });

  it("leaves the record alone when a trusted peer sends no proxy headers", () => {
    assert.deepEqual(seen(applied("127.0.0.1", {})), ["127.0.0.1", "http", "internal:8000"]);
  });
});

describe("X-Request-ID", () => {
  it("becomes the request's id when a trusted proxy sends it", () => {
    assert.equal(applied("10.1.2.3", { "x-request-id": "req-7f3a" }).id, "req-7f3a");
    assert.equal(applied("::1", { "x-request-id": "a".repeat(200) }).id, "a".repeat(200));
  });

  it("is ignored from a peer that is not a trusted proxy", () => {
    assert.equal(applied("203.0.113.9", { "x-request-id": "forged" }).id, undefined);
  });

  it("is judged by the peer, not by the client a trusted proxy names", () => {
    const headers = { "x-request-id": "req-1", "x-forwarded-for": "203.0.113.9" };
    const record = applied("127.0.0.1", headers);
    assert.equal(record.id, "req-1");
    assert.equal(record.remoteAddress, "203.0.113.9");
  });

  it("is ignored when it is empty, too long, or not visible ASCII", () => {
    for (const value of ["", "a".repeat(201), "two words", "tab\there", "caf\u00e9", "a, b"]) {
      assert.equal(isRequestId(value), false, JSON.stringify(value));
      assert.equal(applied("127.0.0.1", { "x-request-id": value }).id, undefined);
    }
    assert.equal(isRequestId('!~"{}'), true);
  });
});

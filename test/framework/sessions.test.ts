import { createHmac } from "node:crypto";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Carafe, Response, session, type CarafeOptions, type Logger } from "carafe";
import { decodeSession, encodeSession } from "../../src/framework/context/sessions.ts";

interface Logged {
  message: string;
  error: unknown;
}

/** A logger that records errors instead of printing them. */
function captureLogger(): Logger & { errors: Logged[] } {
  const errors: Logged[] = [];
  return {
    errors,
    error: (message, error) => errors.push({ message, error }),
    warn: () => {},
    info: () => {},
  };
}

/** An app with routes that read, write, clear and make the session permanent. */
function sessionApp(options: CarafeOptions = { secretKey: "s3cret" }) {
  const app = new Carafe({ rootPath: import.meta.dirname, staticFolder: null, ...options });
  const logger = captureLogger();
  app.logger = logger;
  app.get("/set/<name>/<value>", function setValue(req) {
    session.set(req.params.name, req.params.value);
    return "stored";
  });
  app.get("/get/<name>", function getValue(req) {
    return { value: session.get(req.params.name) ?? null, isNew: session.isNew };
  });
  app.get("/dump", function dump() {
    return { data: session.toJSON(), permanent: session.permanent };
  });
  app.get("/clear", function clearSession() {
    session.clear();
    return "cleared";
  });
  app.get("/permanent", function makePermanent() {
    session.set("user", "ada");
    session.permanent = true;
    return "permanent";
  });
  app.get("/untouched", function untouched() {
    return "no session here";
  });
  return { app, logger, client: app.testClient() };
}

/** The attributes of a Set-Cookie value, lower-cased names → values (`true` for flags). */
function cookieAttributes(header: string): {
  name: string;
  value: string;
  attrs: Map<string, string | true>;
} {
  const [pair = "", ...rest] = header.split(";").map((part) => part.trim());
  const eq = pair.indexOf("=");
  const attrs = new Map<string, string | true>();
  for (const part of rest) {
    const at = part.indexOf("=");
    if (at < 0) attrs.set(part.toLowerCase(), true);
    else attrs.set(part.slice(0, at).toLowerCase(), part.slice(at + 1));
  }
  return { name: pair.slice(0, eq), value: pair.slice(eq + 1), attrs };
}

function onlySetCookie(headers: { getAll(name: string): string[] }): string {
  const cookies = headers.getAll("set-cookie");
  assert.equal(cookies.length, 1, `expected one Set-Cookie, got ${JSON.stringify(cookies)}`);
  return cookies[0] as string;
}

describe("signed cookie sessions", () => {
  it("round-trips a value through the test client's cookie jar", async () => {
    const { client } = sessionApp();
    const set = await client.get("/set/color/blue");
    assert.equal(set.status, 200);
    assert.ok(client.getCookie("session"), "the session cookie is in the jar");

    const read = await client.get("/get/color");
    assert.deepEqual(read.json(), { value: "blue", isNew: false });
  });

  it("signs the cookie with HMAC-SHA256 so only the secret key verifies it", async () => {
    const { client } = sessionApp();
    await client.get("/set/user/ada");
    const cookie = client.getCookie("session") as string;
    const parts = cookie.split(".");
    assert.equal(parts.length, 3);
    const [data, stamp, signature] = parts as [string, string, string];
    assert.deepEqual(JSON.parse(Buffer.from(data, "base64url").toString("utf8")), { user: "ada" });

    // A SHA-256 MAC is 32 bytes; recompute it with the derived key to pin the algorithm.
    const key = createHmac("sha256", "s3cret").update("carafe.session.signing-key").digest();
    const expected = createHmac("sha256", key).update(`${data}.${stamp}`).digest("base64url");
    assert.equal(Buffer.from(signature, "base64url").byteLength, 32);
    assert.equal(signature, expected);

    assert.deepEqual(decodeSession(cookie, ["s3cret"], 3600), { user: "ada" });
    assert.equal(decodeSession(cookie, ["another"], 3600), null);
  });

  it("does not send the cookie again when the session was only read", async () => {
    const { client } = sessionApp();
    await client.get("/set/a/1");
    const read = await client.get("/get/a");
    assert.deepEqual(read.json(), { value: "1", isNew: false });
    assert.deepEqual(read.headers.getAll("set-cookie"), []);
  });

  it("reads a cookie signed with a key listed in secretKeyFallbacks", async () => {
    const { client } = sessionApp({ secretKey: "new-key", secretKeyFallbacks: ["old-key"] });
    client.setCookie("session", encodeSession({ user: "ada" }, "old-key"));
    const read = await client.get("/get/user");
    assert.deepEqual(read.json(), { value: "ada", isNew: false });
  });

  it("ignores a cookie signed with an old key that is no longer listed", async () => {
    const { client } = sessionApp({ secretKey: "new-key" });
    client.setCookie("session", encodeSession({ user: "ada" }, "old-key"));
    const read = await client.get("/get/user");
    assert.deepEqual(read.json(), { value: null, isNew: true });
  });

  it("signs new cookies with secretKey, not with a fallback", async () => {
    const { client } = sessionApp({ secretKey: "new-key", secretKeyFallbacks: ["old-key"] });
    client.setCookie("session", encodeSession({ user: "ada" }, "old-key"));
    await client.get("/set/role/admin");
    const cookie = client.getCookie("session") as string;
    assert.deepEqual(decodeSession(cookie, ["new-key"], 3600), { user: "ada", role: "admin" });
    assert.equal(decodeSession(cookie, ["old-key"], 3600), null);
  });

  it("sets HttpOnly, SameSite=Lax and Path=/ by default, without Secure, Domain or expiry", async () => {
    const { client } = sessionApp();
    const res = await client.get("/set/a/1");
    const { name, attrs } = cookieAttributes(onlySetCookie(res.headers));
    assert.equal(name, "session");
    assert.equal(attrs.get("httponly"), true);
    assert.equal(attrs.get("samesite"), "Lax");
    assert.equal(attrs.get("path"), "/");
    for (const absent of ["secure", "domain", "max-age", "expires"]) {
      assert.equal(attrs.has(absent), false, `${absent} is not set`);
    }
  });

  it("follows the session cookie options of the config", async () => {
    const { client } = sessionApp({
      secretKey: "s3cret",
      sessionCookieName: "sid",
      sessionCookieSecure: true,
      sessionCookieDomain: "example.com",
      sessionCookiePath: "/app",
      sessionCookieHttpOnly: false,
      sessionCookieSameSite: "Strict",
    });
    const res = await client.get("/set/a/1");
    const { name, value, attrs } = cookieAttributes(onlySetCookie(res.headers));
    assert.equal(name, "sid");
    assert.deepEqual(decodeSession(value, ["s3cret"], 3600), { a: "1" });
    assert.equal(attrs.get("secure"), true);
    assert.equal(attrs.get("domain"), "example.com");
    assert.equal(attrs.get("path"), "/app");
    assert.equal(attrs.get("samesite"), "Strict");
    assert.equal(attrs.has("httponly"), false);
  });

  it("reads the session from the configured cookie name only", async () => {
    const { client } = sessionApp({ secretKey: "s3cret", sessionCookieName: "sid" });
    const cookie = encodeSession({ user: "ada" }, "s3cret");
    const wrongName = await client.get("/get/user", { headers: { cookie: `session=${cookie}` } });
    assert.deepEqual(wrongName.json(), { value: null, isNew: true });
    const rightName = await client.get("/get/user", { headers: { cookie: `sid=${cookie}` } });
    assert.deepEqual(rightName.json(), { value: "ada", isNew: false });
  });

  it("omits SameSite when sessionCookieSameSite is null", async () => {
    const { client } = sessionApp({ secretKey: "s3cret", sessionCookieSameSite: null });
    const res = await client.get("/set/a/1");
    assert.equal(cookieAttributes(onlySetCookie(res.headers)).attrs.has("samesite"), false);
  });

  it("gives a permanent session Max-Age and Expires from permanentSessionLifetime", async () => {
    const lifetime = 7200;
    const { client } = sessionApp({ secretKey: "s3cret", permanentSessionLifetime: lifetime });
    const before = Date.now();
    const res = await client.get("/permanent");
    const after = Date.now();
    const { attrs } = cookieAttributes(onlySetCookie(res.headers));
    assert.equal(attrs.get("max-age"), String(lifetime));
    const expires = Date.parse(attrs.get("expires") as string);
    // Expires has one-second resolution.
    assert.ok(expires >= Math.floor((before + lifetime * 1000) / 1000) * 1000, "not too early");
    assert.ok(expires <= after + lifetime * 1000, "not too late");

    const dump = await client.get("/dump");
    assert.deepEqual(dump.json(), { data: { user: "ada" }, permanent: true });
  });

  it("refreshes a permanent session's cookie on each request unless told not to", async () => {
    const refreshing = sessionApp({ secretKey: "s3cret" });
    await refreshing.client.get("/permanent");
    const again = await refreshing.client.get("/get/user");
    assert.ok(cookieAttributes(onlySetCookie(again.headers)).attrs.has("max-age"));

    const fixed = sessionApp({ secretKey: "s3cret", sessionRefreshEachRequest: false });
    await fixed.client.get("/permanent");
    const notAgain = await fixed.client.get("/get/user");
    assert.deepEqual(notAgain.headers.getAll("set-cookie"), []);
  });

  /** The cookie without its signature: `payload.stamp.`. */
  function unsignedPart(cookie: string, signature: string): string {
    return cookie.slice(0, cookie.length - signature.length);
  }

  it("gives an empty session, not an error, for a tampered cookie", async () => {
    const { client, logger } = sessionApp();
    const cookie = encodeSession({ user: "ada" }, "s3cret");
    const [, stamp, signature] = cookie.split(".") as [string, string, string];
    const forged = Buffer.from(JSON.stringify({ user: "root" })).toString("base64url");
    // The first character carries six bits of the MAC; the last one's low bits are padding.
    const firstChar = signature[0] === "A" ? "B" : "A";
    const tampered = [
      `${forged}.${stamp}.${signature}`,
      `${unsignedPart(cookie, signature)}${firstChar}${signature.slice(1)}`,
      `${cookie}.extra`,
      "not-a-session",
      "",
      encodeSession({ user: "ada" }, "s3cret").replace(/\.[^.]*$/, ""),
    ];
    for (const value of tampered) {
      const res = await client.get("/get/user", { headers: { cookie: `session=${value}` } });
      assert.equal(res.status, 200, `cookie ${JSON.stringify(value)}`);
      assert.deepEqual(res.json(), { value: null, isNew: true }, `cookie ${JSON.stringify(value)}`);
    }
    assert.deepEqual(logger.errors, []);
  });

  it("gives an empty session for a validly signed cookie that is not a JSON object", async () => {
    const { client } = sessionApp();
    const array = encodeSession(["a"] as unknown as Record<string, unknown>, "s3cret");
    const res = await client.get("/dump", { headers: { cookie: `session=${array}` } });
    assert.deepEqual(res.json(), { data: {}, permanent: false });
  });

  it("gives an empty session for a cookie older than permanentSessionLifetime", async () => {
    const { client } = sessionApp({ secretKey: "s3cret", permanentSessionLifetime: 60 });
    const old = encodeSession({ user: "ada" }, "s3cret", Date.now() - 120_000);
    const fresh = encodeSession({ user: "ada" }, "s3cret", Date.now() - 30_000);
    const expired = await client.get("/get/user", { headers: { cookie: `session=${old}` } });
    assert.deepEqual(expired.json(), { value: null, isNew: true });
    const valid = await client.get("/get/user", { headers: { cookie: `session=${fresh}` } });
    assert.deepEqual(valid.json(), { value: "ada", isNew: false });
  });

  it("decodeSession accepts a cookie up to maxAge seconds old and rejects it after", () => {
    const issued = 1_700_000_000_000;
    const cookie = encodeSession({ n: 1 }, "k", issued);
    assert.deepEqual(decodeSession(cookie, ["k"], 60, issued), { n: 1 });
    assert.deepEqual(decodeSession(cookie, ["k"], 60, issued + 60_000), { n: 1 });
    assert.equal(decodeSession(cookie, ["k"], 60, issued + 61_000), null);
  });

  it("decodeSession checks every listed secret in turn", () => {
    const cookie = encodeSession({ n: 1 }, "second", 1_700_000_000_000);
    const now = 1_700_000_001_000;
    assert.deepEqual(decodeSession(cookie, ["first", "second", "third"], 60, now), { n: 1 });
    assert.equal(decodeSession(cookie, ["first", "third"], 60, now), null);
    assert.equal(decodeSession(cookie, [], 60, now), null);
  });

  it("deletes the cookie when the session is cleared", async () => {
    const { client } = sessionApp({ secretKey: "s3cret", sessionCookiePath: "/" });
    await client.get("/set/a/1");
    assert.ok(client.getCookie("session"));
    const res = await client.get("/clear");
    const { name, value, attrs } = cookieAttributes(onlySetCookie(res.headers));
    assert.equal(name, "session");
    assert.equal(value, "");
    assert.equal(attrs.get("max-age"), "0");
    assert.equal(Date.parse(attrs.get("expires") as string), 0);
    assert.equal(attrs.get("path"), "/");
    assert.equal(client.getCookie("session"), undefined);

    const after = await client.get("/get/a");
    assert.deepEqual(after.json(), { value: null, isNew: true });
  });

  it("deletes the cookie with the configured path and domain so the browser drops it", async () => {
    const { client } = sessionApp({
      secretKey: "s3cret",
      sessionCookieDomain: "example.com",
      sessionCookiePath: "/",
    });
    await client.get("/set/a/1");
    const res = await client.get("/clear");
    const { attrs } = cookieAttributes(onlySetCookie(res.headers));
    assert.equal(attrs.get("domain"), "example.com");
    assert.equal(attrs.get("max-age"), "0");
  });

  it("sends no Set-Cookie when an empty session is cleared", async () => {
    const { client } = sessionApp();
    const res = await client.get("/clear");
    assert.deepEqual(res.headers.getAll("set-cookie"), []);
  });

  it("reads an empty session when no secretKey is set", async () => {
    const { client, logger } = sessionApp({});
    const res = await client.get("/get/user", {
      headers: { cookie: `session=${encodeSession({ user: "ada" }, "anything")}` },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { value: null, isNew: true });
    assert.deepEqual(logger.errors, []);
  });

  it("answers 500 and logs ERR_NO_SECRET_KEY when writing a session without secretKey", async () => {
    const { client, logger } = sessionApp({});
    const res = await client.get("/set/a/1");
    assert.equal(res.status, 500);
    assert.deepEqual(res.headers.getAll("set-cookie"), []);
    assert.equal(logger.errors.length, 1);
    const error = logger.errors[0]?.error as { code?: unknown; message?: unknown };
    assert.equal(error.code, "ERR_NO_SECRET_KEY");
    assert.match(String(error.message), /secretKey/);
    assert.match(String(error.message), /set/);
  });

  it("answers 500 when making the session permanent without secretKey", async () => {
    const { client, logger } = sessionApp({});
    const res = await client.get("/permanent");
    assert.equal(res.status, 500);
    assert.equal((logger.errors[0]?.error as { code?: unknown }).code, "ERR_NO_SECRET_KEY");
  });

  it("adds Vary: Cookie when the session was accessed", async () => {
    const { client } = sessionApp();
    const read = await client.get("/get/user");
    assert.deepEqual(read.headers.getAll("vary"), ["Cookie"]);
    const written = await client.get("/set/a/1");
    assert.deepEqual(written.headers.getAll("vary"), ["Cookie"]);
  });

  it("does not add Vary: Cookie when the session was not touched", async () => {
    const { client } = sessionApp();
    await client.get("/set/a/1");
    const res = await client.get("/untouched");
    assert.deepEqual(res.headers.getAll("vary"), []);
  });

  it("keeps an existing Vary header and does not repeat Cookie", async () => {
    const app = new Carafe({ secretKey: "s3cret", rootPath: import.meta.dirname });
    app.get("/accept", function accept() {
      session.get("x");
      return new Response("text", { headers: { Vary: "Accept-Encoding" } });
    });
    app.get("/cookie", function cookie() {
      session.get("x");
      return new Response("text", { headers: { Vary: "cookie" } });
    });
    const client = app.testClient();
    const accept = await client.get("/accept");
    assert.deepEqual(accept.headers.getAll("vary"), ["Accept-Encoding", "Cookie"]);
    const cookie = await client.get("/cookie");
    assert.deepEqual(cookie.headers.getAll("vary"), ["cookie"]);
  });
});

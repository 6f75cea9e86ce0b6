import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Carafe, CarafeError } from "carafe";

/** `new Carafe(options)` as plain JavaScript calls it, without TypeScript's check. */
function fromJavaScript(options: Record<string, unknown>): Carafe {
  return new Carafe({ staticFolder: null, ...options } as ConstructorParameters<typeof Carafe>[0]);
}

function refusal(options: Record<string, unknown>): CarafeError {
  try {
    fromJavaScript(options);
  } catch (error) {
    assert.ok(error instanceof CarafeError, String(error));
    return error;
  }
  assert.fail(`new Carafe(${JSON.stringify(options)}) was accepted`);
}

describe("app config", () => {
  it("starts from Flask's defaults and takes Carafe's keys from the constructor", () => {
    const app = fromJavaScript({ secretKey: "k", sessionCookieSecure: true });
    assert.equal(app.config.secretKey, "k");
    assert.equal(app.config.sessionCookieSecure, true);
    assert.equal(app.config.sessionCookieName, "session");
  });

  it("refuses a misspelt key, naming the key it resembles", () => {
    const error = refusal({ secretkey: "k" });
    assert.equal(error.code, "ERR_CONFIG_KEY");
    assert.match(error.message, /unknown config key 'secretkey'; did you mean 'secretKey'\?/);
    assert.match(error.message, /app\.config/);
  });

  it("maps Flask's upper-case names to Carafe's", () => {
    assert.match(refusal({ SECRET_KEY: "k" }).message, /did you mean 'secretKey'/);
    assert.match(
      refusal({ MAX_CONTENT_LENGTH: 1 }).message,
      /'MAX_CONTENT_LENGTH'; did you mean 'maxContentLength'/,
    );
  });

  it("suggests the constructor's other options too", () => {
    assert.match(refusal({ rootpath: "/tmp" }).message, /did you mean 'rootPath'/);
  });

  it("names no key when none is close", () => {
    const error = refusal({ port: 8000 });
    assert.match(error.message, /unknown config key 'port'/);
    assert.doesNotMatch(error.message, /did you mean/);
  });

  it("takes an app's own keys on app.config once the app exists", () => {
    const app = fromJavaScript({});
    Object.assign(app.config, { greeting: "hello" });
    assert.equal((app.config as unknown as Record<string, unknown>)["greeting"], "hello");
  });
});

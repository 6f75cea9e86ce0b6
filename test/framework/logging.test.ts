import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { consoleLogger, withConsoleFallback } from "../../src/framework/internal.ts";

describe("withConsoleFallback", () => {
  it("is the console logger when there is no logger", () => {
    assert.equal(withConsoleFallback(undefined), consoleLogger);
  });

  it("keeps a whole logger as it is", () => {
    const logger = { error() {}, warn() {}, info() {} };
    assert.equal(withConsoleFallback(logger), logger);
  });

  it("sends what a partial logger has to it, and the rest to standard error", (t) => {
    const printed = t.mock.method(console, "error", () => {});
    const errors: unknown[] = [];
    const debug: string[] = [];
    const logger = withConsoleFallback({
      error: (_message, error) => errors.push(error),
      debug: (message) => debug.push(message),
    });
    logger.error("failed", "boom");
    logger.debug?.("detail");
    logger.warn("careful");
    logger.info("hello");
    assert.deepEqual(errors, ["boom"]);
    assert.deepEqual(debug, ["detail"]);
    assert.deepEqual(
      printed.mock.calls.map((call) => call.arguments[0]),
      ["[carafe] WARNING careful", "[carafe] hello"],
    );
  });
});

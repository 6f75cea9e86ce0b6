import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { entryLogger, type LogEntry } from "../../src/server/http/app-logger.ts";

describe("entryLogger", () => {
  it("makes each message an entry naming the request it was logged in", () => {
    const entries: LogEntry[] = [];
    let request: { route: string | null; requestId: string } | null = {
      route: "/user/<int:id>",
      requestId: "req-1",
    };
    const logger = entryLogger(
      (entry) => entries.push(entry),
      () => request,
    );
    const failure = new RangeError("out of range");
    logger.error("Exception on /user/7 [GET]", failure);
    logger.warn("slow");
    request = null;
    logger.info("outside");
    logger.debug?.("detail");
    logger.error("a string was thrown", "not an Error");
    assert.deepEqual(entries, [
      {
        level: "error",
        message: "Exception on /user/7 [GET]",
        stack: failure.stack,
        route: "/user/<int:id>",
        requestId: "req-1",
      },
      { level: "warning", message: "slow", route: "/user/<int:id>", requestId: "req-1" },
      { level: "info", message: "outside", route: null, requestId: null },
      { level: "debug", message: "detail", route: null, requestId: null },
      {
        level: "error",
        message: "a string was thrown",
        stack: "not an Error",
        route: null,
        requestId: null,
      },
    ]);
  });
});

// teardownAppcontext hooks in pool threads: a request a thread handles ends its app context
// there, after its teardownRequest hooks, as on the loop.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { pool, record, text } from "./pool-helpers.ts";

const APP_CONTEXT = fileURLToPath(new URL("../../fixtures/pool/app-context.ts", import.meta.url));

describe("ThreadPool and app contexts", () => {
  it("runs teardownAppcontext after each request on a pool thread, after teardownRequest", async () => {
    const { pool: threads } = await pool({ appSpec: APP_CONTEXT, size: 1 });
    const replies = [];
    for (let i = 0; i < 3; i += 1) {
      const response = await threads.dispatch(record("/closed"));
      assert.equal(response.status, 200, text(response));
      replies.push(
        JSON.parse(text(response)) as { threadId: number; closed: number; seen: string[] },
      );
    }
    assert.notEqual(replies[0]?.threadId, 0);
    assert.deepEqual(
      replies.map((reply) => reply.closed),
      [0, 1, 2],
    );
    assert.deepEqual(replies[2]?.seen, [
      "request 0",
      "app context 0",
      "request 1",
      "app context 1",
    ]);
  });
});

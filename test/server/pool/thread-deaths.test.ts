// Each pool thread's heap bound, and what a thread that outgrows it touches.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { defaultThreadHeapMb } from "../../../src/threading/heap-bound.ts";
import { pool, record, text, threadOf } from "./pool-helpers.ts";

const DEATHS = fileURLToPath(new URL("../../fixtures/pool/deaths.ts", import.meta.url));

describe("ThreadPool, when a thread throws or dies", () => {
  it("bounds every thread's heap by default, sized from the machine", async () => {
    const { pool: threads } = await pool({ appSpec: DEATHS, size: 1 });
    const limits = JSON.parse(text(await threads.dispatch(record("/limits")))) as {
      maxOldGenerationSizeMb: number;
    };
    assert.equal(limits.maxOldGenerationSizeMb, defaultThreadHeapMb());
    assert.equal(threads.stats().maxHeapMb, defaultThreadHeapMb());
  });

  it("answers 500 to the request that outgrew the heap bound only, and replaces its thread", async () => {
    const { pool: threads, logged } = await pool({ appSpec: DEATHS, size: 1, maxHeapMb: 32 });
    const [hogThread] = threads.stats().threadIds;
    const hog = threads.dispatch(record("/hog"));
    // They wait on the thread, or in the queue, while it fills its heap.
    const others = Array.from({ length: 5 }, () => threads.dispatch(record("/thread")));
    const response = await hog;
    assert.equal(response.status, 500);
    assert.match(text(response), /more memory than a thread of this server may use/);
    for (const other of await Promise.all(others)) {
      assert.notEqual(threadOf(other), hogThread, "a replacement thread answered");
    }
    const log = await logged(/heap bound/);
    assert.equal(log.level, "error");
    assert.match(
      log.message,
      new RegExp(
        `pool thread ${hogThread} outgrew its heap bound of 32 MB .*while running GET /hog`,
      ),
    );
  });
});

// toThread's own pool, on the pool core: the heap bound it takes from --thread-max-heap.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { toThread } from "../../../src/threading/index.ts";
import { defaultThreadHeapMb } from "../../../src/threading/heap-bound.ts";
import { closeDefaultPool, useHeapBound } from "../../../src/threading/to-thread.ts";
import { hog } from "../../fixtures/threading/work.ts";

after(async () => {
  useHeapBound(defaultThreadHeapMb());
  await closeDefaultPool();
});

describe("toThread's own pool", () => {
  it("bounds its threads' heaps as --thread-max-heap bounds the request pool's", async () => {
    await closeDefaultPool();
    useHeapBound(64);
    await assert.rejects(toThread(hog), {
      name: "ThreadDiedError",
      code: "ERR_THREAD_DIED",
      message: /outgrew its heap bound of 64 MB/,
    });
    assert.equal(await toThread((n: number) => n + 1, 1), 2, "a new thread serves the next call");
  });

  it("runs calls beyond its size in turn, each exactly once", async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => toThread((n: number) => n * 2, i)),
    );
    assert.deepEqual(
      results,
      Array.from({ length: 20 }, (_, i) => i * 2),
    );
  });
});

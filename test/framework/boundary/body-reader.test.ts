import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  BodyCollector,
  declaresMoreThan,
  readBoundedBody,
} from "../../../src/framework/internal.ts";
import { deferred } from "../../helpers.ts";

/** Chunks of `sizes` bytes, counting how many were taken. */
function counted(sizes: readonly number[]): {
  chunks: AsyncIterable<Uint8Array>;
  taken: () => number;
} {
  let taken = 0;
  return {
    chunks: (async function* () {
      for (const size of sizes) {
        taken++;
        yield new Uint8Array(size).fill(taken);
      }
    })(),
    taken: () => taken,
  };
}

describe("readBoundedBody", () => {
  it("reads a body of exactly the limit whole, chunks in order", async () => {
    const read = await readBoundedBody(counted([3, 4, 3]).chunks, 10);
    assert.equal(read.tooLarge, false);
    assert.deepEqual(Buffer.from(read.body ?? []), Buffer.from([1, 1, 1, 2, 2, 2, 2, 3, 3, 3]));
  });

  it("stops at the chunk that passes the limit and takes no more", async () => {
    const source = counted([4, 4, 4, 4]);
    const read = await readBoundedBody(source.chunks, 10);
    assert.deepEqual(read, { tooLarge: true, body: null });
    assert.equal(source.taken(), 3);
  });

  it("reads any size when the limit is null", async () => {
    const read = await readBoundedBody(counted([65536, 65536, 1]).chunks, null);
    assert.equal(read.body?.byteLength, 131073);
  });

  it("returns a single chunk as it is, without a copy", async () => {
    const chunk = new Uint8Array([7, 8, 9]);
    const read = await readBoundedBody([chunk], 3);
    assert.equal(read.body, chunk);
  });

  it("reads an empty body as null", async () => {
    assert.deepEqual(await readBoundedBody([], 0), { tooLarge: false, body: null });
    assert.deepEqual(await readBoundedBody([new Uint8Array(0)], 0), {
      tooLarge: false,
      body: null,
    });
  });

  it("counts a text chunk as its UTF-8 bytes", async () => {
    const read = await readBoundedBody(["caf", "é"], 5);
    assert.equal(Buffer.from(read.body ?? []).toString(), "café");
    assert.equal((await readBoundedBody(["café"], 4)).tooLarge, true);
  });

  it("cancels a web stream it stops reading", async () => {
    const cancelled = deferred<unknown>();
    const stream = new ReadableStream<Uint8Array>({
      pull: (controller) => controller.enqueue(new Uint8Array(6)),
      cancel: (reason) => cancelled.resolve(reason),
    });
    assert.equal((await readBoundedBody(stream, 10)).tooLarge, true);
    await cancelled.promise;
  });
});

describe("BodyCollector", () => {
  it("takes chunks up to the limit, then refuses that chunk and every later one", () => {
    const collector = new BodyCollector(5);
    assert.equal(collector.add(new Uint8Array(3)), true);
    assert.equal(collector.add(new Uint8Array(2)), true);
    assert.deepEqual(collector.result(), { tooLarge: false, body: Buffer.alloc(5) });
    assert.equal(collector.add(new Uint8Array(1)), false);
    assert.equal(collector.add(new Uint8Array(0)), false);
    assert.deepEqual(collector.result(), { tooLarge: true, body: null });
  });
});

describe("declaresMoreThan", () => {
  it("is true only for a declared length over a limit", () => {
    assert.equal(declaresMoreThan("11", 10), true);
    assert.equal(declaresMoreThan("10", 10), false);
    assert.equal(declaresMoreThan(undefined, 10), false);
    assert.equal(declaresMoreThan("99999999999", null), false);
  });
});

// What a pool thread loads: the app and what it uses, not what only a worker process's loop, its
// supervisor or a first use needs. Each module a thread loads costs every thread its memory.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { pool, record, text } from "./pool-helpers.ts";

const FOOTPRINT = fileURLToPath(new URL("../../fixtures/pool/footprint.ts", import.meta.url));

/** Packages only a loop, a supervisor or a first use needs. */
const NOT_IN_A_THREAD = ["busboy", "ioredis", "nunjucks", "prom-client", "ws"];

interface Loaded {
  threadId: number;
  packages: string[];
  builtins: string[];
}

describe("a pool thread's modules", () => {
  it("loads no package the loop, the supervisor or an unused feature needs, nor node:http", async () => {
    const { pool: threads } = await pool({ appSpec: FOOTPRINT, size: 1 });
    const loaded = JSON.parse(text(await threads.dispatch(record("/loaded")))) as Loaded;
    assert.deepEqual(
      loaded.packages.filter((name) => NOT_IN_A_THREAD.includes(name)),
      [],
    );
    assert.deepEqual(
      loaded.builtins.filter((name) => name === "http" || name.startsWith("_http_")),
      [],
    );
  });

  it("loads busboy with its first multipart body", async () => {
    const { pool: threads } = await pool({ appSpec: FOOTPRINT, size: 1 });
    const before = JSON.parse(text(await threads.dispatch(record("/loaded")))) as Loaded;
    assert.ok(!before.packages.includes("busboy"));
    const body = new TextEncoder().encode(
      '--b\r\nContent-Disposition: form-data; name="title"\r\n\r\nhello\r\n--b--\r\n',
    );
    const upload = {
      ...record("/upload", "POST", body),
      headers: { "content-type": "multipart/form-data; boundary=b" },
    };
    const answer = JSON.parse(text(await threads.dispatch(upload))) as { fields: string[] };
    assert.deepEqual(answer.fields, ["title"]);
    const after = JSON.parse(text(await threads.dispatch(record("/loaded")))) as Loaded;
    assert.equal(after.threadId, before.threadId);
    assert.ok(after.packages.includes("busboy"), after.packages.join(", "));
  });
});

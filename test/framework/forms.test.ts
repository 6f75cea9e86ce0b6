import { describe, it, mock } from "node:test";
import assert from "node:assert/strict";
import { MultiDict } from "../../src/framework/http/datastructures.ts";
import { RequestEntityTooLarge } from "../../src/framework/errors.ts";
import { parseQueryString } from "../../src/framework/http/forms.ts";
import { Buffer } from "node:buffer";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileStorage, type Carafe } from "carafe";
import { newApp } from "../helpers.ts";

describe("parseQueryString", () => {
  it("reads what URLSearchParams reads, malformed escapes included", () => {
    const cases = [
      "a=1&b=2&a=3",
      "q=hello+world&e=%E2%82%AC",
      "k",
      "k=",
      "=v",
      "&&a=1&",
      "a=%zz&b=%ff",
      "a=b=c",
      "%41%42=1",
      "a+b=c+d",
      "é=ü",
      "a=%2B&b=%25",
      "a&b=1",
      "a=1&b",
      "&",
      "=",
      "a==b&=&c",
      "",
    ];
    for (const text of cases) {
      assert.deepEqual(
        [...parseQueryString(text)],
        [...new MultiDict(new URLSearchParams(text))],
        text,
      );
    }
  });

  it("keeps every value of a repeated key in order", () => {
    assert.deepEqual(parseQueryString("t=1&x=0&t=2&t=3").getAll("t"), ["1", "2", "3"]);
  });

  it("stops at the first field past maxFields, before decoding the rest", () => {
    const append = mock.method(MultiDict.prototype, "append");
    try {
      const text = Array.from({ length: 10_000 }, (_, i) => `f${i}=v`).join("&");
      assert.throws(() => parseQueryString(text, 3), RequestEntityTooLarge);
      assert.equal(append.mock.callCount(), 3);
    } finally {
      append.mock.restore();
    }
  });

  it("counts fields even when an escape is malformed", () => {
    assert.throws(() => parseQueryString("a=%zz&b=1&c=2", 2), RequestEntityTooLarge);
    assert.deepEqual(
      [...parseQueryString("a=%zz&&b=1&", 2)],
      [
        ["a", "%zz"],
        ["b", "1"],
      ],
    );
  });
});

describe("FileStorage", () => {
  /** What a view sees of the uploaded file `f`. */
  function describeUpload(app: Carafe): void {
    app.post("/upload", async (req) => {
      const file = req.files.require("f");
      const streamed: Buffer[] = [];
      for await (const chunk of file.stream) streamed.push(chunk as Buffer);
      const again: Buffer[] = [];
      for await (const chunk of file.stream) again.push(chunk as Buffer);
      return {
        contentType: file.contentType,
        mimetype: file.mimetype,
        params: file.mimetypeParams,
        read: Buffer.from(file.read()).toString("utf8"),
        sameAsBytes: file.read() === file.bytes,
        streamed: Buffer.concat(streamed).toString("utf8"),
        again: Buffer.concat(again).toString("utf8"),
      };
    });
  }

  it("gives read(), stream, mimetype and mimetypeParams of an upload", async () => {
    const app = newApp();
    describeUpload(app);
    const res = await app.testClient().post("/upload", {
      files: {
        f: {
          filename: "notes.txt",
          content: "héllo",
          contentType: 'Text/Plain; Charset=ISO-8859-1; format="flo\\"wed"',
        },
      },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), {
      contentType: 'Text/Plain; Charset=ISO-8859-1; format="flo\\"wed"',
      mimetype: "text/plain",
      params: { charset: "ISO-8859-1", format: 'flo"wed' },
      read: "héllo",
      sameAsBytes: true,
      streamed: "héllo",
      again: "héllo",
    });
  });

  it("finds each file's parameters among fields, files without a type and octet-stream parts", async () => {
    const app = newApp();
    app.post("/upload", (req) =>
      [...req.files.items()].map(([name, file]) => [name, file.contentType, file.mimetypeParams]),
    );
    const boundary = "XyZ";
    const body = [
      `--${boundary}`,
      'Content-Disposition: form-data; name="title"',
      "Content-Type: text/plain; charset=utf-8",
      "",
      "a field",
      `--${boundary}`,
      'Content-Disposition: form-data; name="plain"; filename="a.txt"',
      "",
      "no type",
      `--${boundary}`,
      'Content-Disposition: form-data; name="blob"',
      "Content-Type: application/octet-stream; x-origin=camera",
      "",
      "\u0000\u0001",
      `--${boundary}`,
      "Content-Disposition: form-data; name=\"doc\"; filename*=utf-8''r%C3%A9sum%C3%A9.md",
      "content-type: text/markdown; variant=GFM; title*=utf-8''r%C3%A9sum%C3%A9",
      "",
      "# hi",
      `--${boundary}--`,
      "",
    ].join("\r\n");
    const res = await app.testClient().post("/upload", {
      data: body,
      headers: { "content-type": `multipart/form-data; boundary="${boundary}"` },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), [
      ["plain", "text/plain", {}],
      ["blob", "application/octet-stream; x-origin=camera", { "x-origin": "camera" }],
      [
        "doc",
        "text/markdown; variant=GFM; title*=utf-8''r%C3%A9sum%C3%A9",
        {
          variant: "GFM",
          title: "résumé",
        },
      ],
    ]);
  });

  it("saves an upload's exact bytes to the path given, replacing a file already there", async (t) => {
    const folder = mkdtempSync(join(tmpdir(), "carafe-save-"));
    t.after(() => rmSync(folder, { recursive: true, force: true }));
    const target = join(folder, "avatar.png");
    writeFileSync(target, "an older, longer file that the upload replaces");
    const app = newApp();
    app.post("/avatar", (req) => {
      const file = req.files.require("avatar");
      file.save(target);
      return { saved: file.size };
    });
    const content = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x00, 0xff, 0xfe, 0x0a]);
    const res = await app.testClient().post("/avatar", {
      files: { avatar: { filename: "me.png", content, contentType: "image/png" } },
    });
    assert.equal(res.status, 200, res.text());
    assert.deepEqual(res.json(), { saved: content.byteLength });
    assert.deepEqual(new Uint8Array(readFileSync(target)), content);
  });

  it("keeps the type without parameters when the file is made by hand", () => {
    const file = new FileStorage("f", "a.csv", "text/csv", new Uint8Array([97, 44, 98]));
    assert.equal(file.mimetype, "text/csv");
    assert.deepEqual(file.mimetypeParams, {});
    assert.deepEqual([...file.read()], [97, 44, 98]);
  });
});

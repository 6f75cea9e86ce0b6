import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Carafe, sendFile, sendFromDirectory, type TestClient } from "carafe";

const HELLO = "Hello, world!"; // 13 bytes
const MTIME = new Date("2024-01-02T03:04:05Z");
const LAST_MODIFIED = "Tue, 02 Jan 2024 03:04:05 GMT";

let tmp: string;
let client: TestClient;

before(() => {
  tmp = mkdtempSync(join(tmpdir(), "carafe-static-"));
  mkdirSync(join(tmp, "static", "css"), { recursive: true });
  mkdirSync(join(tmp, "static", "deep", "a", "b"), { recursive: true });
  mkdirSync(join(tmp, "files"));
  writeFileSync(join(tmp, "static", "hello.txt"), HELLO);
  utimesSync(join(tmp, "static", "hello.txt"), MTIME, MTIME);
  writeFileSync(join(tmp, "static", "css", "site.css"), "body { color: red; }\n");
  writeFileSync(join(tmp, "static", "deep", "a", "b", "c.json"), '{"deep":true}');
  writeFileSync(join(tmp, "static", "empty.txt"), "");
  writeFileSync(join(tmp, "secret.txt"), "top secret");
  writeFileSync(join(tmp, "files", "report.txt"), "quarterly numbers");
  writeFileSync(join(tmp, "files", "data.bin"), Buffer.from([0, 1, 2, 3]));
  // A symlink that stays inside the folder, and two that lead out of it.
  symlinkSync("hello.txt", join(tmp, "static", "alias.txt"));
  symlinkSync(join(tmp, "secret.txt"), join(tmp, "static", "escape.txt"));
  symlinkSync(tmp, join(tmp, "static", "escape-dir"));

  const app = new Carafe({ rootPath: tmp });
  app.get("/report", function report() {
    return sendFile(join(tmp, "files", "report.txt"), { asAttachment: true });
  });
  app.get("/report-named", function reportNamed() {
    return sendFile(join(tmp, "files", "report.txt"), {
      asAttachment: true,
      downloadName: "résumé 2024.pdf",
    });
  });
  app.get("/report-inline", function reportInline() {
    return sendFile(join(tmp, "files", "report.txt"), { downloadName: "numbers.csv" });
  });
  app.get("/report-typed", function reportTyped() {
    return sendFile(join(tmp, "files", "report.txt"), {
      mimetype: "application/vnd.example",
      maxAge: 60,
    });
  });
  app.get("/missing", function missing() {
    return sendFile(join(tmp, "files", "nope.txt"));
  });
  app.get("/a-directory", function aDirectory() {
    return sendFile(join(tmp, "files"));
  });
  app.get("/files/<path:name>", function files(req) {
    return sendFromDirectory(join(tmp, "files"), req.params.name);
  });
  client = app.testClient();
});

after(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe("static files", () => {
  it("serves a file from rootPath/static with its type, length, ETag and Last-Modified", async () => {
    const res = await client.get("/static/hello.txt");
    assert.equal(res.status, 200);
    assert.equal(res.text(), HELLO);
    assert.equal(res.headers.get("content-type"), "text/plain; charset=utf-8");
    assert.equal(res.headers.get("content-length"), "13");
    assert.equal(res.headers.get("last-modified"), LAST_MODIFIED);
    assert.equal(res.headers.get("accept-ranges"), "bytes");
    assert.equal(res.headers.get("cache-control"), "no-cache");
    assert.match(res.headers.get("etag") ?? "", /^"[^"]+"$/);
  });

  it("changes the ETag when the file changes", async () => {
    const file = join(tmp, "static", "changing.txt");
    writeFileSync(file, "one");
    utimesSync(file, MTIME, MTIME);
    const first = (await client.get("/static/changing.txt")).headers.get("etag");
    writeFileSync(file, "one more");
    utimesSync(file, MTIME, MTIME);
    const second = (await client.get("/static/changing.txt")).headers.get("etag");
    assert.ok(first && second);
    assert.notEqual(first, second);
  });

  it("uses config.sendFileMaxAge for Cache-Control", async () => {
    const app = new Carafe({ rootPath: tmp, sendFileMaxAge: 3600 });
    const res = await app.testClient().get("/static/hello.txt");
    assert.equal(res.headers.get("cache-control"), "public, max-age=3600");
  });

  it("serves an empty file with Content-Length 0", async () => {
    const res = await client.get("/static/empty.txt");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-length"), "0");
    assert.equal(res.body.byteLength, 0);
  });

  it("answers 304 without a body when If-None-Match has the ETag", async () => {
    const etag = (await client.get("/static/hello.txt")).headers.get("etag") as string;
    for (const header of [etag, `W/${etag}`, `"other", ${etag}`, "*"]) {
      const res = await client.get("/static/hello.txt", { headers: { "if-none-match": header } });
      assert.equal(res.status, 304, `If-None-Match: ${header}`);
      assert.equal(res.body.byteLength, 0);
      assert.equal(res.headers.get("etag"), etag);
    }
  });

  it("answers 200 when If-None-Match names another ETag, even if not modified since", async () => {
    const res = await client.get("/static/hello.txt", {
      headers: { "if-none-match": '"something-else"', "if-modified-since": LAST_MODIFIED },
    });
    assert.equal(res.status, 200);
    assert.equal(res.text(), HELLO);
  });

  it("answers 304 when If-Modified-Since is at or after Last-Modified", async () => {
    for (const date of [LAST_MODIFIED, new Date(MTIME.getTime() + 86_400_000).toUTCString()]) {
      const res = await client.get("/static/hello.txt", { headers: { "if-modified-since": date } });
      assert.equal(res.status, 304, `If-Modified-Since: ${date}`);
      assert.equal(res.body.byteLength, 0);
    }
  });

  it("answers 200 when the file changed after If-Modified-Since", async () => {
    const earlier = new Date(MTIME.getTime() - 1000).toUTCString();
    const res = await client.get("/static/hello.txt", {
      headers: { "if-modified-since": earlier },
    });
    assert.equal(res.status, 200);
    assert.equal(res.text(), HELLO);
  });

  it("answers a Range of the first bytes with 206 and Content-Range", async () => {
    const res = await client.get("/static/hello.txt", { headers: { range: "bytes=0-4" } });
    assert.equal(res.status, 206);
    assert.equal(res.text(), "Hello");
    assert.equal(res.headers.get("content-range"), "bytes 0-4/13");
    assert.equal(res.headers.get("content-length"), "5");
  });

  it("answers an open-ended Range with the rest of the file", async () => {
    const res = await client.get("/static/hello.txt", { headers: { range: "bytes=5-" } });
    assert.equal(res.status, 206);
    assert.equal(res.text(), ", world!");
    assert.equal(res.headers.get("content-range"), "bytes 5-12/13");
    assert.equal(res.headers.get("content-length"), "8");
  });

  it("answers a suffix Range with the last bytes", async () => {
    const res = await client.get("/static/hello.txt", { headers: { range: "bytes=-3" } });
    assert.equal(res.status, 206);
    assert.equal(res.text(), "ld!");
    assert.equal(res.headers.get("content-range"), "bytes 10-12/13");
  });

  it("clamps a Range that runs past the end", async () => {
    const res = await client.get("/static/hello.txt", { headers: { range: "bytes=7-999" } });
    assert.equal(res.status, 206);
    assert.equal(res.text(), "world!");
    assert.equal(res.headers.get("content-range"), "bytes 7-12/13");
  });

  it("answers 416 with the size for an unsatisfiable Range", async () => {
    for (const range of ["bytes=13-", "bytes=100-200", "bytes=-0"]) {
      const res = await client.get("/static/hello.txt", { headers: { range } });
      assert.equal(res.status, 416, `Range: ${range}`);
      assert.equal(res.headers.get("content-range"), "bytes */13");
    }
  });

  it("ignores a Range it cannot parse and sends the whole file", async () => {
    for (const range of ["lines=0-4", "bytes=4-2", "bytes=-"]) {
      const res = await client.get("/static/hello.txt", { headers: { range } });
      assert.equal(res.status, 200, `Range: ${range}`);
      assert.equal(res.text(), HELLO);
    }
  });

  it("honours Range when If-Range matches the ETag or the date", async () => {
    const etag = (await client.get("/static/hello.txt")).headers.get("etag") as string;
    for (const ifRange of [etag, LAST_MODIFIED]) {
      const res = await client.get("/static/hello.txt", {
        headers: { range: "bytes=0-4", "if-range": ifRange },
      });
      assert.equal(res.status, 206, `If-Range: ${ifRange}`);
      assert.equal(res.text(), "Hello");
    }
  });

  it("sends the whole file with 200 when If-Range does not match", async () => {
    const earlier = new Date(MTIME.getTime() - 60_000).toUTCString();
    for (const ifRange of ['"stale-etag"', earlier]) {
      const res = await client.get("/static/hello.txt", {
        headers: { range: "bytes=0-4", "if-range": ifRange },
      });
      assert.equal(res.status, 200, `If-Range: ${ifRange}`);
      assert.equal(res.text(), HELLO);
      assert.equal(res.headers.get("content-range"), undefined);
    }
  });

  it("serves files from nested folders", async () => {
    const css = await client.get("/static/css/site.css");
    assert.equal(css.status, 200);
    assert.equal(css.headers.get("content-type"), "text/css; charset=utf-8");
    assert.equal(css.text(), "body { color: red; }\n");
    const deep = await client.get("/static/deep/a/b/c.json");
    assert.equal(deep.status, 200);
    assert.equal(deep.mimetype, "application/json");
    assert.deepEqual(deep.json(), { deep: true });
  });

  it("follows a symlink that stays inside the static folder", async () => {
    const res = await client.get("/static/alias.txt");
    assert.equal(res.status, 200);
    assert.equal(res.text(), HELLO);
  });

  it("answers 404 for a missing file and for a folder", async () => {
    for (const path of ["/static/nope.txt", "/static/css", "/static/css/", "/static/deep/a"]) {
      const res = await client.get(path);
      assert.equal(res.status, 404, path);
    }
  });

  it("answers 404 for a file name with a trailing slash", async () => {
    for (const path of ["/static/hello.txt/", "/static/css/site.css/", "/files/report.txt/"]) {
      assert.equal((await client.get(path)).status, 404, path);
    }
  });

  it("never serves a file outside the static folder", async () => {
    // The target exists and is readable: only the path checks keep it out.
    assert.equal(readFileSync(join(tmp, "secret.txt"), "utf8"), "top secret");
    const attempts = [
      "/static/../secret.txt",
      "/static/css/../../secret.txt",
      "/static/%2e%2e/secret.txt",
      "/static/%2E%2E/secret.txt",
      "/static/css/%2e%2e/%2e%2e/secret.txt",
      "/static/..%2fsecret.txt",
      "/static/..%2Fsecret.txt",
      "/static/%2e%2e%2fsecret.txt",
      "/static/..%5csecret.txt",
      "/static/..%5Csecret.txt",
      "/static/..\\secret.txt",
      `/static/${tmp}/secret.txt`,
      `/static/${encodeURIComponent(join(tmp, "secret.txt"))}`,
      "/static/escape.txt",
      "/static/escape-dir/secret.txt",
    ];
    for (const path of attempts) {
      const res = await client.get(path);
      assert.equal(res.status, 404, path);
      assert.doesNotMatch(res.text(), /top secret/, path);
    }
  });

  it("answers 404 for an encoded slash even when it would name a real file", async () => {
    assert.equal((await client.get("/static/css/site.css")).status, 200);
    for (const path of [
      "/static/css%2Fsite.css",
      "/static/css%2fsite.css",
      "/static/css%5Csite.css",
    ]) {
      assert.equal((await client.get(path)).status, 404, path);
    }
  });

  it("answers HEAD with the headers of GET and no body", async () => {
    const get = await client.get("/static/hello.txt");
    const head = await client.head("/static/hello.txt");
    assert.equal(head.status, 200);
    assert.equal(head.body.byteLength, 0);
    assert.equal(head.headers.get("content-length"), "13");
    assert.equal(head.headers.get("etag"), get.headers.get("etag"));
    assert.equal(head.headers.get("last-modified"), LAST_MODIFIED);
    assert.equal(head.headers.get("content-type"), "text/plain; charset=utf-8");
  });

  it("serves nothing when staticFolder is null", async () => {
    const app = new Carafe({ rootPath: tmp, staticFolder: null });
    assert.equal((await app.testClient().get("/static/hello.txt")).status, 404);
  });

  it("serves a custom staticFolder at a custom staticUrlPath", async () => {
    const app = new Carafe({ rootPath: tmp, staticFolder: "files", staticUrlPath: "/assets/" });
    const res = await app.testClient().get("/assets/report.txt");
    assert.equal(res.status, 200);
    assert.equal(res.text(), "quarterly numbers");
    assert.equal(app.urlFor("static", { filename: "report.txt" }), "/assets/report.txt");
  });
});

describe("sendFile and sendFromDirectory", () => {
  it("sends a file as an attachment named after the file", async () => {
    const res = await client.get("/report");
    assert.equal(res.status, 200);
    assert.equal(res.text(), "quarterly numbers");
    assert.equal(
      res.headers.get("content-disposition"),
      `attachment; filename="report.txt"; filename*=UTF-8''report.txt`,
    );
    assert.equal(res.mimetype, "text/plain");
  });

  it("uses downloadName for the file name (ASCII fallback and UTF-8) and the type", async () => {
    const res = await client.get("/report-named");
    assert.equal(
      res.headers.get("content-disposition"),
      `attachment; filename="r_sum_ 2024.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9%202024.pdf`,
    );
    assert.equal(res.mimetype, "application/pdf");
  });

  it("sends downloadName inline unless asAttachment is set", async () => {
    const res = await client.get("/report-inline");
    assert.match(res.headers.get("content-disposition") ?? "", /^inline; filename="numbers.csv"/);
    assert.equal(res.mimetype, "text/csv");
  });

  it("uses the given mimetype and maxAge", async () => {
    const res = await client.get("/report-typed");
    assert.equal(res.headers.get("content-type"), "application/vnd.example");
    assert.equal(res.headers.get("cache-control"), "public, max-age=60");
    assert.equal(res.headers.get("content-disposition"), undefined);
  });

  it("answers conditional requests from a route too", async () => {
    const first = await client.get("/report");
    const etag = first.headers.get("etag") as string;
    const res = await client.get("/report", { headers: { "if-none-match": etag } });
    assert.equal(res.status, 304);
    const range = await client.get("/report", { headers: { range: "bytes=-7" } });
    assert.equal(range.status, 206);
    assert.equal(range.text(), "numbers");
  });

  it("answers 404 for a missing file or a folder", async () => {
    assert.equal((await client.get("/missing")).status, 404);
    assert.equal((await client.get("/a-directory")).status, 404);
  });

  it("sendFromDirectory serves a file inside the folder", async () => {
    const res = await client.get("/files/report.txt");
    assert.equal(res.status, 200);
    assert.equal(res.text(), "quarterly numbers");
    const bin = await client.get("/files/data.bin");
    assert.equal(bin.mimetype, "application/octet-stream");
    assert.deepEqual([...bin.body], [0, 1, 2, 3]);
  });

  it("sendFromDirectory answers 404 for a path out of the folder or a missing file", async () => {
    for (const path of [
      "/files/../secret.txt",
      "/files/%2e%2e/secret.txt",
      "/files/..%2Fsecret.txt",
      "/files/nope.txt",
    ]) {
      assert.equal((await client.get(path)).status, 404, path);
    }
  });

  it("sendFromDirectory rejects unsafe paths when called directly", () => {
    const folder = join(tmp, "files");
    for (const path of [
      "../secret.txt",
      "/etc/passwd",
      join(tmp, "secret.txt"),
      "a\\..\\b",
      "",
      "x\0",
    ]) {
      assert.throws(() => sendFromDirectory(folder, path), { name: "NotFound" }, path);
    }
  });
});

// Every relative link of the repository's Markdown (README, docs/, bench/, examples/) points at
// a file the repository has, and a `#fragment` at a heading of that file: a reader who follows
// one never lands on nothing.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { anchorsOf, brokenLinks, linksOf, markdownFiles } from "./markdown-links.ts";

const ROOT = resolve(import.meta.dirname, "..");
const SKIPPED_FOLDERS = new Set(["node_modules", "dist", ".git", "api"]);

test("the Markdown files' relative links and anchors all resolve", () => {
  const files = markdownFiles(ROOT, SKIPPED_FOLDERS);
  assert.ok(files.length >= 5, `found only ${files.length} Markdown files`);
  assert.deepEqual(brokenLinks(files, ROOT), []);
});

test("the link check finds a dead link and a dead anchor", () => {
  // The check above passes only if it can fail: run its parts on links known to be broken.
  const readme = join(ROOT, "README.md");
  assert.ok(anchorsOf(readme).has("running-an-app"));
  assert.ok(!anchorsOf(readme).has("no-such-heading"));
  assert.equal(existsSync(resolve(ROOT, "docs/no-such-file.md")), false);
  assert.deepEqual(linksOf(readme).includes("#running-an-app"), true);
});

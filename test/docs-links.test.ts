// Every relative link of the repository's Markdown (README, docs/, bench/, examples/) points at
// a file the repository has, and a `#fragment` at a heading of that file: a reader who follows
// one never lands on nothing.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { test } from "node:test";
import {
  anchorsOf,
  brokenLinks,
  brokenTableRows,
  linksOf,
  markdownFiles,
} from "./markdown-links.ts";

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

test("the Markdown tables' rows each end on the line they start", () => {
  const broken = markdownFiles(ROOT, SKIPPED_FOLDERS).flatMap((file) =>
    brokenTableRows(readFileSync(file, "utf8")).map((row) => `${relative(ROOT, file)} ${row}`),
  );
  assert.deepEqual(broken, []);
  // A row with a line break inside a code span, as an unescaped "\n" leaves it.
  assert.deepEqual(brokenTableRows('| a | `x + "\n"` |\n| b | c |\n'), ['line 1: | a | `x + "']);
  assert.deepEqual(brokenTableRows("```\n| a\n```\n"), []);
});

// Every relative link of the repository's Markdown (README, docs/, bench/, examples/) points at
// a file the repository has, and a `#fragment` at a heading of that file: a reader who follows
// one never lands on nothing.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
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

/**
 * Whether a path is a file the repository holds, or a folder holding one: a link to a file that
 * exists here only (ignored by git, such as an app's instance folder or a build) is broken for
 * every other reader.
 */
function inRepository(): (path: string) => boolean {
  const listed = execFileSync("git", ["ls-files", "-z", "--cached"], {
    cwd: ROOT,
    encoding: "utf8",
  })
    .split("\0")
    .filter((file) => file !== "");
  const held = new Set<string>();
  for (const file of listed) {
    for (let path = file; path !== "."; path = dirname(path)) held.add(join(ROOT, path));
  }
  held.add(ROOT);
  return (path) => held.has(path.replace(/\/+$/, ""));
}

test("the Markdown files' relative links and anchors all resolve", () => {
  const files = markdownFiles(ROOT, SKIPPED_FOLDERS);
  assert.ok(files.length >= 5, `found only ${files.length} Markdown files`);
  assert.deepEqual(brokenLinks(files, ROOT, inRepository()), []);
});

test("a link to a file git does not hold is broken, though the file is on disk", (t) => {
  // The tutorial app's instance folder is ignored by git (and made by its factory).
  const folder = join(ROOT, "examples/flaskr/instance");
  mkdirSync(folder, { recursive: true });
  const page = join(folder, `link-check-${process.pid}.md`);
  const note = join(folder, `link-check-${process.pid}.txt`);
  t.after(() => {
    rmSync(page, { force: true });
    rmSync(note, { force: true });
  });
  writeFileSync(note, "here, but not in the repository\n");
  writeFileSync(page, `[note](${basename(note)}) [tutorial](../../../docs/tutorial.md)\n`);
  assert.deepEqual(brokenLinks([page], ROOT), [], "both exist on disk");
  assert.deepEqual(brokenLinks([page], ROOT, inRepository()), [
    `${relative(ROOT, page)}: (${basename(note)}) names a file that does not exist`,
  ]);
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

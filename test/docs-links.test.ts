// Every relative link of the repository's Markdown (README, docs/, bench/, examples/) points at
// a file the repository has, and a `#fragment` at a heading of that file: a reader who follows
// one never lands on nothing.
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";

const ROOT = resolve(import.meta.dirname, "..");
const SKIPPED_FOLDERS = new Set(["node_modules", "dist", ".git", "api"]);

function markdownFiles(folder: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(folder)) {
    if (SKIPPED_FOLDERS.has(entry)) continue;
    const path = join(folder, entry);
    if (statSync(path).isDirectory()) found.push(...markdownFiles(path));
    else if (entry.endsWith(".md")) found.push(path);
  }
  return found;
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/`/g, "")
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

function anchorsOf(file: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (line.startsWith("```")) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6}\s+(.*)$/.exec(line);
    if (heading === null) continue;
    const base = slug(heading[1] as string);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

/** The relative link targets of a Markdown file, outside code blocks and code spans. */
function linksOf(file: string): string[] {
  const text = readFileSync(file, "utf8")
    .replace(/^```[\s\S]*?^```/gm, "")
    .replace(/`[^`\n]*`/g, "");
  const links: string[] = [];
  for (const match of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    const target = match[1] as string;
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
    links.push(target);
  }
  return links;
}

test("the Markdown files' relative links and anchors all resolve", () => {
  const files = markdownFiles(ROOT);
  assert.ok(files.length >= 5, `found only ${files.length} Markdown files`);
  const broken: string[] = [];
  for (const file of files) {
    for (const link of linksOf(file)) {
      const [path = "", fragment] = link.split("#");
      const target = path === "" ? file : resolve(dirname(file), decodeURIComponent(path));
      const where = `${relative(ROOT, file)}: (${link})`;
      if (!existsSync(target)) broken.push(`${where} names a file that does not exist`);
      else if (fragment !== undefined && target.endsWith(".md") && !anchorsOf(target).has(fragment))
        broken.push(`${where} names no heading of ${relative(ROOT, target)}`);
    }
  }
  assert.deepEqual(broken, []);
});

test("the link check finds a dead link and a dead anchor", () => {
  // The check above passes only if it can fail: run its parts on links known to be broken.
  const readme = join(ROOT, "README.md");
  assert.ok(anchorsOf(readme).has("running-an-app"));
  assert.ok(!anchorsOf(readme).has("no-such-heading"));
  assert.equal(existsSync(resolve(ROOT, "docs/no-such-file.md")), false);
  assert.deepEqual(linksOf(readme).includes("#running-an-app"), true);
});

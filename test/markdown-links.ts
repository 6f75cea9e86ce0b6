// Reading Markdown's relative links and headings, for the link checks of the repository's
// Markdown (docs-links.test.ts) and of the Markdown the package ships (integration/package.test.ts).
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/`/g, "")
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

/** The anchors of the headings of a Markdown file, numbered as GitHub numbers repeats. */
export function anchorsOf(file: string): Set<string> {
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
export function linksOf(file: string): string[] {
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

/** The Markdown files under `folder`, except in the folders named in `skipped`. */
export function markdownFiles(folder: string, skipped: ReadonlySet<string> = new Set()): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(folder)) {
    if (skipped.has(entry)) continue;
    const path = join(folder, entry);
    if (statSync(path).isDirectory()) found.push(...markdownFiles(path, skipped));
    else if (entry.endsWith(".md")) found.push(path);
  }
  return found;
}

/**
 * Each link of `files` that names no file, or no heading of its file, described from `root`.
 * `has` says whether a path is there (by default, whether it exists on disk).
 */
export function brokenLinks(
  files: readonly string[],
  root: string,
  has: (path: string) => boolean = existsSync,
): string[] {
  const broken: string[] = [];
  for (const file of files) {
    for (const link of linksOf(file)) {
      const [path = "", fragment] = link.split("#");
      const target = path === "" ? file : resolve(dirname(file), decodeURIComponent(path));
      const where = `${relative(root, file)}: (${link})`;
      if (!has(target)) broken.push(`${where} names a file that does not exist`);
      else if (fragment !== undefined && target.endsWith(".md") && !anchorsOf(target).has(fragment))
        broken.push(`${where} names no heading of ${relative(root, target)}`);
    }
  }
  return broken;
}

/**
 * The lines of `text` (outside code blocks) that open a table row without closing it: a row
 * broken across lines, which ends the table there and shows the rest as a paragraph.
 */
export function brokenTableRows(text: string): string[] {
  const broken: string[] = [];
  let fenced = false;
  text.split("\n").forEach((line, index) => {
    if (line.startsWith("```")) fenced = !fenced;
    else if (!fenced && line.startsWith("|") && !line.trimEnd().endsWith("|"))
      broken.push(`line ${index + 1}: ${line.slice(0, 60)}`);
  });
  return broken;
}

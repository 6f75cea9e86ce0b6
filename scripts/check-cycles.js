// Fails when the modules under src/ import each other in a cycle. Every import counts: values,
// `import type` (a cycle of types still ties two concepts into one), re-exports and dynamic
// `import()`. ESLint's cycle rules skip type-only imports, so this walks the graph itself, with
// the TypeScript compiler's import scanner, and prints each cycle as a path to cut.
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import process from "node:process";
import ts from "typescript";

const root = resolve(dirname(new URL(import.meta.url).pathname), "..");
const src = join(root, "src");
const files = readdirSync(src, { recursive: true })
  .map((file) => join(src, String(file)))
  .filter((file) => file.endsWith(".ts"));
const known = new Set(files);

/** The files under src/ that `file` imports, in any way. */
function importsOf(file) {
  const scanned = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
  return scanned.importedFiles
    .map(({ fileName }) => fileName)
    .filter((specifier) => specifier.startsWith("."))
    .map((specifier) => resolve(dirname(file), specifier))
    .filter((target) => known.has(target));
}

const graph = new Map(files.map((file) => [file, importsOf(file)]));

// Tarjan's strongly connected components: each component of more than one file (or a file that
// imports itself) holds at least one cycle.
const index = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const components = [];
let counter = 0;
function connect(file) {
  index.set(file, counter);
  low.set(file, counter);
  counter++;
  stack.push(file);
  onStack.add(file);
  for (const target of graph.get(file)) {
    if (!index.has(target)) {
      connect(target);
      low.set(file, Math.min(low.get(file), low.get(target)));
    } else if (onStack.has(target)) {
      low.set(file, Math.min(low.get(file), index.get(target)));
    }
  }
  if (low.get(file) === index.get(file)) {
    const component = [];
    let member;
    do {
      member = stack.pop();
      onStack.delete(member);
      component.push(member);
    } while (member !== file);
    if (component.length > 1 || graph.get(file).includes(file)) components.push(component);
  }
}
for (const file of files) if (!index.has(file)) connect(file);

/** One shortest cycle through `start` within `component`, as a list of files. */
function cycleThrough(start, component) {
  const inside = new Set(component);
  const previous = new Map([[start, null]]);
  const queue = [start];
  while (queue.length > 0) {
    const file = queue.shift();
    for (const target of graph.get(file)) {
      if (target === start) {
        const path = [file];
        while (previous.get(path[0]) !== null) path.unshift(previous.get(path[0]));
        return [...path, start];
      }
      if (inside.has(target) && !previous.has(target)) {
        previous.set(target, file);
        queue.push(target);
      }
    }
  }
  return [start];
}

if (components.length > 0) {
  const name = (file) => relative(root, file);
  for (const component of components) {
    const [first] = component.sort();
    console.error(`import cycle: ${cycleThrough(first, component).map(name).join(" → ")}`);
    if (component.length > 2) console.error(`  (among ${component.map(name).join(", ")})`);
  }
  console.error(
    "Modules under src/ must not import each other in a cycle, not even for types: move what " +
      "both need to the module they both may import.",
  );
  process.exit(1);
}

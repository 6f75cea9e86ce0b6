// A TypeScript app is compiled once into a cache of plain JavaScript, and its modules still know
// their source: import.meta, the app's rootPath, and a change to a source.
import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  statSync,
  realpathSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { loadApp } from "../../src/server/loading/load-app.ts";
import { getRecord } from "../helpers.ts";

const project = realpathSync(mkdtempSync(join(tmpdir(), "carafe-compile-")));
after(() => rmSync(project, { recursive: true, force: true }));
writeFileSync(join(project, "package.json"), JSON.stringify({ type: "module" }));
mkdirSync(join(project, "node_modules"));
symlinkSync(resolve("."), join(project, "node_modules", "carafe"), "dir");
mkdirSync(join(project, "lib"));
const whereSource = (marker: string): string => `
export const marker: string = ${JSON.stringify(marker)};
export const pause = function pause(): void {};
export const meta = { url: import.meta.url, filename: import.meta.filename, dirname: import.meta.dirname, sibling: import.meta.resolve("./other.ts") };
const original = Error.prepareStackTrace;
Error.prepareStackTrace = (_error, stack) => stack;
const stack = new Error().stack as unknown as NodeJS.CallSite[];
Error.prepareStackTrace = original;
/** The file this module was really loaded from. */
export const loadedFrom = stack[0]?.getFileName();
`;
writeFileSync(join(project, "lib", "where.ts"), whereSource("first"));
writeFileSync(
  join(project, "app.ts"),
  `import { Carafe } from "carafe";
import { loadedFrom, marker, meta, pause } from "./lib/where.ts";
export const app = new Carafe();
app.get("/info", () => ({ loadedFrom, marker, meta, name: pause.name, rootPath: app.rootPath }));
`,
);

const cache = join(project, "node_modules", ".cache", "carafe");
/** The compiled copy of the project's `file`, in the one folder of copies the cache holds. */
function compiledCopy(file: string): string {
  const [folder] = readdirSync(cache);
  return `${join(cache, folder as string, project, file)}.mjs`;
}

async function infoOf(spec: string): Promise<Record<string, unknown>> {
  const app = await loadApp(spec);
  const record = await app.handle(getRecord("/info"));
  return JSON.parse(String(record.body)) as Record<string, unknown>;
}

describe("compiling a TypeScript app", () => {
  it("imports plain JavaScript from the cache, whose modules still name their source", async () => {
    const info = await infoOf(join(project, "app.ts"));
    const where = join(project, "lib", "where.ts");
    assert.equal(info["loadedFrom"], pathToFileURL(compiledCopy("lib/where.ts")).href);
    assert.deepEqual(info["meta"], {
      url: pathToFileURL(where).href,
      filename: where,
      dirname: join(project, "lib"),
      sibling: pathToFileURL(join(project, "lib", "other.ts")).href,
    });
    // A function keeps its name where a binding of the same name surrounds it.
    assert.equal(info["name"], "pause");
    // The module that called new Carafe() is the source, so templates and static are beside it.
    assert.equal(info["rootPath"], project);
    assert.ok(existsSync(`${compiledCopy("app.ts")}.manifest.json`));
  });

  it("compiles a source again once it changed", () => {
    const compiled = compiledCopy("lib/where.ts");
    assert.match(readFileSync(compiled, "utf8"), /"first"/);
    const where = join(project, "lib", "where.ts");
    writeFileSync(where, whereSource("second"));
    const later = new Date(Date.now() + 5000);
    utimesSync(where, later, later);
    return loadApp(join(project, "app.ts")).then(() => {
      assert.match(readFileSync(compiled, "utf8"), /"second"/);
    });
  });

  it("compiles again once the tsconfig.json it was compiled under changed", async () => {
    const dir = realpathSync(mkdtempSync(join(tmpdir(), "carafe-tsconfig-")));
    after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
    mkdirSync(join(dir, "node_modules"));
    const tsconfig = join(dir, "tsconfig.json");
    const options = (define: boolean): string =>
      JSON.stringify({ compilerOptions: { useDefineForClassFields: define } });
    writeFileSync(tsconfig, options(true));
    writeFileSync(
      join(dir, "app.ts"),
      `export class Box { size = 1; }
export const app = { fetch: (): Response => new Response(String(new Box().size)) };
`,
    );
    const copy = (): string => {
      const root = join(dir, "node_modules", ".cache", "carafe");
      const [folder] = readdirSync(root).filter((name) => name.startsWith("files"));
      return readFileSync(`${join(root, folder as string, dir, "app.ts")}.mjs`, "utf8");
    };
    await loadApp(join(dir, "app.ts"));
    assert.doesNotMatch(copy(), /this\.size = 1/, "a class field as written");
    writeFileSync(tsconfig, options(false));
    const later = new Date(Date.now() + 5000);
    utimesSync(tsconfig, later, later);
    await loadApp(join(dir, "app.ts"));
    assert.match(copy(), /this\.size = 1/, "assigned in the constructor, as the new options say");
  });

  it("keeps the copies compiled by one Node apart from another's", () => {
    const [folder] = readdirSync(cache);
    assert.match(
      String(folder),
      new RegExp(`^files\\+node${process.versions.node.replaceAll(".", "\\.")}\\b`),
    );
  });

  it("keeps the copies of an app with no node_modules above it in a temp folder of the user's alone", async () => {
    const alone = realpathSync(mkdtempSync(join(tmpdir(), "carafe-alone-")));
    after(() => rmSync(alone, { recursive: true, force: true }));
    writeFileSync(join(alone, "package.json"), JSON.stringify({ type: "module" }));
    writeFileSync(
      join(alone, "app.ts"),
      `${whereSource("alone")}
export const app = { fetch: (): Response => Response.json({ loadedFrom }) };
`,
    );
    const served = async (): Promise<unknown> => {
      const app = await loadApp(join(alone, "app.ts"));
      const record = await app.handle(getRecord("/"));
      const { body } = record;
      let text = "";
      if (typeof body === "string") text = body;
      else if (body instanceof Uint8Array) text = new TextDecoder().decode(body);
      else if (body !== null)
        for await (const chunk of body)
          text += typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk);
      return (JSON.parse(text) as { loadedFrom: unknown }).loadedFrom;
    };
    const folder = join(tmpdir(), `carafe-${process.getuid?.() ?? "user"}`);
    assert.match(String(await served()), new RegExp(`^file://${realpathSync(folder)}/`));
    if (process.getuid === undefined) return;
    assert.equal(statSync(folder).uid, process.getuid());
    assert.equal(statSync(folder).mode & 0o022, 0, "no one else may write in it");
  });
});

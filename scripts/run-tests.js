// Runs every test file under test/ and under examples/ (an example's own suite) with Node's test runner, TypeScript loaded through tsx and
// `carafe` resolved to the sources (the carafe-source export condition).
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const filter = process.argv.slice(2);
const files = ["test", "examples"]
  .flatMap((root) => readdirSync(root, { recursive: true }).map((file) => join(root, String(file))))
  .filter((file) => file.endsWith(".test.ts"))
  .filter((file) => filter.length === 0 || filter.some((part) => file.includes(part)))
  .sort();

if (files.length === 0) {
  console.error("no test files found");
  process.exit(1);
}

const result = spawnSync(
  process.execPath,
  [
    "--conditions=carafe-source",
    "--import",
    "tsx",
    "--test",
    "--test-reporter=spec",
    // A test that hangs fails instead of holding the run (and CI) until it is killed.
    "--test-timeout=120000",
    ...files,
  ],
  { stdio: "inherit" },
);
process.exit(result.status ?? 1);

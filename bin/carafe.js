#!/usr/bin/env node
// The `carafe` command. When Carafe runs from its TypeScript sources (the carafe-source
// condition), tsx is registered first; a TypeScript app or config file registers it itself when
// it loads (src/threading/typescript.ts), so a JavaScript app served from the build never pays for
// tsx's loader thread.
if (import.meta.resolve("carafe/cli").endsWith(".ts")) {
  (await import("tsx/esm/api")).register();
  (await import("tsx/cjs/api")).register();
  globalThis[Symbol.for("carafe.typescript")] = true;
}
const { main } = await import("carafe/cli");
// An app's own command ends the process when it is done, as Flask's do, whatever it left open.
process.exitCode = await main(process.argv.slice(2), { exitAfterCommand: true });

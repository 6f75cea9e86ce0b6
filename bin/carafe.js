#!/usr/bin/env node
// The `carafe` command. tsx is registered first so that apps written in TypeScript load
// without a build step.
import { register } from "tsx/esm/api";

register();
const { main } = await import("carafe/cli");
process.exitCode = await main(process.argv.slice(2));

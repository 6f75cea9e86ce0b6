// carafe/threading's light internal entry: what a process needs before it runs any thread
// (heap bounds for the banner and the settings, loading a TypeScript file). The supervisor
// imports this one, not internal.ts, so it never loads the pool or the primitives. Not a package
// export; only src/server imports it.

export { defaultThreadHeapMb, describeThreads } from "./heap-bound.ts";
export { importFile, isTypeScript } from "./typescript.ts";

// Carafe's public API: the framework, its integrations, and the server behind `app.run()`.

export * from "./framework/index.ts";
export * from "./integrations/index.ts";
export { startDevServer } from "./server/index.ts";
export type { DevServer } from "./server/index.ts";

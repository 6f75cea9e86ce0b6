// Carafe's public API: the framework, its integrations, and the server behind `app.run()`.

export * from "./framework/index.ts";
export * from "./integrations/index.ts";
export { startDevServer } from "./server/index.ts";
export { fromFetchApp } from "./server/loading/fetch-app.ts";
export type { FetchApp, FetchAppHandler, FetchAppOptions } from "./server/loading/fetch-app.ts";
export type { DevServer, DevServerOptions } from "./server/index.ts";

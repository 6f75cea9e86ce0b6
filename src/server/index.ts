// The server layer's public names. Loading it installs the development server as the runner
// behind `app.run()`. The development server itself (node:http, the thread pool, `ws`) loads on
// first use: every pool thread imports the app, and with it this file, but never serves.

import { setRunner } from "../framework/internal.ts";
import type * as DevServerModule from "./dev/dev-server.ts";
import type { ServableApp } from "../framework/internal.ts";
import type { DevServer, DevServerOptions } from "./dev/dev-server.ts";

const devServer = (): Promise<typeof DevServerModule> => import("./dev/dev-server.ts");

// The pool threads of `app.run({ threaded: true })` import the module that called run(): its
// code makes the app again there (a factory's included), and run() does nothing in a thread.
setRunner(async (app, options, runFile) =>
  (await devServer()).runDevServer(app, {
    ...options,
    ...(runFile === undefined ? {} : { appSpec: runFile }),
  }),
);

/**
 * Starts serving `app` and resolves once it listens.
 *
 * @example
 * const server = await startDevServer(app, { port: 0 });
 */
export async function startDevServer(
  app: ServableApp,
  options?: DevServerOptions,
): Promise<DevServer> {
  return (await devServer()).startDevServer(app, options);
}

export type { DevServer, DevServerOptions } from "./dev/dev-server.ts";
export { createRequestListener, writeResponse } from "./http/http-loop.ts";
export { AppLoadError, loadApp, parseAppSpec } from "./loading/load-app.ts";

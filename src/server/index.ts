// The server layer's public names. Loading it installs the development server as the runner
// behind `app.run()`.

import { setRunner } from "../framework/index.ts";
import { runDevServer } from "./dev-server.ts";

setRunner((app, options) => runDevServer(app, options));

export { runDevServer, startDevServer } from "./dev-server.ts";
export type { DevServer, ServableApp } from "./dev-server.ts";
export { createRequestListener, writeResponse } from "./http-loop.ts";
export { AppLoadError, loadApp, parseAppSpec } from "./load-app.ts";

// Templates on Nunjucks, whose syntax is Jinja2's, so Flask templates carry over. Each app gets
// one environment over its `templates/` folder, with autoescaping on and `url_for`/`urlFor`,
// `request`, `session`, `g` and `config` available inside templates.

import { createRequire } from "node:module";
import type nunjucks from "nunjucks";
import { CarafeError, findContext, type Carafe } from "../framework/index.ts";

type Nunjucks = typeof nunjucks;
let loaded: Nunjucks | undefined;

/**
 * Nunjucks, loaded on first use: an app that renders no template never loads it. Loading it
 * makes String.prototype the prototype of its `SafeString`, and V8 answers that by turning
 * String.prototype into a slow dictionary; optimised code then calls out for every string
 * method (`startsWith`, `slice`, `indexOf`, …) anywhere in the process: 3 % of the CPU of a
 * request that reads a query string. A property load through an object inheriting from it
 * makes it fast again.
 */
function loadNunjucks(): Nunjucks {
  if (loaded === undefined) {
    loaded = createRequire(import.meta.url)("nunjucks") as Nunjucks;
    const probe = Object.create(String.prototype) as { carafe?: unknown };
    const load = (): unknown => probe.carafe;
    // V8 rebuilds the prototype when the load site records what it saw, which it starts doing
    // after a function's first 8 calls.
    for (let i = 0; i < 16; i += 1) load();
  }
  return loaded;
}

const ENVIRONMENT = Symbol("carafe.templates.environment");

type Keywords = Record<string, unknown> & { __keywords?: true };

function urlForInTemplates(app: Carafe) {
  // Nunjucks passes `url_for('user', id=3)` as ('user', { id: 3, __keywords: true }).
  return (endpoint: string, params: Keywords = {}): string => {
    const { __keywords: _ignored, _external, _anchor, _method, _scheme, ...values } = params;
    return app.urlFor(endpoint, values, {
      ...(_external === true ? { external: true } : {}),
      ...(typeof _anchor === "string" ? { anchor: _anchor } : {}),
      ...(typeof _method === "string" ? { method: _method } : {}),
      ...(_scheme === "http" || _scheme === "https" ? { scheme: _scheme } : {}),
    });
  };
}

/**
 * The Nunjucks environment of `app` (created on first use); add filters and globals to it.
 *
 * @example
 * templateEnvironment(app).addFilter("shout", (text: string) => text.toUpperCase());
 */
export function templateEnvironment(app: Carafe): nunjucks.Environment {
  let environment = app.extensions.get(ENVIRONMENT) as nunjucks.Environment | undefined;
  if (environment === undefined) {
    const engine = loadNunjucks();
    const loader = new engine.FileSystemLoader(app.templateFolder, { noCache: app.config.debug });
    environment = new engine.Environment(loader, { autoescape: true });
    const urlFor = urlForInTemplates(app);
    environment.addGlobal("url_for", urlFor);
    environment.addGlobal("urlFor", urlFor);
    app.extensions.set(ENVIRONMENT, environment);
  }
  return environment;
}

function templateContext(context: Record<string, unknown>): [Carafe, Record<string, unknown>] {
  const request = findContext();
  if (request === undefined) {
    throw new CarafeError(
      "ERR_NO_REQUEST_CONTEXT",
      "renderTemplate() is only available while a request is being handled; wrap other calls in app.testRequestContext()",
    );
  }
  const app = request.app as Carafe;
  const session = request.session;
  // A page built from session data depends on the cookie: caches must vary on it.
  if (session.size > 0) session.accessed = true;
  return [
    app,
    {
      config: app.config,
      request: request.request,
      session: session.toJSON(),
      g: request.g,
      ...context,
    },
  ];
}

/**
 * Renders `templates/<name>` with `context`; values are HTML-escaped unless marked `| safe`.
 *
 * @example
 * app.get("/hello/<name>", (req) => renderTemplate("hello.html", { name: req.params.name }));
 */
export function renderTemplate(name: string, context: Record<string, unknown> = {}): string {
  const [app, values] = templateContext(context);
  try {
    return templateEnvironment(app).render(name, values);
  } catch (error) {
    throw new CarafeError("ERR_TEMPLATE", `template '${name}' failed: ${(error as Error).message}`);
  }
}

/** Renders a template given as a string. */
export function renderTemplateString(
  source: string,
  context: Record<string, unknown> = {},
): string {
  const [app, values] = templateContext(context);
  try {
    return templateEnvironment(app).renderString(source, values);
  } catch (error) {
    throw new CarafeError("ERR_TEMPLATE", `template string failed: ${(error as Error).message}`);
  }
}

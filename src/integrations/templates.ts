// Templates on Nunjucks, whose syntax is Jinja2's, so Flask templates carry over. Each app gets
// one environment over its `templates/` folder, with autoescaping on, `url_for`/`urlFor` and
// `get_flashed_messages`, and the filters, globals and tests the app registered; every render
// gets `request`, `session`, `g` and `config` (with Jinja's item access: template-views.ts),
// then what the app's and the blueprint's context processors return, then its own values.

import { createRequire } from "node:module";
import type nunjucks from "nunjucks";
import {
  CarafeError,
  RequestContext,
  findAppContext,
  getFlashedMessages,
  type AnyAppContext,
  type Carafe,
  type TemplateFunction,
} from "../framework/index.ts";
import { templateValue } from "./template-views.ts";

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

function isKeywords(value: unknown): value is Keywords {
  return typeof value === "object" && value !== null && (value as Keywords).__keywords === true;
}

/**
 * Jinja's `get_flashed_messages(with_categories=false, category_filter=())`, with its
 * arguments given by position or by keyword.
 */
function getFlashedMessagesInTemplates(...args: unknown[]): unknown[] {
  const keywords = isKeywords(args.at(-1)) ? (args.pop() as Keywords) : {};
  const withCategories = args[0] ?? keywords["with_categories"] ?? keywords["withCategories"];
  let filter = args[1] ?? keywords["category_filter"] ?? keywords["categoryFilter"] ?? [];
  if (typeof filter === "string") filter = [filter];
  if (!Array.isArray(filter) || filter.some((category) => typeof category !== "string")) {
    throw new CarafeError(
      "ERR_BAD_FLASH",
      `get_flashed_messages(category_filter=…) takes a list of categories, e.g. ["error"] (got ${JSON.stringify(filter)})`,
    );
  }
  return getFlashedMessages({
    withCategories: Boolean(withCategories),
    categoryFilter: filter as string[],
  });
}

/**
 * A Nunjucks extension: the tags it adds and how it parses them (Nunjucks documents the parser
 * it passes; `run` and the other methods the parsed nodes call are the extension's own).
 */
export interface TemplateExtension {
  /** The block tags it handles (`{% remote %}` for `["remote"]`). */
  tags: string[];
  /** Turns one of its tags into nodes, with Nunjucks' parser, nodes and lexer. */
  parse(parser: unknown, nodes: unknown, lexer: unknown): unknown;
}

/**
 * What Carafe shows of an app's Nunjucks environment: its filters, globals, tests and
 * extensions, and synchronous rendering. Declared here, so an app's type check needs no types of
 * Nunjucks.
 */
export interface TemplateEnvironment {
  /** Adds the filter `name` (`{{ value | name }}`); `async` for a filter that takes a callback. */
  addFilter(name: string, filter: TemplateFunction, async?: boolean): TemplateEnvironment;
  /** The filter `name`; throws when there is none. */
  getFilter(name: string): TemplateFunction;
  /** Adds a global: a value or a function every template sees. */
  addGlobal(name: string, value: unknown): TemplateEnvironment;
  /** The global `name`; throws when there is none. */
  getGlobal(name: string): unknown;
  /** Adds the test `name` (`{% if value is name %}`). */
  addTest(name: string, test: TemplateFunction): TemplateEnvironment;
  /** Adds `extension` under `name`: its tags become usable in every template. */
  addExtension(name: string, extension: TemplateExtension): TemplateEnvironment;
  /** Removes the extension `name`, if there is one. */
  removeExtension(name: string): void;
  /** The extension `name`, or `undefined`. */
  getExtension(name: string): TemplateExtension | undefined;
  /** Whether there is an extension `name`. */
  hasExtension(name: string): boolean;
  /** Renders the template file `name`; values are escaped unless marked `| safe`. */
  render(name: string, context?: object): string;
  /** Renders `source`, a template given as a string. */
  renderString(source: string, context?: object): string;
}

/** An app's environment, and whether it has every filter, global and test the app will have. */
interface Templates {
  readonly environment: TemplateEnvironment;
  complete: boolean;
}

/**
 * Installs the app's filters, globals and tests. Until the app serves, more may be registered
 * (or a name given another function), so each use installs them again; once it serves,
 * registration is closed and one last install is enough.
 */
function installAppFunctions(app: Carafe, templates: Templates): void {
  if (templates.complete) return;
  const { environment } = templates;
  for (const [name, fn] of app.templateFilters) environment.addFilter(name, fn);
  for (const [name, fn] of app.templateGlobals) environment.addGlobal(name, fn);
  for (const [name, fn] of app.templateTests) environment.addTest(name, fn);
  templates.complete = app.serving;
}

function templatesOf(app: Carafe): Templates {
  let templates = app.extensions.get(ENVIRONMENT) as Templates | undefined;
  if (templates === undefined) {
    const engine = loadNunjucks();
    const loader = new engine.FileSystemLoader(app.templateFolder, { noCache: app.config.debug });
    // Nunjucks' own type definitions leave out addTest, which its Environment has; the tests
    // call every method of TemplateEnvironment on the real thing.
    const environment = new engine.Environment(loader, {
      autoescape: true,
    }) as unknown as TemplateEnvironment;
    const urlFor = urlForInTemplates(app);
    environment.addGlobal("url_for", urlFor);
    environment.addGlobal("urlFor", urlFor);
    environment.addGlobal("get_flashed_messages", getFlashedMessagesInTemplates);
    environment.addGlobal("getFlashedMessages", getFlashedMessagesInTemplates);
    templates = { environment, complete: false };
    app.extensions.set(ENVIRONMENT, templates);
  }
  installAppFunctions(app, templates);
  return templates;
}

/**
 * The Nunjucks environment of `app` (created on first use). The app's `templateFilter`,
 * `templateGlobal` and `templateTest` add to it; so may its own methods.
 *
 * @example
 * templateEnvironment(app).addExtension("RemoteExtension", new RemoteExtension());
 */
export function templateEnvironment(app: Carafe): TemplateEnvironment {
  return templatesOf(app).environment;
}

/** Runs the context processors that apply to `context`: the app's, then its request's blueprint's. */
function processedContext(app: Carafe, context: AnyAppContext): Record<string, unknown> {
  const name = context instanceof RequestContext ? context.request.blueprint : undefined;
  const blueprint = name === undefined ? undefined : app.blueprints.get(name);
  const values: Record<string, unknown> = {};
  for (const scope of blueprint === undefined ? [app] : [app, blueprint]) {
    for (const processor of scope.contextProcessors) {
      const returned: unknown = processor();
      const promised =
        typeof (returned as Partial<PromiseLike<unknown>> | null)?.then === "function";
      if (
        promised ||
        returned === null ||
        typeof returned !== "object" ||
        Array.isArray(returned)
      ) {
        throw new CarafeError(
          "ERR_BAD_CONTEXT_PROCESSOR",
          promised
            ? `the context processor ${processor.name || "(anonymous)"} returned a promise; it must return its values synchronously (templates render synchronously): load async data in a beforeRequest hook and keep it on g`
            : `the context processor ${processor.name || "(anonymous)"} returned ${String(returned)}; it must return a plain object of template values`,
        );
      }
      Object.assign(values, returned);
    }
  }
  return values;
}

function templateContext(context: Record<string, unknown>): [Carafe, Record<string, unknown>] {
  const current = findAppContext();
  if (current === undefined) {
    throw new CarafeError(
      "ERR_NO_APP_CONTEXT",
      "renderTemplate() is only available inside an app context: while a request is being handled, in a CLI command, or inside app.appContext(() => …)",
    );
  }
  const app = current.app as Carafe;
  const values: Record<string, unknown> = { config: app.config, g: current.g };
  // Outside a request (a command, app.appContext()) there is no request or session to show.
  if (current instanceof RequestContext) {
    const session = current.session;
    // A page built from session data depends on the cookie: caches must vary on it.
    if (session.size > 0) session.accessed = true;
    values.request = current.request;
    values.session = session;
  }
  Object.assign(values, processedContext(app, current), context);
  for (const key in values) values[key] = templateValue(values[key]);
  return [app, values];
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
    return templatesOf(app).environment.render(name, values);
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
    return templatesOf(app).environment.renderString(source, values);
  } catch (error) {
    throw new CarafeError("ERR_TEMPLATE", `template string failed: ${(error as Error).message}`);
  }
}

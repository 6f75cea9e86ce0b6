// URL building: what `app.urlFor` and `urlFor` do, beside the app rather than inside it, so
// that the current-app helpers (which name Carafe) and app.ts do not import each other.

import type { AppConfig } from "./config.ts";
import { RequestContext, findAppContext, type ContextApp } from "../context/context.ts";
import { BuildError } from "../errors.ts";
import type { UrlMap } from "../routing/url-map.ts";

/** Options of `urlFor`. */
export interface UrlForOptions {
  /** Build an absolute URL with scheme and host. */
  external?: boolean;
  /** Append `#anchor`. */
  anchor?: string;
  /** Pick the rule that answers this method. */
  method?: string;
  /** Scheme of an external URL. */
  scheme?: "http" | "https";
}

/** What building a URL needs of an app (the current context's, when it is this one). @internal */
export interface UrlBuildingApp extends ContextApp {
  readonly urlMap: Pick<UrlMap<unknown>, "build">;
  readonly config: Pick<AppConfig, "serverName" | "preferredUrlScheme">;
}

/**
 * What `app.urlFor` does: the URL of one of `app`'s endpoints, with the blueprint, host and
 * scheme of the current request when it is one of `app`'s. In an app context of `app` without a
 * request (a command, `app.appContext()`), an external URL's host is `serverName`, or
 * `localhost` when none is set. @internal
 */
export function buildUrl(
  app: UrlBuildingApp,
  endpoint: string,
  params: Readonly<Record<string, unknown>>,
  options: UrlForOptions,
): string {
  const context = findAppContext();
  const ours = context !== undefined && context.app === app;
  const request = ours && context instanceof RequestContext ? context.request : undefined;
  let name = endpoint;
  if (name.startsWith(".")) {
    name = request?.blueprint ? `${request.blueprint}${name}` : name.slice(1);
  }
  let url = app.urlMap.build(
    name,
    params,
    options.method === undefined ? {} : { method: options.method },
  );
  if (options.anchor !== undefined) url += `#${encodeURIComponent(options.anchor)}`;
  if (!options.external) return url;
  const host = request?.host ?? app.config.serverName ?? (ours ? "localhost" : undefined);
  if (!host) {
    throw new BuildError(
      `urlFor('${endpoint}', …, { external: true }) outside a request needs config.serverName (e.g. "example.com")`,
    );
  }
  const scheme = options.scheme ?? request?.scheme ?? app.config.preferredUrlScheme;
  return `${scheme}://${host}${url}`;
}

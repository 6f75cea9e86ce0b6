// Blueprints: a group of routes, hooks and error handlers registered on an app under a name
// (endpoints become `name.endpoint`) and an optional URL prefix.

import { CarafeError } from "../errors.ts";
import { Scaffold, type RouteSpec, type SocketSpec } from "./scaffold.ts";

/** Options of `new Blueprint`. */
export interface BlueprintOptions {
  /** Prefix of every rule of the blueprint, e.g. `/admin`. */
  urlPrefix?: string;
}

/**
 * A group of routes with its own hooks and error handlers.
 *
 * @example
 * const admin = new Blueprint("admin", { urlPrefix: "/admin" });
 * admin.get("/", function index() { return "admin home"; }); // endpoint "admin.index"
 * app.registerBlueprint(admin);
 */
export class Blueprint extends Scaffold {
  /** The routes and sockets an app adds when it registers the blueprint. @internal */
  readonly routes: RouteSpec[] = [];
  /** @internal */
  readonly sockets: SocketSpec[] = [];
  #registered = false;

  constructor(
    readonly name: string,
    readonly options: BlueprintOptions = {},
  ) {
    super();
    if (!name || name.includes(".")) {
      throw new CarafeError(
        "ERR_BAD_BLUEPRINT",
        `blueprint name ${JSON.stringify(name)} must be non-empty and must not contain '.'`,
      );
    }
  }

  protected addRoute(spec: RouteSpec): void {
    this.routes.push(spec);
  }

  protected addSocket(spec: SocketSpec): void {
    this.sockets.push(spec);
  }

  protected checkSetup(method: string): void {
    if (this.#registered) {
      throw new CarafeError(
        "ERR_SETUP_FINISHED",
        `${method} was called on blueprint '${this.name}' after it was registered on an app; add its routes and hooks before app.registerBlueprint()`,
      );
    }
  }

  /** Marks the blueprint as registered; later setup calls fail. @internal */
  markRegistered(): void {
    this.#registered = true;
  }
}

// The contract between the server and the app it runs: the record boundary's `planOf` and
// `handle` (records.ts), and the optional parts a Carafe app adds (WebSockets, broadcasts, its
// route table, threads it asks for). The server sees an app through this interface only; a
// fetch app wrapped by the server has the base and none of the parts.

import type { CommandIO } from "../app/commands.ts";
import type { Logger } from "../app/logging.ts";
import type { Placement, RecordHandler, RequestRecord } from "./records.ts";
import type { Rooms } from "../websocket/rooms.ts";
import type { SocketDecision } from "../websocket/socket-routes.ts";

/** The WebSocket part of an app: decides each upgrade request. */
export interface SocketGate {
  /** Refuses the upgrade with an HTTP response, or accepts it and says how to start the handler. */
  accept(record: RequestRecord): Promise<SocketDecision>;
}

/** The broadcasting part of an app: its rooms, and where broadcasts go beyond this process. */
export interface Broadcasting {
  /** The app's rooms in this process (a server installs their relay). */
  readonly rooms: Rooms;
  /** `config.broadcastUrl`: a Redis server that carries broadcasts between servers, or `null`. */
  readonly relayUrl: string | null;
  /** `config.broadcastChannel`: the Redis channel they travel on. */
  readonly channel: string;
}

/** The commands part of an app (`app.cli`): what `carafe --app app.ts NAME` runs. */
export interface AppCommands {
  /** The commands by name, with their help. */
  readonly commands: ReadonlyMap<string, { readonly help: string }>;
  /** One line per command (and per `extra` row): its name and the first line of its help. */
  listing(extra?: readonly (readonly [string, string])[]): string[];
  /** Runs a command line (`["init-db", "--force"]`); resolves with its exit code. @internal */
  main(argv: readonly string[], io: CommandIO): Promise<{ exitCode: number; error?: unknown }>;
}

/** One route as `carafe routes` lists it; its placement is the one its requests are planned with. */
export interface RouteListing {
  /** The name `urlFor` knows it by (`user`, `api.listUsers`). */
  readonly endpoint: string;
  /** Methods answered (HEAD included wherever GET is); `[]` for a WebSocket route. */
  readonly methods: readonly string[];
  /** The URL rule, its blueprint's prefix included (`/user/<int:id>`). */
  readonly rule: string;
  /** Whether it is a WebSocket route (it then runs on the loop that holds its connection). */
  readonly websocket: boolean;
  /** Where its requests run without threads (`--threads 0`, `app.run()`). */
  readonly withoutThreads: Placement;
  /** Where its requests run with `--threads N`. */
  readonly withThreads: Placement;
}

/**
 * An app a server can run: the base (`planOf`, `handle`) and the parts it has. A Carafe app has
 * them all; an object with `fetch`, wrapped by the server, has the base and a name.
 */
export interface ServableApp extends RecordHandler {
  /** The app's name, for the boot banner. */
  readonly name?: string;
  /** Where the server reports what fails around the app; what it leaves out goes to standard error. */
  readonly logger?: Pick<Logger, "error"> & Partial<Logger>;
  /** The module that created the app: pool threads import it to get their own copy. */
  readonly sourceFile?: string | undefined;
  /** Whether some route asks for a pool thread (`{ thread: true }`) even with `--threads 0`. */
  readonly needsThreads?: boolean;
  /** The configuration keys a server sets (`--debug`). */
  readonly config?: { debug: boolean };
  /** Present when the app has WebSocket routes. @internal */
  readonly sockets?: SocketGate | undefined;
  /** Present when the app keeps WebSocket rooms. @internal */
  readonly broadcasting?: Broadcasting | undefined;
  /** The app's own commands, for `carafe --app app.ts NAME`. */
  readonly cli?: AppCommands;
  /** Every route, HTTP and WebSocket, with where its requests run; for `carafe routes`. */
  listRoutes?(): readonly RouteListing[];
}

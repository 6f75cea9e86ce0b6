// Design: where a process's WebSocket broadcasts go beyond it. Under `carafe serve` a worker
// hands each broadcast to the supervisor, which passes it to every other worker; broadcasts
// made on a pool thread come to the loop first (the pool's `onBroadcast`). When the app's
// `broadcastUrl` names a Redis server, every process (of every server) publishes to one Redis
// channel and subscribes to it instead, skipping what it published itself; Redis then reaches
// the other workers too, so the supervisor is not asked. The `ioredis` client is loaded only
// then: an app that never sets `broadcastUrl` needs nothing installed.

import { randomUUID } from "node:crypto";
import type {
  BroadcastEnvelope,
  BroadcastRelay,
  Broadcasting,
  Logger,
} from "../../framework/internal.ts";
import { ServerError } from "../errors.ts";

/** The relay a process installed; `close` ends its connections. */
export interface Broadcasts {
  /** A broadcast from another process (the supervisor's message): for this process's sockets. */
  receive(envelope: BroadcastEnvelope): void;
  /** A broadcast made on one of this process's pool threads (the pool's `onBroadcast`). */
  forward(envelope: BroadcastEnvelope): void;
  close(): Promise<void>;
}

/** The error for a `broadcastUrl` Carafe cannot use. */
export class BroadcastUrlError extends ServerError {
  override readonly name = "BroadcastUrlError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_BROADCAST_URL", message, options);
  }
}

/**
 * Installs the app's relay: Redis when `broadcastUrl` is set, otherwise `local` (the
 * supervisor, or `null` in a process that is alone). Fails when Redis cannot be reached.
 */
export async function connectBroadcasts(
  app: Broadcasting,
  local: BroadcastRelay | null,
  /** Told when broadcasts through Redis are failing. */
  logger: Pick<Logger, "warn">,
): Promise<Broadcasts> {
  const url: unknown = app.relayUrl;
  const rooms = app.rooms;
  const forward = (envelope: BroadcastEnvelope): void => rooms.forward(envelope);
  if (url === null || url === undefined) {
    rooms.relay = local;
    return {
      receive: (envelope) => rooms.receive(envelope),
      forward,
      close: () => Promise.resolve(),
    };
  }
  if (typeof url !== "string" || !/^rediss?:\/\//.test(url)) {
    throw new BroadcastUrlError(
      `app.config.broadcastUrl must be a redis:// or rediss:// URL, got ${JSON.stringify(url)}`,
    );
  }
  const channel = String(app.channel ?? "carafe");
  const redis = await connectRedis(url, channel, (envelope) => rooms.receive(envelope), logger);
  rooms.relay = redis;
  // Redis reaches every other worker already; a supervisor message would deliver twice.
  return { receive: () => {}, forward, close: () => redis.close() };
}

interface RedisClient {
  connect(): Promise<void>;
  subscribe(channel: string): Promise<unknown>;
  publish(channel: string, message: string): Promise<number>;
  on(event: "message", listener: (channel: string, message: string) => void): unknown;
  on(event: "error" | "ready", listener: (error?: Error) => void): unknown;
  quit(): Promise<unknown>;
}

type RedisConstructor = new (url: string, options: Record<string, unknown>) => RedisClient;

async function loadClient(): Promise<RedisConstructor> {
  try {
    const module = (await import("ioredis")) as unknown as { default: RedisConstructor };
    return module.default;
  } catch {
    throw new BroadcastUrlError(
      "app.config.broadcastUrl names a Redis server, which needs the ioredis package: npm install ioredis@5",
    );
  }
}

/** A published envelope, marked with the process that sent it. */
interface Published extends BroadcastEnvelope {
  readonly origin: string;
}

function isPublished(value: unknown): value is Published {
  const candidate = value as Partial<Published> | null;
  return (
    typeof candidate?.origin === "string" &&
    typeof candidate.room === "string" &&
    typeof candidate.data === "string" &&
    typeof candidate.binary === "boolean"
  );
}

async function connectRedis(
  url: string,
  channel: string,
  receive: (envelope: BroadcastEnvelope) => void,
  logger: Pick<Logger, "warn">,
): Promise<BroadcastRelay & { close(): Promise<void> }> {
  const Redis = await loadClient();
  const origin = randomUUID();
  const shown = url.replace(/\/\/[^@/]*@/, "//…@");
  const options = { lazyConnect: true, maxRetriesPerRequest: 3 };
  const publisher = new Redis(url, options);
  const subscriber = new Redis(url, options);
  // One warning per outage: ioredis reconnects (and resubscribes) on its own. While the first
  // connection is made, a failure is the boot's error instead.
  let booting = true;
  let failing = false;
  let lastError: Error | undefined;
  const warn = (error?: Error): void => {
    lastError = error;
    if (booting || failing) return;
    failing = true;
    logger.warn(`broadcasts through ${shown} are failing: ${error?.message ?? "unknown error"}`);
  };
  for (const client of [publisher, subscriber]) {
    client.on("error", warn);
    client.on("ready", () => {
      failing = false;
    });
  }
  try {
    await Promise.all([publisher.connect(), subscriber.connect()]);
    await subscriber.subscribe(channel);
  } catch (error) {
    await Promise.allSettled([publisher.quit(), subscriber.quit()]);
    const cause = lastError ?? (error as Error);
    throw new BroadcastUrlError(
      `could not reach the Redis server of app.config.broadcastUrl (${shown}): ${cause.message}`,
    );
  }
  booting = false;
  subscriber.on("message", (from, text) => {
    if (from !== channel) return;
    let envelope: unknown;
    try {
      envelope = JSON.parse(text);
    } catch {
      return;
    }
    // Another program on the channel is not ours to trust; our own broadcast was delivered.
    if (!isPublished(envelope) || envelope.origin === origin) return;
    receive({ room: envelope.room, data: envelope.data, binary: envelope.binary });
  });
  return {
    publish: (envelope) => {
      const published: Published = { ...envelope, origin };
      publisher.publish(channel, JSON.stringify(published)).catch(warn);
    },
    close: async () => {
      await Promise.allSettled([publisher.quit(), subscriber.quit()]);
    },
  };
}

/**
 * The Redis connection factories: the only module that constructs Redis clients. ioredis serves
 * the rate limiter; Bun's built-in client serves the output cache (its hot path is latency-bound,
 * see `createNativeRedis`). Both share one policy: connect at once, never queue
 * commands while disconnected, fail a command fast instead of waiting for a reconnect, and keep
 * reconnecting in the background so the client recovers by itself when Redis returns.
 */
import { RedisClient } from "bun";
import { Redis } from "ioredis";
import type { Logger } from "../platform/logger";
import { withTimeout } from "../platform/timers";

export type { Redis };

export type RedisOptions = {
  /** Bound on establishing a connection (default 1 s). */
  connectTimeoutMs?: number;
  /** Bound on one command's reply (default 250 ms): a slow Redis must not slow the request down. */
  commandTimeoutMs?: number;
  /** Told about connection errors, at most one line per `logEveryMs` (default 30 s). */
  log?: Logger;
  logEveryMs?: number;
  connectionName?: string;
};

/** A `redis_error` warning, at most one per `logEveryMs` (default 30 s). */
function connectionWarnings(opts: RedisOptions): (message: string) => void {
  let last = 0;
  return (message) => {
    const now = Date.now();
    if (now - last < (opts.logEveryMs ?? 30_000)) return;
    last = now;
    opts.log?.warn("redis_error", { error: message });
  };
}

export function createRedis(url: string, opts: RedisOptions = {}): Redis {
  const redis = new Redis(url, {
    lazyConnect: false,
    // Without a connection a command fails at once: callers degrade (serve from the store) instead of waiting.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: opts.connectTimeoutMs ?? 1_000,
    commandTimeout: opts.commandTimeoutMs ?? 250,
    // Reconnect forever with a capped backoff: recovery needs no restart.
    retryStrategy: (times) => Math.min(50 * 2 ** times, 2_000),
    connectionName: opts.connectionName ?? "aurum-scenarios",
  });
  // ioredis prints unhandled 'error' events to stderr; log them, rate-limited, instead.
  const warn = connectionWarnings(opts);
  redis.on("error", (err: Error) => warn(err.message));
  return redis;
}

/**
 * Waits at most `ms` for the connection to be ready; false when it is not (the client keeps trying).
 * Call it at startup: with the offline queue off, a command sent before the first connect fails.
 */
export async function redisReady(redis: Redis, ms = 1_000): Promise<boolean> {
  if (redis.status === "ready") return true;
  let onReady = () => {};
  const ready = new Promise<boolean>((resolve) => {
    onReady = () => resolve(true);
    redis.once("ready", onReady);
  });
  return withTimeout(ready, ms, () => false).finally(() => redis.off("ready", onReady));
}

/** Closes the connection gracefully when possible, at most `ms` later forcibly. */
export async function closeRedis(redis: Redis, ms = 1_000): Promise<void> {
  if (redis.status === "end") return;
  const quit = redis.quit().then(
    () => undefined,
    () => redis.disconnect(),
  );
  await withTimeout(quit, ms, () => redis.disconnect());
}

/** One Redis command and its reply: all the output cache's store needs from a client. */
export interface RedisCommands {
  send(command: string, args: string[]): Promise<unknown>;
}

/** An ioredis client as RedisCommands (tests and tools that hold one). */
export const ioredisCommands = (redis: Redis): RedisCommands => ({ send: (command, args) => redis.call(command, ...args) });

export type NativeRedis = RedisCommands & {
  /** Waits at most `ms` for the connection; false when there is none yet (it keeps trying). */
  ready(ms?: number): Promise<boolean>;
  close(): void;
};

/**
 * Bun's built-in client (RESP in native code), for the output cache: a round trip from a busy
 * server costs 0.02–0.03 ms less than through ioredis on node:net, a fifth of a small-page cache
 * hit (docs/cache.md, "Backends"). The policy is ioredis's above: it connects in the background, a
 * command without a connection fails at once (no offline queue), a command without a reply within
 * `commandTimeoutMs` fails, and it reconnects by itself when Redis returns.
 */
export function createNativeRedis(url: string, opts: RedisOptions = {}): NativeRedis {
  const client = new RedisClient(url, {
    enableOfflineQueue: false,
    autoReconnect: true,
    maxRetries: 1_000_000,
    connectionTimeout: opts.connectTimeoutMs ?? 1_000,
  });
  const timeoutMs = opts.commandTimeoutMs ?? 250;
  const warn = connectionWarnings(opts);
  client.onclose = (err) => warn(err?.message ?? "connection closed");
  // Resolves on the first connection; with Redis down it waits (retrying) while commands fail fast.
  const connected = client.connect().then(
    () => true,
    () => false,
  );
  return {
    send(command, args) {
      return withTimeout(client.send(command, args), timeoutMs, () => {
        throw new Error(`Redis ${command}: no reply within ${timeoutMs} ms`);
      });
    },
    ready: (ms = 1_000) => withTimeout(connected, ms, () => client.connected),
    close: () => client.close(),
  };
}

/**
 * The Redis connection factory: the only module that constructs an ioredis client. Every caller
 * (the output cache, rate limiting, feature flags) shares its policy: connect at once, never queue
 * commands while disconnected, fail a command fast instead of waiting for a reconnect, and keep
 * reconnecting in the background so the client recovers by itself when Redis returns.
 */
import { Redis } from "ioredis";
import type { Logger } from "../platform/logger";

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
  let lastLog = 0;
  redis.on("error", (err: Error) => {
    const now = Date.now();
    if (now - lastLog < (opts.logEveryMs ?? 30_000)) return;
    lastLog = now;
    opts.log?.warn("redis_error", { error: err.message });
  });
  return redis;
}

/**
 * Waits at most `ms` for the connection to be ready; false when it is not (the client keeps trying).
 * Call it at startup: with the offline queue off, a command sent before the first connect fails.
 */
export async function redisReady(redis: Redis, ms = 1_000): Promise<boolean> {
  if (redis.status === "ready") return true;
  let done: (ok: boolean) => void = () => {};
  const ready = new Promise<boolean>((resolve) => {
    done = resolve;
  });
  const onReady = () => done(true);
  const timer = setTimeout(() => done(false), ms);
  redis.once("ready", onReady);
  return ready.finally(() => {
    clearTimeout(timer);
    redis.off("ready", onReady);
  });
}

/** Closes the connection gracefully when possible, at most `ms` later forcibly. */
export async function closeRedis(redis: Redis, ms = 1_000): Promise<void> {
  if (redis.status === "end") return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const forced = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      redis.disconnect();
      resolve();
    }, ms);
  });
  await Promise.race([
    redis.quit().then(
      () => undefined,
      () => redis.disconnect(),
    ),
    forced,
  ]).finally(() => clearTimeout(timer));
}

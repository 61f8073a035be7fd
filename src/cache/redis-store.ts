/**
 * The cache port on Redis, over any client that sends a command (in the service Bun's built-in
 * client, `createNativeRedis` in adapters/redis.ts, shared by API replicas and workers). The hot
 * path is one MGET: the tenant's version and the entry under the version the caller expects (the
 * last one it saw), read together; a second GET only after the version moved.
 * Scripts run only to create or advance a version and to release a lock atomically. Errors and
 * timeouts propagate: the cache service decides to degrade.
 */
import type { RedisCommands } from "../adapters/redis";
import { type CacheStore, freshVersion } from "./store";

const INIT_VERSION = `local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]`;

const BUMP_VERSION = `if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('INCR', KEYS[1]) end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]`;

const RELEASE_LOCK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export function createRedisStore(redis: RedisCommands): CacheStore {
  const get = (key: string) => redis.send("GET", [key]) as Promise<string | null>;
  async function version(key: string): Promise<string> {
    return (await get(key)) ?? String(await redis.send("EVAL", [INIT_VERSION, "1", key, freshVersion()]));
  }
  return {
    name: "redis",
    version,
    async bump(key) {
      return String(await redis.send("EVAL", [BUMP_VERSION, "1", key, freshVersion()]));
    },
    async lookup(versionKey, prefix, suffix, guess) {
      if (guess !== undefined) {
        // Same hash tag, same slot: one MGET reads both atomically, also on Redis Cluster.
        const [current, value] = (await redis.send("MGET", [versionKey, `${prefix}${guess}${suffix}`])) as [string | null, string | null];
        if (current === guess) return { version: current, value };
        if (current) return { version: current, value: await get(`${prefix}${current}${suffix}`) };
      }
      const current = await version(versionKey);
      return { version: current, value: await get(`${prefix}${current}${suffix}`) };
    },
    get,
    async set(key, value, ttlMs) {
      if (ttlMs > 0) await redis.send("SET", [key, value, "PX", String(ttlMs)]);
    },
    async acquire(key, token, ttlMs) {
      return (await redis.send("SET", [key, token, "PX", String(ttlMs), "NX"])) === "OK";
    },
    async release(key, token) {
      await redis.send("EVAL", [RELEASE_LOCK, "1", key, token]);
    },
  };
}

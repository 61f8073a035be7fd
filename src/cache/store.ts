/**
 * The cache port — tenant versions, entries with a TTL, and short load locks — and its in-memory
 * adapter for the embedded `start` mode (one process, so no Redis). The Redis adapter
 * (redis-store.ts) has the same semantics; test/integration/cache.test.ts runs both through one
 * contract. Callers build the keys (keys.ts); values are strings (JSON).
 */

export interface CacheStore {
  readonly name: "redis" | "memory";
  /**
   * The version stored at `key`. A missing version starts at the current time in microseconds, so
   * a lost version key (eviction, a flush) never brings back a version that entries were cached under.
   */
  version(key: string): Promise<string>;
  /** Advances the version at `key` (creating it like `version` does) and returns the new one. */
  bump(key: string): Promise<string>;
  /**
   * The version at `versionKey` (created like `version` does) and the entry `prefix + version +
   * suffix`. `guess`, the version the caller expects, lets both be read in one round trip (an MGET
   * of the version and the entry under the guess); a wrong guess costs a second read, never a
   * wrong answer.
   */
  lookup(versionKey: string, prefix: string, suffix: string, guess?: string): Promise<{ version: string; value: string | null }>;
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  /** `SET key token NX PX ttlMs`: true when `token` holds the lock now. */
  acquire(key: string, token: string, ttlMs: number): Promise<boolean>;
  /** Deletes the lock only while `token` still holds it (a lock that expired and was retaken stays). */
  release(key: string, token: string): Promise<void>;
}

/** A new version counter: the wall clock in µs (fits 2^53 until the year 2255). */
export const freshVersion = () => String(Date.now() * 1000);

type Entry = { value: string; expiresAt: number; bytes: number };

/** Entries are kept in least-recently-used order and evicted beyond `maxBytes` (UTF-16 size of keys and values). */
export function createMemoryStore(opts: { maxBytes: number; now?: () => number }): CacheStore {
  const now = opts.now ?? Date.now;
  const versions = new Map<string, number>();
  const entries = new Map<string, Entry>();
  const locks = new Map<string, { token: string; expiresAt: number }>();
  let bytes = 0;

  const drop = (key: string) => {
    const e = entries.get(key);
    if (!e) return;
    entries.delete(key);
    bytes -= e.bytes;
  };
  const currentVersion = (key: string) => {
    const v = versions.get(key) ?? Number(freshVersion());
    versions.set(key, v);
    return v;
  };
  const liveLock = (key: string) => {
    const lock = locks.get(key);
    if (lock && lock.expiresAt <= now()) locks.delete(key);
    return locks.get(key);
  };

  async function get(key: string): Promise<string | null> {
    const e = entries.get(key);
    if (!e) return null;
    if (e.expiresAt <= now()) {
      drop(key);
      return null;
    }
    // Re-insert: Map iteration order is the LRU order.
    entries.delete(key);
    entries.set(key, e);
    return e.value;
  }

  return {
    name: "memory",
    async version(key) {
      return String(currentVersion(key));
    },
    async bump(key) {
      const v = currentVersion(key) + 1;
      versions.set(key, v);
      return String(v);
    },
    async lookup(versionKey, prefix, suffix) {
      const version = String(currentVersion(versionKey));
      return { version, value: await get(`${prefix}${version}${suffix}`) };
    },
    get,
    async set(key, value, ttlMs) {
      drop(key);
      const size = 2 * (key.length + value.length);
      if (size > opts.maxBytes || ttlMs <= 0) return;
      entries.set(key, { value, expiresAt: now() + ttlMs, bytes: size });
      bytes += size;
      for (const oldest of entries.keys()) {
        if (bytes <= opts.maxBytes) break;
        drop(oldest);
      }
    },
    async acquire(key, token, ttlMs) {
      if (liveLock(key)) return false;
      locks.set(key, { token, expiresAt: now() + ttlMs });
      return true;
    },
    async release(key, token) {
      if (liveLock(key)?.token === token) locks.delete(key);
    },
  };
}

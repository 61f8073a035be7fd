/**
 * The scenario output cache: per-tenant versioned entries, singleflight in two layers, and
 * degradation to the store whenever the cache store fails. See docs/cache.md for the design and
 * the argument that no reader caches pre-commit data under a post-commit version.
 *
 * Readers: `version(kind, tenant)` BEFORE reading anything the value depends on (the run to read, the
 * rows), then `getOrLoad(kind, tenant, query, loader, { version })`. Writers: `invalidate(...)`
 * AFTER their change committed. Nothing here throws because of the cache: a failed cache
 * operation costs a store query, never an error response.
 */
import { AppError } from "../platform/errors";
import type { Logger } from "../platform/logger";
import { withTimeout } from "../platform/timers";
import { type EventSink, type Invalidation, invalidationMessage } from "./events";
import { type CacheKind, entryKeyParts, lockKey, versionKey } from "./keys";
import type { CacheMetrics } from "./metrics";
import type { CacheStore } from "./store";

export type ScenarioCacheOptions = {
  /** None: nothing is cached (invalidations still publish their events). */
  store?: CacheStore;
  /** Prefix of every key (default aurum:scenario-cache:v1). */
  namespace?: string;
  /** TTL per kind (default 60 s each); 0 turns that kind off. */
  ttlSeconds?: Record<CacheKind, number>;
  /** Larger values are returned but not cached (default 2 MiB). */
  maxEntryBytes?: number;
  /** How long a request waits for another replica's load of the same key before querying itself (default 5 s; 0: never waits). */
  waitMs?: number;
  /** After a failed cache operation, the cache is skipped this long (default 1 s), so a slow Redis costs one timeout per second, not one per request. */
  cooldownMs?: number;
  metrics?: CacheMetrics;
  log: Logger;
  /** Where invalidation events go (Kafka, when AURUM_SCENARIO_CACHE_INVALIDATION_TOPIC is set). */
  publish?: EventSink;
};

/** A version read for one request; null means the cache is unavailable for it (read the store directly). */
export type CacheVersion = string | null;

/**
 * How values are kept as cache strings. `decode` answers undefined for an entry it does not
 * recognise, which then counts as none: never a 500 because of the cache.
 */
export type CacheCodec<T> = { encode: (value: T) => string | undefined; decode: (text: string) => T | undefined };

/** The default: JSON values. */
const JSON_CODEC: CacheCodec<unknown> = {
  encode: (value) => JSON.stringify(value),
  decode(text) {
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  },
};

/** Where a flight's value came from; `bypass`: the cache failed, the store answered. */
type Flight = Promise<{ value: unknown; from: "cache" | "store" | "bypass" }>;

const NO_METRICS: CacheMetrics = { hit() {}, miss() {}, error() {}, wait() {}, load() {}, lookup() {}, invalidation() {} };
const BUMP_RETRIES_MS = [50, 200, 800];

export function createScenarioCache(opts: ScenarioCacheOptions) {
  const { store, log } = opts;
  const namespace = opts.namespace ?? "aurum:scenario-cache:v1";
  const ttlSeconds = opts.ttlSeconds ?? { outputs: 60, metrics: 60, compare: 60 };
  const maxEntryBytes = opts.maxEntryBytes ?? 2 * 1024 * 1024;
  const waitMs = opts.waitMs ?? 5_000;
  const metrics = opts.metrics ?? NO_METRICS;
  const cooldownMs = opts.cooldownMs ?? 1_000;
  // A leader that died (its process, not its query) holds the key no longer than followers wait anyway.
  const lockMs = Math.max(waitMs, 1_000);
  const flights = new Map<string, Flight>();
  const attempt = guardStore(store, log, cooldownMs);
  const locked: LockedLoad = { attempt, metrics, waitMs, lockMs, maxEntryBytes };
  // The last version seen per tenant: the guess that lets a lookup read version and entry in one round trip.
  const seen = new Map<string, string>();
  const remember = (tenantId: string, version: string) => {
    if (seen.size >= 10_000 && !seen.has(tenantId)) seen.clear();
    seen.set(tenantId, version);
  };
  const events = invalidationEvents(opts.publish, log);

  /**
   * The first read of a request: the version and the entry under it in one step (or the entry under
   * the `version` given). Null when there is no version to use (the store failed, or was skipped).
   */
  async function read(kind: CacheKind, tenantId: string, prefix: string, suffix: string, version: CacheVersion | undefined) {
    if (version === null) return null;
    const t0 = performance.now();
    const got =
      version === undefined
        ? await attempt("lookup", (s) => s.lookup(versionKey(namespace, tenantId), prefix, suffix, seen.get(tenantId)))
        : await attempt("get", async (s) => ({ version, value: await s.get(`${prefix}${version}${suffix}`) }));
    if (!got.ok) return null;
    metrics.lookup(kind, (performance.now() - t0) / 1000);
    remember(tenantId, got.value.version);
    return got.value;
  }

  async function readVersion(kind: CacheKind, tenantId: string): Promise<CacheVersion> {
    if (ttlSeconds[kind] <= 0) return null;
    const v = await attempt("version", (s) => s.version(versionKey(namespace, tenantId)));
    return v.ok ? v.value : null;
  }

  return {
    /** The backend in use, for logs: redis, memory or off. */
    backend: store?.name ?? "off",

    /** The tenant's current version (null: do not cache); read it before anything the cached value is computed from. */
    version: readVersion,

    /**
     * The value of `query` for this tenant: from the cache, from a load already running for the same
     * key, or from `loader` (whose result is cached if it is a JSON value within the size bound).
     * Pass the `version` read before the request looked at the store; without it, it is read here.
     * Errors of `loader` are never cached; a 4xx is shared with requests that joined its load, other
     * errors make each joiner try once more (so one failure does not fail every waiting request).
     * Values are JSON unless a `codec` says otherwise (the same codec for every use of one kind).
     */
    async getOrLoad<T>(kind: CacheKind, tenantId: string, query: unknown, loader: () => Promise<T>, o: { version?: CacheVersion; codec?: CacheCodec<T> } = {}): Promise<T> {
      const codec = (o.codec ?? JSON_CODEC) as CacheCodec<unknown>;
      const ttlMs = ttlSeconds[kind] * 1000;
      if (!store || ttlMs <= 0) return loader();
      const { prefix, suffix } = entryKeyParts(namespace, kind, tenantId, query);
      const found = await read(kind, tenantId, prefix, suffix, o.version);
      const hit = found?.value == null ? undefined : codec.decode(found.value);
      if (hit !== undefined) {
        metrics.hit(kind);
        return hit as T;
      }
      const version = found?.version ?? null;
      // Without a version (the cache store failed) nothing is cached, but identical requests in
      // this process still share one store query: an outage must not become a stampede.
      const key = version === null ? `bypass:${prefix}${suffix}` : `${prefix}${version}${suffix}`;
      const start: () => Flight =
        version === null ? async () => ({ value: await countedLoad(metrics, kind, loader), from: "bypass" }) : () => loadUnderLock(locked, kind, key, ttlMs, loader, codec);
      const joined = flights.has(key);
      if (joined) metrics.wait(kind);
      let result: Awaited<Flight>;
      try {
        result = await joinFlight(flights, key, start).catch((err) => {
          // A 4xx is the answer to this query; anything else may be the leader's own bad luck.
          if (!joined || (err instanceof AppError && err.status < 500)) throw err;
          return joinFlight(flights, key, start);
        });
      } catch (err) {
        if (version === null) metrics.error(kind);
        else metrics.miss(kind);
        throw err;
      }
      if (result.from === "cache") metrics.hit(kind);
      else if (result.from === "store") metrics.miss(kind);
      else metrics.error(kind);
      return result.value as T;
    },

    /**
     * Bumps the tenant's version after a change committed (retried briefly; if the store stays
     * unreachable, entries of the old version expire by their TTL) and publishes the event.
     */
    async invalidate(inv: Invalidation): Promise<CacheVersion> {
      let version: CacheVersion = null;
      if (store) {
        for (const delay of [0, ...BUMP_RETRIES_MS]) {
          if (delay) await Bun.sleep(delay);
          try {
            version = await store.bump(versionKey(namespace, inv.tenantId));
            break;
          } catch (err) {
            if (delay === BUMP_RETRIES_MS.at(-1)) log.error("cache_invalidation_failed", { tenant_id: inv.tenantId, reason: inv.reason, error: (err as Error).message });
          }
        }
        metrics.invalidation(inv.reason, version === null ? "failed" : "ok");
      }
      events.announce(inv, version);
      return version;
    },

    /** Waits (at most `ms`) for invalidation events still being published. */
    flush: (ms = 5_000): Promise<void> => events.flush(ms),
  };
}

export type ScenarioCache = ReturnType<typeof createScenarioCache>;

/** Publishes invalidation events without holding the caller up; `flush` waits (at most `ms`) for those in flight. */
function invalidationEvents(publish: EventSink | undefined, log: Logger) {
  const publishing = new Set<Promise<void>>();
  return {
    announce(inv: Invalidation, version: CacheVersion): void {
      if (!publish) return;
      const p = publish(invalidationMessage(inv, version))
        .catch((err) => log.warn("cache_invalidation_event_failed", { tenant_id: inv.tenantId, reason: inv.reason, error: (err as Error).message }))
        .finally(() => publishing.delete(p));
      publishing.add(p);
    },
    async flush(ms: number): Promise<void> {
      await withTimeout(Promise.allSettled([...publishing]), ms, () => undefined);
    },
  };
}

type Attempt = <T>(what: string, op: (s: CacheStore) => Promise<T>) => Promise<{ ok: true; value: T } | { ok: false }>;

/**
 * Runs cache operations against `store`: a failure opens the cool-off (the store is skipped for
 * `cooldownMs`, warned about at most every 10 s) and answers `ok: false`, never an error.
 */
function guardStore(store: CacheStore | undefined, log: Logger, cooldownMs: number): Attempt {
  let downUntil = 0;
  let lastWarn = 0;
  return async (what, op) => {
    if (!store || Date.now() < downUntil) return { ok: false };
    try {
      return { ok: true, value: await op(store) };
    } catch (err) {
      downUntil = Date.now() + cooldownMs;
      if (Date.now() - lastWarn > 10_000) {
        lastWarn = Date.now();
        log.warn("cache_unavailable", { op: what, store: store.name, error: (err as Error).message, retry_in_ms: cooldownMs });
      }
      return { ok: false };
    }
  };
}

async function countedLoad<T>(metrics: CacheMetrics, kind: CacheKind, loader: () => Promise<T>): Promise<T> {
  metrics.load(kind);
  return loader();
}

/** In-process singleflight: joins the running flight of `key` or starts one. */
function joinFlight(flights: Map<string, Flight>, key: string, start: () => Flight): Flight {
  const running = flights.get(key);
  if (running) return running;
  const p = start().finally(() => {
    if (flights.get(key) === p) flights.delete(key);
  });
  flights.set(key, p);
  return p;
}

/** What a load under the cross-replica lock needs from its cache. */
type LockedLoad = { attempt: Attempt; metrics: CacheMetrics; waitMs: number; lockMs: number; maxEntryBytes: number };

/** Stores a loaded value under the version read before loading (bounded size). */
async function keep(c: LockedLoad, key: string, value: unknown, ttlMs: number, codec: CacheCodec<unknown>): Promise<void> {
  const text = codec.encode(value);
  if (text === undefined || Buffer.byteLength(text) > c.maxEntryBytes) return;
  await c.attempt("set", (s) => s.set(key, text, ttlMs));
}

/**
 * One load of `key` per process, after a miss: the load of whichever replica holds the lock
 * (waited for at most `waitMs`), else our own load. A leader that fails releases its lock, and
 * the next follower to poll takes it over.
 */
async function loadUnderLock(c: LockedLoad, kind: CacheKind, key: string, ttlMs: number, loader: () => Promise<unknown>, codec: CacheCodec<unknown>): Flight {
  const { attempt, metrics, waitMs, lockMs } = c;
  const decode = (text: string | null) => (text === null ? undefined : codec.decode(text));
  const lock = lockKey(key);
  const token = crypto.randomUUID();
  const deadline = Date.now() + waitMs;
  let pollMs = 5;
  let waited = false;
  for (;;) {
    const locked = waitMs > 0 ? await attempt("lock", (s) => s.acquire(lock, token, lockMs)) : { ok: true as const, value: false };
    // We hold the lock, or there is nothing to wait for: load (and cache) ourselves.
    if (!locked.ok || locked.value || Date.now() >= deadline) {
      try {
        // A leader that finished between our miss and our lock has cached the value already.
        if (locked.ok && locked.value) {
          const again = await attempt("get", (s) => s.get(key));
          const value = again.ok ? decode(again.value) : undefined;
          if (value !== undefined) return { value, from: "cache" };
        }
        const value = await countedLoad(metrics, kind, loader);
        await keep(c, key, value, ttlMs, codec);
        return { value, from: locked.ok ? "store" : "bypass" };
      } finally {
        if (locked.ok && locked.value) await attempt("unlock", (s) => s.release(lock, token));
      }
    }
    if (!waited) metrics.wait(kind);
    waited = true;
    await Bun.sleep(Math.min(pollMs, Math.max(1, deadline - Date.now())));
    pollMs = Math.min(pollMs * 2, 50);
    const again = await attempt("get", (s) => s.get(key));
    const value = again.ok ? decode(again.value) : undefined;
    if (value !== undefined) return { value, from: "cache" };
  }
}

/**
 * The output cache against the real Redis: the store contract (Redis and memory adapters alike),
 * hits and misses, version bumps, singleflight across two "replicas" sharing Redis, leader
 * failures, and degradation when Redis is killed or stalls (a throwaway redis-server of our own).
 */
import { afterAll, beforeAll, describe, expect, setSystemTime, test } from "bun:test";
import { closeRedis, createNativeRedis, createRedis, ioredisCommands, type NativeRedis, type Redis, redisReady } from "../../src/adapters/redis";
import { type CacheKind, entryKey, lockKey } from "../../src/cache/keys";
import type { CacheMetrics } from "../../src/cache/metrics";
import { createRedisStore } from "../../src/cache/redis-store";
import { createScenarioCache, type ScenarioCacheOptions } from "../../src/cache/service";
import { type CacheStore, createMemoryStore } from "../../src/cache/store";
import { AppError } from "../../src/platform/errors";
import { createLogger } from "../../src/platform/logger";
import { eventually } from "../support/eventually";
import { dropNamespace, TEST_REDIS_URL, testNamespace, throwawayRedis } from "../support/redis";

const log = createLogger("silent");

/** CacheMetrics that count, per event and kind. */
function recorder() {
  const counts: Record<string, number> = {};
  const bump = (name: string) => (kind: CacheKind) => {
    counts[`${name}:${kind}`] = (counts[`${name}:${kind}`] ?? 0) + 1;
  };
  const metrics: CacheMetrics = {
    hit: bump("hit"),
    miss: bump("miss"),
    error: bump("error"),
    wait: bump("wait"),
    load: bump("load"),
    lookup: bump("lookup"),
    invalidation: () => {},
  };
  const of = (name: string, kind: CacheKind = "outputs") => counts[`${name}:${kind}`] ?? 0;
  return { metrics, of };
}

/** A loader that counts its calls and takes `ms`; `fail(n)` makes the next n calls throw. */
function loader<T>(value: T, ms = 0) {
  let calls = 0;
  let failures = 0;
  const fn = async () => {
    calls++;
    if (ms) await Bun.sleep(ms);
    if (failures > 0) {
      failures--;
      throw new Error("store failed");
    }
    return value;
  };
  // defineProperty, not Object.assign: assign would copy the getter's current value once.
  return Object.defineProperties(fn as typeof fn & { readonly calls: number; fail(n: number): void }, {
    calls: { get: () => calls },
    fail: {
      value: (n: number) => {
        failures = n;
      },
    },
  });
}

let redis: Redis;
/** The client the service uses for the cache (Bun's); ioredis (`redis`) runs the store contract too, and cleans up. */
let native: NativeRedis;
const namespace = testNamespace("cache");

beforeAll(async () => {
  redis = createRedis(TEST_REDIS_URL);
  expect(await redisReady(redis, 2_000)).toBe(true);
  native = createNativeRedis(TEST_REDIS_URL);
  expect(await native.ready(2_000)).toBe(true);
});
afterAll(async () => {
  await dropNamespace(redis, namespace);
  await closeRedis(redis);
  native.close();
});

const stores: [string, () => CacheStore][] = [
  ["redis (Bun's client)", () => createRedisStore(native)],
  ["redis (ioredis)", () => createRedisStore(ioredisCommands(redis))],
  ["memory", () => createMemoryStore({ maxBytes: 1 << 20 })],
];

for (const [name, make] of stores) {
  describe(`cache store contract: ${name}`, () => {
    const k = (s: string) => `${namespace}:contract:${name}:${s}`;

    test("versions start at the clock in µs, persist, and bump by one", async () => {
      const store = make();
      const before = Date.now() * 1000;
      const v = await store.version(k("v"));
      expect(Number(v)).toBeGreaterThanOrEqual(before);
      expect(await store.version(k("v"))).toBe(v);
      expect(await store.bump(k("v"))).toBe(String(Number(v) + 1));
      expect(await store.version(k("v"))).toBe(String(Number(v) + 1));
      // Bumping a version never read creates it, and never at a value an earlier counter could have used.
      expect(Number(await store.bump(k("fresh")))).toBeGreaterThanOrEqual(before);
    });

    test("entries: get, set with TTL, expiry", async () => {
      const store = make();
      expect(await store.get(k("e"))).toBeNull();
      await store.set(k("e"), '{"a":1}', 150);
      expect(await store.get(k("e"))).toBe('{"a":1}');
      await Bun.sleep(200);
      expect(await store.get(k("e"))).toBeNull();
    });

    test("lookup: the version (created if missing) and the entry under it, together", async () => {
      const store = make();
      const before = Date.now() * 1000;
      const first = await store.lookup(k("lv"), k("entry:"), ":q");
      expect(Number(first.version)).toBeGreaterThanOrEqual(before);
      expect(first.value).toBeNull();
      expect(await store.version(k("lv"))).toBe(first.version);
      await store.set(k(`entry:${first.version}:q`), "page", 10_000);
      expect(await store.lookup(k("lv"), k("entry:"), ":q")).toEqual({ version: first.version, value: "page" });
      // After a bump the same query reads the entry of the new version: none yet.
      const bumped = await store.bump(k("lv"));
      expect(await store.lookup(k("lv"), k("entry:"), ":q")).toEqual({ version: bumped, value: null });
    });

    test("locks: NX with a token, released by the holder only, expiring", async () => {
      const store = make();
      expect(await store.acquire(k("l"), "a", 150)).toBe(true);
      expect(await store.acquire(k("l"), "b", 150)).toBe(false);
      await store.release(k("l"), "b");
      expect(await store.acquire(k("l"), "b", 150)).toBe(false);
      await store.release(k("l"), "a");
      expect(await store.acquire(k("l"), "b", 150)).toBe(true);
      await Bun.sleep(200);
      expect(await store.acquire(k("l"), "c", 150)).toBe(true);
    });
  });
}

describe("scenario cache on Redis", () => {
  const make = (o: Partial<ScenarioCacheOptions> = {}) => {
    const r = recorder();
    const cache = createScenarioCache({ store: createRedisStore(native), namespace, log, metrics: r.metrics, waitMs: 2_000, ...o });
    return { cache, ...r };
  };
  let tenantSeq = 0;
  const tenant = () => `tenant-${++tenantSeq}`;

  test("a miss loads and caches; the same query (any key order) then hits", async () => {
    const { cache, of } = make();
    const t = tenant();
    const load = loader({ items: [1, 2, 3] });
    expect(await cache.getOrLoad("outputs", t, { a: 1, b: 2 }, load)).toEqual({ items: [1, 2, 3] });
    expect(await cache.getOrLoad("outputs", t, { b: 2, a: 1 }, load)).toEqual({ items: [1, 2, 3] });
    expect(load.calls).toBe(1);
    expect([of("hit"), of("miss"), of("load"), of("error")]).toEqual([1, 1, 1, 0]);
    // Other queries, kinds and tenants are other entries.
    await cache.getOrLoad("outputs", t, { a: 1, b: 3 }, load);
    await cache.getOrLoad("metrics", t, { a: 1, b: 2 }, load);
    await cache.getOrLoad("outputs", tenant(), { a: 1, b: 2 }, load);
    expect(load.calls).toBe(4);
  });

  test("a version bump makes the next read of every query of that tenant miss, and no other tenant's", async () => {
    const { cache } = make();
    const [t, other] = [tenant(), tenant()];
    const load = loader("v");
    await cache.getOrLoad("outputs", t, { q: 1 }, load);
    await cache.getOrLoad("metrics", t, { q: 1 }, load);
    await cache.getOrLoad("outputs", other, { q: 1 }, load);
    expect(load.calls).toBe(3);
    const before = await cache.version("outputs", t);
    const after = await cache.invalidate({ tenantId: t, reason: "outputs_committed" });
    expect(Number(after)).toBe(Number(before) + 1);
    await cache.getOrLoad("outputs", t, { q: 1 }, load);
    await cache.getOrLoad("metrics", t, { q: 1 }, load);
    await cache.getOrLoad("outputs", other, { q: 1 }, load);
    expect(load.calls).toBe(5);
  });

  test("TTL per kind; 0 turns a kind off; values over the size bound are served, not cached", async () => {
    const { cache } = make({ ttlSeconds: { outputs: 0, metrics: 60, compare: 60 }, maxEntryBytes: 1024 });
    const t = tenant();
    const small = loader("x");
    await cache.getOrLoad("outputs", t, {}, small);
    await cache.getOrLoad("outputs", t, {}, small);
    expect(small.calls).toBe(2);
    const big = loader("y".repeat(2000));
    expect(await cache.getOrLoad("metrics", t, {}, big)).toHaveLength(2000);
    await cache.getOrLoad("metrics", t, {}, big);
    expect(big.calls).toBe(2);
  });

  test("100 concurrent identical misses on two replicas sharing Redis → one store query", async () => {
    const a = make();
    const b = make();
    const t = tenant();
    const load = loader({ rows: 42 }, 100);
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).cache.getOrLoad("outputs", t, { same: true }, load)));
    expect(results.every((r) => r.rows === 42)).toBe(true);
    expect(load.calls).toBe(1);
    // In each process 49 joined its flight; one of the two flights waited for the other replica.
    expect(a.of("wait") + b.of("wait")).toBe(99);
    expect(a.of("load") + b.of("load")).toBe(1);
    expect(a.of("miss") + b.of("miss") + a.of("hit") + b.of("hit")).toBe(100);
  });

  test("a failing leader does not fail its followers: they take over once, on either replica", async () => {
    const a = make();
    const b = make();
    const t = tenant();
    const load = loader("ok", 80);
    load.fail(1);
    const settled = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => (i < 50 ? a : b).cache.getOrLoad("outputs", t, { leader: "fails" }, load)));
    const rejected = settled.filter((s) => s.status === "rejected");
    // Only the leader's own request sees its failure; one follower loads again for everyone else.
    expect(rejected).toHaveLength(1);
    expect(settled.filter((s) => s.status === "fulfilled" && s.value === "ok")).toHaveLength(99);
    expect(load.calls).toBe(2);
  });

  test("a 4xx from the loader is the answer: shared with joiners, not retried, not cached", async () => {
    const { cache } = make();
    const t = tenant();
    let calls = 0;
    const notFound = async () => {
      calls++;
      await Bun.sleep(30);
      throw new AppError("NOT_FOUND", "run not found");
    };
    const settled = await Promise.allSettled(Array.from({ length: 10 }, () => cache.getOrLoad("outputs", t, { q: 404 }, notFound)));
    expect(settled.every((s) => s.status === "rejected" && (s.reason as AppError).code === "NOT_FOUND")).toBe(true);
    expect(calls).toBe(1);
    await cache.getOrLoad("outputs", t, { q: 404 }, notFound).catch(() => {});
    expect(calls).toBe(2);
  });

  test("an entry that is not JSON counts as a miss and is replaced", async () => {
    const { cache, of } = make();
    const t = tenant();
    const version = (await cache.version("outputs", t)) as string;
    await redis.set(entryKey(namespace, "outputs", t, version, { q: "garbage" }), "{not json", "PX", 10_000);
    const load = loader({ ok: true });
    expect(await cache.getOrLoad("outputs", t, { q: "garbage" }, load)).toEqual({ ok: true });
    expect(await cache.getOrLoad("outputs", t, { q: "garbage" }, load)).toEqual({ ok: true });
    expect([load.calls, of("miss"), of("hit")]).toEqual([1, 1, 1]);
  });

  test("a leader that died holding the lock delays followers by the bounded wait, then they query", async () => {
    const { cache, of } = make({ waitMs: 300 });
    const t = tenant();
    const query = { orphaned: true };
    // A leader on another replica took the lock and vanished (no value, no release).
    const version = (await cache.version("outputs", t)) as string;
    await redis.set(lockKey(entryKey(namespace, "outputs", t, version, query)), "dead-replica", "PX", 120_000);
    const load = loader("fallback");
    const started = performance.now();
    expect(await cache.getOrLoad("outputs", t, query, load)).toBe("fallback");
    const waited = performance.now() - started;
    // The bounded wait, not the dead lock's 120 s life (a loaded machine only adds to both figures).
    expect(waited).toBeGreaterThanOrEqual(290);
    expect(waited).toBeLessThan(60_000);
    expect(load.calls).toBe(1);
    expect(of("wait")).toBe(1);
    // The fallback cached its value (under the version read first), so the next read hits.
    expect(await cache.getOrLoad("outputs", t, query, load)).toBe("fallback");
    expect(load.calls).toBe(1);
  });
});

describe("degradation: Redis killed, restarted, stalled", () => {
  let server: Awaited<ReturnType<typeof throwawayRedis>>;
  let client: NativeRedis;
  let stats: Redis;
  beforeAll(async () => {
    server = await throwawayRedis();
    client = createNativeRedis(server.url, { commandTimeoutMs: 100 });
    expect(await client.ready(2_000)).toBe(true);
    stats = createRedis(server.url);
    expect(await redisReady(stats, 2_000)).toBe(true);
  }, 120_000);
  afterAll(async () => {
    client.close();
    await closeRedis(stats);
    await server.cleanup();
  });

  const make = () => {
    const r = recorder();
    // Every store operation counted: a read during the cool-off must make none.
    const real = createRedisStore(client);
    const calls = { n: 0 };
    const store = { ...real } as CacheStore;
    for (const [name, op] of Object.entries(real))
      if (typeof op === "function")
        Object.assign(store, {
          [name]: (...args: unknown[]) => {
            calls.n++;
            return op.apply(real, args);
          },
        });
    return { cache: createScenarioCache({ store, namespace, log, metrics: r.metrics, waitMs: 1_000, cooldownMs: 200 }), calls, ...r };
  };
  /** Reads until one is a hit (the client reconnects with backoff, the cool-off expires). */
  async function untilHit(cache: ReturnType<typeof make>["cache"], of: (n: string) => number, load: () => Promise<unknown>) {
    const hits = of("hit");
    await eventually(
      async () => {
        await cache.getOrLoad("outputs", "t-down", { q: 1 }, load);
        return of("hit") > hits;
      },
      { what: "the cache to recover (a hit)" },
    );
  }

  test("a hit is one Redis round trip (MGET of the version and the entry); a moved version costs one more read", async () => {
    const { cache, of } = make();
    const load = loader({ rows: [1] });
    await cache.getOrLoad("outputs", "t-trips", { q: 1 }, load); // a miss: the version is now known
    await stats.config("RESETSTAT");
    for (let i = 0; i < 20; i++) expect(await cache.getOrLoad("outputs", "t-trips", { q: 1 }, load)).toEqual({ rows: [1] });
    const calls = async () => {
      const lines = (await stats.info("commandstats")).split("\n").filter((l) => l.startsWith("cmdstat_") && !/^cmdstat_(info|config)/.test(l));
      return Object.fromEntries(lines.map((l) => [l.split(":")[0], Number(l.match(/calls=(\d+)/)?.[1])]));
    };
    expect(await calls()).toEqual({ cmdstat_mget: 20 });
    expect([of("hit"), of("lookup"), load.calls]).toEqual([20, 21, 1]);

    await cache.invalidate({ tenantId: "t-trips", reason: "admin" });
    await stats.config("RESETSTAT");
    expect(await cache.getOrLoad("outputs", "t-trips", { q: 1 }, load)).toEqual({ rows: [1] });
    // The MGET shows a new version, so the entry under it is read (GET); none: the lock (SET NX), the
    // re-check under it (GET), the entry (SET), the unlock (EVAL: GET and DEL).
    expect(await calls()).toEqual({ cmdstat_mget: 1, cmdstat_get: 3, cmdstat_set: 2, cmdstat_eval: 1, cmdstat_del: 1 });
    expect(load.calls).toBe(2);
    await stats.config("RESETSTAT");
    await cache.getOrLoad("outputs", "t-trips", { q: 1 }, load);
    expect(await calls()).toEqual({ cmdstat_mget: 1 });
  });

  test("killed: reads go to the store, errors are counted, nothing throws; after a restart it caches again", async () => {
    const { cache, of } = make();
    const load = loader("from-store");
    await cache.getOrLoad("outputs", "t-down", { q: 1 }, load);
    await cache.getOrLoad("outputs", "t-down", { q: 1 }, load);
    expect([of("miss"), of("hit")]).toEqual([1, 1]);

    await server.kill();
    for (let i = 0; i < 5; i++) expect(await cache.getOrLoad("outputs", "t-down", { q: 1 }, load)).toBe("from-store");
    expect(of("error")).toBe(5);
    expect(load.calls).toBe(6);
    // Identical concurrent reads still share one store query while the cache is down.
    const slow = loader("from-store", 20);
    const shared = await Promise.all(Array.from({ length: 20 }, () => cache.getOrLoad("outputs", "t-down", { q: 1 }, slow)));
    expect(shared.every((v) => v === "from-store")).toBe(true);
    expect(slow.calls).toBe(1);
    expect(of("error")).toBe(25);
    // Writers do not fail either: the bump is retried briefly, then given up (entries expire by TTL).
    expect(await cache.invalidate({ tenantId: "t-down", reason: "admin" })).toBeNull();

    await server.start();
    await untilHit(cache, of, load);
    expect(await cache.getOrLoad("outputs", "t-down", { q: 1 }, load)).toBe("from-store");
  }, 120_000);

  test("stalled (CLIENT PAUSE): a read ends at the command timeout, not when Redis answers; the next read skips Redis during the cool-off", async () => {
    const { cache, of, calls } = make();
    const load = loader("fresh");
    await untilHit(cache, of, load);
    const hits = of("hit");
    const pauser = createRedis(server.url);
    await redisReady(pauser);
    await pauser.call("CLIENT", "PAUSE", "1000", "ALL");
    // The cache's clock stands still, so its 200 ms cool-off cannot lapse between the two reads however slow the machine.
    setSystemTime(new Date());
    try {
      expect(await cache.getOrLoad("outputs", "t-down", { q: 1 }, load)).toBe("fresh");
      // Redis answering after the pause would have been a hit: the read gave up at its 100 ms command timeout instead.
      expect(of("hit")).toBe(hits);
      const before = calls.n;
      expect(await cache.getOrLoad("outputs", "t-down", { q: 1 }, load)).toBe("fresh");
      expect(calls.n).toBe(before);
      expect(of("error")).toBe(2);
    } finally {
      setSystemTime();
    }
    await untilHit(cache, of, load);
    await closeRedis(pauser);
  }, 120_000);
});

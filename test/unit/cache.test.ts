/** Cache keys (canonical queries) and the in-memory store's semantics: versions, TTLs, LRU bound, locks. */
import { describe, expect, test } from "bun:test";
import { canonicalQuery, entryKey, lockKey, queryHash, versionKey } from "../../src/cache/keys";
import { createMemoryStore } from "../../src/cache/store";
import { ConfigError, loadConfig } from "../../src/config";

describe("cache keys", () => {
  test("the same filters in any order, with or without absent values, give one key", () => {
    const a = { filter: { tenantId: "t", scenarioId: "s", metric: "NPV", curveKey: undefined }, limit: 100, after: undefined, format: "json" };
    const b = { format: "json", limit: 100, filter: { metric: "NPV", scenarioId: "s", tenantId: "t", tenorType: null } };
    expect(canonicalQuery(a)).toBe(canonicalQuery(b));
    expect(canonicalQuery(a)).toBe('{"filter":{"metric":"NPV","scenarioId":"s","tenantId":"t"},"format":"json","limit":100}');
    expect(entryKey("ns", "outputs", "t", "7", a)).toBe(entryKey("ns", "outputs", "t", "7", b));
  });

  test("every part of the query changes the key: filters, limit, cursor, format", () => {
    const base = { filter: { metric: "NPV" }, limit: 100, after: { metric: "NPV", curve_key: "C1" }, format: "json" };
    const variants = [
      { ...base, filter: { metric: "mid" } },
      { ...base, limit: 101 },
      { ...base, after: { metric: "NPV", curve_key: "C2" } },
      { ...base, after: undefined },
      { ...base, format: "csv" },
      { ...base, limit: "100" },
    ];
    const hashes = new Set([base, ...variants].map(queryHash));
    expect(hashes.size).toBe(variants.length + 1);
  });

  test("arrays keep their order; nested objects are sorted", () => {
    expect(canonicalQuery({ b: [3, 1, { y: 1, x: 2 }], a: 1 })).toBe('{"a":1,"b":[3,1,{"x":2,"y":1}]}');
    expect(queryHash([1, 2])).not.toBe(queryHash([2, 1]));
  });

  test("keys carry namespace, tenant (as a hash tag), kind and version", () => {
    const key = entryKey("aurum:scenario-cache:v1", "metrics", "demo-tenant", "1700000000000001", { limit: 1 });
    expect(key).toMatch(/^aurum:scenario-cache:v1:\{demo-tenant\}:metrics:1700000000000001:[A-Za-z0-9_-]{22}$/);
    expect(entryKey("ns", "outputs", "t", "1", {})).not.toBe(entryKey("ns", "metrics", "t", "1", {}));
    expect(entryKey("ns", "outputs", "t", "1", {})).not.toBe(entryKey("ns", "outputs", "t", "2", {}));
    expect(entryKey("ns", "outputs", "t", "1", {})).not.toBe(entryKey("ns", "outputs", "u", "1", {}));
    expect(versionKey("ns", "t")).toBe("ns:{t}:version");
    expect(lockKey(key)).toBe(`${key}:lock`);
  });
});

describe("memory store", () => {
  const clock = () => {
    let t = 1_000_000;
    const advance = (ms: number) => {
      t += ms;
    };
    return { now: () => t, advance };
  };

  test("a new version starts at the wall clock in µs and bumps by one", async () => {
    const store = createMemoryStore({ maxBytes: 1 << 20 });
    const before = Date.now() * 1000;
    const v = Number(await store.version("v:a"));
    expect(v).toBeGreaterThanOrEqual(before);
    expect(await store.version("v:a")).toBe(String(v));
    expect(await store.bump("v:a")).toBe(String(v + 1));
    expect(await store.version("v:a")).toBe(String(v + 1));
    expect(Number(await store.bump("v:b"))).toBeGreaterThanOrEqual(before + 1);
  });

  test("entries expire after their TTL", async () => {
    const c = clock();
    const store = createMemoryStore({ maxBytes: 1 << 20, now: c.now });
    await store.set("k", "v", 1_000);
    expect(await store.get("k")).toBe("v");
    c.advance(999);
    expect(await store.get("k")).toBe("v");
    c.advance(1);
    expect(await store.get("k")).toBeNull();
  });

  test("the least recently used entries go first beyond the byte bound; oversized values are not kept", async () => {
    // Each entry: 2 × (1 + 9) = 20 bytes; room for three.
    const store = createMemoryStore({ maxBytes: 60 });
    for (const k of ["a", "b", "c"]) await store.set(k, "123456789", 60_000);
    expect(await store.get("a")).toBe("123456789"); // a is now the most recent
    await store.set("d", "123456789", 60_000);
    expect(await store.get("b")).toBeNull();
    expect(await store.get("a")).not.toBeNull();
    expect(await store.get("c")).not.toBeNull();
    expect(await store.get("d")).not.toBeNull();
    await store.set("big", "x".repeat(100), 60_000);
    expect(await store.get("big")).toBeNull();
    expect(await store.get("d")).not.toBeNull();
  });

  test("locks: NX, released only by their holder, retaken after expiry", async () => {
    const c = clock();
    const store = createMemoryStore({ maxBytes: 1 << 20, now: c.now });
    expect(await store.acquire("l", "one", 100)).toBe(true);
    expect(await store.acquire("l", "two", 100)).toBe(false);
    await store.release("l", "two");
    expect(await store.acquire("l", "two", 100)).toBe(false);
    c.advance(100);
    expect(await store.acquire("l", "two", 100)).toBe(true);
    await store.release("l", "one"); // expired holder: must not free two's lock
    expect(await store.acquire("l", "three", 100)).toBe(false);
    await store.release("l", "two");
    expect(await store.acquire("l", "three", 100)).toBe(true);
  });
});

describe("cache settings", () => {
  test("defaults: 60 s TTLs, no Redis, no events", () => {
    const c = loadConfig({});
    expect([c.scenarioOutputTtl, c.scenarioMetricsTtl, c.redisUrl, c.scenarioCacheInvalidationTopic]).toEqual([60, 60, undefined, undefined]);
  });

  test("the invalidation topic needs Kafka; the Redis URL must be redis: or rediss:", () => {
    const topic = { AURUM_SCENARIO_CACHE_INVALIDATION_TOPIC: "aurum.scenario.cache.invalidation.v1" };
    expect(() => loadConfig(topic)).toThrow(ConfigError);
    expect(loadConfig({ ...topic, AURUM_KAFKA_BROKERS: "127.0.0.1:9092" }).scenarioCacheInvalidationTopic).toBe(topic.AURUM_SCENARIO_CACHE_INVALIDATION_TOPIC);
    expect(() => loadConfig({ AURUM_REDIS_URL: "http://127.0.0.1:6379" })).toThrow(/AURUM_REDIS_URL/);
    expect(loadConfig({ AURUM_REDIS_URL: "rediss://:secret@redis:6380/1" }).redisUrl).toBe("rediss://:secret@redis:6380/1");
    expect(() => loadConfig({ AURUM_API_SCENARIO_OUTPUT_TTL: "-1" })).toThrow(/AURUM_API_SCENARIO_OUTPUT_TTL/);
  });
});

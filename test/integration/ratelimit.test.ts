/**
 * The rate limiter against the real Redis: the Lua GCRA's exactness under concurrency and its
 * refill on a controlled clock, one bucket shared by two app instances (replicas), per-prefix
 * overrides, headers on every limited response, the 429 envelope, exempt probes, one round trip
 * per request, and fail-open/fail-closed with a Redis of our own that we kill.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeRedis, createRedis, type Redis, redisReady } from "../../src/adapters/redis";
import { createMemoryRateLimitStore } from "../../src/ratelimit/gcra";
import { createRedisRateLimitStore } from "../../src/ratelimit/redis-store";
import { call, createTestDb, type TestDb } from "../support/app";
import { dropSoon, limitedApp } from "../support/limits";
import { dropNamespace, TEST_REDIS_URL, testNamespace, throwawayRedis } from "../support/redis";

const T0 = 1_750_000_000_000;

const limitHeaders = (h: Headers) => ({ limit: h.get("x-ratelimit-limit"), remaining: h.get("x-ratelimit-remaining"), reset: h.get("x-ratelimit-reset") });

describe("Redis GCRA script", () => {
  let redis: Redis;
  const ns = testNamespace("rl");
  beforeAll(async () => {
    redis = createRedis(TEST_REDIS_URL);
    expect(await redisReady(redis, 2_000)).toBe(true);
  });
  afterAll(async () => {
    await dropNamespace(redis, ns);
    await closeRedis(redis);
  });

  test("100 concurrent takes at one instant: exactly `burst` pass", async () => {
    const store = createRedisRateLimitStore(redis, { prefix: `${ns}:` });
    const decisions = await Promise.all(Array.from({ length: 100 }, () => store.take("burst", { rps: 10, burst: 20 }, T0)));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(20);
    expect(new Set(decisions.filter((d) => d.allowed).map((d) => d.remaining))).toEqual(new Set(Array.from({ length: 20 }, (_, i) => i)));
    const refused = decisions.find((d) => !d.allowed)!;
    expect(refused.retryAfterMs).toBe(100);
    expect(refused.resetMs).toBe(2000);
  });

  test("refill on a controlled clock: one token per interval, the full burst after the reset time", async () => {
    const store = createRedisRateLimitStore(redis, { prefix: `${ns}:` });
    const limit = { rps: 10, burst: 20 };
    for (let i = 0; i < 20; i++) expect((await store.take("refill", limit, T0)).allowed).toBe(true);
    expect((await store.take("refill", limit, T0 + 99)).allowed).toBe(false);
    expect((await store.take("refill", limit, T0 + 100)).allowed).toBe(true);
    expect((await store.take("refill", limit, T0 + 100)).allowed).toBe(false);
    const after = await Promise.all(Array.from({ length: 30 }, () => store.take("refill", limit, T0 + 2_100)));
    expect(after.filter((d) => d.allowed)).toHaveLength(20);
  });

  test("decides exactly as the in-memory store over a random schedule", async () => {
    const redisStore = createRedisRateLimitStore(redis, { prefix: `${ns}:` });
    const memory = createMemoryRateLimitStore();
    let seed = 7;
    const rand = () => {
      seed = (seed * 48_271) % 2_147_483_647;
      return seed / 2_147_483_647;
    };
    let now = T0;
    for (let i = 0; i < 300; i++) {
      now += Math.floor(rand() * 400);
      const key = `same-${i % 3}`;
      const limit = { rps: [3, 10, 0.5][i % 3]!, burst: [7, 20, 2][i % 3]! };
      expect(await redisStore.take(key, limit, now)).toEqual(await memory.take(key, limit, now));
    }
  });

  test("without a clock it uses Redis TIME", async () => {
    const store = createRedisRateLimitStore(redis, { prefix: `${ns}:` });
    const started = performance.now();
    const [a, b, c] = [await store.take("time", { rps: 1, burst: 2 }), await store.take("time", { rps: 1, burst: 2 }), await store.take("time", { rps: 1, burst: 2 })];
    const elapsed = performance.now() - started;
    expect([a.allowed, b.allowed, c.allowed]).toEqual([true, true, false]);
    // One interval (1 s) after the first take, less what Redis's clock saw pass between the takes (at most what ours did).
    expect(c.retryAfterMs).toBeGreaterThanOrEqual(1000 - Math.ceil(elapsed) - 1);
    expect(c.retryAfterMs).toBeLessThanOrEqual(1000);
  });
});

describe("HTTP limiter on Redis", () => {
  let db: TestDb;
  let redisA: Redis;
  let redisB: Redis;
  const ns = testNamespace("rl-http");
  let frozen = T0;
  // Two replicas: each its own Redis connection, one shared clock so refill cannot blur the count.
  const storeOn = (redis: Redis) => createRedisRateLimitStore(redis, { prefix: `${ns}:`, clock: () => frozen });

  beforeAll(async () => {
    db = await createTestDb("postgres");
    redisA = createRedis(TEST_REDIS_URL);
    redisB = createRedis(TEST_REDIS_URL);
    await Promise.all([redisReady(redisA), redisReady(redisB)]);
  });
  afterAll(async () => {
    await dropNamespace(redisA, ns);
    await Promise.all([closeRedis(redisA), closeRedis(redisB)]);
    await dropSoon(db);
  }, 120_000);

  test("a tenant at 10/s burst 20, 100 concurrent requests across two replicas: exactly 20 pass; another tenant is unaffected", async () => {
    frozen += 60_000;
    const a = (await limitedApp(db, storeOn(redisA))).app;
    const b = (await limitedApp(db, storeOn(redisB))).app;
    const put = await call(a, "PUT", "/v1/admin/config/ratelimit/t-limited", { body: { requests_per_second: 10, burst: 20, enabled: true } });
    expect(put.status).toBe(200);
    const t1 = { "x-aurum-tenant": "t-limited" };
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => call(i % 2 ? a : b, "GET", "/v1/scenarios?limit=1", { headers: t1 })));
    const passed = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 429);
    expect(passed).toHaveLength(20);
    expect(refused).toHaveLength(80);
    expect(new Set(passed.map((r) => Number(r.headers.get("x-ratelimit-remaining"))))).toEqual(new Set(Array.from({ length: 20 }, (_, i) => i)));
    for (const r of refused) {
      expect(limitHeaders(r.headers)).toEqual({ limit: "20", remaining: "0", reset: "2" });
      expect(r.headers.get("retry-after")).toBe("1");
      expect(r.json.error.code).toBe("RATE_LIMITED");
      expect(r.json.error.details).toMatchObject({ retry_after_seconds: 1, limit: 20, requests_per_second: 10 });
      expect(r.json.meta.request_id).toBe(r.headers.get("x-request-id"));
    }
    const other = await Promise.all(Array.from({ length: 30 }, (_, i) => call(i % 2 ? a : b, "GET", "/v1/scenarios?limit=1", { headers: { "x-aurum-tenant": "t-other" } })));
    expect(other.every((r) => r.status === 200 && r.headers.get("x-ratelimit-limit") === "100")).toBe(true);
    // A tenant's bucket refills with time: 100 ms buys exactly one more request.
    frozen += 100;
    expect((await call(a, "GET", "/v1/scenarios?limit=1", { headers: t1 })).status).toBe(200);
    expect((await call(b, "GET", "/v1/scenarios?limit=1", { headers: t1 })).status).toBe(429);
  });

  test("per-prefix overrides from the environment: the longest prefix wins, the rest keep the default", async () => {
    frozen += 60_000;
    const { app } = await limitedApp(db, storeOn(redisA), { AURUM_API_RATE_LIMIT_OVERRIDES: "/v1=1000:1000,/v1/curves=1:3" });
    const h = { "x-aurum-tenant": "t-prefix" };
    const curves = [];
    for (let i = 0; i < 4; i++) curves.push(await call(app, "GET", "/v1/curves?limit=1", { headers: h }));
    expect(curves.map((r) => r.status)).toEqual([200, 200, 200, 429]);
    expect(curves.map((r) => r.headers.get("x-ratelimit-limit"))).toEqual(["3", "3", "3", "3"]);
    const scenarios = await call(app, "GET", "/v1/scenarios?limit=1", { headers: h });
    expect(scenarios.status).toBe(200);
    expect(scenarios.headers.get("x-ratelimit-limit")).toBe("1000");
  });

  test("every limited response carries the headers: success, 400, 404, unknown route, 429", async () => {
    frozen += 60_000;
    // Slow refill: a bucket's Redis key expires in real time, and this clock is frozen.
    const { app } = await limitedApp(db, storeOn(redisA), { AURUM_API_RATE_LIMIT_BURST: "4", AURUM_API_RATE_LIMIT_RPS: "1" });
    const h = { "x-aurum-tenant": "t-headers" };
    const responses = [
      await call(app, "GET", "/v1/scenarios?limit=1", { headers: h }),
      await call(app, "GET", "/v1/scenarios?limit=0", { headers: h }),
      await call(app, "GET", "/v1/scenarios/00000000-0000-0000-0000-000000000000", { headers: h }),
      await call(app, "GET", "/v1/nothing-here", { headers: h }),
      await call(app, "POST", "/v1/scenarios", { headers: h, body: { name: "" } }),
    ];
    expect(responses.map((r) => r.status)).toEqual([200, 400, 404, 404, 429]);
    expect(responses.map((r) => limitHeaders(r.headers))).toEqual([
      { limit: "4", remaining: "3", reset: "1" },
      { limit: "4", remaining: "2", reset: "2" },
      { limit: "4", remaining: "1", reset: "3" },
      { limit: "4", remaining: "0", reset: "4" },
      { limit: "4", remaining: "0", reset: "4" },
    ]);
  });

  test("probes and metrics are exempt, even for a caller whose bucket is empty", async () => {
    frozen += 60_000;
    const { app } = await limitedApp(db, storeOn(redisA), { AURUM_API_RATE_LIMIT_BURST: "1", AURUM_API_RATE_LIMIT_RPS: "1" });
    await call(app, "GET", "/v1/scenarios?limit=1");
    expect((await call(app, "GET", "/v1/scenarios?limit=1")).status).toBe(429);
    for (const path of ["/healthz", "/readyz", "/metrics"]) {
      for (let i = 0; i < 3; i++) {
        const r = await call(app, "GET", path);
        expect(r.status).toBe(200);
        expect(r.headers.get("x-ratelimit-limit")).toBeNull();
      }
    }
  });

  test("without a verified tenant the client address identifies the caller; an X-Api-Key header changes nothing", async () => {
    frozen += 60_000;
    const { app } = await limitedApp(db, storeOn(redisA), { AURUM_API_RATE_LIMIT_BURST: "1", AURUM_API_RATE_LIMIT_RPS: "1" });
    const key = (k: string) => ({ "x-api-key": k });
    expect((await call(app, "GET", "/v1/scenarios?limit=1", { headers: key("alpha") })).status).toBe(200);
    expect((await call(app, "GET", "/v1/scenarios?limit=1", { headers: key("alpha") })).status).toBe(429);
    expect((await call(app, "GET", "/v1/scenarios?limit=1", { headers: key("beta") })).status).toBe(429);
    expect((await call(app, "GET", "/v1/scenarios?limit=1")).status).toBe(429);
    // A verified tenant has its own bucket.
    expect((await call(app, "GET", "/v1/scenarios?limit=1", { headers: { "x-aurum-tenant": "t-own" } })).status).toBe(200);
    // The key itself never reaches Redis.
    expect(await redisA.keys(`${ns}:*alpha*`)).toEqual([]);
  });

  test("a tenant's limit can be switched off through the runtime config", async () => {
    frozen += 60_000;
    const { app } = await limitedApp(db, storeOn(redisA), { AURUM_API_RATE_LIMIT_BURST: "1" });
    const h = { "x-aurum-tenant": "t-unlimited" };
    expect((await call(app, "PUT", "/v1/admin/config/ratelimit/t-unlimited", { body: { requests_per_second: 1, burst: 1, enabled: false } })).status).toBe(200);
    const results = await Promise.all(Array.from({ length: 5 }, () => call(app, "GET", "/v1/scenarios?limit=1", { headers: h })));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(results[0]!.headers.get("x-ratelimit-limit")).toBeNull();
  });
});

describe("Redis outages (a redis-server of our own)", () => {
  let db: TestDb;
  let own: Awaited<ReturnType<typeof throwawayRedis>>;
  let redis: Redis;

  beforeAll(async () => {
    db = await createTestDb("postgres");
    own = await throwawayRedis();
    redis = createRedis(own.url, { commandTimeoutMs: 200 });
    await redisReady(redis, 2_000);
  }, 120_000);
  afterAll(async () => {
    await closeRedis(redis);
    await own.cleanup();
    await dropSoon(db);
  }, 120_000);

  test("one Redis round trip per limited request", async () => {
    const { app } = await limitedApp(db, createRedisRateLimitStore(redis));
    await call(app, "GET", "/v1/scenarios?limit=1"); // loads the script (NOSCRIPT → EVAL once)
    await redis.config("RESETSTAT");
    for (let i = 0; i < 50; i++) await call(app, "GET", "/v1/scenarios?limit=1");
    const stats = (await redis.info("commandstats")).split("\n").filter((l) => l.startsWith("cmdstat_") && !/^cmdstat_(info|config)/.test(l));
    const calls = Object.fromEntries(stats.map((l) => [l.split(":")[0], Number(l.match(/calls=(\d+)/)?.[1])]));
    // The client sent EVALSHA only; Redis counts the script's own TIME, GET and SET as well.
    expect(calls).toEqual({ cmdstat_evalsha: 50, cmdstat_time: 50, cmdstat_get: 50, cmdstat_set: 50 });
  });

  test("Redis down: requests are served (fail open) and counted; back up: limited again", async () => {
    const { app, metrics } = await limitedApp(db, createRedisRateLimitStore(redis), { AURUM_API_RATE_LIMIT_BURST: "2", AURUM_API_RATE_LIMIT_RPS: "1" });
    const failOpen = async () => (await metrics.registry.getSingleMetric("aurum_ratelimit_requests_total")!.get()).values.find((v) => v.labels.outcome === "fail_open")?.value ?? 0;
    expect((await call(app, "GET", "/v1/scenarios?limit=1", { headers: { "x-aurum-tenant": "t-outage" } })).headers.get("x-ratelimit-limit")).toBe("2");
    await own.kill();
    const during = await Promise.all(Array.from({ length: 10 }, () => call(app, "GET", "/v1/scenarios?limit=1", { headers: { "x-aurum-tenant": "t-outage" } })));
    expect(during.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(during.every((r) => r.headers.get("x-ratelimit-limit") === null)).toBe(true);
    expect(await failOpen()).toBe(10);
    expect((await call(app, "GET", "/metrics")).text).toContain('aurum_ratelimit_requests_total{outcome="fail_open"} 10');
    await own.start();
    await redisReady(redis, 5_000);
    // The limiter leaves a failed store alone for a one-second cool-off, then probes it.
    await Bun.sleep(1_100);
    const after = [];
    for (let i = 0; i < 4; i++) after.push((await call(app, "GET", "/v1/scenarios?limit=1", { headers: { "x-aurum-tenant": "t-outage-2" } })).status);
    expect(after).toEqual([200, 200, 429, 429]);
  });

  test("AURUM_API_RATE_LIMIT_FAIL_MODE=closed: Redis down answers 503", async () => {
    const { app } = await limitedApp(db, createRedisRateLimitStore(redis), { AURUM_API_RATE_LIMIT_FAIL_MODE: "closed" });
    await own.kill();
    const r = await call(app, "GET", "/v1/scenarios?limit=1");
    expect(r.status).toBe(503);
    expect(r.json.error.code).toBe("UNAVAILABLE");
    expect((await call(app, "GET", "/healthz")).status).toBe(200);
    await own.start();
    await redisReady(redis, 5_000);
  });
});

/**
 * Issue 18, items 8, 9 and 15 (Redis): an unverified API key (or any other header a caller makes
 * up) never picks the rate-limit bucket, anonymous callers share their client address's bucket;
 * rates below one request per 1,000 s are refused everywhere and a stored one cannot break the
 * Redis script; a limiter failure follows the fail mode; a stalled Redis costs one store call per
 * cool-off instead of one per request (counted, not timed), and limiting resumes by itself.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { exportSPKI, generateKeyPair, SignJWT } from "jose";
import { closeRedis, createRedis, type Redis, redisReady } from "../../src/adapters/redis";
import { createMemoryRateLimitStore, type RateLimitStore } from "../../src/ratelimit/gcra";
import { parseOverrides } from "../../src/ratelimit/policy";
import { createRedisRateLimitStore } from "../../src/ratelimit/redis-store";
import { call, createTestDb, type TestDb } from "../support/app";
import { eventually } from "../support/eventually";
import { dropSoon, limitedApp } from "../support/limits";
import { dropNamespace, TEST_REDIS_URL, type ThrowawayRedis, testNamespace, throwawayRedis } from "../support/redis";
import { type ServiceProcess, startService } from "../support/service";

function statuses(rs: { status: number }[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const r of rs) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return counts;
}

describe("rate-limit hardening", () => {
  let db: TestDb;
  let redis: Redis;
  const ns = testNamespace("rl-sec");

  beforeAll(async () => {
    db = await createTestDb("postgres");
    redis = createRedis(TEST_REDIS_URL);
    expect(await redisReady(redis, 2_000)).toBe(true);
  });
  afterAll(async () => {
    await dropNamespace(redis, ns);
    await closeRedis(redis);
    await dropSoon(db);
  }, 120_000);

  describe("item 8: an unverified key is not an identity", () => {
    test("300 requests rotating X-Api-Key (and other made-up headers) share one anonymous bucket", async () => {
      const { app } = await limitedApp(db, createMemoryRateLimitStore(), { AURUM_API_RATE_LIMIT_RPS: "1", AURUM_API_RATE_LIMIT_BURST: "5" });
      const rs = [];
      for (let i = 0; i < 300; i++) {
        const headers: Record<string, string> = { "x-api-key": `key-${i}`, "x-request-id": `r${i}` };
        if (i % 3 === 0) headers.authorization = `Bearer not-a-token-${i}`;
        rs.push(await call(app, "GET", "/v1/scenarios?limit=1", { headers }));
      }
      const counts = statuses(rs);
      // 5 at once, then about one per second of the test.
      expect(counts[429] ?? 0).toBeGreaterThanOrEqual(280);
      expect((counts[200] ?? 0) + (counts[429] ?? 0)).toBe(300);
    });

    test("JWT mode: rotating keys and invalid tokens are limited together; a valid token has its tenant's own bucket", async () => {
      const keys = await generateKeyPair("RS256");
      const { app } = await limitedApp(db, createMemoryRateLimitStore(), {
        AURUM_API_AUTH_DISABLED: "0",
        AURUM_API_AUTH_PUBLIC_KEY: await exportSPKI(keys.publicKey),
        AURUM_API_RATE_LIMIT_RPS: "1",
        AURUM_API_RATE_LIMIT_BURST: "3",
      });
      const rs = [];
      for (let i = 0; i < 30; i++) rs.push(await call(app, "GET", "/v1/scenarios", { headers: { "x-api-key": `k${i}`, authorization: `Bearer junk${i}` } }));
      const counts = statuses(rs);
      expect(counts[401]).toBeLessThanOrEqual(4);
      expect(counts[429]).toBeGreaterThanOrEqual(26);
      const valid = await new SignJWT({ tenant_id: "t-valid", roles: ["viewer"] }).setProtectedHeader({ alg: "RS256" }).setIssuedAt().setExpirationTime("5m").sign(keys.privateKey);
      const own = await call(app, "GET", "/v1/scenarios", { headers: { authorization: `Bearer ${valid}` } });
      expect([own.status, own.headers.get("x-ratelimit-remaining")]).toEqual([200, "2"]);
    });

    test("the client address: X-Forwarded-For counts only behind trusted proxies", async () => {
      const direct = (await limitedApp(db, createMemoryRateLimitStore(), { AURUM_API_RATE_LIMIT_RPS: "1", AURUM_API_RATE_LIMIT_BURST: "2" })).app;
      const spoofed = [];
      for (let i = 0; i < 10; i++) spoofed.push(await call(direct, "GET", "/v1/scenarios?limit=1", { headers: { "x-forwarded-for": `10.0.0.${i}` } }));
      expect(statuses(spoofed)[429]).toBeGreaterThanOrEqual(7);
      const proxied = (await limitedApp(db, createMemoryRateLimitStore(), { AURUM_API_RATE_LIMIT_RPS: "1", AURUM_API_RATE_LIMIT_BURST: "2", AURUM_API_TRUSTED_PROXY_HOPS: "1" }))
        .app;
      const distinct = [];
      for (let i = 0; i < 10; i++) distinct.push(await call(proxied, "GET", "/v1/scenarios?limit=1", { headers: { "x-forwarded-for": `10.0.0.${i}` } }));
      expect(statuses(distinct)).toEqual({ 200: 10 });
    });

    describe("through a real process (the socket's address)", () => {
      let service: ServiceProcess;
      let pdb: TestDb;
      beforeAll(async () => {
        pdb = await createTestDb("postgres");
        const keys = await generateKeyPair("RS256");
        service = await startService("api", {
          ...process.env,
          AURUM_APP_DB_DSN: pdb.url as string,
          AURUM_REDIS_URL: undefined,
          AURUM_API_AUTH_DISABLED: "0",
          AURUM_API_AUTH_PUBLIC_KEY: await exportSPKI(keys.publicKey),
          AURUM_API_RATE_LIMIT_RPS: "1",
          AURUM_API_RATE_LIMIT_BURST: "5",
        });
      }, 180_000);
      afterAll(async () => {
        if (service) await Promise.race([service.stop(), Bun.sleep(5_000)]);
        await dropSoon(pdb);
      }, 120_000);

      test("300 anonymous requests rotating X-Api-Key: limited by the socket address", async () => {
        const rs = [];
        for (let i = 0; i < 300; i++) {
          const r = await fetch(`${service.base}/v1/scenarios`, { headers: { "x-api-key": `rotated-${i}-${Math.random()}` } });
          await r.arrayBuffer();
          rs.push(r);
        }
        const counts = statuses(rs);
        console.log(`item 8, real process: 300 requests rotating X-Api-Key → ${JSON.stringify(counts)}`);
        expect(counts[429] ?? 0).toBeGreaterThanOrEqual(280);
        expect((counts[401] ?? 0) + (counts[429] ?? 0)).toBe(300);
        const limited = rs.find((r) => r.status === 429);
        expect(limited?.headers.get("retry-after")).not.toBeNull();
      });
    });
  });

  describe("item 9: a sane minimum rate", () => {
    test("the admin API refuses rates below 0.001/s (base and prefix rules); nothing is written", async () => {
      const { app } = await limitedApp(db, createMemoryRateLimitStore());
      const [{ audits: before }] = await db.sql<{ audits: string }[]>`select count(*)::text as audits from runtime_config_audit`;
      for (const rps of [1e-14, 1e-15, 1e-300, 5e-324, 1e-9, 0.0009999, 0, -1]) {
        const base = await call(app, "PUT", "/v1/admin/config/ratelimit/t-tiny", { body: { requests_per_second: rps, burst: 1, enabled: true } });
        expect([rps, base.status, base.json.error?.details?.[0]?.field]).toEqual([rps, 400, "/requests_per_second"]);
        const prefix = await call(app, "PUT", "/v1/admin/config/ratelimit/t-tiny", {
          body: { requests_per_second: 1, burst: 1, enabled: true, prefixes: [{ prefix: "/v1/scenarios", requests_per_second: rps, burst: 1 }] },
        });
        expect([rps, prefix.status]).toEqual([rps, 400]);
      }
      const [{ audits: after }] = await db.sql<{ audits: string }[]>`select count(*)::text as audits from runtime_config_audit`;
      expect(after).toBe(before);
      const ok = await call(app, "PUT", "/v1/admin/config/ratelimit/t-tiny", { body: { requests_per_second: 0.001, burst: 1, enabled: true } });
      expect(ok.status).toBe(200);
    });

    test("AURUM_API_RATE_LIMIT_OVERRIDES refuses them too", () => {
      expect(parseOverrides("/v1/scenarios=0.00000000000001:1")).toBeUndefined();
      expect(parseOverrides("/v1/scenarios=0.0009:1")).toBeUndefined();
      expect(parseOverrides("/v1/scenarios=0.001:1")).toEqual([{ prefix: "/v1/scenarios", rps: 0.001, burst: 1 }]);
    });

    test("a tiny rate stored before the minimum (a legacy row) still limits on Redis: no script error, nothing let through", async () => {
      const store = createRedisRateLimitStore(redis, { prefix: `${ns}:` });
      for (const rps of [1e-14, 1e-300, 1e-9]) {
        const key = `legacy-${rps}`;
        const first = await store.take(key, { rps, burst: 2 });
        const second = await store.take(key, { rps, burst: 2 });
        const third = await store.take(key, { rps, burst: 2 });
        expect([rps, first.allowed, second.allowed, third.allowed]).toEqual([rps, true, true, false]);
      }
      // And through HTTP, with the row written straight into the table as an old version could have.
      await db.sql`update runtime_config_version set version = version + 1`;
      await db.sql`
        insert into runtime_config (scope, kind, name, value, version, updated_by)
        values ('t-legacy', 'ratelimit', '', ${db.sql.json({ requests_per_second: 1e-14, burst: 2, enabled: true })},
                (select version from runtime_config_version), 'test')`;
      const { app } = await limitedApp(db, store);
      const rs = [];
      for (let i = 0; i < 10; i++) rs.push(await call(app, "GET", "/v1/scenarios?limit=1", { headers: { "x-aurum-tenant": "t-legacy" } }));
      expect(rs.map((r) => r.status)).toEqual([200, 200, 429, 429, 429, 429, 429, 429, 429, 429]);
      const text = (await call(app, "GET", "/metrics")).text;
      expect(text).not.toContain('outcome="fail_open"');
      expect(text).toContain('aurum_ratelimit_requests_total{outcome="limited"} 8');
    });

    const failing: RateLimitStore = {
      kind: "redis",
      take: async () => {
        throw new Error("ERR Error running script: value is not an integer or out of range");
      },
    };

    test("a limiter error follows AURUM_API_RATE_LIMIT_FAIL_MODE: open serves and counts, closed answers 503", async () => {
      const open = await limitedApp(db, failing, { AURUM_API_RATE_LIMIT_FAIL_MODE: "open" });
      const served = await call(open.app, "GET", "/v1/scenarios?limit=1", { headers: { "x-aurum-tenant": "t-fail" } });
      expect(served.status).toBe(200);
      expect(served.headers.get("x-ratelimit-limit")).toBeNull();
      expect((await call(open.app, "GET", "/metrics")).text).toContain('aurum_ratelimit_requests_total{outcome="fail_open"} 1');
      const closed = await limitedApp(db, failing, { AURUM_API_RATE_LIMIT_FAIL_MODE: "closed" });
      const refused = await call(closed.app, "GET", "/v1/scenarios?limit=1", { headers: { "x-aurum-tenant": "t-fail" } });
      expect([refused.status, refused.json.error.code]).toEqual([503, "UNAVAILABLE"]);
      expect((await call(closed.app, "GET", "/metrics")).text).toContain('aurum_ratelimit_requests_total{outcome="fail_closed"} 1');
    });
  });

  describe("item 15: a stalled Redis (SIGSTOP) degrades within a second and recovers", () => {
    let own: ThrowawayRedis;
    let ownClient: Redis;
    let pid = 0;
    const signal = (sig: "STOP" | "CONT") => Bun.spawnSync(["kill", `-${sig}`, String(pid)]);

    beforeAll(async () => {
      own = await throwawayRedis();
      ownClient = createRedis(own.url, { commandTimeoutMs: 250 });
      expect(await redisReady(ownClient, 2_000)).toBe(true);
      pid = Number(/process_id:(\d+)/.exec(await ownClient.info("server"))?.[1]);
      expect(pid).toBeGreaterThan(0);
    }, 120_000);
    afterAll(async () => {
      if (pid) signal("CONT");
      await closeRedis(ownClient);
      await own?.cleanup();
    });

    /** The store with a count of the calls the limiter makes to it. */
    function counted(store: RateLimitStore) {
      const seen = { calls: 0 };
      const take: RateLimitStore["take"] = (...args) => {
        seen.calls++;
        return store.take(...args);
      };
      const wrapped: RateLimitStore = { kind: store.kind, take };
      return { store: wrapped, seen };
    }

    /** The most store calls the circuit allows in `ms` of a stall: the first, then one probe per one-second cool-off. */
    const allowedCalls = (ms: number) => Math.floor(ms / 1_000) + 2;

    test("sequential requests during the stall: one store call per cool-off, every request served; limiting resumes by itself", async () => {
      const { store, seen } = counted(createRedisRateLimitStore(ownClient));
      const { app } = await limitedApp(db, store, { AURUM_API_RATE_LIMIT_RPS: "1000", AURUM_API_RATE_LIMIT_BURST: "1000" });
      const h = { "x-aurum-tenant": "t-stall" };
      expect((await call(app, "GET", "/v1/scenarios?limit=1", { headers: h })).headers.get("x-ratelimit-limit")).toBe("1000");
      signal("STOP");
      seen.calls = 0;
      let served = 0;
      const started = performance.now();
      let elapsed = 0;
      try {
        // Two seconds of sequential traffic; without the cool-off every request would wait out the 250 ms timeout.
        while (elapsed < 2_000) {
          const r = await call(app, "GET", "/v1/scenarios?limit=1", { headers: h });
          expect(r.status).toBe(200);
          served++;
          elapsed = performance.now() - started;
        }
      } finally {
        signal("CONT");
      }
      console.log(`item 15, Redis stalled ${Math.round(elapsed)} ms: ${served} requests served, ${seen.calls} reached the store`);
      // Counted against the time that passed, so a slow machine widens the bound instead of failing it.
      expect(seen.calls).toBeGreaterThanOrEqual(1);
      expect(seen.calls).toBeLessThanOrEqual(allowedCalls(elapsed));
      expect(served).toBeGreaterThanOrEqual(2 * seen.calls);
      // Recovers by itself: requests are limited again.
      await eventually(async () => (await call(app, "GET", "/v1/scenarios?limit=1", { headers: h })).headers.get("x-ratelimit-limit") === "1000", {
        what: "limiting to resume after SIGCONT",
        timeoutMs: 30_000,
        intervalMs: 20,
      });
    }, 60_000);

    test("fail closed during the stall: 503, one store call per cool-off, 200 again after recovery", async () => {
      const { store, seen } = counted(createRedisRateLimitStore(ownClient));
      const { app } = await limitedApp(db, store, { AURUM_API_RATE_LIMIT_FAIL_MODE: "closed" });
      const h = { "x-aurum-tenant": "t-stall-closed" };
      expect((await call(app, "GET", "/v1/scenarios?limit=1", { headers: h })).status).toBe(200);
      signal("STOP");
      seen.calls = 0;
      const rs = [];
      const started = performance.now();
      try {
        for (let i = 0; i < 30; i++) rs.push(await call(app, "GET", "/v1/scenarios?limit=1", { headers: h }));
      } finally {
        signal("CONT");
      }
      const elapsed = performance.now() - started;
      expect(statuses(rs)).toEqual({ 503: 30 });
      // Without the cool-off all 30 would have waited for the store.
      expect(seen.calls).toBeLessThanOrEqual(allowedCalls(elapsed));
      expect(seen.calls).toBeLessThan(30);
      await eventually(async () => (await call(app, "GET", "/v1/scenarios?limit=1", { headers: h })).status === 200, {
        what: "200 again after SIGCONT",
        timeoutMs: 30_000,
        intervalMs: 50,
      });
    }, 60_000);
  });
});

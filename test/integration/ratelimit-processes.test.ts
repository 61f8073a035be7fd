/**
 * The acceptance scenario with real processes: two `bun src/main.ts api` replicas on one Postgres
 * and one Redis (our own, on a random port). A tenant limited to 10/s with burst 20 through the
 * runtime config API of one replica, hit by 100 concurrent requests split across both.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestDb, type TestDb } from "../support/app";
import { checkedFetch } from "../support/contract";
import { eventually } from "../support/eventually";
import { dropSoon } from "../support/limits";
import { type ThrowawayRedis, throwawayRedis } from "../support/redis";
import { type ServiceProcess, startService } from "../support/service";

/** Every response of the real process is checked against the OpenAPI document. */
const fetch = checkedFetch;

type Replica = ServiceProcess;

const startReplica = (env: Record<string, string>): Promise<Replica> => startService("api", { ...process.env, ...env });

describe("two API processes share one Redis limiter", () => {
  let db: TestDb;
  let redis: ThrowawayRedis;
  const replicas: Replica[] = [];

  beforeAll(async () => {
    db = await createTestDb("postgres");
    redis = await throwawayRedis();
    const env = {
      AURUM_APP_DB_DSN: db.url as string,
      AURUM_REDIS_URL: redis.url,
      AURUM_API_AUTH_DISABLED: "1",
      AURUM_API_HOST: "127.0.0.1",
      AURUM_API_PORT: "0",
      AURUM_LOG_LEVEL: "info",
      AURUM_RUNTIME_CONFIG_POLL_MS: "250",
      // The count is the point here, not a stalled store: with the default 250 ms, a reply late on a
      // loaded machine failed the limiter open for a second (its tested policy, test/security/ratelimit.test.ts),
      // and stop 43's suite saw 38 of 100 pass where 27 at most may.
      AURUM_REDIS_COMMAND_TIMEOUT_MS: "10000",
    };
    replicas.push(...(await Promise.all([startReplica(env), startReplica(env)])));
  }, 180_000);

  afterAll(async () => {
    for (const r of replicas) {
      await Promise.race([r.stop(), Bun.sleep(5_000)]);
    }
    await redis?.cleanup();
    await dropSoon(db);
  }, 120_000);

  test("100 concurrent requests, 10/s burst 20: exactly the allowed count passes, the rest get 429 with headers; another tenant is unaffected", async () => {
    const [a, b] = replicas as [Replica, Replica];
    const put = await fetch(`${a.base}/v1/admin/config/ratelimit/t-procs`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ requests_per_second: 10, burst: 20, enabled: true }),
    });
    expect(put.status).toBe(200);
    // Both replicas enforce it: B learns it on its next poll.
    await eventually(async () => (await (await fetch(`${b.base}/v1/admin/config/ratelimit/t-procs`)).json()).data.effective.burst === 20, {
      what: "replica B to load the new limit",
    });
    const started = performance.now();
    const responses = await Promise.all(Array.from({ length: 100 }, (_, i) => fetch(`${(i % 2 ? a : b).base}/v1/scenarios?limit=1`, { headers: { "x-aurum-tenant": "t-procs" } })));
    const elapsed = (performance.now() - started) / 1000;
    const passed = responses.filter((r) => r.status === 200).length;
    const refused = responses.filter((r) => r.status === 429);
    // GCRA refills continuously: a request can pass for each 100 ms the burst took, and no more.
    expect(passed).toBeGreaterThanOrEqual(20);
    expect(passed).toBeLessThanOrEqual(20 + Math.floor(elapsed * 10));
    expect(passed + refused.length).toBe(100);
    console.log(`two processes: ${passed} of 100 passed in ${Math.round(elapsed * 1000)} ms (burst 20, 10/s)`);
    for (const r of refused) {
      expect(r.headers.get("x-ratelimit-limit")).toBe("20");
      expect(r.headers.get("x-ratelimit-remaining")).toBe("0");
      expect(Number(r.headers.get("x-ratelimit-reset"))).toBeGreaterThanOrEqual(1);
      expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      const body = (await r.json()) as { error: { code: string }; meta: { request_id: string } };
      expect(body.error.code).toBe("RATE_LIMITED");
      expect(body.meta.request_id).toBe(r.headers.get("x-request-id") as string);
    }
    await Promise.all(responses.filter((r) => r.status === 200).map((r) => r.arrayBuffer()));

    const others = await Promise.all(Array.from({ length: 40 }, (_, i) => fetch(`${(i % 2 ? a : b).base}/v1/scenarios?limit=1`, { headers: { "x-aurum-tenant": "t-bystander" } })));
    expect(others.map((r) => r.status)).toEqual(Array(40).fill(200));
    const text = await (await fetch(`${a.base}/metrics`)).text();
    expect(text).toMatch(/aurum_ratelimit_requests_total\{outcome="limited"\} \d+/);
  });
});

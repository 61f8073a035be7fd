// The output cache across two real API processes (`bun src/main.ts api`) sharing Redis and Postgres:
// 200 identical cold requests, 100 to each process at once → one store query in total (each
// process counts its store queries in aurum_scenario_cache_loads_total), 200 identical bodies.
// Then an admin invalidation through one process is seen by the very next read in the other, and
// a run committed by a worker process (`bun src/main.ts worker`) by the very next read in both.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeRedis, createRedis, redisReady } from "../../src/adapters/redis";
import { createTestDb, type TestDb } from "../support/app";
import { checkedFetch } from "../support/contract";
import { eventually } from "../support/eventually";
import { type ApiProcess, seedRun, startApiProcess } from "../support/outputs";
import { dropNamespace, TEST_REDIS_URL, testNamespace } from "../support/redis";
import { type ServiceProcess, startService } from "../support/service";

/** Every response of the real process is checked against the OpenAPI document (test/support/contract.ts). */
const fetch = checkedFetch;

const TENANT = "t-cache-procs";
const headers = { "x-aurum-tenant": TENANT };
const namespace = testNamespace("cache-processes");

/** The body without what differs per request (its id and timing). */
const stable = (body: string) => body.replace(/"(request_id|query_time_ms)":("[^"]*"|[\d.]+)/g, '"$1":0');

async function loads(api: ApiProcess, kind: string): Promise<number> {
  const text = await (await fetch(`${api.base}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`aurum_scenario_cache_loads_total{kind="${kind}"}`));
  return Number(line?.split(" ").at(-1) ?? 0);
}

describe("output cache across two API processes", () => {
  let db: TestDb;
  const apis: ApiProcess[] = [];
  let worker: ServiceProcess | undefined;
  let scenarioId: string;

  beforeAll(async () => {
    db = await createTestDb("postgres");
    [{ id: scenarioId }] = await db.sql<{ id: string }[]>`insert into scenario (tenant_id, name) values (${TENANT}, 'cached') returning id::text as id`;
    await seedRun(db.sql, { tenantId: TENANT, scenarioId, rows: 20_000 });
    const env = {
      AURUM_REDIS_URL: TEST_REDIS_URL,
      AURUM_SCENARIO_CACHE_NAMESPACE: namespace,
      AURUM_SCENARIO_CACHE_WAIT_MS: "10000",
      // Singleflight is the point here: a reply late behind a busy event loop (a shared 2-core
      // machine) would count as Redis down and bypass the cache, which cache-api.test.ts covers.
      // Beside a CPU hog (stress-ng) replies took over 2 s: 47 cache errors and a second load.
      AURUM_REDIS_COMMAND_TIMEOUT_MS: "10000",
      AURUM_API_RATE_LIMIT_ENABLED: "0",
      // Runs are claimed from Postgres by the worker process below (not through Kafka), on the sample curves.
      AURUM_KAFKA_BROKERS: "",
      AURUM_WORKER_POLL_MS: "100",
      AURUM_LOAD_SAMPLE_CURVES: "always",
    };
    worker = await startService("worker", { ...process.env, AURUM_APP_DB_DSN: db.url as string, ...env });
    apis.push(...(await Promise.all([startApiProcess(db.url as string, env), startApiProcess(db.url as string, env)])));
  }, 180_000);
  afterAll(async () => {
    await Promise.all([...apis, ...(worker ? [worker] : [])].map((p) => p.stop()));
    const redis = createRedis(TEST_REDIS_URL);
    await redisReady(redis, 2_000);
    await dropNamespace(redis, namespace);
    await closeRedis(redis);
    await db?.drop();
  }, 120_000);

  test("200 concurrent identical cold reads, 100 per process → one store query, 200 identical bodies", async () => {
    for (const [kind, path] of [
      ["outputs", `/v1/scenarios/${scenarioId}/outputs?limit=1000&metric=NPV`],
      ["metrics", `/v1/scenarios/${scenarioId}/metrics/latest?limit=500`],
    ] as const) {
      const before = (await loads(apis[0] as ApiProcess, kind)) + (await loads(apis[1] as ApiProcess, kind));
      const responses = await Promise.all(
        Array.from({ length: 200 }, async (_, i) => {
          const res = await fetch(`${(apis[i % 2] as ApiProcess).base}${path}`, { headers });
          return { status: res.status, body: stable(await res.text()) };
        }),
      );
      expect(responses.map((r) => r.status)).toEqual(Array(200).fill(200));
      expect(new Set(responses.map((r) => r.body)).size).toBe(1);
      expect(JSON.parse(responses[0]?.body as string).data.length).toBeGreaterThan(100);
      const after = (await loads(apis[0] as ApiProcess, kind)) + (await loads(apis[1] as ApiProcess, kind));
      const errors = (await Promise.all(apis.map((a) => fetch(`${a.base}/metrics`).then((r) => r.text())))).flatMap((t) =>
        t.split("\n").filter((l) => l.startsWith("aurum_scenario_cache_errors_total")),
      );
      expect([kind, after - before, errors]).toEqual([kind, 1, []]);
    }
  }, 120_000);

  test("an invalidation through one process: the very next read in the other one goes to the store", async () => {
    const [a, b] = apis as [ApiProcess, ApiProcess];
    const path = `/v1/scenarios/${scenarioId}/outputs?limit=5&metric=NPV`;
    const value = async () => (await (await fetch(`${b.base}${path}`, { headers })).json()).data[0].value as number;
    const cached = await value();
    // Changed behind the cache's back (only a committing worker, an admin or a delete bump the version): still cached.
    await db.sql`update scenario_output set value = value + 1000 where scenario_id = ${scenarioId}`;
    expect(await value()).toBe(cached);
    const res = await fetch(`${a.base}/v1/admin/cache/scenarios/${scenarioId}/invalidate`, { method: "POST", headers });
    expect(res.status).toBe(200);
    expect(await value()).toBe(cached + 1000);
  }, 120_000);

  test("a worker process commits a run: the very next read after its bump, in each API process, shows it", async () => {
    const [a, b] = apis as [ApiProcess, ApiProcess];
    const json = { ...headers, "content-type": "application/json" };
    const created = await fetch(`${a.base}/v1/scenarios`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ name: "committed by a worker", parameters: { horizon_months: 6, mc_paths: 100 } }),
    });
    expect(created.status).toBe(201);
    const id = (await created.json()).data.id as string;
    const run = async (seed: number) => {
      const res = await fetch(`${a.base}/v1/scenarios/${id}/run`, { method: "POST", headers: json, body: JSON.stringify({ seed }) });
      expect(res.status).toBe(202);
      const runId = (await res.json()).data.id as string;
      return eventually(
        async () => {
          const record = (await (await fetch(`${b.base}/v1/scenarios/${id}/runs/${runId}`, { headers })).json()).data;
          // Committed, and bumped: the worker deletes the bump it owed once the version moved (a few
          // ms after the commit; docs/cache.md, "Ordering").
          const [owed] = await db.sql<{ n: number }[]>`select count(*)::int as n from cache_bump_pending where run_id = ${runId}`;
          if (record.state === "SUCCEEDED" && owed?.n === 0) return runId;
          throw new Error(`run ${runId}: ${JSON.stringify(record)}; ${owed?.n} bumps owed`);
        },
        { what: `run ${runId} to commit and bump` },
      );
    };
    const shown = async (api: ApiProcess) => {
      const res = await fetch(`${api.base}/v1/scenarios/${id}/outputs?limit=10`, { headers });
      expect(res.status).toBe(200);
      return (await res.json()).meta.run_id as string;
    };
    const first = await run(1);
    // Cached in both processes: twice each, the second a hit.
    for (const api of [a, b, a, b]) expect(await shown(api)).toBe(first);
    const second = await run(2);
    expect(second).not.toBe(first);
    expect([await shown(a), await shown(b)]).toEqual([second, second]);
  }, 120_000);
});

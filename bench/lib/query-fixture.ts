/** A database with a seeded scenario and API processes on it, for the query and singleflight suites. */
import postgres from "postgres";
import { createTestDb } from "../../test/support/app";
import { type ApiProcess, seedRun, startApiProcess } from "../../test/support/outputs";
import { TEST_REDIS_URL, testNamespace } from "../../test/support/redis";

export type Fixture = { url: string; tenant: string; scenarioId: string; namespace: string; close: () => Promise<void> };

/** `existing` names a database and scenario (`--db`, `--tenant-id`, `--scenario-id`); otherwise a fresh database with two runs of `rows` rows. */
export async function queryFixture(rows: number, existing?: { db: string; tenant: string; scenarioId: string }): Promise<Fixture> {
  const namespace = testNamespace("bench");
  if (existing) {
    const sql = postgres(existing.db, { max: 1, onnotice: () => {} });
    return { url: existing.db, tenant: existing.tenant, scenarioId: existing.scenarioId, namespace, close: () => sql.end() };
  }
  const db = await createTestDb("postgres");
  const tenant = "bench-query";
  const [s] = await db.sql<{ id: string }[]>`insert into scenario (tenant_id, name) values (${tenant}, 'query bench') returning id::text as id`;
  const scenarioId = (s as { id: string }).id;
  await seedRun(db.sql, { tenantId: tenant, scenarioId, rows, curves: 200, finishedAt: "2026-01-01T00:00:00Z" });
  await seedRun(db.sql, { tenantId: tenant, scenarioId, rows, curves: 200, asof: "2026-02-01", finishedAt: "2026-02-01T00:00:00Z" });
  await db.sql`vacuum analyze scenario_output`;
  return { url: db.url as string, tenant, scenarioId, namespace, close: () => db.drop() };
}

const COMMON = { AURUM_API_RATE_LIMIT_ENABLED: "0" };
/** An API process with the Redis cache (namespace of this bench). */
export const cachedApi = (f: Fixture): Promise<ApiProcess> => startApiProcess(f.url, { ...COMMON, AURUM_REDIS_URL: TEST_REDIS_URL, AURUM_SCENARIO_CACHE_NAMESPACE: f.namespace });
/** An API process with every cache kind off (TTL 0): each request reaches the store. */
export const uncachedApi = (f: Fixture): Promise<ApiProcess> => startApiProcess(f.url, { ...COMMON, AURUM_API_SCENARIO_OUTPUT_TTL: "0", AURUM_API_SCENARIO_METRICS_TTL: "0" });

/** Sum of `aurum_scenario_cache_<name>` over its kinds, from a process's /metrics. */
export async function cacheCounter(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return [...text.matchAll(new RegExp(`^aurum_scenario_cache_${name}\\{kind="(\\w+)"\\} (\\d+)`, "gm"))].reduce((s, m) => s + Number(m[2]), 0);
}

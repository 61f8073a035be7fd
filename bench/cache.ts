/**
 * Output cache benchmark: `bun bench/cache.ts [--rows 200000] [--requests 300]`.
 *
 * Three API processes as production runs them (`bun src/main.ts api`) on one fresh database: two
 * with AURUM_REDIS_URL (sharing Redis, a namespace of their own) and one without (no cache). For
 * each endpoint: sequential request latency (p50/p99) cached vs uncached, and the raw Redis GET of
 * the same entry; then 100 concurrent identical misses split over the two cached processes, with
 * the store queries they caused (`aurum_scenario_cache_loads_total`, summed).
 */
import { parseArgs } from "node:util";
import { closeRedis, createRedis, redisReady } from "../src/adapters/redis";
import { createPgOutputReader } from "../src/outputs/pg-reader";
import { createTestDb } from "../test/support/app";
import { seedRun, startApiProcess } from "../test/support/outputs";
import { dropNamespace, TEST_REDIS_URL, testNamespace } from "../test/support/redis";

const { values } = parseArgs({ options: { rows: { type: "string", default: "200000" }, requests: { type: "string", default: "300" } } });
const ROWS = Number(values.rows);
const N = Number(values.requests);
const tenant = "bench-cache";
const namespace = testNamespace("bench");

const db = await createTestDb("postgres");
const [scenario] = await db.sql<{ id: string }[]>`insert into scenario (tenant_id, name) values (${tenant}, 'cache bench') returning id::text as id`;
const scenarioId = (scenario as { id: string }).id;
await seedRun(db.sql, { tenantId: tenant, scenarioId, rows: ROWS, curves: 200, finishedAt: "2026-01-01T00:00:00Z" });
const runId = await seedRun(db.sql, { tenantId: tenant, scenarioId, rows: ROWS, curves: 200, asof: "2026-02-01", finishedAt: "2026-02-01T00:00:00Z" });
await db.sql`vacuum analyze scenario_output`;
console.error(`seeded 2 runs × ${ROWS} rows`);

// The rate limiter would answer this many requests with 429.
const common = { AURUM_API_RATE_LIMIT_ENABLED: "0" };
const cachedEnv = { ...common, AURUM_REDIS_URL: TEST_REDIS_URL, AURUM_SCENARIO_CACHE_NAMESPACE: namespace };
const [a, b, plain] = await Promise.all([startApiProcess(db.url as string, cachedEnv), startApiProcess(db.url as string, cachedEnv), startApiProcess(db.url as string, common)]);
const redis = createRedis(TEST_REDIS_URL);
await redisReady(redis);

const pct = (xs: number[], p: number) => [...xs].sort((x, y) => x - y)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] as number;
const fmt = (ms: number) => (ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : `${ms.toFixed(2)} ms`);
async function timed(fn: () => Promise<unknown>, n = N): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out;
}
const get = async (base: string, path: string) => {
  const res = await fetch(`${base}/v1/scenarios/${scenarioId}${path}${path.includes("?") ? "&" : "?"}tenant_id=${tenant}`);
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.arrayBuffer();
};
const metric = async (base: string, name: string) => {
  const text = await (await fetch(`${base}/metrics`)).text();
  return [...text.matchAll(new RegExp(`^aurum_scenario_cache_${name}\\{kind="(\\w+)"\\} (\\d+)`, "gm"))].reduce((s, m) => s + Number(m[2]), 0);
};

// The store query behind each request, timed in this process through the reader the API uses.
const reader = createPgOutputReader(db.sql);
const base = { tenantId: tenant, scenarioId };
const cases: [string, () => Promise<unknown>][] = [
  ["/outputs?limit=100", () => reader.page({ ...base, runId }, 101)],
  ["/outputs?limit=1000", () => reader.page({ ...base, runId }, 1001)],
  ["/outputs?limit=100&metric=NPV&curve_key=C042", () => reader.page({ ...base, runId, metric: "NPV", curveKey: "C042" }, 101)],
  ["/metrics/latest?limit=100", () => reader.latest(base, 101)],
  ["/metrics/latest?limit=1000", () => reader.latest(base, 1001)],
];
const rows = ["| request | body | store query p50 | Redis GET of the entry p50 | request without cache p50 / p99 | request, cache hit p50 / p99 |", "|---|---|---|---|---|---|"];
for (const [path, storeQuery] of cases) {
  const bytes = (await get(plain.base, path)).byteLength;
  await get(a.base, path); // warm: the miss
  const uncached = await timed(() => get(plain.base, path), Math.min(N, 100));
  const cached = await timed(() => get(a.base, path));
  const kind = path.startsWith("/metrics") ? "metrics" : "outputs";
  const [key] = (await redis.keys(`${namespace}:{${tenant}}:${kind}:*`)).filter((k) => !k.endsWith(":lock")).slice(-1);
  const redisGet = await timed(() => redis.getBuffer(key as string));
  const store = await timed(storeQuery, Math.min(N, 100));
  await redis.del(...(await redis.keys(`${namespace}:{${tenant}}:${kind}:*`)));
  const cells = [fmt(pct(store, 50)), fmt(pct(redisGet, 50)), `${fmt(pct(uncached, 50))} / ${fmt(pct(uncached, 99))}`, `${fmt(pct(cached, 50))} / ${fmt(pct(cached, 99))}`];
  rows.push(`| \`${path}\` | ${(bytes / 1024).toFixed(0)} KiB | ${cells.join(" | ")} |`);
}
console.log(rows.join("\n"));

console.log("\n100 concurrent identical requests right after an invalidation, 50 on each cached process (3 rounds):");
const sum = async (name: string) => (await metric(a.base, name)) + (await metric(b.base, name));
for (const path of ["/outputs?limit=1000", "/metrics/latest?limit=1000"]) {
  for (let round = 0; round < 3; round++) {
    await fetch(`${a.base}/v1/admin/cache/scenarios/${scenarioId}/invalidate?tenant_id=${tenant}`, { method: "POST" });
    const [loads0, waits0, errors0] = [await sum("loads_total"), await sum("singleflight_waits_total"), await sum("errors_total")];
    const t = performance.now();
    await Promise.all(Array.from({ length: 100 }, (_, i) => get(i % 2 ? a.base : b.base, path)));
    const ms = performance.now() - t;
    const [loads, waits, errors] = [(await sum("loads_total")) - loads0, (await sum("singleflight_waits_total")) - waits0, (await sum("errors_total")) - errors0];
    console.log(`- \`${path}\`: ${loads} store quer${loads === 1 ? "y" : "ies"}, ${waits} singleflight waits, ${errors} cache errors; all 100 answered in ${ms.toFixed(0)} ms`);
  }
}

await Promise.all([a.stop(), b.stop(), plain.stop()]);
await dropNamespace(redis, namespace);
await closeRedis(redis);
await Promise.race([db.drop(), Bun.sleep(30_000).then(() => console.error("database drop did not finish within 30 s"))]);
process.exit(0);

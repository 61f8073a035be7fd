/**
 * The output cache through the API, on the real Postgres and Redis: JSON pages and
 * /metrics/latest hit after a miss, a run's output commit (the real worker) invalidates, two app
 * instances sharing Redis query the store once for 100 identical requests, the commit/bump
 * ordering holds under an interleaving (and the wrong order demonstrably does not), the admin
 * endpoint, deletes, bumps owed durably (a writer that died or could not reach Redis), Redis
 * outages, and invalidation events on Kafka.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { exportSPKI, generateKeyPair, SignJWT } from "jose";
import { createKafka } from "../../src/adapters/kafka";
import { createCacheMetrics, createMetrics, type Metrics } from "../../src/adapters/metrics";
import { closeRedis, createNativeRedis, createRedis, type NativeRedis, type Redis, redisReady } from "../../src/adapters/redis";
import { createBumpRepo } from "../../src/cache/bump-repo";
import { bumpOnCommit, durableBumps } from "../../src/cache/bumps";
import { createRedisStore } from "../../src/cache/redis-store";
import { createScenarioCache, type ScenarioCacheOptions } from "../../src/cache/service";
import { loadConfig } from "../../src/config";
import { createCurveRepo } from "../../src/curves/repo";
import { createCurveService } from "../../src/curves/service";
import { createPgOutputReader } from "../../src/outputs/pg-reader";
import { createPgOutputWriter } from "../../src/outputs/pg-store";
import type { OutputReader } from "../../src/outputs/reader";
import { createLogger } from "../../src/platform/logger";
import { createLocalQueue } from "../../src/runs/queue";
import { startWorker } from "../../src/worker";
import { apiApp, call, createTestDb, type TestDb } from "../support/app";
import { checked } from "../support/contract";
import { eventually } from "../support/eventually";
import { seedRun } from "../support/outputs";
import { dropNamespace, freePort, TEST_REDIS_URL, testNamespace, throwawayRedis } from "../support/redis";
import { requireService, serviceEnv } from "../support/services";

const log = createLogger("silent");
const TENANT = "t-cache";
const headers = { "x-aurum-tenant": TENANT };

/** The Postgres reader with call counters, an optional delay, injected failures and a gate before `latest` returns (`atGate` counts arrivals there). */
function countingReader(inner: OutputReader) {
  const knobs = { delayMs: 0, failLatest: 0, gate: undefined as Promise<void> | undefined, atGate: 0 };
  const calls = { page: 0, latest: 0, latestByMetric: 0, export: 0, compare: 0 };
  const reader: OutputReader = {
    async latestByMetric(...args) {
      calls.latestByMetric++;
      return inner.latestByMetric(...args);
    },
    async page(...args) {
      calls.page++;
      if (knobs.delayMs) await Bun.sleep(knobs.delayMs);
      return inner.page(...args);
    },
    async latest(...args) {
      calls.latest++;
      if (knobs.delayMs) await Bun.sleep(knobs.delayMs);
      if (knobs.failLatest > 0) {
        knobs.failLatest--;
        throw new Error("store failed");
      }
      const rows = await inner.latest(...args);
      knobs.atGate++;
      await knobs.gate;
      return rows;
    },
    compare: {
      async page(...args) {
        calls.compare++;
        return inner.compare.page(...args);
      },
      export: (...args) => inner.compare.export(...args),
    },
    export(...args) {
      calls.export++;
      return inner.export(...args);
    },
  };
  return { reader, calls, knobs };
}

async function counter(metrics: Metrics, name: string, kind: string): Promise<number> {
  const metric = metrics.registry.getSingleMetric(`aurum_scenario_cache_${name}`);
  const value = (await metric?.get())?.values.find((v) => v.labels.kind === kind);
  return value?.value ?? 0;
}

let db: TestDb;
let redis: Redis;
let native: NativeRedis;
const namespace = testNamespace("cache-api");
const counting = { reader: undefined as unknown as ReturnType<typeof countingReader> };

/** One API "replica": its own app, cache (in-process flights) and metrics; Redis and the store are shared. */
async function replica(o: { env?: Record<string, string>; cache?: Partial<ScenarioCacheOptions>; redis?: NativeRedis } = {}) {
  const config = loadConfig({ AURUM_LOG_LEVEL: "silent", AURUM_API_AUTH_DISABLED: "1", ...o.env });
  const metrics = createMetrics();
  const cache = createScenarioCache({ store: createRedisStore(o.redis ?? native), namespace, log, metrics: createCacheMetrics(metrics.registry), waitMs: 2_000, ...o.cache });
  const queue = createLocalQueue();
  // As src/runtime.ts wires a Redis cache; no grace period, so a test's sweep takes every owed bump.
  const bumps = durableBumps(createBumpRepo(db.sql), cache, log, { graceMs: 0 });
  const app = checked(await apiApp(db, config, { log, metrics, outputs: counting.reader.reader, cache: { cache, bumps }, queue }));
  return { app, cache, bumps, metrics, queue };
}

const owed = async (where: { runId?: string; scenarioId?: string } = {}) =>
  Number(
    (
      await db.sql`select count(*)::int as n from cache_bump_pending where tenant_id = ${TENANT}
                   and (${where.runId ?? null}::uuid is null or run_id = ${where.runId ?? null}::uuid)
                   and (${where.scenarioId ?? null}::uuid is null or scenario_id = ${where.scenarioId ?? null}::uuid)`
    )[0]?.n,
  );

async function newScenario(app: Awaited<ReturnType<typeof replica>>["app"], name: string): Promise<string> {
  const res = await call(app, "POST", "/v1/scenarios", {
    body: { name, assumptions: [{ driver_type: "policy", payload: { policy_name: "RPS", start_year: 2027, target: 0.5 } }] },
    headers,
  });
  expect(res.status).toBe(201);
  return res.json.data.id;
}

beforeAll(async () => {
  db = await createTestDb("postgres");
  await createCurveService(createCurveRepo(db.sql)).loadSampleIfEmpty();
  redis = createRedis(TEST_REDIS_URL);
  expect(await redisReady(redis, 2_000)).toBe(true);
  // A slow answer is not a fault here: at the default 250 ms, a command held up by a loaded machine
  // counted as a Redis failure and its request loaded from the store past the singleflight (2 loads
  // for 1 beside stress-ng). Timeouts and outages have their own tests below, on their own clients.
  native = createNativeRedis(TEST_REDIS_URL, { commandTimeoutMs: 10_000 });
  expect(await native.ready(2_000)).toBe(true);
  counting.reader = countingReader(createPgOutputReader(db.sql));
});
afterAll(async () => {
  await dropNamespace(redis, namespace);
  await closeRedis(redis);
  native.close();
  await db?.drop();
});

describe("output cache through the API", () => {
  test("JSON pages and /metrics/latest: a miss, then hits with the same body; CSV/NDJSON exports are not cached", async () => {
    const { app, metrics } = await replica();
    const id = await newScenario(app, "hits");
    await seedRun(db.sql, { tenantId: TENANT, scenarioId: id, rows: 300 });
    const { calls } = counting.reader;
    const before = { ...calls };
    const first = await call(app, "GET", `/v1/scenarios/${id}/outputs?limit=50&metric_name=NPV`, { headers });
    const second = await call(app, "GET", `/v1/scenarios/${id}/outputs?metric=NPV&limit=50`, { headers });
    expect(first.status).toBe(200);
    expect(second.json.data).toEqual(first.json.data);
    expect(second.json.meta.next_cursor).toBe(first.json.meta.next_cursor);
    expect(calls.page - before.page).toBe(1);
    // A hit is sent from the cached text: the same bytes as the miss apart from this request's own
    // members, the same headers, and the same body Elysia would have serialised from the envelope.
    const perRequest = (r: typeof first) => r.text.replace(/^\{"meta":\{"request_id":"[^"]+","query_time_ms":[0-9.e-]+,/, "");
    expect(perRequest(second)).toBe(perRequest(first));
    expect(second.text).toBe(JSON.stringify(second.json));
    expect(second.headers.get("content-type")).toBe("application/json;charset=utf-8");
    expect(second.headers.get("content-type")).toBe(first.headers.get("content-type"));
    expect(second.headers.get("x-request-id")).toBe(second.json.meta.request_id);
    // The next page is another query.
    await call(app, "GET", `/v1/scenarios/${id}/outputs?limit=50&metric=NPV&cursor=${first.json.meta.next_cursor}`, { headers });
    expect(calls.page - before.page).toBe(2);

    const latest = await call(app, "GET", `/v1/scenarios/${id}/metrics/latest`, { headers });
    const again = await call(app, "GET", `/v1/scenarios/${id}/metrics/latest`, { headers });
    expect(again.json.data).toEqual(latest.json.data);
    expect(calls.latest - before.latest).toBe(1);

    for (const format of ["csv", "ndjson", "csv"]) expect((await call(app, "GET", `/v1/scenarios/${id}/outputs?format=${format}`, { headers })).status).toBe(200);
    expect(calls.export - before.export).toBe(3);

    expect([await counter(metrics, "hits_total", "outputs"), await counter(metrics, "misses_total", "outputs")]).toEqual([1, 2]);
    expect([await counter(metrics, "hits_total", "metrics"), await counter(metrics, "misses_total", "metrics")]).toEqual([1, 1]);
    const scraped = await call(app, "GET", "/metrics");
    expect(scraped.text).toContain('aurum_scenario_cache_hits_total{kind="outputs"} 1');
    expect(scraped.text).toMatch(/^aurum_scenario_cache_lookup_duration_seconds_count\{kind="outputs"\} [1-9]/m);
  });

  test("a run's output commit (the real worker) bumps the version after the commit: the next read misses and shows the new run", async () => {
    const { app, bumps, metrics, queue } = await replica();
    const id = await newScenario(app, "worker commit");
    const empty = await call(app, "GET", `/v1/scenarios/${id}/metrics/latest`, { headers });
    expect(empty.json.data).toEqual([]);
    expect((await call(app, "GET", `/v1/scenarios/${id}/metrics/latest`, { headers })).json.data).toEqual([]);
    expect(await counter(metrics, "hits_total", "metrics")).toBe(1);

    const hooks = bumpOnCommit(bumps);
    const seenAtBump: string[] = [];
    const owedAround: number[] = [];
    const worker = await startWorker({
      mode: "embedded",
      sql: db.sql,
      metrics: createMetrics(),
      writer: createPgOutputWriter(db.sql),
      config: { ...loadConfig({}), workerConcurrency: 1, workerPollMs: 50 },
      log,
      queue,
      workerId: "cache-test-worker",
      executorOptions: {
        onCommitting: hooks.onCommitting,
        onSucceeded: async (run) => {
          // The commit is visible to every other connection before the version moves, and with it the bump it owes.
          const [row] = await db.sql`select state from scenario_run where id = ${run.id}`;
          seenAtBump.push(row?.state as string);
          owedAround.push(await owed({ runId: run.id }));
          await hooks.onSucceeded(run);
          owedAround.push(await owed({ runId: run.id }));
        },
      },
    });
    try {
      const run = (await call(app, "POST", `/v1/scenarios/${id}/run`, { body: {}, headers })).json.data;
      // Until the hook has finished (the bump made), not just begun.
      await eventually(() => owedAround.length >= 2, { what: "the succeeded hook to finish" });
      expect(seenAtBump).toEqual(["SUCCEEDED"]);
      expect(owedAround).toEqual([1, 0]);
      const after = await call(app, "GET", `/v1/scenarios/${id}/metrics/latest`, { headers });
      expect(after.json.data.length).toBeGreaterThan(0);
      expect(after.json.data[0].run_id).toBe(run.id);
      expect(await counter(metrics, "misses_total", "metrics")).toBe(2);
    } finally {
      await worker.stop(1_000);
    }
  }, 120_000);

  test("100 concurrent identical misses on two app instances sharing Redis → one store query each for /outputs and /metrics/latest", async () => {
    // Followers wait for the leader up to a ceiling, not a speed: at 2 s a loaded machine let one give up and load itself.
    const a = await replica({ cache: { waitMs: 30_000 } });
    const b = await replica({ cache: { waitMs: 30_000 } });
    const id = await newScenario(a.app, "stampede");
    await seedRun(db.sql, { tenantId: TENANT, scenarioId: id, rows: 500 });
    const { calls, knobs } = counting.reader;
    knobs.delayMs = 100;
    try {
      for (const path of [`/v1/scenarios/${id}/outputs?limit=200`, `/v1/scenarios/${id}/metrics/latest?limit=200`]) {
        const before = { ...calls };
        const responses = await Promise.all(Array.from({ length: 100 }, (_, i) => call(i % 2 ? a.app : b.app, "GET", path, { headers })));
        expect(responses.every((r) => r.status === 200 && r.json.data.length === 200)).toBe(true);
        expect(new Set(responses.map((r) => JSON.stringify(r.json.data))).size).toBe(1);
        expect(calls.page - before.page + calls.latest - before.latest).toBe(1);
      }
      const waits = (await counter(a.metrics, "singleflight_waits_total", "outputs")) + (await counter(b.metrics, "singleflight_waits_total", "outputs"));
      expect(waits).toBe(99);
    } finally {
      knobs.delayMs = 0;
    }
  });

  test("a leader whose store query fails fails only its own request; the 99 others get 200 after one more query", async () => {
    const a = await replica();
    const b = await replica();
    const id = await newScenario(a.app, "leader fails");
    await seedRun(db.sql, { tenantId: TENANT, scenarioId: id, rows: 100 });
    const { calls, knobs } = counting.reader;
    knobs.delayMs = 50;
    knobs.failLatest = 1;
    try {
      const before = calls.latest;
      const responses = await Promise.all(Array.from({ length: 100 }, (_, i) => call(i % 2 ? a.app : b.app, "GET", `/v1/scenarios/${id}/metrics/latest`, { headers })));
      expect(responses.filter((r) => r.status === 500)).toHaveLength(1);
      expect(responses.filter((r) => r.status === 200)).toHaveLength(99);
      expect(calls.latest - before).toBe(2);
    } finally {
      knobs.delayMs = 0;
      knobs.failLatest = 0;
    }
  });

  /**
   * A reader queries the store before a run commits and writes its cache entry after the version
   * bump. With the real order (commit, then bump; readers read the version first) that entry sits
   * under the old version and the next reader sees the new run. With the order reversed (bump,
   * then commit) the same interleaving caches the old rows under the new version: the control
   * shows this test would catch it.
   */
  for (const order of ["commit then bump", "bump then commit (wrong)"] as const) {
    test(`ordering under a racing reader: ${order}`, async () => {
      const { app, cache } = await replica();
      const id = await newScenario(app, `ordering ${order}`);
      const oldRun = await seedRun(db.sql, { tenantId: TENANT, scenarioId: id, rows: 50, finishedAt: "2026-01-01T00:00:00Z" });
      const commit = () => seedRun(db.sql, { tenantId: TENANT, scenarioId: id, rows: 50, asof: "2026-02-01", finishedAt: "2026-02-01T00:00:00Z", offset: 1000 });
      const bump = () => cache.invalidate({ tenantId: TENANT, scenarioId: id, reason: "outputs_committed" });
      const { knobs } = counting.reader;
      let open = () => {};
      knobs.gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      let racing: Promise<Awaited<ReturnType<typeof call>>>;
      let newRun: string;
      const arrived = knobs.atGate;
      const readerStalled = () => eventually(() => knobs.atGate > arrived, { what: "the reader to hold the old rows at the gate" });
      try {
        if (order === "commit then bump") {
          // The reader reads version v and the old rows, then stalls before caching them.
          racing = call(app, "GET", `/v1/scenarios/${id}/metrics/latest`, { headers });
          await readerStalled();
          newRun = await commit();
          await bump();
        } else {
          await bump();
          racing = call(app, "GET", `/v1/scenarios/${id}/metrics/latest`, { headers });
          await readerStalled();
          newRun = await commit();
        }
      } finally {
        knobs.gate = undefined;
        open();
      }
      const raced = await racing;
      expect(raced.json.data.every((r: { run_id: string }) => r.run_id === oldRun)).toBe(true);
      const next = await call(app, "GET", `/v1/scenarios/${id}/metrics/latest`, { headers });
      const runs = new Set(next.json.data.map((r: { run_id: string }) => r.run_id));
      if (order === "commit then bump") expect([...runs]).toEqual([newRun]);
      else expect([...runs]).toEqual([oldRun]); // stale: the reason the worker bumps after its commit
    });
  }

  test("admin invalidation: admin:* only, 404 for an unknown scenario, 400 for a bad id; the next read misses", async () => {
    const { app, metrics } = await replica();
    const id = await newScenario(app, "admin invalidation");
    await seedRun(db.sql, { tenantId: TENANT, scenarioId: id, rows: 20 });
    await call(app, "GET", `/v1/scenarios/${id}/outputs`, { headers });
    await call(app, "GET", `/v1/scenarios/${id}/outputs`, { headers });
    expect(await counter(metrics, "misses_total", "outputs")).toBe(1);

    const res = await call(app, "POST", `/v1/admin/cache/scenarios/${id}/invalidate`, { headers });
    expect(res.status).toBe(200);
    expect(res.json.data).toMatchObject({ scenario_id: id, tenant_id: TENANT, cache_backend: "redis" });
    const again = await call(app, "POST", `/v1/admin/cache/scenarios/${id}/invalidate`, { headers });
    expect(BigInt(again.json.data.cache_version)).toBe(BigInt(res.json.data.cache_version) + 1n);
    await call(app, "GET", `/v1/scenarios/${id}/outputs`, { headers });
    expect(await counter(metrics, "misses_total", "outputs")).toBe(2);

    expect((await call(app, "POST", `/v1/admin/cache/scenarios/${crypto.randomUUID()}/invalidate`, { headers })).status).toBe(404);
    const bad = await call(app, "POST", "/v1/admin/cache/scenarios/not-a-uuid/invalidate", { headers });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe("VALIDATION_ERROR");
    expect((await call(app, "POST", `/v1/admin/cache/scenarios/${id}/invalidate?tenant_id=other`, { headers })).status).toBe(400);

    const keys = await generateKeyPair("ES256");
    const jwtApp = (await replica({ env: { AURUM_API_AUTH_DISABLED: "0", AURUM_API_AUTH_PUBLIC_KEY: await exportSPKI(keys.publicKey), AURUM_API_AUTH_ALGORITHMS: "ES256" } })).app;
    const bearer = async (roles: string[], tenant = TENANT) => ({
      authorization: `Bearer ${await new SignJWT({ tenant_id: tenant, roles }).setProtectedHeader({ alg: "ES256" }).setExpirationTime("5m").sign(keys.privateKey)}`,
    });
    const invalidate = async (h: Record<string, string>) => (await call(jwtApp, "POST", `/v1/admin/cache/scenarios/${id}/invalidate`, { headers: h })).status;
    expect(await invalidate({})).toBe(401);
    expect(await invalidate(await bearer(["operator"]))).toBe(403);
    expect(await invalidate(await bearer(["admin"], "another-tenant"))).toBe(404);
    expect(await invalidate(await bearer(["admin"]))).toBe(200);
  });

  test("an admin marking a run SUCCEEDED bumps the version: its outputs show at once", async () => {
    const { app, cache } = await replica();
    const id = await newScenario(app, "admin succeeded");
    const runId = await seedRun(db.sql, { tenantId: TENANT, scenarioId: id, rows: 12, state: "RUNNING" });
    expect((await call(app, "GET", `/v1/scenarios/${id}/outputs`, { headers })).json.data).toEqual([]);
    const before = BigInt((await cache.version("outputs", TENANT)) as string);
    const res = await call(app, "POST", `/v1/scenarios/runs/${runId}/state`, { body: { state: "SUCCEEDED", reason: "finished by hand" }, headers });
    expect(res.status).toBe(200);
    expect(BigInt((await cache.version("outputs", TENANT)) as string)).toBe(before + 1n);
    expect((await call(app, "GET", `/v1/scenarios/${id}/outputs`, { headers })).json.data).toHaveLength(12);
  });

  test("/compare pages are cached like /outputs pages; a new run of the *other* scenario bumps the version and shows at once", async () => {
    const { app, metrics } = await replica();
    const a = await newScenario(app, "compare a");
    const b = await newScenario(app, "compare b");
    await seedRun(db.sql, { tenantId: TENANT, scenarioId: a, rows: 40 });
    const oldB = await seedRun(db.sql, { tenantId: TENANT, scenarioId: b, rows: 40, offset: 5, finishedAt: "2026-01-01T00:00:00Z" });
    const { calls } = counting.reader;
    const before = { ...calls };
    const path = `/v1/scenarios/${a}/compare?with=${b}&limit=10`;
    const first = await call(app, "GET", path, { headers });
    const second = await call(app, "GET", path, { headers });
    expect([first.status, second.json.data]).toEqual([200, first.json.data]);
    expect(first.json.meta.with_run_id).toBe(oldB);
    expect(calls.compare - before.compare).toBe(1);
    expect([await counter(metrics, "hits_total", "compare"), await counter(metrics, "misses_total", "compare")]).toEqual([1, 1]);
    // Downloads are not cached.
    for (const format of ["csv", "csv"]) expect((await call(app, "GET", `${path}&format=${format}`, { headers })).status).toBe(200);
    expect([await counter(metrics, "hits_total", "compare"), await counter(metrics, "misses_total", "compare")]).toEqual([1, 1]);
    // A newer run of b, marked SUCCEEDED by an admin: the next page compares against it.
    const newB = await seedRun(db.sql, { tenantId: TENANT, scenarioId: b, rows: 40, offset: 9, state: "RUNNING" });
    expect((await call(app, "POST", `/v1/scenarios/runs/${newB}/state`, { body: { state: "SUCCEEDED", reason: "finished by hand" }, headers })).status).toBe(200);
    const after = await call(app, "GET", path, { headers });
    expect(after.json.meta.with_run_id).toBe(newB);
    expect(after.json.data[0].delta).toBe(first.json.data[0].delta - 4);
    expect(calls.compare - before.compare).toBe(2);
  });

  test("deleting a scenario bumps its tenant's version", async () => {
    const { app, cache } = await replica();
    const id = await newScenario(app, "deleted");
    const before = BigInt((await cache.version("outputs", TENANT)) as string);
    expect((await call(app, "DELETE", `/v1/scenarios/${id}`, { headers })).status).toBe(204);
    expect(BigInt((await cache.version("outputs", TENANT)) as string)).toBe(before + 1n);
    expect((await call(app, "GET", `/v1/scenarios/${id}/outputs`, { headers })).status).toBe(404);
  });
});

describe("bumps owed durably (cache_bump_pending)", () => {
  test("a process that dies between its commit and the bump: the stale page it leaves is replaced by the next sweep", async () => {
    const { app, bumps } = await replica();
    const id = await newScenario(app, "died after commit");
    const get = () => call(app, "GET", `/v1/scenarios/${id}/outputs`, { headers });
    expect((await get()).json.data).toEqual([]);
    expect((await get()).json.data).toEqual([]); // cached
    // A worker commits a run's outputs with the bump it owes, and dies before making it.
    await db.sql.begin(async (tx) => {
      await seedRun(tx as unknown as TestDb["sql"], { tenantId: TENANT, scenarioId: id, rows: 7 });
      await bumps.record(tx, { tenantId: TENANT, scenarioId: id, reason: "outputs_committed" });
    });
    expect((await get()).json.data).toEqual([]); // what the sweep is for: nobody bumped yet
    expect(await owed({ scenarioId: id })).toBe(1);
    expect(await bumps.sweep()).toBe(1);
    expect((await get()).json.data).toHaveLength(7);
    expect(await owed({ scenarioId: id })).toBe(0);
  });

  test("a writer cut off from Redis (admin SUCCEEDED, scenario delete): the bumps stay owed and a reader's sweep makes them", async () => {
    const reader = await replica();
    const dead = createNativeRedis(`redis://127.0.0.1:${await freePort()}`, { commandTimeoutMs: 100 });
    try {
      const writer = await replica({ redis: dead });
      const id = await newScenario(reader.app, "writer cut off");
      const runId = await seedRun(db.sql, { tenantId: TENANT, scenarioId: id, rows: 12, state: "RUNNING" });
      const get = () => call(reader.app, "GET", `/v1/scenarios/${id}/outputs`, { headers });
      expect((await get()).json.data).toEqual([]);

      const marked = await call(writer.app, "POST", `/v1/scenarios/runs/${runId}/state`, { body: { state: "SUCCEEDED", reason: "finished by hand" }, headers });
      expect(marked.status).toBe(200);
      expect(await owed({ runId })).toBe(1);
      expect((await get()).json.data).toEqual([]); // stale until the bump
      expect(await reader.bumps.sweep()).toBe(1);
      expect((await get()).json.data).toHaveLength(12);

      expect((await call(writer.app, "DELETE", `/v1/scenarios/${id}`, { headers })).status).toBe(204);
      expect(await owed({ scenarioId: id })).toBe(1);
      expect((await get()).status).toBe(200); // a hit: the deleted scenario's cached page
      expect(await reader.bumps.sweep()).toBe(1);
      expect((await get()).status).toBe(404);
      expect(await owed()).toBe(0);
    } finally {
      dead.close();
    }
  }, 120_000);

  test("a sweep while Redis is away stops at the first failed bump; every row stays owed until a sweep gets through", async () => {
    const dead = createNativeRedis(`redis://127.0.0.1:${await freePort()}`, { commandTimeoutMs: 100 });
    try {
      const cut = await replica({ redis: dead });
      const reader = await replica();
      for (const tenantId of ["t-owed-a", "t-owed-b"]) await db.sql.begin((tx) => cut.bumps.record(tx, { tenantId, reason: "admin" }));
      expect(await cut.bumps.sweep()).toBe(0);
      const failed = (await cut.metrics.registry.getSingleMetric("aurum_scenario_cache_invalidations_total")?.get())?.values.filter((v) => v.labels.result === "failed");
      expect(failed?.reduce((n, v) => n + v.value, 0)).toBe(1);
      expect(await reader.bumps.sweep()).toBe(2);
      expect(Number((await db.sql`select count(*)::int as n from cache_bump_pending`)[0]?.n)).toBe(0);
    } finally {
      dead.close();
    }
  }, 120_000);
});

describe("the API while its Redis is killed and restarted", () => {
  test("reads stay 200 from the store, errors are counted, and caching resumes after the restart", async () => {
    const server = await throwawayRedis();
    const client = createNativeRedis(server.url, { commandTimeoutMs: 100 });
    try {
      expect(await client.ready(2_000)).toBe(true);
      const { app, metrics } = await replica({ redis: client, cache: { cooldownMs: 200 } });
      const id = await newScenario(app, "redis outage");
      await seedRun(db.sql, { tenantId: TENANT, scenarioId: id, rows: 30 });
      const get = () => call(app, "GET", `/v1/scenarios/${id}/outputs`, { headers });
      const expected = (await get()).json.data;
      expect((await get()).json.data).toEqual(expected);
      expect(await counter(metrics, "hits_total", "outputs")).toBe(1);

      await server.kill();
      for (let i = 0; i < 5; i++) {
        const res = await get();
        expect(res.status).toBe(200);
        expect(res.json.data).toEqual(expected);
      }
      expect(await counter(metrics, "errors_total", "outputs")).toBe(5);
      expect((await call(app, "POST", `/v1/admin/cache/scenarios/${id}/invalidate`, { headers })).json.data.cache_version).toBeNull();

      await server.start();
      await eventually(
        async () => {
          if ((await counter(metrics, "hits_total", "outputs")) >= 2) return true;
          expect((await get()).status).toBe(200);
          return false;
        },
        { what: "the cache to recover (a second hit)" },
      );
    } finally {
      client.close();
      await server.cleanup();
    }
  }, 120_000);
});

const kafka = await requireService("kafka");

describe.skipIf(!kafka.available)("invalidation events on Kafka", () => {
  test("a bump publishes one event keyed by tenant, with the documented fields", async () => {
    const brokers = (serviceEnv().AURUM_KAFKA_BROKERS as string).split(",");
    const client = createKafka({ brokers, clientId: "aurum-it-cache-events" });
    const topic = `aurum.it.cache.invalidation.${Date.now().toString(36)}`;
    await client.ensureTopics([{ name: topic, partitions: 1 }]);
    const producer = await client.producer();
    const consumer = await client.consumer({ groupId: `${topic}.reader`, topics: [topic] });
    try {
      const { app } = await replica({ cache: { publish: (m) => producer.send(topic, [m]) } });
      const id = await newScenario(app, "events");
      const res = await call(app, "POST", `/v1/admin/cache/scenarios/${id}/invalidate`, { headers: { ...headers, "x-request-id": "req-cache-1" } });
      const got: { key: string | null; value: string; headers: Record<string, string> }[] = [];
      void consumer.run(async (m) => void got.push({ key: m.key, value: m.value?.toString() ?? "", headers: m.headers }));
      await eventually(() => got.length > 0, { what: "the invalidation event" });
      expect(got).toHaveLength(1);
      expect(got[0]?.key).toBe(TENANT);
      expect(got[0]?.headers.request_id).toBe("req-cache-1");
      expect(JSON.parse(got[0]?.value ?? "")).toEqual({
        schema: "aurum.scenario.cache_invalidation",
        version: 1,
        tenant_id: TENANT,
        scenario_id: id,
        run_id: null,
        reason: "admin",
        cache_version: res.json.data.cache_version,
        at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
      });
    } finally {
      await consumer.close(0);
      await producer.close();
      await client.deleteTopics([topic]).catch(() => {});
      await client.deleteGroups([`${topic}.reader`]).catch(() => {});
      await client.close();
    }
  }, 120_000);
});

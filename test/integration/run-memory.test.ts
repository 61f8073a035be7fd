/**
 * A worker's memory against the size of a run (issue 21, item 1): the engine yields batches, the
 * pool lets at most two wait per thread, and the Postgres writer holds at most
 * AURUM_OUTPUT_SORT_ROWS rows (past that a staging table that Postgres sorts). The worker is its
 * own process (`bun src/main.ts worker`, claiming from the shared Postgres) so its RSS is its own.
 *
 * Sizes: ~200,000 and ~2,000,000 rows, 100,000 held (`AURUM_TEST_RUN_ROWS` and
 * `AURUM_TEST_SORT_ROWS` change them). Measured here (docs/runs.md, "Memory"): before streaming,
 * the 2,000,000-row run peaked at +592 MB over idle (+490 MB over the small run's peak); streamed,
 * +159 MB (+59 MB). The bounds below fail the old pipeline and hold the new one with room for a
 * loaded machine; the issue's own (+128 MB, within 10 %) are not met yet, see docs/runs.md.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createCurveRepo } from "../../src/curves/repo";
import { SAMPLE_ASOF, syntheticCurves } from "../../src/curves/sample";
import { createCurveService } from "../../src/curves/service";
import { buildApp, call, createTestDb, type TestDb } from "../support/app";
import { peakRss } from "../support/outputs";
import { type ServiceProcess, startService } from "../support/service";

const BIG = Number(process.env.AURUM_TEST_RUN_ROWS ?? 2_000_000);
const SORT_ROWS = Number(process.env.AURUM_TEST_SORT_ROWS ?? BIG / 20);
/** Rows per curve at a horizon of h months, about: 8 metrics × (months + quarters + years). */
const rowsPerCurve = (h: number) => 8 * (h + h / 3 + h / 12);
const HORIZON = { small: 12, big: 120 };
const CURVES = Math.ceil(BIG / rowsPerCurve(HORIZON.big));
const MB = 1024 * 1024;
const tenant = { "x-aurum-tenant": "t-memory" };

describe("worker memory against the size of a run", () => {
  let db: TestDb;
  let app: Awaited<ReturnType<typeof buildApp>>;
  let worker: ServiceProcess;

  beforeAll(async () => {
    db = await createTestDb("postgres");
    await createCurveService(createCurveRepo(db.sql)).loadSpecs(syntheticCurves(CURVES), SAMPLE_ASOF, HORIZON.big);
    app = await buildApp(db, { AURUM_API_AUTH_DISABLED: "1" });
    const { AURUM_KAFKA_BROKERS: _k, AURUM_REDIS_URL: _r, ...env } = process.env;
    worker = await startService("worker", {
      ...env,
      AURUM_APP_DB_DSN: db.url as string,
      AURUM_WORKER_CONCURRENCY: "1",
      AURUM_OUTPUT_SORT_ROWS: String(SORT_ROWS),
      AURUM_LOAD_SAMPLE_CURVES: "never",
    });
  }, 300_000);
  afterAll(async () => {
    await worker?.stop();
    await db?.drop();
  });

  /** Triggers a run of `horizon` months over every curve; resolves with its rows and the worker's peak RSS meanwhile. */
  async function run(horizon: number): Promise<{ rows: number; peak: number }> {
    const created = await call(app, "POST", "/v1/scenarios", {
      body: {
        name: `memory ${horizon} ${crypto.randomUUID()}`,
        assumptions: [{ driver_type: "policy", payload: { policy_name: "RPS", start_year: 2027, target: 0.5 } }],
        parameters: { horizon_months: horizon, mc_paths: 100 },
      },
      headers: tenant,
    });
    expect(created.status).toBe(201);
    const triggered = await call(app, "POST", `/v1/scenarios/${created.json.data.id}/run`, { body: {}, headers: tenant });
    expect(triggered.status).toBe(202);
    const runId = triggered.json.data.id as string;
    const { result, peak } = await peakRss(worker.rssBytes, async () => {
      for (;;) {
        const [r] = await db.sql<{ state: string; rows: number | null; error: unknown }[]>`select state, rows_written::int as rows, error from scenario_run where id = ${runId}`;
        if (r && !["QUEUED", "RUNNING"].includes(r.state)) return r;
        await Bun.sleep(100);
      }
    });
    expect(result).toMatchObject({ state: "SUCCEEDED" });
    return { rows: result.rows as number, peak };
  }

  test("a run ten times the size peaks within idle + 256 MB, and less than 50 % above the smaller run's peak", async () => {
    await run(HORIZON.small); // warm-up: what a first run allocates once is not growth
    const idle = worker.rssBytes();
    const small = await run(HORIZON.small);
    const big = await run(HORIZON.big);
    // Quarters and years cut by the as-of month make the counts a little off the formula.
    expect(big.rows).toBeGreaterThan(0.9 * BIG);
    expect(big.rows).toBeGreaterThan(9 * small.rows);
    expect(big.rows).toBeGreaterThan(SORT_ROWS); // the big run streams through staging
    console.log(
      `worker RSS: idle ${(idle / MB).toFixed(1)} MB; ${small.rows.toLocaleString("en")} rows peak ${(small.peak / MB).toFixed(1)} MB; ${big.rows.toLocaleString("en")} rows peak ${(big.peak / MB).toFixed(1)} MB (sort budget ${SORT_ROWS.toLocaleString("en")} rows)`,
    );
    expect((big.peak - idle) / MB).toBeLessThan(256);
    expect((big.peak - small.peak) / small.peak).toBeLessThan(0.5);
  }, 900_000);
});

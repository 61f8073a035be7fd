/**
 * A worker's memory against the size of a run (issue 21, item 1): the engine yields batches, the
 * pool lets at most two wait per thread, and the Postgres writer holds at most
 * AURUM_OUTPUT_SORT_ROWS rows (500,000 by default; past that a staging table that Postgres
 * sorts). The worker is its own process (`bun src/main.ts worker`, claiming from the shared
 * Postgres) with the default sort budget, so its RSS is what production's would be.
 *
 * The sizes and bounds: a ~5,000,000-row run peaks within idle + 128 MB and at most 10 %
 * above a ~500,000-row run's peak (470,656 rows: under the sort budget, so held and sorted, where the
 * large run streams; the highest of three such runs, since one run's peak varies with the collector). `AURUM_TEST_RUN_ROWS` and `AURUM_TEST_SORT_ROWS` change the sizes for a
 * quicker look; the bounds are meant for the defaults. Measured here (docs/runs.md, "Memory"):
 * before streaming, a 2,000,000-row run peaked at +592 MB over idle; streamed but with the
 * writer's garbage left to the collector's pace, the 5,000,000-row run peaked at +196 MB over
 * idle and 34 % above the smaller run; with a young-generation collection after each COPY write,
 * +83 to +109 MB and within 4 % (five runs; CI once saw the large run 10.3 % *below* the small one,
 * and once a single small run 29 % below the large one, peaking at idle + 25 MB).
 *
 * The large run's rows are then exported as CSV by the API in a process of its own: they arrive
 * whole (row count, and the value column's sum within float rounding of Postgres's exact sum,
 * read by curl and awk), and the server's memory does not grow with them: the peak over idle
 * stays within 16 MB while the first 1,000,000 rows stream (`limit=1000000`: the same query and
 * encoder, one fifth of the rows; recycled chunks keep it near flat, 2-6 MB measured, where
 * postgres.js's per-row buffers took 45-65 MB), within 64 MB for all of them (the export issue's
 * bound), and within 10 % of the 1,000,000-row peak. Until stop 44 the export had a file of its
 * own (outputs-5m.test.ts) that seeded 5,000,000 rows with SQL first, about a minute of Postgres
 * on a quiet 2-core machine; the run written here is those rows, made as production makes them.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createCurveRepo } from "../../src/curves/repo";
import { SAMPLE_ASOF, syntheticCurves } from "../../src/curves/sample";
import { createCurveService } from "../../src/curves/service";
import { SORT_ROWS as SORT_ROWS_DEFAULT } from "../../src/outputs/export-order";
import { buildApp, call, createTestDb, type TestDb } from "../support/app";
import { curlAwk } from "../support/downloads";
import { type ApiProcess, peakRss, startApiProcess } from "../support/outputs";
import { type ServiceProcess, startService } from "../support/service";

const BIG = Number(process.env.AURUM_TEST_RUN_ROWS ?? 5_000_000);
/** The writer's sort budget: the production default (src/outputs/export-order.ts) unless set. */
const SORT_ROWS = Number(process.env.AURUM_TEST_SORT_ROWS ?? SORT_ROWS_DEFAULT);
/** Rows per curve at a horizon of h months, about: 8 metrics × (months + quarters + years). */
const rowsPerCurve = (h: number) => 8 * (h + h / 3 + h / 12);
const HORIZON = { small: 14, big: 120 };
/** 2 % more curves than the formula asks: the as-of month cuts some quarters and years (1,336 rows a curve, not 1,360), and the large run is at least BIG rows. */
const CURVES = Math.ceil(BIG / (0.98 * rowsPerCurve(HORIZON.big)));
const MB = 1024 * 1024;
const tenant = { "x-aurum-tenant": "t-memory" };

describe("a 5,000,000-row run: the worker's memory while it writes it, then the API's while it exports it", () => {
  let db: TestDb;
  let app: Awaited<ReturnType<typeof buildApp>>;
  let worker: ServiceProcess;
  let api: ApiProcess;
  /** The large run, once the first test has made it (the export test needs it). */
  let large: { scenarioId: string; runId: string; rows: number } | undefined;

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
    api = await startApiProcess(db.url as string);
  }, 300_000);
  afterAll(async () => {
    await worker?.stop();
    await api?.stop();
    await db?.drop();
  });

  /** Triggers a run of `horizon` months over every curve; resolves with its rows and the worker's peak RSS meanwhile. */
  async function run(horizon: number): Promise<{ rows: number; peak: number; seconds: number; scenarioId: string; runId: string }> {
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
    const started = performance.now();
    const { result, peak } = await peakRss(worker.rssBytes, async () => {
      for (;;) {
        const [r] = await db.sql<{ state: string; rows: number | null; error: unknown }[]>`select state, rows_written::int as rows, error from scenario_run where id = ${runId}`;
        if (r && !["QUEUED", "RUNNING"].includes(r.state)) return r;
        await Bun.sleep(100);
      }
    });
    expect(result).toMatchObject({ state: "SUCCEEDED" });
    return { rows: result.rows as number, peak, seconds: (performance.now() - started) / 1000, scenarioId: created.json.data.id, runId };
  }

  test("a run ten times the size peaks within idle + 128 MB, and at most 10 % above the smaller run's peak", async () => {
    await run(HORIZON.small); // warm-up: what a first run allocates once is not growth
    const idle = worker.rssBytes();
    // One run's peak is one sample of when the collector happened to run: CI once saw a 470,656-row
    // run peak at idle + 25 MB, where it usually reaches idle + 70 to 110 MB. The large run's peak is
    // already the highest of many collections over minutes, so the small size is measured as the
    // highest of three runs.
    const smalls = [await run(HORIZON.small), await run(HORIZON.small), await run(HORIZON.small)];
    const small = smalls.reduce((a, b) => (b.peak > a.peak ? b : a));
    const big = await run(HORIZON.big);
    large = big;
    expect(big.rows).toBeGreaterThanOrEqual(BIG);
    expect(big.rows).toBeGreaterThan(9 * small.rows);
    expect(small.rows).toBeLessThanOrEqual(SORT_ROWS); // the small run is held and sorted
    expect(big.rows).toBeGreaterThan(SORT_ROWS); // the big one streams through staging
    console.log(
      `worker RSS: idle ${(idle / MB).toFixed(1)} MB; ${small.rows.toLocaleString("en")} rows peaks ${smalls.map((r) => (r.peak / MB).toFixed(1)).join(", ")} MB in ${small.seconds.toFixed(1)} s; ${big.rows.toLocaleString("en")} rows peak ${(big.peak / MB).toFixed(1)} MB in ${big.seconds.toFixed(1)} s (sort budget ${SORT_ROWS.toLocaleString("en")} rows)`,
    );
    expect((big.peak - idle) / MB).toBeLessThan(128);
    // One-sided: a big run that peaks lower than the small one (seen: 10.3 % lower, the small run's
    // sort holding its whole budget) is what the bound is for, not a failure of it.
    expect(big.peak / small.peak).toBeLessThan(1.1);
  }, 900_000);

  /** The rows and the sum of the value column (cell 9; nothing before it holds a comma), with the server's idle and peak RSS. */
  async function exportCsv(scenarioId: string, query: string) {
    const idle = api.rssBytes();
    const { result, peak } = await peakRss(api.rssBytes, () =>
      curlAwk(`${api.base}/v1/scenarios/${scenarioId}/outputs?${query}`, tenant["x-aurum-tenant"], 'NR > 1 { n++; s += $9 } END { printf "%d %.6f", n, s }'),
    );
    const [rows, sum] = result.numbers;
    return { exit: result.exit, rows, sum: sum as number, idle, peak };
  }

  // curl and awk read the export as a client would, outside this process's memory.
  test.skipIf(!Bun.which("curl"))(
    "its export arrives whole (count, value sum); API peak RSS within idle + 16 MB at 1,000,000 rows, within idle + 64 MB and 10 % of that peak for all",
    async () => {
      if (!large) throw new Error("the large run was not made: see the test before");
      const { scenarioId, runId } = large;
      const [expected] = await db.sql<{ rows: number; sum: number; magnitude: number }[]>`
      select count(*)::int as rows, sum(value::numeric)::float8 as sum, sum(abs(value))::float8 as magnitude from scenario_output where run_id = ${runId}`;
      // Warm-up: what a first export allocates once is not growth.
      expect((await exportCsv(scenarioId, "format=csv&limit=200000")).rows).toBe(200_000);
      const first = await exportCsv(scenarioId, "format=csv&limit=1000000");
      const whole = await exportCsv(scenarioId, "format=csv");
      expect(first).toMatchObject({ exit: 0, rows: 1_000_000 });
      expect(whole).toMatchObject({ exit: 0, rows: expected?.rows });
      // awk adds the doubles one by one, Postgres exactly (numeric): they part by rounding alone, at
      // most rows × 2⁻⁵³ of the magnitudes' sum (the bound for summing in order; ~0.15 here).
      expect(Math.abs(whole.sum - (expected?.sum as number))).toBeLessThanOrEqual((expected?.rows as number) * 2 ** -53 * (expected?.magnitude as number) + 1e-6);
      console.log(
        `API peak RSS over idle: 1 M rows +${((first.peak - first.idle) / MB).toFixed(1)} MB, ${whole.rows?.toLocaleString("en")} rows +${((whole.peak - whole.idle) / MB).toFixed(1)} MB; peaks ${(first.peak / MB).toFixed(1)} / ${(whole.peak / MB).toFixed(1)} MB`,
      );
      expect((first.peak - first.idle) / MB).toBeLessThan(16);
      expect((whole.peak - whole.idle) / MB).toBeLessThan(64);
      expect(Math.abs(whole.peak - first.peak) / first.peak).toBeLessThan(0.1);
    },
    600_000,
  );
});

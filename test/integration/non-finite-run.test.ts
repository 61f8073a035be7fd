/**
 * A run whose engine produces a non-finite value, end to end through the embedded worker and its
 * engine thread: it fails at once (attempt 1, no retry: the same inputs overflow every time) with
 * the code NON_FINITE_OUTPUT and a message naming the curve and the month, and writes no rows.
 * The extreme curve value goes in with SQL, as data imported before the import refused it would.
 * First, the pool alone: the error keeps its name and code across the thread boundary.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createMetrics } from "../../src/adapters/metrics";
import { loadConfig } from "../../src/config";
import { createCurveRepo } from "../../src/curves/repo";
import { createCurveService } from "../../src/curves/service";
import { type BaselineCurve, type EngineInput, EngineValidationError } from "../../src/engine";
import { createPgOutputWriter } from "../../src/outputs/pg-store";
import { createLogger } from "../../src/platform/logger";
import type { RunRecord } from "../../src/runs/model";
import { createLocalQueue } from "../../src/runs/queue";
import { startWorker } from "../../src/worker";
import { classifyFailure } from "../../src/worker/failure";
import { WorkerPool } from "../../src/worker/pool";
import { buildApp, call, createTestDb, type TestDb } from "../support/app";
import { eventually } from "../support/eventually";
import { WORKED_EXAMPLE } from "../unit/engine/helpers";

const tenant = { "x-aurum-tenant": "t-finite" };

describe("the engine thread's error crosses the thread boundary", () => {
  test("the pool rejects with the engine's name (NonFiniteOutputError) and code (NON_FINITE_OUTPUT), which the executor classifies by", async () => {
    const pool = new WorkerPool(1);
    try {
      // power prices are clamped to the market's cap (docs/model.md §4.1), so the overflow is a fuel curve's
      const gas: BaselineCurve = { ...WORKED_EXAMPLE.curves[1]!, months: new Int32Array([202701, 202702]), mid: new Float64Array([4, 1.7e308]) };
      const drivers: EngineInput["drivers"] = [{ driver_type: "fuel_curve", fuel: "natural_gas", reference_series: "HH_GAS", basis_points_adjustment: 10_000 }];
      const err = await pool.run({ ...WORKED_EXAMPLE, drivers, curves: [gas] }).result.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      // The code and the retry verdict cross the thread boundary as plain fields.
      expect(err).toMatchObject({ name: "NonFiniteOutputError", code: "NON_FINITE_OUTPUT", retryable: false });
      expect((err as Error).message).toMatch(/^non-finite output: curve HH_GAS, month 2027-02/);
      expect(classifyFailure(err, "engine")).toMatchObject({ code: "NON_FINITE_OUTPUT", retryable: false });
      // Invalid input stays what it was; a thread crash or a store error stays retryable.
      expect(classifyFailure(new EngineValidationError("invalid engine input"), "engine")).toMatchObject({
        code: "INVALID_INPUT",
        retryable: false,
      });
      expect(classifyFailure(new Error("output store unavailable"), "output")).toMatchObject({ code: "OUTPUT_WRITE_FAILED", retryable: true });
    } finally {
      await pool.close();
    }
  });
});

describe("a run whose engine output is not finite", () => {
  let db: TestDb;
  let app: Awaited<ReturnType<typeof buildApp>>;
  let worker: Awaited<ReturnType<typeof startWorker>>;
  const deadLetters: { run: RunRecord; error: Record<string, unknown> }[] = [];

  beforeAll(async () => {
    db = await createTestDb("postgres");
    await createCurveService(createCurveRepo(db.sql)).loadSampleIfEmpty();
    // Finite, so the engine's input validation passes; 1.7e308 plus a +100 % shock overflows to Infinity.
    // (A power curve cannot overflow this way: its price is clamped to the market's cap.)
    await db.sql`update curve_observation set mid = 1.7e308 where curve_key = 'HENRY_HUB_GAS' and contract_month = '2026-03-01'`;
    // Written past the importer (which refuses it), so the snapshot's content hash is brought in step by hand.
    await db.sql`update curve_snapshot s set content_hash = (
      select encode(sha256(string_agg(int4send((extract(year from o.contract_month) * 100 + extract(month from o.contract_month))::int) || float8send(o.mid), ''::bytea order by o.contract_month)), 'hex')
      from curve_observation o where o.curve_key = s.curve_key and o.asof_date = s.asof_date) where s.curve_key = 'HENRY_HUB_GAS'`;
    const queue = createLocalQueue();
    app = await buildApp(db, { AURUM_API_AUTH_DISABLED: "1" }, queue);
    worker = await startWorker({
      mode: "embedded",
      sql: db.sql,
      metrics: createMetrics(),
      writer: createPgOutputWriter(db.sql),
      config: { ...loadConfig({}), workerConcurrency: 1, workerLeaseSeconds: 3, workerPollMs: 100, workerRetryBaseMs: 20 },
      log: createLogger("silent"),
      queue,
      workerId: "finite-worker",
      executorOptions: { onDeadLetter: async (run, error) => void deadLetters.push({ run, error }) },
    });
  }, 180_000);
  afterAll(async () => {
    await worker?.stop(1_000);
    await db?.drop();
  });

  test("fails once (attempts 1, not retried) with NON_FINITE_OUTPUT naming the curve and the month, and writes nothing", async () => {
    const assumptions = [{ driver_type: "fuel_curve", payload: { fuel: "natural_gas", reference_series: "HENRY_HUB_GAS", basis_points_adjustment: 10_000 } }];
    const created = await call(app, "POST", "/v1/scenarios", { body: { name: "Overflow", assumptions, parameters: { horizon_months: 12, mc_paths: 100 } }, headers: tenant });
    expect(created.status).toBe(201);
    const scenarioId = created.json.data.id as string;
    const triggered = await call(app, "POST", `/v1/scenarios/${scenarioId}/run`, { body: { seed: 1, max_retries: 3 }, headers: tenant });
    expect(triggered.status).toBe(202);
    const run = triggered.json.data as RunRecord;

    const done = await eventually(
      async () => {
        const now = (await call(app, "GET", `/v1/scenarios/${scenarioId}/runs/${run.id}`, { headers: tenant })).json.data as RunRecord;
        return ["SUCCEEDED", "FAILED", "CANCELLED"].includes(now.state) && now;
      },
      { what: "the run to finish" },
    );
    expect(done).toMatchObject({ state: "FAILED", attempts: 1 });
    expect(done.error).toMatchObject({ code: "NON_FINITE_OUTPUT", attempt: 1 });
    // the first curve to overflow names itself: a power curve's gas attribution (its price is capped) or the gas curve's own mid
    expect((done.error as { message: string }).message).toMatch(/^non-finite output: curve [A-Z0-9_]+, month 2026-03, metric [a-z_]+: [a-z_:0-9 ]+ is (-?Infinity|NaN)/);

    const events = await db.sql`select payload->>'to' as "to", payload->>'reason' as reason from scenario_event where run_id = ${run.id} order by id`;
    expect(events.map((e) => e.to)).toEqual(["QUEUED", "RUNNING", "FAILED"]);
    expect(events.at(-1)?.reason).toBe("not retryable");
    expect(deadLetters.filter((d) => d.run.id === run.id).map((d) => d.error.code)).toEqual(["NON_FINITE_OUTPUT"]);
    const [{ n }] = await db.sql`select count(*)::int as n from scenario_output where run_id = ${run.id}`;
    expect(n).toBe(0);
  }, 120_000);
});

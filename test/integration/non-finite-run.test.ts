/**
 * A run whose engine produces a non-finite value, end to end through the embedded worker and its
 * engine thread: it fails at once (attempt 1, no retry: the same inputs overflow every time) with
 * the code NON_FINITE_OUTPUT and a message naming the curve and the month, and writes no rows.
 * The extreme curve value goes in with SQL, as data imported before the import refused it would.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { loadConfig } from "../../src/config";
import { createCurveRepo } from "../../src/curves/repo";
import { createCurveService } from "../../src/curves/service";
import { createLogger } from "../../src/platform/logger";
import type { RunRecord } from "../../src/runs/model";
import { createLocalQueue } from "../../src/runs/queue";
import { startWorker } from "../../src/worker";
import { buildApp, call, createTestDb, type TestDb } from "../support/app";

const tenant = { "x-aurum-tenant": "t-finite" };

describe("a run whose engine output is not finite", () => {
  let db: TestDb;
  let app: ReturnType<typeof buildApp>;
  let worker: Awaited<ReturnType<typeof startWorker>>;
  const deadLetters: { run: RunRecord; error: Record<string, unknown> }[] = [];

  beforeAll(async () => {
    db = await createTestDb("postgres");
    await createCurveService(createCurveRepo(db.sql)).loadSampleIfEmpty();
    // Finite, so the engine's input validation passes; 1.7e308 plus any uplift overflows to Infinity.
    await db.sql`update curve_observation set mid = 1.7e308 where curve_key = 'PJM_WEST_ON_PEAK' and contract_month = '2026-03-01'`;
    const queue = createLocalQueue();
    app = buildApp(db, { AURUM_API_AUTH_DISABLED: "1" }, queue);
    worker = await startWorker({
      mode: "embedded",
      sql: db.sql,
      config: { ...loadConfig({}), workerConcurrency: 1, workerLeaseSeconds: 3, workerPollMs: 100, workerRetryBaseMs: 20 },
      log: createLogger("silent"),
      queue,
      workerId: "finite-worker",
      executorOptions: { onDeadLetter: async (run, error) => void deadLetters.push({ run, error }) },
    });
  }, 60_000);
  afterAll(async () => {
    await worker?.stop(1_000);
    await db?.drop();
  });

  test("fails once (attempts 1, not retried) with NON_FINITE_OUTPUT naming the curve and the month, and writes nothing", async () => {
    const assumptions = [{ driver_type: "load_growth", payload: { annual_growth_pct: 2, start_year: 2025, end_year: 2030, region: "PJM" } }];
    const created = await call(app, "POST", "/v1/scenarios", { body: { name: "Overflow", assumptions, parameters: { horizon_months: 12, mc_paths: 20 } }, headers: tenant });
    expect(created.status).toBe(201);
    const scenarioId = created.json.data.id as string;
    const triggered = await call(app, "POST", `/v1/scenarios/${scenarioId}/run`, { body: { seed: 1, max_retries: 3 }, headers: tenant });
    expect(triggered.status).toBe(202);
    const run = triggered.json.data as RunRecord;

    const deadline = Date.now() + 30_000;
    let done: RunRecord;
    for (;;) {
      done = (await call(app, "GET", `/v1/scenarios/${scenarioId}/runs/${run.id}`, { headers: tenant })).json.data;
      if (["SUCCEEDED", "FAILED", "CANCELLED"].includes(done.state)) break;
      if (Date.now() > deadline) throw new Error(`run is still ${done.state}`);
      await Bun.sleep(50);
    }
    expect(done).toMatchObject({ state: "FAILED", attempts: 1 });
    expect(done.error).toMatchObject({ code: "NON_FINITE_OUTPUT", attempt: 1 });
    expect((done.error as { message: string }).message).toMatch(/^non-finite output: curve PJM_WEST_ON_PEAK, month 2026-03, metric mid: (value|band_upper) is Infinity/);

    const events = await db.sql`select payload->>'to' as "to", payload->>'reason' as reason from scenario_event where run_id = ${run.id} order by id`;
    expect(events.map((e) => e.to)).toEqual(["QUEUED", "RUNNING", "FAILED"]);
    expect(events.at(-1)?.reason).toBe("non-finite output");
    expect(deadLetters.filter((d) => d.run.id === run.id).map((d) => d.error.code)).toEqual(["NON_FINITE_OUTPUT"]);
    const [{ n }] = await db.sql`select count(*)::int as n from scenario_output where run_id = ${run.id}`;
    expect(n).toBe(0);
  }, 60_000);
});

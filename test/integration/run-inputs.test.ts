/**
 * A run's inputs are fixed at trigger time (docs/runs.md, "Inputs"): the worker computes exactly
 * them whatever happens to the scenario or the curves afterwards, the fingerprint covers the curve
 * snapshot, one as-of date per run, and a store without the curves a run needs answers 409.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createMetrics } from "../../src/adapters/metrics";
import { loadConfig } from "../../src/config";
import { CSV_COLUMNS } from "../../src/curves/model";
import { createCurveRepo } from "../../src/curves/repo";
import { createPgOutputWriter } from "../../src/outputs/pg-store";
import { createLogger } from "../../src/platform/logger";
import { fingerprint } from "../../src/runs/fingerprint";
import type { RunRecord } from "../../src/runs/model";
import { createLocalQueue } from "../../src/runs/queue";
import { startWorker } from "../../src/worker";
import { buildApp, call, createTestDb, STORES, type TestDb } from "../support/app";
import { eventually } from "../support/eventually";
import { startService } from "../support/service";
import { simulateHistory } from "../unit/engine/synthetic";

const tenant = { "x-aurum-tenant": "t-inputs" };
const HH = "HENRY_HUB_GAS";
const GAS_SHOCK = [{ driver_type: "fuel_curve", payload: { fuel: "natural_gas", reference_series: HH, basis_points_adjustment: 1000 } }];
const LOAD = [{ driver_type: "load_growth", payload: { annual_growth_pct: 3, start_year: 2027, end_year: 2030 } }];
const PARAMS = { horizon_months: 24, mc_paths: 100 };

/** A database with the sample curves, the app, and a worker that starts only when asked (so runs can wait QUEUED). */
async function harness() {
  const db = await createTestDb("postgres", { sampleCurves: true });
  const queue = createLocalQueue();
  const app = await buildApp(db, { AURUM_API_AUTH_DISABLED: "1" }, queue);
  let worker: Awaited<ReturnType<typeof startWorker>> | undefined;
  const startTheWorker = async () => {
    worker ??= await startWorker({
      mode: "embedded",
      sql: db.sql,
      metrics: createMetrics(),
      writer: createPgOutputWriter(db.sql),
      config: { ...loadConfig({}), workerConcurrency: 1, workerLeaseSeconds: 3, workerPollMs: 50, workerRetryBaseMs: 20 },
      log: createLogger("silent"),
      queue,
      workerId: "inputs-worker",
    });
  };
  const create = async (assumptions: unknown[], name: string) => {
    const res = await call(app, "POST", "/v1/scenarios", { body: { name, assumptions: assumptions as never, parameters: PARAMS }, headers: tenant });
    expect(res.status).toBe(201);
    return res.json.data as { id: string; version: number };
  };
  const trigger = async (scenarioId: string, body: Record<string, unknown> = {}) => call(app, "POST", `/v1/scenarios/${scenarioId}/run`, { body: body as never, headers: tenant });
  const getRun = async (run: RunRecord) => (await call(app, "GET", `/v1/scenarios/${run.scenario_id}/runs/${run.id}`, { headers: tenant })).json.data as RunRecord;
  const settled = (run: RunRecord) =>
    eventually(
      async () => {
        const now = await getRun(run);
        if (!["SUCCEEDED", "FAILED", "CANCELLED"].includes(now.state)) throw new Error(`run ${run.id} is still ${now.state}`);
        return now;
      },
      { what: `run ${run.id} to settle`, intervalMs: 25 },
    );
  /** A run's rows as text, without its own ids: equal texts are equal outputs, byte for byte. */
  const outputsText = async (runId: string) => {
    const [row] = await db.sql<{ t: string | null }[]>`
      select string_agg(concat_ws('|', asof_date, curve_key, tenor_type, contract_month, tenor_label, metric,
                        float8send(value), float8send(band_lower), float8send(band_upper), attribution::text), E'\\n'
                        order by curve_key, metric, tenor_type, contract_month) as t
      from scenario_output where run_id = ${runId}`;
    return row?.t ?? "";
  };
  const importCsv = (csv: string) => call(app, "POST", "/v1/curves:import", { raw: csv, headers: { "content-type": "text/csv" } });
  const close = async () => {
    await worker?.stop(1_000);
    await db.drop();
  };
  return { db, app, startTheWorker, create, trigger, getRun, settled, outputsText, importCsv, close };
}

/** The sample Henry Hub curve as a CSV at `asof`, every mid scaled by `factor`. */
async function henryHubCsv(db: TestDb, asof: string, factor: number): Promise<string> {
  const rows = await db.sql<{ contract_month: string; mid: number }[]>`
    select contract_month::text as contract_month, mid from curve_observation
    where curve_key = ${HH} and asof_date = (select latest_asof from curve where curve_key = ${HH}) order by contract_month`;
  const [c] = await db.sql<{ market: string; location: string; product: string; block: string; unit: string }[]>`
    select market, location, product, block, unit from curve where curve_key = ${HH}`;
  const lines = rows.map((r) => [HH, c!.market, c!.location, c!.product, c!.block, c!.unit, asof, r.contract_month.slice(0, 7), r.mid * factor].join(","));
  return [CSV_COLUMNS.join(","), ...lines].join("\n");
}

describe("run inputs are fixed at trigger time", () => {
  let h: Awaited<ReturnType<typeof harness>>;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(async () => {
    await h?.close();
  });

  test("a PATCH between trigger and execution changes nothing the run computes; `inputs` shows the trigger-time inputs", async () => {
    const s = await h.create(GAS_SHOCK, "Patched after trigger");
    const res = await h.trigger(s.id, { seed: 11 });
    expect(res.status).toBe(202);
    const run = res.json.data as RunRecord;
    expect(run.state).toBe("QUEUED");
    expect(run.inputs?.assumptions).toEqual(GAS_SHOCK);
    expect(run.inputs?.parameters).toEqual(PARAMS);
    expect(run.inputs?.options).toEqual({ code_version: "v1", seed: 11 });
    expect(run.inputs?.curves.length).toBeGreaterThan(10);
    expect(run.inputs?.curves.find((c) => c.curve_key === HH)?.content_hash).toMatch(/^[0-9a-f]{64}$/);

    // The worker is held; the scenario changes under the queued run.
    const patched = await call(h.app, "PATCH", `/v1/scenarios/${s.id}`, { body: { assumptions: LOAD, parameters: { horizon_months: 12, mc_paths: 100 } }, headers: tenant });
    expect(patched.status).toBe(200);
    // A reference scenario that has the trigger-time inputs as its current state.
    const reference = await h.create(GAS_SHOCK, "Reference");
    const refRun = (await h.trigger(reference.id, { seed: 11 })).json.data as RunRecord;

    await h.startTheWorker();
    const done = await h.settled(run);
    const refDone = await h.settled(refRun);
    expect(done.state).toBe("SUCCEEDED");
    expect(refDone.state).toBe("SUCCEEDED");
    const text = await h.outputsText(run.id);
    expect(text.length).toBeGreaterThan(10_000);
    expect(text).toBe(await h.outputsText(refRun.id));
    expect(done.inputs).toEqual(run.inputs);

    // The patched scenario's next run computes the new inputs, and so other numbers.
    const after = (await h.trigger(s.id, { seed: 11 })).json.data as RunRecord;
    expect(after.id).not.toBe(run.id);
    expect(after.inputs?.assumptions).toEqual(LOAD);
    expect((await h.settled(after)).state).toBe("SUCCEEDED");
    expect(await h.outputsText(after.id)).not.toBe(text);
  });

  test("a changed curve makes a new run with other outputs; the same inputs again deduplicate to it", async () => {
    await h.startTheWorker();
    const s = await h.create(GAS_SHOCK, "Curve changes");
    const first = (await h.trigger(s.id, { idempotency_key: "k1" })).json.data as RunRecord;
    expect((await h.settled(first)).state).toBe("SUCCEEDED");
    const again = await h.trigger(s.id, { idempotency_key: "k2" });
    expect(again.json.data.id).toBe(first.id);

    const asof = first.inputs!.asof_date;
    const next = new Date(Date.parse(`${asof}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
    expect((await h.importCsv(await henryHubCsv(h.db, next, 1.1))).status).toBe(200);

    const second = await h.trigger(s.id, { idempotency_key: "k3" });
    expect(second.status).toBe(202);
    const run2 = second.json.data as RunRecord;
    expect(run2.id).not.toBe(first.id);
    expect(run2.input_hash).not.toBe(first.input_hash);
    expect(run2.inputs?.asof_date).toBe(next);
    expect(run2.inputs?.curves.find((c) => c.curve_key === HH)).toMatchObject({ asof_date: next });
    // Curves without a snapshot at the new date are read at their newest one before it.
    expect(run2.inputs?.curves.find((c) => c.curve_key === "PJM_WEST_ON_PEAK")).toMatchObject({ asof_date: asof });
    expect((await h.settled(run2)).state).toBe("SUCCEEDED");
    expect(await h.outputsText(run2.id)).not.toBe(await h.outputsText(first.id));
    const [stamps] = await h.db.sql<{ dates: string[] }[]>`select array_agg(distinct asof_date::text) as dates from scenario_output where run_id = ${run2.id}`;
    expect(stamps!.dates).toEqual([next]);

    const third = await h.trigger(s.id, { idempotency_key: "k4" });
    expect(third.status).toBe(200);
    expect(third.json.data.id).toBe(run2.id);
    expect(third.json.meta.deduplicated).toBe("fingerprint");
  });
});

describe("the bands' calibration is fixed at trigger time from the curve history (docs/model.md §7.2)", () => {
  let h: Awaited<ReturnType<typeof harness>>;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(async () => {
    await h?.close();
  });
  const KEY = "PJM_CALIBRATION_TEST";

  test("a curve with enough snapshots is calibrated from them, the others get the default; the calibration is in the fingerprint; band standard errors are stored", async () => {
    const sampleAsof = (await h.db.sql<{ d: string }[]>`select max(asof_date)::text as d from curve_snapshot`)[0]!.d;
    // 20 weekly snapshots ending on the sample as-of date
    const start = new Date(Date.parse(`${sampleAsof}T00:00:00Z`) - 19 * 7 * 86_400_000).toISOString().slice(0, 10);
    const history = simulateHistory({ kappa: 1.2, sigma_short: 0.5, sigma_long: 0.15, rho: 0.3 }, { start, n: 20, stepDays: 7, months: 36, seed: 8 });
    const lines = history.flatMap((snap) =>
      snap.months.map((ym, i) =>
        [KEY, "PJM", "PJM Calibration Node", "power", "ON_PEAK", "USD/MWh", snap.asofDate, `${Math.floor(ym / 100)}-${String(ym % 100).padStart(2, "0")}`, snap.mid[i]].join(","),
      ),
    );
    expect((await h.importCsv([CSV_COLUMNS.join(","), ...lines].join("\n"))).status).toBe(200);
    expect(history.at(-1)!.asofDate).toBe(sampleAsof);

    const s = await h.create(GAS_SHOCK, "Calibrated");
    const res = await h.trigger(s.id, { seed: 3 });
    expect(res.status).toBe(202);
    const run = res.json.data as RunRecord;
    const cal = run.inputs!.calibration!;
    expect(Object.keys(cal).sort()).toEqual(run.inputs!.curves.map((c) => c.curve_key).sort());
    expect(cal[KEY]).toMatchObject({ source: "history", n_snapshots: 20 });
    for (const k of ["kappa", "sigma_short", "sigma_long", "rho"] as const) expect(Number.isFinite(cal[KEY]![k])).toBe(true);
    expect(cal[KEY]!.seasonality).toHaveLength(12);
    expect(cal[HH]).toMatchObject({ source: "default", n_snapshots: 1, kappa: 1, sigma_short: 0.4, sigma_long: 0.15, rho: 0.3 });

    // As of the 11th snapshot the curve has too few: the power default, with the count recorded
    // (a scenario that needs no other curve, since the sample curves have no snapshot that early).
    const loadOnly = await h.create(LOAD, "Calibrated early");
    const early = (await h.trigger(loadOnly.id, { seed: 3, asof_date: history[10]!.asofDate })).json.data as RunRecord;
    expect(early.inputs!.curves.map((c) => c.curve_key)).toEqual([KEY]);
    expect(early.inputs!.calibration![KEY]).toMatchObject({ source: "default", n_snapshots: 11, kappa: 1.5, sigma_short: 0.45 });

    // Same inputs, same calibration: the trigger deduplicates to the first run.
    const again = await h.trigger(s.id, { seed: 3 });
    expect(again.status).toBe(200);
    expect(again.json.data.id).toBe(run.id);
    // The fingerprint covers the calibration: another calibration is another run.
    const other = { ...run.inputs!, calibration: { ...cal, [KEY]: { ...cal[KEY]!, sigma_long: cal[KEY]!.sigma_long + 0.01 } } };
    const scope = { tenantId: run.tenant_id, scenarioId: run.scenario_id, scenarioVersion: 1 };
    expect(fingerprint(scope, run.inputs!).inputHash).toBe(run.input_hash);
    expect(fingerprint(scope, other).inputHash).not.toBe(run.input_hash);

    expect(run.band_stats).toBeNull();
    await h.startTheWorker();
    const done = await h.settled(run);
    expect(done.state).toBe("SUCCEEDED");
    expect(done.inputs).toEqual(run.inputs);
    expect(done.band_stats).toMatchObject({ mc_paths: 100 });
    expect(done.band_stats!.periods).toBeGreaterThan(0);
    expect(done.band_stats!.se_upper.max).toBeGreaterThan(0);
    expect(done.band_stats!.rel_se_upper_half_width.median).toBeGreaterThan(0);
    expect(done.band_stats!.worst).not.toBeNull();
  });
});

describe("a curve snapshot that changes after the trigger", () => {
  let h: Awaited<ReturnType<typeof harness>>;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(async () => {
    await h?.close();
  });

  test("a snapshot re-imported with other values after the trigger fails the run once, with a readable code, never silently", async () => {
    const s = await h.create(GAS_SHOCK, "Snapshot overwritten");
    const asof = (await h.db.sql<{ d: string }[]>`select max(asof_date)::text as d from curve_snapshot`)[0]!.d;
    // The worker is held while the run's snapshot is overwritten in place (same curve, same as-of).
    const run = (await h.trigger(s.id, { seed: 99 })).json.data as RunRecord;
    expect((await h.importCsv(await henryHubCsv(h.db, asof, 1.5))).status).toBe(200);
    await h.startTheWorker();
    const done = await h.settled(run);
    expect(done.state).toBe("FAILED");
    expect(done.attempts).toBe(1);
    expect(done.error).toMatchObject({ code: "CURVE_SNAPSHOT_CHANGED" });
    expect(String(done.error?.message)).toContain(`${HH} as of ${asof}`);
    expect(Number((await h.db.sql`select count(*)::int as n from scenario_output where run_id = ${run.id}`)[0]?.n)).toBe(0);
  });

  test("the hash the worker computes from the rows it reads (contentHash) is the one Postgres recorded, to the bit; a mid one ulp off is told apart", async () => {
    const key = "HASH_CHECK_POWER";
    const asof = "2026-06-30";
    // Awkward doubles: zero, the smallest denormal, the plausible range's edge (docs/curves.md), an inexact sum, a negative price.
    const mids = [0, 5e-324, 99_999.99999999999, 0.1 + 0.2, -1234.5678901234567, 2 ** -1022, 42];
    const lines = mids.map((mid, i) => [key, "PJM", "WEST", "power", "ON_PEAK", "USD/MWh", asof, `2027-0${i + 1}`, String(mid)].join(","));
    expect((await h.importCsv([CSV_COLUMNS.join(","), ...lines].join("\n"))).status).toBe(200);
    const [recorded] = await h.db.sql<{ content_hash: string }[]>`select content_hash from curve_snapshot where curve_key = ${key} and asof_date = ${asof}`;
    const repo = createCurveRepo(h.db.sql);
    const read = async () => (await repo.readSnapshots([{ curve_key: key, asof_date: asof, content_hash: recorded?.content_hash as string }]))[0];
    const first = await read();
    expect(first?.mids).toEqual(mids);
    expect(first?.months).toEqual(mids.map((_, i) => 202701 + i));
    expect(first?.content_hash).toBe(recorded?.content_hash as string);
    // The negative case: the same rows with 0.1 + 0.2 moved by one ulp in place (as a re-import would).
    await h.db.sql`update curve_observation set mid = ${0.1 + 0.2 + 2 ** -54}::float8 where curve_key = ${key} and contract_month = '2027-04-01'`;
    expect((await read())?.content_hash).not.toBe(recorded?.content_hash as string);
  });
});

for (const store of STORES) {
  describe(`one as-of per run, and missing curves are a 409 (${store})`, () => {
    let db: TestDb;
    let app: Awaited<ReturnType<typeof buildApp>>;
    const D0 = "2026-01-02";
    const D1 = "2026-01-05";
    const D2 = "2026-02-02";
    const row = (key: string, product: string, unit: string, asof: string, month: string, mid: number) =>
      [key, "PJM", "West", product, product === "power" ? "ON_PEAK" : "ATC", unit, asof, month, mid].join(",");
    beforeAll(async () => {
      db = await createTestDb(store);
      app = await buildApp(db);
    });
    afterAll(async () => {
      await db?.drop();
    });
    const create = async (assumptions: unknown[], name: string) =>
      (await call(app, "POST", "/v1/scenarios", { body: { name, assumptions: assumptions as never }, headers: tenant })).json.data.id as string;
    const trigger = (id: string, body: Record<string, unknown> = {}) => call(app, "POST", `/v1/scenarios/${id}/run`, { body: body as never, headers: tenant });

    test("an empty store answers 409 naming the remedy, and no run is written", async () => {
      const id = await create([{ driver_type: "policy", payload: { policy_name: "RPS", start_year: 2030, target: 0.6 } }], "Guide example");
      const res = await trigger(id, { code_version: "v1", priority: "NORMAL" });
      expect(res.status).toBe(409);
      expect(res.json.error.message).toContain("curve store is empty");
      expect(res.json.error.message).toContain("POST /v1/curves:import");
      expect(Number((await db.sql`select count(*)::int as n from scenario_run`)[0]?.n)).toBe(0);
    });

    test("power at D1, gas at D0 and D2: as of D1 the gas is read at D0; the default as-of is the newest date", async () => {
      const months = ["2026-02", "2026-03", "2026-04"];
      const csv = [
        CSV_COLUMNS.join(","),
        ...months.map((m, i) => row("P_ON", "power", "USD/MWh", D1, m, 40 + i)),
        ...months.map((m, i) => row("G", "natural_gas", "USD/MMBtu", D0, m, 3 + i / 10)),
        ...months.map((m, i) => row("G", "natural_gas", "USD/MMBtu", D2, m, 4 + i / 10)),
        ...months.map((m, i) => row("G_LATE", "natural_gas", "USD/MMBtu", D2, m, 5 + i / 10)),
      ].join("\n");
      expect((await call(app, "POST", "/v1/curves:import", { raw: csv, headers: { "content-type": "text/csv" } })).status).toBe(200);
      const id = await create([{ driver_type: "fuel_curve", payload: { fuel: "natural_gas", reference_series: "G", basis_points_adjustment: 500 } }], "As-of rule");

      const asD1 = await trigger(id, { asof_date: D1 });
      expect(asD1.status).toBe(202);
      expect(asD1.json.data.inputs.asof_date).toBe(D1);
      expect(asD1.json.data.inputs.curves.map((c: { curve_key: string; asof_date: string }) => [c.curve_key, c.asof_date])).toEqual([
        ["G", D0],
        ["P_ON", D1],
      ]);

      const latest = await trigger(id);
      expect(latest.status).toBe(202);
      expect(latest.json.data.inputs.asof_date).toBe(D2);
      expect(latest.json.data.inputs.curves.map((c: { curve_key: string; asof_date: string }) => [c.curve_key, c.asof_date])).toEqual([
        ["G", D2],
        ["G_LATE", D2],
        ["P_ON", D1],
      ]);
    });

    test("a driver's curve with no snapshot on or before the as-of is a 409 naming it; a bad asof_date is a 400", async () => {
      const id = await create([{ driver_type: "fuel_curve", payload: { fuel: "natural_gas", reference_series: "G_LATE", basis_points_adjustment: 500 } }], "Too early");
      const res = await trigger(id, { asof_date: D1 });
      expect(res.status).toBe(409);
      expect(res.json.error.message).toContain("G_LATE");
      expect(res.json.error.details.missing_curves).toEqual(["G_LATE"]);
      const early = await trigger(id, { asof_date: "2025-12-31" });
      expect(early.status).toBe(409);
      expect(early.json.error.message).toContain("no curve has a snapshot on or before 2025-12-31");
      for (const bad of ["2026-02-30", "2026-1-5", "yesterday"]) expect((await trigger(id, { asof_date: bad })).status).toBe(400);
    });

    test("20 triggers racing a delete answer 202 or 404, never 500", async () => {
      for (let i = 0; i < 20; i++) {
        const id = await create([], `Race ${i}`);
        const [t, d] = await Promise.all([trigger(id, { seed: i }), call(app, "DELETE", `/v1/scenarios/${id}`, { headers: tenant })]);
        expect([202, 404]).toContain(t.status);
        expect(d.status).toBe(204);
      }
      // Nothing of the deleted scenarios is left behind.
      expect(Number((await db.sql`select count(*)::int as n from scenario_run r where not exists (select 1 from scenario s where s.id = r.scenario_id)`)[0]?.n)).toBe(0);
    });
  });
}

describe("`start` on a fresh server Postgres", () => {
  const fresh = async () => {
    const db = await createTestDb("postgres");
    await db.close();
    return db;
  };
  const guideScenario = {
    tenant_id: "demo-tenant",
    name: "RPS sensitivity",
    assumptions: [{ driver_type: "policy", payload: { policy_name: "RPS", start_year: 2030, target: 0.6 } }],
    parameters: { shock_bp: 25 },
    tags: ["demo", "sensitivity"],
  };
  const post = (base: string, path: string, body: unknown) =>
    fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

  test("loads the sample curves, and the guide's scenario runs to SUCCEEDED", async () => {
    const db = await fresh();
    const svc = await startService("start", { PATH: process.env.PATH, AURUM_APP_DB_DSN: db.url, AURUM_API_RATE_LIMIT_ENABLED: "0" });
    try {
      const created = await (await post(svc.base, "/v1/scenarios", guideScenario)).json();
      const res = await post(svc.base, `/v1/scenarios/${created.data.id}/run`, { code_version: "v1", priority: "NORMAL" });
      expect(res.status).toBe(202);
      const run = (await res.json()).data;
      const state = await eventually(
        async () => {
          const now = (await (await fetch(`${svc.base}/v1/scenarios/${run.scenario_id}/runs/${run.id}`)).json()).data.state as string;
          return ["SUCCEEDED", "FAILED"].includes(now) && now;
        },
        { what: "the guide's run to finish" },
      );
      expect(state).toBe("SUCCEEDED");
    } finally {
      await svc.stop();
      await db.drop();
    }
  }, 120_000);

  test("with AURUM_LOAD_SAMPLE_CURVES=never the trigger is a 409 that says what to do", async () => {
    const db = await fresh();
    const svc = await startService("start", { PATH: process.env.PATH, AURUM_APP_DB_DSN: db.url, AURUM_LOAD_SAMPLE_CURVES: "never", AURUM_API_RATE_LIMIT_ENABLED: "0" });
    try {
      const created = await (await post(svc.base, "/v1/scenarios", guideScenario)).json();
      const res = await post(svc.base, `/v1/scenarios/${created.data.id}/run`, { code_version: "v1", priority: "NORMAL" });
      expect(res.status).toBe(409);
      const body = await res.json();
      expect(body.error.message).toContain("POST /v1/curves:import");
      expect(body.error.message).toContain("AURUM_LOAD_SAMPLE_CURVES");
    } finally {
      await svc.stop();
      await db.drop();
    }
  }, 120_000);
});

/**
 * /compare on runs the engine computed (the sample curves, an embedded worker): two scenarios with
 * different drivers compare as the difference of their two /outputs reads, and `with=baseline`
 * agrees with comparing against a scenario that has no drivers at all.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createMetrics } from "../../src/adapters/metrics";
import { loadConfig } from "../../src/config";
import { createPgOutputWriter } from "../../src/outputs/pg-store";
import type { CompareRow, OutputRow } from "../../src/outputs/row";
import { createLogger } from "../../src/platform/logger";
import { createLocalQueue } from "../../src/runs/queue";
import { startWorker } from "../../src/worker";
import { buildApp, call, createTestDb, type TestDb } from "../support/app";
import { eventually } from "../support/eventually";

// The machine running the suite may be busy: time is not what these tests check.
setDefaultTimeout(60_000);

const tenant = { "x-aurum-tenant": "t-cmp-runs" };
const PARAMS = { horizon_months: 24 };
const RPS = [{ driver_type: "policy", payload: { policy_name: "RPS", start_year: 2026, target: 0.6 } }];
const GAS = [{ driver_type: "fuel_curve", payload: { fuel: "natural_gas", reference_series: "HENRY_HUB_GAS", basis_points_adjustment: 1000 } }];

const key = (r: Pick<OutputRow, "metric" | "curve_key" | "tenor_type" | "contract_month">) => `${r.metric}|${r.curve_key}|${r.tenor_type}|${r.contract_month}`;

// Engine runs are made on Postgres, as in the other run tests (PGlite's reads of /compare are covered on seeded runs in compare-api.test.ts).
for (const store of ["postgres"] as const) {
  describe(`compare on engine runs (${store})`, () => {
    let db: TestDb;
    let app: Awaited<ReturnType<typeof buildApp>>;
    let worker: Awaited<ReturnType<typeof startWorker>>;
    const ids: Record<"rps" | "gas" | "none", string> = { rps: "", gas: "", none: "" };
    const get = (path: string) => call(app, "GET", path, { headers: tenant });

    async function all<T>(path: string): Promise<T[]> {
      const rows: T[] = [];
      let cursor: string | null = null;
      do {
        const res = await get(`${path}${path.includes("?") ? "&" : "?"}limit=1000${cursor ? `&cursor=${cursor}` : ""}`);
        expect([res.status, res.json?.error]).toEqual([200, undefined]);
        rows.push(...res.json.data);
        cursor = res.json.meta.next_cursor;
      } while (cursor);
      return rows;
    }

    beforeAll(async () => {
      db = await createTestDb(store, { sampleCurves: true });
      const queue = createLocalQueue();
      app = await buildApp(db, { AURUM_API_AUTH_DISABLED: "1" }, queue);
      worker = await startWorker({
        mode: "embedded",
        sql: db.sql,
        metrics: createMetrics(),
        writer: createPgOutputWriter(db.sql),
        config: { ...loadConfig({}), workerConcurrency: 1, workerLeaseSeconds: 5, workerPollMs: 50, workerRetryBaseMs: 20 },
        log: createLogger("silent"),
        queue,
        workerId: "compare-worker",
      });
      for (const [name, assumptions] of [
        ["rps", RPS],
        ["gas", GAS],
        ["none", []],
      ] as const) {
        const created = await call(app, "POST", "/v1/scenarios", { body: { name, assumptions: assumptions as never, parameters: PARAMS }, headers: tenant });
        expect(created.status).toBe(201);
        ids[name] = created.json.data.id;
        const run = await call(app, "POST", `/v1/scenarios/${ids[name]}/run`, { body: {}, headers: tenant });
        expect(run.status).toBeLessThan(300);
        const runId = run.json.data.id as string;
        const state = await eventually(
          async () => {
            const got = await get(`/v1/scenarios/${ids[name]}/runs/${runId}`);
            // PGlite has one connection: while the worker writes a run's outputs, a read can wait past its timeout (503); ask again.
            if (got.status === 503) return undefined;
            if (got.status !== 200) throw new Error(`run of ${name}: ${got.status} ${got.text}`);
            return ["SUCCEEDED", "FAILED", "CANCELLED"].includes(got.json.data.state) && (got.json.data.state as string);
          },
          { what: `the run of ${name} to finish`, timeoutMs: 90_000 },
        );
        expect(`${name}: ${state}`).toBe(`${name}: SUCCEEDED`);
      }
    }, 180_000);
    afterAll(async () => {
      await worker?.stop(1_000);
      await db?.drop();
    }, 120_000);

    test("RPS against a gas shock: a, b, delta and delta_pct are the two /outputs reads and their difference", async () => {
      const a = await all<OutputRow>(`/v1/scenarios/${ids.rps}/outputs`);
      const b = await all<OutputRow>(`/v1/scenarios/${ids.gas}/outputs`);
      const rows = await all<CompareRow>(`/v1/scenarios/${ids.rps}/compare?with=${ids.gas}`);
      expect(rows.length).toBe(new Set([...a, ...b].map(key)).size);
      const bOf = new Map(b.map((r) => [key(r), r.value]));
      const aOf = new Map(a.map((r) => [key(r), r.value]));
      let moved = 0;
      for (const r of rows) {
        const av = aOf.get(key(r)) ?? null;
        const bv = bOf.get(key(r)) ?? null;
        expect([key(r), r.a, r.b]).toEqual([key(r), av, bv]);
        const delta = av === null || bv === null ? null : av - bv;
        expect([key(r), r.delta, r.delta_pct]).toEqual([key(r), delta, delta === null || bv === 0 ? null : delta / Math.abs(bv as number)]);
        if (r.metric === "mid" && r.delta !== 0) moved++;
      }
      // The drivers differ, so the prices do.
      expect(moved).toBeGreaterThan(0);
    });

    test("with=baseline: mid − baseline of the run itself, driver effects against 0; equal to comparing with a driver-free scenario's mid", async () => {
      const a = await all<OutputRow>(`/v1/scenarios/${ids.rps}/outputs`);
      const baseline = new Map(a.filter((r) => r.metric === "baseline").map((r) => [`${r.curve_key}|${r.tenor_type}|${r.contract_month}`, r.value]));
      const rows = await all<CompareRow>(`/v1/scenarios/${ids.rps}/compare?with=baseline`);
      expect(rows).toHaveLength(a.length);
      for (const r of rows) {
        const base = baseline.get(`${r.curve_key}|${r.tenor_type}|${r.contract_month}`) as number;
        if (r.metric === "mid" || r.metric === "baseline") expect([key(r), r.b, r.delta]).toEqual([key(r), base, (r.a as number) - base]);
        else if (["uplift", "policy_uplift", "NPV", "rec_cost"].includes(r.metric)) expect([key(r), r.b, r.delta]).toEqual([key(r), 0, r.a]);
      }
      // The no-driver baseline of a run is what a scenario without drivers computes for the same curves.
      const viaScenario = new Map((await all<CompareRow>(`/v1/scenarios/${ids.rps}/compare?with=${ids.none}&metric=mid`)).map((r) => [key(r), r.b]));
      const viaBaseline: unknown[][] = (await all<CompareRow>(`/v1/scenarios/${ids.rps}/compare?with=baseline&metric=mid`)).map((r) => [key(r), r.b]);
      expect(viaBaseline.length).toBeGreaterThan(0);
      expect(viaBaseline).toEqual(viaBaseline.map(([k]) => [k, viaScenario.get(k as string)]));
    });
  });
}

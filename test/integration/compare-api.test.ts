/**
 * `/compare` on both SQL stores: every row equals the full outer join of the two runs computed here
 * from two independent `/outputs` reads; the baseline rule per metric; CSV (read by fast-csv) and
 * NDJSON equal the JSON pages; filters, keyset paging, cursors; 400/404/409 in the error envelope;
 * exports share the /outputs export slots.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { CompareRow, OutputRow } from "../../src/outputs/row";
import { buildApp, call, createTestDb, STORES, type TestDb } from "../support/app";
import { parseCsv, seedBaselineRules, seedRun } from "../support/outputs";

// The machine running the suite may be busy: time is not what these tests check.
setDefaultTimeout(60_000);

const TENANT = "t-cmp";
const OTHER_TENANT = "t-cmp-other";
const tenant = { "x-aurum-tenant": TENANT };

type Key = Pick<OutputRow, "metric" | "curve_key" | "tenor_type" | "contract_month">;
const keyText = (r: Key) => `${r.metric}\u0001${r.curve_key}\u0001${r.tenor_type}\u0001${r.contract_month}`;
/** The natural key order: metric, curve_key, tenor_type, contract_month, by code point (the stores' C collation). */
const byKey = (x: Key, y: Key) => {
  for (const f of ["metric", "curve_key", "tenor_type", "contract_month"] as const) if (x[f] !== y[f]) return x[f] < y[f] ? -1 : 1;
  return 0;
};

/** The comparison computed from two /outputs reads: a full outer join on the key, delta = a − b, delta_pct = delta / |b|. */
function expectedJoin(a: OutputRow[], b: OutputRow[]): CompareRow[] {
  const left = new Map(a.map((r) => [keyText(r), r]));
  const right = new Map(b.map((r) => [keyText(r), r]));
  const keys = new Set([...left.keys(), ...right.keys()]);
  const rows: CompareRow[] = [];
  for (const k of keys) {
    const x = left.get(k);
    const y = right.get(k);
    const base = (x ?? y) as OutputRow;
    const av = x ? x.value : null;
    const bv = y ? y.value : null;
    rows.push({
      curve_key: base.curve_key,
      tenor_type: base.tenor_type,
      contract_month: base.contract_month,
      tenor_label: base.tenor_label,
      metric: base.metric,
      a: av,
      b: bv,
      delta: av === null || bv === null ? null : av - bv,
      delta_pct: av === null || bv === null || bv === 0 ? null : (av - bv) / Math.abs(bv),
    });
  }
  return rows.sort(byKey);
}

for (const store of STORES) {
  describe(`compare API on ${store}`, () => {
    let db: TestDb;
    let app: Awaited<ReturnType<typeof buildApp>>;
    let scenarioA: string;
    let scenarioB: string;
    let scenarioEmpty: string;
    let scenarioRules: string;
    let foreign: string;
    let runA: string;
    let oldRunA: string;
    let runB: string;
    let runningA: string;
    const get = (path: string, headers: Record<string, string> = tenant) => call(app, "GET", path, { headers });
    const compare = (qs: string, id = scenarioA) => get(`/v1/scenarios/${id}/compare?${qs}`);

    async function pagesOf<T>(path: string, qs: string): Promise<{ rows: T[]; pages: number; metas: Record<string, unknown>[] }> {
      const rows: T[] = [];
      const metas: Record<string, unknown>[] = [];
      let cursor: string | null = null;
      do {
        const res = await get(`${path}?${qs}${cursor ? `&cursor=${cursor}` : ""}`);
        expect([res.status, res.json?.error]).toEqual([200, undefined]);
        rows.push(...res.json.data);
        metas.push(res.json.meta);
        cursor = res.json.meta.next_cursor;
      } while (cursor);
      return { rows, pages: metas.length, metas };
    }
    const outputsOf = async (scenarioId: string, qs: string) => (await pagesOf<OutputRow>(`/v1/scenarios/${scenarioId}/outputs`, `limit=1000&${qs}`)).rows;
    const compareAll = async (qs: string, id = scenarioA) => pagesOf<CompareRow>(`/v1/scenarios/${id}/compare`, qs);

    beforeAll(async () => {
      db = await createTestDb(store);
      app = await buildApp(db);
      const create = async (name: string, headers = tenant) => (await call(app, "POST", "/v1/scenarios", { body: { name }, headers })).json.data.id as string;
      scenarioA = await create("A");
      scenarioB = await create("B");
      scenarioEmpty = await create("no runs");
      scenarioRules = await create("baseline rules");
      foreign = await create("other tenant", { "x-aurum-tenant": OTHER_TENANT });
      oldRunA = await seedRun(db.sql, { tenantId: TENANT, scenarioId: scenarioA, rows: 400, finishedAt: "2026-01-01T10:00:00Z", offset: 7 });
      // A: 7 curves and 2,345 rows; B: 9 curves (C007, C008 only in B) and 1,800 rows (A's later months only in A).
      runA = await seedRun(db.sql, { tenantId: TENANT, scenarioId: scenarioA, rows: 2_345, finishedAt: "2026-02-01T10:00:00Z", offset: 1_000 });
      runningA = await seedRun(db.sql, { tenantId: TENANT, scenarioId: scenarioA, rows: 0, state: "RUNNING", finishedAt: "2026-03-01T10:00:00Z" });
      runB = await seedRun(db.sql, { tenantId: TENANT, scenarioId: scenarioB, rows: 1_800, curves: 9 });
      await seedRun(db.sql, { tenantId: OTHER_TENANT, scenarioId: foreign, rows: 50 });
      await seedBaselineRules(db.sql, TENANT, scenarioRules);
    }, 180_000);
    afterAll(async () => {
      await db?.drop();
    });

    test("with a scenario: every row is the full outer join of the two latest runs, delta and delta_pct as computed from two /outputs reads", async () => {
      const a = await outputsOf(scenarioA, "");
      const b = await outputsOf(scenarioB, "");
      expect([a.length, b.length]).toEqual([2_345, 1_800]);
      const want = expectedJoin(a, b);
      const { rows, metas } = await compareAll(`with=${scenarioB}&limit=1000`);
      expect(metas[0]).toMatchObject({ run_id: runA, with: "scenario", with_scenario_id: scenarioB, with_run_id: runB, limit: 1000, count: 1000 });
      expect(rows).toEqual(want);
      // Both kinds of one-sided keys are there.
      expect(rows.filter((r) => r.b === null).length).toBeGreaterThan(100);
      expect(rows.filter((r) => r.a === null).length).toBeGreaterThan(100);
      expect(rows.filter((r) => r.a === null).every((r) => ["C007", "C008"].includes(r.curve_key) && r.delta === null && r.delta_pct === null)).toBe(true);
      expect(rows.filter((r) => r.a !== null && r.b !== null).every((r) => r.delta === (r.a as number) - (r.b as number))).toBe(true);
    });

    test("named runs: run_id and with_run_id replace the defaults", async () => {
      const want = expectedJoin(await outputsOf(scenarioA, `run_id=${oldRunA}`), await outputsOf(scenarioB, `run_id=${runB}`));
      const { rows, metas } = await compareAll(`with=${scenarioB}&run_id=${oldRunA}&with_run_id=${runB}&limit=1000`);
      expect(metas[0]).toMatchObject({ run_id: oldRunA, with_run_id: runB });
      expect(rows).toEqual(want);
    });

    test("the same scenario and run on both sides is allowed: every delta 0", async () => {
      const { rows, metas } = await compareAll(`with=${scenarioA}&with_run_id=${runA}&limit=1000`);
      expect(metas[0]).toMatchObject({ run_id: runA, with_run_id: runA, with_scenario_id: scenarioA });
      expect(rows).toHaveLength(2_345);
      expect(rows.every((r) => r.delta === 0 && r.a === r.b && (r.b === 0 ? r.delta_pct === null : r.delta_pct === 0))).toBe(true);
      // Two runs of the same scenario.
      const old = await compareAll(`with=${scenarioA}&with_run_id=${oldRunA}&limit=1000`);
      expect(old.rows).toEqual(expectedJoin(await outputsOf(scenarioA, ""), await outputsOf(scenarioA, `run_id=${oldRunA}`)));
    });

    test("filters apply to both sides, as /outputs applies them (metric_name alias, curve, tenor, contract months)", async () => {
      const filters = [
        "metric=mid",
        "metric_name=NPV&curve_key=C003",
        "tenor_type=quarter&contract_month_from=2027-01&contract_month_to=2030-06",
        "contract_month=2026-05",
        "curve_key=C008",
      ];
      for (const f of filters) {
        const want = expectedJoin(await outputsOf(scenarioA, f), await outputsOf(scenarioB, f));
        const { rows } = await compareAll(`with=${scenarioB}&limit=1000&${f}`);
        expect([f, rows.length]).toEqual([f, want.length]);
        expect(rows).toEqual(want);
      }
    });

    test("keyset paging: 100-row pages give the same rows once each, in key order; a cursor pins both runs and its filters", async () => {
      const all = (await compareAll(`with=${scenarioB}&limit=1000`)).rows;
      const paged = await compareAll(`with=${scenarioB}&limit=100`);
      expect(paged.pages).toBe(Math.ceil(all.length / 100));
      expect(paged.rows).toEqual(all);
      expect(new Set(paged.rows.map(keyText)).size).toBe(all.length);
      const first = await compare(`with=${scenarioB}&limit=10`);
      const cursor = first.json.meta.next_cursor as string;
      // Another filter, another `with`, or a baseline comparison: the cursor is refused.
      for (const qs of [`with=${scenarioB}&metric=mid`, `with=${scenarioA}`, "with=baseline"]) {
        const res = await compare(`${qs}&cursor=${cursor}`);
        expect([qs, res.status, res.json.error.details?.[0]?.field]).toEqual([qs, 400, "cursor"]);
      }
      // A download continues after the cursor's row.
      const csv = await compare(`with=${scenarioB}&format=csv&cursor=${cursor}`);
      expect(csv.status).toBe(200);
      expect((await parseCsv(csv.text)).length).toBe(all.length - 10);
    });

    test("CSV (fast-csv) and NDJSON downloads hold exactly the JSON rows, with both run ids in headers", async () => {
      const json = (await compareAll(`with=${scenarioB}&limit=1000`)).rows;
      const csv = await compare(`with=${scenarioB}&format=csv`);
      expect(csv.status).toBe(200);
      expect(csv.headers.get("content-type")).toStartWith("text/csv");
      expect([csv.headers.get("x-aurum-run-id"), csv.headers.get("x-aurum-with-run-id"), csv.headers.get("x-aurum-with-scenario-id")]).toEqual([runA, runB, scenarioB]);
      expect(csv.text.split("\n")[0]).toBe("curve_key,tenor_type,contract_month,tenor_label,metric,a,b,delta,delta_pct");
      const cell = (v: number | null) => (v === null ? "" : String(v));
      const parsed = await parseCsv(csv.text);
      expect(parsed).toEqual(
        json.map((r) => ({
          curve_key: r.curve_key,
          tenor_type: r.tenor_type,
          contract_month: r.contract_month,
          tenor_label: r.tenor_label,
          metric: r.metric,
          a: cell(r.a),
          b: cell(r.b),
          delta: cell(r.delta),
          delta_pct: cell(r.delta_pct),
        })),
      );
      const ndjson = await compare(`with=${scenarioB}&format=ndjson`);
      expect(ndjson.headers.get("content-type")).toBe("application/x-ndjson");
      expect(
        ndjson.text
          .trimEnd()
          .split("\n")
          .map((l) => JSON.parse(l)),
      ).toEqual(json);
      // limit stops a download; gzip is offered and used.
      const limited = await app.handle(
        new Request(`http://localhost/v1/scenarios/${scenarioA}/compare?with=${scenarioB}&format=csv&limit=7&metric=uplift`, { headers: { ...tenant, "accept-encoding": "gzip" } }),
      );
      expect(limited.headers.get("content-encoding")).toBe("gzip");
      const unzipped = new TextDecoder().decode(Bun.gunzipSync(new Uint8Array(await limited.arrayBuffer())));
      expect(await parseCsv(unzipped)).toEqual(parsed.filter((r) => r.metric === "uplift").slice(0, 7));
    });

    test("with=baseline on engine-shaped rows: b = the run's baseline for mid and baseline, 0 for driver effects", async () => {
      const a = await outputsOf(scenarioA, "");
      const baselineOf = new Map(a.filter((r) => r.metric === "baseline").map((r) => [`${r.curve_key}|${r.tenor_type}|${r.contract_month}`, r.value]));
      const { rows, metas } = await compareAll("with=BASELINE&limit=1000");
      expect(metas[0]).toMatchObject({ run_id: runA, with: "baseline", with_scenario_id: null, with_run_id: runA });
      expect(rows).toHaveLength(a.length);
      const byKeyA = new Map(a.map((r) => [keyText(r), r]));
      for (const r of rows) {
        const own = byKeyA.get(keyText(r)) as OutputRow;
        expect(r.a).toBe(own.value);
        const b = r.metric === "mid" || r.metric === "baseline" ? (baselineOf.get(`${r.curve_key}|${r.tenor_type}|${r.contract_month}`) ?? null) : 0;
        expect([keyText(r), r.b]).toEqual([keyText(r), b]);
        expect(r.delta).toBe(b === null ? null : own.value - b);
      }
      // A metric filter does not hide the baseline rows b is read from.
      const mid = await compareAll("with=baseline&metric=mid&limit=1000");
      expect(mid.rows).toEqual(rows.filter((r) => r.metric === "mid"));
      expect(mid.rows.some((r) => r.b !== null)).toBe(true);
    });

    test("with=baseline, the rule per metric: prices, effects (0), unknown (null), b = 0, negative b, no baseline row, non-finite values", async () => {
      const { rows } = await compareAll("with=baseline&limit=1000", scenarioRules);
      const at = (curve: string, metric: string) => rows.find((r) => r.curve_key === curve && r.metric === metric);
      const abc = (r: CompareRow | undefined): unknown[] | undefined => r && [r.a, r.b, r.delta, r.delta_pct];
      expect(rows).toHaveLength(16);
      expect(abc(at("P1", "mid"))).toEqual([50, 40, 10, 0.25]);
      expect(abc(at("P1", "baseline"))).toEqual([40, 40, 0, 0]);
      for (const [metric, value] of [
        ["uplift", 10],
        ["policy_uplift", 4],
        ["NPV", 1234.5],
        ["rec_cost", 3],
        ["npv_per_bp", -2],
        ["carbon_uplift", 1.5],
      ] as const) {
        expect([metric, abc(at("P1", metric))]).toEqual([metric, [value, 0, value, null]]);
      }
      expect(abc(at("P1", "mid_per_gas"))).toEqual([7.25, null, null, null]);
      expect(abc(at("P2", "mid"))).toEqual([2, 0, 2, null]);
      expect(abc(at("P3", "mid"))).toEqual([-5, -10, 5, 0.5]);
      expect(abc(at("P4", "mid"))).toEqual([60, null, null, null]);
      expect(abc(at("P5", "mid"))).toEqual(["Infinity", "NaN", "NaN", "NaN"]);
      expect(abc(at("P5", "baseline"))).toEqual(["NaN", "NaN", "NaN", "NaN"]);
      // The downloads say the same.
      const nd = (await compare("with=baseline&format=ndjson&curve_key=P5", scenarioRules)).text
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l));
      expect(nd.map(abc)).toEqual([
        ["NaN", "NaN", "NaN", "NaN"],
        ["Infinity", "NaN", "NaN", "NaN"],
      ]);
      const csv = await parseCsv((await compare("with=baseline&format=csv&curve_key=P1", scenarioRules)).text);
      expect(csv.find((r) => r.metric === "mid_per_gas")).toMatchObject({ a: "7.25", b: "", delta: "", delta_pct: "" });
      expect(csv.find((r) => r.metric === "NPV")).toMatchObject({ a: "1234.5", b: "0", delta: "1234.5", delta_pct: "" });
    });

    test("400s in the envelope: with missing or malformed, with_run_id with baseline, bad filters, limit, escape_formulas on JSON, unknown parameters", async () => {
      const cases: [string, string][] = [
        ["", "with"],
        ["with=nope", "with"],
        [`with=${scenarioB}x`, "with"],
        [`with=baseline&with_run_id=${runA}`, "with_run_id"],
        [`with=${scenarioB}&with_run_id=not-a-uuid`, "with_run_id"],
        [`with=${scenarioB}&contract_month_from=2027-05&contract_month_to=2027-01`, "contract_month_from"],
        [`with=${scenarioB}&contract_month=2027-13`, "contract_month"],
        [`with=${scenarioB}&metric=mid&metric_name=NPV`, "metric_name"],
        [`with=${scenarioB}&limit=1001`, "limit"],
        [`with=${scenarioB}&limit=0`, "limit"],
        [`with=${scenarioB}&escape_formulas=true`, "escape_formulas"],
        [`with=${scenarioB}&asof_date=2026-01-02`, "asof_date"],
        [`with=${scenarioB}&cursor=%%%`, "cursor"],
      ];
      for (const [qs, field] of cases) {
        const res = await compare(qs);
        expect([qs, res.status, res.json?.error?.code]).toEqual([qs, 400, "VALIDATION_ERROR"]);
        expect([qs, JSON.stringify(res.json.error)]).toEqual([qs, expect.stringContaining(field)]);
      }
    });

    test("404s: a scenario of another tenant or unknown (either side), a run of another scenario (either side)", async () => {
      const cases: string[] = [
        `/v1/scenarios/${scenarioA}/compare?with=${foreign}`,
        `/v1/scenarios/${foreign}/compare?with=${scenarioA}`,
        `/v1/scenarios/${scenarioA}/compare?with=${crypto.randomUUID()}`,
        `/v1/scenarios/${scenarioA}/compare?with=${scenarioB}&run_id=${runB}`,
        `/v1/scenarios/${scenarioA}/compare?with=${scenarioB}&with_run_id=${runA}`,
        `/v1/scenarios/${scenarioA}/compare?with=baseline&run_id=${crypto.randomUUID()}`,
        `/v1/scenarios/${scenarioA}/compare?with=${scenarioB}&format=csv&with_run_id=${runA}`,
      ];
      for (const path of cases) {
        const res = await get(path);
        expect([path, res.status, res.json?.error?.code]).toEqual([path, 404, "NOT_FOUND"]);
      }
      // The other tenant sees its own scenario, and not ours.
      const theirs = await get(`/v1/scenarios/${foreign}/compare?with=baseline`, { "x-aurum-tenant": OTHER_TENANT });
      expect(theirs.status).toBe(200);
      expect((await get(`/v1/scenarios/${foreign}/compare?with=${scenarioA}`, { "x-aurum-tenant": OTHER_TENANT })).status).toBe(404);
    });

    test("409s: a run that has not SUCCEEDED (either side), a side with no SUCCEEDED run", async () => {
      const cases: [string, string][] = [
        [`/v1/scenarios/${scenarioA}/compare?with=${scenarioB}&run_id=${runningA}`, "RUNNING"],
        [`/v1/scenarios/${scenarioB}/compare?with=${scenarioA}&with_run_id=${runningA}`, "RUNNING"],
        [`/v1/scenarios/${scenarioA}/compare?with=baseline&format=csv&run_id=${runningA}`, "RUNNING"],
        [`/v1/scenarios/${scenarioA}/compare?with=${scenarioEmpty}`, "with_run_id"],
        [`/v1/scenarios/${scenarioEmpty}/compare?with=${scenarioA}`, "run_id"],
        [`/v1/scenarios/${scenarioEmpty}/compare?with=baseline&format=ndjson`, "run_id"],
      ];
      for (const [path, says] of cases) {
        const res = await get(path);
        expect([path, res.status, res.json?.error?.code]).toEqual([path, 409, "CONFLICT"]);
        expect(JSON.stringify(res.json.error)).toContain(says);
      }
    });

    test("the scenario_outputs feature flag covers /compare: off, 503 whatever the query", async () => {
      const off = await buildApp(db, { AURUM_API_AUTH_DISABLED: "1", AURUM_API_SCENARIO_OUTPUTS_ENABLED: "0" });
      for (const qs of [`with=${scenarioB}`, "with=nope&format=csv", "with=baseline&limit=0"]) {
        const res = await call(off, "GET", `/v1/scenarios/${scenarioA}/compare?${qs}`, { headers: tenant });
        expect([qs, res.status, res.json?.error?.code]).toEqual([qs, 503, "FEATURE_DISABLED"]);
      }
    });

    test("compare downloads take /outputs export slots: over the server's slots, 429 with Retry-After", async () => {
      const slots = await buildApp(db, { AURUM_API_AUTH_DISABLED: "1", AURUM_API_OUTPUT_EXPORTS_MAX: "1" });
      // A download whose body is not read holds its slot.
      const open = await slots.handle(new Request(`http://localhost/v1/scenarios/${scenarioA}/compare?with=${scenarioB}&format=csv`, { headers: tenant }));
      expect(open.status).toBe(200);
      const refused = await call(slots, "GET", `/v1/scenarios/${scenarioA}/compare?with=baseline&format=ndjson`, { headers: tenant });
      expect([refused.status, refused.json?.error?.code, refused.headers.get("retry-after")]).toEqual([429, "RATE_LIMITED", "1"]);
      const outputs = await call(slots, "GET", `/v1/scenarios/${scenarioA}/outputs?format=csv`, { headers: tenant });
      expect(outputs.status).toBe(429);
      await open.body?.cancel();
      await Bun.sleep(50);
      const again = await call(slots, "GET", `/v1/scenarios/${scenarioA}/compare?with=baseline&format=ndjson&limit=3`, { headers: tenant });
      expect(again.status).toBe(200);
    });
  });
}

// /compare on the Iceberg store against a real Trino: the same runs in both stores (seeded in
// Postgres, copied with the backfill), then every comparison of the Trino reader must equal the
// Postgres reader's, row for row and byte for byte, and the API on the Trino reader must answer
// like it does on Postgres. Needs `bash deploy/local/services.sh up`.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createTrinoClient, type TrinoClient } from "../../src/adapters/trino";
import { varcharLiteral } from "../../src/adapters/trino-literals";
import { loadConfig } from "../../src/config";
import { createMetadata } from "../../src/metadata";
import { backfill } from "../../src/outputs/backfill";
import { createPgOutputReader } from "../../src/outputs/pg-reader";
import type { CompareExportRequest, CompareSpec, OutputReader } from "../../src/outputs/reader";
import { createTrinoOutputReader } from "../../src/outputs/trino-reader";
import { ICEBERG_OUTPUT_TABLE } from "../../src/outputs/trino-store";
import { createLogger } from "../../src/platform/logger";
import { apiApp, call, createTestDb, type TestDb } from "../support/app";
import { checked } from "../support/contract";
import { exportText, parseCsv, seedBaselineRules, seedRun } from "../support/outputs";
import { requireService, serviceEnv } from "../support/services";

// The machine running the suite may be busy: time is not what these tests check.
setDefaultTimeout(60_000);

const service = await requireService("trino");
const env = serviceEnv();
const log = createLogger("silent");
const TENANT = "t-trino-cmp";

describe.skipIf(!service.available)("compare on the Trino output reader (Iceberg) equals the Postgres reader", () => {
  let db: TestDb;
  let trino: TrinoClient;
  let pg: OutputReader;
  let iceberg: OutputReader;
  let scenarioA: string;
  let scenarioB: string;
  let scenarioRules: string;
  let runA: string;
  let runB: string;
  let rulesRun: string;

  beforeAll(async () => {
    trino = createTrinoClient({ url: env.AURUM_TRINO_URL ?? "http://127.0.0.1:8080", user: env.AURUM_TRINO_USER ?? "aurum", source: "aurum-tests" });
    db = await createTestDb("postgres");
    const scenario = async (name: string) => (await db.sql<{ id: string }[]>`insert into scenario (tenant_id, name) values (${TENANT}, ${name}) returning id::text as id`)[0]!.id;
    scenarioA = await scenario("A");
    scenarioB = await scenario("B");
    scenarioRules = await scenario("rules");
    runA = await seedRun(db.sql, { tenantId: TENANT, scenarioId: scenarioA, rows: 1_500, finishedAt: "2026-02-02T10:00:00Z", offset: 300 });
    // Quotes, commas, a formula-looking and a non-ASCII curve key; 9 curves, so keys on one side only both ways.
    runB = await seedRun(db.sql, { tenantId: TENANT, scenarioId: scenarioB, rows: 1_100, curves: 9, finishedAt: "2026-02-03T10:00:00Z" });
    await db.sql`update scenario_output set curve_key = '=N''O,"D"é' || curve_key where run_id = ${runB} and curve_key in ('C000', 'C008')`;
    rulesRun = await seedBaselineRules(db.sql, TENANT, scenarioRules);
    // One computed_ts per run, as the worker writes them (the backfill copies a run per distinct timestamp).
    await db.sql`update scenario_output o set computed_ts = r.finished_at from scenario_run r where r.id = o.run_id and o.scenario_id in (${scenarioA}, ${scenarioB}, ${scenarioRules})`;
    for (const scenarioId of [scenarioA, scenarioB, scenarioRules]) await backfill({ metadata: createMetadata(db.sql), trino, log, scenarioId });
    pg = createPgOutputReader(db.sql);
    iceberg = createTrinoOutputReader({ runs: createMetadata(db.sql).runs, trino });
  }, 240_000);
  afterAll(async () => {
    for (const id of [scenarioA, scenarioB, scenarioRules])
      if (id) await trino.execute(`DELETE FROM ${ICEBERG_OUTPUT_TABLE} WHERE scenario_id = ${varcharLiteral(id)}`).catch(() => {});
    await db?.drop();
  }, 120_000);

  const vsB = (extra: Partial<CompareSpec["a"]> = {}): CompareSpec => ({
    a: { tenantId: TENANT, scenarioId: scenarioA, runId: runA, ...extra },
    b: { scenarioId: scenarioB, runId: runB },
  });
  const vsBaseline = (scenarioId: string, runId: string, extra: Partial<CompareSpec["a"]> = {}): CompareSpec => ({
    a: { tenantId: TENANT, scenarioId, runId, ...extra },
    b: "baseline",
  });
  const exportOf = (r: OutputReader, spec: CompareSpec, req: Partial<CompareExportRequest> = {}) =>
    exportText(r.compare.export(spec, { format: "csv", escapeFormulas: false, signal: new AbortController().signal, ...req }));

  test("pages: the same joined rows in the same order, with filters, baseline, and across a keyset cursor", async () => {
    const specs: CompareSpec[] = [
      vsB(),
      vsB({ metric: "mid" }),
      vsB({ tenorType: "QUARTER", monthFrom: "2026-06-01", monthTo: "2027-06-01" }),
      vsB({ curveKey: "C007" }),
      vsBaseline(scenarioA, runA),
      vsBaseline(scenarioA, runA, { metric: "mid" }),
      vsBaseline(scenarioRules, rulesRun),
      { a: { tenantId: TENANT, scenarioId: scenarioA, runId: runA }, b: { scenarioId: scenarioA, runId: runA } },
    ];
    for (const spec of specs) {
      const first = await pg.compare.page(spec, 400);
      expect(first.length).toBeGreaterThan(0);
      expect(await iceberg.compare.page(spec, 400)).toEqual(first);
      const after = first.at(-1);
      if (after) expect(await iceberg.compare.page(spec, 400, after)).toEqual(await pg.compare.page(spec, 400, after));
    }
    const all = await iceberg.compare.page(vsB(), 10_000);
    expect(all.some((r) => r.a === null) && all.some((r) => r.b === null)).toBe(true);
    const rules = await iceberg.compare.page(vsBaseline(scenarioRules, rulesRun), 100);
    const at = (curve: string, metric: string) => rules.find((r) => r.curve_key === curve && r.metric === metric);
    expect([at("P1", "mid")?.b, at("P1", "NPV")?.b, at("P1", "carbon_uplift")?.b, at("P1", "mid_per_gas")?.b, at("P4", "mid")?.b]).toEqual([40, 0, 0, null, null]);
    expect([at("P2", "mid")?.delta_pct, at("P3", "mid")?.delta_pct]).toEqual([null, 0.5]);
  }, 120_000);

  test("exports: the same CSV and NDJSON bytes (COPY on Postgres, Trino pages encoded here), with escape_formulas, a limit and a cursor", async () => {
    const [first] = await pg.compare.page(vsB(), 1);
    const cases: [CompareSpec, Partial<CompareExportRequest>][] = [
      [vsB(), {}],
      [vsB(), { escapeFormulas: true }],
      [vsB(), { format: "ndjson" }],
      [vsB({ metric: "uplift" }), { limit: 77 }],
      [vsB(), { format: "ndjson", after: first }],
      [vsBaseline(scenarioA, runA), {}],
      [vsBaseline(scenarioRules, rulesRun), { format: "ndjson" }],
      [vsBaseline(scenarioRules, rulesRun), {}],
    ];
    for (const [spec, req] of cases) {
      const bytes = await exportOf(iceberg, spec, req);
      expect(bytes.length).toBeGreaterThan(100);
      expect(bytes).toBe(await exportOf(pg, spec, req));
    }
  }, 120_000);

  test("the compare API on the Trino reader answers like it does on Postgres (pages, downloads, errors)", async () => {
    const config = loadConfig({ AURUM_LOG_LEVEL: "silent", AURUM_API_AUTH_DISABLED: "1" });
    const onPg = checked(await apiApp(db, config, { log }));
    const onTrino = checked(await apiApp(db, config, { log, outputs: iceberg }));
    const headers = { "x-aurum-tenant": TENANT };
    for (const path of [
      `/v1/scenarios/${scenarioA}/compare?with=${scenarioB}&limit=300`,
      `/v1/scenarios/${scenarioA}/compare?with=${scenarioB}&format=csv&metric=NPV`,
      `/v1/scenarios/${scenarioA}/compare?with=baseline&format=ndjson`,
      `/v1/scenarios/${scenarioRules}/compare?with=baseline`,
      `/v1/scenarios/${scenarioA}/compare?with=${scenarioB}&with_run_id=${runA}`,
    ]) {
      const [a, b] = await Promise.all([call(onTrino, "GET", path, { headers }), call(onPg, "GET", path, { headers })]);
      expect([path, a.status]).toEqual([path, b.status]);
      const same = (t: string) => t.replace(/"(request_id|query_time_ms)":("[^"]*"|[\d.]+)/g, '"$1":0');
      expect(same(a.text)).toBe(same(b.text));
    }
    const csv = await call(onTrino, "GET", `/v1/scenarios/${scenarioA}/compare?with=${scenarioB}&format=csv`, { headers });
    const json = await call(onTrino, "GET", `/v1/scenarios/${scenarioA}/compare?with=${scenarioB}&limit=1000`, { headers });
    expect([csv.status, json.status, json.json.meta.count]).toEqual([200, 200, 1000]);
    expect(csv.headers.get("x-aurum-with-run-id")).toBe(runB);
    const parsed = await parseCsv(csv.text);
    expect(parsed.slice(0, 1000).map((r) => [r.curve_key, r.metric, r.delta])).toEqual(
      json.json.data.map((r: { curve_key: string; metric: string; delta: number | null }) => [r.curve_key, r.metric, r.delta === null ? "" : String(r.delta)]),
    );
  }, 120_000);
});

// The Iceberg read side against a real Trino: the same runs in both stores (seeded in Postgres,
// copied with the backfill), then every read of the Trino reader must equal the Postgres reader's,
// row for row and byte for byte, and the outputs API on the Trino reader must answer like it does
// on Postgres. Needs `bash deploy/local/services.sh up`.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTrinoClient, type TrinoClient } from "../../src/adapters/trino";
import { varcharLiteral } from "../../src/adapters/trino-literals";
import { loadConfig } from "../../src/config";
import { createMetadata } from "../../src/metadata";
import { backfill } from "../../src/outputs/backfill";
import { createPgOutputReader } from "../../src/outputs/pg-reader";
import type { ExportRequest, OutputFilter, OutputReader, RunFilter } from "../../src/outputs/reader";
import { createTrinoOutputReader } from "../../src/outputs/trino-reader";
import { ICEBERG_OUTPUT_TABLE } from "../../src/outputs/trino-store";
import { createLogger } from "../../src/platform/logger";
import { apiApp, call, createTestDb, type TestDb } from "../support/app";
import { checked } from "../support/contract";
import { stalledGet } from "../support/downloads";
import { eventually } from "../support/eventually";
import { exportText, seedRun } from "../support/outputs";
import { requireService, serviceEnv } from "../support/services";

const service = await requireService("trino");
const env = serviceEnv();
const log = createLogger("silent");
const TENANT = "t-trino-read";

describe.skipIf(!service.available)("Trino output reader (Iceberg) equals the Postgres reader", () => {
  let db: TestDb;
  let trino: TrinoClient;
  let pg: OutputReader;
  let iceberg: OutputReader;
  let scenarioId: string;
  let runs: string[];

  beforeAll(async () => {
    trino = createTrinoClient({ url: env.AURUM_TRINO_URL ?? "http://127.0.0.1:8080", user: env.AURUM_TRINO_USER ?? "aurum", source: "aurum-tests" });
    db = await createTestDb("postgres");
    [{ id: scenarioId }] = await db.sql<{ id: string }[]>`insert into scenario (tenant_id, name) values (${TENANT}, 'trino reads') returning id::text as id`;
    runs = [
      await seedRun(db.sql, { tenantId: TENANT, scenarioId, rows: 1_200, asof: "2026-01-02", finishedAt: "2026-01-02T10:00:00Z", offset: 50_000 }),
      // Quotes, commas, a formula-looking and a non-ASCII curve key.
      await seedRun(db.sql, { tenantId: TENANT, scenarioId, rows: 2_345, asof: "2026-02-02", finishedAt: "2026-02-02T10:00:00Z", curvePattern: '=N\'O,"D"é%s' }),
      await seedRun(db.sql, { tenantId: TENANT, scenarioId, rows: 300, state: "FAILED", asof: "2026-03-02" }),
    ];
    // One computed_ts per run, as the worker writes them (seedRun stamps each row; the backfill copies a run per distinct timestamp).
    await db.sql`update scenario_output o set computed_ts = r.finished_at from scenario_run r where r.id = o.run_id`;
    await backfill({ metadata: createMetadata(db.sql), trino, log, scenarioId });
    pg = createPgOutputReader(db.sql);
    iceberg = createTrinoOutputReader({ runs: createMetadata(db.sql).runs, trino });
  }, 180_000);
  afterAll(async () => {
    if (scenarioId) await trino.execute(`DELETE FROM ${ICEBERG_OUTPUT_TABLE} WHERE scenario_id = ${varcharLiteral(scenarioId)}`).catch(() => {});
    await db?.drop();
  }, 120_000);

  const run = (i: number, extra: Partial<RunFilter> = {}): RunFilter => ({ tenantId: TENANT, scenarioId, runId: runs[i] as string, ...extra });
  const exportOf = (r: OutputReader, f: RunFilter, req: Partial<ExportRequest> = {}) =>
    exportText(r.export(f, { format: "csv", escapeFormulas: false, signal: new AbortController().signal, ...req }));

  test("pages: same rows in the same order, with and without filters, across a keyset cursor", async () => {
    const filters: RunFilter[] = [
      run(0),
      run(1),
      run(0, { metric: "NPV" }),
      run(1, { tenorType: "QUARTER", monthFrom: "2026-06-01", monthTo: "2027-06-01" }),
      run(0, { curveKey: "C003", asofFrom: "2026-01-01", asofTo: "2026-01-31" }),
      run(0, { asofFrom: "2026-02-01" }),
    ];
    for (const f of filters) {
      const first = await pg.page(f, 250);
      expect(await iceberg.page(f, 250)).toEqual(first);
      const after = first.at(-1);
      if (after) expect(await iceberg.page(f, 250, after)).toEqual(await pg.page(f, 250, after));
    }
    expect((await iceberg.page(run(1), 10_000)).length).toBe(2_345);
  });

  test("exports: the same CSV and NDJSON bytes, with escape_formulas, a limit and a cursor", async () => {
    const [first] = await pg.page(run(1), 1);
    const cases: [RunFilter, Partial<ExportRequest>][] = [
      [run(0), {}],
      [run(1), { escapeFormulas: true }],
      [run(1), { format: "ndjson" }],
      [run(1, { metric: "mid" }), { limit: 77 }],
      [run(1), { format: "ndjson", after: first }],
    ];
    for (const [f, req] of cases) {
      const bytes = await exportOf(iceberg, f, req);
      expect(bytes.length).toBeGreaterThan(100);
      expect(bytes).toBe(await exportOf(pg, f, req));
    }
  });

  test("latest: per natural key the row of the latest SUCCEEDED as-of date, filters first; the FAILED run never counts", async () => {
    const base: OutputFilter = { tenantId: TENANT, scenarioId };
    for (const f of [base, { ...base, metric: "NPV" }, { ...base, asofTo: "2026-01-31" }, { ...base, runId: runs[0] as string }, { ...base, runId: runs[2] as string }]) {
      const rows = await pg.latest(f, 500);
      expect(await iceberg.latest(f, 500)).toEqual(rows);
      const after = rows.at(-1);
      if (after) expect(await iceberg.latest(f, 500, after)).toEqual(await pg.latest(f, 500, after));
    }
    expect(new Set((await iceberg.latest(base, 5_000)).map((r) => r.run_id))).toEqual(new Set([runs[0], runs[1]]));
  });

  test("latestByMetric (group_by=metric): Trino's summary equals the Postgres one — counts, min, max, as-of and runs exactly, means to 1e-9", async () => {
    const base: OutputFilter = { tenantId: TENANT, scenarioId };
    for (const f of [base, { ...base, metric: "NPV" }, { ...base, asofTo: "2026-01-31" }, { ...base, runId: runs[0] as string }, { ...base, curveKey: "C003" }]) {
      const want = await pg.latestByMetric(f, 100);
      const got = await iceberg.latestByMetric(f, 100);
      expect(got.map(({ mean, ...r }) => r)).toEqual(want.map(({ mean, ...r }) => r));
      for (const [i, g] of got.entries()) expect(g.mean as number).toBeCloseTo(want[i]?.mean as number, 9);
      // Paged by metric: after the first, the rest.
      const first = want[0]?.metric;
      if (first) expect((await iceberg.latestByMetric(f, 100, first)).map((r) => r.metric)).toEqual(want.slice(1).map((r) => r.metric));
    }
    const all = await iceberg.latestByMetric(base, 100);
    expect(all.map((r) => r.metric)).toEqual(["NPV", "baseline", "mid", "policy_uplift", "uplift"]);
    expect(all.every((r) => r.run_ids === 2 && r.latest_asof_date === "2026-02-02" && r.non_finite === 0)).toBe(true);
  });

  /** Trino's record of the chunk queries of exports of `runId` (on a pinned snapshot, not the GROUP BY plan). */
  const chunkQueries = (runId: string, columns: string) =>
    `SELECT ${columns} FROM system.runtime.queries WHERE query LIKE ${varcharLiteral(`SELECT %FOR VERSION AS OF%${runId}%curve_key%`)} AND query NOT LIKE '%GROUP BY%'`;
  /** Trino's record of the export queries of one run: state and error code. */
  const exportQueries = async (runId: string) =>
    (await trino.execute(`${chunkQueries(runId, "state, error_code")} ORDER BY created DESC`)).rows.map(([state, error]) => ({ state, error }));

  test("exports in small chunks: the same bytes, a limit and a cursor inside chunks, and no chunk query sorts", async () => {
    const small = createTrinoOutputReader({ runs: createMetadata(db.sql).runs, trino, exportChunkRows: 100, exportPrefetch: 3 });
    const page = await pg.page(run(1), 1_000);
    const cases: [RunFilter, Partial<ExportRequest>][] = [
      [run(1), {}],
      [run(1), { format: "ndjson", limit: 777 }],
      [run(1), { after: page[456] }],
      [run(0, { metric: "NPV" }), { format: "ndjson" }],
    ];
    for (const [f, req] of cases) {
      const bytes = await exportOf(small, f, req);
      expect(bytes.length).toBeGreaterThan(100);
      expect(bytes).toBe(await exportOf(pg, f, req));
    }
    const chunks = (await trino.execute(chunkQueries(runs[1] as string, "query"))).rows.map(([q]) => q as string);
    expect(chunks.length).toBeGreaterThan(10); // 2,345 rows in chunks of about 100
    for (const q of chunks) expect(q).not.toContain("ORDER BY");
  });

  test("a client that stops reading holds the export to a few chunks; when it leaves, no further chunk is read and its queries in flight end within 10 s", async () => {
    const config = loadConfig({ AURUM_LOG_LEVEL: "silent", AURUM_API_AUTH_DISABLED: "1" });
    // Chunks of one curve (10,000 rows): 30 to read, 2 ahead of the one being sent.
    const outputs = createTrinoOutputReader({ runs: createMetadata(db.sql).runs, trino, exportChunkRows: 10_000, exportPrefetch: 2 });
    const app = (await apiApp(db, config, { log, outputs })).listen({
      port: 0,
      hostname: "127.0.0.1",
    });
    // A SUCCEEDED run with 300,000 rows (~60 MB of CSV, far more than socket buffers hold) made in Iceberg by one INSERT ... SELECT.
    const big = await seedRun(db.sql, { tenantId: TENANT, scenarioId, rows: 0, asof: "2025-12-01", finishedAt: "2025-12-01T10:00:00Z" });
    await trino.execute(`
      INSERT INTO ${ICEBERG_OUTPUT_TABLE} (tenant_id, scenario_id, run_id, asof_date, curve_key, tenor_type, contract_month, tenor_label, metric, value, band_lower, band_upper, attribution, version_hash, computed_ts)
      SELECT ${varcharLiteral(TENANT)}, ${varcharLiteral(scenarioId)}, ${varcharLiteral(big)}, DATE '2025-12-01', 'BIG_' || CAST(c AS varchar), 'MONTHLY',
             date_add('month', m, DATE '2026-01-01'), CAST(m AS varchar), 'mid', c * 1.5 + m, NULL, NULL, NULL, 'vh', TIMESTAMP '2025-12-01 10:00:00 UTC'
      FROM UNNEST(sequence(0, 29)) AS a(c) CROSS JOIN UNNEST(sequence(0, 9999)) AS b(m)`);
    try {
      // A raw socket that takes the status line and stops reading (fetch would buffer the whole body
      // ahead of its reader): once the socket buffers are full the export stops issuing chunk queries.
      const client = stalledGet(`http://127.0.0.1:${app.server?.port}`, `/v1/scenarios/${scenarioId}/outputs?format=csv&run_id=${big}`, { "x-aurum-tenant": TENANT });
      expect(await client.status).toBe(200);
      let issued = -1;
      await eventually(
        async () => {
          const before = issued;
          issued = (await exportQueries(big)).length;
          return issued === before;
        },
        { what: "the export to stop issuing chunk queries while its client does not read", timeoutMs: 30_000, intervalMs: 1_000 },
      );
      // The chunk being sent, 2 read ahead, and the chunks the socket buffers took (about 8 MB of
      // send buffers and the server's own: 7 chunk queries of 2 MB here): far from 30.
      console.log(`chunk queries issued while the client did not read: ${issued} of 30`);
      expect(issued).toBeGreaterThan(0);
      expect(issued).toBeLessThan(15);
      client.close();
      // In flight: QUEUED, RUNNING, or FINISHING while its last pages wait in Trino's output buffer for us.
      const inFlight = async () => (await exportQueries(big)).some((q) => ["QUEUED", "PLANNING", "STARTING", "RUNNING", "FINISHING"].includes(q.state as string));
      await eventually(async () => !(await inFlight()), { what: "the export's Trino queries to end after the client left", timeoutMs: 10_000 });
      const queries = await exportQueries(big);
      // Leaving reads no further chunk (one more at most, had the stalled export been between two).
      expect(queries.length).toBeLessThanOrEqual(issued + 1);
      for (const q of queries) expect(["FINISHED:null", "FAILED:USER_CANCELED"]).toContain(`${q.state}:${q.error}`);
    } finally {
      await app.stop(true);
      // The other tests compare both stores: this run exists in one only.
      await trino.execute(`DELETE FROM ${ICEBERG_OUTPUT_TABLE} WHERE scenario_id = ${varcharLiteral(scenarioId)} AND run_id = ${varcharLiteral(big)}`);
      await db.sql`delete from scenario_run where id = ${big}`;
    }
  });

  test("the outputs API on the Trino reader answers like it does on Postgres", async () => {
    const config = loadConfig({ AURUM_LOG_LEVEL: "silent", AURUM_API_AUTH_DISABLED: "1" });
    const onPg = checked(await apiApp(db, config, { log }));
    const onTrino = checked(await apiApp(db, config, { log, outputs: iceberg }));
    const headers = { "x-aurum-tenant": TENANT };
    for (const path of [
      `/v1/scenarios/${scenarioId}/outputs?limit=300`,
      `/v1/scenarios/${scenarioId}/outputs?format=csv&metric=NPV`,
      `/v1/scenarios/${scenarioId}/outputs?format=ndjson&run_id=${runs[0]}`,
      `/v1/scenarios/${scenarioId}/metrics/latest?limit=200`,
      `/v1/scenarios/${scenarioId}/outputs?run_id=${runs[2]}`,
      // A UUID in capitals names the same scenario and run (Postgres compares uuids, Iceberg text).
      `/v1/scenarios/${scenarioId.toUpperCase()}/outputs?format=csv&run_id=${runs[0]?.toUpperCase()}&metric=NPV`,
      `/v1/scenarios/${scenarioId.toUpperCase()}/outputs?limit=20`,
      `/v1/scenarios/${scenarioId.toUpperCase()}/metrics/latest?limit=20`,
    ]) {
      const [a, b] = await Promise.all([call(onTrino, "GET", path, { headers }), call(onPg, "GET", path, { headers })]);
      expect([path, a.status]).toEqual([path, b.status]);
      // Per request: its id and timing.
      const same = (t: string) => t.replace(/"(request_id|query_time_ms)":("[^"]*"|[\d.]+)/g, '"$1":0');
      expect(same(a.text)).toBe(same(b.text));
    }
    const upper = await call(onTrino, "GET", `/v1/scenarios/${scenarioId.toUpperCase()}/outputs?format=csv&run_id=${runs[0]?.toUpperCase()}&metric=NPV`, { headers });
    expect(upper.text.trimEnd().split("\n").length).toBeGreaterThan(1); // rows, not just the header
  });
});

/**
 * The outputs API contract on both stores: the default run, filters, keyset paging, 4xx for bad
 * input, 503 when disabled, tenancy, CSV/NDJSON downloads, compression, /metrics/latest and the mart.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createPgOutputReader } from "../../src/outputs/pg-reader";
import type { OutputRow } from "../../src/outputs/row";
import { buildApp, call, createTestDb, STORES, type TestDb } from "../support/app";
import { eventually } from "../support/eventually";
import { parseCsv, seedRun } from "../support/outputs";

const TENANT = "t-out";
const tenant = { "x-aurum-tenant": TENANT };

for (const store of STORES) {
  describe(`outputs API on ${store}`, () => {
    let db: TestDb;
    let app: Awaited<ReturnType<typeof buildApp>>;
    let scenarioId: string;
    let oldRun: string;
    let latestRun: string;
    const get = (path: string, headers: Record<string, string> = tenant) => call(app, "GET", path, { headers });
    const outputs = (qs = "") => get(`/v1/scenarios/${scenarioId}/outputs${qs ? `?${qs}` : ""}`);
    /** Every page of a JSON listing, following next_cursor. */
    async function allPages(qs: string): Promise<{ rows: OutputRow[]; pages: number }> {
      const rows: OutputRow[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res = await outputs(`${qs}${cursor ? `&cursor=${cursor}` : ""}`);
        expect(res.status).toBe(200);
        rows.push(...res.json.data);
        cursor = res.json.meta.next_cursor;
        pages++;
      } while (cursor);
      return { rows, pages };
    }
    const keyOf = (r: OutputRow) => `${r.metric}|${r.curve_key}|${r.tenor_type}|${r.contract_month}`;

    beforeAll(async () => {
      db = await createTestDb(store);
      app = await buildApp(db);
      scenarioId = (await call(app, "POST", "/v1/scenarios", { body: { name: "Outputs" }, headers: tenant })).json.data.id;
      oldRun = await seedRun(db.sql, { tenantId: TENANT, scenarioId, rows: 600, asof: "2026-01-02", finishedAt: "2026-01-02T10:00:00Z", offset: 100_000 });
      latestRun = await seedRun(db.sql, { tenantId: TENANT, scenarioId, rows: 2_345, asof: "2026-02-02", finishedAt: "2026-02-02T10:00:00Z" });
      await seedRun(db.sql, { tenantId: TENANT, scenarioId, rows: 0, state: "RUNNING", finishedAt: "2026-03-01T00:00:00Z" });
    });
    afterAll(async () => {
      await db?.drop();
    });

    test("JSON: the latest SUCCEEDED run by default, named in meta; 100 rows per page by default", async () => {
      const res = await outputs();
      expect(res.status).toBe(200);
      expect(res.json.meta).toMatchObject({ count: 100, limit: 100, run_id: latestRun });
      expect(res.json.meta.next_cursor).toBeString();
      // Key order is metric, curve_key, tenor_type, contract_month: CALENDAR sorts first.
      expect(res.json.data[0]).toEqual({
        scenario_id: scenarioId,
        run_id: latestRun,
        asof_date: "2026-02-02",
        curve_key: "C000",
        tenor_type: "CALENDAR",
        contract_month: "2026-03-01",
        tenor_label: "2026-03",
        metric: "NPV",
        value: 70,
        band_lower: 69,
        band_upper: 71,
        attribution: { "policy:0": 70, "load_growth:1": 0.25 },
        version_hash: `vh-${latestRun}`,
      });
      expect((await outputs(`run_id=${oldRun}&limit=1`)).json).toMatchObject({ meta: { run_id: oldRun }, data: [{ run_id: oldRun, value: 100_070 }] });
    });

    test("paging across 24 pages returns every row once, in key order; the cursor pins its run", async () => {
      const { rows, pages } = await allPages("limit=100");
      expect(pages).toBe(24);
      expect(rows).toHaveLength(2_345);
      expect(new Set(rows.map(keyOf)).size).toBe(2_345);
      expect(rows.reduce((s, r) => s + r.value, 0)).toBe((2_344 * 2_345) / 2);
      const [expected] = await db.sql`select count(*)::int as n from scenario_output where run_id = ${latestRun}`;
      expect(rows.length).toBe(expected?.n);
      const inOrder = await db.sql`select metric || '|' || curve_key || '|' || tenor_type || '|' || to_char(contract_month, 'YYYY-MM-DD') as k
        from scenario_output where run_id = ${latestRun} order by metric, curve_key, tenor_type, contract_month`;
      expect(rows.map(keyOf)).toEqual(inOrder.map((r) => r.k));

      // A run that succeeds between two pages does not change what the cursor pages through.
      const first = await outputs("limit=1000");
      const newer = await seedRun(db.sql, { tenantId: TENANT, scenarioId, rows: 10, finishedAt: "2027-01-01T00:00:00Z" });
      const second = await outputs(`limit=1000&cursor=${first.json.meta.next_cursor}`);
      expect(second.json.meta.run_id).toBe(latestRun);
      expect(second.json.data).toHaveLength(1000);
      expect((await outputs("limit=1")).json.meta.run_id).toBe(newer);
      await db.sql`delete from scenario_run where id = ${newer}`;
    });

    test("filters: metric (and its alias metric_name), curve_key, tenor_type, contract_month and asof ranges", async () => {
      const count = async (where: string) => (await db.sql.unsafe(`select count(*)::int as n from scenario_output where run_id = '${latestRun}' and ${where}`))[0]?.n;
      const cases: [string, string][] = [
        ["metric=NPV", "metric = 'NPV'"],
        ["metric_name=NPV", "metric = 'NPV'"],
        ["metric=NPV&metric_name=NPV", "metric = 'NPV'"],
        ["curve_key=C003", "curve_key = 'C003'"],
        ["tenor_type=quarter", "tenor_type = 'QUARTER'"],
        ["contract_month=2026-05", "contract_month = '2026-05-01'"],
        ["contract_month_from=2027-01&contract_month_to=2027-06-01", "contract_month between '2027-01-01' and '2027-06-01'"],
        [
          "metric=mid&curve_key=C001&tenor_type=MONTHLY&contract_month_from=2026-04",
          "metric = 'mid' and curve_key = 'C001' and tenor_type = 'MONTHLY' and contract_month >= '2026-04-01'",
        ],
        ["asof_date=2026-02-02", "true"],
        ["asof_date_from=2026-02-03", "false"],
        ["metric=nope", "false"],
      ];
      for (const [qs, where] of cases) {
        const { rows } = await allPages(`limit=1000&${qs}`);
        expect({ qs, n: rows.length }).toEqual({ qs, n: (await count(where)) as number });
      }
      const { rows } = await allPages("limit=1000&metric=uplift&tenor_type=CALENDAR");
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.every((r) => r.metric === "uplift" && r.tenor_type === "CALENDAR")).toBe(true);
    });

    test("400 for bad filters, never a 500", async () => {
      const bad: [string, string][] = [
        ["limit=1001", "limit"],
        ["limit=0", "/limit"],
        ["limit=abc", "/limit"],
        ["tenor_type=WEEKLY", "/tenor_type"],
        ["run_id=not-a-uuid", "/run_id"],
        ["asof_date=2026-02-30", "asof_date"],
        ["asof_date=yesterday", "/asof_date"],
        ["asof_date_from=2026-03-01&asof_date_to=2026-02-01", "asof_date_from"],
        ["asof_date=2026-02-02&asof_date_to=2026-03-01", "asof_date"],
        ["contract_month=2026-13", "contract_month"],
        ["contract_month_from=2027-01&contract_month_to=2026-01", "contract_month_from"],
        ["metric=NPV&metric_name=mid", "metric_name"],
        ["metric=", "/metric"],
        ["format=xml", "/format"],
        ["escape_formulas=true", "escape_formulas"],
        ["format=ndjson&escape_formulas=true", "escape_formulas"],
        ["format=csv&escape_formulas=maybe", "/escape_formulas"],
        ["cursor=garbage!", "cursor"],
        ["cursor=eyJmb28iOjF9", "cursor"],
        ["colour=red", "/colour"],
      ];
      for (const [qs, field] of bad) {
        const res = await outputs(qs);
        expect({ qs, status: res.status, code: res.json?.error?.code }).toEqual({ qs, status: 400, code: "VALIDATION_ERROR" });
        expect({ qs, fields: res.json.error.details.map((d: { field: string }) => d.field) }).toMatchObject({ qs, fields: expect.arrayContaining([field]) });
      }
      // A cursor belongs to its filters.
      const cursor = (await outputs("limit=5&metric=NPV")).json.meta.next_cursor;
      expect((await outputs(`limit=5&metric=mid&cursor=${cursor}`)).status).toBe(400);
      expect((await outputs(`limit=5&metric=NPV&cursor=${cursor}`)).status).toBe(200);
      expect((await get(`/v1/scenarios/${scenarioId}/metrics/latest?limit=1001`)).status).toBe(400);
      expect((await get(`/v1/scenarios/${scenarioId}/metrics/latest?format=csv`)).status).toBe(400);
    });

    test("404 for another tenant's scenario and for a run of another scenario; 409 for a run that has not succeeded", async () => {
      for (const path of [`/v1/scenarios/${scenarioId}/outputs`, `/v1/scenarios/${scenarioId}/metrics/latest`, `/v1/scenarios/${scenarioId}/outputs?format=csv`]) {
        const res = await get(path, { "x-aurum-tenant": "someone-else" });
        expect({ path, status: res.status }).toEqual({ path, status: 404 });
      }
      const other = (await call(app, "POST", "/v1/scenarios", { body: { name: "Other" }, headers: tenant })).json.data.id;
      expect((await get(`/v1/scenarios/${other}/outputs?run_id=${latestRun}`)).status).toBe(404);
      expect((await outputs(`run_id=${crypto.randomUUID()}`)).status).toBe(404);
      const running = await seedRun(db.sql, { tenantId: TENANT, scenarioId, rows: 5, state: "RUNNING" });
      const res = await outputs(`run_id=${running}`);
      expect(res.status).toBe(409);
      expect(res.json.error.details).toEqual({ state: "RUNNING" });
      // A scenario without a succeeded run: an empty page, and meta says there is no run.
      expect((await get(`/v1/scenarios/${other}/outputs`)).json).toMatchObject({ data: [], meta: { run_id: null, next_cursor: null, count: 0 } });
      const csv = await get(`/v1/scenarios/${other}/outputs?format=csv`);
      expect(csv.text).toBe(`${(await import("../../src/outputs/encoders")).CSV_HEADER}`);
    });

    test("CSV: an attachment with a header row, every row of the run, as the JSON pages have them", async () => {
      const res = await outputs("format=csv");
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8; header=present");
      expect(res.headers.get("content-disposition")).toBe(`attachment; filename="scenario-${scenarioId}-outputs.csv"`);
      expect(res.headers.get("x-aurum-run-id")).toBe(latestRun);
      const parsed = await parseCsv(res.text);
      const { rows } = await allPages("limit=1000");
      expect(parsed).toHaveLength(rows.length);
      const asCsv = (r: OutputRow) => ({
        ...Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v)])),
        attribution: r.attribution === null ? "" : JSON.stringify(r.attribution),
      });
      expect(parsed.map((c) => ({ ...c, attribution: c.attribution ? JSON.stringify(JSON.parse(c.attribution)) : "" }))).toEqual(rows.map(asCsv));
      const limited = await parseCsv((await outputs("format=csv&limit=7&metric=mid")).text);
      expect(limited.map((c) => c.value)).toEqual(
        rows
          .filter((r) => r.metric === "mid")
          .slice(0, 7)
          .map((r) => String(r.value)),
      );
    });

    test("NDJSON: one JSON object per row, equal to the JSON pages; a cursor resumes an export", async () => {
      const res = await outputs("format=ndjson");
      expect(res.headers.get("content-type")).toBe("application/x-ndjson");
      expect(res.headers.get("content-disposition")).toBe(`attachment; filename="scenario-${scenarioId}-outputs.ndjson"`);
      const lines = res.text.split("\n");
      expect(lines.pop()).toBe("");
      const { rows } = await allPages("limit=1000");
      expect(lines.map((l) => JSON.parse(l))).toEqual(rows);
      const page = await outputs("limit=1000");
      const rest = (await outputs(`format=ndjson&cursor=${page.json.meta.next_cursor}`)).text.trim().split("\n");
      expect(rest.map((l) => JSON.parse(l))).toEqual(rows.slice(1000));
    });

    test("awkward text survives CSV and NDJSON; escape_formulas neutralises formula cells", async () => {
      const s = (await call(app, "POST", "/v1/scenarios", { body: { name: "Awkward" }, headers: tenant })).json.data.id;
      await seedRun(db.sql, { tenantId: TENANT, scenarioId: s, rows: 20, curves: 2, curvePattern: "=HYPERLINK(\"x\",%s), 'q'\n\\N\ttab" });
      const path = `/v1/scenarios/${s}/outputs`;
      const json = (await get(`${path}?limit=1000`)).json.data as OutputRow[];
      expect(json[0]?.curve_key).toBe("=HYPERLINK(\"x\",000), 'q'\n\\N\ttab");
      const plain = await parseCsv((await get(`${path}?format=csv`)).text);
      expect(plain.map((c) => c.curve_key)).toEqual(json.map((r) => r.curve_key));
      const safe = await parseCsv((await get(`${path}?format=csv&escape_formulas=true`)).text);
      expect(safe.map((c) => c.curve_key)).toEqual(json.map((r) => `'${r.curve_key}`));
      expect(safe.map((c) => c.metric)).toEqual(json.map((r) => r.metric));
      const nd = (await get(`${path}?format=ndjson`)).text.trim().split("\n");
      expect(nd.map((l) => JSON.parse(l))).toEqual(json);
    });

    test("escape_formulas keeps the key order: quoted curve keys come where the stored ones sort, and a cursor resumes after them", async () => {
      const s = (await call(app, "POST", "/v1/scenarios", { body: { name: "Formula order" }, headers: tenant })).json.data.id;
      await seedRun(db.sql, { tenantId: TENANT, scenarioId: s, rows: 40, curves: 4, curvePattern: "K%s" });
      // Stored, '(' < '+' < ',' < '-'; quoted by the guard, '+b' and '-d' would sort before '(a' (the quote is 0x27).
      await db.sql`update scenario_output set curve_key = (array['(a', '+b', ',c', '-d'])[1 + substr(curve_key, 2)::int] where scenario_id = ${s}::uuid`;
      const path = `/v1/scenarios/${s}/outputs`;
      const key = (r: Record<string, string> | OutputRow) => [r.metric, String(r.curve_key).replace(/^'(?=[+-])/, ""), r.tenor_type, r.contract_month].join("|");
      const json = (await get(`${path}?limit=1000`)).json.data as OutputRow[];
      expect(new Set(json.map((r) => r.curve_key))).toEqual(new Set(["(a", "+b", ",c", "-d"]));
      const safe = await parseCsv((await get(`${path}?format=csv&escape_formulas=true`)).text);
      expect(safe.some((c) => c.curve_key === "'+b")).toBe(true);
      expect(safe.map(key)).toEqual(json.map(key));
      const page = await get(`${path}?limit=10`);
      const rest = await parseCsv((await get(`${path}?format=csv&escape_formulas=true&cursor=${page.json.meta.next_cursor}`)).text);
      expect(rest.map(key)).toEqual(json.slice(10).map(key));
    });

    test("Accept-Encoding gzip or zstd compresses the download", async () => {
      const plain = (await outputs("format=csv")).text;
      for (const [accept, encoding] of [
        ["gzip", "gzip"],
        ["gzip;q=0.5, zstd", "zstd"],
        ["zstd;q=0, gzip", "gzip"],
        ["br", null],
      ] as const) {
        const res = await app.handle(new Request(`http://localhost/v1/scenarios/${scenarioId}/outputs?format=csv`, { headers: { ...tenant, "accept-encoding": accept } }));
        expect(res.headers.get("content-encoding")).toBe(encoding);
        expect(res.headers.get("vary")).toBe("Accept-Encoding");
        const bytes = new Uint8Array(await res.arrayBuffer());
        const text = encoding === "gzip" ? Bun.gunzipSync(bytes) : encoding === "zstd" ? Bun.zstdDecompressSync(bytes) : bytes;
        expect(new TextDecoder().decode(text)).toBe(plain);
        if (encoding) expect(bytes.length).toBeLessThan(plain.length / 3);
      }
    });

    test("COPY and the row encoders produce the same bytes", async () => {
      if (store === "pglite") return; // the embedded store has only the row path
      const read = async (copy: boolean, format: "csv" | "ndjson", escapeFormulas = false) => {
        const reader = createPgOutputReader(db.sql, { copy });
        const chunks: Uint8Array[] = [];
        const filter = { tenantId: TENANT, scenarioId, runId: latestRun };
        for await (const c of reader.export(filter, { format, escapeFormulas, signal: new AbortController().signal })) chunks.push(c);
        return Buffer.concat(chunks).toString();
      };
      for (const format of ["csv", "ndjson"] as const) expect(await read(true, format)).toBe(await read(false, format));
      expect(await read(true, "csv", true)).toBe(await read(false, "csv", true));
    });

    test("/metrics/latest: per key the row of the run with the latest as-of date; filters apply before the rollup", async () => {
      const path = `/v1/scenarios/${scenarioId}/metrics/latest`;
      const collect = async (qs: string) => {
        const rows: Record<string, unknown>[] = [];
        let cursor: string | null = null;
        do {
          const res = await get(`${path}?${qs}${cursor ? `&cursor=${cursor}` : ""}`);
          expect(res.status).toBe(200);
          rows.push(...res.json.data);
          cursor = res.json.meta.next_cursor;
        } while (cursor);
        return rows;
      };
      const latest = await collect("limit=250");
      // The newer run (2,345 rows) covers every key of the older one (600 rows): all values come from it.
      expect(latest).toHaveLength(2_345);
      expect(new Set(latest.map((r) => r.run_id))).toEqual(new Set([latestRun]));
      expect(latest[0]).toEqual({
        curve_key: "C000",
        tenor_type: "CALENDAR",
        contract_month: "2026-03-01",
        tenor_label: "2026-03",
        metric: "NPV",
        value: 70,
        band_lower: 69,
        band_upper: 71,
        run_id: latestRun,
        asof_date: "2026-02-02",
      });
      const asOfJanuary = await collect("limit=1000&asof_date_to=2026-01-31");
      expect(asOfJanuary).toHaveLength(600);
      expect(asOfJanuary.every((r) => r.run_id === oldRun && r.asof_date === "2026-01-02")).toBe(true);
      expect(await collect("limit=1000&metric_name=NPV&curve_key=C002")).toEqual(latest.filter((r) => r.metric === "NPV" && r.curve_key === "C002"));
      expect((await collect(`limit=1000&run_id=${oldRun}`)).map((r) => r.value)).toHaveLength(600);

      // The mart view holds the same rows (no filters), unique and not null on its key.
      const mart = await db.sql`select metric, curve_key, tenor_type, to_char(contract_month, 'YYYY-MM-DD') as contract_month, run_id::text as run_id, value
        from mart_scenario_output where scenario_id = ${scenarioId} order by metric, curve_key, tenor_type, contract_month`;
      expect(mart.map((r) => ({ ...r }))).toEqual(
        latest.map((r) => ({ metric: r.metric, curve_key: r.curve_key, tenor_type: r.tenor_type, contract_month: r.contract_month, run_id: r.run_id, value: r.value })),
      );
    });

    test("the mart: unique per natural key, no nulls in its key, only SUCCEEDED runs", async () => {
      const [dupes] =
        await db.sql`select count(*)::int as n from (select 1 from mart_scenario_output group by scenario_id, metric, curve_key, tenor_type, contract_month having count(*) > 1) d`;
      expect(dupes?.n).toBe(0);
      const [nulls] = await db.sql`select count(*)::int as n from mart_scenario_output
        where tenant_id is null or scenario_id is null or metric is null or curve_key is null or tenor_type is null or contract_month is null
           or tenor_label is null or value is null or run_id is null or asof_date is null or computed_ts is null`;
      expect(nulls?.n).toBe(0);
      const [states] = await db.sql`select array_agg(distinct r.state) as s from mart_scenario_output m join scenario_run r on r.id = m.run_id`;
      expect(states?.s).toEqual(["SUCCEEDED"]);
    });

    test("AURUM_API_SCENARIO_OUTPUTS_ENABLED=0: 503 with a clear error on both routes, whatever the query", async () => {
      const off = await buildApp(db, { AURUM_API_AUTH_DISABLED: "1", AURUM_API_SCENARIO_OUTPUTS_ENABLED: "0" });
      for (const path of [`/v1/scenarios/${scenarioId}/outputs`, `/v1/scenarios/${scenarioId}/outputs?format=csv&limit=0`, `/v1/scenarios/${scenarioId}/metrics/latest`]) {
        const res = await call(off, "GET", path, { headers: tenant });
        expect(res.status).toBe(503);
        expect(res.json.error).toEqual({
          code: "FEATURE_DISABLED",
          message: "feature scenario_outputs is disabled on this server (AURUM_API_SCENARIO_OUTPUTS_ENABLED=0)",
          details: { flag: "scenario_outputs" },
        });
      }
      expect((await call(off, "GET", `/v1/scenarios/${scenarioId}`, { headers: tenant })).status).toBe(200);
    });

    test("deleting the scenario deletes its outputs: its runs are queued in the DELETE, the background purge removes the rows", async () => {
      const s = (await call(app, "POST", "/v1/scenarios", { body: { name: "Doomed" }, headers: tenant })).json.data.id;
      await seedRun(db.sql, { tenantId: TENANT, scenarioId: s, rows: 50 });
      expect((await call(app, "DELETE", `/v1/scenarios/${s}`, { headers: tenant })).status).toBe(204);
      const left = async () => (await db.sql`select count(*)::int as n from scenario_output where scenario_id = ${s}`)[0]?.n;
      await eventually(async () => (await left()) === 0, { what: "the deleted scenario's output rows purged" });
      expect((await db.sql`select count(*)::int as n from output_purge where scenario_id = ${s}`)[0]?.n).toBe(0);
    });
  });
}

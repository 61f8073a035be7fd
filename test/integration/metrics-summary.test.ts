/**
 * `/metrics/latest?group_by=metric` (the guide's "aggregates by metric") on embedded PGlite and on
 * the real Postgres: one row per metric, equal to a summary computed here from the ungrouped
 * rollup (the independent oracle), with filters, paging by metric, non-finite values counted apart,
 * and 400s for a bad group_by or a cursor of the other shape. The Trino reader's summary is held to
 * the Postgres one in trino-reader.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { buildApp, call, createTestDb, STORES, type TestDb } from "../support/app";
import { METRICS, seedRun } from "../support/outputs";

const TENANT = "t-summary";
const headers = { "x-aurum-tenant": TENANT };
type Latest = { metric: string; value: number | string; asof_date: string; run_id: string };

/** The documented summary, computed from ungrouped rollup rows. */
function oracle(rows: Latest[]) {
  const by = new Map<string, Latest[]>();
  for (const r of rows) by.set(r.metric, [...(by.get(r.metric) ?? []), r]);
  return [...by.keys()].sort().map((metric) => {
    const group = by.get(metric) as Latest[];
    const finite = group.map((r) => r.value).filter((v): v is number => typeof v === "number");
    return {
      metric,
      count: group.length,
      min: finite.length ? Math.min(...finite) : null,
      max: finite.length ? Math.max(...finite) : null,
      mean: finite.length ? finite.reduce((a, b) => a + b, 0) / finite.length : null,
      non_finite: group.length - finite.length,
      latest_asof_date: group
        .map((r) => r.asof_date)
        .sort()
        .at(-1),
      run_ids: new Set(group.map((r) => r.run_id)).size,
    };
  });
}

for (const store of STORES) {
  describe(`/metrics/latest?group_by=metric on ${store}`, () => {
    let db: TestDb;
    let app: Awaited<ReturnType<typeof buildApp>>;
    let scenarioId: string;
    let runs: string[];
    beforeAll(async () => {
      db = await createTestDb(store);
      app = await buildApp(db);
      [{ id: scenarioId }] = await db.sql<{ id: string }[]>`insert into scenario (tenant_id, name) values (${TENANT}, 'summary') returning id::text as id`;
      runs = [
        await seedRun(db.sql, { tenantId: TENANT, scenarioId, rows: 3_000, asof: "2026-01-02", finishedAt: "2026-01-02T10:00:00Z" }),
        // Newer, covering only part of the keys: the rollup mixes both runs.
        await seedRun(db.sql, { tenantId: TENANT, scenarioId, rows: 1_000, asof: "2026-02-02", finishedAt: "2026-02-02T10:00:00Z", offset: 7 }),
        await seedRun(db.sql, { tenantId: TENANT, scenarioId, rows: 500, state: "FAILED", asof: "2026-03-02" }),
      ];
      // Non-finite latest values: left out of min/max/mean, counted in non_finite.
      await db.sql`update scenario_output set value = 'NaN'::float8 where run_id = ${runs[1] as string}::uuid and metric = 'mid' and curve_key = 'C001'`;
      await db.sql`update scenario_output set value = '-Infinity'::float8 where run_id = ${runs[1] as string}::uuid and metric = 'uplift' and curve_key = 'C002'`;
    }, 120_000);
    afterAll(async () => {
      await db?.drop();
    });

    const get = (qs: string) => call(app, "GET", `/v1/scenarios/${scenarioId}/metrics/latest?${qs}`, { headers });
    const ungrouped = async (qs: string) => {
      const rows: Latest[] = [];
      let cursor: string | null = null;
      do {
        const res = await get(`limit=1000${qs}${cursor ? `&cursor=${cursor}` : ""}`);
        expect(res.status).toBe(200);
        rows.push(...res.json.data);
        cursor = res.json.meta.next_cursor;
      } while (cursor);
      return rows;
    };
    const close = (got: ReturnType<typeof oracle>, want: ReturnType<typeof oracle>) => {
      expect(got.map(({ mean, ...r }) => r)).toEqual(want.map(({ mean, ...r }) => r));
      got.forEach((g, i) => {
        const w = want[i]?.mean;
        if (w === null || w === undefined) expect(g.mean).toBeNull();
        else expect(g.mean as number).toBeCloseTo(w, 6);
      });
    };

    test("one row per metric: count, min, max, mean of the finite values, non_finite, latest as-of, runs — equal to the summary of the ungrouped rollup", async () => {
      const res = await get("group_by=metric");
      expect(res.status).toBe(200);
      expect(res.json.meta).toMatchObject({ count: METRICS.length, next_cursor: null, group_by: "metric" });
      const want = oracle(await ungrouped(""));
      expect(want.reduce((n, r) => n + r.count, 0)).toBe(3_000);
      close(res.json.data, want);
      const mid = res.json.data.find((r: { metric: string }) => r.metric === "mid");
      // C001 of the newer run: 1,000 rows over 5 metrics × 7 curves → 29 mid rows set to NaN.
      expect(mid).toMatchObject({ count: 600, non_finite: 29, latest_asof_date: "2026-02-02", run_ids: 2 });
      // Case-insensitive like the other enums.
      expect((await get("group_by=METRIC")).json.data).toEqual(res.json.data);
    });

    test("filters apply before the rollup and the summary (as-of, metric, curve, tenor, run)", async () => {
      for (const qs of ["&asof_date_to=2026-01-31", "&metric=NPV", "&curve_key=C003&tenor_type=QUARTER", `&run_id=${runs[1]}`, "&contract_month_from=2027-01"]) {
        const res = await get(`group_by=metric${qs}`);
        expect(res.status).toBe(200);
        close(res.json.data, oracle(await ungrouped(qs)));
      }
      const asOfJanuary = (await get("group_by=metric&asof_date_to=2026-01-31")).json.data;
      expect(asOfJanuary.every((r: { latest_asof_date: string; run_ids: number }) => r.latest_asof_date === "2026-01-02" && r.run_ids === 1)).toBe(true);
      // A run that is not SUCCEEDED is refused as on the ungrouped rollup.
      expect((await get(`group_by=metric&run_id=${runs[2]}`)).status).toBe(409);
    });

    test("keyset-paged by metric: two rows a page, cursors chain to the whole summary", async () => {
      const whole = (await get("group_by=metric")).json.data;
      const pages: unknown[] = [];
      let cursor: string | null = null;
      do {
        const res = await get(`group_by=metric&limit=2${cursor ? `&cursor=${cursor}` : ""}`);
        expect(res.status).toBe(200);
        expect(res.json.data.length).toBeLessThanOrEqual(2);
        pages.push(...res.json.data);
        cursor = res.json.meta.next_cursor;
      } while (cursor);
      expect(pages).toEqual(whole);
    });

    test("negative cases: an unknown group_by, and a cursor of the ungrouped rollup, are 400s naming the field", async () => {
      const bad = await get("group_by=curve");
      expect(bad.status).toBe(400);
      expect(bad.json.error.details[0].field).toBe("/group_by");
      const rowCursor = (await get("limit=1")).json.meta.next_cursor;
      const mixed = await get(`group_by=metric&cursor=${rowCursor}`);
      expect(mixed.status).toBe(400);
      expect(mixed.json.error.details[0].field).toBe("cursor");
      const summaryCursor = (await get("group_by=metric&limit=1")).json.meta.next_cursor;
      expect((await get(`cursor=${summaryCursor}`)).status).toBe(400);
    });

    test("the ungrouped rollup is unchanged: one row per curve, tenor, month and metric", async () => {
      const res = await get("limit=3");
      expect(res.json.data).toHaveLength(3);
      expect(Object.keys(res.json.data[0]).sort()).toEqual([
        "asof_date",
        "band_lower",
        "band_upper",
        "contract_month",
        "curve_key",
        "metric",
        "run_id",
        "tenor_label",
        "tenor_type",
        "value",
      ]);
      expect(res.json.meta.group_by).toBeUndefined();
    });
  });
}

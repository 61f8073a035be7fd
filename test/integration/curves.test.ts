/** Curves: the all-or-nothing CSV import, reads with paging, and the bundled sample set, on both stores. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CSV_COLUMNS } from "../../src/curves/model";
import { createCurveRepo } from "../../src/curves/repo";
import { SAMPLE_CURVES, SAMPLE_MONTHS } from "../../src/curves/sample";
import { createCurveService } from "../../src/curves/service";
import { buildApp, call, createTestDb, STORES, type TestDb } from "../support/app";

const HEADER = CSV_COLUMNS.join(",");
const row = (key: string, month: string, mid: number | string, over: Partial<Record<string, string>> = {}) =>
  [key, over.market ?? "PJM", over.location ?? "West Hub", over.product ?? "power", over.block ?? "ON_PEAK", over.unit ?? "USD/MWh", over.asof ?? "2026-11-27", month, mid].join(
    ",",
  );

for (const store of STORES) {
  describe(`curves on ${store}`, () => {
    let db: TestDb;
    let app: Awaited<ReturnType<typeof buildApp>>;
    const importCsv = (csv: string) => call(app, "POST", "/v1/curves:import", { raw: csv, headers: { "content-type": "text/csv" } });
    const observations = async () => Number((await db.sql`select count(*)::int as n from curve_observation`)[0]?.n);

    beforeAll(async () => {
      db = await createTestDb(store);
      app = await buildApp(db);
    });
    afterAll(async () => {
      await db?.drop();
    });

    test("loads the bundled sample set once into an empty store, deterministically", async () => {
      const service = createCurveService(createCurveRepo(db.sql));
      expect(await service.loadSampleIfEmpty()).toBe(true);
      expect(await service.loadSampleIfEmpty()).toBe(false);
      expect(await observations()).toBe(SAMPLE_CURVES.length * SAMPLE_MONTHS);
      const [digest] = await db.sql`select md5(string_agg(curve_key || contract_month::text || mid::text, ',' order by curve_key, contract_month)) as h from curve_observation`;
      const other = await createTestDb("pglite");
      try {
        await createCurveService(createCurveRepo(other.sql)).loadSampleIfEmpty();
        const [again] = await other.sql`select md5(string_agg(curve_key || contract_month::text || mid::text, ',' order by curve_key, contract_month)) as h from curve_observation`;
        expect(again?.h).toBe(digest?.h);
      } finally {
        await other.drop();
      }
      const hub = await call(app, "GET", "/v1/curves/HENRY_HUB_GAS?limit=12");
      expect(hub.json.data.curve).toMatchObject({ product: "natural_gas", unit: "USD/MMBtu", observations: SAMPLE_MONTHS });
      const mids = hub.json.data.observations.map((o: { mid: number }) => o.mid);
      // Seasonal shape: winter gas is dearer than the summer shoulder.
      expect(Math.max(...mids)).toBeGreaterThan(Math.min(...mids) * 1.1);
    });

    test("imports a multi-batch CSV in one transaction and reports what it did", async () => {
      const lines = [HEADER];
      for (let c = 0; c < 12; c++)
        for (let m = 0; m < 1000; m++) lines.push(row(`IMP_${c}`, `${2030 + Math.floor(m / 12)}-${String((m % 12) + 1).padStart(2, "0")}`, 40 + c + m / 100));
      const before = await observations();
      const res = await importCsv(`${lines.join("\n")}\n`);
      expect(res.status).toBe(200);
      expect(res.json.data).toEqual({ rows: 12_000, curves: 12, inserted: 12_000, updated: 0 });
      expect(await observations()).toBe(before + 12_000);
      const again = await importCsv(`${HEADER}\n${row("IMP_0", "2030-01", 99.5)}\n`);
      expect(again.json.data).toEqual({ rows: 1, curves: 1, inserted: 0, updated: 1 });
      const curve = await call(app, "GET", "/v1/curves/IMP_0?limit=1");
      expect(curve.json.data.observations).toEqual([{ asof_date: "2026-11-27", contract_month: "2030-01-01", mid: 99.5 }]);
      expect(curve.json.data.curve).toMatchObject({ first_month: "2030-01-01", last_month: "2113-04-01", observations: 1000 });
    });

    test("pages curves by key and observations by month without gaps or repeats", async () => {
      const keys: string[] = [];
      let cursor: string | null = null;
      do {
        const res: Awaited<ReturnType<typeof call>> = await call(app, "GET", `/v1/curves?limit=5${cursor ? `&cursor=${cursor}` : ""}`);
        keys.push(...res.json.data.map((c: { curve_key: string }) => c.curve_key));
        cursor = res.json.meta.next_cursor;
      } while (cursor);
      const [{ n }] = await db.sql`select count(*)::int as n from curve`;
      expect(keys).toHaveLength(n);
      expect([...keys].sort()).toEqual(keys);
      expect((await call(app, "GET", "/v1/curves?product=NATURAL_GAS")).json.data.map((c: { curve_key: string }) => c.curve_key)).toEqual(["HENRY_HUB_GAS"]);

      const months: string[] = [];
      cursor = null;
      do {
        const res: Awaited<ReturnType<typeof call>> = await call(app, "GET", `/v1/curves/IMP_3?limit=77${cursor ? `&cursor=${cursor}` : ""}`);
        months.push(...res.json.data.observations.map((o: { contract_month: string }) => o.contract_month));
        cursor = res.json.meta.next_cursor;
      } while (cursor);
      expect(months).toHaveLength(1000);
      expect(new Set(months).size).toBe(1000);
    });

    const rejected: [string, string, RegExp, number?][] = [
      ["a non-numeric mid", `${HEADER}\n${row("BAD_A", "2030-01", 1)}\n${row("BAD_A", "2030-02", "abc")}\n`, /^line 3: mid/],
      ["an impossible as-of date", `${HEADER}\n${row("BAD_B", "2030-01", 1, { asof: "2026-02-30" })}\n`, /^line 2: asof_date/],
      ["an as-of date before 1900", `${HEADER}\n${row("BAD_B", "2030-01", 1, { asof: "1899-12-31" })}\n`, /^line 2: asof_date/],
      ["a contract month after 2200", `${HEADER}\n${row("BAD_C", "2201-01", 1)}\n`, /^line 2: contract_month/],
      ["a bad contract month", `${HEADER}\n${row("BAD_C", "2030-13", 1)}\n`, /^line 2: contract_month/],
      ["a wrong header", `curve,market\n${row("BAD_D", "2030-01", 1)}\n`, /^line 1: the header/],
      ["a missing column", `${HEADER}\n${row("BAD_E", "2030-01", 1)}\nBAD_E,PJM,West,power\n`, /^line 3: record has 4 fields/],
      ["an unknown product", `${HEADER}\n${row("BAD_F", "2030-01", 1, { product: "uranium" })}\n`, /^line 2: product/],
      [
        "a curve whose identity changes mid-file",
        `${HEADER}\n${row("BAD_G", "2030-01", 1)}\n${row("BAD_G", "2030-02", 1, { block: "OFF_PEAK" })}\n`,
        /^line 3: curve_key BAD_G was defined on line 2/,
      ],
      ["a repeated observation", `${HEADER}\n${row("BAD_H", "2030-01", 1)}\n${row("BAD_H", "2030-02", 2)}\n${row("BAD_H", "2030-01", 3)}\n`, /^line 4: repeats .* line 2/],
      ["an unterminated quote", `${HEADER}\n${row("BAD_I", "2030-01", 1)}\nBAD_I,PJM,"West,power,ON_PEAK,USD/MWh,2026-11-27,2030-02,1\n`, /^line 3/],
      ["an empty file", "", /empty/],
      // Finite and plausible (src/curves/bounds.ts): 1.7e308 passed before and made later runs overflow to Infinity.
      [
        "a mid of 1.7e308",
        `${HEADER}\n${row("BAD_J", "2030-01", 1)}\n${row("BAD_J", "2030-02", "1.7e308")}\n`,
        /^line 3: mid 1\.7e\+308 is outside the plausible range for USD\/MWh/,
      ],
      ["a mid of NaN", `${HEADER}\n${row("BAD_K", "2030-01", "NaN")}\n`, /^line 2: mid must be a finite number/],
      ["a mid of -Infinity", `${HEADER}\n${row("BAD_L", "2030-01", 1)}\n${row("BAD_L", "2030-02", "-Infinity")}\n`, /^line 3: mid must be a finite number/],
      ["a mid that overflows a double", `${HEADER}\n${row("BAD_M", "2030-01", "1e999")}\n`, /^line 2: mid must be a finite number/],
      [
        "a gas price beyond USD/MMBtu's range",
        `${HEADER}\n${row("BAD_N", "2030-01", 20_000, { product: "natural_gas", block: "ATC", unit: "USD/MMBtu" })}\n`,
        /^line 2: mid 20000 .* at most 10000/,
      ],
      ["a price beyond the default range of an unknown unit", `${HEADER}\n${row("BAD_O", "2030-01", -2e6, { unit: "XYZ" })}\n`, /^line 2: mid -2000000 .* at most 1000000/],
      ["a stored curve with another identity", `${HEADER}\n${row("IMP_0", "2031-01", 1, { unit: "EUR/MWh" })}\n`, /curve IMP_0 is stored with other/, 409],
    ];
    for (const [what, csv, message, status] of rejected) {
      test(`a file with ${what} is rejected whole, naming the line`, async () => {
        const before = await observations();
        const [{ curves: curvesBefore }] = await db.sql`select count(*)::int as curves from curve`;
        const res = await importCsv(csv);
        expect(res.status).toBe(status ?? 400);
        expect(res.json.error.message).toMatch(message);
        expect(res.json.error.message).toContain("nothing was imported");
        expect(await observations()).toBe(before);
        expect((await db.sql`select count(*)::int as curves from curve`)[0]?.curves).toBe(curvesBefore);
      });
    }

    test("prices at the edge of their unit's range are accepted, negative ones too", async () => {
      const csv = [
        HEADER,
        row("EDGE_POWER", "2030-01", 100_000),
        row("EDGE_POWER", "2030-02", -100_000, {}),
        row("EDGE_GAS", "2030-01", 10_000, { product: "natural_gas", block: "ATC", unit: "usd/mmbtu" }),
        row("EDGE_OTHER", "2030-01", 1_000_000, { unit: "XYZ" }),
      ].join("\n");
      const res = await importCsv(`${csv}\n`);
      expect(res.status).toBe(200);
      expect(res.json.data.rows).toBe(4);
    });

    test("an unknown curve is a 404 and a custom verb other than import is a 404", async () => {
      expect((await call(app, "GET", "/v1/curves/NOPE")).status).toBe(404);
      expect((await call(app, "POST", "/v1/curves:export")).status).toBe(404);
    });

    test("importing needs admin:*", async () => {
      const service = createCurveService(createCurveRepo(db.sql));
      const viewer = { subject: "v", tenantId: "t", permissions: new Set(["scenarios:read", "scenarios:write"] as const), mode: "jwt" as const };
      expect(service.importCsv(viewer, new Response(`${HEADER}\n`).body)).rejects.toMatchObject({ status: 403 });
    });
  });
}

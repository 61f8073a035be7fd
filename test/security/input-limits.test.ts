/**
 * Issue 18, part 6: inputs that answered 500 or 503, or were silently read as something else, are
 * 400s (or work): deeply nested JSON, an import of thousands of curves, impossible as-of dates, and a
 * forged cursor carrying a NUL byte.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { buildApp, call, createTestDb, type TestDb } from "../support/app";
import { seedRun } from "../support/outputs";

const TENANT = "t-limits";
const tenant = { "x-aurum-tenant": TENANT };
const HEADER = "curve_key,market,location,product,block,unit,asof_date,contract_month,mid\n";

describe("input limits", () => {
  let db: TestDb;
  let app: Awaited<ReturnType<typeof buildApp>>;
  let scenarioId: string;

  beforeAll(async () => {
    db = await createTestDb("postgres", { sampleCurves: true });
    app = await buildApp(db);
    scenarioId = (await call(app, "POST", "/v1/scenarios", { body: { name: "Limits" }, headers: tenant })).json.data.id;
    await seedRun(db.sql, { tenantId: TENANT, scenarioId, rows: 300, asof: "2026-01-02", finishedAt: "2026-01-02T10:00:00Z" });
  });
  afterAll(async () => {
    await db?.drop();
  });

  const expect400 = (res: Awaited<ReturnType<typeof call>>, field?: string) => {
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe("VALIDATION_ERROR");
    if (field) expect(res.json.error.details[0].field).toBe(field);
  };

  describe("deeply nested JSON", () => {
    const deep = (levels: number) => `{"name":"deep","parameters":{"p":${"[".repeat(levels)}${"]".repeat(levels)}}}`;

    test("100,000 levels in a create: 400, not a stack overflow", async () => {
      const res = await call(app, "POST", "/v1/scenarios", { raw: deep(100_000), headers: { ...tenant, "content-type": "application/json" } });
      expect400(res, "/");
      expect(res.json.error.message).toMatch(/nests deeper than 64 levels/);
    });

    test("deep nesting in an optional body (run trigger) and in a PATCH: 400", async () => {
      const body = `{"parameters":{"p":${"[".repeat(50_000)}${"]".repeat(50_000)}}}`;
      expect400(await call(app, "POST", `/v1/scenarios/${scenarioId}/run`, { raw: body, headers: { ...tenant, "content-type": "application/json" } }), "/");
      expect400(await call(app, "PATCH", `/v1/scenarios/${scenarioId}`, { raw: body, headers: { ...tenant, "content-type": "application/json" } }), "/");
    });

    test("nesting within the bound is parsed as before; brackets inside strings do not count", async () => {
      const res = await call(app, "POST", "/v1/scenarios", {
        raw: `{"name":"${"[{".repeat(60)}","parameters":{"a":${"[".repeat(60)}${"]".repeat(60)}}}`,
        headers: { ...tenant, "content-type": "application/json" },
      });
      expect(res.status).toBe(201);
    });
  });

  test("a curve import of 8,000 distinct curves works (and again, as an update)", async () => {
    let csv = HEADER;
    for (let i = 0; i < 8_000; i++) csv += `MANY_${i},ERCOT,HB_NORTH,power,ON_PEAK,USD/MWh,2026-01-02,2030-01,${40 + (i % 10)}\n`;
    for (const expected of [
      { inserted: 8_000, updated: 0 },
      { inserted: 0, updated: 8_000 },
    ]) {
      const res = await call(app, "POST", "/v1/curves:import", { raw: csv, headers: { "content-type": "text/csv" } });
      expect(res.status).toBe(200);
      expect(res.json.data).toEqual({ rows: 8_000, curves: 8_000, ...expected });
    }
    expect((await db.sql`select count(*)::int as n from curve where curve_key like 'MANY\\_%'`)[0]?.n).toBe(8_000);
    // An identity clash among thousands is still found.
    const clash = `${HEADER}${csv.slice(HEADER.length, -1)}\nMANY_7999,ERCOT,HB_SOUTH,power,ON_PEAK,USD/MWh,2026-01-03,2030-01,40\n`.replace(/^MANY_7999,ERCOT,HB_NORTH.*\n/m, "");
    const res = await call(app, "POST", "/v1/curves:import", { raw: clash, headers: { "content-type": "text/csv" } });
    expect(res.status).toBe(409);
  }, 120_000);

  describe("as-of dates", () => {
    const curveKey = async () => (await call(app, "GET", "/v1/curves?limit=1")).json.data[0].curve_key as string;

    for (const bad of ["0000-00-00", "2024-02-30", "2023-02-29", "2024-13-01", "2024-00-10", "2024-04-31"]) {
      test(`GET /v1/curves/{key}?asof_date=${bad}: 400`, async () => {
        expect400(await call(app, "GET", `/v1/curves/${await curveKey()}?asof_date=${bad}`), "asof_date");
      });
      test(`run trigger with asof_date ${bad}: 400`, async () => {
        expect400(await call(app, "POST", `/v1/scenarios/${scenarioId}/run`, { body: { asof_date: bad }, headers: tenant }), "/asof_date");
      });
      test(`outputs and metrics/latest with asof_date=${bad}: 400`, async () => {
        expect400(await call(app, "GET", `/v1/scenarios/${scenarioId}/outputs?asof_date=${bad}`, { headers: tenant }));
        expect400(await call(app, "GET", `/v1/scenarios/${scenarioId}/metrics/latest?asof_date_to=${bad}`, { headers: tenant }));
      });
    }

    test("a real leap day is a date (200 with no observations on it)", async () => {
      const res = await call(app, "GET", `/v1/curves/${await curveKey()}?asof_date=2024-02-29`);
      expect(res.status).toBe(200);
      expect(res.json.meta.asof_date).toBe("2024-02-29");
    });
  });

  describe("forged cursors", () => {
    /** A cursor the API issued, with `field` replaced by `value`: the fingerprint stays valid. */
    const forge = (cursor: string, field: string, value: string) => {
      const decoded = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
      return Buffer.from(JSON.stringify({ ...decoded, [field]: value })).toString("base64url");
    };

    test("an export cursor with a NUL byte: 400 for JSON, CSV and NDJSON, and the database still answers", async () => {
      const first = await call(app, "GET", `/v1/scenarios/${scenarioId}/outputs?limit=10`, { headers: tenant });
      expect(first.status).toBe(200);
      const forged = forge(first.json.meta.next_cursor, "k", "C000\u0000'; select 1");
      for (const format of ["json", "csv", "ndjson"]) {
        expect400(await call(app, "GET", `/v1/scenarios/${scenarioId}/outputs?limit=10&format=${format}&cursor=${forged}`, { headers: tenant }), "cursor");
      }
      expect((await call(app, "GET", `/v1/scenarios/${scenarioId}/outputs?limit=10&cursor=${first.json.meta.next_cursor}`, { headers: tenant })).status).toBe(200);
    });

    test("a metrics/latest and a curve-list cursor with a NUL byte: 400", async () => {
      const latest = await call(app, "GET", `/v1/scenarios/${scenarioId}/metrics/latest?limit=5`, { headers: tenant });
      expect(latest.status).toBe(200);
      expect400(
        await call(app, "GET", `/v1/scenarios/${scenarioId}/metrics/latest?limit=5&cursor=${forge(latest.json.meta.next_cursor, "m", "NPV\u0000")}`, { headers: tenant }),
        "cursor",
      );
      const curves = await call(app, "GET", "/v1/curves?limit=2");
      expect400(await call(app, "GET", `/v1/curves?limit=2&cursor=${forge(curves.json.meta.next_cursor, "k", "A\u0000B")}`), "cursor");
    });

    test("a NUL byte in a query value: 400 (a guard; these were 400s before too)", async () => {
      expect400(await call(app, "GET", `/v1/scenarios/${scenarioId}/outputs?curve_key=C000%00x`, { headers: tenant }));
      expect400(await call(app, "GET", "/v1/scenarios?name=a%00b", { headers: tenant }));
    });
  });
});

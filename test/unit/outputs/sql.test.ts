/** The one WHERE compiler (src/outputs/sql.ts) in its two dialects: the same conditions, values bound (Postgres) or quoted (Trino). */
import { describe, expect, test } from "bun:test";
import { pgParams, readColumns, trinoDialect, where } from "../../../src/outputs/sql";

const FILTER = {
  tenantId: "t'1",
  scenarioId: "22222222-2222-2222-2222-222222222222",
  runId: "11111111-1111-1111-1111-111111111111",
  metric: "mid",
  curveKey: "K\\'; drop table scenario_output; --",
  tenorType: "MONTHLY",
  asofFrom: "2026-01-01",
  asofTo: "2026-02-01",
  monthFrom: "2027-01-01",
  monthTo: "2027-12-01",
};
const AFTER = { metric: "m'", curve_key: "c", tenor_type: "QUARTER", contract_month: "2027-03-01" };

describe("where", () => {
  test("Postgres: every value a bound parameter, cast by its column's kind, the keyset on the natural key", () => {
    const p = pgParams();
    expect(where(p, FILTER, AFTER, "o.")).toBe(
      "o.tenant_id = $1 and o.scenario_id = $2::uuid and o.run_id = $3::uuid and o.metric = $4 and o.curve_key = $5 and o.tenor_type = $6" +
        " and o.asof_date >= $7::date and o.asof_date <= $8::date and o.contract_month >= $9::date and o.contract_month <= $10::date" +
        " and (o.metric, o.curve_key, o.tenor_type, o.contract_month) > ($11, $12, $13, $14::date)",
    );
    expect(p.values).toEqual([...Object.values(FILTER), ...Object.values(AFTER)]);
  });

  test("Trino: the same conditions with every value a literal, quotes doubled", () => {
    expect(where(trinoDialect, FILTER, AFTER)).toBe(
      "tenant_id = 't''1' AND scenario_id = '22222222-2222-2222-2222-222222222222' AND run_id = '11111111-1111-1111-1111-111111111111'" +
        " AND metric = 'mid' AND curve_key = 'K\\''; drop table scenario_output; --' AND tenor_type = 'MONTHLY'" +
        " AND asof_date >= DATE '2026-01-01' AND asof_date <= DATE '2026-02-01' AND contract_month >= DATE '2027-01-01' AND contract_month <= DATE '2027-12-01'" +
        " AND (metric, curve_key, tenor_type, contract_month) > ('m''', 'c', 'QUARTER', DATE '2027-03-01')",
    );
  });

  test("only the tenant and scenario when no filter is given; Trino refuses a date that is not one", () => {
    const p = pgParams();
    expect(where(p, { tenantId: "t", scenarioId: "s" })).toBe("tenant_id = $1 and scenario_id = $2::uuid");
    expect(() => where(trinoDialect, { tenantId: "t", scenarioId: "s", asofFrom: "2026-02-30' OR 1=1 --" })).toThrow(RangeError);
  });
});

test("readColumns: ids as text and dates as YYYY-MM-DD in either dialect", () => {
  expect(readColumns(pgParams(), ["run_id", "asof_date", "value"], "o.")).toBe("o.run_id::text as run_id, to_char(o.asof_date, 'YYYY-MM-DD') as asof_date, o.value");
  expect(readColumns(trinoDialect, ["run_id", "asof_date", "value"])).toBe("run_id, CAST(asof_date AS varchar) AS asof_date, value");
});

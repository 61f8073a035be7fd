// The store-independent half of /compare: the baseline rule and the encoders of compared rows.
import { describe, expect, test } from "bun:test";
import { baselineKind, compareCsvRow, compareNdjsonRow, encodeCompareRows } from "../../../src/outputs/compare";
import type { CompareRow } from "../../../src/outputs/row";

const row = (o: Partial<CompareRow> = {}): CompareRow => ({
  curve_key: "PJM_WEST",
  tenor_type: "MONTHLY",
  contract_month: "2027-01-01",
  tenor_label: "2027-01",
  metric: "mid",
  a: 50,
  b: 40,
  delta: 10,
  delta_pct: 0.25,
  ...o,
});

describe("baseline rule", () => {
  test("prices read the baseline row, driver effects are 0, anything else unknown", () => {
    expect(["mid", "baseline"].map(baselineKind)).toEqual(["price", "price"]);
    expect(["uplift", "policy_uplift", "NPV", "rec_cost", "npv_per_bp", "carbon_uplift"].map(baselineKind)).toEqual(Array(6).fill("zero"));
    // Negative cases: near misses are not driver effects.
    expect(["mid_per_gas", "npv", "Mid", "_uplift", "uplift_x", "upliftx", "rec_costs", ""].map(baselineKind)).toEqual(Array(8).fill("unknown"));
  });
});

describe("compared-row encoders", () => {
  test("CSV: nulls are empty cells, text is RFC 4180 quoted, formulas escaped only when asked", () => {
    expect(compareCsvRow(row({ b: null, delta: null, delta_pct: null }))).toBe("PJM_WEST,MONTHLY,2027-01-01,2027-01,mid,50,,,\n");
    expect(compareCsvRow(row({ curve_key: '=A,"B"' }))).toBe('"=A,""B""",MONTHLY,2027-01-01,2027-01,mid,50,40,10,0.25\n');
    expect(compareCsvRow(row({ curve_key: "=A1" }), true)).toBe("'=A1,MONTHLY,2027-01-01,2027-01,mid,50,40,10,0.25\n");
    expect(compareCsvRow(row({ a: Number.NaN, delta: Number.NEGATIVE_INFINITY }))).toBe("PJM_WEST,MONTHLY,2027-01-01,2027-01,mid,NaN,40,-Infinity,0.25\n");
  });

  test("NDJSON: one JSON object per line, non-finite values as strings, null as null", () => {
    const line = compareNdjsonRow(row({ a: Number.POSITIVE_INFINITY, b: null, delta: null, delta_pct: null, curve_key: 'q"\n' }));
    expect(JSON.parse(line)).toEqual({ ...row(), curve_key: 'q"\n', a: "Infinity", b: null, delta: null, delta_pct: null });
    expect(line.endsWith("}\n")).toBe(true);
  });

  test("a CSV export of no rows is its header; NDJSON of no rows is empty", async () => {
    const text = async (format: "csv" | "ndjson") => {
      let out = "";
      for await (const c of encodeCompareRows((async function* () {})(), format)) out += new TextDecoder().decode(c);
      return out;
    };
    expect(await text("csv")).toBe("curve_key,tenor_type,contract_month,tenor_label,metric,a,b,delta,delta_pct\n");
    expect(await text("ndjson")).toBe("");
  });
});

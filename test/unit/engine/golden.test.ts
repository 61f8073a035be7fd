/** Golden test: the worked example of docs/model.md §8, every number computed by hand there. */
import { describe, expect, test } from "bun:test";
import { runScenario } from "../../../src/engine/index";
import { index, rowsOf, WORKED_EXAMPLE } from "./helpers";

// Hand-computed values (docs/model.md §8). DF_j = (150/151)^j; ψ = 1.21^1.5 = 1.331.
const D = 150 / 151;
const TAX = 0.492405 * 20; // EF_PJM,ON × 20 USD/t = 9.8481
const HOURS = [320, 320, 368]; // on-peak hours: 1 Jan 2027 is a NERC holiday (docs/model.md §5)
// per month: HR*, M0 = HR*·4, gas ΔM = HR*·0.4
const MONTHS = [15, 12.5, 10].map((hr, k) => {
  const m0 = hr * 4;
  const dg = hr * 0.4;
  const v = 0.331 * m0 + 1.331 * (dg + TAX);
  const parts = { "fuel_curve:0": dg + (0.331 * dg) / 2, "policy:1": TAX + (0.331 * TAX) / 2, "policy:2": 0, "load_growth:3": 0.331 * m0 + (0.331 * dg) / 2 + (0.331 * TAX) / 2 };
  const npv = HOURS[k]! * D ** (k + 1);
  const bp = (-1e-4 * (k + 1)) / 12.08;
  return { hr, v, parts, npv, bp };
});
const scale = (p: Record<string, number>, f: number) => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v * f]));
const labels = ["2027-01", "2027-02", "2027-03"];
const BASE = [60, 50, 40];

const EXPECTED: [string, string, string, number, Record<string, number> | null][] = [];
MONTHS.forEach((m, k) => {
  const l = labels[k]!;
  EXPECTED.push(
    ["PJM_W_ON", l, "baseline", BASE[k]!, null],
    ["PJM_W_ON", l, "mid", BASE[k]! + m.v, null],
    ["PJM_W_ON", l, "uplift", m.v, m.parts],
    ["PJM_W_ON", l, "policy_uplift", TAX * 1.1655, { "policy:1": TAX * 1.1655, "policy:2": 0 }],
    ["PJM_W_ON", l, "NPV", m.npv * m.v, scale(m.parts, m.npv)],
    ["PJM_W_ON", l, "rec_cost", 1, { "policy:2": 1 }],
    ["PJM_W_ON", l, "npv_per_bp", m.bp * m.npv * m.v, null],
    ["PJM_W_ON", l, "mid_per_gas", 1.331 * m.hr, null],
    ["HH_GAS", l, "mid", 4.4, null],
    ["HH_GAS", l, "uplift", 0.4, { "fuel_curve:0": 0.4 }],
    ["HH_GAS", l, "policy_uplift", 0, {}],
    ["HH_GAS", l, "rec_cost", 0, {}],
    ["HH_GAS", l, "mid_per_gas", 1, null],
  );
});
EXPECTED.push(
  ["PJM_W_ON", "2027-01", "mid", 100.9538211, null],
  ["PJM_W_ON", "2027-01", "uplift", 40.9538211, { "fuel_curve:0": 6.993, "policy:1": 11.47796055, "policy:2": 0, "load_growth:3": 22.48286055 }],
  ["PJM_W_ON", "2027-01", "NPV", 13018.433197350992, null],
  ["PJM_W_ON", "2027-Q1", "baseline", 49920 / 1008, null],
  ["PJM_W_ON", "2027-Q1", "mid", 85.6156306238095, null],
  ["PJM_W_ON", "2027-Q1", "uplift", 36.0918211, { "fuel_curve:0": 5.772, "policy:1": 11.47796055, "policy:2": 0, "load_growth:3": 18.84186055 }],
  ["PJM_W_ON", "2027-Q1", "policy_uplift", 11.47796055, { "policy:1": 11.47796055, "policy:2": 0 }],
  ["PJM_W_ON", "2027-Q1", "NPV", 35910.33636591772, null],
  ["PJM_W_ON", "2027-Q1", "rec_cost", 1, { "policy:2": 1 }],
  ["PJM_W_ON", "2027-Q1", "npv_per_bp", -0.581352971568674, null],
  ["PJM_W_ON", "2027-Q1", "mid_per_gas", 16.479047619047616, null],
  ["HH_GAS", "2027-01", "NPV", 12.4 * D, { "fuel_curve:0": 12.4 * D }],
  ["HH_GAS", "2027-Q1", "baseline", 4, null],
  ["HH_GAS", "2027-Q1", "mid", 4.4, null],
  ["HH_GAS", "2027-Q1", "NPV", 12.4 * D + 11.2 * D * D + 12.4 * D ** 3, null],
);

const close = (a: number, b: number, tol = 1e-9) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

describe("worked example (docs/model.md §8)", () => {
  const result = runScenario(WORKED_EXAMPLE);
  const rows = rowsOf(result);
  const byKey = new Map(rows.map((r) => [`${r.curveKey}|${r.tenorLabel}|${r.metric}`, r]));

  test("row count: 2 curves × (3 months + 1 quarter) × 8 metrics; no CAL-2027 (not a full year in the horizon)", () => {
    expect(result.rows).toBe(64);
    expect(rows.length).toBe(64);
    expect(rows.some((r) => r.tenorType === "CALENDAR")).toBe(false);
    expect(index(rows).size).toBe(64);
  });

  for (const [curve, label, metric, value, attribution] of EXPECTED) {
    test(`${curve} ${label} ${metric} = ${value}`, () => {
      const r = byKey.get(`${curve}|${label}|${metric}`);
      expect(r).toBeDefined();
      if (!close(r!.value, value)) throw new Error(`${curve} ${label} ${metric}: ${r!.value}, expected ${value}`);
      if (attribution === null) {
        if (["mid", "baseline", "npv_per_bp", "mid_per_gas"].includes(metric)) expect(r!.attribution).toBeNull();
      } else {
        const got = JSON.parse(r!.attribution!) as Record<string, number>;
        expect(Object.keys(got).sort()).toEqual(Object.keys(attribution).sort());
        for (const [k, v] of Object.entries(attribution)) if (!close(got[k]!, v)) throw new Error(`${curve} ${label} ${metric} ${k}: ${got[k]}, expected ${v}`);
      }
      expect(r!.bandLower).toBeLessThanOrEqual(r!.value);
      expect(r!.bandUpper).toBeGreaterThanOrEqual(r!.value);
    });
  }

  test("tenor labels, contract months and tenor types", () => {
    const q = byKey.get("PJM_W_ON|2027-Q1|mid")!;
    expect(q.tenorType).toBe("QUARTER");
    expect(q.contractMonth).toBe(202701);
    expect(byKey.get("PJM_W_ON|2027-02|mid")!.contractMonth).toBe(202702);
    expect(byKey.get("PJM_W_ON|2027-02|mid")!.tenorType).toBe("MONTHLY");
  });

  test("each metric's band is that metric at the quantile points (§7.6): a carbon tax alone adds EF·tax at any price level", () => {
    const taxOnly = rowsOf(runScenario({ ...WORKED_EXAMPLE, drivers: WORKED_EXAMPLE.drivers.filter((d) => d.driver_type === "policy" && d.policy_name === "CARBON_TAX") }));
    const get = (label: string, metric: string) => taxOnly.find((r) => r.curveKey === "PJM_W_ON" && r.tenorLabel === label && r.metric === metric)!;
    for (const label of ["2027-02", "2027-Q1"]) {
      const up = get(label, "uplift");
      const mid = get(label, "mid");
      const base = get(label, "baseline");
      expect(up.value).toBeGreaterThan(0);
      // the uplift does not move with the price level: its band is a point
      expect(close(up.bandLower, up.value, 1e-12) && close(up.bandUpper, up.value, 1e-12)).toBe(true);
      // the price does: mid's band is the baseline's band shifted by the same uplift
      expect(base.bandLower).toBeLessThan(base.value);
      expect(base.bandUpper).toBeGreaterThan(base.value);
      expect(close(mid.bandLower, base.bandLower + up.value, 1e-12)).toBe(true);
      expect(close(mid.bandUpper, base.bandUpper + up.value, 1e-12)).toBe(true);
    }
    // with load growth the uplift scales with the price level, so its band is not a point
    const up = byKey.get("PJM_W_ON|2027-02|uplift")!;
    expect(up.bandUpper - up.bandLower).toBeGreaterThan(1e-6 * up.value);
  });

  test("version hash is stable across runs and independent of run identity", () => {
    const again = runScenario({ ...WORKED_EXAMPLE, runId: "run-2", scenarioId: "other", tenantId: "other" });
    expect(again.versionHash).toBe(result.versionHash);
    expect(result.versionHash).toMatch(/^fnv1a64:[0-9a-f]{16}$/);
    const changed = runScenario({ ...WORKED_EXAMPLE, codeVersion: "doc-example-2" });
    expect(changed.versionHash).not.toBe(result.versionHash);
  });
});

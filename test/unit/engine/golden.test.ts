/** Golden test: the worked example of docs/model.md §8, every number computed by hand there. */
import { describe, expect, test } from "bun:test";
import { runScenario } from "../../../src/engine/index";
import { index, rowsOf, WORKED_EXAMPLE } from "./helpers";

// Hand-computed values (docs/model.md §8). DF_j = (150/151)^j.
const D = 150 / 151;
const EXPECTED: [string, string, string, number, Record<string, number> | null][] = [
  // curve, tenor label, metric, value, attribution
  ["PJM_W_ON", "2027-01", "baseline", 60, null],
  ["PJM_W_ON", "2027-01", "uplift", 11.097, { "fuel_curve:0": 2.4, "policy:1": 8.697 }],
  ["PJM_W_ON", "2027-01", "mid", 71.097, null],
  ["PJM_W_ON", "2027-01", "policy_uplift", 8.697, { "policy:1": 8.697 }],
  ["PJM_W_ON", "2027-01", "NPV", 3551.04 * D, { "fuel_curve:0": 768 * D, "policy:1": 2783.04 * D }],
  ["PJM_W_ON", "2027-02", "mid", 60.797, null],
  ["PJM_W_ON", "2027-02", "uplift", 10.797, { "fuel_curve:0": 2.1, "policy:1": 8.697 }],
  ["PJM_W_ON", "2027-02", "NPV", 3455.04 * D * D, { "fuel_curve:0": 672 * D * D, "policy:1": 2783.04 * D * D }],
  ["PJM_W_ON", "2027-03", "mid", 50.497, null],
  ["PJM_W_ON", "2027-03", "uplift", 10.497, { "fuel_curve:0": 1.8, "policy:1": 8.697 }],
  ["PJM_W_ON", "2027-03", "NPV", 3862.896 * D * D * D, { "fuel_curve:0": 662.4 * D * D * D, "policy:1": 3200.496 * D * D * D }],
  ["PJM_W_ON", "2027-Q1", "baseline", 49920 / 1008, null],
  ["PJM_W_ON", "2027-Q1", "mid", 60788.976 / 1008, null],
  ["PJM_W_ON", "2027-Q1", "uplift", 10868.976 / 1008, { "fuel_curve:0": 2102.4 / 1008, "policy:1": 8.697 }],
  ["PJM_W_ON", "2027-Q1", "policy_uplift", 8.697, { "policy:1": 8.697 }],
  ["PJM_W_ON", "2027-Q1", "NPV", 10723.6094431783, null],
  ["HH_GAS", "2027-01", "mid", 4.4, null],
  ["HH_GAS", "2027-02", "mid", 3.85, null],
  ["HH_GAS", "2027-03", "uplift", 0.3, { "fuel_curve:0": 0.3 }],
  ["HH_GAS", "2027-01", "NPV", 12.4 * D, { "fuel_curve:0": 12.4 * D }],
  ["HH_GAS", "2027-01", "policy_uplift", 0, {}],
  ["HH_GAS", "2027-Q1", "baseline", 3.5, null],
  ["HH_GAS", "2027-Q1", "mid", 3.85, null],
  ["HH_GAS", "2027-Q1", "NPV", 31.1049619933598, null],
];

const close = (a: number, b: number, tol = 1e-9) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

describe("worked example (docs/model.md §8)", () => {
  const result = runScenario(WORKED_EXAMPLE);
  const rows = rowsOf(result);
  const byKey = new Map(rows.map((r) => [`${r.curveKey}|${r.tenorLabel}|${r.metric}`, r]));

  test("row count: 2 curves × (3 months + 1 quarter) × 5 metrics; no CAL-2027 (not a full year in the horizon)", () => {
    expect(result.rows).toBe(40);
    expect(rows.length).toBe(40);
    expect(rows.some((r) => r.tenorType === "CALENDAR")).toBe(false);
    expect(index(rows).size).toBe(40);
  });

  for (const [curve, label, metric, value, attribution] of EXPECTED) {
    test(`${curve} ${label} ${metric} = ${value}`, () => {
      const r = byKey.get(`${curve}|${label}|${metric}`);
      expect(r).toBeDefined();
      expect(close(r!.value, value)).toBe(true);
      if (attribution === null) {
        if (metric === "mid" || metric === "baseline") expect(r!.attribution).toBeNull();
      } else {
        const got = JSON.parse(r!.attribution!) as Record<string, number>;
        expect(Object.keys(got).sort()).toEqual(Object.keys(attribution).sort());
        for (const [k, v] of Object.entries(attribution)) expect(close(got[k]!, v)).toBe(true);
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

  test("baseline bands scale the baseline by the same shock quantiles as mid (monthly)", () => {
    const m = byKey.get("PJM_W_ON|2027-02|mid")!;
    const b = byKey.get("PJM_W_ON|2027-02|baseline")!;
    expect(close(m.bandLower / m.value, b.bandLower / b.value, 1e-12)).toBe(true);
    expect(close(m.bandUpper / m.value, b.bandUpper / b.value, 1e-12)).toBe(true);
  });

  test("version hash is stable across runs and independent of run identity", () => {
    const again = runScenario({ ...WORKED_EXAMPLE, runId: "run-2", scenarioId: "other", tenantId: "other" });
    expect(again.versionHash).toBe(result.versionHash);
    expect(result.versionHash).toMatch(/^fnv1a64:[0-9a-f]{16}$/);
    const changed = runScenario({ ...WORKED_EXAMPLE, codeVersion: "doc-example-2" });
    expect(changed.versionHash).not.toBe(result.versionHash);
  });
});

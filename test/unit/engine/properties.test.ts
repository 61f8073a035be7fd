/** Property tests over 200 seeded random valid scenarios. */
import { describe, expect, test } from "bun:test";
import { type Driver, daysInMonth, type EngineInput, hoursInMonth, runScenario } from "../../../src/engine/index";
import { regionCovers } from "../../../src/engine/scope";
import { attributionError, type Row, randomScenario, rowsOf, serialize } from "./helpers";

const CASES = 200;
const scenarios: EngineInput[] = Array.from({ length: CASES }, (_, i) => randomScenario(1000 + i));
const results = scenarios.map((s) => rowsOf(runScenario(s)));

const monthIdx = (ym: number) => Math.floor(ym / 100) * 12 + (ym % 100) - 1;
const startMonth = (d: Driver): number | null => {
  if (d.driver_type === "policy" || d.driver_type === "load_growth") return d.start_year * 12;
  if (d.driver_type === "fleet_change") return monthIdx(Number(d.effective_date.slice(0, 4)) * 100 + Number(d.effective_date.slice(5, 7)));
  return null;
};
const monthly = (rows: Row[], metric: string) => rows.filter((r) => r.tenorType === "MONTHLY" && r.metric === metric);
const contribution = (r: Row, key: string): number | undefined => (r.attribution ? (JSON.parse(r.attribution) as Record<string, number>)[key] : undefined);

describe(`properties over ${CASES} random scenarios`, () => {
  test("generator covers the model (sanity)", () => {
    const kinds = new Set(scenarios.flatMap((s) => s.drivers.map((d) => d.driver_type)));
    expect(kinds.size).toBe(4);
    expect(results.reduce((n, r) => n + r.length, 0)).toBeGreaterThan(10_000);
    expect(results.some((rows) => rows.some((r) => r.tenorType === "CALENDAR"))).toBe(true);
  });

  test("band_lower ≤ value ≤ band_upper on every row; values finite", () => {
    for (const rows of results)
      for (const r of rows) {
        expect(Number.isFinite(r.value) && Number.isFinite(r.bandLower) && Number.isFinite(r.bandUpper)).toBe(true);
        if (!(r.bandLower <= r.value && r.value <= r.bandUpper)) throw new Error(`band violated: ${JSON.stringify(r)}`);
      }
  });

  test("bands are not degenerate when there is more than one path", () => {
    let wide = 0;
    scenarios.forEach((s, i) => {
      if (s.parameters.band_quantiles[1] - s.parameters.band_quantiles[0] > 0.5) for (const r of results[i]!) if (r.metric === "mid" && r.bandUpper > r.bandLower) wide++;
    });
    expect(wide).toBeGreaterThan(1000);
  });

  test("attribution sums to the row value (1e-9 relative) for uplift, policy_uplift, NPV, rec_cost; null for mid, baseline, npv_per_bp, mid_per_gas", () => {
    for (const rows of results)
      for (const r of rows) {
        if (r.metric === "mid" || r.metric === "baseline" || r.metric === "npv_per_bp" || r.metric === "mid_per_gas") {
          expect(r.attribution).toBeNull();
          continue;
        }
        expect(r.attribution).not.toBeNull();
        const e = attributionError(r.value, r.attribution!);
        if (!(e <= 1e-9)) throw new Error(`attribution error ${e}: ${JSON.stringify(r)}`);
      }
  });

  test("mid = baseline + uplift and policy_uplift only holds policy drivers", () => {
    for (const rows of results) {
      const m = new Map(rows.map((r) => [`${r.curveKey}|${r.tenorLabel}|${r.metric}`, r]));
      for (const r of rows) {
        if (r.metric === "mid") {
          const b = m.get(`${r.curveKey}|${r.tenorLabel}|baseline`)!.value;
          const u = m.get(`${r.curveKey}|${r.tenorLabel}|uplift`)!.value;
          expect(Math.abs(r.value - b - u)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(r.value)));
        }
        if (r.metric === "policy_uplift") for (const k of Object.keys(JSON.parse(r.attribution!))) expect(k.startsWith("policy:")).toBe(true);
      }
    }
  });

  test("quarters and calendars equal the hour-weighted average of their months (NPV, npv_per_bp: the sum); only full periods", () => {
    scenarios.forEach((s, i) => {
      const rows = results[i]!;
      // power: block hours; fuel curves (daily products): days
      const blockOf = new Map(s.curves.map((c) => [c.curveKey, c.product === "power" ? c.block : null]));
      const mon = new Map<string, Row>();
      for (const r of rows) if (r.tenorType === "MONTHLY") mon.set(`${r.curveKey}|${r.contractMonth}|${r.metric}`, r);
      for (const r of rows) {
        if (r.tenorType === "MONTHLY") continue;
        const len = r.tenorType === "QUARTER" ? 3 : 12;
        expect(monthIdx(r.contractMonth) % len === 0).toBe(true);
        let num = 0;
        let W = 0;
        let scale = 0;
        for (let k = 0; k < len; k++) {
          const i2 = monthIdx(r.contractMonth) + k;
          const ym = Math.floor(i2 / 12) * 100 + (i2 % 12) + 1;
          const m = mon.get(`${r.curveKey}|${ym}|${r.metric}`);
          if (!m) throw new Error(`aggregate ${r.tenorLabel} of ${r.curveKey} has a month outside the valued range`);
          const block = blockOf.get(r.curveKey);
          const summed = r.metric === "NPV" || r.metric === "npv_per_bp";
          const w = summed ? 1 : block == null ? daysInMonth(ym) : hoursInMonth(ym, block);
          num += w * m.value;
          W += w;
          scale += Math.abs(w * m.value);
        }
        const summed = r.metric === "NPV" || r.metric === "npv_per_bp";
        const expected = summed ? num : num / W;
        const tol = 1e-9 * Math.max(1e-12, summed ? scale : scale / W);
        if (!(Math.abs(r.value - expected) <= tol)) throw new Error(`aggregate mismatch ${r.value} vs ${expected}: ${JSON.stringify(r)}`);
      }
    });
  });

  test("same inputs + seed → byte-identical batches (also across batch sizes and fresh copies)", () => {
    for (let i = 0; i < CASES; i += 4) {
      const s = scenarios[i]!;
      const a = serialize(runScenario(s));
      const copy: EngineInput = structuredClone(s);
      expect(serialize(runScenario(copy))).toBe(a);
      const small = runScenario(s, { batchRows: 7 });
      expect(small.batches.every((b) => b.length <= 7)).toBe(true);
      expect(JSON.stringify(rowsOf(small))).toBe(JSON.stringify(rowsOf(runScenario(s))));
    }
  });

  test("a different seed changes bands but not central values", () => {
    for (let i = 0; i < CASES; i += 10) {
      const s = scenarios[i]!;
      const other = rowsOf(runScenario({ ...s, parameters: { ...s.parameters, seed: s.parameters.seed + 1 } }));
      const base = results[i]!;
      expect(other.map((r) => r.value)).toEqual(base.map((r) => r.value));
    }
  });

  test("a higher gas basis_points_adjustment never lowers a power curve's mid, and raises it wherever gas is marginal (mid_per_gas > 0)", () => {
    scenarios.forEach((s, i) => {
      const gasIdx = s.drivers.findIndex((d) => d.driver_type === "fuel_curve" && d.fuel === "natural_gas");
      const drivers: Driver[] = gasIdx >= 0 ? s.drivers : [...s.drivers, { driver_type: "fuel_curve", fuel: "natural_gas", reference_series: "GAS0", basis_points_adjustment: 0 }];
      const k = gasIdx >= 0 ? gasIdx : drivers.length - 1;
      const bump = (bp: number) => drivers.map((d, j) => (j === k && d.driver_type === "fuel_curve" ? { ...d, basis_points_adjustment: d.basis_points_adjustment + bp } : d));
      const lo = rowsOf(runScenario({ ...s, drivers: bump(0) }));
      const hi = rowsOf(runScenario({ ...s, drivers: bump(1 + (i % 7) * 250) }));
      expect(hi.length).toBe(lo.length);
      let raised = 0;
      let powerRows = 0;
      const gasMarginal = lo.some((r) => r.metric === "mid_per_gas" && r.tenorType === "MONTHLY" && r.curveKey.startsWith("P") && r.value > 0);
      for (let r = 0; r < lo.length; r++) {
        const a = lo[r]!;
        const b = hi[r]!;
        if (a.metric !== "mid" || !a.curveKey.startsWith("P")) continue;
        if (!(b.value >= a.value - 1e-9 * Math.abs(a.value))) throw new Error(`gas bump lowered ${a.curveKey} ${a.tenorLabel}: ${a.value} → ${b.value}`);
        powerRows++;
        if (b.value > a.value) raised++;
      }
      if (powerRows > 0 && gasMarginal) expect(raised).toBeGreaterThan(0);
    });
  });

  test("retirements never lower and additions never raise prices after the effective date; neither moves them before", () => {
    let checked = 0;
    scenarios.forEach((s, i) => {
      s.drivers.forEach((d, j) => {
        if (d.driver_type !== "fleet_change") return;
        const without = rowsOf(runScenario({ ...s, drivers: s.drivers.map((x, q) => (q === j ? { ...d, capacity_mw: 1e-9 } : x)) }));
        const withD = results[i]!;
        const eff = startMonth(d)!;
        for (let r = 0; r < withD.length; r++) {
          const a = withD[r]!;
          if (a.metric !== "mid" || a.tenorType !== "MONTHLY" || !a.curveKey.startsWith("P")) continue;
          const diff = a.value - without[r]!.value;
          const c = contribution(withD.find((x) => x.curveKey === a.curveKey && x.tenorLabel === a.tenorLabel && x.metric === "uplift")!, `fleet_change:${j}`);
          if (monthIdx(a.contractMonth) < eff) {
            if (c !== undefined) expect(c).toBe(0);
            expect(Math.abs(diff)).toBeLessThanOrEqual(1e-9 * Math.abs(a.value));
          } else if (c !== undefined) {
            if (d.change_type === "retire") expect(c).toBeGreaterThanOrEqual(0);
            else expect(c).toBeLessThanOrEqual(0);
            const tol = 1e-9 * Math.max(1, Math.abs(a.value));
            if (d.change_type === "retire") expect(diff).toBeGreaterThanOrEqual(-tol);
            else expect(diff).toBeLessThanOrEqual(tol);
            checked++;
          }
        }
      });
    });
    expect(checked).toBeGreaterThan(100);
  });

  test("no driver moves prices before its start (policy/load: January of start_year; fleet: effective month)", () => {
    let checked = 0;
    scenarios.forEach((s, i) => {
      const rows = results[i]!;
      s.drivers.forEach((d, j) => {
        const start = startMonth(d);
        if (start === null) return;
        const removed = rowsOf(runScenario({ ...s, drivers: s.drivers.filter((_, q) => q !== j) }));
        const before = new Map(removed.filter((r) => r.tenorType === "MONTHLY" && r.metric === "mid").map((r) => [`${r.curveKey}|${r.contractMonth}`, r.value]));
        for (const r of monthly(rows, "uplift")) {
          if (monthIdx(r.contractMonth) >= start) continue;
          const c = contribution(r, `${d.driver_type}:${j}`);
          if (c !== undefined) expect(c).toBe(0);
          checked++;
        }
        for (const r of monthly(rows, "mid")) {
          if (monthIdx(r.contractMonth) >= start) continue;
          expect(r.value).toBe(before.get(`${r.curveKey}|${r.contractMonth}`)!);
        }
      });
    });
    expect(checked).toBeGreaterThan(100);
  });

  test("drivers with a region only touch curves in its scope (market, location, market alias or state; case-insensitive)", () => {
    scenarios.forEach((s, i) => {
      const rows = results[i]!;
      const curve = new Map(s.curves.map((c) => [c.curveKey, c]));
      for (const r of monthly(rows, "uplift")) {
        const c = curve.get(r.curveKey)!;
        for (const key of Object.keys(JSON.parse(r.attribution!))) {
          const d = s.drivers[Number(key.split(":")[1])]!;
          if (c.product !== "power") {
            expect(d.driver_type === "fuel_curve" && d.reference_series === c.curveKey).toBe(true);
            continue;
          }
          const region = "region" in d ? d.region : undefined;
          if (region) expect(regionCovers(region, c)).toBe(true);
        }
      }
    });
  });
});

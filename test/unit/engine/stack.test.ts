/**
 * The supply-stack properties of docs/model.md §4 and the acceptance checks of issue 17 on the
 * bundled sample curves: scope, splitting, order, attribution, floor and cap, gas pass-through.
 */
import { describe, expect, test } from "bun:test";
import { type Driver, type EngineInput, evaluateMonth, METRICS, MonthEval, modelParams, planRun, prepareCurve, runScenario } from "../../../src/engine/index";
import { marketOf } from "../../../src/engine/scope";
import { attributionError, index, type Row, randomScenario, rowsOf, sampleCurves, sampleInput } from "./helpers";

const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(1, Math.abs(a), Math.abs(b));
const values = (input: EngineInput) => rowsOf(runScenario(input));
const monthlyMid = (rows: Row[], curve: string, label: string) => rows.find((r) => r.curveKey === curve && r.tenorLabel === label && r.metric === "mid")!.value;

/** Same rows (curve, tenor, metric) with values within `tol` relative; attributions compared after mapping keys. */
function expectSameValues(a: Row[], b: Row[], tol = 1e-9): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    expect(`${y.curveKey}|${y.tenorLabel}|${y.metric}`).toBe(`${x.curveKey}|${x.tenorLabel}|${x.metric}`);
    if (!(rel(x.value, y.value) <= tol)) throw new Error(`${x.curveKey} ${x.tenorLabel} ${x.metric}: ${x.value} vs ${y.value}`);
  }
}

describe("no drivers → the baseline exactly", () => {
  test("sample curves: mid = baseline bit for bit, uplift, policy_uplift, rec_cost, NPV and npv_per_bp 0", () => {
    const rows = values(sampleInput([]));
    const m = index(rows);
    for (const r of rows) {
      if (r.metric === "mid") expect(r.value).toBe(m.get(`${r.curveKey}|${r.tenorType}|${r.tenorLabel}|baseline`)!.value);
      if (["uplift", "policy_uplift", "rec_cost", "NPV", "npv_per_bp"].includes(r.metric)) expect(r.value).toBe(0);
    }
  });

  test("random scenarios: drivers that are all zero-valued reproduce the baseline exactly", () => {
    for (let s = 0; s < 60; s++) {
      const input = randomScenario(5000 + s);
      const zero = input.drivers.map((d): Driver => {
        switch (d.driver_type) {
          case "fuel_curve":
            return { ...d, basis_points_adjustment: 0 };
          case "load_growth":
            return { ...d, annual_growth_pct: 0 };
          case "policy":
            return { ...d, target: 0 };
          default:
            return { ...d, effective_date: "2099-01-01" };
        }
      });
      const rows = values({ ...input, drivers: zero });
      const m = index(rows);
      for (const r of rows) if (r.metric === "mid") expect(r.value).toBe(m.get(`${r.curveKey}|${r.tenorType}|${r.tenorLabel}|baseline`)!.value);
    }
  });
});

/**
 * Splitting (docs/model.md §4.5): fuel_curve — basis_points_adjustment into parts with the same sum;
 * fleet_change — capacity_mw into parts; load_growth — (1+g) into factors with the same product,
 * or the year range into consecutive ranges; CARBON_TAX — target into parts; RPS/CES — a
 * requirement repeated (requirements do not add: the strictest binds).
 */
function split(d: Driver, f: number): Driver[] {
  switch (d.driver_type) {
    case "fuel_curve":
      return [
        { ...d, basis_points_adjustment: d.basis_points_adjustment * f },
        { ...d, basis_points_adjustment: d.basis_points_adjustment * (1 - f) },
      ];
    case "fleet_change":
      return [
        { ...d, capacity_mw: d.capacity_mw * f },
        { ...d, capacity_mw: d.capacity_mw * (1 - f) },
      ];
    case "load_growth": {
      const g = 1 + d.annual_growth_pct / 100;
      const g1 = g ** f;
      return [
        { ...d, annual_growth_pct: (g1 - 1) * 100 },
        { ...d, annual_growth_pct: (g / g1 - 1) * 100 },
      ];
    }
    case "policy":
      if (d.policy_name === "CARBON_TAX")
        return [
          { ...d, target: d.target * f },
          { ...d, target: d.target * (1 - f) },
        ];
      return [d, { ...d }];
  }
}

describe("splitting a driver into parts gives the same outputs (1e-9 relative)", () => {
  test("every driver of 80 random scenarios, split at a random fraction", () => {
    let checked = 0;
    for (let s = 0; s < 80; s++) {
      const input = randomScenario(7000 + s);
      const base = values(input);
      input.drivers.forEach((d, j) => {
        const parts = split(d, 0.1 + ((s * 7 + j * 3) % 8) / 10);
        const drivers = [...input.drivers.slice(0, j), ...parts, ...input.drivers.slice(j + 1)];
        expectSameValues(base, values({ ...input, drivers }));
        checked++;
      });
    }
    expect(checked).toBeGreaterThan(150);
  });

  test("load growth over 2027–2034 equals 2027–2030 then 2031–2034", () => {
    const one = values(sampleInput([{ driver_type: "load_growth", annual_growth_pct: 3, start_year: 2027, end_year: 2034, region: "PJM" }]));
    // the second range starts from the level the first reached: growth years add up (τ₁ + τ₂ = τ)
    const two = values(
      sampleInput([
        { driver_type: "load_growth", annual_growth_pct: 3, start_year: 2027, end_year: 2030, region: "PJM" },
        { driver_type: "load_growth", annual_growth_pct: 3, start_year: 2031, end_year: 2034, region: "PJM" },
      ]),
    );
    expectSameValues(one, two);
  });
});

describe("order of assumptions", () => {
  test("reversing or shuffling the drivers changes no value, bit for bit; attributions follow their drivers", () => {
    for (let s = 0; s < 60; s++) {
      const input = randomScenario(9000 + s);
      if (input.drivers.length < 2) continue;
      const n = input.drivers.length;
      const perm = input.drivers.map((_, i) => n - 1 - ((i + s) % n)); // rotated and reversed
      const a = values(input);
      const b = values({ ...input, drivers: perm.map((i) => input.drivers[i]!) });
      expect(b.map((r) => r.value)).toEqual(a.map((r) => r.value));
      for (let i = 0; i < a.length; i++) {
        if (a[i]!.attribution === null) continue;
        const pa = JSON.parse(a[i]!.attribution!) as Record<string, number>;
        const pb = JSON.parse(b[i]!.attribution!) as Record<string, number>;
        for (const [key, v] of Object.entries(pb)) {
          const [type, pos] = key.split(":");
          expect(pa[`${type}:${perm[Number(pos)]}`]).toBe(v);
        }
      }
    }
  });
});

describe("attribution", () => {
  test("sums to the value (1e-9) for uplift, policy_uplift, NPV and rec_cost; null for the others", () => {
    for (let s = 0; s < 100; s++) {
      for (const r of values(randomScenario(11000 + s))) {
        if (["mid", "baseline", "npv_per_bp", "mid_per_gas"].includes(r.metric)) {
          expect(r.attribution).toBeNull();
          continue;
        }
        const e = attributionError(r.value, r.attribution!);
        if (!(e <= 1e-9)) throw new Error(`attribution error ${e}: ${JSON.stringify(r)}`);
      }
    }
  });

  test("interacting drivers share their interaction symmetrically (Shapley): two equal retirements get equal parts", () => {
    const d: Driver = { driver_type: "fleet_change", fleet_id: "a", change_type: "retire", effective_date: "2027-01-01", capacity_mw: 20_000, region: "PJM" };
    const rows = values(sampleInput([d, { ...d, fleet_id: "b" }, { driver_type: "load_growth", annual_growth_pct: 2, start_year: 2027, end_year: 2030 }]));
    const r = rows.find((x) => x.curveKey === "PJM_WEST_ON_PEAK" && x.tenorLabel === "2030-07" && x.metric === "uplift")!;
    const p = JSON.parse(r.attribution!) as Record<string, number>;
    expect(p["fleet_change:0"]).toBe(p["fleet_change:1"]!);
    expect(p["fleet_change:0"]!).toBeGreaterThan(0);
    expect(p["load_growth:2"]!).toBeGreaterThan(0);
  });

  test("a split driver's parts add up to the whole driver's attribution", () => {
    const whole: Driver = { driver_type: "fleet_change", fleet_id: "a", change_type: "retire", effective_date: "2027-01-01", capacity_mw: 30_000, region: "PJM" };
    const tax: Driver = { driver_type: "policy", policy_name: "CARBON_TAX", start_year: 2027, target: 30 };
    const one = index(values(sampleInput([whole, tax])));
    const two = index(values(sampleInput([{ ...whole, capacity_mw: 10_000 }, { ...whole, capacity_mw: 20_000 }, tax])));
    for (const label of ["2028-01", "2031-07", "2032-Q3", "CAL-2033"]) {
      const tenor = label.includes("Q") ? "QUARTER" : label.startsWith("CAL") ? "CALENDAR" : "MONTHLY";
      const a = JSON.parse(one.get(`PJM_WEST_ON_PEAK|${tenor}|${label}|uplift`)!.attribution!) as Record<string, number>;
      const b = JSON.parse(two.get(`PJM_WEST_ON_PEAK|${tenor}|${label}|uplift`)!.attribution!) as Record<string, number>;
      expect(rel(a["fleet_change:0"]!, b["fleet_change:0"]! + b["fleet_change:1"]!)).toBeLessThan(1e-9);
      expect(rel(a["policy:1"]!, b["policy:2"]!)).toBeLessThan(1e-9);
    }
  });
});

describe("floor and scarcity cap", () => {
  test("every monthly mid of 150 random scenarios lies in [min(floor, baseline), max(cap, baseline)] of its market", () => {
    for (let s = 0; s < 150; s++) {
      const input = randomScenario(13000 + s);
      const curves = new Map(input.curves.map((c) => [c.curveKey, c]));
      const rows = values(input);
      const m = index(rows);
      for (const r of rows) {
        const c = curves.get(r.curveKey)!;
        if (r.metric !== "mid" || r.tenorType !== "MONTHLY" || c.product !== "power") continue;
        const ms = modelParams.MARKET_STACK[marketOf(c)];
        const b = m.get(`${r.curveKey}|MONTHLY|${r.tenorLabel}|baseline`)!.value;
        expect(r.value).toBeGreaterThanOrEqual(Math.min(ms.floor, b));
        expect(r.value).toBeLessThanOrEqual(Math.max(ms.cap, b));
      }
    }
  });

  test("acceptance: load −50 % and RPS 1.0 give no monthly mid below the market's floor", () => {
    const rows = values(
      sampleInput([
        { driver_type: "load_growth", annual_growth_pct: -50, start_year: 2026, end_year: 2026 },
        { driver_type: "policy", policy_name: "RPS", start_year: 2026, target: 1 },
      ]),
    );
    const curves = new Map(sampleCurves().map((c) => [c.curveKey, c]));
    let floored = 0;
    for (const r of rows) {
      const c = curves.get(r.curveKey)!;
      if (r.metric !== "mid" || r.tenorType !== "MONTHLY" || c.product !== "power") continue;
      const floor = modelParams.MARKET_STACK[marketOf(c)].floor;
      expect(r.value).toBeGreaterThanOrEqual(floor);
      if (r.value === floor) floored++;
    }
    expect(floored).toBeGreaterThan(0);
  });

  test("a retirement of the whole fleet prices at the scarcity cap, however it is split", () => {
    const d: Driver = { driver_type: "fleet_change", fleet_id: "x", change_type: "retire", effective_date: "2026-01-01", capacity_mw: 150_000, region: "PJM" };
    const one = values(sampleInput([d]));
    const two = values(
      sampleInput([
        { ...d, capacity_mw: 75_000 },
        { ...d, capacity_mw: 75_000 },
      ]),
    );
    expectSameValues(one, two);
    expect(monthlyMid(one, "PJM_WEST_ON_PEAK", "2028-01")).toBe(modelParams.MARKET_STACK.PJM.cap);
  });
});

describe("acceptance (issue 17) on the sample curves", () => {
  test("RGGI CO2 +100 %: ERCOT, CAISO, MISO, SPP, Mid-C unchanged; NYISO and ISO-NE moved by EF × ΔCO2 in USD per tonne", () => {
    const base = index(values(sampleInput([])));
    const rows = values(sampleInput([{ driver_type: "fuel_curve", fuel: "co2", reference_series: "RGGI_CO2", basis_points_adjustment: 10_000 }]));
    const rggi = sampleCurves().find((c) => c.curveKey === "RGGI_CO2")!;
    for (const r of rows) {
      const b = base.get(`${r.curveKey}|${r.tenorType}|${r.tenorLabel}|${r.metric}`)!;
      if (["ERCOT_NORTH_ON_PEAK", "CAISO_SP15_ON_PEAK", "MISO_INDIANA_ON_PEAK", "SPP_SOUTH_ON_PEAK", "MIDC_ON_PEAK", "PJM_WEST_ON_PEAK"].includes(r.curveKey))
        expect(r.value).toBe(b.value);
    }
    for (const [key, market] of [
      ["NYISO_ZONE_J_ON_PEAK", "NYISO"],
      ["ISONE_MASS_HUB_ON_PEAK", "ISO-NE"],
    ] as const) {
      const up = rows.find((r) => r.curveKey === key && r.tenorLabel === "2030-01" && r.metric === "uplift")!.value;
      const co2 = rggi.mid[47]!; // 2030-01 is month 47 from 2026-02
      const ef = modelParams.marginalEmissionFactor(modelParams.MARKET_STACK[market], 0);
      expect(rel(up, (ef * co2) / 0.90718474)).toBeLessThan(1e-12); // short ton → tonne
    }
  });

  test("a 50 GW retirement equals two 25 GW retirements", () => {
    const d: Driver = { driver_type: "fleet_change", fleet_id: "r", change_type: "retire", effective_date: "2028-01-01", capacity_mw: 50_000, technology: "coal", region: "PJM" };
    const one = values(sampleInput([d]));
    const two = values(
      sampleInput([
        { ...d, capacity_mw: 25_000 },
        { ...d, fleet_id: "r2", capacity_mw: 25_000 },
      ]),
    );
    expectSameValues(one, two);
    expect(monthlyMid(one, "PJM_WEST_ON_PEAK", "2029-01")).toBeGreaterThan(monthlyMid(values(sampleInput([])), "PJM_WEST_ON_PEAK", "2029-01"));
    // other markets unmoved: the driver names PJM
    expect(monthlyMid(one, "MISO_INDIANA_ON_PEAK", "2029-01")).toBe(monthlyMid(values(sampleInput([])), "MISO_INDIANA_ON_PEAK", "2029-01"));
  });

  test("gas +10 %: PJM West on-peak 2030 moves by the hub's implied heat rate × the gas change (within 5 %, here exactly)", () => {
    const curves = sampleCurves();
    const pjm = curves.find((c) => c.curveKey === "PJM_WEST_ON_PEAK")!;
    const hh = curves.find((c) => c.curveKey === "HENRY_HUB_GAS")!;
    const base = values(sampleInput([]));
    const rows = values(sampleInput([{ driver_type: "fuel_curve", fuel: "natural_gas", reference_series: "HENRY_HUB_GAS", basis_points_adjustment: 1000 }]));
    for (let i = 47; i < 59; i++) {
      const label = `2030-${String(i - 46).padStart(2, "0")}`;
      const ihr = pjm.mid[i]! / hh.mid[i]!;
      const expected = ihr * 0.1 * hh.mid[i]!;
      const moved = monthlyMid(rows, "PJM_WEST_ON_PEAK", label) - monthlyMid(base, "PJM_WEST_ON_PEAK", label);
      expect(Math.abs(moved / expected - 1)).toBeLessThan(0.05);
      expect(rel(moved, expected)).toBeLessThan(1e-9);
      // the sensitivity metric is the same heat rate
      expect(rel(rows.find((r) => r.curveKey === "PJM_WEST_ON_PEAK" && r.tenorLabel === label && r.metric === "mid_per_gas")!.value, ihr)).toBeLessThan(1e-9);
    }
  });

  test("the guide's RPS example (no region) runs in every power market; REC cost is its own metric, not in mid", () => {
    const rows = values(sampleInput([{ driver_type: "policy", policy_name: "RPS", start_year: 2030, target: 0.6 }], { shock_bp: 25 }));
    const base = values(sampleInput([], { shock_bp: 25 }));
    for (const key of ["PJM_WEST_ON_PEAK", "ERCOT_NORTH_ON_PEAK", "NYISO_ZONE_J_ON_PEAK", "MIDC_ON_PEAK"]) {
      const rec = rows.find((r) => r.curveKey === key && r.tenorLabel === "2031-07" && r.metric === "rec_cost")!;
      expect(rec.value).toBeGreaterThan(0);
      // more renewables lower the energy price, except where the baseline share already meets 60 % (Mid-C: hydro)
      if (key === "MIDC_ON_PEAK") expect(monthlyMid(rows, key, "2031-07")).toBe(monthlyMid(base, key, "2031-07"));
      else expect(monthlyMid(rows, key, "2031-07")).toBeLessThan(monthlyMid(base, key, "2031-07"));
    }
  });

  test("regional gas basis: a market with a basis curve burns benchmark + basis, and a shock to the basis moves only that market", () => {
    const curves = sampleCurves();
    const hh = curves.find((c) => c.curveKey === "HENRY_HUB_GAS")!;
    const basis = { ...hh, curveKey: "TETCO_M3_BASIS", location: "TETCO M3 basis", mid: hh.mid.map(() => 0.8) };
    const input = (drivers: Driver[]): EngineInput => ({ ...sampleInput(drivers), curves: [...curves, basis] });
    const base = values(input([]));
    const rows = values(input([{ driver_type: "fuel_curve", fuel: "natural_gas", reference_series: "TETCO_M3_BASIS", basis_points_adjustment: 5000 }]));
    const pjm = curves.find((c) => c.curveKey === "PJM_WEST_ON_PEAK")!;
    const moved = monthlyMid(rows, "PJM_WEST_ON_PEAK", "2030-01") - monthlyMid(base, "PJM_WEST_ON_PEAK", "2030-01");
    expect(rel(moved, (pjm.mid[47]! / (hh.mid[47]! + 0.8)) * 0.4)).toBeLessThan(1e-9);
    expect(monthlyMid(rows, "MISO_INDIANA_ON_PEAK", "2030-01")).toBe(monthlyMid(base, "MISO_INDIANA_ON_PEAK", "2030-01"));
  });
});

describe("sensitivities", () => {
  test("npv_per_bp matches a central difference of NPV in shock_bp", () => {
    const drivers: Driver[] = [
      { driver_type: "fuel_curve", fuel: "natural_gas", reference_series: "HENRY_HUB_GAS", basis_points_adjustment: 1500 },
      { driver_type: "fleet_change", fleet_id: "f", change_type: "retire", effective_date: "2027-06-01", capacity_mw: 8000, region: "PJM" },
    ];
    const at = (bp: number) => index(values(sampleInput(drivers, { shock_bp: bp, horizon_months: 36 })));
    const [lo, mid, hi] = [at(-1), at(0), at(1)];
    for (const key of ["PJM_WEST_ON_PEAK|CALENDAR|CAL-2027", "HENRY_HUB_GAS|MONTHLY|2027-06", "PJM_WEST_OFF_PEAK|QUARTER|2028-Q2"]) {
      const fd = (hi.get(`${key}|NPV`)!.value - lo.get(`${key}|NPV`)!.value) / 2;
      expect(rel(mid.get(`${key}|npv_per_bp`)!.value, fd)).toBeLessThan(1e-6);
      expect(mid.get(`${key}|npv_per_bp`)!.value).toBeLessThan(0);
    }
  });

  test("mid_per_gas matches a finite difference of mid in the gas shock (USD/MWh per USD/MMBtu)", () => {
    const hh = sampleCurves().find((c) => c.curveKey === "HENRY_HUB_GAS")!;
    const at = (bp: number) =>
      index(
        values(
          sampleInput([
            { driver_type: "fuel_curve", fuel: "natural_gas", reference_series: "HENRY_HUB_GAS", basis_points_adjustment: bp },
            { driver_type: "load_growth", annual_growth_pct: 2, start_year: 2026, end_year: 2030, region: "ERCOT" },
          ]),
        ),
      );
    const [a, b] = [at(500), at(501)];
    const dG = hh.mid[20]! * 1e-4;
    for (const key of ["ERCOT_NORTH_ON_PEAK", "PJM_WEST_OFF_PEAK", "CAISO_SP15_ON_PEAK"]) {
      const fd = (b.get(`${key}|MONTHLY|2027-10|mid`)!.value - a.get(`${key}|MONTHLY|2027-10|mid`)!.value) / dG;
      expect(rel(a.get(`${key}|MONTHLY|2027-10|mid_per_gas`)!.value, fd)).toBeLessThan(1e-6);
    }
    expect(a.get("HENRY_HUB_GAS|MONTHLY|2027-10|mid_per_gas")!.value).toBe(1);
  });
});

describe("evaluateMonth (the pure per-curve-month evaluation for per-metric bands)", () => {
  test("at multipliers 1 it reproduces runScenario's monthly values; at other multipliers the shocked baseline is reproduced and drivers are re-read", () => {
    const input = sampleInput(
      [
        { driver_type: "fuel_curve", fuel: "natural_gas", reference_series: "HENRY_HUB_GAS", basis_points_adjustment: 1000 },
        { driver_type: "fleet_change", fleet_id: "f", change_type: "retire", effective_date: "2027-01-01", capacity_mw: 10_000, region: "PJM" },
        { driver_type: "policy", policy_name: "RPS", start_year: 2028, target: 0.4 },
      ],
      { horizon_months: 36 },
    );
    const rows = index(values(input));
    const { run, curves } = planRun(input);
    const out = new MonthEval(input.drivers.length);
    for (const plan of curves) {
      const ce = prepareCurve(run, plan);
      for (let t = 0; t < plan.T; t += 7) {
        const ym = run.hYm[plan.a + t]!;
        const label = `${Math.floor(ym / 100)}-${String(ym % 100).padStart(2, "0")}`;
        evaluateMonth(run, ce, t, 1, 1, out);
        METRICS.forEach((m, i) => {
          expect(out.values[i]).toBe(rows.get(`${plan.curve.curveKey}|MONTHLY|${label}|${m}`)!.value);
        });
        // shocked: the baseline scales, and with the drivers the uplift is re-read at the shocked point
        evaluateMonth(run, ce, t, 1.3, 0.8, out);
        expect(rel(out.values[1]!, plan.curve.mid[plan.i0 + t]! * (plan.curve.product === "power" ? 0.8 : 1.3))).toBeLessThan(1e-15);
        expect(rel(out.values[0]!, out.values[1]! + out.values[2]!)).toBeLessThan(1e-12);
      }
    }
    // with no drivers, any multipliers reproduce the shocked baseline exactly
    const bare = planRun(sampleInput([], { horizon_months: 12 }));
    for (const plan of bare.curves) {
      const ce = prepareCurve(bare.run, plan);
      evaluateMonth(bare.run, ce, 3, 1.7, 0.6, out);
      expect(out.values[0]).toBe(out.values[1]!);
    }
  });
});

describe("renewables in the stack", () => {
  test("one more percentage point of renewable share lowers the baseline price by μ[B] % (the merit-order calibration)", () => {
    const base = index(values(sampleInput([], { horizon_months: 60 })));
    // PJM's baseline renewable share is 0.08 in both blocks: a 9 % requirement builds one point
    const rows = index(values(sampleInput([{ driver_type: "policy", policy_name: "RPS", start_year: 2027, target: 0.09, region: "PJM" }], { horizon_months: 60 })));
    for (const [key, mu] of [
      ["PJM_WEST_ON_PEAK", 0.6],
      ["PJM_WEST_OFF_PEAK", 0.8],
    ] as const) {
      const p0 = base.get(`${key}|MONTHLY|2028-07|mid`)!.value;
      const up = rows.get(`${key}|MONTHLY|2028-07|uplift`)!.value;
      expect(Math.abs(up / (-0.01 * mu * p0) - 1)).toBeLessThan(0.02);
      expect(rows.get(`${key}|MONTHLY|2028-07|rec_cost`)!.value).toBeCloseTo(0.09 * 20, 12);
    }
  });
});

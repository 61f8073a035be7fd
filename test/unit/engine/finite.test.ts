/**
 * The engine's finiteness check: every value, band and attribution entry it produces is finite,
 * else the run fails with NonFiniteOutputError naming the curve, the period and the metric.
 */
import { describe, expect, test } from "bun:test";
import { assertFiniteRow, type BaselineCurve, type EngineInput, NON_FINITE_OUTPUT, NonFiniteOutputError, runScenario } from "../../../src/engine/index";
import { rowsOf, WORKED_EXAMPLE } from "./helpers";

/** The worked example's gas curve alone, two months at `mids`, shocked by +100 %. */
function withGasMids(mids: number[]): EngineInput {
  const gas: BaselineCurve = { ...WORKED_EXAMPLE.curves[1]!, months: new Int32Array([202701, 202702]), mid: new Float64Array(mids) };
  const drivers: EngineInput["drivers"] = [{ driver_type: "fuel_curve", fuel: "natural_gas", reference_series: "HH_GAS", basis_points_adjustment: 10_000 }];
  return { ...WORKED_EXAMPLE, drivers, curves: [gas] };
}

/** The worked example's power curve at `mids`, its load halved and an RPS of 100 %: the price falls to the floor. */
function withPowerMidsAtFloor(mids: number[]): EngineInput {
  const power: BaselineCurve = { ...WORKED_EXAMPLE.curves[0]!, months: new Int32Array([202701, 202702]), mid: new Float64Array(mids) };
  const drivers: EngineInput["drivers"] = [
    { driver_type: "load_growth", annual_growth_pct: -50, start_year: 2026, end_year: 2026 },
    { driver_type: "policy", policy_name: "RPS", start_year: 2026, target: 1 },
  ];
  return { ...WORKED_EXAMPLE, drivers, curves: [power, WORKED_EXAMPLE.curves[1]!] };
}

function thrown(fn: () => unknown): NonFiniteOutputError {
  try {
    fn();
  } catch (err) {
    return err as NonFiniteOutputError;
  }
  throw new Error("expected a throw");
}

describe("assertFiniteRow (crafted rows)", () => {
  test("finite rows pass, whatever their size", () => {
    expect(() => assertFiniteRow("C", "MONTHLY", 202701, "2027-01", "mid", 1.7e308, -1.7e308, 5e-324, '{"policy:0":1e308,"fuel_curve:1":-0}')).not.toThrow();
    expect(() => assertFiniteRow("C", "QUARTER", 202701, "2027-Q1", "baseline", 1, 0, 2, null)).not.toThrow();
  });

  const cases: [string, Parameters<typeof assertFiniteRow>, RegExp][] = [
    ["a NaN value", ["PJM_W_ON", "MONTHLY", 202702, "2027-02", "mid", Number.NaN, 0, 0, null], /curve PJM_W_ON, month 2027-02, metric mid: value is NaN/],
    [
      "an infinite lower band",
      ["PJM_W_ON", "QUARTER", 202701, "2027-Q1", "NPV", 1, Number.NEGATIVE_INFINITY, 2, null],
      /curve PJM_W_ON, quarter 2027-Q1 \(from month 2027-01\), metric NPV: band_lower is -Infinity/,
    ],
    [
      "an infinite upper band",
      ["HH", "CALENDAR", 202701, "CAL-2027", "uplift", 1, 0, Number.POSITIVE_INFINITY, null],
      /curve HH, year CAL-2027 \(from month 2027-01\), metric uplift: band_upper is Infinity/,
    ],
    [
      "an infinite attribution entry",
      ["PJM_W_ON", "MONTHLY", 202703, "2027-03", "uplift", 1, 0, 2, '{"policy:0":1.5,"load_growth:1":Infinity}'],
      /curve PJM_W_ON, month 2027-03, metric uplift: attribution load_growth:1 is Infinity/,
    ],
    ["a NaN attribution entry", ["PJM_W_ON", "MONTHLY", 202703, "2027-03", "NPV", 1, 0, 2, '{"fuel_curve:0":NaN}'], /attribution fuel_curve:0 is NaN/],
  ];
  for (const [what, args, message] of cases) {
    test(`${what} throws NonFiniteOutputError (code ${NON_FINITE_OUTPUT}) naming curve, period and metric`, () => {
      const err = thrown(() => assertFiniteRow(...args));
      expect(err).toBeInstanceOf(NonFiniteOutputError);
      expect(err.name).toBe("NonFiniteOutputError");
      expect(err.code).toBe("NON_FINITE_OUTPUT");
      expect(err.message).toMatch(message);
    });
  }
});

describe("runScenario refuses to produce a non-finite value", () => {
  test("a finite but extreme baseline (1.7e308) plus its shock overflows: the run throws, naming the curve and the month", () => {
    // Valid input (every mid is finite): mid = baseline + uplift is Infinity in February. (Power
    // prices cannot overflow this way: the stack clamps them to the market's cap.)
    const err = thrown(() => runScenario(withGasMids([4, 1.7e308])));
    expect(err).toBeInstanceOf(NonFiniteOutputError);
    expect(err.message).toMatch(/^non-finite output: curve HH_GAS, month 2027-02, metric mid: value is Infinity/);
  });

  test("an NPV that overflows (a huge uplift × hours × discount factor) is caught on the NPV row", () => {
    // 1e306 USD/MWh falling to the floor: the uplift (−1e306) is finite, its NPV (× ~336 hours) is not.
    const err = thrown(() => runScenario(withPowerMidsAtFloor([1e306, 1e306])));
    expect(err).toBeInstanceOf(NonFiniteOutputError);
    expect(err.message).toMatch(/^non-finite output: curve PJM_W_ON, month 2027-01, metric NPV: value is -Infinity/);
  });

  test("an overflowing gas price under a capped power price is caught on the first non-finite number of the month (a band point or an attribution part)", () => {
    // gas at 1.7e308 shocked +100 %: the power price is clamped to PJM's cap, its gas part is not finite
    const gas: BaselineCurve = { ...WORKED_EXAMPLE.curves[1]!, months: new Int32Array([202701, 202702]), mid: new Float64Array([4, 1.7e308]) };
    const power: BaselineCurve = { ...WORKED_EXAMPLE.curves[0]!, months: new Int32Array([202701, 202702]), mid: new Float64Array([60, 50]) };
    const drivers: EngineInput["drivers"] = [{ driver_type: "fuel_curve", fuel: "natural_gas", reference_series: "HH_GAS", basis_points_adjustment: 10_000 }];
    const err = thrown(() => runScenario({ ...WORKED_EXAMPLE, drivers, curves: [power, gas] }));
    expect(err).toBeInstanceOf(NonFiniteOutputError);
    // the band points re-evaluate the month with the gas shocked further (§7.6), so mid's band fails before uplift's attribution
    expect(err.message).toMatch(/^non-finite output: curve PJM_W_ON, month 2027-02, metric (mid: band_(lower|upper)|uplift: attribution fuel_curve:0) is (NaN|-?Infinity)/);
  });

  test("with the attribution joined per batch (attributionText, as in an engine thread), the same runs fail with the same messages", () => {
    const power: BaselineCurve = { ...WORKED_EXAMPLE.curves[0]!, months: new Int32Array([202701, 202702]), mid: new Float64Array([60, 50]) };
    const gas: BaselineCurve = { ...WORKED_EXAMPLE.curves[1]!, months: new Int32Array([202701, 202702]), mid: new Float64Array([4, 1.7e308]) };
    const drivers: EngineInput["drivers"] = [{ driver_type: "fuel_curve", fuel: "natural_gas", reference_series: "HH_GAS", basis_points_adjustment: 10_000 }];
    const inputs = [withGasMids([4, 1.7e308]), withPowerMidsAtFloor([1e306, 1e306]), { ...WORKED_EXAMPLE, drivers, curves: [power, gas] }];
    for (const input of inputs) {
      const inline = thrown(() => runScenario(input));
      const joined = thrown(() => runScenario(input, { attributionText: true }));
      expect(joined).toBeInstanceOf(NonFiniteOutputError);
      expect(joined.message).toBe(inline.message);
    }
  });

  test("assertFiniteRow skips the text scan only when told the parts were checked", () => {
    const row = ["C", "MONTHLY", 202701, "2027-01", "uplift", 1, 0, 2, '{"policy:0":Infinity}'] as const;
    expect(() => assertFiniteRow(...row)).toThrow(NonFiniteOutputError);
    expect(() => assertFiniteRow(...row, true)).not.toThrow();
  });

  test("an overflow in a quarter's average names the quarter and its first month", () => {
    // Three months of 1e306: each month is finite, the hour-weighted sum of the quarter is not.
    const power: BaselineCurve = { ...WORKED_EXAMPLE.curves[0]!, mid: new Float64Array([1e306, 1e306, 1e306]) };
    const err = thrown(() => runScenario({ ...WORKED_EXAMPLE, curves: [power, WORKED_EXAMPLE.curves[1]!] }));
    expect(err.message).toMatch(/^non-finite output: curve PJM_W_ON, quarter 2027-Q1 \(from month 2027-01\), metric mid: value is Infinity/);
  });

  test("normal runs are unchanged by the check: every produced number is finite", () => {
    const rows = rowsOf(runScenario(WORKED_EXAMPLE));
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) {
      expect([r.value, r.bandLower, r.bandUpper].every(Number.isFinite)).toBe(true);
      if (r.attribution) expect(Object.values(JSON.parse(r.attribution) as Record<string, number>).every(Number.isFinite)).toBe(true);
    }
  });
});

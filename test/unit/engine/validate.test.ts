import { describe, expect, test } from "bun:test";
import { type Driver, type EngineInput, runScenario, validateDriversAgainstCurves, validateInput } from "../../../src/engine/index";
import { WORKED_EXAMPLE } from "./helpers";

const keys = new Set(["HH_GAS", "PJM_W_ON", "COAL"]);

describe("validateDriversAgainstCurves", () => {
  test("valid drivers give no issues", () => {
    const drivers: Driver[] = [
      { driver_type: "fuel_curve", fuel: "natural_gas", reference_series: "HH_GAS", basis_points_adjustment: 100 },
      { driver_type: "load_growth", annual_growth_pct: 2, start_year: 2027, end_year: 2030, reference_curve_key: "PJM_W_ON" },
      { driver_type: "policy", policy_name: "RPS", start_year: 2028, target: 0.5, target_year: 2035 },
      { driver_type: "fleet_change", fleet_id: "f1", change_type: "retire", effective_date: "2029-06-01", capacity_mw: 500, region: "PJM" },
    ];
    expect(validateDriversAgainstCurves(drivers, keys)).toEqual([]);
  });

  test("unknown reference_series is reported at the driver's index", () => {
    const drivers: Driver[] = [
      { driver_type: "policy", policy_name: "CES", start_year: 2028, target: 0.4 },
      { driver_type: "load_growth", annual_growth_pct: 1, start_year: 2027, end_year: 2029 },
      { driver_type: "fuel_curve", fuel: "natural_gas", reference_series: "X", basis_points_adjustment: 50 },
    ];
    expect(validateDriversAgainstCurves(drivers, keys)).toEqual([{ field: "/assumptions/2/payload/reference_series", message: "unknown curve key X" }]);
  });

  test("unknown reference_curve_key", () => {
    const issues = validateDriversAgainstCurves([{ driver_type: "load_growth", annual_growth_pct: 1, start_year: 2027, end_year: 2029, reference_curve_key: "NOPE" }], keys);
    expect(issues).toEqual([{ field: "/assumptions/0/payload/reference_curve_key", message: "unknown curve key NOPE" }]);
  });

  test("start_year > end_year", () => {
    const issues = validateDriversAgainstCurves([{ driver_type: "load_growth", annual_growth_pct: 1, start_year: 2031, end_year: 2029 }], keys);
    expect(issues).toEqual([{ field: "/assumptions/0/payload/start_year", message: "start_year 2031 is after end_year 2029" }]);
  });

  test("policy target_year before start_year, negative target", () => {
    const issues = validateDriversAgainstCurves([{ driver_type: "policy", policy_name: "RPS", start_year: 2030, target: -1, target_year: 2029 }], keys);
    expect(issues.map((i) => i.field)).toEqual(["/assumptions/0/payload/target", "/assumptions/0/payload/target_year"]);
  });

  test("fleet change: bad date, non-positive capacity, bad change_type", () => {
    const issues = validateDriversAgainstCurves(
      [{ driver_type: "fleet_change", fleet_id: "f", change_type: "mothball" as "add", effective_date: "2029-02-30", capacity_mw: 0, region: "ERCOT" }],
      keys,
    );
    expect(issues.map((i) => i.field)).toEqual(["/assumptions/0/payload/change_type", "/assumptions/0/payload/effective_date", "/assumptions/0/payload/capacity_mw"]);
  });

  test("fleet change without a region (or a blank one) is refused: it must name its market", () => {
    const base = { driver_type: "fleet_change", fleet_id: "f", change_type: "retire", effective_date: "2029-02-01", capacity_mw: 5000 } as const;
    for (const d of [base, { ...base, region: "  " }])
      expect(validateDriversAgainstCurves([d as Driver], keys)).toEqual([
        { field: "/assumptions/0/payload/region", message: "region is required: a fleet change belongs to one market or region (docs/model.md §4.0)" },
      ]);
  });

  test("load growth ≤ −100% is rejected; unknown driver_type is reported on driver_type", () => {
    const issues = validateDriversAgainstCurves(
      [{ driver_type: "load_growth", annual_growth_pct: -100, start_year: 2027, end_year: 2028 }, { driver_type: "weather" } as unknown as Driver],
      keys,
    );
    expect(issues).toEqual([
      { field: "/assumptions/0/payload/annual_growth_pct", message: "annual_growth_pct must be a number in (-100, 100]" },
      { field: "/assumptions/1/driver_type", message: "unknown driver_type weather" },
    ]);
  });
});

describe("runScenario input checks", () => {
  test("throws a ValidationError listing the issues", () => {
    const bad: EngineInput = { ...WORKED_EXAMPLE, drivers: [{ driver_type: "fuel_curve", fuel: "natural_gas", reference_series: "MISSING", basis_points_adjustment: 1 }] };
    let err: unknown;
    try {
      runScenario(bad);
    } catch (e) {
      err = e;
    }
    expect((err as Error).name).toBe("EngineValidationError");
    expect((err as { issues: unknown[] }).issues).toEqual([{ field: "/assumptions/0/payload/reference_series", message: "unknown curve key MISSING" }]);
  });

  test("fuel of the driver must match the referenced curve's product", () => {
    const { issues } = validateInput({ ...WORKED_EXAMPLE, drivers: [{ driver_type: "fuel_curve", fuel: "coal", reference_series: "HH_GAS", basis_points_adjustment: 1 }] });
    expect(issues).toEqual([{ field: "/assumptions/0/payload/reference_series", message: "curve HH_GAS is a natural_gas curve, expected coal" }]);
  });

  test("parameters out of range, bad as-of date, non-contiguous months", () => {
    const curve = WORKED_EXAMPLE.curves[0]!;
    const { issues } = validateInput({
      ...WORKED_EXAMPLE,
      asofDate: "2027-13-01",
      parameters: { ...WORKED_EXAMPLE.parameters, horizon_months: 0, mc_paths: 20000, band_quantiles: [0.9, 0.1] },
      curves: [{ ...curve, months: new Int32Array([202701, 202703, 202704]) }, WORKED_EXAMPLE.curves[1]!],
    });
    expect(issues.map((i) => i.field).sort()).toEqual(["/asof_date", "/curves/0", "/parameters/band_quantiles", "/parameters/horizon_months", "/parameters/mc_paths"]);
  });

  test("a unit the engine cannot convert is refused on the curves the drivers move or read; convertible ones (short ton, therm, GJ, cents) are accepted", () => {
    const [power, gas] = WORKED_EXAMPLE.curves as [EngineInput["curves"][0], EngineInput["curves"][0]];
    const unused = { ...gas, curveKey: "OTHER_GAS", location: "Somewhere", unit: "XYZ" };
    let err: unknown;
    try {
      runScenario({ ...WORKED_EXAMPLE, curves: [{ ...power, unit: "EUR/MWh" }, { ...gas, unit: "USD/bbl" }, unused] });
    } catch (e) {
      err = e;
    }
    expect((err as Error).name).toBe("EngineValidationError");
    expect((err as { issues: unknown[] }).issues).toEqual([
      { field: "/curves/0", message: "curve PJM_W_ON: unit 'EUR/MWh' cannot be converted to USD/MWh (known: USD/mwh, USD/kwh, or in US cents)" },
      {
        field: "/curves/1",
        message: "curve HH_GAS: unit 'USD/bbl' cannot be converted to USD/MMBtu (known: USD/mmbtu, USD/dth, USD/dekatherm, USD/therm, USD/gj, or in US cents)",
      },
    ]);
    // an unconvertible curve no driver moves or reads does not stop the run; convertible units run
    expect(runScenario({ ...WORKED_EXAMPLE, curves: [{ ...power, unit: "USc/kWh" }, { ...gas, unit: "USD/therm" }, unused] }).rows).toBeGreaterThan(0);
    expect(runScenario({ ...WORKED_EXAMPLE, drivers: [], curves: [{ ...power, unit: "EUR/MWh" }, gas] }).rows).toBeGreaterThan(0);
  });

  test("units are converted: a power curve in US cents per kWh moves by the same amount in its own unit", () => {
    const [power, gas] = WORKED_EXAMPLE.curves as [EngineInput["curves"][0], EngineInput["curves"][0]];
    const mwh = runScenario(WORKED_EXAMPLE);
    const kwh = runScenario({
      ...WORKED_EXAMPLE,
      curves: [
        { ...power, unit: "USc/kWh", mid: power.mid.map((v) => v / 10) },
        { ...gas, unit: "USD/therm", mid: gas.mid.map((v) => v / 10) },
      ],
    });
    const up = (r: typeof mwh, i: number) => r.batches[0]!.value[i]!;
    for (let i = 0; i < 24; i++) expect(Math.abs(up(kwh, i) * 10 - up(mwh, i)) / Math.max(1, Math.abs(up(mwh, i)))).toBeLessThan(1e-12);
  });

  test("mc_paths below 100 is refused (1, 0, 99); 100 and 10000 are accepted", () => {
    for (const n of [1, 0, 99, 50.5]) {
      const { issues } = validateInput({ ...WORKED_EXAMPLE, parameters: { ...WORKED_EXAMPLE.parameters, mc_paths: n } });
      expect(issues.map((i) => i.field)).toEqual(["/parameters/mc_paths"]);
    }
    for (const n of [100, 10000]) expect(validateInput({ ...WORKED_EXAMPLE, parameters: { ...WORKED_EXAMPLE.parameters, mc_paths: n } }).issues).toEqual([]);
  });

  test("band quantiles must lie strictly inside (0, 1): a lognormal band has no finite 0 or 1 quantile", () => {
    for (const bq of [
      [0, 0.95],
      [0.05, 1],
    ] as [number, number][]) {
      const { issues } = validateInput({ ...WORKED_EXAMPLE, parameters: { ...WORKED_EXAMPLE.parameters, band_quantiles: bq } });
      expect(issues.map((i) => i.field)).toEqual(["/parameters/band_quantiles"]);
    }
  });

  test("calibration entries are checked: unknown curve, bad kappa, sigma, rho, seasonality, source", () => {
    const good = { source: "history" as const, n_snapshots: 30, kappa: 1.2, sigma_short: 0.4, sigma_long: 0.1, rho: 0.2 };
    expect(validateInput({ ...WORKED_EXAMPLE, calibration: { PJM_W_ON: good } }).issues).toEqual([]);
    const cases: [Record<string, unknown>, string][] = [
      [{ NOPE: good }, "unknown curve key NOPE"],
      [{ PJM_W_ON: { ...good, kappa: 0 } }, "kappa must be in [0.0001, 100]"],
      [{ PJM_W_ON: { ...good, sigma_short: -0.1 } }, "sigma_short must be in [0, 5]"],
      [{ PJM_W_ON: { ...good, sigma_long: Number.NaN } }, "sigma_long must be in [0, 5]"],
      [{ PJM_W_ON: { ...good, rho: 1.5 } }, "rho must be in [-1, 1]"],
      [{ PJM_W_ON: { ...good, seasonality: [1, 2] } }, "seasonality must be 12 numbers in (0, 5]"],
      [{ PJM_W_ON: { ...good, source: "guess" } }, "source must be history or default"],
      [{ PJM_W_ON: { ...good, n_snapshots: -1 } }, "n_snapshots must be a non-negative integer"],
    ];
    for (const [calibration, message] of cases) {
      const { issues } = validateInput({ ...WORKED_EXAMPLE, calibration: calibration as EngineInput["calibration"] });
      expect(issues.map((i) => i.message)).toEqual([message]);
      expect(issues[0]!.field.startsWith("/calibration/")).toBe(true);
    }
  });

  test("missing parameters take the defaults", () => {
    const { issues, parameters } = validateInput({ ...WORKED_EXAMPLE, parameters: {} as EngineInput["parameters"] });
    expect(issues).toEqual([]);
    expect(parameters).toEqual({ shock_bp: 0, horizon_months: 120, mc_paths: 1000, seed: 42, band_quantiles: [0.05, 0.95], discount_rate: 0.08 });
    const partial = validateInput({ ...WORKED_EXAMPLE, parameters: { mc_paths: 100, shock_bp: undefined } as unknown as EngineInput["parameters"] });
    expect(partial.issues).toEqual([]);
    expect(partial.parameters.mc_paths).toBe(100);
    expect(partial.parameters.shock_bp).toBe(0);
  });
});

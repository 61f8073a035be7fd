/** Scenario engine contract: inputs, parameters and the columnar output batch. Pure types + defaults. */

export type Product = "power" | "natural_gas" | "coal" | "co2" | "oil";
export type TenorType = "MONTHLY" | "QUARTER" | "CALENDAR";

export interface BaselineCurve {
  curveKey: string;
  market: string;
  location: string;
  product: Product;
  /** ON_PEAK | OFF_PEAK | ATC (power); ATC for fuels. */
  block: string;
  /** e.g. USD/MWh, USD/MMBtu, USD/short_ton, USD/tCO2. */
  unit: string;
  /** Contract months as yyyymm (e.g. 202701), ascending, contiguous. */
  months: Int32Array;
  /** Baseline mid per month, same length. */
  mid: Float64Array;
}

export type PolicyDriver = {
  driver_type: "policy";
  /** RPS | CES | CARBON_TAX | other uppercase (no price effect). */
  policy_name: string;
  start_year: number;
  target: number;
  target_year?: number;
  region?: string;
};
export type LoadGrowthDriver = {
  driver_type: "load_growth";
  annual_growth_pct: number;
  start_year: number;
  end_year: number;
  region?: string;
  reference_curve_key?: string;
};
export type FuelCurveDriver = {
  driver_type: "fuel_curve";
  fuel: "natural_gas" | "coal" | "co2" | "oil";
  /** A curve key. */
  reference_series: string;
  basis_points_adjustment: number;
};
export type FleetChangeDriver = {
  driver_type: "fleet_change";
  fleet_id: string;
  change_type: "add" | "retire";
  /** YYYY-MM-DD */
  effective_date: string;
  /** > 0 */
  capacity_mw: number;
  technology?: string;
  region?: string;
};
export type Driver = PolicyDriver | LoadGrowthDriver | FuelCurveDriver | FleetChangeDriver;

export interface ModelParameters {
  /** Discount-rate shift in basis points (-1000..1000), default 0. */
  shock_bp: number;
  /** Months valued from the as-of month (1..480), default 120. */
  horizon_months: number;
  /** Monte Carlo paths (1..10000), default 200. */
  mc_paths: number;
  /** Integer seed, default 42. */
  seed: number;
  /** Lower and upper band quantiles, default [0.05, 0.95]. */
  band_quantiles: [number, number];
  /** Annual discount rate, default 0.08; NPV uses discount_rate + shock_bp/10000. */
  discount_rate: number;
}

export const DEFAULT_PARAMETERS: ModelParameters = Object.freeze({
  shock_bp: 0,
  horizon_months: 120,
  mc_paths: 200,
  seed: 42,
  band_quantiles: Object.freeze([0.05, 0.95]) as unknown as [number, number],
  discount_rate: 0.08,
}) as ModelParameters;

export interface EngineInput {
  tenantId: string;
  scenarioId: string;
  runId: string;
  /** YYYY-MM-DD; months before its month are not valued. */
  asofDate: string;
  codeVersion: string;
  parameters: ModelParameters;
  drivers: Driver[];
  /** All curves in scope (power and fuels); fuel curves are also inputs to power. */
  curves: BaselineCurve[];
}

/** Columnar output batch; one row per (curve, tenor, period, metric). */
export interface OutputBatch {
  length: number;
  curveKey: string[];
  tenorType: TenorType[];
  /** yyyymm of the period's first month. */
  contractMonth: Int32Array;
  /** "2027-01", "2027-Q1", "CAL-2027". */
  tenorLabel: string[];
  metric: string[];
  value: Float64Array;
  bandLower: Float64Array;
  bandUpper: Float64Array;
  /** JSON text {"policy:0": x, ...} keyed by driver_type:index; values sum to the row's value; null where not meaningful. */
  attribution: (string | null)[];
}

export interface EngineResult {
  batches: OutputBatch[];
  versionHash: string;
  rows: number;
}

export interface RunOptions {
  batchRows?: number;
  /** Called after each curve with (curves done, curves total). */
  onProgress?: (done: number, total: number) => void;
  signal?: { aborted: boolean };
}

export interface ValidationIssue {
  field: string;
  message: string;
}

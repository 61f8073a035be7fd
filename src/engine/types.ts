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
  /** Monte Carlo paths for quarter/calendar bands (100..10000), default 1000. */
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
  mc_paths: 1000,
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
  /**
   * Two-factor uncertainty parameters per curve key, fixed when the run was triggered (docs/model.md §7).
   * A curve without an entry uses its product's documented default.
   */
  calibration?: Record<string, CurveCalibration>;
}

/** Schwartz–Smith two-factor parameters of one curve's log price (docs/model.md §7). */
export interface CurveCalibration {
  /** "history": fitted from stored snapshots; "default": the product's documented default. */
  source: "history" | "default";
  /** Snapshots on or before the run's as-of date that the calibration saw. */
  n_snapshots: number;
  /** Mean reversion of the short-term factor, 1/yr (> 0). */
  kappa: number;
  /** Volatility of the short-term factor, 1/√yr (≥ 0). */
  sigma_short: number;
  /** Volatility of the long-term (random-walk) factor, 1/√yr (≥ 0). */
  sigma_long: number;
  /** Correlation of the two factors' shocks (−1..1). */
  rho: number;
  /** Volatility multiplier per delivery calendar month, January first (12 positive numbers); absent = all 1. */
  seasonality?: number[];
}

/** Monte Carlo accuracy of a run's quarter/calendar bands (stored per run, docs/model.md §7.5). */
export interface BandStats {
  method: string;
  mc_paths: number;
  /** Quarter and calendar bands estimated by Monte Carlo. */
  periods: number;
  /** Standard error of the lower and upper band quantiles, as a fraction of the price (multiplier units). */
  se_lower: { median: number; max: number };
  se_upper: { median: number; max: number };
  /** Standard error of the upper quantile relative to the upper half-width (q_hi − 1). */
  rel_se_upper_half_width: { median: number; max: number };
  /** The period with the largest relative standard error, or null when no period was simulated. */
  worst: { curve_key: string; tenor_label: string; rel_se: number } | null;
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
  /**
   * JSON text {"policy:0": x, ...} keyed by driver_type:index; values sum to the row's value; null
   * where not meaningful. Empty when `attributionText` is set: read a row's with `attributionAt` (batch.ts).
   */
  attribution: (string | null)[];
  /** The same texts as one string, from an engine run with `attributionText` (RunOptions) instead of `attribution`. */
  attributionText?: AttributionText;
  /**
   * The four text columns as their distinct values and a code per row, as batches from an engine
   * thread arrive (src/worker/messages.ts); their string arrays are then empty: read a row's with
   * `textAt` (batch.ts).
   */
  coded?: Record<TextColumn, CodedText>;
}

/** The batch columns that hold text, and repeat it from row to row. */
export type TextColumn = "curveKey" | "tenorType" | "tenorLabel" | "metric";

/** A text column as its distinct values and, per row, the index of its value. */
export interface CodedText {
  values: string[];
  codes: Uint32Array;
}

/** A batch's attribution texts joined: row i's is `text` from `ends[i - 1]` (0 for the first row) to `ends[i]`, null where `isNull[i]`. */
export interface AttributionText {
  text: string;
  ends: Uint32Array;
  isNull: Uint8Array;
}

/** What a run comes to besides its rows. */
export interface EngineSummary {
  versionHash: string;
  rows: number;
  /** Monte Carlo standard errors of the period bands. */
  bandStats: BandStats;
}

export interface EngineResult extends EngineSummary {
  batches: OutputBatch[];
}

export interface RunOptions {
  batchRows?: number;
  /** Called after each curve with (curves done, curves total). */
  onProgress?: (done: number, total: number) => void;
  /** Called once, before the first row: the run's version hash (every row carries it) and its row total. */
  onVersionHash?: (hash: string, rows: number) => void;
  signal?: { aborted: boolean };
  /**
   * Each batch's attribution as one joined text (`OutputBatch.attributionText`), not a string per
   * row: for an engine thread, whose batches cross to the main thread as that text anyway.
   */
  attributionText?: boolean;
}

export interface ValidationIssue {
  field: string;
  message: string;
}

/** Driver and input validation. Field paths follow the API: /assumptions/{i}/payload/{field}. */
import { isValidYyyymm, parseDateToYyyymm } from "./calendar";
import type { Driver, EngineInput, ModelParameters, Product, ValidationIssue } from "./types";
import { DEFAULT_PARAMETERS } from "./types";
import { calibrationIssues } from "./uncertainty";
import { CANONICAL_UNIT, knownUnits, unitFactor } from "./units";

/**
 * A curve whose unit cannot be converted (docs/model.md §3.2), for the curves the scenario uses:
 * `used(i)` says whether curve i's unit matters (a power curve some driver moves, a fuel curve a
 * driver references or whose price a moved power curve burns). Unused curves keep any unit.
 */
export function unitIssues(curves: EngineInput["curves"], used: (i: number) => boolean): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  curves.forEach((c, i) => {
    if (!PRODUCTS.has(c.product) || unitFactor(c.product, c.unit) !== undefined || !used(i)) return;
    out.push({
      field: `/curves/${i}`,
      message: `curve ${c.curveKey}: unit '${c.unit}' cannot be converted to ${CANONICAL_UNIT[c.product]} (known: ${knownUnits(c.product)}, or in US cents)`,
    });
  });
  return out;
}

const PRODUCTS = new Set<Product>(["power", "natural_gas", "coal", "co2", "oil"]);

const FUELS = new Set(["natural_gas", "coal", "co2", "oil"]);
const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isYear = (v: unknown): v is number => isNum(v) && Number.isInteger(v) && v >= 1900 && v <= 2300;

/** Checks drivers on their own and against the set of curve keys in scope; index i is the driver's position. */
export function validateDriversAgainstCurves(drivers: readonly Driver[], curveKeys: Set<string>): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  drivers.forEach((d, i) => {
    const f = (name: string) => `/assumptions/${i}/payload/${name}`;
    const add = (name: string, message: string) => out.push({ field: f(name), message });
    switch (d?.driver_type) {
      case "policy": {
        if (typeof d.policy_name !== "string" || d.policy_name.trim() === "") add("policy_name", "policy_name is required");
        if (!isYear(d.start_year)) add("start_year", "start_year must be an integer year");
        if (!isNum(d.target)) add("target", "target must be a finite number");
        else if (d.target < 0) add("target", "target must be ≥ 0");
        if (d.target_year !== undefined && d.target_year !== null) {
          if (!isYear(d.target_year)) add("target_year", "target_year must be an integer year");
          else if (isYear(d.start_year) && d.target_year < d.start_year) add("target_year", `target_year ${d.target_year} is before start_year ${d.start_year}`);
        }
        break;
      }
      case "load_growth": {
        if (!isNum(d.annual_growth_pct) || d.annual_growth_pct <= -100 || d.annual_growth_pct > 100) add("annual_growth_pct", "annual_growth_pct must be a number in (-100, 100]");
        if (!isYear(d.start_year)) add("start_year", "start_year must be an integer year");
        if (!isYear(d.end_year)) add("end_year", "end_year must be an integer year");
        if (isYear(d.start_year) && isYear(d.end_year) && d.start_year > d.end_year) add("start_year", `start_year ${d.start_year} is after end_year ${d.end_year}`);
        if (d.reference_curve_key !== undefined && d.reference_curve_key !== null && !curveKeys.has(d.reference_curve_key))
          add("reference_curve_key", `unknown curve key ${d.reference_curve_key}`);
        break;
      }
      case "fuel_curve": {
        if (!FUELS.has(d.fuel)) add("fuel", "fuel must be one of natural_gas, coal, co2, oil");
        if (typeof d.reference_series !== "string" || !curveKeys.has(d.reference_series)) add("reference_series", `unknown curve key ${d.reference_series}`);
        if (!isNum(d.basis_points_adjustment) || d.basis_points_adjustment < -10000) add("basis_points_adjustment", "basis_points_adjustment must be a finite number ≥ -10000");
        break;
      }
      case "fleet_change": {
        if (typeof d.fleet_id !== "string" || d.fleet_id === "") add("fleet_id", "fleet_id is required");
        if (d.change_type !== "add" && d.change_type !== "retire") add("change_type", "change_type must be add or retire");
        if (typeof d.effective_date !== "string" || Number.isNaN(parseDateToYyyymm(d.effective_date))) add("effective_date", "effective_date must be a date YYYY-MM-DD");
        if (!isNum(d.capacity_mw) || d.capacity_mw <= 0) add("capacity_mw", "capacity_mw must be > 0");
        if (typeof d.region !== "string" || d.region.trim() === "") add("region", "region is required: a fleet change belongs to one market or region (docs/model.md §4.0)");
        break;
      }
      default:
        out.push({ field: `/assumptions/${i}/driver_type`, message: `unknown driver_type ${(d as { driver_type?: unknown })?.driver_type}` });
    }
  });
  return out;
}

/** Fills missing parameters with defaults and range-checks them. */
export function normalizeParameters(p: Partial<ModelParameters> | undefined, issues: ValidationIssue[]): ModelParameters {
  const src = (p ?? {}) as Partial<ModelParameters>;
  const q: ModelParameters = {
    shock_bp: src.shock_bp ?? DEFAULT_PARAMETERS.shock_bp,
    horizon_months: src.horizon_months ?? DEFAULT_PARAMETERS.horizon_months,
    mc_paths: src.mc_paths ?? DEFAULT_PARAMETERS.mc_paths,
    seed: src.seed ?? DEFAULT_PARAMETERS.seed,
    band_quantiles: src.band_quantiles ?? ([...DEFAULT_PARAMETERS.band_quantiles] as [number, number]),
    discount_rate: src.discount_rate ?? DEFAULT_PARAMETERS.discount_rate,
  };
  const bad = (name: string, message: string) => issues.push({ field: `/parameters/${name}`, message });
  if (!isNum(q.shock_bp) || q.shock_bp < -1000 || q.shock_bp > 1000) bad("shock_bp", "shock_bp must be in -1000..1000");
  if (!Number.isInteger(q.horizon_months) || q.horizon_months < 1 || q.horizon_months > 480) bad("horizon_months", "horizon_months must be an integer in 1..480");
  if (!Number.isInteger(q.mc_paths) || q.mc_paths < 100 || q.mc_paths > 10000) bad("mc_paths", "mc_paths must be an integer in 100..10000");
  if (!Number.isSafeInteger(q.seed)) bad("seed", "seed must be an integer");
  const bq = q.band_quantiles;
  if (!Array.isArray(bq) || bq.length !== 2 || !isNum(bq[0]) || !isNum(bq[1]) || bq[0] <= 0 || bq[1] >= 1 || bq[0] > bq[1])
    bad("band_quantiles", "band_quantiles must be [lo, hi] with 0 < lo ≤ hi < 1 (a lognormal band has no finite 0 or 1 quantile)");
  if (!isNum(q.discount_rate) || q.discount_rate <= -0.5 || q.discount_rate > 1) bad("discount_rate", "discount_rate must be in (-0.5, 1]");
  return q;
}

/** Everything runScenario checks: parameters, as-of date, curve shapes, drivers, fuel references. */
export function validateInput(input: EngineInput): { issues: ValidationIssue[]; parameters: ModelParameters } {
  const issues: ValidationIssue[] = [];
  const parameters = normalizeParameters(input.parameters, issues);
  if (typeof input.asofDate !== "string" || Number.isNaN(parseDateToYyyymm(input.asofDate))) issues.push({ field: "/asof_date", message: "asofDate must be a date YYYY-MM-DD" });
  const byKey = new Map<string, EngineInput["curves"][number]>();
  input.curves.forEach((c, i) => {
    const bad = (message: string) => issues.push({ field: `/curves/${i}`, message });
    if (byKey.has(c.curveKey)) bad(`duplicate curve key ${c.curveKey}`);
    byKey.set(c.curveKey, c);
    if (c.months.length !== c.mid.length) bad(`curve ${c.curveKey}: months and mid differ in length`);
    for (let j = 0; j < c.months.length; j++) {
      if (!isValidYyyymm(c.months[j]!)) {
        bad(`curve ${c.curveKey}: month ${c.months[j]} is not yyyymm`);
        break;
      }
      if (j > 0) {
        const prev = c.months[j - 1]!;
        const next = prev % 100 === 12 ? prev + 89 : prev + 1;
        if (c.months[j] !== next) {
          bad(`curve ${c.curveKey}: months are not ascending and contiguous at ${c.months[j]}`);
          break;
        }
      }
    }
    if (!PRODUCTS.has(c.product)) bad(`curve ${c.curveKey}: unknown product ${c.product}`);
    for (let j = 0; j < c.mid.length; j++)
      if (!Number.isFinite(c.mid[j]!)) {
        bad(`curve ${c.curveKey}: mid at ${c.months[j]} is not finite`);
        break;
      }
  });
  issues.push(...validateDriversAgainstCurves(input.drivers, new Set(byKey.keys())));
  if (input.calibration !== undefined) {
    if (input.calibration === null || typeof input.calibration !== "object") issues.push({ field: "/calibration", message: "calibration must be an object keyed by curve key" });
    else
      for (const [key, c] of Object.entries(input.calibration)) {
        if (!byKey.has(key)) issues.push({ field: `/calibration/${key}`, message: `unknown curve key ${key}` });
        for (const m of calibrationIssues(c)) issues.push({ field: `/calibration/${key}`, message: m });
      }
  }
  input.drivers.forEach((d, i) => {
    if (d?.driver_type !== "fuel_curve") return;
    const ref = byKey.get(d.reference_series);
    if (ref && ref.product !== d.fuel)
      issues.push({ field: `/assumptions/${i}/payload/reference_series`, message: `curve ${d.reference_series} is a ${ref.product} curve, expected ${d.fuel}` });
  });
  return { issues, parameters };
}

/**
 * The engine's refusal of its inputs: deterministic, so `retryable` is false and the worker fails
 * the run at once. `code` and `retryable` are plain fields because they cross the worker-thread
 * boundary (src/worker/thread.ts); the worker decides by them, not by the class or its name.
 * A message instead of issues: a refusal found before the engine (the worker's input checks).
 */
export class EngineValidationError extends Error {
  override name = "EngineValidationError";
  readonly code = "INVALID_INPUT";
  readonly retryable = false;
  readonly issues: ValidationIssue[];
  constructor(issues: ValidationIssue[] | string) {
    super(typeof issues === "string" ? issues : `invalid engine input: ${issues.map((x) => `${x.field}: ${x.message}`).join("; ")}`);
    this.issues = typeof issues === "string" ? [] : issues;
  }
}

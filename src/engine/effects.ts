/**
 * Drivers → stack inputs (docs/model.md §4): each driver is tabulated once per run over the horizon
 * as its own input to one group of the stack (a fuel price change, a carbon price, a required share,
 * a log demand change, or capacity / zero-cost energy in MW), in canonical units, and assigned its
 * scope (which power curves it moves).
 */
import { monthIndex, parseDateToYyyymm } from "./calendar";
import { BLOCK_LOAD_FACTOR, FLEET_RAMP_MONTHS, MARKET_STACK, SHARE_POLICIES, technologyKind } from "./params";
import { type CarbonProgram, carbonProgramOf, gasHubMarket, isBasisCurve, isHenryHub, type MarketKey, marketOf, programCovers, regionCovers } from "./scope";
import { G_CAP, G_CES, G_CO2, G_COAL, G_ENERGY, G_GAS, G_LOAD, G_OIL, G_RPS, G_TAX } from "./stack";
import type { BaselineCurve, Driver, Product } from "./types";
import { unitFactor } from "./units";

/**
 * Policy ramp r(k) in [0,1]: 0 before January of start_year; with a target_year > start_year it rises
 * linearly by month, r = min(1, (n+1)/(N+1)) with n months since January start_year and N = 12·(target_year − start_year),
 * so r = 1 from January of target_year; without target_year (or target_year ≤ start_year) a step to 1 in January of start_year.
 */
export function policyRamp(absMonth: number, startYear: number, targetYear: number | undefined): number {
  const n = absMonth - startYear * 12;
  if (n < 0) return 0;
  if (targetYear === undefined || targetYear === null || targetYear <= startYear) return 1;
  const N = (targetYear - startYear) * 12;
  return Math.min(1, (n + 1) / (N + 1));
}

/** Years of load growth τ(k): months elapsed since January of start_year, inclusive of the current month, capped at the end of end_year. */
export function growthYears(absMonth: number, startYear: number, endYear: number): number {
  const n = absMonth - startYear * 12 + 1;
  if (n <= 0) return 0;
  return Math.min(n, (endYear - startYear + 1) * 12) / 12;
}

/** Fleet ramp w(k): 0 before the effective month, (n+1)/R in the n-th month after it, 1 after R months. */
export function fleetRamp(absMonth: number, effectiveMonthIndex: number): number {
  const n = absMonth - effectiveMonthIndex;
  if (n < 0) return 0;
  return Math.min(1, (n + 1) / FLEET_RAMP_MONTHS);
}

/** Normalises a renewable-share target: values above 1 are read as percent. */
export function shareTarget(target: number): number {
  return target > 1 ? target / 100 : target;
}

/** One driver, prepared for the run. */
export interface DriverPlan {
  index: number;
  driver: Driver;
  /** Stack group (G_*), or −1 for a driver with no price effect (an unknown policy name). */
  group: number;
  /** Raw input per horizon month, canonical units (fleet: signed MW × ramp). */
  input: Float64Array;
  /** Whether it is a policy driver (its effects are policy_uplift). */
  policy: boolean;
  /** For fuel_curve drivers: the referenced curve key. */
  ref?: string;
  /** Scope of a regional gas curve (its market), undefined for a benchmark-like gas curve. */
  gasMarket?: MarketKey;
  program?: CarbonProgram;
  /** Fleet: capacity credit, or capacity factors of zero-cost energy. */
  fleet?: { kind: "capacity"; credit: number } | { kind: "energy"; cf: readonly [number, number]; renewable: boolean };
}

const FUEL_GROUP: Record<Exclude<Product, "power">, number> = { natural_gas: G_GAS, coal: G_COAL, oil: G_OIL, co2: G_CO2 };

/** Canonical value of a fuel curve at horizon month k (flat extrapolation outside its months). */
function fuelAt(ref: BaselineCurve, factor: number, first: number, absMonth: number): number {
  let j = absMonth - first;
  if (j < 0) j = 0;
  else if (j >= ref.months.length) j = ref.months.length - 1;
  return ref.mid[j]! * factor;
}

/** Builds the per-driver tables. h0 = monthIndex of the first horizon month, H = horizon length. */
export function buildDriverPlans(drivers: readonly Driver[], h0: number, H: number, curvesByKey: Map<string, BaselineCurve>): DriverPlan[] {
  return drivers.map((d, index) => {
    const input = new Float64Array(H);
    const plan: DriverPlan = { index, driver: d, group: -1, input, policy: d.driver_type === "policy" };
    switch (d.driver_type) {
      case "policy": {
        const name = d.policy_name.trim().toUpperCase();
        const share = (SHARE_POLICIES as readonly string[]).includes(name);
        plan.group = name === "RPS" ? G_RPS : name === "CES" ? G_CES : name === "CARBON_TAX" ? G_TAX : -1;
        if (plan.group < 0) break;
        for (let k = 0; k < H; k++) {
          const r = policyRamp(h0 + k, d.start_year, d.target_year);
          input[k] = share ? Math.min(1, shareTarget(d.target)) * r : d.target * r;
        }
        break;
      }
      case "load_growth": {
        plan.group = G_LOAD;
        const lg = Math.log1p(d.annual_growth_pct / 100);
        for (let k = 0; k < H; k++) input[k] = growthYears(h0 + k, d.start_year, d.end_year) * lg;
        break;
      }
      case "fuel_curve": {
        const ref = curvesByKey.get(d.reference_series)!;
        plan.ref = d.reference_series;
        plan.group = FUEL_GROUP[d.fuel];
        if (d.fuel === "natural_gas") plan.gasMarket = gasHubMarket(ref);
        if (d.fuel === "co2") plan.program = carbonProgramOf(ref);
        const f = unitFactor(ref.product, ref.unit) ?? 1;
        const s = d.basis_points_adjustment / 10000;
        const first = monthIndex(ref.months[0]!);
        for (let k = 0; k < H; k++) input[k] = Math.abs(fuelAt(ref, f, first, h0 + k)) * s;
        break;
      }
      case "fleet_change": {
        const kind = technologyKind(d.technology);
        plan.fleet = kind;
        plan.group = kind.kind === "energy" ? G_ENERGY : G_CAP;
        const sgn = d.change_type === "add" ? 1 : -1;
        const eff = monthIndex(parseDateToYyyymm(d.effective_date));
        for (let k = 0; k < H; k++) input[k] = sgn * d.capacity_mw * fleetRamp(h0 + k, eff);
        break;
      }
    }
    return plan;
  });
}

/** Does driver d move curve c? (docs/model.md §4.0) */
export function planApplies(p: DriverPlan, c: BaselineCurve): boolean {
  const d = p.driver;
  if (c.product !== "power") return d.driver_type === "fuel_curve" && d.reference_series === c.curveKey;
  switch (d.driver_type) {
    case "fuel_curve":
      if (d.fuel === "natural_gas") return p.gasMarket === undefined || p.gasMarket === marketOf(c);
      if (d.fuel === "co2") return p.program !== undefined && programCovers(p.program, c);
      return true;
    case "load_growth":
      return regionCovers(d.region, c) && (d.reference_curve_key === undefined || d.reference_curve_key === null || d.reference_curve_key === c.curveKey);
    default:
      return regionCovers(d.region, c);
  }
}

/**
 * Per-block scale of a driver's raw input into the stack input of market `m`: fleet MW are
 * divided by the baseline block demand λ[B]·peak (times the credit or capacity factor); every other
 * input is used as is.
 */
export function blockScale(p: DriverPlan, m: MarketKey, b: 0 | 1): number {
  if (!p.fleet) return 1;
  const d0 = BLOCK_LOAD_FACTOR[b] * MARKET_STACK[m].peakMw;
  return p.fleet.kind === "capacity" ? p.fleet.credit / d0 : p.fleet.cf[b] / d0;
}

/**
 * The gas price each market burns, per horizon month (USD/MMBtu): its regional hub curve when the
 * input has one, else the benchmark plus the market's basis curve, else the benchmark (the Henry Hub
 * curve, else the first gas curve that is neither regional nor basis); zeros if there is none.
 */
export function marketGasPrices(curves: readonly BaselineCurve[], h0: number, H: number, sources?: Map<MarketKey, string[]>): Map<MarketKey, Float64Array> {
  const gas = curves.filter((c) => c.product === "natural_gas" && c.months.length > 0);
  const series = (c: BaselineCurve): Float64Array => {
    const f = unitFactor(c.product, c.unit) ?? 1;
    const first = monthIndex(c.months[0]!);
    const out = new Float64Array(H);
    for (let k = 0; k < H; k++) out[k] = fuelAt(c, f, first, h0 + k);
    return out;
  };
  const bench = gas.find(isHenryHub) ?? gas.find((c) => gasHubMarket(c) === undefined && !isBasisCurve(c));
  const benchSeries = bench ? series(bench) : new Float64Array(H);
  const out = new Map<MarketKey, Float64Array>();
  for (const m of Object.keys(MARKET_STACK) as MarketKey[]) {
    const outright = gas.find((c) => c !== bench && gasHubMarket(c) === m && !isBasisCurve(c));
    if (outright) {
      out.set(m, series(outright));
      sources?.set(m, [outright.curveKey]);
      continue;
    }
    const basis = gas.find((c) => gasHubMarket(c) === m && isBasisCurve(c));
    if (basis && bench) {
      const b = series(basis);
      for (let k = 0; k < H; k++) b[k] = benchSeries[k]! + b[k]!;
      out.set(m, b);
      sources?.set(m, [bench.curveKey, basis.curveKey]);
      continue;
    }
    out.set(m, benchSeries);
    sources?.set(m, bench ? [bench.curveKey] : []);
  }
  return out;
}

/**
 * Driver effects on power prices, tabulated once per run over the horizon.
 * Each driver's effect on block B (ON/OFF) at horizon month k is  ΔP = L·rel_B(k) + abs_B(k),
 * L = |baseline mid| (USD/MWh). ATC mixes ON and OFF with the month's on-peak hour share.
 * See docs/model.md section 4 for every formula.
 */
import { monthIndex, parseDateToYyyymm } from "./calendar";
import {
  BASELINE_RENEWABLE_SHARE,
  capacityCredit,
  FLEET_RAMP_MONTHS,
  HEAT_CONTENT,
  HEAT_RATE,
  MARGINAL_SHARE,
  MAX_CAPACITY_FRACTION,
  MERIT_ORDER_SENSITIVITY,
  marginalEmissionFactor,
  type PolicyName,
  REC_PRICE,
  SCARCITY_ELASTICITY,
  SHARE_POLICIES,
} from "./params";
import type { BaselineCurve, Driver, FleetChangeDriver } from "./types";

/** Layout of a driver table: [relOn | relOff | absOn | absOff], each of length H. */
export interface DriverTable {
  /** Null for fleet drivers: their table depends on the curve's market (reference capacity). */
  table: Float64Array | null;
  fleetCache: Map<number, Float64Array> | null;
}

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

export function recPrice(policyName: string): number {
  return REC_PRICE[policyName] ?? 0;
}

/** Normalises a renewable-share target: values above 1 are read as percent. */
export function shareTarget(target: number): number {
  return target > 1 ? target / 100 : target;
}

/** Δfuel per unit of fuel price change → USD/MWh, for block b. co2 uses the marginal emission factor. */
export function fuelPassThrough(fuel: "natural_gas" | "coal" | "co2" | "oil", b: 0 | 1): number {
  if (fuel === "co2") return marginalEmissionFactor(b);
  return (MARGINAL_SHARE[fuel][b] * HEAT_RATE[fuel]) / HEAT_CONTENT[fuel];
}

/**
 * Builds the per-driver tables. h0 = monthIndex of the first horizon month, H = horizon length.
 * curvesByKey resolves fuel references; fuel deltas are flat-extrapolated outside the reference curve's months.
 */
export function buildDriverTables(drivers: readonly Driver[], h0: number, H: number, curvesByKey: Map<string, BaselineCurve>): DriverTable[] {
  return drivers.map((d) => {
    if (d.driver_type === "fleet_change") return { table: null, fleetCache: new Map() };
    const t = new Float64Array(4 * H);
    const relOn = t.subarray(0, H);
    const relOff = t.subarray(H, 2 * H);
    const absOn = t.subarray(2 * H, 3 * H);
    const absOff = t.subarray(3 * H, 4 * H);
    switch (d.driver_type) {
      case "policy": {
        const name = d.policy_name.trim().toUpperCase();
        for (let k = 0; k < H; k++) {
          const r = policyRamp(h0 + k, d.start_year, d.target_year);
          if (r === 0) continue;
          if ((SHARE_POLICIES as readonly string[]).includes(name)) {
            const dS = Math.max(0, shareTarget(d.target) - BASELINE_RENEWABLE_SHARE) * r;
            relOn[k] = -MERIT_ORDER_SENSITIVITY[0] * dS;
            relOff[k] = -MERIT_ORDER_SENSITIVITY[1] * dS;
            absOn[k] = dS * recPrice(name);
            absOff[k] = dS * recPrice(name);
          } else if (name === ("CARBON_TAX" satisfies PolicyName)) {
            absOn[k] = marginalEmissionFactor(0) * d.target * r;
            absOff[k] = marginalEmissionFactor(1) * d.target * r;
          }
        }
        break;
      }
      case "load_growth": {
        const g = 1 + d.annual_growth_pct / 100;
        for (let k = 0; k < H; k++) {
          const tau = growthYears(h0 + k, d.start_year, d.end_year);
          if (tau === 0) continue;
          relOn[k] = g ** (tau * SCARCITY_ELASTICITY[0]) - 1;
          relOff[k] = g ** (tau * SCARCITY_ELASTICITY[1]) - 1;
        }
        break;
      }
      case "fuel_curve": {
        const ref = curvesByKey.get(d.reference_series)!;
        const s = d.basis_points_adjustment / 10000;
        const first = monthIndex(ref.months[0]!);
        const n = ref.months.length;
        const cOn = fuelPassThrough(d.fuel, 0);
        const cOff = fuelPassThrough(d.fuel, 1);
        for (let k = 0; k < H; k++) {
          let j = h0 + k - first;
          if (j < 0) j = 0;
          else if (j >= n) j = n - 1;
          const dFuel = Math.abs(ref.mid[j]!) * s;
          absOn[k] = cOn * dFuel;
          absOff[k] = cOff * dFuel;
        }
        break;
      }
    }
    return { table: t, fleetCache: null };
  });
}

/** Fleet table for a given reference capacity R (MW): rel_B = (1 + sgn·f·w)^(−η_B) − 1, f = min(credit·C/R, cap). */
export function fleetTable(d: FleetChangeDriver, R: number, h0: number, H: number): Float64Array {
  const t = new Float64Array(4 * H);
  const f = Math.min((capacityCredit(d.technology) * d.capacity_mw) / R, MAX_CAPACITY_FRACTION);
  const sgn = d.change_type === "add" ? 1 : -1;
  const eff = monthIndex(parseDateToYyyymm(d.effective_date));
  for (let k = 0; k < H; k++) {
    const w = fleetRamp(h0 + k, eff);
    if (w === 0) continue;
    const x = 1 + sgn * f * w;
    t[k] = x ** -SCARCITY_ELASTICITY[0] - 1;
    t[H + k] = x ** -SCARCITY_ELASTICITY[1] - 1;
  }
  return t;
}

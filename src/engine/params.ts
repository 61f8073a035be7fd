/**
 * Model constants (documented in docs/model.md section 3). Indices [ON_PEAK, OFF_PEAK]; ATC is the
 * hour-weighted mix of the two per month (see effects.ts), so an ATC curve always moves by the
 * hour-weighted average of the on- and off-peak moves.
 */
import type { Product } from "./types";

/** Heat rates of the marginal unit, MMBtu/MWh. */
export const HEAT_RATE = { natural_gas: 7.5, coal: 10.5, oil: 11.0 } as const;
/** Fuel units per MMBtu: gas is quoted per MMBtu, coal per short ton (19 MMBtu/ton), oil per barrel (5.8 MMBtu/bbl). */
export const HEAT_CONTENT = { natural_gas: 1.0, coal: 19.0, oil: 5.8 } as const;
/** Carbon content of the fuel, tCO2/MMBtu. */
export const CARBON_CONTENT = { natural_gas: 0.0531, coal: 0.095, oil: 0.075 } as const;
/** Share of hours in which each fuel is marginal (sets the price), [ON_PEAK, OFF_PEAK]; the rest is non-emitting. */
export const MARGINAL_SHARE = {
  natural_gas: [0.8, 0.6],
  coal: [0.1, 0.25],
  oil: [0.02, 0.0],
} as const;
/** Price elasticity to the load/capacity ratio ("scarcity elasticity"), [ON_PEAK, OFF_PEAK]: p ∝ (L/K)^η. */
export const SCARCITY_ELASTICITY = [1.5, 0.8] as const;
/** Merit-order sensitivity: relative price change per unit (1.0 = 100 pp) of extra renewable share, [ON_PEAK, OFF_PEAK]. */
export const MERIT_ORDER_SENSITIVITY = [0.6, 0.8] as const;
/** Renewable share already in the baseline forward curves. */
export const BASELINE_RENEWABLE_SHARE = 0.2;
/** Share policies: `target` is a required clean/renewable share 0..1 (merit-order effect plus certificate cost, §4.3). */
export const SHARE_POLICIES = ["RPS", "CES"] as const;
/** Every policy name the engine has an effect for; the scenarios API refuses any other (docs/scenarios.md). */
export const POLICY_NAMES = [...SHARE_POLICIES, "CARBON_TAX"] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];
/** Compliance certificate prices, USD/MWh of load per unit of required share. */
export const REC_PRICE: Readonly<Record<string, number>> = { RPS: 10, CES: 5 };
/** Reference firm capacity (≈ peak load, MW) by market; DEFAULT for unknown markets. */
export const REFERENCE_CAPACITY_MW: Readonly<Record<string, number>> = {
  PJM: 150_000,
  MISO: 125_000,
  ERCOT: 85_000,
  SPP: 55_000,
  CAISO: 50_000,
  NYISO: 32_000,
  ISONE: 25_000,
  "ISO-NE": 25_000,
  DEFAULT: 50_000,
};
/** Capped capacity fraction so that a retirement can never remove more than half the reference system. */
export const MAX_CAPACITY_FRACTION = 0.5;
/** Fleet changes ramp linearly to full effect over this many months, starting in the effective month. */
export const FLEET_RAMP_MONTHS = 6;
/**
 * Capacity credit (firm contribution per MW of nameplate) by technology keyword: the first keyword
 * the (lower-cased) technology contains wins. The firm thermal keywords at the end carry 1.0. A
 * technology containing none of them is unknown: the scenarios API refuses it; the engine (for
 * scenarios stored before that rule) and a driver without technology use 1.0.
 */
export const CAPACITY_CREDIT: readonly (readonly [string, number])[] = [
  ["solar", 0.25],
  ["wind", 0.35],
  ["storage", 0.5],
  ["batter", 0.5],
  ["hydro", 0.45],
  ["nuclear", 0.9],
  ["gas", 1],
  ["ccgt", 1],
  ["coal", 1],
  ["oil", 1],
  ["thermal", 1],
  ["biomass", 1],
];
/** The technology keywords the model knows (a fleet_change `technology` must contain one). */
export const TECHNOLOGY_KEYWORDS: readonly string[] = CAPACITY_CREDIT.map(([k]) => k);

/** Ornstein-Uhlenbeck parameters of the log price shock: σ annual volatility, κ mean-reversion speed (1/yr). */
export const OU_PARAMS: Readonly<Record<Product, { sigma: number; kappa: number }>> = {
  power: { sigma: 0.45, kappa: 1.5 },
  natural_gas: { sigma: 0.4, kappa: 1.0 },
  coal: { sigma: 0.25, kappa: 0.8 },
  co2: { sigma: 0.35, kappa: 0.5 },
  oil: { sigma: 0.35, kappa: 0.7 },
};

/** Marginal emission factor, tCO2/MWh, for block b (0 ON, 1 OFF): Σ_f share_f,b · HR_f · CC_f. */
export function marginalEmissionFactor(b: 0 | 1): number {
  return (
    MARGINAL_SHARE.natural_gas[b] * HEAT_RATE.natural_gas * CARBON_CONTENT.natural_gas +
    MARGINAL_SHARE.coal[b] * HEAT_RATE.coal * CARBON_CONTENT.coal +
    MARGINAL_SHARE.oil[b] * HEAT_RATE.oil * CARBON_CONTENT.oil
  );
}

/** The capacity credit of a technology the model knows, undefined for an unknown one. */
export function knownCapacityCredit(technology: string): number | undefined {
  const t = technology.toLowerCase();
  for (const [k, c] of CAPACITY_CREDIT) if (t.includes(k)) return c;
  return undefined;
}

export function capacityCredit(technology: string | undefined): number {
  if (!technology) return 1;
  return knownCapacityCredit(technology) ?? 1;
}

export function referenceCapacity(market: string): number {
  return REFERENCE_CAPACITY_MW[market.trim().toUpperCase()] ?? REFERENCE_CAPACITY_MW.DEFAULT!;
}

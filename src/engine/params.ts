/**
 * Model constants (documented in docs/model.md section 3). Indices [ON_PEAK, OFF_PEAK]; an ATC
 * curve is evaluated on both blocks and moves by their hour-weighted mix (engine.ts evaluateMonth).
 */
import type { MarketKey } from "./scope";
import type { Product } from "./types";

/** Physical heat rates of the marginal unit burning each fuel, MMBtu/MWh (EIA Electric Power Annual, Table 8.1: average operating heat rates). Used for emission factors and coal/oil pass-through. */
export const HEAT_RATE = { natural_gas: 7.5, coal: 10.5, oil: 11.0 } as const;
/** MMBtu per fuel unit: gas is quoted per MMBtu, coal per short ton (19 MMBtu/ton), oil per barrel (5.8 MMBtu/bbl) (EIA Monthly Energy Review, Appendix A). */
export const HEAT_CONTENT = { natural_gas: 1.0, coal: 19.0, oil: 5.8 } as const;
/** Carbon content of the fuel, tCO2/MMBtu (EPA 40 CFR 98 Subpart C, Table C-1: 53.06, ~95, 75 kg/MMBtu). */
export const CARBON_CONTENT = { natural_gas: 0.0531, coal: 0.095, oil: 0.075 } as const;
/**
 * Bounds of the calibrated marginal (implied) heat rate HR* = P0/G0, MMBtu/MWh (§4.2): below 5 no
 * fossil unit sets the price (the best CCGT runs at ~6.2); above 25 the price is scarcity, not fuel.
 */
export const IMPLIED_HEAT_RATE_BOUNDS = [5, 25] as const;
/** Heat rate used when a market has no usable gas price (no gas curve, or one at or below MIN_GAS_PRICE). */
export const DEFAULT_HEAT_RATE = 7.5;
/** Gas prices at or below this (USD/MMBtu) give no meaningful implied heat rate. */
export const MIN_GAS_PRICE = 0.1;
/** Stack shape exponent η[B]: the thermal supply curve p ∝ u^η around the baseline utilisation, [ON_PEAK, OFF_PEAK]. */
export const SCARCITY_ELASTICITY = [1.5, 0.8] as const;
/**
 * Merit-order sensitivity μ[B]: relative fall of the baseline price per unit (100 pp) of extra
 * variable renewable share, [ON_PEAK, OFF_PEAK] (v1's constants; LBNL 2019, "Impacts of High
 * Variable Renewable Energy Futures on Wholesale Electricity Prices"). It calibrates how much
 * variable zero-cost energy lowers the thermal residual at the price-setting margin (§4.1).
 */
export const MERIT_ORDER_SENSITIVITY = [0.6, 0.8] as const;
/** Baseline thermal utilisation u0[B] (residual demand / thermal capacity), [ON_PEAK, OFF_PEAK]. */
export const BASE_UTILISATION = [0.55, 0.4] as const;
/** Average block load as a share of peak load λ[B] (ISO load-duration curves), [ON_PEAK, OFF_PEAK]. */
export const BLOCK_LOAD_FACTOR = [0.7, 0.55] as const;
/** Above u = 1 (residual demand exceeds thermal capacity) the price rises linearly to the scarcity cap, reached at u = 1 + SCARCITY_RAMP. */
export const SCARCITY_RAMP = 0.1;
/** Share policies: `target` is a required clean/renewable share 0..1 (zero-cost supply in the stack plus certificate cost, §4.3). */
export const SHARE_POLICIES = ["RPS", "CES"] as const;
/** Every policy name the engine has an effect for; the scenarios API refuses any other (docs/scenarios.md). */
export const POLICY_NAMES = [...SHARE_POLICIES, "CARBON_TAX"] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

/** Per-market stack parameters (docs/model.md §3.3). Arrays are [ON_PEAK, OFF_PEAK]. */
export interface MarketStack {
  /** Peak load, MW (ISO load forecasts, rounded). */
  peakMw: number;
  /** Zero-marginal-cost supply (nuclear, hydro, wind, solar) as a share of baseline block energy. */
  zeroShare: readonly [number, number];
  /** The renewable part of zeroShare (counts toward an RPS). */
  renewableShare: readonly [number, number];
  /** Share of hours coal / oil units set the price (for coal/oil pass-through and the marginal emission factor). */
  coalShare: readonly [number, number];
  oilShare: readonly [number, number];
  /** Monthly block-average price floor and scarcity cap, USD/MWh. */
  floor: number;
  cap: number;
  /** Certificate prices, USD/MWh of certificate: RPS (REC) and CES (clean energy / zero-emission credit). */
  recRps: number;
  recCes: number;
}

export const MARKET_STACK: Readonly<Record<MarketKey, MarketStack>> = {
  PJM: { peakMw: 150_000, zeroShare: [0.38, 0.45], renewableShare: [0.08, 0.08], coalShare: [0.15, 0.3], oilShare: [0.01, 0], floor: 0, cap: 2000, recRps: 20, recCes: 10 },
  MISO: { peakMw: 125_000, zeroShare: [0.28, 0.36], renewableShare: [0.15, 0.2], coalShare: [0.3, 0.45], oilShare: [0, 0], floor: -5, cap: 2000, recRps: 5, recCes: 5 },
  ERCOT: { peakMw: 85_000, zeroShare: [0.38, 0.4], renewableShare: [0.3, 0.32], coalShare: [0.1, 0.2], oilShare: [0, 0], floor: -10, cap: 5000, recRps: 3, recCes: 3 },
  SPP: { peakMw: 55_000, zeroShare: [0.42, 0.5], renewableShare: [0.38, 0.45], coalShare: [0.2, 0.35], oilShare: [0, 0], floor: -10, cap: 2000, recRps: 3, recCes: 3 },
  CAISO: { peakMw: 50_000, zeroShare: [0.55, 0.4], renewableShare: [0.48, 0.3], coalShare: [0, 0], oilShare: [0, 0], floor: -10, cap: 2000, recRps: 15, recCes: 5 },
  NYISO: { peakMw: 32_000, zeroShare: [0.45, 0.52], renewableShare: [0.25, 0.29], coalShare: [0, 0], oilShare: [0.02, 0.01], floor: 0, cap: 2000, recRps: 25, recCes: 20 },
  "ISO-NE": { peakMw: 25_000, zeroShare: [0.38, 0.45], renewableShare: [0.15, 0.18], coalShare: [0, 0], oilShare: [0.03, 0.01], floor: 0, cap: 2000, recRps: 35, recCes: 15 },
  NW: { peakMw: 35_000, zeroShare: [0.65, 0.72], renewableShare: [0.6, 0.67], coalShare: [0.05, 0.1], oilShare: [0, 0], floor: -10, cap: 1000, recRps: 5, recCes: 5 },
  DEFAULT: { peakMw: 50_000, zeroShare: [0.35, 0.4], renewableShare: [0.15, 0.18], coalShare: [0.1, 0.25], oilShare: [0.01, 0], floor: 0, cap: 2000, recRps: 10, recCes: 5 },
};

/**
 * Marginal emission factor of market m in block b, tCO2/MWh: gas sets the price in the hours
 * coal and oil do not, EF = Σ_f s_f·HR_f·CC_f with s_gas = 1 − s_coal − s_oil.
 */
export function marginalEmissionFactor(ms: MarketStack, b: 0 | 1): number {
  const sc = ms.coalShare[b];
  const so = ms.oilShare[b];
  return (1 - sc - so) * HEAT_RATE.natural_gas * CARBON_CONTENT.natural_gas + sc * HEAT_RATE.coal * CARBON_CONTENT.coal + so * HEAT_RATE.oil * CARBON_CONTENT.oil;
}

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

/**
 * Technologies that supply zero-marginal-cost energy rather than dispatchable capacity: a fleet
 * change of one of them changes the zero-cost energy in the stack by MW × capacity factor[B]
 * (EIA Electric Power Monthly, Table 6.07.B, 2023 annual capacity factors — nuclear 93 %, wind 34 %,
 * solar PV 24 %, hydro 37 % — split by block: solar produces mostly in on-peak hours, wind more off-peak).
 * `renewable` energy counts toward an RPS; all of it counts toward a CES. Every other known
 * technology is dispatchable: it changes thermal capacity by MW × capacity credit (CAPACITY_CREDIT).
 */
export const ENERGY_TECHNOLOGIES: readonly (readonly [string, { cf: readonly [number, number]; renewable: boolean }])[] = [
  ["solar", { cf: [0.36, 0.14], renewable: true }],
  ["wind", { cf: [0.31, 0.37], renewable: true }],
  ["hydro", { cf: [0.4, 0.35], renewable: true }],
  ["nuclear", { cf: [0.93, 0.93], renewable: false }],
];

/** How a fleet change enters the stack: zero-cost energy (with capacity factors) or dispatchable capacity (with a credit). */
export function technologyKind(technology: string | undefined): { kind: "energy"; cf: readonly [number, number]; renewable: boolean } | { kind: "capacity"; credit: number } {
  const credit = capacityCredit(technology);
  if (technology) {
    const t = technology.toLowerCase();
    for (const [k] of CAPACITY_CREDIT) {
      if (!t.includes(k)) continue;
      const e = ENERGY_TECHNOLOGIES.find(([name]) => name === k);
      if (e) return { kind: "energy", cf: e[1].cf, renewable: e[1].renewable };
      break;
    }
  }
  return { kind: "capacity", credit };
}

/** Ornstein-Uhlenbeck parameters of the log price shock: σ annual volatility, κ mean-reversion speed (1/yr). */
export const OU_PARAMS: Readonly<Record<Product, { sigma: number; kappa: number }>> = {
  power: { sigma: 0.45, kappa: 1.5 },
  natural_gas: { sigma: 0.4, kappa: 1.0 },
  coal: { sigma: 0.25, kappa: 0.8 },
  co2: { sigma: 0.35, kappa: 0.5 },
  oil: { sigma: 0.35, kappa: 0.7 },
};

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

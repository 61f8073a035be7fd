/**
 * The calibrated supply stack of one market, block and month (docs/model.md §4.1–§4.2).
 *
 * State, in units of the baseline block demand D0 = λ[B]·peak load:
 *   D = 1 + ΔD                   demand (load growth)
 *   Z = z0 + ΔZ                  zero-marginal-cost energy (nuclear, hydro, wind, solar; RPS/CES builds)
 *   K = K0 + ΔK,  K0 = (1 − z0)/u0   dispatchable (thermal) capacity
 *   u = (D − Z)/K                thermal utilisation; u0 at the baseline
 * (variable renewable energy counts ε of its MWh in u: it displaces the price-setting unit only in part of the hours)
 * Price, with x = u/u0 and the marginal cost of the marginal thermal unit
 *   M = HR*·G⁺ + c_coal·ΔP_coal + c_oil·ΔP_oil + EF·ΔC        (USD/MWh, G⁺ = max(G, 0))
 *   P = P0 + (ψ(x) − 1)·(M0 + A⁺) + ψ(x)·ΔM,  ψ(x) = max(0, x)^η,  M0 = HR*·G0⁺,  A⁺ = max(0, P0 − M0)
 * (ΔM = M − M0), so P = P0 + ΔM at the baseline position and P = min(0, P0 − M0) with no thermal residual,
 * above u = 1 rising linearly to the cap (max(cap, P0)) over SCARCITY_RAMP, and clamped to [min(floor, P0), max(cap, P0)].
 * With no change ψ = 1 and M = M0 exactly, so P = P0: the baseline is reproduced bit for bit.
 */
import { BASE_UTILISATION, HEAT_CONTENT, HEAT_RATE, type MarketStack, MERIT_ORDER_SENSITIVITY, marginalEmissionFactor, SCARCITY_ELASTICITY, SCARCITY_RAMP } from "./params";

/** Groups of drivers (the players of the Shapley attribution, §4.6). */
export const G_GAS = 0;
export const G_COAL = 1;
export const G_OIL = 2;
export const G_CO2 = 3;
export const G_TAX = 4;
export const G_RPS = 5;
export const G_CES = 6;
export const G_LOAD = 7;
export const G_CAP = 8;
export const G_ENERGY = 9;
export const N_GROUPS = 10;

/** Input slots of one block-month (aggregated over the drivers of each group). */
export const IN_GAS = 0; // ΔG, USD/MMBtu
export const IN_COAL = 1; // ΔP_coal, USD/short ton
export const IN_OIL = 2; // ΔP_oil, USD/bbl
export const IN_CO2 = 3; // ΔC from allowance curves, USD/tCO2
export const IN_TAX = 4; // ΔC from carbon taxes, USD/tCO2
export const IN_RPS = 5; // required renewable share (max over RPS drivers)
export const IN_CES = 6; // required clean share (max over CES drivers)
export const IN_LOAD = 7; // Σ τ·ln(1+g)
export const IN_K = 8; // ΔK, units of D0
export const IN_ZR = 9; // ΔZ renewable, units of D0
export const IN_ZC = 10; // ΔZ other clean (nuclear), units of D0
export const N_IN = 11;

/** Per-market, per-block constants of the stack. */
export interface BlockStack {
  z0: number;
  zr0: number;
  u0: number;
  K0: number;
  eta: number;
  /** USD/MWh per USD/short ton of coal, per USD/bbl of oil: share of hours × heat rate / heat content. */
  cCoal: number;
  cOil: number;
  /** Marginal emission factor, tCO2/MWh. */
  ef: number;
  floor: number;
  cap: number;
  /** ψ at u = 1. */
  psiMax: number;
  /**
   * Share of variable renewable energy that displaces the price-setting thermal unit,
   * ε = min(1, μ[B]·(1 − z0)/η[B]): +1 pp of renewable share lowers the baseline price by μ[B] %.
   */
  eps: number;
}

export function blockStack(ms: MarketStack, b: 0 | 1): BlockStack {
  const u0 = BASE_UTILISATION[b];
  const eta = SCARCITY_ELASTICITY[b];
  return {
    z0: ms.zeroShare[b],
    zr0: ms.renewableShare[b],
    u0,
    K0: (1 - ms.zeroShare[b]) / u0,
    eta,
    cCoal: (ms.coalShare[b] * HEAT_RATE.coal) / HEAT_CONTENT.coal,
    cOil: (ms.oilShare[b] * HEAT_RATE.oil) / HEAT_CONTENT.oil,
    ef: marginalEmissionFactor(ms, b),
    floor: ms.floor,
    cap: ms.cap,
    psiMax: (1 / u0) ** eta,
    eps: Math.min(1, (MERIT_ORDER_SENSITIVITY[b] * (1 - ms.zeroShare[b])) / eta),
  };
}

/** Which inputs each group feeds (bit mask over IN_*). */
export const GROUP_INPUTS: readonly number[] = [
  1 << IN_GAS,
  1 << IN_COAL,
  1 << IN_OIL,
  1 << IN_CO2,
  1 << IN_TAX,
  1 << IN_RPS,
  1 << IN_CES,
  1 << IN_LOAD,
  1 << IN_K,
  (1 << IN_ZR) | (1 << IN_ZC),
];

/**
 * Price of one block-month for the inputs in `inp` enabled by `inMask` (bits over IN_*), and its
 * derivative with respect to the gas price (out[1]). P0 and G0 are the calibration point; hr is HR*.
 * Quantity inputs that are zero leave x = 1 exactly.
 */
export function stackPrice(bs: BlockStack, P0: number, G0: number, hr: number, inp: Float64Array, inMask: number, out: Float64Array): void {
  // a negative gas price is read as zero fuel cost, so the marginal cost never falls as the stack tightens
  const g0 = Math.max(G0, 0);
  const g1 = ((inMask >> IN_GAS) & 1) === 1 ? Math.max(0, G0 + inp[IN_GAS]!) : g0;
  let dM = hr * (g1 - g0);
  if (((inMask >> IN_COAL) & 1) === 1) dM += bs.cCoal * inp[IN_COAL]!;
  if (((inMask >> IN_OIL) & 1) === 1) dM += bs.cOil * inp[IN_OIL]!;
  let dC = 0;
  if (((inMask >> IN_CO2) & 1) === 1) dC += inp[IN_CO2]!;
  if (((inMask >> IN_TAX) & 1) === 1) dC += inp[IN_TAX]!;
  if (dC !== 0) dM += bs.ef * dC;
  const M0 = hr * g0;
  // the part of the baseline price above the fuel cost (when HR* is bounded) scales with the stack too
  const markup = Math.max(P0 - M0, 0);
  const lo = Math.min(bs.floor, P0);
  const hi = Math.max(bs.cap, P0);
  const quantity = (inMask & ((1 << IN_RPS) | (1 << IN_CES) | (1 << IN_LOAD) | (1 << IN_K) | (1 << IN_ZR) | (1 << IN_ZC))) !== 0;
  let p: number;
  let dPdG: number;
  if (!quantity) {
    p = P0 + dM;
    dPdG = g1 > 0 ? hr : 0;
  } else {
    const dD = ((inMask >> IN_LOAD) & 1) === 1 ? Math.expm1(inp[IN_LOAD]!) : 0;
    const D = 1 + dD;
    const dZr = ((inMask >> IN_ZR) & 1) === 1 ? inp[IN_ZR]! : 0;
    const dZc = ((inMask >> IN_ZC) & 1) === 1 ? inp[IN_ZC]! : 0;
    // renewable energy after fleet changes; an RPS (or CES) requirement above it is built as zero-cost supply
    const zr = bs.zr0 + dZr;
    const zc = bs.z0 - bs.zr0 + dZc;
    let extra = 0;
    if (((inMask >> IN_RPS) & 1) === 1) extra = Math.max(extra, inp[IN_RPS]! * D - zr);
    if (((inMask >> IN_CES) & 1) === 1) extra = Math.max(extra, inp[IN_CES]! * D - zr - zc);
    // variable renewables (fleet additions and RPS/CES builds) lower the residual at the margin by ε of their energy; nuclear fully
    const dZ = bs.eps * (dZr + extra) + dZc;
    const dK = ((inMask >> IN_K) & 1) === 1 ? inp[IN_K]! : 0;
    const kRel = 1 + dK / bs.K0;
    const num = 1 + (dD - dZ) / (1 - bs.z0);
    let x: number;
    if (num <= 0) x = 0;
    else if (kRel <= 0) x = Number.POSITIVE_INFINITY;
    else x = num / kRel;
    const u = x * bs.u0;
    if (u <= 1) {
      const psi = x === 1 ? 1 : x ** bs.eta;
      p = P0 + (psi - 1) * (M0 + markup) + psi * dM;
      dPdG = g1 > 0 ? psi * hr : 0;
    } else {
      const p1 = P0 + (bs.psiMax - 1) * (M0 + markup) + bs.psiMax * dM;
      const ramp = Math.min(1, (u - 1) / SCARCITY_RAMP);
      p = p1 + (hi - p1) * ramp;
      dPdG = g1 > 0 ? (1 - ramp) * bs.psiMax * hr : 0;
    }
  }
  if (p < lo) {
    p = lo;
    dPdG = 0;
  } else if (p > hi) {
    p = hi;
    dPdG = 0;
  }
  out[0] = p;
  out[1] = dPdG;
}

/** Shapley weights w[g][s] = s!(g−s−1)!/g! for g players and coalitions of size s (g ≤ N_GROUPS). */
export const SHAPLEY_WEIGHTS: readonly Float64Array[] = (() => {
  const fact = [1];
  for (let i = 1; i <= N_GROUPS; i++) fact.push(fact[i - 1]! * i);
  const out: Float64Array[] = [new Float64Array(0)];
  for (let g = 1; g <= N_GROUPS; g++) {
    const w = new Float64Array(g);
    for (let s = 0; s < g; s++) w[s] = (fact[s]! * fact[g - s - 1]!) / fact[g]!;
    out.push(w);
  }
  return out;
})();

/** Population count of a small mask. */
export function popcount(m: number): number {
  let n = 0;
  while (m) {
    m &= m - 1;
    n++;
  }
  return n;
}

/**
 * Shapley values of g players from the coalition values v[mask] (mask over players 0..g−1, v[0] the
 * empty coalition): φ_i = Σ_{S ∌ i} w(|S|)·(v(S ∪ {i}) − v(S)). They sum to v(all) − v(∅).
 */
export function shapley(v: Float64Array, g: number, phi: Float64Array): void {
  const w = SHAPLEY_WEIGHTS[g]!;
  const full = 1 << g;
  for (let i = 0; i < g; i++) {
    const bit = 1 << i;
    let s = 0;
    for (let m = 0; m < full; m++) {
      if (m & bit) continue;
      s += w[popcount(m)]! * (v[m | bit]! - v[m]!);
    }
    phi[i] = s;
  }
}

/**
 * Shapley values of the "airport" (maximum) game of non-negative requirements a_i: sorted
 * ascending, φ_(i) = Σ_{j ≤ i} (a_(j) − a_(j−1)) / (n − j + 1) (Littlechild & Owen 1973). They sum to max a.
 * `idx` lists the players (positions in `a`), `out[idx[i]]` receives φ.
 */
export function airportShapley(a: Float64Array, idx: Int32Array, n: number, out: Float64Array): void {
  if (n === 1) {
    out[idx[0]!] = Math.max(0, a[idx[0]!]!);
    return;
  }
  const order = Array.from(idx.subarray(0, n)).sort((p, q) => a[p]! - a[q]! || p - q);
  let prev = 0;
  let acc = 0;
  for (let j = 0; j < n; j++) {
    const v = Math.max(0, a[order[j]!]!);
    acc += (v - prev) / (n - j);
    prev = v;
    out[order[j]!] = acc;
  }
}

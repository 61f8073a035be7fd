/** Synthetic forward-curve histories and price paths with known two-factor parameters (docs/model-validation.md). */
import { Xoshiro128 } from "../../../src/engine/rng";
import type { CurveCalibration } from "../../../src/engine/types";
import { logVariance, seasonalFactor } from "../../../src/engine/uncertainty";

export type TrueParams = Pick<CurveCalibration, "kappa" | "sigma_short" | "sigma_long" | "rho"> & { seasonality?: number[] };

function ymd(day: number): string {
  return new Date(day * 86_400_000).toISOString().slice(0, 10);
}

/** Exact one-step covariance factors of (χ innovation, ξ increment) over dt years. */
function stepFactors(p: TrueParams, dt: number) {
  const phi = Math.exp(-p.kappa * dt);
  const vChi = (p.sigma_short ** 2 * -Math.expm1(-2 * p.kappa * dt)) / (2 * p.kappa);
  const vXi = p.sigma_long ** 2 * dt;
  const cov = (p.rho * p.sigma_short * p.sigma_long * -Math.expm1(-p.kappa * dt)) / p.kappa;
  const a11 = Math.sqrt(vChi);
  const a21 = a11 > 0 ? cov / a11 : 0;
  return { phi, a11, a21, a22: Math.sqrt(Math.max(0, vXi - a21 * a21)) };
}

/**
 * `n` snapshots `stepDays` apart from `start`, each with the next `months` delivery months:
 * ln F(t,T) = ln F0(T) + s_m·(e^{−κτ}χ_t + ξ_t), τ = T − t to mid-delivery month, χ and ξ simulated exactly.
 */
export function simulateHistory(p: TrueParams, opts: { start: string; n: number; stepDays: number; months: number; seed: number }) {
  const rng = new Xoshiro128(opts.seed, 7);
  const dt = opts.stepDays / 365.25;
  const { phi, a11, a21, a22 } = stepFactors(p, dt);
  const d0 = Date.parse(`${opts.start}T00:00:00Z`) / 86_400_000;
  let chi = 0;
  let xi = 0;
  const out: { asofDate: string; months: number[]; mid: number[] }[] = [];
  for (let i = 0; i < opts.n; i++) {
    if (i > 0) {
      const u1 = rng.nextNormal();
      const u2 = rng.nextNormal();
      chi = phi * chi + a11 * u1;
      xi = xi + a21 * u1 + a22 * u2;
    }
    const day = d0 + i * opts.stepDays;
    const date = new Date(day * 86_400_000);
    let y = date.getUTCFullYear();
    let m = date.getUTCMonth() + 2; // first delivery month: the next one
    if (m > 12) {
      m -= 12;
      y++;
    }
    const months: number[] = [];
    const mid: number[] = [];
    for (let j = 0; j < opts.months; j++) {
      const ym = y * 100 + m;
      const tau = (Date.UTC(y, m - 1, 15) / 86_400_000 - day) / 365.25;
      const s = seasonalFactor({ seasonality: p.seasonality }, ym);
      const base = 40 * (1 + 0.2 * Math.cos((2 * Math.PI * (m - 7)) / 12));
      months.push(ym);
      mid.push(base * Math.exp(s * (Math.exp(-p.kappa * tau) * chi + xi)));
      m++;
      if (m > 12) {
        m = 1;
        y++;
      }
    }
    out.push({ asofDate: ymd(day), months, mid });
  }
  return out;
}

/** `nPaths` realisations of the price multiplier M_k = S_T/F(0,T) for months k = 0..H−1 (monthly steps), row-major by path. */
export function simulateMultipliers(p: TrueParams, opts: { H: number; nPaths: number; seed: number; firstYm: number }): Float64Array {
  const rng = new Xoshiro128(opts.seed, 11);
  const { phi, a11, a21, a22 } = stepFactors(p, 1 / 12);
  const out = new Float64Array(opts.H * opts.nPaths);
  for (let path = 0; path < opts.nPaths; path++) {
    let chi = 0;
    let xi = 0;
    let ym = opts.firstYm;
    for (let k = 0; k < opts.H; k++) {
      const u1 = rng.nextNormal();
      const u2 = rng.nextNormal();
      chi = phi * chi + a11 * u1;
      xi = xi + a21 * u1 + a22 * u2;
      const s = seasonalFactor({ seasonality: p.seasonality }, ym);
      const V = s * s * logVariance(p, (k + 1) / 12);
      out[path * opts.H + k] = Math.exp(s * (chi + xi) - V / 2);
      ym = ym % 100 === 12 ? ym + 89 : ym + 1;
    }
  }
  return out;
}

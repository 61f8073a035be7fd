/**
 * Calibration of the two-factor process from a curve's stored history (docs/model.md §7.2).
 *
 * Under Schwartz–Smith, the forward for delivery T seen at t has instantaneous log-variance
 *   v(τ) = σχ²·e^{−2κτ} + 2ρσχσξ·e^{−κτ} + σξ²,   τ = T − t (time to delivery, years),
 * times the seasonal multiplier s_m² of the delivery calendar month. Between consecutive snapshots
 * (Δt apart) the log-return of each delivery month is an observation of v(τ)·Δt. The calibration
 *   1. pools squared returns per time-to-delivery bucket (whole months): v̂_b = Σ r² / Σ Δt;
 *   2. for each κ on a log grid, fits (A, B, C) = (σχ², 2ρσχσξ, σξ²) by weighted least squares
 *      (weights = observations per bucket) and keeps the κ with the least weighted squared error;
 *   3. estimates s_m² = Σ r² / Σ v(τ)Δt per delivery calendar month (normalised to mean 1) and
 *      refits step 2 on the deseasonalised returns, once.
 * Pure: the caller (src/runs/inputs.ts) reads the snapshots from the store.
 */

import type { CurveCalibration, Product } from "./types";
import { defaultCalibration } from "./uncertainty";

/** Snapshots a curve needs before its history is used (fewer: product default). */
export const MIN_SNAPSHOTS = 12;
/** At most this many most recent snapshots are read for a calibration. */
export const MAX_SNAPSHOTS = 260;
/** Minimum usable return observations (pairs of snapshots × common delivery months). */
export const MIN_RETURNS = 120;

export interface HistorySnapshot {
  /** YYYY-MM-DD */
  asofDate: string;
  /** yyyymm, ascending */
  months: ArrayLike<number>;
  mid: ArrayLike<number>;
}

const KAPPA_GRID: number[] = (() => {
  const g: number[] = [];
  for (let i = 0; i <= 80; i++) g.push(0.05 * (10 / 0.05) ** (i / 80)); // 0.05 … 10 per year
  return g;
})();

function dayNumber(date: string): number {
  return Date.UTC(Number(date.slice(0, 4)), Number(date.slice(5, 7)) - 1, Number(date.slice(8, 10))) / 86_400_000;
}

/** Mid-month of a yyyymm as a day number. */
function deliveryDay(ym: number): number {
  return Date.UTC(Math.floor(ym / 100), (ym % 100) - 1, 15) / 86_400_000;
}

/** One interval between consecutive snapshots: its length and the log returns of the delivery months both snapshots quote. */
interface Interval {
  dt: number; // years
  tau: Float64Array; // years to mid-delivery at the interval's start
  r: Float64Array; // log return
  m: Int8Array; // delivery calendar month 0..11
}

function collect(history: readonly HistorySnapshot[]): Interval[] {
  const snaps = [...history].sort((a, b) => (a.asofDate < b.asofDate ? -1 : a.asofDate > b.asofDate ? 1 : 0));
  const out: Interval[] = [];
  for (let i = 1; i < snaps.length; i++) {
    const s0 = snaps[i - 1]!;
    const s1 = snaps[i]!;
    const d0 = dayNumber(s0.asofDate);
    const dt = (dayNumber(s1.asofDate) - d0) / 365.25;
    if (!(dt > 0)) continue;
    const next = new Map<number, number>();
    for (let j = 0; j < s1.months.length; j++) next.set(s1.months[j]!, s1.mid[j]!);
    const tau: number[] = [];
    const r: number[] = [];
    const m: number[] = [];
    for (let j = 0; j < s0.months.length; j++) {
      const ym = s0.months[j]!;
      const f0 = s0.mid[j]!;
      const f1 = next.get(ym);
      if (f1 === undefined || !(f0 > 0) || !(f1 > 0)) continue;
      const t = (deliveryDay(ym) - d0) / 365.25;
      if (!(t > dt) || t > MAX_TAU_YEARS) continue; // delivered before the next snapshot, or beyond the fitted range
      tau.push(t);
      r.push(Math.log(f1 / f0));
      m.push((ym % 100) - 1);
    }
    if (r.length) out.push({ dt, tau: Float64Array.from(tau), r: Float64Array.from(r), m: Int8Array.from(m) });
  }
  return out;
}

/** Delivery months further out than this are not used (the cell grid is whole months up to it). */
const MAX_TAU_YEARS = 10;
const NB = 120;

type Fit = { kappa: number; A: number; B: number; C: number; sse: number };

/**
 * Weighted least squares of the binned return covariances c_ij on
 * (e^{−κ(τi+τj)}, e^{−κτi} + e^{−κτj}, 1) = the coefficients of (σχ², ρσχσξ, σξ²), for each κ of the grid.
 * The diagonal cells are the variances v(τ); the off-diagonal ones identify ρ.
 */
function fitTermStructure(ti: Float64Array, tj: Float64Array, v: Float64Array, w: Float64Array): Fit {
  let best: Fit = { kappa: KAPPA_GRID[0]!, A: 0, B: 0, C: 0, sse: Number.POSITIVE_INFINITY };
  const M = new Array<number>(9);
  const y = new Array<number>(3);
  const x = [0, 0, 1];
  for (const kappa of KAPPA_GRID) {
    M.fill(0);
    y.fill(0);
    for (let i = 0; i < ti.length; i++) {
      const ei = Math.exp(-kappa * ti[i]!);
      const ej = Math.exp(-kappa * tj[i]!);
      x[0] = ei * ej;
      x[1] = ei + ej;
      const wi = w[i]!;
      for (let r = 0; r < 3; r++) {
        y[r]! += wi * x[r]! * v[i]!;
        for (let c = 0; c < 3; c++) M[3 * r + c]! += wi * x[r]! * x[c]!;
      }
    }
    const beta = constrained(M, y);
    if (beta === null) continue;
    let sse = 0;
    for (let i = 0; i < ti.length; i++) {
      const ei = Math.exp(-kappa * ti[i]!);
      const ej = Math.exp(-kappa * tj[i]!);
      const d = beta[0]! * ei * ej + beta[1]! * (ei + ej) + beta[2]! - v[i]!;
      sse += w[i]! * d * d;
    }
    if (sse < best.sse) best = { kappa, A: beta[0]!, B: beta[1]!, C: beta[2]!, sse };
  }
  return best;
}

/** Solves the 3×3 system; a negative variance (A or C) is set to 0 and the rest refitted; |B| ≤ √(AC). */
function constrained(M: number[], y: number[]): number[] | null {
  const full = solve3(M, y);
  if (full && full[0]! >= 0 && full[2]! >= 0) return clampB(full);
  // A ≥ 0 and C ≥ 0 constraints: try each subset with fixed zeros, keep the valid one with the least loss
  const candidates: number[][] = [];
  for (const zero of [[0], [2], [0, 2]]) {
    const keep = [0, 1, 2].filter((i) => !zero.includes(i));
    const n = keep.length;
    const Ms = new Array(n * n).fill(0);
    const ys = new Array(n).fill(0);
    for (let r = 0; r < n; r++) {
      ys[r] = y[keep[r]!]!;
      for (let c = 0; c < n; c++) Ms[n * r + c] = M[3 * keep[r]! + keep[c]!]!;
    }
    const sol = n === 1 ? (Ms[0] !== 0 ? [ys[0] / Ms[0]] : null) : solve2(Ms, ys);
    if (!sol) continue;
    const b = [0, 0, 0];
    keep.forEach((k, i) => {
      b[k] = sol[i]!;
    });
    if (b[0]! >= 0 && b[2]! >= 0) candidates.push(b);
  }
  if (!candidates.length) return null;
  // loss up to a constant: β'Mβ − 2β'y
  const loss = (b: number[]) => {
    let q = 0;
    for (let r = 0; r < 3; r++) {
      q -= 2 * b[r]! * y[r]!;
      for (let c = 0; c < 3; c++) q += b[r]! * M[3 * r + c]! * b[c]!;
    }
    return q;
  };
  candidates.sort((p, q) => loss(p) - loss(q));
  return clampB(candidates[0]!);
}

function clampB(b: number[]): number[] {
  const lim = Math.sqrt(b[0]! * b[2]!);
  return [b[0]!, Math.min(lim, Math.max(-lim, b[1]!)), b[2]!];
}

function solve2(M: number[], y: number[]): number[] | null {
  const det = M[0]! * M[3]! - M[1]! * M[2]!;
  if (Math.abs(det) < 1e-300) return null;
  return [(y[0]! * M[3]! - M[1]! * y[1]!) / det, (M[0]! * y[1]! - M[2]! * y[0]!) / det];
}

function solve3(M: number[], y: number[]): number[] | null {
  const [a, b, c, d, e, f, g, h, i] = M as [number, number, number, number, number, number, number, number, number];
  const det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
  if (!(Math.abs(det) > 1e-300)) return null;
  const inv = [e * i - f * h, c * h - b * i, b * f - c * e, f * g - d * i, a * i - c * g, c * d - a * f, d * h - e * g, b * g - a * h, a * e - b * d];
  return [0, 1, 2].map((r) => (inv[3 * r]! * y[0]! + inv[3 * r + 1]! * y[1]! + inv[3 * r + 2]! * y[2]!) / det);
}

/**
 * Bins the products r_i·r_j of each interval (deseasonalised: r / s_m) by whole months to delivery
 * (i ≤ j), as covariance per year Σ r_i r_j / Σ Δt, and fits the term structure.
 */
function fit(iv: Interval[], s: number[]): Fit {
  const cells = NB * NB;
  const sum = new Float64Array(cells);
  const sdt = new Float64Array(cells);
  const sti = new Float64Array(cells);
  const stj = new Float64Array(cells);
  const cnt = new Float64Array(cells);
  const b = new Int32Array(NB * 4);
  const z = new Float64Array(NB * 4);
  for (const x of iv) {
    const n = Math.min(x.r.length, b.length);
    for (let i = 0; i < n; i++) {
      b[i] = Math.min(NB - 1, Math.floor(x.tau[i]! * 12));
      z[i] = x.r[i]! / s[x.m[i]!]!;
    }
    for (let i = 0; i < n; i++)
      for (let j = i; j < n; j++) {
        const bi = b[i]!;
        const bj = b[j]!;
        const c = bi <= bj ? bi * NB + bj : bj * NB + bi;
        sum[c]! += z[i]! * z[j]!;
        sdt[c]! += x.dt;
        sti[c]! += x.tau[i]!;
        stj[c]! += x.tau[j]!;
        cnt[c]! += 1;
      }
  }
  const ti: number[] = [];
  const tj: number[] = [];
  const v: number[] = [];
  const w: number[] = [];
  for (let c = 0; c < cells; c++) {
    if (cnt[c]! < 2) continue;
    ti.push(sti[c]! / cnt[c]!);
    tj.push(stj[c]! / cnt[c]!);
    v.push(sum[c]! / sdt[c]!);
    w.push(cnt[c]!);
  }
  return fitTermStructure(Float64Array.from(ti), Float64Array.from(tj), Float64Array.from(v), Float64Array.from(w));
}

const round6 = (x: number) => Number(x.toPrecision(6));

/**
 * The calibration of one curve from its snapshots (any order, on or before the run's as-of date).
 * Fewer than MIN_SNAPSHOTS snapshots, fewer than MIN_RETURNS usable returns, or a degenerate fit:
 * the product's default (source "default", n_snapshots recorded).
 */
export function calibrateCurve(product: Product, history: readonly HistorySnapshot[]): CurveCalibration {
  const n = history.length;
  if (n < MIN_SNAPSHOTS) return defaultCalibration(product, n);
  const iv = collect(history);
  let nObs = 0;
  for (const x of iv) nObs += x.r.length;
  if (nObs < MIN_RETURNS) return defaultCalibration(product, n);
  const ones = new Array<number>(12).fill(1);
  let f = fit(iv, ones);
  if (!Number.isFinite(f.sse)) return defaultCalibration(product, n);
  // seasonality: realised / model variance per delivery calendar month, normalised to mean 1
  const num = new Array<number>(12).fill(0);
  const den = new Array<number>(12).fill(0);
  for (const x of iv)
    for (let i = 0; i < x.r.length; i++) {
      const e1 = Math.exp(-f.kappa * x.tau[i]!);
      num[x.m[i]!]! += x.r[i]! * x.r[i]!;
      den[x.m[i]!]! += (f.A * e1 * e1 + 2 * f.B * e1 + f.C) * x.dt;
    }
  let s2 = num.map((v, m) => (den[m]! > 0 && v > 0 ? v / den[m]! : Number.NaN));
  const seen = s2.filter(Number.isFinite);
  const mean = seen.length ? seen.reduce((a, b) => a + b, 0) / seen.length : 1;
  s2 = s2.map((v) => (Number.isFinite(v) && mean > 0 ? Math.min(4, Math.max(0.25, v / mean)) : 1));
  const season = s2.map(Math.sqrt);
  f = fit(iv, season);
  if (!Number.isFinite(f.sse)) return defaultCalibration(product, n);
  const sigmaShort = Math.sqrt(f.A);
  const sigmaLong = Math.sqrt(f.C);
  const rho = sigmaShort > 0 && sigmaLong > 0 ? Math.max(-1, Math.min(1, f.B / (sigmaShort * sigmaLong))) : 0;
  if (!(sigmaShort <= 5 && sigmaLong <= 5)) return defaultCalibration(product, n);
  return {
    source: "history",
    n_snapshots: n,
    kappa: round6(f.kappa),
    sigma_short: round6(sigmaShort),
    sigma_long: round6(sigmaLong),
    rho: round6(rho),
    seasonality: season.map(round6),
  };
}

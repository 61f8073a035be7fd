/**
 * Calibrated, horizon-aware uncertainty (docs/model.md §7): a Schwartz–Smith two-factor process per
 * curve (mean-reverting short-term factor χ, random-walk long-term factor ξ) with a per-calendar-month
 * volatility multiplier, shocks correlated across curves through a common gas factor.
 *
 * - Monthly bands are closed-form lognormal quantiles of the price multiplier M_k = S_T / F(0, T).
 * - Quarter and calendar bands are Monte Carlo quantiles of the hour×price-weighted period average of
 *   M, with the standard error of each band quantile (order-statistic interval) summarised per run.
 * - For the central-estimate evaluator, each band point is also split into a fuel multiplier and a
 *   power (residual) multiplier (§7.4).
 *
 * Pure and deterministic for a seed: common random numbers come from one stream per run (seeded by
 * the seed only), each curve's own shocks from a stream seeded by the seed and its key, so no curve's
 * band depends on the other curves or their order (except through the reference gas curve, §7.4).
 */
import { fnv1a32 } from "./hash";
import { invNormalCdf, select } from "./quantile";
import { Xoshiro128 } from "./rng";
import type { BandStats, BaselineCurve, CurveCalibration, Product } from "./types";

type TwoFactor = Omit<CurveCalibration, "source" | "n_snapshots"> & { seasonality: number[] };

/**
 * Defaults per product when a curve has too little stored history (docs/model.md §7.2). Short-term
 * parameters keep the v1 one-factor values (κ, σ); the long-term volatility and factor correlation
 * are of the order Schwartz & Smith (2000) estimated for crude oil (σξ 0.145, ρ 0.30), lower for
 * power and coal whose long-dated forwards move less than their front months.
 */
export const TWO_FACTOR_DEFAULTS: Readonly<Record<Product, Readonly<TwoFactor>>> = {
  // power: summer (Jul–Aug) and winter (Jan) peaks are the volatile months
  power: { kappa: 1.5, sigma_short: 0.45, sigma_long: 0.12, rho: 0.3, seasonality: [1.1, 1.05, 0.92, 0.88, 0.9, 1.0, 1.15, 1.15, 0.98, 0.88, 0.92, 1.02] },
  // gas: winter withdrawal season
  natural_gas: { kappa: 1.0, sigma_short: 0.4, sigma_long: 0.15, rho: 0.3, seasonality: [1.2, 1.15, 1.0, 0.9, 0.85, 0.85, 0.9, 0.9, 0.9, 0.95, 1.05, 1.2] },
  coal: { kappa: 0.8, sigma_short: 0.25, sigma_long: 0.1, rho: 0.3, seasonality: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1] },
  co2: { kappa: 0.5, sigma_short: 0.35, sigma_long: 0.15, rho: 0.3, seasonality: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1] },
  oil: { kappa: 0.7, sigma_short: 0.35, sigma_long: 0.15, rho: 0.3, seasonality: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1] },
};

/**
 * Loading ℓ of each curve's shocks on the common gas factor: corr(curve A, curve B) of the factor
 * shocks is ℓ_A·ℓ_B. Gas hubs move almost together; power follows gas most where gas is most often
 * marginal (New England, New York, PJM, ERCOT), least in the hydro Northwest (docs/model.md §7.3).
 */
export const GAS_LOADING_BY_PRODUCT: Readonly<Record<Exclude<Product, "power">, number>> = { natural_gas: 0.95, oil: 0.4, coal: 0.3, co2: 0.3 };
export const POWER_GAS_LOADING: Readonly<Record<string, number>> = {
  "iso-ne": 0.8,
  isone: 0.8,
  nyiso: 0.75,
  pjm: 0.7,
  ercot: 0.7,
  caiso: 0.6,
  miso: 0.6,
  spp: 0.6,
  "mid-c": 0.4,
  wecc: 0.4,
};
export const DEFAULT_POWER_GAS_LOADING = 0.6;

/** Common-factor stream id; a curve key with the same 32-bit FNV-1a hash would share it (odds 2⁻³²). */
const COMMON_STREAM = fnv1a32("\u0000aurum-common-gas-factor");

export function gasLoading(c: Pick<BaselineCurve, "product" | "market">): number {
  if (c.product !== "power") return GAS_LOADING_BY_PRODUCT[c.product] ?? 0;
  return POWER_GAS_LOADING[c.market.trim().toLowerCase()] ?? DEFAULT_POWER_GAS_LOADING;
}

export function defaultCalibration(product: Product, nSnapshots = 0): CurveCalibration {
  const d = TWO_FACTOR_DEFAULTS[product] ?? TWO_FACTOR_DEFAULTS.power;
  return { source: "default", n_snapshots: nSnapshots, kappa: d.kappa, sigma_short: d.sigma_short, sigma_long: d.sigma_long, rho: d.rho, seasonality: [...d.seasonality] };
}

/**
 * Variance of ln(S_T / F(0,T)) after T years, before the seasonal multiplier:
 * σχ²(1−e^{−2κT})/(2κ) + σξ²·T + 2ρσχσξ(1−e^{−κT})/κ.
 */
export function logVariance(c: Pick<CurveCalibration, "kappa" | "sigma_short" | "sigma_long" | "rho">, T: number): number {
  const k = c.kappa;
  const v =
    (c.sigma_short * c.sigma_short * -Math.expm1(-2 * k * T)) / (2 * k) + c.sigma_long * c.sigma_long * T + (2 * c.rho * c.sigma_short * c.sigma_long * -Math.expm1(-k * T)) / k;
  return Math.max(v, 0);
}

/** Seasonal volatility multiplier of a delivery month yyyymm. */
export function seasonalFactor(c: Pick<CurveCalibration, "seasonality">, yyyymm: number): number {
  const s = c.seasonality;
  return s ? s[(yyyymm % 100) - 1]! : 1;
}

/** Checks a calibration entry; returns messages (empty when valid). */
export function calibrationIssues(c: unknown): string[] {
  const out: string[] = [];
  if (c === null || typeof c !== "object") return ["must be an object"];
  const o = c as Record<string, unknown>;
  const fin = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
  if (o.source !== "history" && o.source !== "default") out.push("source must be history or default");
  if (!Number.isInteger(o.n_snapshots) || (o.n_snapshots as number) < 0) out.push("n_snapshots must be a non-negative integer");
  if (!fin(o.kappa) || o.kappa < 1e-4 || o.kappa > 100) out.push("kappa must be in [0.0001, 100]");
  if (!fin(o.sigma_short) || o.sigma_short < 0 || o.sigma_short > 5) out.push("sigma_short must be in [0, 5]");
  if (!fin(o.sigma_long) || o.sigma_long < 0 || o.sigma_long > 5) out.push("sigma_long must be in [0, 5]");
  if (!fin(o.rho) || o.rho < -1 || o.rho > 1) out.push("rho must be in [-1, 1]");
  if (o.seasonality !== undefined) {
    const s = o.seasonality;
    if (!Array.isArray(s) || s.length !== 12 || !s.every((v) => fin(v) && v > 0 && v <= 5)) out.push("seasonality must be 12 numbers in (0, 5]");
  }
  return out;
}

/** Per-curve band output (reused across curves; sized for the longest curve). */
export class CurveBands {
  /** Monthly quantiles of the price multiplier, per valued month t. */
  mLo: Float64Array;
  mHi: Float64Array;
  /** The band points split into fuel and power (residual) multipliers (§7.4). */
  fuelLo: Float64Array;
  fuelHi: Float64Array;
  powerLo: Float64Array;
  powerHi: Float64Array;
  /** Period quantiles per aggregate slot (quarters in time order, then years), their split and standard errors. */
  aggLo: Float64Array;
  aggHi: Float64Array;
  aggFuelLo: Float64Array;
  aggFuelHi: Float64Array;
  aggPowerLo: Float64Array;
  aggPowerHi: Float64Array;
  aggSeLo: Float64Array;
  aggSeHi: Float64Array;
  /** Per-path shocks of the curve's first quarter (slot 0), kept for validation (cross-curve correlation). */
  readonly firstPeriod: Float64Array;
  /** Scratch. */
  readonly logVar: Float64Array;
  readonly gasVar: Float64Array;
  readonly chi: Float64Array;
  readonly xi: Float64Array;
  readonly qAcc: Float64Array;
  readonly yAcc: Float64Array;
  readonly s: Float64Array;
  readonly buf: Float64Array;
  readonly z1: Float64Array;
  readonly z2: Float64Array;
  constructor(maxT: number, nPaths: number) {
    const maxAgg = Math.ceil(maxT / 3) + Math.ceil(maxT / 12) + 2;
    const f = () => new Float64Array(Math.max(1, maxT));
    const g = () => new Float64Array(maxAgg);
    const p = () => new Float64Array(nPaths);
    this.mLo = f();
    this.mHi = f();
    this.fuelLo = f();
    this.fuelHi = f();
    this.powerLo = f();
    this.powerHi = f();
    this.logVar = f();
    this.gasVar = f();
    this.aggLo = g();
    this.aggHi = g();
    this.aggFuelLo = g();
    this.aggFuelHi = g();
    this.aggPowerLo = g();
    this.aggPowerHi = g();
    this.aggSeLo = g();
    this.aggSeHi = g();
    this.chi = p();
    this.xi = p();
    this.qAcc = p();
    this.yAcc = p();
    this.s = p();
    this.buf = p();
    this.firstPeriod = p();
    this.z1 = p();
    this.z2 = p();
  }
}

/** One curve's valued window: horizon offset a of its first valued month, T months, absolute month index of t = 0. */
export interface CurveWindow {
  a: number;
  T: number;
  hFirst: number;
  /** Aggregation weight per t (block hours). */
  weight: Float64Array;
  /** Central mid per t (the period shock is weighted by hours × |mid|). */
  mid: Float64Array;
  /** Period labels per horizon month k (for the standard-error summary). */
  qLabels: readonly string[];
  yLabels: readonly string[];
}

const Z95 = 1.959963984540054;

/** Run-level band model: parameters, common random numbers, standard-error summary. */
export class RunBands {
  private readonly zLo: number;
  private readonly zHi: number;
  private readonly qLo: number;
  private readonly qHi: number;
  private readonly nP: number;
  private readonly seedLo: number;
  private readonly seedHi: number;
  private readonly gasCal: CurveCalibration;
  private readonly common: Xoshiro128;
  private c1 = new Float64Array(0);
  private c2 = new Float64Array(0);
  private commonSteps = 0;
  private seList: { lo: number[]; hi: number[]; rel: number[] } = { lo: [], hi: [], rel: [] };
  private worst: BandStats["worst"] = null;

  constructor(
    curves: readonly BaselineCurve[],
    private readonly calibration: Record<string, CurveCalibration> | undefined,
    opts: { nPaths: number; qLo: number; qHi: number; seed: number; hYm: Int32Array },
    private readonly hYm = opts.hYm,
  ) {
    this.nP = opts.nPaths;
    this.qLo = opts.qLo;
    this.qHi = opts.qHi;
    this.zLo = invNormalCdf(opts.qLo);
    this.zHi = invNormalCdf(opts.qHi);
    this.seedLo = opts.seed >>> 0;
    this.seedHi = Math.floor(opts.seed / 4294967296) >>> 0;
    this.common = new Xoshiro128(this.seedLo ^ COMMON_STREAM, this.seedHi);
    // Reference gas curve for the fuel split: the natural-gas curve with the smallest key (order-independent).
    let ref: BaselineCurve | undefined;
    for (const c of curves) if (c.product === "natural_gas" && (ref === undefined || c.curveKey < ref.curveKey)) ref = c;
    this.gasCal = ref ? this.calibrationOf(ref) : defaultCalibration("natural_gas");
  }

  private readonly defaults = new Map<string, CurveCalibration>();
  calibrationOf(c: BaselineCurve): CurveCalibration {
    const own = this.calibration?.[c.curveKey];
    if (own) return own;
    let d = this.defaults.get(c.product);
    if (d === undefined) {
      d = defaultCalibration(c.product);
      this.defaults.set(c.product, d);
    }
    return d;
  }

  /** Extends the common-factor normals (two per path and month step) to `steps` steps, in step order. */
  private ensureCommon(steps: number): void {
    if (steps <= this.commonSteps) return;
    const nP = this.nP;
    if (this.c1.length < steps * nP) {
      const cap = Math.max(steps, this.commonSteps * 2) * nP;
      const n1 = new Float64Array(cap);
      const n2 = new Float64Array(cap);
      n1.set(this.c1.subarray(0, this.commonSteps * nP));
      n2.set(this.c2.subarray(0, this.commonSteps * nP));
      this.c1 = n1;
      this.c2 = n2;
    }
    for (let st = this.commonSteps; st < steps; st++) {
      this.common.fillNormals(this.c1.subarray(st * nP, (st + 1) * nP), nP);
      this.common.fillNormals(this.c2.subarray(st * nP, (st + 1) * nP), nP);
    }
    this.commonSteps = steps;
  }

  /** Fills `out` for one curve: closed-form monthly quantiles and their split; Monte Carlo period quantiles. */
  curve(curve: BaselineCurve, w: CurveWindow, out: CurveBands): void {
    const cal = this.calibrationOf(curve);
    const isPower = curve.product === "power";
    const load = gasLoading(curve);
    // correlation of this curve's factor shocks with the reference gas curve's
    const rhoPG = isPower ? load * gasLoading({ product: "natural_gas", market: "" }) : 1;
    const resid = Math.sqrt(Math.max(0, 1 - rhoPG * rhoPG));
    this.monthlyQuantiles(cal, w, out, isPower, rhoPG, resid);
    this.periodQuantiles(curve, cal, w, out, isPower, rhoPG, resid);
  }

  /** Closed-form monthly quantiles, ln M_k ~ N(−V_k/2, V_k), and their fuel/power split (ρ of the curve with gas: rhoPG). */
  private monthlyQuantiles(cal: CurveCalibration, w: CurveWindow, out: CurveBands, isPower: boolean, rhoPG: number, resid: number): void {
    const gas = this.gasCal;
    const { a, T } = w;
    const { mLo, mHi, fuelLo, fuelHi, powerLo, powerHi, logVar, gasVar } = out;
    for (let t = 0; t < T; t++) {
      const k = a + t;
      const ym = this.hYm[k]!;
      const Ty = (k + 1) / 12;
      const sm = seasonalFactor(cal, ym);
      const V = sm * sm * logVariance(cal, Ty);
      logVar[t] = V;
      const sd = Math.sqrt(V);
      const yLo = this.zLo * sd - 0.5 * V;
      const yHi = this.zHi * sd - 0.5 * V;
      mLo[t] = Math.exp(yLo);
      mHi[t] = Math.exp(yHi);
      if (isPower) {
        const sg = seasonalFactor(gas, ym);
        const VG = sg * sg * logVariance(gas, Ty);
        gasVar[t] = VG;
        const beta = sd > 0 ? (rhoPG * Math.sqrt(VG)) / sd : 0;
        fuelLo[t] = Math.exp(beta * yLo);
        fuelHi[t] = Math.exp(beta * yHi);
        powerLo[t] = Math.exp(resid * yLo);
        powerHi[t] = Math.exp(resid * yHi);
      } else {
        fuelLo[t] = mLo[t]!;
        fuelHi[t] = mHi[t]!;
        powerLo[t] = 1;
        powerHi[t] = 1;
      }
    }
  }

  /** Monte Carlo quantiles of the full quarters and years in the window (the paths share the common factor with every curve). */
  private periodQuantiles(curve: BaselineCurve, cal: CurveCalibration, w: CurveWindow, out: CurveBands, isPower: boolean, rhoPG: number, resid: number): void {
    const { a, T } = w;
    const { logVar } = out;
    const load = gasLoading(curve);
    const hFirst = w.hFirst;
    const hLast = hFirst + T - 1;
    let tEnd = -1; // last valued month that closes a full quarter
    for (let t = T - 1; t >= 0; t--) {
      const m = hFirst + t;
      if (m % 3 === 2 && m - 2 >= hFirst) {
        tEnd = t;
        break;
      }
    }
    if (tEnd < 0) return;
    const nP = this.nP;
    const steps = a + tEnd + 1;
    this.ensureCommon(steps);
    const c1 = this.c1;
    const c2 = this.c2;
    const rng = new Xoshiro128(this.seedLo ^ fnv1a32(curve.curveKey), this.seedHi);
    const kap = cal.kappa;
    const phi = Math.exp(-kap / 12);
    const vChi = (cal.sigma_short * cal.sigma_short * -Math.expm1((-2 * kap) / 12)) / (2 * kap);
    const vXi = (cal.sigma_long * cal.sigma_long) / 12;
    const cov = (cal.rho * cal.sigma_short * cal.sigma_long * -Math.expm1(-kap / 12)) / kap;
    const a11 = Math.sqrt(vChi);
    const a21 = a11 > 0 ? cov / a11 : 0;
    const a22 = Math.sqrt(Math.max(0, vXi - a21 * a21));
    const lc = load;
    const li = Math.sqrt(Math.max(0, 1 - load * load));
    const { chi, xi, qAcc, yAcc, z1, z2 } = out;
    chi.fill(0, 0, nP);
    xi.fill(0, 0, nP);
    qAcc.fill(0, 0, nP);
    yAcc.fill(0, 0, nP);
    let qW = 0;
    let yW = 0;
    let slot = 0;
    let ySlot = 0;
    for (let m = hFirst; m <= hLast; m++) if (m % 3 === 0 && m + 2 <= hLast) ySlot++; // years follow the quarters
    for (let st = 0; st < steps; st++) {
      const off = st * nP;
      rng.fillNormals(z1, nP);
      rng.fillNormals(z2, nP);
      for (let p = 0; p < nP; p++) {
        const u1 = lc * c1[off + p]! + li * z1[p]!;
        const u2 = lc * c2[off + p]! + li * z2[p]!;
        chi[p] = phi * chi[p]! + a11 * u1;
        xi[p] = xi[p]! + a21 * u1 + a22 * u2;
      }
      if (st < a) continue;
      const t = st - a;
      const m = hFirst + t;
      const qStart = m - (m % 3);
      if (qStart < hFirst || qStart + 2 > hLast) continue;
      const sm = seasonalFactor(cal, this.hYm[st]!);
      const half = 0.5 * logVar[t]!;
      const am = Math.abs(w.mid[t]!);
      const om = w.weight[t]! * (am > 0 ? am : 1e-300);
      qW += om;
      for (let p = 0; p < nP; p++) qAcc[p] = qAcc[p]! + om * Math.exp(sm * (chi[p]! + xi[p]!) - half);
      if (m !== qStart + 2) continue;
      this.period(curve, out, qAcc, qW, slot++, w.qLabels[a + t - 2]!, isPower, rhoPG, resid, a + t - 1);
      const yStart = m - (m % 12);
      const yearFull = yStart >= hFirst && yStart + 11 <= hLast;
      if (yearFull) {
        for (let p = 0; p < nP; p++) yAcc[p] = yAcc[p]! + qAcc[p]!;
        yW += qW;
      }
      qAcc.fill(0, 0, nP);
      qW = 0;
      if (yearFull && m === yStart + 11) {
        this.period(curve, out, yAcc, yW, ySlot++, w.yLabels[a + t - 11]!, isPower, rhoPG, resid, a + t - 6);
        yAcc.fill(0, 0, nP);
        yW = 0;
      }
    }
  }

  /** Quantiles (with standard errors) of the period shock acc_p / W, and their fuel/power split at the period's middle month kMid. */
  private period(
    curve: BaselineCurve,
    out: CurveBands,
    acc: Float64Array,
    W: number,
    slot: number,
    label: string,
    isPower: boolean,
    rhoPG: number,
    resid: number,
    kMid: number,
  ): void {
    const nP = this.nP;
    const s = out.s;
    const inv = 1 / W;
    for (let p = 0; p < nP; p++) s[p] = acc[p]! * inv;
    if (slot === 0) out.firstPeriod.set(s.subarray(0, nP));
    quantilesWithSE(s, nP, this.qLo, this.qHi, out.buf, out, slot);
    const lo = out.aggLo[slot]!;
    const hi = out.aggHi[slot]!;
    if (isPower) {
      const Ty = (kMid + 1) / 12;
      const ym = this.hYm[kMid]!;
      const cal = this.calibrationOf(curve);
      const sc = seasonalFactor(cal, ym);
      const sg = seasonalFactor(this.gasCal, ym);
      const sdP = sc * Math.sqrt(logVariance(cal, Ty));
      const sdG = sg * Math.sqrt(logVariance(this.gasCal, Ty));
      const beta = sdP > 0 ? (rhoPG * sdG) / sdP : 0;
      out.aggFuelLo[slot] = Math.exp(beta * Math.log(lo));
      out.aggFuelHi[slot] = Math.exp(beta * Math.log(hi));
      out.aggPowerLo[slot] = Math.exp(resid * Math.log(lo));
      out.aggPowerHi[slot] = Math.exp(resid * Math.log(hi));
    } else {
      out.aggFuelLo[slot] = lo;
      out.aggFuelHi[slot] = hi;
      out.aggPowerLo[slot] = 1;
      out.aggPowerHi[slot] = 1;
    }
    const seLo = out.aggSeLo[slot]!;
    const seHi = out.aggSeHi[slot]!;
    this.seList.lo.push(seLo);
    this.seList.hi.push(seHi);
    if (hi - 1 > 1e-9) {
      const rel = seHi / (hi - 1);
      this.seList.rel.push(rel);
      if (this.worst === null || rel > this.worst.rel_se) this.worst = { curve_key: curve.curveKey, tenor_label: label, rel_se: rel };
    }
  }

  /** Summary of the Monte Carlo standard errors of every period band of the run. */
  stats(): BandStats {
    const sum = (v: number[]) => {
      if (!v.length) return { median: 0, max: 0 };
      const s = Float64Array.from(v).sort();
      const n = s.length;
      return { median: n % 2 ? s[(n - 1) / 2]! : 0.5 * (s[n / 2 - 1]! + s[n / 2]!), max: s[n - 1]! };
    };
    return {
      method: "order-statistic interval: SE = (X(j+m) − X(j−m)) / (2·1.96), m = ⌈1.96·√(n·q·(1−q))⌉",
      mc_paths: this.nP,
      periods: this.seList.lo.length,
      se_lower: sum(this.seList.lo),
      se_upper: sum(this.seList.hi),
      rel_se_upper_half_width: sum(this.seList.rel),
      worst: this.worst,
    };
  }
}

/**
 * Type-7 quantiles of s[0..n) at qLo ≤ qHi into out.aggLo/aggHi[slot], with the standard error of
 * each from the distribution-free order-statistic interval: X(j−m) and X(j+m) with
 * m = ⌈1.96·√(n q (1−q))⌉ bracket the q-quantile with about 95 % probability, so
 * SE ≈ (X(j+m) − X(j−m)) / (2·1.96). Copies s into buf; s is unchanged.
 *
 * Selection order keeps the work near 2n: the lower tail is cut off at its largest needed order
 * statistic and searched inside, then the upper tail likewise; overlapping tails sort the copy.
 */
export function quantilesWithSE(
  s: Float64Array,
  n: number,
  qLo: number,
  qHi: number,
  buf: Float64Array,
  out: { aggLo: Float64Array; aggHi: Float64Array; aggSeLo: Float64Array; aggSeHi: Float64Array },
  slot: number,
): void {
  buf.set(s.subarray(0, n));
  const hl = (n - 1) * qLo;
  const jl = Math.floor(hl);
  const ml = Math.ceil(Z95 * Math.sqrt(n * qLo * (1 - qLo)));
  const hh = (n - 1) * qHi;
  const jh = Math.floor(hh);
  const mh = Math.ceil(Z95 * Math.sqrt(n * qHi * (1 - qHi)));
  const aL = Math.max(0, jl - ml);
  const jL1 = Math.min(n - 1, jl + 1);
  const bL = Math.min(n - 1, Math.max(jL1, jl + ml));
  const aU = Math.max(0, Math.min(jh, jh - mh));
  const jU1 = Math.min(n - 1, jh + 1);
  const bU = Math.min(n - 1, Math.max(jU1, jh + mh));
  if (aU <= bL) {
    buf.subarray(0, n).sort();
  } else {
    // lower tail: [0, bL] holds the bL+1 smallest once bL is selected
    select(buf, 0, n - 1, bL);
    if (jL1 < bL) select(buf, 0, bL - 1, jL1);
    if (jl < jL1) select(buf, 0, jL1 - 1, jl);
    if (aL < jl) select(buf, 0, jl - 1, aL);
    // upper tail: [aU, n) holds the n − aU largest once aU is selected
    select(buf, bL + 1, n - 1, aU);
    if (jh > aU) select(buf, aU + 1, n - 1, jh);
    if (jU1 > jh) select(buf, jh + 1, n - 1, jU1);
    if (bU > jU1) select(buf, jU1 + 1, n - 1, bU);
  }
  const fl = hl - jl;
  const fh = hh - jh;
  out.aggLo[slot] = fl === 0 ? buf[jl]! : buf[jl]! + fl * (buf[jL1]! - buf[jl]!);
  out.aggHi[slot] = fh === 0 ? buf[jh]! : buf[jh]! + fh * (buf[jU1]! - buf[jh]!);
  out.aggSeLo[slot] = (buf[bL]! - buf[aL]!) / (2 * Z95);
  out.aggSeHi[slot] = (buf[bU]! - buf[aU]!) / (2 * Z95);
}

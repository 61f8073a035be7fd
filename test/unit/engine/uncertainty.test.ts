/**
 * Uncertainty model validation (docs/model-validation.md): calibration recovery, band coverage on
 * synthetic paths, horizon growth on the sample power curves, cross-curve correlation, Monte Carlo
 * standard errors; each checker also has a negative test showing it rejects a wrong model.
 */
import { describe, expect, test } from "bun:test";
import { curveObservations, SAMPLE_CURVES } from "../../../src/curves/sample";
import { type BaselineCurve, type CurveCalibration, DEFAULT_PARAMETERS, type EngineInput, runScenario } from "../../../src/engine";
import { calibrateCurve, MIN_SNAPSHOTS } from "../../../src/engine/calibrate";
import { CurveBands, defaultCalibration, gasLoading, logVariance, RunBands, TWO_FACTOR_DEFAULTS } from "../../../src/engine/uncertainty";
import { simulateHistory, simulateMultipliers, type TrueParams } from "./synthetic";

// ---------------------------------------------------------------- checkers

/** Stated tolerance of calibration recovery (docs/model-validation.md §2). */
export const TOLERANCE = { kappa: 0.25, sigma_short: 0.12, sigma_long: 0.12, rho: 0.2, seasonality: 0.06 };

/** Failures of an estimate against the truth (empty: recovered). Seasonality is compared after normalising the truth to mean-square 1, as the calibration does. */
function recoveryFailures(est: CurveCalibration, truth: TrueParams): string[] {
  const f: string[] = [];
  const rel = (a: number, b: number) => Math.abs(a / b - 1);
  const s = truth.seasonality ?? new Array(12).fill(1);
  const ms = s.reduce((a, b) => a + b * b, 0) / 12;
  const scale = Math.sqrt(ms); // σ's absorb the mean-square of the seasonality
  if (est.source !== "history") f.push(`source ${est.source}`);
  if (rel(est.kappa, truth.kappa) > TOLERANCE.kappa) f.push(`kappa ${est.kappa} vs ${truth.kappa}`);
  if (rel(est.sigma_short, truth.sigma_short * scale) > TOLERANCE.sigma_short) f.push(`sigma_short ${est.sigma_short} vs ${truth.sigma_short * scale}`);
  if (rel(est.sigma_long, truth.sigma_long * scale) > TOLERANCE.sigma_long) f.push(`sigma_long ${est.sigma_long} vs ${truth.sigma_long * scale}`);
  if (Math.abs(est.rho - truth.rho) > TOLERANCE.rho) f.push(`rho ${est.rho} vs ${truth.rho}`);
  (est.seasonality ?? []).forEach((v, m) => {
    if (Math.abs(v - s[m]! / scale) > TOLERANCE.seasonality) f.push(`seasonality[${m}] ${v} vs ${s[m]! / scale}`);
  });
  return f;
}

/** Fraction of the realisations x[path·H + k] (k fixed) inside [lo, hi]. */
function coverage(x: Float64Array, H: number, k: number, lo: number, hi: number): number {
  const n = x.length / H;
  let inside = 0;
  for (let p = 0; p < n; p++) {
    const v = x[p * H + k]!;
    if (v >= lo && v <= hi) inside++;
  }
  return inside / n;
}
const covers90 = (c: number) => Math.abs(c - 0.9) <= 0.02;

/** Band of one curve's monthly multipliers from the engine's band model. */
function monthlyBands(cal: CurveCalibration, H: number, firstYm: number, q: [number, number] = [0.05, 0.95]) {
  const hYm = new Int32Array(H);
  for (let k = 0, ym = firstYm; k < H; k++, ym = ym % 100 === 12 ? ym + 89 : ym + 1) hYm[k] = ym;
  const curve: BaselineCurve = { curveKey: "X", market: "PJM", location: "X", product: "power", block: "ATC", unit: "USD/MWh", months: hYm, mid: new Float64Array(H).fill(50) };
  const bands = new RunBands([curve], { X: cal }, { nPaths: 100, qLo: q[0], qHi: q[1], seed: 1, hYm });
  const out = new CurveBands(H, 100);
  const hFirst = Math.floor(firstYm / 100) * 12 + (firstYm % 100) - 1;
  bands.curve(curve, { a: 0, T: H, hFirst, weight: new Float64Array(H).fill(1), mid: curve.mid, qLabels: new Array(H).fill("q"), yLabels: new Array(H).fill("y") }, out);
  return out;
}

const asCal = (p: TrueParams): CurveCalibration => ({ source: "history", n_snapshots: 100, ...p });

// ---------------------------------------------------------------- calibration

const POWER_TRUTH: TrueParams = { kappa: 1.2, sigma_short: 0.5, sigma_long: 0.15, rho: 0.3, seasonality: [1.2, 1.1, 1, 0.9, 0.85, 0.9, 1.1, 1.15, 0.95, 0.9, 0.95, 1.1] };
const GAS_TRUTH: TrueParams = { kappa: 0.8, sigma_short: 0.35, sigma_long: 0.2, rho: -0.2 };
const HISTORY = { start: "2021-01-04", n: 260, stepDays: 7, months: 72 };

describe("calibration recovery (5 years of weekly snapshots, 72 delivery months)", () => {
  for (const [name, truth] of [
    ["power-like, seasonal", POWER_TRUTH],
    ["gas-like, negative factor correlation", GAS_TRUTH],
  ] as const) {
    test(`${name}: every parameter within tolerance for 5 seeds`, () => {
      for (const seed of [1, 2, 3, 4, 5]) {
        const est = calibrateCurve("power", simulateHistory(truth, { ...HISTORY, seed: seed + (truth === GAS_TRUTH ? 10 : 0) }));
        expect({ seed, failures: recoveryFailures(est, truth) }).toEqual({ seed, failures: [] });
        expect(est.n_snapshots).toBe(260);
      }
    });
  }

  test("negative: the checker rejects an estimate from data with other parameters", () => {
    const est = calibrateCurve("power", simulateHistory(GAS_TRUTH, { ...HISTORY, seed: 11 }));
    expect(recoveryFailures(est, POWER_TRUTH).length).toBeGreaterThan(0);
  });

  test("too few snapshots or usable returns: the product default, with the count recorded", () => {
    const short = simulateHistory(POWER_TRUTH, { ...HISTORY, n: MIN_SNAPSHOTS - 1, seed: 3 });
    expect(calibrateCurve("power", short)).toEqual(defaultCalibration("power", MIN_SNAPSHOTS - 1));
    // enough snapshots but each quotes one month: too few returns
    const thin = simulateHistory(POWER_TRUTH, { ...HISTORY, n: 20, months: 1, seed: 3 });
    expect(calibrateCurve("natural_gas", thin)).toEqual(defaultCalibration("natural_gas", 20));
    // non-positive prices carry no log return
    const negative = simulateHistory(POWER_TRUTH, { ...HISTORY, n: 30, seed: 3 }).map((s) => ({ ...s, mid: s.mid.map((v) => -v) }));
    expect(calibrateCurve("power", negative).source).toBe("default");
  });

  test("the order of the snapshots does not matter; the result is deterministic", () => {
    const h = simulateHistory(POWER_TRUTH, { ...HISTORY, n: 60, seed: 4 });
    expect(calibrateCurve("power", [...h].reverse())).toEqual(calibrateCurve("power", h));
  });
});

// ---------------------------------------------------------------- coverage

describe("band coverage on synthetic paths (20 000 paths of the true process)", () => {
  const H = 120;
  const firstYm = 202701;
  const paths = simulateMultipliers(POWER_TRUTH, { H, nPaths: 20_000, seed: 99, firstYm });

  test("closed-form monthly 5–95 bands cover 90 % ± 2 % at months 1, 6, 12, 36, 60, 108, 120", () => {
    const b = monthlyBands(asCal(POWER_TRUTH), H, firstYm);
    for (const k of [0, 5, 11, 35, 59, 107, 119]) {
      const c = coverage(paths, H, k, b.mLo[k]!, b.mHi[k]!);
      expect({ k, c, ok: covers90(c) }).toEqual({ k, c, ok: true });
    }
  });

  test("other quantiles: a 25–75 band covers 50 % ± 2 %", () => {
    const b = monthlyBands(asCal(POWER_TRUTH), H, firstYm, [0.25, 0.75]);
    for (const k of [11, 107]) expect(Math.abs(coverage(paths, H, k, b.mLo[k]!, b.mHi[k]!) - 0.5)).toBeLessThanOrEqual(0.02);
  });

  test("negative: a one-factor band (no long-term factor, the v1 model) misses the 90 % at long horizons", () => {
    const b = monthlyBands(asCal({ ...POWER_TRUTH, sigma_long: 0, rho: 0 }), H, firstYm);
    const c = coverage(paths, H, 107, b.mLo[107]!, b.mHi[107]!);
    expect(covers90(c)).toBe(false);
    expect(c).toBeLessThan(0.85);
  });

  test("Monte Carlo quarter and calendar bands cover 90 % ± 2 % of independent period averages", () => {
    const cal = asCal(POWER_TRUTH);
    const hYm = new Int32Array(24);
    for (let k = 0, ym = firstYm; k < 24; k++, ym = ym % 100 === 12 ? ym + 89 : ym + 1) hYm[k] = ym;
    const mid = Float64Array.from({ length: 24 }, (_, k) => 40 + 10 * Math.cos((2 * Math.PI * k) / 12));
    const weight = Float64Array.from({ length: 24 }, (_, k) => 300 + 10 * (k % 3));
    const curve: BaselineCurve = { curveKey: "X", market: "PJM", location: "X", product: "power", block: "ATC", unit: "USD/MWh", months: hYm, mid };
    const bands = new RunBands([curve], { X: cal }, { nPaths: 4000, qLo: 0.05, qHi: 0.95, seed: 5, hYm });
    const out = new CurveBands(24, 4000);
    const hFirst = 2027 * 12;
    bands.curve(curve, { a: 0, T: 24, hFirst, weight, mid, qLabels: new Array(24).fill("q"), yLabels: new Array(24).fill("y") }, out);
    const sim = simulateMultipliers(POWER_TRUTH, { H: 24, nPaths: 20_000, seed: 123, firstYm });
    const periodCoverage = (from: number, len: number, lo: number, hi: number) => {
      let inside = 0;
      for (let p = 0; p < 20_000; p++) {
        let num = 0;
        let den = 0;
        for (let k = from; k < from + len; k++) {
          num += weight[k]! * mid[k]! * sim[p * 24 + k]!;
          den += weight[k]! * mid[k]!;
        }
        const a = num / den;
        if (a >= lo && a <= hi) inside++;
      }
      return inside / 20_000;
    };
    // slots: 8 quarters, then 2 years
    for (const [slot, from, len] of [
      [0, 0, 3],
      [3, 9, 3],
      [7, 21, 3],
      [8, 0, 12],
      [9, 12, 12],
    ] as const) {
      const c = periodCoverage(from, len, out.aggLo[slot]!, out.aggHi[slot]!);
      expect({ slot, c, ok: covers90(c) }).toEqual({ slot, c, ok: true });
    }
    const stats = bands.stats();
    expect(stats.periods).toBe(10);
    expect(stats.mc_paths).toBe(4000);
    expect(stats.se_upper.max).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------- horizon growth

function sampleCurves(): BaselineCurve[] {
  const byKey = new Map<string, { months: number[]; mid: number[] }>();
  for (const b of curveObservations(SAMPLE_CURVES, "2026-12-31", 120))
    for (let i = 0; i < b.line.length; i++) {
      const e = byKey.get(b.curveKey[i]!) ?? { months: [], mid: [] };
      e.months.push(Number(b.contractMonth[i]!.slice(0, 4)) * 100 + Number(b.contractMonth[i]!.slice(5, 7)));
      e.mid.push(b.mid[i]!);
      byKey.set(b.curveKey[i]!, e);
    }
  return SAMPLE_CURVES.map((s) => {
    const e = byKey.get(s.curveKey)!;
    return {
      curveKey: s.curveKey,
      market: s.market,
      location: s.location,
      product: s.product as BaselineCurve["product"],
      block: s.block,
      unit: s.unit,
      months: Int32Array.from(e.months),
      mid: Float64Array.from(e.mid),
    };
  });
}

function sampleRun(calibration?: Record<string, CurveCalibration>) {
  const curves = sampleCurves();
  const input: EngineInput = {
    tenantId: "t",
    scenarioId: "s",
    runId: "r",
    asofDate: "2026-12-31",
    codeVersion: "test",
    parameters: { ...DEFAULT_PARAMETERS, horizon_months: 120 },
    drivers: [],
    curves,
    ...(calibration ? { calibration } : {}),
  };
  const rows = new Map<string, { value: number; lo: number; hi: number }>();
  for (const b of runScenario(input).batches)
    for (let i = 0; i < b.length; i++) if (b.metric[i] === "mid") rows.set(`${b.curveKey[i]}|${b.tenorLabel[i]}`, { value: b.value[i]!, lo: b.bandLower[i]!, hi: b.bandUpper[i]! });
  return { curves, rows };
}

/** Horizon-growth checker: for every power curve, CAL-2035 band wider than CAL-2027 (absolute and relative), and December 2035 ≥ 1.2 × December 2027 (relative). */
function growthFailures(run: ReturnType<typeof sampleRun>): string[] {
  const f: string[] = [];
  const rel = (r: { value: number; lo: number; hi: number }) => (r.hi - r.lo) / r.value;
  for (const c of run.curves) {
    if (c.product !== "power") continue;
    const get = (label: string) => run.rows.get(`${c.curveKey}|${label}`)!;
    const [y27, y35, d27, d35] = [get("CAL-2027"), get("CAL-2035"), get("2027-12"), get("2035-12")];
    if (!(y35.hi - y35.lo > y27.hi - y27.lo)) f.push(`${c.curveKey}: CAL-2035 width ${y35.hi - y35.lo} ≤ CAL-2027 ${y27.hi - y27.lo}`);
    if (!(rel(y35) > rel(y27))) f.push(`${c.curveKey}: CAL-2035 relative width ≤ CAL-2027`);
    if (!(rel(d35) >= 1.2 * rel(d27))) f.push(`${c.curveKey}: 2035-12 relative width ${rel(d35)} < 1.2 × 2027-12 ${rel(d27)}`);
  }
  return f;
}

describe("horizon growth on the sample curves", () => {
  test("every power curve: the 2035 band is wider than the 2027 band", () => {
    const run = sampleRun();
    expect(run.curves.filter((c) => c.product === "power").length).toBeGreaterThanOrEqual(8);
    expect(growthFailures(run)).toEqual([]);
  });

  test("negative: with a one-factor calibration (σξ = 0) the checker finds no horizon growth", () => {
    const curves = sampleCurves();
    const oneFactor = Object.fromEntries(curves.map((c) => [c.curveKey, { ...defaultCalibration(c.product), sigma_long: 0, rho: 0 }]));
    expect(growthFailures(sampleRun(oneFactor)).length).toBeGreaterThan(0);
  });

  test("the closed-form variance grows without bound with the long-term factor and saturates without it", () => {
    const p = TWO_FACTOR_DEFAULTS.power;
    expect(logVariance(p, 9) / logVariance(p, 1)).toBeGreaterThan(2);
    const ou = { ...p, sigma_long: 0, rho: 0 };
    expect(logVariance(ou, 9) / logVariance(ou, 1)).toBeLessThan(1.06);
  });
});

// ---------------------------------------------------------------- correlation, determinism, SE

function twoCurveBands(order: "PG" | "GP", nPaths = 5000, seed = 42) {
  const H = 6;
  const hYm = Int32Array.from([202701, 202702, 202703, 202704, 202705, 202706]);
  const mk = (key: string, product: BaselineCurve["product"], market: string): BaselineCurve => ({
    curveKey: key,
    market,
    location: key,
    product,
    block: "ATC",
    unit: "x",
    months: hYm,
    mid: new Float64Array(H).fill(30),
  });
  const P = mk("PJM_W", "power", "PJM");
  const G = mk("HH", "natural_gas", "NYMEX");
  const curves = order === "PG" ? [P, G] : [G, P];
  const bands = new RunBands(curves, undefined, { nPaths, qLo: 0.05, qHi: 0.95, seed, hYm });
  const res: Record<string, { lo: number[]; hi: number[]; first: Float64Array }> = {};
  for (const c of curves) {
    const out = new CurveBands(H, nPaths);
    bands.curve(c, { a: 0, T: H, hFirst: 2027 * 12, weight: new Float64Array(H).fill(1), mid: c.mid, qLabels: new Array(H).fill("q"), yLabels: new Array(H).fill("y") }, out);
    res[c.curveKey] = { lo: [...out.aggLo.subarray(0, 2)], hi: [...out.aggHi.subarray(0, 2)], first: Float64Array.from(out.firstPeriod) };
  }
  return res;
}

function corr(a: Float64Array, b: Float64Array): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += Math.log(a[i]!);
    mb += Math.log(b[i]!);
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const x = Math.log(a[i]!) - ma;
    const y = Math.log(b[i]!) - mb;
    sab += x * y;
    saa += x * x;
    sbb += y * y;
  }
  return sab / Math.sqrt(saa * sbb);
}

describe("correlated fuel and power shocks, order independence, standard errors", () => {
  test("power and gas period shocks are correlated as documented (ℓ_power·ℓ_gas ± 0.05)", () => {
    const r = twoCurveBands("PG");
    const expected = gasLoading({ product: "power", market: "PJM" }) * gasLoading({ product: "natural_gas", market: "NYMEX" });
    expect(Math.abs(corr(r.PJM_W!.first, r.HH!.first) - expected)).toBeLessThan(0.05);
  });

  test("negative: the correlation check rejects independent streams (different seeds share no common factor)", () => {
    const a = twoCurveBands("PG", 5000, 1);
    const b = twoCurveBands("PG", 5000, 2);
    expect(Math.abs(corr(a.PJM_W!.first, b.HH!.first))).toBeLessThan(0.05);
  });

  test("each curve's bands do not depend on the order of the curves", () => {
    const a = twoCurveBands("PG", 500);
    const b = twoCurveBands("GP", 500);
    expect(a.PJM_W!.lo).toEqual(b.PJM_W!.lo);
    expect(a.PJM_W!.hi).toEqual(b.PJM_W!.hi);
    expect(a.HH!.hi).toEqual(b.HH!.hi);
  });

  test("the stated standard error of a period quantile matches its spread over independent seeds (± 35 %)", () => {
    const his: number[] = [];
    const ses: number[] = [];
    const H = 3;
    const hYm = Int32Array.from([202701, 202702, 202703]);
    const curve: BaselineCurve = { curveKey: "X", market: "PJM", location: "X", product: "power", block: "ATC", unit: "x", months: hYm, mid: new Float64Array(H).fill(40) };
    for (let seed = 0; seed < 300; seed++) {
      const bands = new RunBands([curve], undefined, { nPaths: 400, qLo: 0.05, qHi: 0.95, seed, hYm });
      const out = new CurveBands(H, 400);
      bands.curve(curve, { a: 0, T: H, hFirst: 2027 * 12, weight: new Float64Array(H).fill(1), mid: curve.mid, qLabels: ["q", "q", "q"], yLabels: ["y", "y", "y"] }, out);
      his.push(out.aggHi[0]!);
      ses.push(out.aggSeHi[0]!);
    }
    const mean = his.reduce((a, b) => a + b, 0) / his.length;
    const sd = Math.sqrt(his.reduce((a, b) => a + (b - mean) ** 2, 0) / (his.length - 1));
    const meanSe = ses.reduce((a, b) => a + b, 0) / ses.length;
    expect(Math.abs(meanSe / sd - 1)).toBeLessThan(0.35);
  });

  test("runScenario stores the standard-error summary; more paths, smaller errors", () => {
    const input = (mc_paths: number): EngineInput => ({
      tenantId: "t",
      scenarioId: "s",
      runId: "r",
      asofDate: "2026-12-31",
      codeVersion: "test",
      parameters: { ...DEFAULT_PARAMETERS, horizon_months: 24, mc_paths },
      drivers: [],
      curves: sampleCurves().slice(0, 3),
    });
    const few = runScenario(input(100)).bandStats;
    const many = runScenario(input(2000)).bandStats;
    expect(few.periods).toBe(3 * (7 + 1)); // Jan 2027 – Nov 2028: 7 full quarters, 1 full year per curve
    expect(few.mc_paths).toBe(100);
    const ratio = few.se_upper.median / many.se_upper.median;
    expect(ratio).toBeGreaterThan(2.5); // √20 ≈ 4.5
    // the order-statistic SE at 100 paths is crude (its bracket reaches the sample's edge), so the bound is loose
    expect(ratio).toBeLessThan(12);
    expect(few.worst).not.toBeNull();
    expect(few.rel_se_upper_half_width.max).toBeGreaterThanOrEqual(few.rel_se_upper_half_width.median);
  });

  test("runScenario refuses mc_paths below 100", () => {
    const base = { tenantId: "t", scenarioId: "s", runId: "r", asofDate: "2026-12-31", codeVersion: "test", drivers: [], curves: sampleCurves().slice(0, 1) };
    expect(() => runScenario({ ...base, parameters: { ...DEFAULT_PARAMETERS, mc_paths: 1 } })).toThrow(/mc_paths must be an integer in 100\.\.10000/);
    expect(() => runScenario({ ...base, parameters: { ...DEFAULT_PARAMETERS, mc_paths: 99 } })).toThrow(/mc_paths/);
    expect(runScenario({ ...base, parameters: { ...DEFAULT_PARAMETERS, horizon_months: 12, mc_paths: 100 } }).rows).toBeGreaterThan(0);
  });

  test("the calibration changes the bands and the version hash, never the central values", () => {
    const curves = sampleCurves().slice(0, 2);
    const base: EngineInput = {
      tenantId: "t",
      scenarioId: "s",
      runId: "r",
      asofDate: "2026-12-31",
      codeVersion: "test",
      parameters: { ...DEFAULT_PARAMETERS, horizon_months: 24 },
      drivers: [],
      curves,
    };
    const wide = { [curves[0]!.curveKey]: { ...defaultCalibration("power", 40), source: "history" as const, sigma_long: 0.4 } };
    const a = runScenario(base);
    const b = runScenario({ ...base, calibration: wide });
    expect(b.versionHash).not.toBe(a.versionHash);
    expect(Array.from(b.batches[0]!.value)).toEqual(Array.from(a.batches[0]!.value));
    const last = a.batches[0]!.metric.lastIndexOf("mid"); // a row of the second curve
    expect(a.batches[0]!.curveKey[0]).toBe(curves[0]!.curveKey);
    const firstCurveLastMid = a.batches[0]!.curveKey.lastIndexOf(curves[0]!.curveKey) - 7; // the last period's 8 rows start with mid
    expect(a.batches[0]!.metric[firstCurveLastMid]).toBe("mid");
    expect(b.batches[0]!.bandUpper[firstCurveLastMid]!).toBeGreaterThan(a.batches[0]!.bandUpper[firstCurveLastMid]!);
    // the second curve has no calibration entry: its bands are unchanged
    expect(b.batches[0]!.bandUpper[last]!).toBe(a.batches[0]!.bandUpper[last]!);
    // an explicit default calibration equals none, except for the hash
    const explicit = Object.fromEntries(curves.map((c) => [c.curveKey, defaultCalibration(c.product)]));
    expect(Array.from(runScenario({ ...base, calibration: explicit }).batches[0]!.bandUpper)).toEqual(Array.from(a.batches[0]!.bandUpper));
  });
});

describe("integration contract: band points split into fuel and power multipliers (docs/model.md §7.4)", () => {
  const H = 24;
  const hYm = new Int32Array(H);
  for (let k = 0, ym = 202701; k < H; k++, ym = ym % 100 === 12 ? ym + 89 : ym + 1) hYm[k] = ym;
  const mk = (key: string, product: BaselineCurve["product"], market: string): BaselineCurve => ({
    curveKey: key,
    market,
    location: key,
    product,
    block: "ATC",
    unit: "x",
    months: hYm,
    mid: new Float64Array(H).fill(40),
  });
  const power = mk("PJM_W", "power", "PJM");
  const gas = mk("HH", "natural_gas", "NYMEX");
  const window = (c: BaselineCurve) => ({
    a: 0,
    T: H,
    hFirst: 2027 * 12,
    weight: new Float64Array(H).fill(1),
    mid: c.mid,
    qLabels: new Array(H).fill("q"),
    yLabels: new Array(H).fill("y"),
  });

  test("power: ln powerMult = √(1−ρ²)·ln m and ln fuelMult = ρ·σ_G/σ_P·ln m at both band points; fuel curves: fuelMult = m, powerMult = 1", () => {
    const bands = new RunBands([power, gas], undefined, { nPaths: 200, qLo: 0.05, qHi: 0.95, seed: 9, hYm });
    const p = new CurveBands(H, 200);
    bands.curve(power, window(power), p);
    const rho = gasLoading(power) * gasLoading(gas);
    for (const k of [0, 11, 23]) {
      const T = (k + 1) / 12;
      const season = TWO_FACTOR_DEFAULTS.power.seasonality[(hYm[k]! % 100) - 1]!;
      const gSeason = TWO_FACTOR_DEFAULTS.natural_gas.seasonality[(hYm[k]! % 100) - 1]!;
      const sdP = season * Math.sqrt(logVariance(TWO_FACTOR_DEFAULTS.power, T));
      const sdG = gSeason * Math.sqrt(logVariance(TWO_FACTOR_DEFAULTS.natural_gas, T));
      for (const [m, fuel, pw] of [
        [p.mLo[k]!, p.fuelLo[k]!, p.powerLo[k]!],
        [p.mHi[k]!, p.fuelHi[k]!, p.powerHi[k]!],
      ]) {
        expect(Math.log(pw!)).toBeCloseTo(Math.sqrt(1 - rho * rho) * Math.log(m!), 12);
        expect(Math.log(fuel!)).toBeCloseTo(((rho * sdG) / sdP) * Math.log(m!), 12);
      }
      expect(p.fuelLo[k]!).toBeLessThan(1);
      expect(p.fuelHi[k]!).toBeGreaterThan(1);
    }
    for (let s = 0; s < 10; s++) {
      expect(p.aggPowerHi[s]!).toBeCloseTo(Math.exp(Math.sqrt(1 - rho * rho) * Math.log(p.aggHi[s]!)), 12);
      expect(p.aggFuelLo[s]!).toBeLessThan(1);
    }
    const g = new CurveBands(H, 200);
    bands.curve(gas, window(gas), g);
    expect(Array.from(g.fuelLo.subarray(0, H))).toEqual(Array.from(g.mLo.subarray(0, H)));
    expect(Array.from(g.powerHi.subarray(0, H))).toEqual(new Array(H).fill(1));
    expect(Array.from(g.aggFuelHi.subarray(0, 10))).toEqual(Array.from(g.aggHi.subarray(0, 10)));
  });

  test("rng: fillNormals gives exactly the numbers of nextNormal, and leaves the generator in the same state", async () => {
    const { Xoshiro128 } = await import("../../../src/engine/rng");
    for (const seed of [0, 42, 2 ** 31 - 1]) {
      const a = new Xoshiro128(seed, 3);
      const b = new Xoshiro128(seed, 3);
      const out = new Float64Array(50_000);
      a.fillNormals(out, 50_000);
      for (let i = 0; i < 50_000; i++) if (out[i] !== b.nextNormal()) throw new Error(`seed ${seed}: differs at ${i}`);
      expect(a.nextU32()).toBe(b.nextU32());
    }
  });
});

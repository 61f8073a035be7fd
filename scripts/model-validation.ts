/**
 * Figures of docs/model-validation.md (uncertainty part): `bun scripts/model-validation.ts`.
 * Deterministic: the same numbers on every run of the same engine. The tests in
 * test/unit/engine/uncertainty.test.ts assert the tolerances; this prints the measured values.
 */
import { curveObservations, SAMPLE_CURVES } from "../src/curves/sample";
import { type BaselineCurve, type CurveCalibration, DEFAULT_PARAMETERS, type EngineInput, runScenario } from "../src/engine";
import { calibrateCurve } from "../src/engine/calibrate";
import { CurveBands, gasLoading, RunBands } from "../src/engine/uncertainty";
import { simulateHistory, simulateMultipliers, type TrueParams } from "../test/unit/engine/synthetic";

const f = (x: number, d = 3) => x.toFixed(d);
const POWER: TrueParams = { kappa: 1.2, sigma_short: 0.5, sigma_long: 0.15, rho: 0.3, seasonality: [1.2, 1.1, 1, 0.9, 0.85, 0.9, 1.1, 1.15, 0.95, 0.9, 0.95, 1.1] };
const GAS: TrueParams = { kappa: 0.8, sigma_short: 0.35, sigma_long: 0.2, rho: -0.2 };
const HISTORY = { start: "2021-01-04", n: 260, stepDays: 7, months: 72 };

console.log("## Calibration recovery\n");
for (const [name, truth, seeds] of [
  ["power-like", POWER, [1, 2, 3, 4, 5]],
  ["gas-like", GAS, [11, 12, 13, 14, 15]],
] as const) {
  const s = truth.seasonality ?? new Array(12).fill(1);
  const scale = Math.sqrt(s.reduce((a, b) => a + b * b, 0) / 12);
  console.log(`${name}: truth κ ${truth.kappa}, σχ ${f(truth.sigma_short * scale)}, σξ ${f(truth.sigma_long * scale)}, ρ ${truth.rho} (σ's × √mean s² = ${f(scale, 4)})\n`);
  console.log("| seed | κ | σχ | σξ | ρ | max abs seasonality error |\n|---|---|---|---|---|---|");
  for (const seed of seeds) {
    const c = calibrateCurve("power", simulateHistory(truth, { ...HISTORY, seed }));
    const se = Math.max(...(c.seasonality ?? []).map((v, m) => Math.abs(v - s[m]! / scale)));
    console.log(`| ${seed} | ${f(c.kappa)} | ${f(c.sigma_short)} | ${f(c.sigma_long)} | ${f(c.rho)} | ${f(se)} |`);
  }
  console.log("");
}

console.log("## Monthly band coverage (20 000 synthetic paths, power-like truth, 5–95 band)\n");
const H = 120;
const paths = simulateMultipliers(POWER, { H, nPaths: 20_000, seed: 99, firstYm: 202701 });
const hYm = new Int32Array(H);
for (let k = 0, ym = 202701; k < H; k++, ym = ym % 100 === 12 ? ym + 89 : ym + 1) hYm[k] = ym;
const bandsFor = (cal: CurveCalibration) => {
  const curve: BaselineCurve = { curveKey: "X", market: "PJM", location: "X", product: "power", block: "ATC", unit: "x", months: hYm, mid: new Float64Array(H).fill(50) };
  const out = new CurveBands(H, 100);
  new RunBands([curve], { X: cal }, { nPaths: 100, qLo: 0.05, qHi: 0.95, seed: 1, hYm }).curve(
    curve,
    { a: 0, T: H, hFirst: 2027 * 12, weight: new Float64Array(H).fill(1), mid: curve.mid, qLabels: new Array(H).fill(""), yLabels: new Array(H).fill("") },
    out,
  );
  return out;
};
const two = bandsFor({ source: "history", n_snapshots: 0, ...POWER });
const one = bandsFor({ source: "history", n_snapshots: 0, ...POWER, sigma_long: 0, rho: 0 });
const cov = (b: CurveBands, k: number) => {
  let n = 0;
  for (let p = 0; p < 20_000; p++) {
    const v = paths[p * H + k]!;
    if (v >= b.mLo[k]! && v <= b.mHi[k]!) n++;
  }
  return n / 20_000;
};
console.log("| month k | band (two-factor) | coverage | one-factor band | its coverage |\n|---|---|---|---|---|");
for (const k of [0, 5, 11, 35, 59, 107, 119])
  console.log(`| ${k + 1} | [${f(two.mLo[k]!)}, ${f(two.mHi[k]!)}] | ${f(cov(two, k))} | [${f(one.mLo[k]!)}, ${f(one.mHi[k]!)}] | ${f(cov(one, k))} |`);

console.log("\n## Horizon growth, sample curves (as of 2026-12-31, defaults)\n");
const byKey = new Map<string, { months: number[]; mid: number[] }>();
for (const b of curveObservations(SAMPLE_CURVES, "2026-12-31", 120))
  for (let i = 0; i < b.line.length; i++) {
    const e = byKey.get(b.curveKey[i]!) ?? { months: [], mid: [] };
    e.months.push(Number(b.contractMonth[i]!.slice(0, 4)) * 100 + Number(b.contractMonth[i]!.slice(5, 7)));
    e.mid.push(b.mid[i]!);
    byKey.set(b.curveKey[i]!, e);
  }
const curves: BaselineCurve[] = SAMPLE_CURVES.map((s) => ({
  curveKey: s.curveKey,
  market: s.market,
  location: s.location,
  product: s.product as BaselineCurve["product"],
  block: s.block,
  unit: s.unit,
  months: Int32Array.from(byKey.get(s.curveKey)!.months),
  mid: Float64Array.from(byKey.get(s.curveKey)!.mid),
}));
const input: EngineInput = {
  tenantId: "t",
  scenarioId: "s",
  runId: "r",
  asofDate: "2026-12-31",
  codeVersion: "x",
  parameters: { ...DEFAULT_PARAMETERS, horizon_months: 120 },
  drivers: [],
  curves,
};
const result = runScenario(input);
const rows = new Map<string, { v: number; lo: number; hi: number }>();
for (const b of result.batches)
  for (let i = 0; i < b.length; i++) if (b.metric[i] === "mid") rows.set(`${b.curveKey[i]}|${b.tenorLabel[i]}`, { v: b.value[i]!, lo: b.bandLower[i]!, hi: b.bandUpper[i]! });
const rel = (r: { v: number; lo: number; hi: number }) => (r.hi - r.lo) / r.v;
console.log("| curve | CAL-2027 width (rel.) | CAL-2035 width (rel.) | 2027-12 rel. | 2035-12 rel. | ratio Dec |\n|---|---|---|---|---|---|");
for (const c of curves) {
  if (c.product !== "power") continue;
  const g = (l: string) => rows.get(`${c.curveKey}|${l}`)!;
  const [a, b, d, e] = [g("CAL-2027"), g("CAL-2035"), g("2027-12"), g("2035-12")];
  console.log(`| ${c.curveKey} | ${f(a.hi - a.lo, 2)} (${f(rel(a))}) | ${f(b.hi - b.lo, 2)} (${f(rel(b))}) | ${f(rel(d))} | ${f(rel(e))} | ${f(rel(e) / rel(d), 2)} |`);
}
const st = result.bandStats;
console.log(
  `\nbandStats (${st.mc_paths} paths, the default): periods ${st.periods}, SE upper median ${f(st.se_upper.median, 4)} max ${f(st.se_upper.max, 4)}, rel. SE of upper half-width median ${f(st.rel_se_upper_half_width.median)} max ${f(st.rel_se_upper_half_width.max)} (${st.worst?.curve_key} ${st.worst?.tenor_label})`,
);
for (const n of [100, 200]) {
  const s = runScenario({ ...input, parameters: { ...input.parameters, mc_paths: n } }).bandStats;
  console.log(`bandStats (${n} paths): rel. SE of upper half-width median ${f(s.rel_se_upper_half_width.median)} max ${f(s.rel_se_upper_half_width.max)}`);
}

console.log("\n## Power–gas correlation of first-quarter shocks (5000 paths)\n");
const H6 = Int32Array.from([202701, 202702, 202703, 202704, 202705, 202706]);
const mk = (key: string, product: BaselineCurve["product"], market: string): BaselineCurve => ({
  curveKey: key,
  market,
  location: key,
  product,
  block: "ATC",
  unit: "x",
  months: H6,
  mid: new Float64Array(6).fill(30),
});
const gas = mk("HH", "natural_gas", "NYMEX");
for (const market of ["ISO-NE", "PJM", "CAISO", "WECC"]) {
  const p = mk(`P_${market}`, "power", market);
  const rb = new RunBands([p, gas], undefined, { nPaths: 5000, qLo: 0.05, qHi: 0.95, seed: 42, hYm: H6 });
  const take = (c: BaselineCurve) => {
    const out = new CurveBands(6, 5000);
    rb.curve(c, { a: 0, T: 6, hFirst: 2027 * 12, weight: new Float64Array(6).fill(1), mid: c.mid, qLabels: new Array(6).fill(""), yLabels: new Array(6).fill("") }, out);
    return Float64Array.from(out.firstPeriod, Math.log);
  };
  const x = take(p);
  const y = take(gas);
  const mean = (a: Float64Array) => a.reduce((s, v) => s + v, 0) / a.length;
  const mx = mean(x);
  const my = mean(y);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += (x[i]! - mx) * (y[i]! - my);
    sxx += (x[i]! - mx) ** 2;
    syy += (y[i]! - my) ** 2;
  }
  const expected = gasLoading({ product: "power", market }) * gasLoading({ product: "natural_gas", market: "" });
  console.log(`| ${market} | documented ${f(expected)} | measured ${f(sxy / Math.sqrt(sxx * syy))} |`);
}

/**
 * engine suite: `runScenario` on synthetic curves, one thread, no I/O in the timed section;
 * rows/s and path-months/s per thread, against a bare Monte Carlo kernel that does the least any
 * engine must (one ziggurat normal and one accumulate per path-month, same RNG) on the same sizes.
 * Standalone: `bun bench/engine.ts [curves] [months] [paths] [runs]` (defaults 500 × 360 × 500, 3 runs).
 */
import { type BaselineCurve, DEFAULT_PARAMETERS, type Driver, type EngineInput, runScenario } from "../../src/engine/index";
import { Xoshiro128 } from "../../src/engine/rng";
import { Recorder, type SuiteContext, type SuiteResult } from "../lib/result";
import { fmt, median } from "../lib/stats";

export function synthCurves(n: number, months: number): BaselineCurve[] {
  const start = 2027 * 12; // Jan 2027
  const ym = new Int32Array(months);
  for (let i = 0; i < months; i++) ym[i] = Math.floor((start + i) / 12) * 100 + ((start + i) % 12) + 1;
  const fuels: [string, BaselineCurve["product"], string, number, number][] = [
    ["HH", "natural_gas", "USD/MMBtu", 3.6, 0.25],
    ["TETCO_M3", "natural_gas", "USD/MMBtu", 4.1, 0.35],
    ["CAPP_COAL", "coal", "USD/short_ton", 80, 0.03],
    ["RGGI", "co2", "USD/tCO2", 18, 0.0],
    ["WTI", "oil", "USD/bbl", 72, 0.02],
  ];
  const out: BaselineCurve[] = [];
  for (const [key, product, unit, level, seas] of fuels) {
    const mid = new Float64Array(months);
    for (let i = 0; i < months; i++) mid[i] = level * (1 + 0.01 * (i / 12)) * (1 + seas * Math.cos((2 * Math.PI * (i % 12)) / 12));
    out.push({ curveKey: key, market: "NYMEX", location: key, product, block: "ATC", unit, months: ym, mid });
  }
  const markets = ["PJM", "ERCOT", "MISO", "CAISO", "NYISO", "ISONE", "SPP"];
  const blocks = ["ON_PEAK", "OFF_PEAK", "ATC"];
  for (let c = out.length; c < n; c++) {
    const market = markets[c % markets.length]!;
    const block = blocks[c % 3]!;
    const level = 35 + (c % 17) * 2.5 + (block === "ON_PEAK" ? 12 : block === "OFF_PEAK" ? -6 : 0);
    const mid = new Float64Array(months);
    for (let i = 0; i < months; i++) {
      const m = i % 12; // Jan = 0: winter and summer peaks
      const shape = 1 + 0.18 * Math.cos((2 * Math.PI * (m - 6.5)) / 6) + 0.06 * Math.cos((2 * Math.PI * m) / 12);
      mid[i] = level * shape * (1 + 0.02) ** (i / 12);
    }
    out.push({ curveKey: `${market}_NODE${c}_${block}`, market, location: `NODE${c}`, product: "power", block, unit: "USD/MWh", months: ym, mid });
  }
  return out.slice(0, n);
}

export const DRIVERS: Driver[] = [
  { driver_type: "fuel_curve", fuel: "natural_gas", reference_series: "HH", basis_points_adjustment: 1500 },
  { driver_type: "fuel_curve", fuel: "co2", reference_series: "RGGI", basis_points_adjustment: 2500 },
  { driver_type: "policy", policy_name: "RPS", start_year: 2028, target: 0.5, target_year: 2035, region: "PJM" },
  { driver_type: "policy", policy_name: "CARBON_TAX", start_year: 2030, target: 40, target_year: 2040 },
  { driver_type: "load_growth", annual_growth_pct: 2.5, start_year: 2027, end_year: 2040 },
  { driver_type: "fleet_change", fleet_id: "ccgt-1", change_type: "add", effective_date: "2029-06-01", capacity_mw: 1200, technology: "gas_cc", region: "ERCOT" },
  { driver_type: "fleet_change", fleet_id: "coal-7", change_type: "retire", effective_date: "2028-01-01", capacity_mw: 2400, technology: "coal", region: "MISO" },
];

export function engineInput(nCurves: number, nMonths: number, nPaths: number): EngineInput {
  return {
    tenantId: "bench",
    scenarioId: "bench",
    runId: "bench",
    asofDate: "2027-01-01",
    codeVersion: "bench",
    parameters: { ...DEFAULT_PARAMETERS, horizon_months: nMonths, mc_paths: nPaths },
    drivers: DRIVERS,
    curves: synthCurves(nCurves, nMonths),
  };
}

/** The floor: per curve, `paths` random walks over `months`, one normal and one add per path-month. */
function bareKernel(nCurves: number, nMonths: number, nPaths: number): number {
  let check = 0;
  const acc = new Float64Array(nMonths);
  for (let c = 0; c < nCurves; c++) {
    const rng = new Xoshiro128(c, 1);
    acc.fill(0);
    for (let p = 0; p < nPaths; p++) {
      let x = 0;
      for (let m = 0; m < nMonths; m++) {
        x += 0.01 * rng.nextNormal();
        acc[m] = (acc[m] as number) + x;
      }
    }
    check += acc[nMonths - 1] as number;
  }
  return check;
}

export async function engineSuite(ctx: SuiteContext): Promise<SuiteResult> {
  const rec = new Recorder("engine");
  const num = (k: string, d: number, q: number) => Number(ctx.flags[k] ?? (ctx.quick ? q : d));
  const [nCurves, nMonths, nPaths] = [num("engine-curves", 200, 20), num("engine-months", 240, 60), num("engine-paths", 200, 100)];
  const input = engineInput(nCurves, nMonths, nPaths);
  const pathMonths = nCurves * nMonths * nPaths;
  rec.note(`${nCurves} curves × ${nMonths} months × ${nPaths} paths, ${DRIVERS.length} drivers, one thread`);
  let rows = runScenario(input).rows; // warm-up
  bareKernel(nCurves, nMonths, nPaths);
  const engine: number[] = [];
  const bare: number[] = [];
  for (let r = 0; r < ctx.repeats; r++) {
    let t0 = performance.now();
    rows = runScenario(input).rows;
    engine.push((performance.now() - t0) / 1000);
    t0 = performance.now();
    bareKernel(nCurves, nMonths, nPaths);
    bare.push((performance.now() - t0) / 1000);
    ctx.log(`engine round ${r + 1}: ${engine.at(-1)?.toFixed(3)} s, bare kernel ${bare.at(-1)?.toFixed(3)} s`);
  }
  rec.figure("engine run time", "s", engine, "project");
  rec.figure(
    "engine rows/s (one thread)",
    "rows/s",
    engine.map((s) => rows / s),
    "project",
  );
  const pm = rec.figure(
    "engine path-months/s (one thread)",
    "path-months/s",
    engine.map((s) => pathMonths / s),
    "project",
  );
  const bpm = rec.figure(
    "bare kernel path-months/s",
    "path-months/s",
    bare.map((s) => pathMonths / s),
    "baseline",
  );
  rec.ratio("engine / bare kernel, path-months/s", pm, bpm);
  rec.note(`${rows.toLocaleString("en-US")} rows per run`);
  return rec.result;
}

/** The standalone bench (`bun bench/engine.ts [curves] [months] [paths] [runs]`, docs/model.md). */
export function engineStandalone(argv: string[]) {
  const [nCurves = 500, nMonths = 360, nPaths = 500, nRuns = 3] = argv.map(Number);
  const input = engineInput(nCurves, nMonths, nPaths);
  const times: number[] = [];
  let rows = 0;
  for (let r = 0; r < nRuns; r++) {
    const t0 = performance.now();
    rows = runScenario(input).rows;
    times.push((performance.now() - t0) / 1000);
  }
  const m = median(times);
  const pathMonths = nCurves * nMonths * nPaths;
  console.log(`engine bench: ${nCurves} curves × ${nMonths} months × ${nPaths} paths, ${DRIVERS.length} drivers, bun ${Bun.version}`);
  console.table(times.map((t, i) => ({ run: i + 1, seconds: Number(t.toFixed(3)), rows, "rows/s": fmt(rows / t), "path-months/s": fmt(pathMonths / t) })));
  console.log(`median: ${m.toFixed(3)} s, ${fmt(rows / m)} rows/s, ${fmt(pathMonths / m)} path-months/s`);
}

if (import.meta.main) engineStandalone(process.argv.slice(2));

/**
 * Engine benchmark: `bun bench/engine.ts [curves] [months] [paths] [runs]` (defaults 500 × 360 × 500, 3 runs).
 * Synthetic seasonal curves are generated here; one thread, no I/O inside the timed section.
 */
import { type BaselineCurve, DEFAULT_PARAMETERS, type Driver, type EngineInput, runScenario } from "../src/engine/index";

const [nCurves = 500, nMonths = 360, nPaths = 500, nRuns = 3] = process.argv.slice(2).map(Number);

function synthCurves(n: number, months: number): BaselineCurve[] {
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

const drivers: Driver[] = [
  { driver_type: "fuel_curve", fuel: "natural_gas", reference_series: "HH", basis_points_adjustment: 1500 },
  { driver_type: "fuel_curve", fuel: "co2", reference_series: "RGGI", basis_points_adjustment: 2500 },
  { driver_type: "policy", policy_name: "RPS", start_year: 2028, target: 0.5, target_year: 2035, region: "PJM" },
  { driver_type: "policy", policy_name: "CARBON_TAX", start_year: 2030, target: 40, target_year: 2040 },
  { driver_type: "load_growth", annual_growth_pct: 2.5, start_year: 2027, end_year: 2040 },
  { driver_type: "fleet_change", fleet_id: "ccgt-1", change_type: "add", effective_date: "2029-06-01", capacity_mw: 1200, technology: "gas_cc", region: "ERCOT" },
  { driver_type: "fleet_change", fleet_id: "coal-7", change_type: "retire", effective_date: "2028-01-01", capacity_mw: 2400, technology: "coal" },
];

const curves = synthCurves(nCurves, nMonths);
const input: EngineInput = {
  tenantId: "bench",
  scenarioId: "bench",
  runId: "bench",
  asofDate: "2027-01-01",
  codeVersion: "bench",
  parameters: { ...DEFAULT_PARAMETERS, horizon_months: nMonths, mc_paths: nPaths },
  drivers,
  curves,
};

const times: number[] = [];
let rows = 0;
for (let r = 0; r < nRuns; r++) {
  const t0 = performance.now();
  rows = runScenario(input).rows;
  times.push((performance.now() - t0) / 1000);
}
const sorted = [...times].sort((x, y) => x - y);
const median = sorted[Math.floor(sorted.length / 2)]!;
const pathMonths = nCurves * nMonths * nPaths;
const fmt = (x: number) => x.toLocaleString("en-US", { maximumFractionDigits: 0 });
console.log(`engine bench: ${nCurves} curves × ${nMonths} months × ${nPaths} paths, ${drivers.length} drivers, bun ${Bun.version}`);
console.table(times.map((t, i) => ({ run: i + 1, seconds: Number(t.toFixed(3)), rows, "rows/s": fmt(rows / t), "path-months/s": fmt(pathMonths / t) })));
console.log(`median: ${median.toFixed(3)} s, ${fmt(rows / median)} rows/s, ${fmt(pathMonths / median)} path-months/s`);

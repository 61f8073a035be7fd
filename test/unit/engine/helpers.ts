/** Test helpers: flatten batches into row objects, serialize, seeded generator of random valid scenarios. */
import { SAMPLE_ASOF, SAMPLE_CURVES, SAMPLE_MONTHS, seasonalMid } from "../../../src/curves/sample";
import { type BaselineCurve, DEFAULT_PARAMETERS, type Driver, type EngineInput, type EngineResult } from "../../../src/engine/index";

export interface Row {
  curveKey: string;
  tenorType: string;
  contractMonth: number;
  tenorLabel: string;
  metric: string;
  value: number;
  bandLower: number;
  bandUpper: number;
  attribution: string | null;
}

export function rowsOf(r: EngineResult): Row[] {
  const out: Row[] = [];
  for (const b of r.batches)
    for (let i = 0; i < b.length; i++)
      out.push({
        curveKey: b.curveKey[i]!,
        tenorType: b.tenorType[i]!,
        contractMonth: b.contractMonth[i]!,
        tenorLabel: b.tenorLabel[i]!,
        metric: b.metric[i]!,
        value: b.value[i]!,
        bandLower: b.bandLower[i]!,
        bandUpper: b.bandUpper[i]!,
        attribution: b.attribution[i]!,
      });
  return out;
}

/** Byte-exact serialization of batches (floats via their IEEE bits). */
export function serialize(r: EngineResult): string {
  const f = (a: Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("hex");
  return (
    JSON.stringify(
      r.batches.map((b) => [b.length, b.curveKey, b.tenorType, Array.from(b.contractMonth), b.tenorLabel, b.metric, f(b.value), f(b.bandLower), f(b.bandUpper), b.attribution]),
    ) +
    r.versionHash +
    r.rows
  );
}

export function index(rows: Row[]): Map<string, Row> {
  const m = new Map<string, Row>();
  for (const r of rows) m.set(`${r.curveKey}|${r.tenorType}|${r.tenorLabel}|${r.metric}`, r);
  return m;
}

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function ymAdd(yyyymm: number, k: number): number {
  const i = Math.floor(yyyymm / 100) * 12 + (yyyymm % 100) - 1 + k;
  return Math.floor(i / 12) * 100 + (i % 12) + 1;
}

export function monthsFrom(start: number, n: number): Int32Array {
  const m = new Int32Array(n);
  for (let i = 0; i < n; i++) m[i] = ymAdd(start, i);
  return m;
}

const MARKETS = ["PJM", "ERCOT", "CAISO", "MISO", "NYISO", "ISO-NE", "ZZX"];
const BLOCKS = ["ON_PEAK", "OFF_PEAK", "ATC"];

/** A random valid scenario; small enough for hundreds of runs. */
export function randomScenario(seed: number): EngineInput {
  const rnd = mulberry32(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
  const asofYm = ymAdd(202601, int(0, 30));
  const asofDate = `${Math.floor(asofYm / 100)}-${String(asofYm % 100).padStart(2, "0")}-${String(int(1, 28)).padStart(2, "0")}`;
  const horizon = int(1, 40);
  const curves: BaselineCurve[] = [];
  const fuelSpecs: [string, BaselineCurve["product"], number, string, string][] = [
    ["GAS0", "natural_gas", 3.5, "USD/MMBtu", "GAS0"],
    ["GAS1", "natural_gas", 5, "USD/MMBtu", "GAS1"],
    ["COAL0", "coal", 80, "USD/short_ton", "COAL0"],
    ["CO20", "co2", 25, "USD/short_ton", "RGGI allowances"],
    ["OIL0", "oil", 70, "USD/bbl", "OIL0"],
  ];
  const nFuel = int(1, fuelSpecs.length);
  for (let i = 0; i < nFuel; i++) {
    const [key, product, level, unit, location] = fuelSpecs[i]!;
    const start = ymAdd(asofYm, int(-6, 2));
    const n = int(1, 50);
    const mid = new Float64Array(n);
    for (let j = 0; j < n; j++) mid[j] = level * (0.7 + 0.6 * rnd()) * (rnd() < 0.03 ? -0.2 : 1);
    curves.push({ curveKey: key, market: "HUB", location, product, block: "ATC", unit, months: monthsFrom(start, n), mid });
  }
  const nPower = int(1, 4);
  for (let i = 0; i < nPower; i++) {
    const start = ymAdd(asofYm, int(-6, 4));
    const n = int(1, 50);
    const mid = new Float64Array(n);
    for (let j = 0; j < n; j++) mid[j] = (20 + 100 * rnd()) * (rnd() < 0.03 ? -0.1 : 1);
    curves.push({ curveKey: `P${i}`, market: pick(MARKETS), location: `LOC${i}`, product: "power", block: pick(BLOCKS), unit: "USD/MWh", months: monthsFrom(start, n), mid });
  }
  const drivers: Driver[] = [];
  const nDrivers = int(0, 6);
  const y0 = Math.floor(asofYm / 100);
  for (let i = 0; i < nDrivers; i++) {
    const kind = int(0, 3);
    const region = rnd() < 0.4 ? pick([...MARKETS, "loc0", "LOC1", "NY", "isone"]) : undefined;
    if (kind === 0) {
      const start = y0 + int(-1, 3);
      const d: Driver = { driver_type: "policy", policy_name: pick(["RPS", "CES", "CARBON_TAX", "OTHER"]), start_year: start, target: rnd() < 0.5 ? rnd() : 10 + 50 * rnd() };
      if (rnd() < 0.6) d.target_year = start + int(0, 5);
      if (region) d.region = region;
      drivers.push(d);
    } else if (kind === 1) {
      const start = y0 + int(-1, 3);
      const d: Driver = { driver_type: "load_growth", annual_growth_pct: -3 + 8 * rnd(), start_year: start, end_year: start + int(0, 4) };
      if (region) d.region = region;
      if (rnd() < 0.2) d.reference_curve_key = `P${int(0, nPower - 1)}`;
      drivers.push(d);
    } else if (kind === 2) {
      const [key, product] = fuelSpecs[int(0, nFuel - 1)]!;
      drivers.push({ driver_type: "fuel_curve", fuel: product as "natural_gas", reference_series: key, basis_points_adjustment: int(-5000, 5000) });
    } else {
      const eff = ymAdd(asofYm, int(-6, 30));
      const d: Driver = {
        driver_type: "fleet_change",
        fleet_id: `F${i}`,
        change_type: rnd() < 0.5 ? "add" : "retire",
        effective_date: `${Math.floor(eff / 100)}-${String(eff % 100).padStart(2, "0")}-${String(int(1, 28)).padStart(2, "0")}`,
        capacity_mw: 10 + 40000 * rnd() * rnd(),
      };
      if (rnd() < 0.5) d.technology = pick(["solar", "wind", "gas_cc", "nuclear", "battery"]);
      d.region = region ?? pick(MARKETS);
      drivers.push(d);
    }
  }
  return {
    tenantId: "t",
    scenarioId: `s${seed}`,
    runId: "r",
    asofDate,
    codeVersion: "test",
    parameters: {
      ...DEFAULT_PARAMETERS,
      horizon_months: horizon,
      mc_paths: int(100, 160),
      seed: int(0, 1e6),
      band_quantiles: rnd() < 0.7 ? [0.05, 0.95] : [0.2 * rnd(), 0.8 + 0.2 * rnd()],
      shock_bp: int(-200, 200),
    },
    drivers,
    curves,
  };
}

/** Attribution sum check: |Σ contributions − value| ≤ 1e-9 · max(|value|, Σ|contributions|). */
export function attributionError(value: number, attribution: string): number {
  const parts = Object.values(JSON.parse(attribution) as Record<string, number>);
  let sum = 0;
  let abs = Math.abs(value);
  for (const v of parts) {
    sum += v;
    abs += Math.abs(v);
  }
  const err = Math.abs(sum - value);
  return abs === 0 ? err : err / abs;
}

/** The worked example of docs/model.md §8. */
export const WORKED_EXAMPLE: EngineInput = {
  tenantId: "demo-tenant",
  scenarioId: "worked-example",
  runId: "run-1",
  asofDate: "2027-01-15",
  codeVersion: "doc-example",
  parameters: { ...DEFAULT_PARAMETERS, horizon_months: 3, mc_paths: 100, seed: 42 },
  drivers: [
    { driver_type: "fuel_curve", fuel: "natural_gas", reference_series: "HH_GAS", basis_points_adjustment: 1000 },
    { driver_type: "policy", policy_name: "CARBON_TAX", start_year: 2027, target: 20 },
    { driver_type: "policy", policy_name: "RPS", start_year: 2027, target: 0.05, region: "NJ" },
    { driver_type: "load_growth", annual_growth_pct: 13.02, start_year: 2026, end_year: 2026, region: "pjm" },
  ],
  curves: [
    {
      curveKey: "PJM_W_ON",
      market: "PJM",
      location: "WESTERN HUB",
      product: "power",
      block: "ON_PEAK",
      unit: "USD/MWh",
      months: new Int32Array([202701, 202702, 202703]),
      mid: new Float64Array([60, 50, 40]),
    },
    {
      curveKey: "HH_GAS",
      market: "NYMEX",
      location: "HENRY HUB",
      product: "natural_gas",
      block: "ATC",
      unit: "USD/MMBtu",
      months: new Int32Array([202701, 202702, 202703]),
      mid: new Float64Array([4, 4, 4]),
    },
  ],
};

/** The bundled sample curves (src/curves/sample.ts) as engine curves, months from the month after SAMPLE_ASOF. */
export function sampleCurves(): BaselineCurve[] {
  const start = Number(SAMPLE_ASOF.slice(0, 4)) * 100 + Number(SAMPLE_ASOF.slice(5, 7)) + 1;
  const first = Number(SAMPLE_ASOF.slice(5, 7)) % 12;
  return SAMPLE_CURVES.map((spec) => {
    const mid = new Float64Array(SAMPLE_MONTHS);
    for (let i = 0; i < SAMPLE_MONTHS; i++) mid[i] = seasonalMid(spec, first, i);
    return {
      curveKey: spec.curveKey,
      market: spec.market,
      location: spec.location,
      product: spec.product as BaselineCurve["product"],
      block: spec.block,
      unit: spec.unit,
      months: monthsFrom(start, SAMPLE_MONTHS),
      mid,
    };
  });
}

/** A run over the sample curves with these drivers (horizon: all sample months). */
export function sampleInput(drivers: Driver[], parameters: Partial<EngineInput["parameters"]> = {}): EngineInput {
  return {
    tenantId: "t",
    scenarioId: "sample",
    runId: "r",
    asofDate: SAMPLE_ASOF,
    codeVersion: "test",
    parameters: { ...DEFAULT_PARAMETERS, horizon_months: SAMPLE_MONTHS + 1, mc_paths: 100, ...parameters },
    drivers,
    curves: sampleCurves(),
  };
}

/**
 * Deterministic baseline curves: the bundled sample set (real hub names, seasonal shapes,
 * 10 years of months) loaded on the first embedded start, and the synthetic universe
 * generator behind `npm run curves:generate`.
 */
import type { CurveIdentity, ObservationBatch } from "./csv";

export type CurveSpec = CurveIdentity & { curveKey: string; level: number; summer: number; winter: number; drift: number };

/** Levels are round, plausible 2020s forward prices; shapes put power peaks in summer (and winter for gas-heated regions). */
export const SAMPLE_CURVES: CurveSpec[] = [
  {
    curveKey: "PJM_WEST_ON_PEAK",
    market: "PJM",
    location: "PJM West Hub",
    product: "power",
    block: "ON_PEAK",
    unit: "USD/MWh",
    level: 55,
    summer: 0.22,
    winter: 0.12,
    drift: 0.015,
  },
  {
    curveKey: "PJM_WEST_OFF_PEAK",
    market: "PJM",
    location: "PJM West Hub",
    product: "power",
    block: "OFF_PEAK",
    unit: "USD/MWh",
    level: 38,
    summer: 0.12,
    winter: 0.1,
    drift: 0.015,
  },
  {
    curveKey: "ERCOT_NORTH_ON_PEAK",
    market: "ERCOT",
    location: "ERCOT North Hub",
    product: "power",
    block: "ON_PEAK",
    unit: "USD/MWh",
    level: 52,
    summer: 0.45,
    winter: 0.05,
    drift: 0.02,
  },
  { curveKey: "CAISO_SP15_ON_PEAK", market: "CAISO", location: "SP15", product: "power", block: "ON_PEAK", unit: "USD/MWh", level: 58, summer: 0.25, winter: 0.08, drift: 0.018 },
  {
    curveKey: "MISO_INDIANA_ON_PEAK",
    market: "MISO",
    location: "Indiana Hub",
    product: "power",
    block: "ON_PEAK",
    unit: "USD/MWh",
    level: 50,
    summer: 0.2,
    winter: 0.1,
    drift: 0.015,
  },
  {
    curveKey: "NYISO_ZONE_J_ON_PEAK",
    market: "NYISO",
    location: "Zone J (NYC)",
    product: "power",
    block: "ON_PEAK",
    unit: "USD/MWh",
    level: 68,
    summer: 0.25,
    winter: 0.2,
    drift: 0.02,
  },
  {
    curveKey: "ISONE_MASS_HUB_ON_PEAK",
    market: "ISO-NE",
    location: "Mass Hub",
    product: "power",
    block: "ON_PEAK",
    unit: "USD/MWh",
    level: 62,
    summer: 0.12,
    winter: 0.35,
    drift: 0.018,
  },
  {
    curveKey: "SPP_SOUTH_ON_PEAK",
    market: "SPP",
    location: "SPP South Hub",
    product: "power",
    block: "ON_PEAK",
    unit: "USD/MWh",
    level: 45,
    summer: 0.3,
    winter: 0.05,
    drift: 0.015,
  },
  { curveKey: "MIDC_ON_PEAK", market: "WECC", location: "Mid-Columbia", product: "power", block: "ON_PEAK", unit: "USD/MWh", level: 48, summer: 0.28, winter: 0.15, drift: 0.02 },
  {
    curveKey: "HENRY_HUB_GAS",
    market: "NYMEX",
    location: "Henry Hub",
    product: "natural_gas",
    block: "ATC",
    unit: "USD/MMBtu",
    level: 3.6,
    summer: 0.03,
    winter: 0.18,
    drift: 0.02,
  },
  {
    curveKey: "CAPP_COAL",
    market: "NYMEX",
    location: "Central Appalachia",
    product: "coal",
    block: "ATC",
    unit: "USD/short_ton",
    level: 78,
    summer: 0.02,
    winter: 0.04,
    drift: 0.01,
  },
  { curveKey: "RGGI_CO2", market: "RGGI", location: "RGGI allowances", product: "co2", block: "ATC", unit: "USD/short_ton", level: 18, summer: 0, winter: 0, drift: 0.06 },
];

/** The as-of date of the bundled sample set: fixed, so every install holds the same rows. */
export const SAMPLE_ASOF = "2026-01-02";
export const SAMPLE_MONTHS = 120;

/** Price of `spec` `offset` months after a month whose calendar index (0 = January) is `startMonthIndex`. */
export function seasonalMid(spec: CurveSpec, startMonthIndex: number, offset: number, noise = 0): number {
  const monthIndex = (startMonthIndex + offset) % 12; // 0 = January
  const years = offset / 12;
  const summer = Math.cos((2 * Math.PI * (monthIndex - 6.5)) / 12); // peaks mid-July
  const winter = Math.cos((2 * Math.PI * (monthIndex - 0.5)) / 12); // peaks mid-January
  const shape = 1 + spec.summer * Math.max(0, summer) + spec.winter * Math.max(0, winter);
  return Math.round(spec.level * shape * (1 + spec.drift) ** years * (1 + noise) * 10_000) / 10_000;
}

function monthString(year: number, monthIndex: number): string {
  return `${year + Math.floor(monthIndex / 12)}-${String((monthIndex % 12) + 1).padStart(2, "0")}-01`;
}

/** Observations for `specs` over `months` months from the as-of date's next month, in batches. */
export function* curveObservations(specs: CurveSpec[], asofDate: string, months: number, noiseSeed?: number, batchRows = 5000): Generator<ObservationBatch> {
  const year = Number(asofDate.slice(0, 4));
  const first = Number(asofDate.slice(5, 7)); // next month, 0-based: (month - 1) + 1
  const random = noiseSeed === undefined ? () => 0.5 : mulberry32(noiseSeed);
  let batch: ObservationBatch = { line: [], curveKey: [], asofDate: [], contractMonth: [], mid: [] };
  let line = 1;
  for (const spec of specs) {
    for (let i = 0; i < months; i++) {
      batch.line.push(++line);
      batch.curveKey.push(spec.curveKey);
      batch.asofDate.push(asofDate);
      batch.contractMonth.push(monthString(year, first + i));
      batch.mid.push(seasonalMid(spec, first % 12, i, (random() - 0.5) * 0.04));
      if (batch.line.length >= batchRows) {
        yield batch;
        batch = { line: [], curveKey: [], asofDate: [], contractMonth: [], mid: [] };
      }
    }
  }
  if (batch.line.length) yield batch;
}

/** A synthetic universe of `n` curves: power hubs in every block plus fuels, names numbered. */
export function syntheticCurves(n: number, seed = 7): CurveSpec[] {
  const random = mulberry32(seed);
  const out: CurveSpec[] = [];
  for (let i = 0; i < n; i++) {
    const base = SAMPLE_CURVES[i % SAMPLE_CURVES.length] as CurveSpec;
    const id = String(i + 1).padStart(4, "0");
    out.push({ ...base, curveKey: `SYN_${id}_${base.curveKey}`, location: `${base.location} #${id}`, level: base.level * (0.8 + 0.4 * random()) });
  }
  return out;
}

/** Small, fast, seedable PRNG (public domain); determinism matters here, not cryptographic quality. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

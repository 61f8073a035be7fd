/**
 * Market scope (docs/model.md §3.1): which markets a region, a carbon program or a gas hub belongs
 * to. Every driver moves only the power curves in its scope; the tables and their sources are
 * documented in docs/model.md §3.1.
 */
import type { BaselineCurve } from "./types";

/** Canonical market keys of the stack tables (params.ts MARKET_STACK). */
export type MarketKey = "PJM" | "MISO" | "ERCOT" | "SPP" | "CAISO" | "NYISO" | "ISO-NE" | "NW" | "DEFAULT";
export const MARKET_KEYS: readonly MarketKey[] = ["PJM", "MISO", "ERCOT", "SPP", "CAISO", "NYISO", "ISO-NE", "NW", "DEFAULT"];

/** Lower-case, letters and digits only: "ISO-NE" → "isone", "Mid-Columbia" → "midcolumbia". */
export function norm(s: string | undefined | null): string {
  return typeof s === "string" ? s.toLowerCase().replace(/[^a-z0-9]/g, "") : "";
}

/** Names of each ISO/RTO (market field) and hub locations that identify a market (ISO footprints, FERC/EIA market pages). */
const MARKET_ALIASES: Readonly<Record<Exclude<MarketKey, "DEFAULT">, { markets: string[]; locations: string[] }>> = {
  PJM: { markets: ["PJM", "PJM Interconnection"], locations: [] },
  MISO: { markets: ["MISO", "Midcontinent ISO"], locations: [] },
  ERCOT: { markets: ["ERCOT"], locations: [] },
  SPP: { markets: ["SPP", "Southwest Power Pool"], locations: [] },
  CAISO: { markets: ["CAISO", "CAL-ISO", "California ISO"], locations: ["SP15", "NP15", "ZP26"] },
  NYISO: { markets: ["NYISO"], locations: [] },
  "ISO-NE": { markets: ["ISO-NE", "ISONE", "ISO New England", "NEPOOL"], locations: ["Mass Hub"] },
  // Pacific Northwest (non-ISO WECC): Mid-Columbia is its trading hub
  NW: { markets: ["Mid-C", "MIDC", "NWPP", "BPA"], locations: ["Mid-Columbia", "Mid-C", "MIDC"] },
};

const MARKET_BY_NAME = new Map<string, MarketKey>();
const MARKET_BY_LOCATION = new Map<string, MarketKey>();
for (const [key, a] of Object.entries(MARKET_ALIASES) as [MarketKey, { markets: string[]; locations: string[] }][]) {
  for (const m of a.markets) MARKET_BY_NAME.set(norm(m), key);
  for (const l of a.locations) MARKET_BY_LOCATION.set(norm(l), key);
}

/** The canonical market of a power curve: its market name, else a hub location that identifies one, else DEFAULT. */
export function marketOf(c: Pick<BaselineCurve, "market" | "location">): MarketKey {
  return MARKET_BY_NAME.get(norm(c.market)) ?? MARKET_BY_LOCATION.get(norm(c.location)) ?? "DEFAULT";
}

/**
 * US states (two-letter codes) to the markets whose footprint holds their load (ISO/RTO footprint
 * maps, EIA "Electricity Market Module" regions). A state RPS/CES policy given as region moves these markets.
 */
export const STATE_MARKETS: Readonly<Record<string, readonly MarketKey[]>> = {
  NY: ["NYISO"],
  CT: ["ISO-NE"],
  MA: ["ISO-NE"],
  ME: ["ISO-NE"],
  NH: ["ISO-NE"],
  RI: ["ISO-NE"],
  VT: ["ISO-NE"],
  NJ: ["PJM"],
  MD: ["PJM"],
  DE: ["PJM"],
  PA: ["PJM"],
  OH: ["PJM"],
  VA: ["PJM"],
  WV: ["PJM"],
  DC: ["PJM"],
  IL: ["PJM", "MISO"],
  IN: ["MISO"],
  MI: ["MISO"],
  MN: ["MISO"],
  WI: ["MISO"],
  IA: ["MISO"],
  MO: ["MISO", "SPP"],
  LA: ["MISO"],
  AR: ["MISO", "SPP"],
  TX: ["ERCOT"],
  OK: ["SPP"],
  KS: ["SPP"],
  NE: ["SPP"],
  NM: ["SPP"],
  CA: ["CAISO"],
  WA: ["NW"],
  OR: ["NW"],
  ID: ["NW"],
};

/** Carbon programs: names that identify a CO2 curve's program, and the markets (or hub locations) it covers. */
export interface CarbonProgram {
  name: string;
  /** Substrings (normalised) of a co2 curve's market, location or key that identify the program. */
  aliases: string[];
  /** Markets fully inside the program. */
  markets: MarketKey[];
  /** Normalised location substrings of curves in other markets that lie inside the program (partial coverage). */
  locations: string[];
}

export const CARBON_PROGRAMS: readonly CarbonProgram[] = [
  {
    // RGGI Inc., participating states (2024): CT, DE, ME, MD, MA, NH, NJ, NY, RI, VT. New York and
    // the six New England states are whole ISOs; DE, MD, NJ are the RGGI part of PJM, so only PJM
    // locations in those states are covered (PJM West Hub, in western PA/MD/WV, is not).
    name: "RGGI",
    aliases: ["rggi"],
    markets: ["NYISO", "ISO-NE"],
    locations: ["easternhub", "njhub", "newjersey", "pseg", "jcpl", "aeco", "reco", "bge", "pepco", "dpl", "delmarva"],
  },
  {
    // CARB cap-and-trade regulation (17 CCR §95800 ff.), linked with Québec in the WCI: California load, i.e. CAISO.
    name: "WCI",
    aliases: ["wci", "carb", "cca", "californiacarbon", "capandtradeca"],
    markets: ["CAISO"],
    locations: [],
  },
  {
    // Washington Climate Commitment Act cap-and-invest (Ecology, WAC 173-446): Washington load, i.e. the Mid-C hub.
    name: "WA_CCA",
    aliases: ["wca", "washingtoncarbon", "waccacap", "wacca"],
    markets: ["NW"],
    locations: [],
  },
];

/** The carbon program a CO2 curve's market, location or key names, or undefined. */
export function carbonProgramOf(c: Pick<BaselineCurve, "market" | "location" | "curveKey">): CarbonProgram | undefined {
  const names = [norm(c.market), norm(c.location), norm(c.curveKey)];
  for (const p of CARBON_PROGRAMS) if (names.some((n) => p.aliases.some((a) => n.includes(a)))) return p;
  return undefined;
}

/** Is the power curve inside the program's footprint? */
export function programCovers(p: CarbonProgram, c: Pick<BaselineCurve, "market" | "location">): boolean {
  if (p.markets.includes(marketOf(c))) return true;
  const loc = norm(c.location);
  return p.locations.some((l) => loc.includes(l));
}

/** Regional gas hubs burnt in each market (EIA natural gas trading hubs; pipeline delivery points of the ISO's generators). */
export const GAS_HUBS: Readonly<Record<Exclude<MarketKey, "DEFAULT">, readonly string[]>> = {
  PJM: ["tetcom3", "transcoz6nonny", "transcozone6nonny", "dominionsouth", "dominion"],
  NYISO: ["transcoz6ny", "transcozone6ny", "iroquoisz2", "iroquois"],
  "ISO-NE": ["algonquin", "algonquincitygates", "tennesseez6"],
  CAISO: ["socalcitygate", "pgecitygate", "socalborder", "socal"],
  ERCOT: ["houstonshipchannel", "hsc", "waha", "katy"],
  MISO: ["chicagocitygate", "chicago", "michcon"],
  SPP: ["panhandle", "oneok", "ogt", "ngpltxok"],
  NW: ["sumas", "malin", "stanfield"],
};

/** The market a gas curve's location or key names as a regional hub, or undefined (a benchmark-like curve, e.g. Henry Hub). */
export function gasHubMarket(c: Pick<BaselineCurve, "location" | "curveKey">): MarketKey | undefined {
  const loc = norm(c.location);
  const key = norm(c.curveKey);
  for (const [m, hubs] of Object.entries(GAS_HUBS) as [MarketKey, readonly string[]][]) {
    for (const h of hubs) if (loc === h || loc.startsWith(h) || key.startsWith(h)) return m;
  }
  return undefined;
}

/** A basis curve is quoted as a differential to the benchmark: its key or location says "basis". */
export function isBasisCurve(c: Pick<BaselineCurve, "location" | "curveKey">): boolean {
  return norm(c.location).includes("basis") || norm(c.curveKey).includes("basis");
}

/** Is the gas curve the Henry Hub benchmark? */
export function isHenryHub(c: Pick<BaselineCurve, "location" | "curveKey" | "market">): boolean {
  return norm(c.location).includes("henryhub") || norm(c.curveKey).includes("henryhub") || norm(c.market).includes("henryhub");
}

/**
 * Does a driver's `region` cover the power curve? True when the region (trimmed, case-insensitive)
 * is the curve's market or location, an alias of its canonical market (ISONE for ISO-NE), a state
 * whose markets include it, or a carbon program covering it. An absent region covers every market.
 */
export function regionCovers(region: string | undefined | null, c: Pick<BaselineCurve, "market" | "location">): boolean {
  if (region === undefined || region === null || region.trim() === "") return true;
  const r = region.trim().toLowerCase();
  if (c.market.trim().toLowerCase() === r || c.location.trim().toLowerCase() === r) return true;
  const m = marketOf(c);
  const rn = norm(region);
  if (m !== "DEFAULT" && (MARKET_BY_NAME.get(rn) === m || MARKET_BY_LOCATION.get(rn) === m)) return true;
  const states = STATE_MARKETS[region.trim().toUpperCase()];
  if (states?.includes(m)) return true;
  const program = CARBON_PROGRAMS.find((p) => norm(p.name) === rn);
  return program !== undefined && programCovers(program, c);
}

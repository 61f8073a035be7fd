/**
 * Unit conversion from a curve's `unit` text to the engine's canonical units (docs/model.md §3.2):
 * power USD/MWh, natural gas USD/MMBtu, coal USD/short ton, oil USD/bbl, CO2 USD per metric tonne.
 * A unit is "<currency>/<quantity>"; spaces, case and the separators "/", " per " are tolerated.
 * A unit the table cannot convert is an engine validation issue, never a silent misreading.
 */
import type { Product } from "./types";

/** Currency part: multiplier to USD. */
const CURRENCY: Readonly<Record<string, number>> = {
  usd: 1,
  $: 1,
  us$: 1,
  uscents: 0.01,
  usc: 0.01,
  cents: 0.01,
  cent: 0.01,
  "¢": 0.01,
};

/** 1 short ton = 0.90718474 metric tonnes (NIST Handbook 44, Appendix C). */
export const TONNE_PER_SHORT_TON = 0.90718474;
/** 1 MMBtu = 1.055056 GJ (NIST SP 811); 1 MMBtu = 10 therms = 1 dekatherm. */
export const GJ_PER_MMBTU = 1.055056;

/**
 * Quantity part per product: multiplier that turns "USD per <quantity>" into "USD per canonical
 * quantity" (price per canonical unit = price per given unit × factor).
 */
const QUANTITY: Readonly<Record<Product, Readonly<Record<string, number>>>> = {
  power: { mwh: 1, kwh: 1000 },
  natural_gas: { mmbtu: 1, dth: 1, dekatherm: 1, therm: 10, gj: GJ_PER_MMBTU },
  // coal: canonical per short ton; a price per metric tonne → per short ton multiplies by t/st
  coal: { short_ton: 1, shortton: 1, st: 1, ton: 1, tonne: TONNE_PER_SHORT_TON, t: TONNE_PER_SHORT_TON, metric_ton: TONNE_PER_SHORT_TON, mt: TONNE_PER_SHORT_TON },
  oil: { bbl: 1, barrel: 1, gal: 42, gallon: 42 },
  // CO2: canonical per metric tonne; a price per short ton → per tonne divides by t/st
  co2: {
    tco2: 1,
    t: 1,
    tonne: 1,
    metric_ton: 1,
    mt: 1,
    tco2e: 1,
    short_ton: 1 / TONNE_PER_SHORT_TON,
    shortton: 1 / TONNE_PER_SHORT_TON,
    st: 1 / TONNE_PER_SHORT_TON,
    ton: 1 / TONNE_PER_SHORT_TON,
  },
};

/** The canonical unit of each product. */
export const CANONICAL_UNIT: Readonly<Record<Product, string>> = {
  power: "USD/MWh",
  natural_gas: "USD/MMBtu",
  coal: "USD/short_ton",
  oil: "USD/bbl",
  co2: "USD/tCO2",
};

/**
 * Factor f with (price in canonical unit) = f × (price in `unit`), or undefined if `unit` is not
 * convertible for `product`. "ton" alone is read as a short ton (the US convention of coal and RGGI).
 */
export function unitFactor(product: Product, unit: string): number | undefined {
  if (typeof unit !== "string") return undefined;
  const u = unit
    .trim()
    .toLowerCase()
    .replace(/\s+per\s+/g, "/")
    .replace(/\s+/g, "");
  const slash = u.indexOf("/");
  if (slash <= 0) return undefined;
  const cur = CURRENCY[u.slice(0, slash)];
  let qty = u.slice(slash + 1).replace(/-/g, "_");
  if (qty.startsWith("1")) qty = qty.slice(1);
  const q = QUANTITY[product]?.[qty] ?? QUANTITY[product]?.[qty.replace(/_/g, "")];
  if (cur === undefined || q === undefined) return undefined;
  return cur * q;
}

/** The units accepted for a product, for error messages. */
export function knownUnits(product: Product): string {
  return Object.keys(QUANTITY[product] ?? {})
    .map((q) => `USD/${q}`)
    .join(", ");
}

/**
 * Plausible ranges of a curve's `mid` by unit, checked on import. They are generous (one to two
 * orders of magnitude beyond any price ever printed) so no real curve is refused, but finite, so a
 * typo or a corrupt file (1.7e308) never reaches the engine, whose drivers would overflow it to
 * Infinity. Documented in docs/curves.md; keep the two in step.
 */

export type MidBound = { unit: string; max: number };

/**
 * |mid| bounds by what the price is per: the part of the unit after its last "/", case-insensitive,
 * whatever the currency (USD/MWh and EUR/MWh alike). Negative prices are allowed (power goes negative).
 */
const BY_DENOMINATOR: Record<string, number> = {
  // Power: ERCOT's offer cap is 5,000 USD/MWh, the highest cleared prices ~10,000.
  mwh: 1e5,
  kwh: 1e2,
  // Gas: Henry Hub futures have stayed under 20 USD/MMBtu; the 2021 cold snap spiked spot hubs to ~1,000.
  mmbtu: 1e4,
  therm: 1e3,
  gj: 1e4,
  // Coal and carbon: a few hundred per ton at most.
  short_ton: 1e5,
  ton: 1e5,
  tonne: 1e5,
  t: 1e5,
  tco2: 1e5,
  tco2e: 1e5,
  // Oil: under 150 USD/bbl so far.
  bbl: 1e4,
};

/** For a unit not listed above. */
export const DEFAULT_MID_MAX = 1e6;

/** The |mid| bound that applies to `unit`. */
export function midBound(unit: string): MidBound {
  const slash = unit.lastIndexOf("/");
  const per = (slash >= 0 ? unit.slice(slash + 1) : "").trim().toLowerCase();
  return { unit, max: BY_DENOMINATOR[per] ?? DEFAULT_MID_MAX };
}

/** A finite mid within its unit's bound; otherwise why not (for the importer's 400). */
export function midProblem(mid: number, unit: string): string | undefined {
  if (!Number.isFinite(mid)) return "must be a finite number";
  const { max } = midBound(unit);
  if (Math.abs(mid) > max) return `${mid} is outside the plausible range for ${unit}: |mid| must be at most ${max} (docs/curves.md)`;
  return undefined;
}

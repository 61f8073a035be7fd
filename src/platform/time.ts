/** Strict ISO 8601 parsing for query filters: a date (midnight UTC) or a date-time with an offset. */
import { badRequest } from "./errors";

const ISO = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2}))?$/;

export function parseInstant(field: string, raw: string | undefined): Date | undefined {
  if (raw === undefined) return undefined;
  const value = /^\d{4}-\d{2}-\d{2}$/.test(raw) ? `${raw}T00:00:00Z` : raw;
  const date = new Date(value);
  if (!ISO.test(raw) || Number.isNaN(date.getTime()) || !isCalendarDay(raw.slice(0, 10))) {
    throw badRequest(`${field} is not a valid ISO 8601 date or date-time`, [{ field, location: "query", message: "expected e.g. 2026-01-31 or 2026-01-31T12:00:00Z" }]);
  }
  return date;
}

/** A date YYYY-MM-DD that exists (years 1900..2200, like curve as-of dates). */
export function isCalendarDate(raw: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(raw) && Number(raw.slice(0, 4)) >= 1900 && Number(raw.slice(0, 4)) <= 2200 && isCalendarDay(raw);
}

/** Date would roll 2026-02-31 over into March; a written day must round-trip unchanged. */
function isCalendarDay(ymd: string): boolean {
  const [y, m, d] = ymd.split("-").map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d)).toISOString().slice(0, 10) === ymd;
}

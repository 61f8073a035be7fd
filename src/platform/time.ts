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

/**
 * A list's creation window from `created_after` and `created_before` (either may be absent): only
 * the bounds given, ready to spread into a filter; 400 when one is not an instant or they are reversed.
 */
export function parseCreatedRange(q: { created_after?: string; created_before?: string }): { createdAfter?: Date; createdBefore?: Date } {
  const createdAfter = parseInstant("created_after", q.created_after);
  const createdBefore = parseInstant("created_before", q.created_before);
  if (createdAfter && createdBefore && createdAfter > createdBefore) {
    throw badRequest("created_after is later than created_before", [{ field: "created_after", location: "query", message: "must not be later than created_before" }]);
  }
  return { ...(createdAfter ? { createdAfter } : {}), ...(createdBefore ? { createdBefore } : {}) };
}

/** A date YYYY-MM-DD that exists (years 1900..2200, like curve as-of dates). */
export function isCalendarDate(raw: string): boolean {
  return isCalendarDay(raw) && Number(raw.slice(0, 4)) >= 1900 && Number(raw.slice(0, 4)) <= 2200;
}

/**
 * `YYYY-MM-DD` naming a day that exists, in years 0001..9999 (the 4-digit years Postgres's `date`
 * accepts; it refuses year 0). Date would roll 2026-02-31 over into March, and Date.UTC reads years
 * 0..99 as 1900..1999, so the day is built in 2000 and moved to its year, and must come back unchanged.
 */
export function isCalendarDay(raw: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(raw);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const day = new Date(Date.UTC(2000, mo - 1, d));
  day.setUTCFullYear(y);
  return y >= 1 && day.getUTCFullYear() === y && day.getUTCMonth() === mo - 1 && day.getUTCDate() === d;
}

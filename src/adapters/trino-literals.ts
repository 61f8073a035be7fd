/**
 * SQL literals for Trino. Its HTTP protocol has no parameter binding (short of PREPARE/EXECUTE,
 * whose arguments are literals again), so every value that goes into a statement goes through
 * one of these. Each returns `NULL` for null/undefined and throws RangeError for a value that
 * cannot be written exactly.
 */

import { isCalendarDay } from "../platform/time";

type Nullable<T> = T | null | undefined;

/** An Iceberg table's metadata table as a statement names it: `catalog.schema.table` → `catalog.schema."table$history"`. */
export const metadataTable = (table: string, kind: string) => {
  const dot = table.lastIndexOf(".");
  return `${table.slice(0, dot + 1)}"${table.slice(dot + 1)}$${kind}"`;
};

/** 'text' with quotes doubled; Trino has no backslash escapes, so nothing else needs escaping. */
export function varcharLiteral(v: Nullable<string>): string {
  if (v == null) return "NULL";
  if (/[\uD800-\uDFFF]/.test(v.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, ""))) throw new RangeError("string has a lone surrogate (not encodable as UTF-8)");
  return `'${v.replaceAll("'", "''")}'`;
}

/**
 * A DOUBLE with every bit kept: JavaScript's shortest round-trip digits with an exponent (a bare
 * `0.1` would be a DECIMAL in Trino), `nan()` and `infinity()` for the values SQL cannot spell.
 */
export function doubleLiteral(v: Nullable<number>): string {
  if (v == null) return "NULL";
  if (Number.isNaN(v)) return "nan()";
  if (v === Number.POSITIVE_INFINITY) return "infinity()";
  if (v === Number.NEGATIVE_INFINITY) return "-infinity()";
  if (Object.is(v, -0)) return "-0E0";
  const s = String(v).toUpperCase();
  return s.includes("E") ? s : `${s}E0`;
}

export function bigintLiteral(v: Nullable<number | bigint>): string {
  if (v == null) return "NULL";
  if (typeof v === "number" && !Number.isSafeInteger(v)) throw new RangeError(`${v} is not a safe integer`);
  const n = BigInt(v);
  if (n > 9223372036854775807n || n < -9223372036854775808n) throw new RangeError(`${v} is out of the BIGINT range`);
  return `BIGINT '${n}'`;
}

export function booleanLiteral(v: Nullable<boolean>): string {
  return v == null ? "NULL" : v ? "true" : "false";
}

/** DATE 'YYYY-MM-DD' for a real calendar date. */
export function dateLiteral(v: Nullable<string>): string {
  if (v == null) return "NULL";
  if (!isCalendarDay(v)) throw new RangeError(`${JSON.stringify(v)} is not a date (YYYY-MM-DD)`);
  return `DATE '${v}'`;
}

/** TIMESTAMP '… UTC' (timestamp with time zone) from an ISO-8601 instant with `Z` or an offset, or a Date. */
export function timestampTzLiteral(v: Nullable<string | Date>): string {
  if (v == null) return "NULL";
  const iso = v instanceof Date ? v.toISOString() : v;
  const m = /^(\d{4}-\d{2}-\d{2})[T ]((?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,12})?)(Z|[+-]\d{2}:\d{2})$/.exec(iso);
  if (!m || !isCalendarDay(m[1] as string)) throw new RangeError(`${JSON.stringify(iso)} is not an ISO-8601 instant with a zone`);
  return `TIMESTAMP '${m[1]} ${m[2]} ${m[3] === "Z" ? "UTC" : m[3]}'`;
}

/** "name" with quotes doubled, for identifiers that come from configuration. */
export function quoteIdentifier(name: string): string {
  if (!name) throw new RangeError("empty identifier");
  return `"${name.replaceAll('"', '""')}"`;
}

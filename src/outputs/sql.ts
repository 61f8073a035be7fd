/**
 * The read SQL both output stores share, written once for two dialects: the WHERE clause of a
 * read (the filters and the keyset condition) and the select list of the API row. Postgres binds
 * values as numbered parameters (`pgParams`); Trino's HTTP protocol has no parameters on a plain
 * statement, so there values go in as literals (src/adapters/trino-literals.ts checks and escapes
 * each). Columns are bound and read by their kind in row.ts.
 */
import { dateLiteral, varcharLiteral } from "../adapters/trino-literals";
import type { ExportFormat, OutputFilter } from "./reader";
import { type ColumnKind, KEY_COLUMNS, OUTPUT_TABLE, type OutputColumn, type OutputKey } from "./row";

export type Dialect = {
  /** `value` compared with a column of `kind`: a placeholder (Postgres) or a literal (Trino). */
  bind(value: string, kind: ColumnKind): string;
  /** A string literal, for constants written into the statement. */
  literal(value: string): string;
  /** A column as the API reads it: ids as text, dates as `YYYY-MM-DD`; `prefix` qualifies it. */
  read(column: string, kind: ColumnKind, prefix?: string): string;
  /** Joins conditions (the dialect's keyword case). */
  and: string;
};

/** The natural key as an ORDER BY list: the read order of every store. */
export const KEY_ORDER = KEY_COLUMNS.join(", ");

/**
 * The same, each column qualified with `table`: what a query must order by when its select list
 * spells a key column differently under the column's own name (a date as text, a text with formula
 * escaping), since an ORDER BY name means the output column first. Ordered by those, as until stop
 * 47, Postgres sorted every page and export instead of reading the primary key in order, and an
 * `escape_formulas` export put `'+b` before `(a`: out of key order, so a cursor skipped or repeated rows.
 */
export const keyOrder = (table: string) => KEY_COLUMNS.map((c) => `${table}.${c}`).join(", ");

/** E'' string literal: safe whatever standard_conforming_strings says. */
export const pgLiteral = (v: string) => `E'${v.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;

const PG_CASTS: Partial<Record<ColumnKind, string>> = { uuid: "::uuid", date: "::date" };

/** Postgres, for one statement: `bind` adds a parameter to `values` and returns its placeholder (`$n::type`). */
export function pgParams(): Dialect & { values: string[] } {
  const values: string[] = [];
  return {
    values,
    bind: (value, kind) => `$${values.push(value)}${PG_CASTS[kind] ?? ""}`,
    literal: pgLiteral,
    read: (column, kind, prefix = "") =>
      kind === "uuid" ? `${prefix}${column}::text as ${column}` : kind === "date" ? `to_char(${prefix}${column}, 'YYYY-MM-DD') as ${column}` : `${prefix}${column}`,
    and: " and ",
  };
}

/** A column's value as the API reads it, in Trino: dates as `YYYY-MM-DD` text (no alias; `read` adds it). */
export const trinoValue = (column: string, kind: ColumnKind, prefix = "") => (kind === "date" ? `CAST(${prefix}${column} AS varchar)` : `${prefix}${column}`);

/** Trino: every value a literal (Iceberg keeps ids as varchar). */
export const trinoDialect: Dialect = {
  bind: (value, kind) => (kind === "date" ? dateLiteral(value) : varcharLiteral(value)),
  literal: varcharLiteral,
  read: (column, kind, prefix = "") => (kind === "date" ? `${trinoValue(column, kind, prefix)} AS ${column}` : trinoValue(column, kind, prefix)),
  and: " AND ",
};

/** `columns` of the output table as the API reads them. */
export const readColumns = (d: Dialect, columns: readonly OutputColumn[], prefix = "") => columns.map((c) => d.read(c, OUTPUT_TABLE[c].kind, prefix)).join(", ");

/** The optional filters: the field of OutputFilter, the column it compares, how. */
const FILTERS = [
  ["runId", "run_id", "="],
  ["metric", "metric", "="],
  ["curveKey", "curve_key", "="],
  ["tenorType", "tenor_type", "="],
  ["asofFrom", "asof_date", ">="],
  ["asofTo", "asof_date", "<="],
  ["monthFrom", "contract_month", ">="],
  ["monthTo", "contract_month", "<="],
] as const satisfies readonly (readonly [keyof OutputFilter, OutputColumn, string])[];

/**
 * The WHERE clause of a read: the tenant and scenario, the filters given, and with `after` the
 * keyset condition (rows strictly after that key in KEY_ORDER). `prefix` qualifies the columns.
 */
export function where(d: Dialect, f: OutputFilter, after?: OutputKey, prefix = ""): string {
  const bind = (column: OutputColumn, value: string) => d.bind(value, OUTPUT_TABLE[column].kind);
  const conditions = [`${prefix}tenant_id = ${bind("tenant_id", f.tenantId)}`, `${prefix}scenario_id = ${bind("scenario_id", f.scenarioId)}`];
  for (const [field, column, op] of FILTERS) {
    const value = f[field];
    if (value) conditions.push(`${prefix}${column} ${op} ${bind(column, value)}`);
  }
  if (after) {
    const key = KEY_COLUMNS.map((c) => `${prefix}${c}`).join(", ");
    conditions.push(`(${key}) > (${KEY_COLUMNS.map((c) => bind(c, after[c])).join(", ")})`);
  }
  return conditions.join(d.and);
}

/** COPY takes no parameters: values go in as escaped literals. */
export function inline(text: string, params: string[]): string {
  return text.replace(/\$(\d+)/g, (_, n: string) => pgLiteral(params[Number(n) - 1] as string));
}

/** A text column as CSV with formula escaping writes it: a leading `'` when it starts with = + - @ tab or CR. */
export const formulaGuard = (col: string) => `case when left(${col}, 1) in ('=', '+', '-', '@', E'\\t', E'\\r') then '''' || ${col} else ${col} end`;

/** `select` as a COPY TO STDOUT in the export format. */
export function copyTo(select: string, format: ExportFormat): string {
  // NDJSON: CSV mode with quote and delimiter bytes that JSON text never contains, so lines pass through unescaped.
  return format === "csv"
    ? `copy (${select}) to stdout with (format csv, header)`
    : `copy (select row_to_json(t) from (${select}) t) to stdout with (format csv, quote E'\\x01', delimiter E'\\x02')`;
}

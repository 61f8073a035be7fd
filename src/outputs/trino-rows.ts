/**
 * Trino's result pages as row objects, for the output and comparison readers. Trino's JSON spells
 * non-finite doubles as strings ("NaN", "Infinity"), so the double columns are read with Number;
 * `attribution` is JSON text, read leniently: rows written before the writer quoted non-finite
 * entries hold `{"k":Infinity}`.
 */
import type { TrinoColumn, TrinoPage } from "../adapters/trino";
import { parseAttribution } from "./finite";

/**
 * Rows as objects keyed by column name; `doubles` names the double columns. `fixed` adds columns
 * the query did not select because their value is known (an export's ids, the chunk's metric, a
 * run's one as-of date and version hash: trino-export.ts).
 */
export function rowObjects<T>({ columns, rows }: { columns: TrinoColumn[]; rows: unknown[][] }, doubles: ReadonlySet<string>, fixed: Record<string, unknown> = {}): T[] {
  const convert = converter(columns, doubles, Object.keys(fixed));
  return rows.map((r) => convert(r, fixed)) as T[];
}

type Convert = (row: unknown[], fixed: Record<string, unknown>) => unknown;
const converters = new Map<string, Convert>();

/**
 * One row → object function per column list, compiled once: an object literal of fixed shape is
 * several times cheaper to build than one grown key by key, and an export builds millions. Names
 * go in as JSON string literals, so any column name is safe.
 */
function converter(columns: TrinoColumn[], doubles: ReadonlySet<string>, fixed: string[]): Convert {
  const key = [columns.map((c) => c.name), [...doubles], fixed].map((names) => names.join("\u0000")).join("\u0001");
  let convert = converters.get(key);
  if (!convert) {
    const fields = columns.map(({ name }, i) => {
      const v = `r[${i}]`;
      const value = doubles.has(name) ? `Number(${v})` : name === "attribution" ? `parse(${v})` : v;
      return `${JSON.stringify(name)}: ${v} == null ? null : ${value}`;
    });
    for (const name of fixed) fields.push(`${JSON.stringify(name)}: f[${JSON.stringify(name)}]`);
    convert = new Function("parse", `return (r, f) => ({ ${fields.join(", ")} });`)(parseAttribution) as Convert;
    converters.set(key, convert);
  }
  return convert;
}

/** Rows per batch at most: a spooled segment holds up to ~100,000, and each batch is one encoded chunk. */
export const BATCH_ROWS = 8192;

/** The non-empty pages of a query as batches of row objects, at most BATCH_ROWS each (a page's `fixed`: see rowObjects). */
export async function* rowBatches<T>(pages: AsyncGenerator<TrinoPage & { fixed?: Record<string, unknown> }, unknown>, doubles: ReadonlySet<string>): AsyncGenerator<T[]> {
  for await (const page of pages) {
    for (let i = 0; i < page.rows.length; i += BATCH_ROWS) yield rowObjects<T>({ columns: page.columns, rows: page.rows.slice(i, i + BATCH_ROWS) }, doubles, page.fixed);
  }
}

/**
 * Trino's result pages as row objects, for the output and comparison readers. Trino's JSON spells
 * non-finite doubles as strings ("NaN", "Infinity"), so the double columns are read with Number;
 * `attribution` is JSON text, read leniently: rows written before the writer quoted non-finite
 * entries hold `{"k":Infinity}`.
 */
import type { TrinoColumn, TrinoPage } from "../adapters/trino";
import { parseAttribution } from "./finite";

/** Rows as objects keyed by column name; `doubles` names the double columns. */
export function rowObjects<T>({ columns, rows }: { columns: TrinoColumn[]; rows: unknown[][] }, doubles: ReadonlySet<string>): T[] {
  return rows.map(converter(columns, doubles)) as T[];
}

const converters = new Map<string, (row: unknown[]) => unknown>();

/**
 * One row → object function per column list, compiled once: an object literal of fixed shape is
 * several times cheaper to build than one grown key by key, and an export builds millions. Names
 * go in as JSON string literals, so any column name is safe.
 */
function converter(columns: TrinoColumn[], doubles: ReadonlySet<string>): (row: unknown[]) => unknown {
  const key = `${columns.map((c) => c.name).join("\u0000")}\u0001${[...doubles].join("\u0000")}`;
  let convert = converters.get(key);
  if (!convert) {
    const fields = columns.map(({ name }, i) => {
      const v = `r[${i}]`;
      const value = doubles.has(name) ? `Number(${v})` : name === "attribution" ? `parse(${v})` : v;
      return `${JSON.stringify(name)}: ${v} == null ? null : ${value}`;
    });
    convert = new Function("parse", `return (r) => ({ ${fields.join(", ")} });`)(parseAttribution) as (row: unknown[]) => unknown;
    converters.set(key, convert);
  }
  return convert;
}

/** Rows per batch at most: a spooled segment holds up to ~100,000, and each batch is one encoded chunk. */
export const BATCH_ROWS = 8192;

/** The non-empty pages of a query as batches of row objects, at most BATCH_ROWS each. */
export async function* rowBatches<T>(pages: AsyncGenerator<TrinoPage, unknown>, doubles: ReadonlySet<string>): AsyncGenerator<T[]> {
  for await (const page of pages) {
    for (let i = 0; i < page.rows.length; i += BATCH_ROWS) yield rowObjects<T>({ columns: page.columns, rows: page.rows.slice(i, i + BATCH_ROWS) }, doubles);
  }
}

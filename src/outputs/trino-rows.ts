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
  const names = columns.map((c) => c.name);
  return rows.map((r) => {
    const o: Record<string, unknown> = {};
    names.forEach((name, i) => {
      const v = r[i];
      o[name] = v === null || v === undefined ? null : doubles.has(name) ? Number(v) : name === "attribution" ? parseAttribution(v as string) : v;
    });
    return o as T;
  });
}

/** Rows per batch at most: a spooled segment holds up to ~100,000, and each batch is one encoded chunk. */
export const BATCH_ROWS = 8192;

/** The non-empty pages of a query as batches of row objects, at most BATCH_ROWS each. */
export async function* rowBatches<T>(pages: AsyncGenerator<TrinoPage, unknown>, doubles: ReadonlySet<string>): AsyncGenerator<T[]> {
  for await (const page of pages) {
    for (let i = 0; i < page.rows.length; i += BATCH_ROWS) yield rowObjects<T>({ columns: page.columns, rows: page.rows.slice(i, i + BATCH_ROWS) }, doubles);
  }
}

/**
 * The order exports read a run's rows in: `(metric, curve_key, tenor_type, contract_month)`, the
 * primary key of `scenario_output` after `run_id`. The engine makes rows curve by curve; written in
 * that order, an export walks the key and jumps across the heap for every row. Written in key
 * order, the export's index scan reads the heap front to back (docs/performance.md, "Row order").
 *
 * Text is ordered by code point (`byCodePoint`), as Trino and Postgres under the C collation order
 * it (and close to it under others: here the order only decides where rows lie, never what an
 * export returns). The chunked Iceberg export sorts its chunks by the same ranks (trino-export.ts).
 */
import { attributionAt, emptyBatch, textAt, textValues } from "../engine/batch";
import type { OutputBatch, TenorType, TextColumn } from "../engine/types";

/**
 * The most rows a run's write holds in memory to sort them itself (~60 MB at ~120 bytes a row;
 * `AURUM_OUTPUT_SORT_ROWS`). Postgres: below it the rows go straight into `scenario_output` (the
 * fast path); above it through staging, which costs Postgres a second write and a sort
 * (docs/performance.md, "Ingest"). Iceberg: the window each stretch of rows is sorted in.
 */
export const SORT_ROWS = 500_000;

/**
 * Strings by code point, as Trino (UTF-8 bytes) and Postgres under the C collation order them.
 * JavaScript's `<` compares UTF-16 code units, which puts U+E000–U+FFFF after the surrogate pairs
 * of U+10000 and above; moving the surrogates above U+FFFF fixes that.
 */
export function byCodePoint(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}
const codePointRank = (u: number) => (u < 0xd800 ? u : u < 0xe000 ? u + 0x2000 : u - 0x800);

/** The rank of each of the distinct values, by code point. */
export function ranks(distinct: Set<string>): Map<string, number> {
  return new Map([...distinct].sort(byCodePoint).map((v, i) => [v, i]));
}

/** Ranks of the distinct values of one text column over all batches. */
function columnRanks(batches: OutputBatch[], column: TextColumn): Map<string, number> {
  const distinct = new Set<string>();
  for (const b of batches) for (const v of textValues(b, column)) distinct.add(v);
  return ranks(distinct);
}

/**
 * Row i's rank in `column` is `rank[codes[i]]` (`codes` undefined: `rank[i]`). Batches from an
 * engine thread are coded (OutputBatch.coded): their few distinct values are ranked, and each row
 * is two typed-array reads instead of three Map lookups by string, as until stop 45 (107,840 rows,
 * scratch benchmark: 1.3 ms against 2.0 once compiled, 2.5 against 8.5 over its first 15 calls).
 */
function ranked(b: OutputBatch, column: TextColumn, ranks: Map<string, number>): { codes: Uint32Array | undefined; rank: Uint32Array } {
  const coded = b.coded?.[column];
  if (coded) return { codes: coded.codes, rank: Uint32Array.from(coded.values, (v) => ranks.get(v) as number) };
  return { codes: undefined, rank: Uint32Array.from({ length: b.length }, (_, i) => ranks.get(b[column][i] as string) as number) };
}

/**
 * Every row of `batches` once, in export order, as a pair of arrays: the i-th row to write is row
 * `row[i]` of `batches[batch[i]]`. O(rows): a counting sort by (metric, curve), then each
 * (metric, curve) group, a few hundred rows the engine made in order already, is sorted by tenor and month.
 */
export function exportOrder(batches: OutputBatch[]): { batch: Uint32Array; row: Uint32Array } {
  const total = batches.reduce((n, b) => n + b.length, 0);
  const metrics = columnRanks(batches, "metric");
  const curves = columnRanks(batches, "curveKey");
  const tenors = columnRanks(batches, "tenorType");
  const groups = metrics.size * curves.size;
  // Per row (numbered across batches): its group, its order inside the group, and where it is.
  const group = new Uint32Array(total);
  const within = new Float64Array(total);
  const batchOf = new Uint32Array(total);
  const rowOf = new Uint32Array(total);
  const count = new Uint32Array(groups + 1);
  let g = 0;
  for (let bi = 0; bi < batches.length; bi++) {
    const b = batches[bi] as OutputBatch;
    const m = ranked(b, "metric", metrics);
    const c = ranked(b, "curveKey", curves);
    const t = ranked(b, "tenorType", tenors);
    for (let i = 0; i < b.length; i++, g++) {
      batchOf[g] = bi;
      rowOf[g] = i;
      const k = (m.rank[m.codes ? (m.codes[i] as number) : i] as number) * curves.size + (c.rank[c.codes ? (c.codes[i] as number) : i] as number);
      group[g] = k;
      within[g] = (t.rank[t.codes ? (t.codes[i] as number) : i] as number) * 1e7 + (b.contractMonth[i] as number);
      count[k + 1] = (count[k + 1] as number) + 1;
    }
  }
  // Group k's rows go to [start[k], start[k + 1]), in the order they came (a stable counting sort).
  const start = count;
  for (let k = 1; k <= groups; k++) start[k] = (start[k] as number) + (start[k - 1] as number);
  const next = start.slice(0, groups);
  const order = new Uint32Array(total);
  for (let r = 0; r < total; r++) {
    const k = group[r] as number;
    order[next[k] as number] = r;
    next[k] = (next[k] as number) + 1;
  }
  for (let k = 0; k < groups; k++) sortRange(order, start[k] as number, start[k + 1] as number, within);
  // Row numbers back to (batch, row).
  const batch = new Uint32Array(total);
  const row = new Uint32Array(total);
  for (let i = 0; i < total; i++) {
    batch[i] = batchOf[order[i] as number] as number;
    row[i] = rowOf[order[i] as number] as number;
  }
  return { batch, row };
}

/** Sorts order[from, to) by `key`, unless it is in order already (the usual case). */
function sortRange(order: Uint32Array, from: number, to: number, key: Float64Array): void {
  let sorted = true;
  for (let i = from + 1; i < to && sorted; i++) sorted = (key[order[i - 1] as number] as number) < (key[order[i] as number] as number);
  if (!sorted) order.subarray(from, to).sort((a, b) => (key[a] as number) - (key[b] as number));
}

/** Rows `[from, to)` of an `exportOrder` result, gathered from `batches` into one batch. */
function gather(batches: OutputBatch[], order: { batch: Uint32Array; row: Uint32Array }, from: number, to: number): OutputBatch {
  const n = to - from;
  const out = emptyBatch(n, n);
  for (let j = 0; j < n; j++) {
    const b = batches[order.batch[from + j] as number] as OutputBatch;
    const i = order.row[from + j] as number;
    out.curveKey[j] = textAt(b, "curveKey", i);
    out.tenorType[j] = textAt(b, "tenorType", i) as TenorType;
    out.contractMonth[j] = b.contractMonth[i] as number;
    out.tenorLabel[j] = textAt(b, "tenorLabel", i);
    out.metric[j] = textAt(b, "metric", i);
    out.value[j] = b.value[i] as number;
    out.bandLower[j] = b.bandLower[i] as number;
    out.bandUpper[j] = b.bandUpper[i] as number;
    out.attribution[j] = attributionAt(b, i);
  }
  return out;
}

/**
 * `batches` again, every window of `windowRows` rows (or the whole run, when it is smaller) in
 * export order, in batches of `batchRows`. The Iceberg writer writes through it: each INSERT then
 * holds one contiguous stretch of the key, so each data file covers a narrow key range that Trino's
 * file statistics can skip on (the chunked export in trino-export.ts reads by key range).
 */
export async function* sortedWindows(batches: AsyncIterable<OutputBatch>, windowRows: number, batchRows = 20_000): AsyncGenerator<OutputBatch> {
  let window: OutputBatch[] = [];
  let rows = 0;
  const flush = function* () {
    const order = exportOrder(window);
    for (let from = 0; from < rows; from += batchRows) yield gather(window, order, from, Math.min(rows, from + batchRows));
    window = [];
    rows = 0;
  };
  for await (const b of batches) {
    window.push(b);
    rows += b.length;
    if (rows >= windowRows) yield* flush();
  }
  if (rows) yield* flush();
}

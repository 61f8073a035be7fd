/**
 * A run's export from Iceberg without a global ORDER BY (docs/outputs-trino.md, "Export order").
 *
 * A global sort costs Trino most of an export: it sorts every row on one node and sends the result
 * from one task, so the spooling protocol cannot write segments in parallel. The export instead:
 *
 *   1. pins the table's current snapshot, so every query below reads the same rows;
 *   2. plans: rows per (metric, curve_key), in key order (a GROUP BY: small, fast);
 *   3. cuts the plan into chunks of consecutive groups of one metric, about `chunkRows` rows each;
 *   4. reads each chunk with an unordered query (`metric = … AND curve_key BETWEEN … AND …`),
 *      `prefetch` chunks ahead of the one being sent, and sorts the chunk here by the rest of the
 *      key before it goes out.
 *
 * The rows and their order are exactly the ordered query's (the natural key is unique within a
 * run), and `after` (the CLI's resume cursor) and `limit` mean what they did. Each chunk's rows
 * must number what the plan counted, else the export fails rather than send a different answer.
 * Memory holds at most `prefetch + 1` chunks. Reads stay cheap because the writer puts rows in
 * export order (export-order.ts, `sortedWindows`): a chunk's key range then lies in few data files,
 * and Trino skips the others by their statistics.
 */
import type { QueryOptions, TrinoClient, TrinoColumn, TrinoPage } from "../adapters/trino";
import { metadataTable, varcharLiteral } from "../adapters/trino-literals";
import { ranks } from "./export-order";
import type { ExportRequest, RunFilter } from "./reader";
import { trinoDialect, where } from "./sql";

/** A column of the export: its name and the expression that reads it (`CAST(asof_date AS varchar)`). */
export type ExportColumn = { name: string; sql: string };

/**
 * A chunk's page, and the columns it leaves out because their value is known (`fixed`): those
 * its WHERE fixes (the scenario and run ids; the chunk's metric) and those the plan found
 * constant over the whole export. rowBatches puts them back.
 */
export type ChunkPage = TrinoPage & { fixed: Record<string, unknown> };

export type ChunkedExportOptions = {
  trino: TrinoClient;
  table: string;
  /** Every column of the export, in its order. */
  columns: ExportColumn[];
  /** Values the export's filter fixes, by column name. */
  fixed: Record<string, unknown>;
  /** Columns that are usually one value for a whole run (as-of date, version hash): read once when they are. */
  constants: string[];
  /** Rows per chunk, about (a chunk holds whole (metric, curve) groups); memory holds `prefetch + 1` chunks. */
  chunkRows: number;
  /** Chunks read ahead of the one being sent. */
  prefetch: number;
};

type Chunk = { metric: string; from: string; to: string; rows: number };

/** Consecutive groups of one metric, up to `chunkRows` rows (a larger group is a chunk of its own). */
export function planChunks(groups: Iterable<[metric: string, curveKey: string, rows: number]>, chunkRows: number): Chunk[] {
  const chunks: Chunk[] = [];
  let open: Chunk | undefined;
  for (const [metric, curveKey, rows] of groups) {
    if (open && open.metric === metric && open.rows + rows <= chunkRows) {
      open.to = curveKey;
      open.rows += rows;
    } else {
      open = { metric, from: curveKey, to: curveKey, rows };
      chunks.push(open);
    }
  }
  return chunks;
}

/** The rank of each distinct value of `rows[*][col]`, by code point (as export-order.ts ranks a write's). */
function rowRanks(rows: unknown[][], col: number): Map<string, number> {
  const distinct = new Set<string>();
  for (const r of rows) distinct.add(r[col] as string);
  return ranks(distinct);
}

/**
 * One chunk's rows (one metric) in key order: by curve_key, tenor_type, contract_month. Each row's
 * key becomes one number from the ranks of its three values (exact: the product of the distinct
 * counts stays far below 2^53), and the rows are put in order by a natural merge sort of those
 * numbers: the ascending stretches they arrive in are merged pairwise until one is left. Rows that
 * arrive in order (a file as the writer wrote it) cost one pass and come back as the same array;
 * a file `optimize` merged arrives as a few stretches (the files it read, in its order), merged in
 * as few linear passes (20,100 rows in three stretches: 2.3 ms, against 4.9 sorted by number, as
 * until stop 52; `bun` on the same chunk). Rows in no useful order are still sorted by number.
 * Either way one check refuses a repeated natural key.
 */
export function sortChunk(rows: unknown[][], columns: TrinoColumn[]): unknown[][] {
  const at = (name: string) => columns.findIndex((c) => c.name === name);
  const [curve, tenor, month] = [at("curve_key"), at("tenor_type"), at("contract_month")];
  const curves = rowRanks(rows, curve);
  const tenors = rowRanks(rows, tenor);
  const months = rowRanks(rows, month);
  const key = new Float64Array(rows.length);
  /** Where each ascending stretch starts, and the end. */
  const bounds = [0];
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i] as unknown[];
    key[i] = ((curves.get(r[curve] as string) as number) * tenors.size + (tenors.get(r[tenor] as string) as number)) * months.size + (months.get(r[month] as string) as number);
    if (i > 0 && (key[i - 1] as number) >= (key[i] as number)) bounds.push(i);
  }
  if (bounds.length === 1) return rows;
  const order = bounds.length > MERGED_STRETCHES ? orderByKey(key) : mergeStretches(key, [...bounds, rows.length]);
  // Keys are unique within a run (one write of its rows): in order, a repeated key sits beside its twin.
  let repeats = 0;
  for (let i = 1; i < order.length; i++) if (key[order[i - 1] as number] === key[order[i] as number]) repeats++;
  if (repeats > 0) throw new Error(`${repeats} rows repeat another row's natural key`);
  return Array.from(order, (i) => rows[i] as unknown[]);
}

/** Past this many stretches the rows arrived in no useful order: sorted by number instead of merged (a shuffled 20,000: 6.9 ms against 11.9). */
const MERGED_STRETCHES = 64;

/** Row indices in key order, the ascending stretches starting at `bounds` (and the end last) merged pairwise until one is left. */
function mergeStretches(key: Float64Array, bounds: number[]): Uint32Array {
  let from = Uint32Array.from({ length: key.length }, (_, i) => i);
  let to = new Uint32Array(key.length);
  while (bounds.length > 2) {
    const merged = [0];
    for (let s = 0; s + 1 < bounds.length; s += 2) {
      const [lo, mid] = [bounds[s] as number, bounds[s + 1] as number];
      const hi = s + 2 < bounds.length ? (bounds[s + 2] as number) : mid;
      let [i, j, o] = [lo, mid, lo];
      while (i < mid && j < hi) to[o++] = (key[from[i] as number] as number) <= (key[from[j] as number] as number) ? (from[i++] as number) : (from[j++] as number);
      while (i < mid) to[o++] = from[i++] as number;
      while (j < hi) to[o++] = from[j++] as number;
      merged.push(hi);
    }
    [from, to] = [to, from];
    bounds = merged;
  }
  return from;
}

/** Row indices in key order by a numeric sort of the keys (twins share an index, which the caller's check finds). */
function orderByKey(key: Float64Array): Uint32Array {
  const at = new Map<number, number>();
  for (let i = 0; i < key.length; i++) at.set(key[i] as number, i);
  const sorted = key.slice().sort();
  const order = new Uint32Array(key.length);
  for (let i = 0; i < sorted.length; i++) order[i] = at.get(sorted[i] as number) as number;
  return order;
}

/**
 * The plan's constant candidates that hold one non-null value in every row: each group's min and
 * max agree, its non-null count is its row count, and all groups agree.
 */
function constantValues(constants: ExportColumn[], groups: unknown[][]): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  constants.forEach((c, i) => {
    const at = 3 + 3 * i;
    const first = groups[0]?.[at];
    const one = groups.every((g) => g[at] === first && g[at + 1] === first && Number(g[at + 2]) === Number(g[2]));
    if (first != null && one) values[c.name] = first;
  });
  return values;
}

/** The id of `table`'s current snapshot, as digits (what an export pins); undefined for a table never written to. */
export async function currentSnapshot(trino: TrinoClient, table: string, opts: QueryOptions = {}): Promise<string | undefined> {
  const [row] = (
    await trino.execute(`SELECT CAST(snapshot_id AS varchar) FROM ${metadataTable(table, "history")} WHERE is_current_ancestor ORDER BY made_current_at DESC LIMIT 1`, opts)
  ).rows;
  return row ? String(row[0]) : undefined;
}

/** The export's rows, chunk by chunk, each a page in key order. Leaving early cancels the queries in flight. */
export async function* chunkedExport(o: ChunkedExportOptions, filter: RunFilter, request: ExportRequest): AsyncGenerator<ChunkPage> {
  const { trino } = o;
  const abort = new AbortController();
  const stop = () => abort.abort(request.signal.reason);
  request.signal.addEventListener("abort", stop, { once: true });
  const opts = { signal: abort.signal, tenantId: filter.tenantId };
  const pending: Promise<ChunkPage>[] = [];
  try {
    const current = await currentSnapshot(trino, o.table, opts);
    if (current === undefined) return; // a table never written to
    const source = `${o.table} FOR VERSION AS OF ${BigInt(current)}`; // BigInt: digits only
    const conditions = where(trinoDialect, filter, request.after);
    const constants = o.columns.filter((c) => o.constants.includes(c.name));
    // Per constant candidate: min, max and non-null count per group; one value everywhere makes it fixed.
    const aggregates = constants.map((c) => `min(${c.sql}), max(${c.sql}), count(${c.sql})`);
    const plan = await trino.execute(
      `SELECT metric, curve_key, count(*)${aggregates.map((a) => `, ${a}`).join("")} FROM ${source} WHERE ${conditions} GROUP BY metric, curve_key ORDER BY metric, curve_key`,
      opts,
    );
    const chunks = planChunks(
      plan.rows.map(([m, c, n]) => [m as string, c as string, Number(n)]),
      o.chunkRows,
    );
    const fixed = { ...o.fixed, ...constantValues(constants, plan.rows) };
    const select = o.columns
      .filter((c) => !(c.name in fixed) && c.name !== "metric")
      .map((c) => (c.sql === c.name ? c.name : `${c.sql} AS ${c.name}`))
      .join(", ");
    const read = async (chunk: Chunk): Promise<ChunkPage> => {
      const range = chunk.from === chunk.to ? `curve_key = ${varcharLiteral(chunk.from)}` : `curve_key BETWEEN ${varcharLiteral(chunk.from)} AND ${varcharLiteral(chunk.to)}`;
      const statement = `SELECT ${select} FROM ${source} WHERE ${conditions} AND metric = ${varcharLiteral(chunk.metric)} AND ${range}`;
      const rows: unknown[][] = [];
      let page: TrinoPage | undefined;
      for await (page of trino.query(statement, { ...opts, spooled: true })) for (const r of page.rows) rows.push(r);
      if (!page) throw new Error(`chunk ${chunk.metric} ${chunk.from}..${chunk.to}: the query returned no page`);
      if (rows.length !== chunk.rows) throw new Error(`chunk ${chunk.metric} ${chunk.from}..${chunk.to}: ${rows.length} rows, the plan counted ${chunk.rows}`);
      return { queryId: page.queryId, columns: page.columns, rows: sortChunk(rows, page.columns), fixed: { ...fixed, metric: chunk.metric } };
    };
    let left = request.limit ?? Number.POSITIVE_INFINITY;
    let next = 0;
    const fill = () => {
      while (next < chunks.length && pending.length < Math.max(1, o.prefetch)) {
        const p = read(chunks[next++] as Chunk);
        p.catch(() => {}); // awaited in order below; a failure after the consumer left is nobody's
        pending.push(p);
      }
    };
    fill();
    while (pending.length && left > 0) {
      const page = await (pending.shift() as Promise<ChunkPage>);
      fill();
      if (page.rows.length > left) page.rows.length = left;
      left -= page.rows.length;
      yield page;
    }
  } finally {
    request.signal.removeEventListener("abort", stop);
    if (pending.length) {
      abort.abort(new Error("export ended"));
      await Promise.allSettled(pending);
    }
  }
}

/**
 * Postgres output store (`scenario_output`). A run's rows are deleted and re-inserted in the same
 * transaction that marks the run SUCCEEDED, so a retried or reclaimed run replaces its own rows
 * and a crash leaves none. On a real server rows go in with `COPY ... FROM STDIN` (text format,
 * ~1 MB writes, about 20 % faster than the alternative; see docs/performance.md), in export order
 * (export-order.ts): a run of up to `sortRows` rows is held and sorted here; a larger one streams
 * into a temporary staging table as it arrives and Postgres sorts it into `scenario_output`, so the
 * writer's memory does not grow with the run (docs/runs.md, "Memory"). Embedded PGlite's socket
 * does not carry COPY, so there whole columns go in as arrays (`unnest`), one statement per chunk.
 * jsonb has no NaN/Infinity: a non-finite attribution entry is stored as its string (quoteNonFinite).
 */
import { once } from "node:events";
import { finished } from "node:stream/promises";
import type { Sql, Tx } from "../adapters/postgres";
import type { OutputBatch } from "../engine/types";
import { exportOrder, SORT_ROWS } from "./export-order";
import { quoteNonFinite } from "./finite";
import { BATCH_COLUMNS, field, RUN_COLUMNS } from "./row";
import { batchStream, type OutputBatches, type OutputWriter, type RunOutputMeta } from "./store";

const CHUNK = 20_000;
const WRITE_BYTES = 1 << 20;
/** The run's columns (the same for every row of a write), then the batch's: the order of each row below. */
const COLUMNS = [...RUN_COLUMNS, ...BATCH_COLUMNS].join(", ");
const STAGING = "scenario_output_staging";

/** The first batches of a run, up to `sortRows` rows or the end, and the rest still to come (undefined: none). */
type Split = { held: OutputBatch[]; rest: AsyncIterator<OutputBatch> | undefined };

/**
 * Reads up to `sortRows` rows (or the whole run) before the transaction opens, so a run that fits
 * holds a connection only while it is written, not while the engine computes it. That matters most
 * on the embedded store, whose one connection every request and heartbeat shares.
 */
async function hold(batches: OutputBatches, sortRows: number): Promise<Split> {
  const source = batchStream(batches);
  const held: OutputBatch[] = [];
  let rows = 0;
  while (rows <= sortRows) {
    const next = await source.next();
    if (next.done) return { held, rest: undefined };
    held.push(next.value);
    rows += next.value.length;
  }
  return { held, rest: source };
}

/** The held batches, then the rest. */
async function* all({ held, rest }: Split): AsyncGenerator<OutputBatch> {
  yield* held.splice(0);
  if (rest) for (let next = await rest.next(); !next.done; next = await rest.next()) yield next.value;
}

export function createPgOutputWriter(sql: Sql, opts: { copy?: boolean; sortRows?: number } = {}): OutputWriter {
  const sortRows = opts.sortRows ?? SORT_ROWS;
  return {
    async replaceRun(meta: RunOutputMeta, batches: OutputBatches, commit) {
      const split = await hold(batches, sortRows);
      try {
        return await sql.begin(async (tx) => {
          await tx`delete from scenario_output where run_id = ${meta.runId}`;
          const rows = opts.copy === false ? await unnestRows(tx, meta, all(split)) : await copyRows(tx, meta, split);
          await commit(tx);
          return rows;
        });
      } finally {
        await split.rest?.return?.(undefined);
      }
    },

    async deleteRun(runId: string) {
      await sql`delete from scenario_output where run_id = ${runId}`;
    },
  };
}

/** COPY text format: backslash, tab, newline and carriage return are escaped; `\N` is null. */
function copyText(v: string): string {
  return /[\\\t\n\r]/.test(v) ? v.replace(/\\/g, "\\\\").replace(/\t/g, "\\t").replace(/\n/g, "\\n").replace(/\r/g, "\\r") : v;
}

/** A double as Postgres reads it back bit for bit: String(-0) is "0". */
const float = (v: number): string => (Object.is(v, -0) ? "-0" : String(v));

/** Row `i` of `b` as a COPY text line, after the run's columns (`prefix`). */
function copyLine(prefix: string, b: OutputBatch, i: number): string {
  const cm = b.contractMonth[i] as number;
  const month = cm % 100;
  const attribution = b.attribution[i];
  return `${prefix}\t${copyText(b.curveKey[i] as string)}\t${b.tenorType[i]}\t${(cm - month) / 100}-${month < 10 ? "0" : ""}${month}-01\t${copyText(b.tenorLabel[i] as string)}\t${b.metric[i]}\t${float(b.value[i] as number)}\t${float(b.bandLower[i] as number)}\t${float(b.bandUpper[i] as number)}\t${attribution == null ? "\\N" : copyText(quoteNonFinite(attribution))}\n`;
}

/**
 * One `COPY <table> FROM STDIN` in ~1 MB writes: `add` appends a row (synchronously: a write of
 * millions of rows pays no promise per row) and says when a write's worth is pending, `send` sends
 * it, `end` finishes the COPY and returns the rows.
 */
async function copyInto(tx: Tx, table: string, meta: RunOutputMeta) {
  const query = tx.unsafe(`copy ${table} (${COLUMNS}) from stdin`);
  // postgres.js resolves the query with the stream, and a server error that arrives after the
  // last write (a constraint, a trigger) then reaches neither: the stream's end would wait forever.
  // Catch the error on its way to the settled query and race it against the stream.
  const failure = new Promise<never>((_, reject) => {
    const q = query as unknown as { reject: (err: Error) => void };
    const original = q.reject;
    q.reject = (err) => {
      reject(err);
      original(err);
    };
  });
  failure.catch(() => {});
  const stream = await query.writable();
  const prefix = RUN_COLUMNS.map((c) => copyText(meta[field(c)])).join("\t");
  let chunk = "";
  let rows = 0;
  const send = async () => {
    if (!stream.write(chunk)) await Promise.race([once(stream, "drain"), failure]);
    chunk = "";
  };
  return {
    add(b: OutputBatch, i: number): boolean {
      chunk += copyLine(prefix, b, i);
      rows++;
      return chunk.length >= WRITE_BYTES;
    },
    send,
    async end(): Promise<number> {
      if (chunk) await send();
      stream.end();
      await Promise.race([finished(stream), failure]);
      return rows;
    },
    /** Ends the COPY with CopyFail and waits for the server's answer, so the connection is ready for the rollback. */
    async abort(err: Error): Promise<void> {
      stream.on("error", () => {}); // the error is the caller's to throw, not the stream's to emit
      stream.destroy(err);
      await failure.catch(() => {});
    },
  };
}

/**
 * The run's rows in export order. A run that was held whole (`rest` undefined) is sorted here
 * (exportOrder) and copied; a larger one is copied as it comes, held batches first, into a staging
 * table that the transaction drops, and one INSERT ... SELECT ... ORDER BY the key moves it over.
 */
async function copyRows(tx: Tx, meta: RunOutputMeta, split: Split): Promise<number> {
  if (split.rest) {
    await tx.unsafe(`create temporary table ${STAGING} (like scenario_output) on commit drop`);
    const staging = await copyInto(tx, STAGING, meta);
    try {
      for await (const b of all(split)) await addBatch(staging, b);
    } catch (err) {
      await staging.abort(err as Error);
      throw err;
    }
    const rows = await staging.end();
    // The sort's memory is the server's; more than the default 4 MB keeps it off disk for most runs.
    await tx`set local work_mem = '64MB'`;
    await tx.unsafe(`insert into scenario_output (${COLUMNS}) select ${COLUMNS} from ${STAGING} order by metric, curve_key, tenor_type, contract_month`);
    await tx.unsafe(`drop table ${STAGING}`);
    return rows;
  }
  // In export order: an export of the run then reads the heap front to back (export-order.ts).
  const { held } = split;
  const copy = await copyInto(tx, "scenario_output", meta);
  const order = exportOrder(held);
  for (let n = 0; n < order.batch.length; n++) {
    if (copy.add(held[order.batch[n] as number] as OutputBatch, order.row[n] as number)) await copy.send();
  }
  return copy.end();
}

async function addBatch(copy: Awaited<ReturnType<typeof copyInto>>, b: OutputBatch): Promise<void> {
  for (let i = 0; i < b.length; i++) {
    if (copy.add(b, i)) await copy.send();
  }
}

/** Doubles as text for a float8[] parameter, so -0, NaN and ±Infinity keep their value. */
const floats = (a: Float64Array, start: number, end: number): string[] => Array.from(a.subarray(start, end), float);

async function unnestRows(tx: Tx, meta: RunOutputMeta, batches: OutputBatches): Promise<number> {
  let rows = 0;
  for await (const b of batches) {
    for (let start = 0; start < b.length; start += CHUNK) {
      const end = Math.min(b.length, start + CHUNK);
      await tx`
        insert into scenario_output (${tx.unsafe(COLUMNS)})
        select ${meta.tenantId}, ${meta.scenarioId}::uuid, ${meta.runId}::uuid, ${meta.asofDate}::date, ${meta.versionHash}, ${meta.computedTs}::text::timestamptz,
               k, t, make_date(cm / 100, cm % 100, 1), l, m, v, lo, hi, a::jsonb
        from unnest(${b.curveKey.slice(start, end)}::text[], ${b.tenorType.slice(start, end)}::text[], ${Array.from(b.contractMonth.subarray(start, end))}::int[],
                    ${b.tenorLabel.slice(start, end)}::text[], ${b.metric.slice(start, end)}::text[], ${floats(b.value, start, end)}::float8[],
                    ${floats(b.bandLower, start, end)}::float8[], ${floats(b.bandUpper, start, end)}::float8[],
                    ${b.attribution.slice(start, end).map((a) => (a == null ? a : quoteNonFinite(a)))}::text[]) as u(k, t, cm, l, m, v, lo, hi, a)`;
      rows += end - start;
    }
  }
  return rows;
}

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
import { exportOrder } from "./export-order";
import { quoteNonFinite } from "./finite";
import { BATCH_COLUMNS, field, RUN_COLUMNS } from "./row";
import type { OutputBatches, OutputWriter, RunOutputMeta } from "./store";

const CHUNK = 20_000;
const WRITE_BYTES = 1 << 20;
/**
 * The most rows a run's write holds in memory to sort them itself (~60 MB at ~120 bytes a row).
 * Below it the rows go straight into `scenario_output` (the fast path); above it through staging,
 * which costs Postgres a second write and a sort (docs/performance.md, "Ingest").
 */
export const SORT_ROWS = 500_000;
/** The run's columns (the same for every row of a write), then the batch's: the order of each row below. */
const COLUMNS = [...RUN_COLUMNS, ...BATCH_COLUMNS].join(", ");
const STAGING = "scenario_output_staging";

export function createPgOutputWriter(sql: Sql, opts: { copy?: boolean; sortRows?: number } = {}): OutputWriter {
  const sortRows = opts.sortRows ?? SORT_ROWS;
  return {
    async replaceRun(meta: RunOutputMeta, batches: OutputBatches, commit) {
      return sql.begin(async (tx) => {
        await tx`delete from scenario_output where run_id = ${meta.runId}`;
        const rows = opts.copy === false ? await unnestRows(tx, meta, batches) : await copyRows(tx, meta, batches, sortRows);
        await commit(tx);
        return rows;
      });
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
 * The run's rows in export order. Up to `sortRows` rows are held, sorted (exportOrder) and copied;
 * past that, what is held and every later batch is copied as it comes into a staging table that
 * the transaction drops, and one INSERT ... SELECT ... ORDER BY the key moves them over.
 */
async function copyRows(tx: Tx, meta: RunOutputMeta, batches: OutputBatches, sortRows: number): Promise<number> {
  const held: OutputBatch[] = [];
  let heldRows = 0;
  let staging: Awaited<ReturnType<typeof copyInto>> | undefined;
  try {
    for await (const b of batches) {
      if (!staging) {
        held.push(b);
        heldRows += b.length;
        if (heldRows <= sortRows) continue;
        await tx.unsafe(`create temporary table ${STAGING} (like scenario_output) on commit drop`);
        staging = await copyInto(tx, STAGING, meta);
        for (const h of held.splice(0)) await addBatch(staging, h);
        continue;
      }
      await addBatch(staging, b);
    }
  } catch (err) {
    await staging?.abort(err as Error);
    throw err;
  }
  if (staging) {
    const rows = await staging.end();
    // The sort's memory is the server's; more than the default 4 MB keeps it off disk for most runs.
    await tx`set local work_mem = '64MB'`;
    await tx.unsafe(`insert into scenario_output (${COLUMNS}) select ${COLUMNS} from ${STAGING} order by metric, curve_key, tenor_type, contract_month`);
    await tx.unsafe(`drop table ${STAGING}`);
    return rows;
  }
  // In export order: an export of the run then reads the heap front to back (export-order.ts).
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

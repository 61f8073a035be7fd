/**
 * Postgres output store (`scenario_output`). A run's rows are deleted and re-inserted in the same
 * transaction that marks the run SUCCEEDED, so a retried or reclaimed run replaces its own rows
 * and a crash leaves none. On a real server rows go in with `COPY ... FROM STDIN` (text format,
 * ~1 MB writes, about 20 % faster than the alternative; see docs/performance.md); embedded PGlite's
 * socket does not carry COPY, so there whole columns go in as arrays (`unnest`), one statement per chunk.
 * jsonb has no NaN/Infinity: a non-finite attribution entry is stored as its string (quoteNonFinite).
 */
import { once } from "node:events";
import { finished } from "node:stream/promises";
import type { Sql, Tx } from "../adapters/postgres";
import type { OutputBatch } from "../engine/types";
import { exportOrder } from "./export-order";
import { quoteNonFinite } from "./finite";
import { BATCH_COLUMNS, field, RUN_COLUMNS } from "./row";
import type { OutputWriter, RunOutputMeta } from "./store";

const CHUNK = 20_000;
const WRITE_BYTES = 1 << 20;
/** The run's columns (the same for every row of a write), then the batch's: the order of each row below. */
const COLUMNS = [...RUN_COLUMNS, ...BATCH_COLUMNS].join(", ");

export function createPgOutputWriter(sql: Sql, opts: { copy: boolean } = { copy: true }): OutputWriter {
  const insert = opts.copy ? copyRows : unnestRows;
  return {
    async replaceRun(meta: RunOutputMeta, batches: OutputBatch[], commit) {
      return sql.begin(async (tx) => {
        await tx`delete from scenario_output where run_id = ${meta.runId}`;
        const rows = await insert(tx, meta, batches);
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

async function copyRows(tx: Tx, meta: RunOutputMeta, batches: OutputBatch[]): Promise<number> {
  const query = tx.unsafe(`copy scenario_output (${COLUMNS}) from stdin`);
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
  const flush = async () => {
    if (!stream.write(chunk)) await Promise.race([once(stream, "drain"), failure]);
    chunk = "";
  };
  // In export order: an export of the run then reads the heap front to back (export-order.ts).
  const order = exportOrder(batches);
  for (let n = 0; n < order.batch.length; n++) {
    const b = batches[order.batch[n] as number] as OutputBatch;
    const i = order.row[n] as number;
    const cm = b.contractMonth[i] as number;
    const month = cm % 100;
    const attribution = b.attribution[i];
    chunk += `${prefix}\t${copyText(b.curveKey[i] as string)}\t${b.tenorType[i]}\t${(cm - month) / 100}-${month < 10 ? "0" : ""}${month}-01\t${copyText(b.tenorLabel[i] as string)}\t${b.metric[i]}\t${float(b.value[i] as number)}\t${float(b.bandLower[i] as number)}\t${float(b.bandUpper[i] as number)}\t${attribution == null ? "\\N" : copyText(quoteNonFinite(attribution))}\n`;
    if (chunk.length >= WRITE_BYTES) await flush();
  }
  const rows = order.batch.length;
  if (chunk) await flush();
  stream.end();
  await Promise.race([finished(stream), failure]);
  return rows;
}

/** Doubles as text for a float8[] parameter, so -0, NaN and ±Infinity keep their value. */
const floats = (a: Float64Array, start: number, end: number): string[] => Array.from(a.subarray(start, end), float);

async function unnestRows(tx: Tx, meta: RunOutputMeta, batches: OutputBatch[]): Promise<number> {
  let rows = 0;
  for (const b of batches) {
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

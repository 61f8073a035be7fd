/**
 * Postgres output store (`scenario_output`). A run's rows are staged while the engine computes,
 * and published in the worker's transaction, which also marks the run SUCCEEDED: the run's old
 * rows are deleted and the staged ones go in, so a retried or reclaimed run replaces its own rows
 * and a crash leaves none. Rows go in with `COPY ... FROM STDIN` in binary format (pg-copy-binary.ts;
 * the server reads it ~30 % faster than text), ~1 MB writes, in export order (export-order.ts).
 * How a run is staged depends on its size:
 *
 * - up to `sortRows` rows: held here and sorted; publishing copies them. No connection is held
 *   while the engine computes.
 * - more: copied as they arrive into an unlogged staging table of this write's own (outside any
 *   transaction, so the worker's memory does not grow with the run and no transaction stays open
 *   for the whole run); publishing moves them over with one INSERT ... SELECT ... ORDER BY the key
 *   and drops the table. A staging table whose run is no longer RUNNING (its worker crashed) is
 *   dropped by `dropOrphanStaging` (the output purge's pass). Where the run's row total is known
 *   before its first batch (`RunOutputMeta.rows`: the worker passes the engine's), a run past
 *   `sortRows` goes to staging from its first batch; otherwise the first `sortRows` rows are held
 *   to find out.
 *
 * Embedded PGlite's socket does not carry COPY, so there the whole run is held and its columns go
 * in as arrays (`unnest`), one statement per chunk. jsonb has no NaN/Infinity: a non-finite
 * attribution entry is stored as its string (quoteNonFinite).
 */
import { edenGC } from "bun:jsc";
import { finished } from "node:stream/promises";
import type { Sql, Transaction, Tx } from "../adapters/postgres";
import { attributionAt, textSlice } from "../engine/batch";
import type { OutputBatch } from "../engine/types";
import { exportOrder, SORT_ROWS } from "./export-order";
import { quoteNonFinite } from "./finite";
import { copyBinaryRows } from "./pg-copy-binary";
import { BATCH_COLUMNS, RUN_COLUMNS } from "./row";
import { batchStream, type OutputBatches, type OutputWriter, type RunOutputMeta, type StagedRun } from "./store";

const CHUNK = 20_000;
const WRITE_BYTES = 1 << 20;
/** The run's columns (the same for every row of a write), then the batch's: the order of each row below. */
const COLUMNS = [...RUN_COLUMNS, ...BATCH_COLUMNS].join(", ");
/** Staging tables are named `${STAGING}<run id, 32 hex digits>_<8 hex digits of this write>` (63 characters, Postgres's limit). */
const STAGING = "scenario_output_stage_";

/** The first batches of a run, up to `sortRows` rows or the end, and the rest still to come (undefined: none). */
type Split = { held: OutputBatch[]; rows: number; rest: AsyncIterator<OutputBatch> | undefined };

/** Reads up to `sortRows` rows (or the whole run): a run that fits is sorted here and copied at publish. */
async function hold(batches: OutputBatches, sortRows: number): Promise<Split> {
  const source = batchStream(batches);
  const held: OutputBatch[] = [];
  let rows = 0;
  while (rows <= sortRows) {
    const next = await source.next();
    if (next.done) return { held, rows, rest: undefined };
    held.push(next.value);
    rows += next.value.length;
  }
  return { held, rows, rest: source };
}

/**
 * The held batches, then the rest. Each held batch is let go once taken: kept until the last one
 * was written, the whole budget stayed live while the rest began to stream behind it, and a run
 * past the budget peaked ~90 MB above one within it (docs/runs.md, "Memory").
 */
async function* all({ held, rest }: Split): AsyncGenerator<OutputBatch> {
  for (let b = held.shift(); b; b = held.shift()) yield b;
  if (rest) for (let next = await rest.next(); !next.done; next = await rest.next()) yield next.value;
}

/** A staged run of this store: publishing deletes the run's rows and writes the staged ones with `write`; `discard` frees them (nothing to do for rows held in memory). */
function stagedRun(rows: number, runId: string, write: (tx: Tx) => Promise<unknown>, discard = async () => {}): StagedRun {
  return {
    rows,
    async publish(tx) {
      await tx`delete from scenario_output where run_id = ${runId}`;
      await write(tx);
    },
    async seal() {},
    discard,
  };
}

export function createPgOutputWriter(sql: Sql, opts: { copy?: boolean; sortRows?: number } = {}): OutputWriter {
  const sortRows = opts.sortRows ?? SORT_ROWS;
  return {
    async stage(meta: RunOutputMeta, batches: OutputBatches): Promise<StagedRun> {
      if (opts.copy === false) {
        const { held, rows } = await hold(batches, Number.POSITIVE_INFINITY);
        return stagedRun(rows, meta.runId, (tx) => unnestRows(tx, meta, held));
      }
      // A run known to be past the budget goes to staging from its first batch: holding its first
      // `sortRows` rows only to find that out held its COPY back (docs/runs.md, "Memory").
      const split = meta.rows !== undefined && meta.rows > sortRows ? { held: [], rows: 0, rest: batchStream(batches) } : await hold(batches, sortRows);
      if (!split.rest) return stagedRun(split.rows, meta.runId, (tx) => copySorted(tx, meta, split.held));
      try {
        return await stageTable(sql, meta, split);
      } finally {
        await split.rest.return?.(undefined);
      }
    },

    async deleteRun(runId: string) {
      await sql`delete from scenario_output where run_id = ${runId}`;
    },
  };
}

/**
 * A large run, staged: copied as it comes (held batches first) into an unlogged table of its own,
 * in one COPY outside any transaction (a failure keeps none of its rows, and the table is dropped).
 */
async function stageTable(sql: Sql, meta: RunOutputMeta, split: Split): Promise<StagedRun> {
  const table = `${STAGING}${meta.runId.toLowerCase().replace(/[^0-9a-f]/g, "")}_${crypto.randomUUID().slice(0, 8)}`;
  // A drop that fails leaves the table to the output purge's pass.
  const drop = () =>
    sql.unsafe(`drop table if exists ${table}`).then(
      () => {},
      () => {},
    );
  await sql.unsafe(`create unlogged table ${table} (like scenario_output)`);
  let rows: number;
  try {
    const copy = await copyInto(sql, table, meta);
    try {
      for await (const b of all(split)) await addBatch(copy, b);
    } catch (err) {
      await copy.abort(err as Error);
      throw err;
    }
    rows = await copy.end();
  } catch (err) {
    await drop();
    throw err;
  }
  return stagedRun(
    rows,
    meta.runId,
    async (tx) => {
      // The sort's memory is the server's; more than the default 4 MB keeps it off disk for most runs.
      await tx`set local work_mem = '64MB'`;
      await tx.unsafe(`insert into scenario_output (${COLUMNS}) select ${COLUMNS} from ${table} order by metric, curve_key, tenor_type, contract_month`);
      await tx.unsafe(`drop table ${table}`);
    },
    drop,
  );
}

/**
 * Drops staging tables whose run is not RUNNING: what a worker that crashed while staging, or
 * before it published, left behind. Returns how many it dropped.
 */
export async function dropOrphanStaging(transaction: Transaction): Promise<number> {
  return transaction(async (tx) => {
    const orphans = await tx<{ name: string }[]>`
      select c.relname as name from pg_class c
      where c.relkind = 'r' and c.relnamespace = current_schema()::regnamespace and c.relname like ${`${STAGING.replaceAll("_", "\\_")}%`}
        and not exists (select 1 from scenario_run r where r.id = substr(c.relname, ${STAGING.length + 1}, 32)::uuid and r.state = 'RUNNING')`;
    for (const { name } of orphans) await tx.unsafe(`drop table if exists "${name.replaceAll('"', '""')}"`);
    return orphans.length;
  });
}

/** A double as Postgres reads it back bit for bit: String(-0) is "0". */
const float = (v: number): string => (Object.is(v, -0) ? "-0" : String(v));

/**
 * One `COPY <table> FROM STDIN` in ~1 MB writes: `add` appends a row (synchronously: a write of
 * millions of rows pays no promise per row) and says when a write's worth is pending, `send` sends
 * it, `end` finishes the COPY and returns the rows.
 */
async function copyInto(tx: Tx, table: string, meta: RunOutputMeta) {
  // First: run metadata it cannot encode is refused before a COPY is open on the connection.
  const encoded = copyBinaryRows(meta, WRITE_BYTES);
  const query = tx.unsafe(`copy ${table} (${COLUMNS}) from stdin with (format binary)`);
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
  let rows = 0;
  const send = async (last = false) => {
    // The chunk is the encoder's own buffer, which the next rows overwrite: wait until the stream
    // has passed it on (postgres.js copies it into its message, and calls back once the socket
    // took that). Not 'drain': a chunk below the stream's high-water mark never emits one.
    const written = new Promise<void>((resolve, reject) => stream.write(encoded.take(last), (err) => (err ? reject(err) : resolve())));
    await Promise.race([written, failure]);
    // A write leaves its garbage behind: the chunk's copy in postgres.js's message (with COPY
    // text, as until stop 41, also the lines, their number strings and the chunk). A young-generation
    // collection frees it in ~0.6 ms without marking the rows held for sorting (a full one: ~70 ms
    // at 500,000 rows); left to the collector's pace, it raised a held run's peak by ~25 MB
    // (docs/runs.md, "Memory").
    edenGC();
  };
  return {
    add(b: OutputBatch, i: number): boolean {
      rows++;
      return encoded.add(b, i) >= WRITE_BYTES;
    },
    send: () => send(),
    async end(): Promise<number> {
      await send(true);
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

/** A run held whole, copied in export order: an export of the run then reads the heap front to back (export-order.ts). */
async function copySorted(tx: Tx, meta: RunOutputMeta, held: OutputBatch[]): Promise<number> {
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

async function unnestRows(tx: Tx, meta: RunOutputMeta, batches: OutputBatch[]): Promise<number> {
  let rows = 0;
  for (const b of batches) {
    for (let start = 0; start < b.length; start += CHUNK) {
      const end = Math.min(b.length, start + CHUNK);
      await tx`
        insert into scenario_output (${tx.unsafe(COLUMNS)})
        select ${meta.tenantId}, ${meta.scenarioId}::uuid, ${meta.runId}::uuid, ${meta.asofDate}::date, ${meta.versionHash}, ${meta.computedTs}::text::timestamptz,
               k, t, make_date(cm / 100, cm % 100, 1), l, m, v, lo, hi, a::jsonb
        from unnest(${textSlice(b, "curveKey", start, end)}::text[], ${textSlice(b, "tenorType", start, end)}::text[], ${Array.from(b.contractMonth.subarray(start, end))}::int[],
                    ${textSlice(b, "tenorLabel", start, end)}::text[], ${textSlice(b, "metric", start, end)}::text[], ${floats(b.value, start, end)}::float8[],
                    ${floats(b.bandLower, start, end)}::float8[], ${floats(b.bandUpper, start, end)}::float8[],
                    ${Array.from({ length: end - start }, (_, j) => {
                      const a = attributionAt(b, start + j);
                      return a == null ? a : quoteNonFinite(a);
                    })}::text[]) as u(k, t, cm, l, m, v, lo, hi, a)`;
      rows += end - start;
    }
  }
  return rows;
}

/**
 * Iceberg output store (`iceberg.market.scenario_output`), written through Trino.
 *
 * Trino and Postgres cannot share a transaction, so a run's rows are swapped in this order; every
 * writer of a run's outputs (the worker and the backfill alike) holds the run's advisory lock in
 * its Postgres transaction while it writes and while it swaps, so they take turns:
 *
 *   1. stage: refuse if the run is already SUCCEEDED (its rows are final), then INSERT the new rows
 *      into Iceberg, tagged with a fresh write id (`write_id` = `<id>:<part>.<n>`);
 *   2. publish, in the worker's transaction: take the run's lock again;
 *   3. the worker's own checks, and the run marked SUCCEEDED (still uncommitted);
 *   4. seal: DELETE the run's rows of every other write (an earlier attempt's, complete or partial);
 *   5. COMMIT in Postgres.
 *
 * If 1 fails, or 2–4 do (then `discard`), this write's rows are deleted again and the transaction
 * rolls back: the run is not SUCCEEDED and earlier rows are untouched. A crash anywhere before 5
 * leaves a run that is not SUCCEEDED with leftover rows; its next attempt (retry or lease reclaim)
 * removes them in step 4. A crash after 5 leaves exactly this write's rows. A stage that starts
 * after 5 is refused in 1. So no run is ever SUCCEEDED with missing or duplicated rows. Between 1
 * and 5, readers of the bare table see the run's new rows next to any earlier ones; the run is not
 * SUCCEEDED yet, and readers go by SUCCEEDED runs.
 *
 * Needs a server Postgres: staging keeps one pooled connection (the lock's) for the whole write,
 * which the embedded store (one connection) cannot spare.
 */
import type { Transaction } from "../adapters/postgres";
import { type QueryOptions, type TrinoClient, TrinoError } from "../adapters/trino";
import { varcharLiteral } from "../adapters/trino-literals";
import type { Logger } from "../platform/logger";
import type { RunRepo } from "../runs/repo";
import { SORT_ROWS, sortedWindows } from "./export-order";
import type { OutputMetaRepo } from "./output-meta";
import { batchStream, type OutputBatches, type OutputWriter, type RunOutputMeta, type StagedRun } from "./store";
import { type InsertStatement, insertStatements, insertStatementsFrom, type OutputColumns } from "./trino-insert";

export const ICEBERG_OUTPUT_TABLE = "iceberg.market.scenario_output";
/**
 * The largest INSERT the writer tries (AURUM_TRINO_MAX_STATEMENT_CHARS): every statement is one
 * Iceberg commit, so fewer, larger statements write faster. 200,000 rows: 36 k rows/s in statements
 * of 1,000,000 characters (Trino's default `query.max-length`), 68 k at 4,000,000, 82 k at
 * 8,000,000 with 2.4 times less Trino CPU; 32,000,000 was no faster and ran the 2 GB local server
 * out of heap (docs/decisions/0006-iceberg-ingest.md). A server that allows less is learnt once
 * (`statementLimit`).
 */
export const MAX_STATEMENT_CHARS = 8_000_000;

export type TrinoOutputOptions = {
  /** The metadata ports it uses: the unit of work, the run's state, the run's output lock. */
  metadata: { transaction: Transaction; runs: Pick<RunRepo, "get">; outputs: Pick<OutputMetaRepo, "lockRun"> };
  trino: TrinoClient;
  log: Logger;
  table?: string;
  /** Largest INSERT statement; raise it together with the server's `query.max-length`. */
  maxStatementChars?: number;
  /** INSERT statements of one run in flight at once (2 hides the client's share of the work). */
  concurrency?: number;
  /**
   * INSERT statements in flight at once across every write of this store (default: no limit but
   * `concurrency` per write). The backfill copies several runs at once and sets it, so that one
   * run's rows are read while another's are written without Trino holding more statements.
   */
  inFlight?: number;
  /** Let Trino write its NDV sketches with each INSERT (off: see insertSession below); bench/trino-write.ts compares. */
  extendedStatistics?: boolean;
  /**
   * Rows put in export order before they are written, a window at a time (export-order.ts,
   * `sortedWindows`; default SORT_ROWS, `AURUM_OUTPUT_SORT_ROWS`): each data file then covers a
   * narrow key range, which the chunked export reads by (trino-export.ts).
   */
  sortRows?: number;
};

/** A write's id: 12 hex digits, short enough that Iceberg's 16-character column bounds keep the whole prefix. */
const newWriteId = () => crypto.randomUUID().replaceAll("-", "").slice(0, 12);

export function createTrinoOutputWriter(opts: TrinoOutputOptions): OutputWriter {
  const iceberg = createIcebergOutputs(opts);
  const { transaction, runs, outputs } = opts.metadata;
  return {
    async stage(meta: RunOutputMeta, batches: OutputBatches): Promise<StagedRun> {
      const writeId = newWriteId();
      const rows = await transaction(async (tx) => {
        await outputs.lockRun(tx, meta.runId);
        const run = await runs.get(meta.runId, null, tx);
        if (run?.state === "SUCCEEDED") throw new Error(`run ${meta.runId} is already SUCCEEDED; its outputs are final`);
        // Statements are built as batches arrive: a sort window and `concurrency` statements' rows are held at most.
        return iceberg.write(meta, writeId, () => iceberg.run(iceberg.statementsFrom(meta, writeId, sortedWindows(batchStream(batches), opts.sortRows ?? SORT_ROWS)), meta));
      });
      return {
        rows,
        publish: (tx) => outputs.lockRun(tx, meta.runId),
        seal: () => iceberg.retireOthers(meta, writeId),
        discard: () => iceberg.dropWrite(meta, writeId),
      };
    },

    async deleteRun(runId: string) {
      await transaction(async (tx) => {
        await outputs.lockRun(tx, runId);
        const run = await runs.get(runId, null, tx);
        await iceberg.delete({ runId, ...(run ? { scenarioId: run.scenario_id } : {}) });
      });
    },
  };
}

/** The Iceberg side of a run's rows: write, swap and delete. The caller holds the run's lock. */
export function createIcebergOutputs(opts: Omit<TrinoOutputOptions, "metadata">) {
  const { trino, log } = opts;
  const table = opts.table ?? ICEBERG_OUTPUT_TABLE;
  const wantedChars = opts.maxStatementChars ?? MAX_STATEMENT_CHARS;
  const concurrency = opts.concurrency ?? 2;
  const slots = opts.inFlight ? statementSlots(opts.inFlight) : undefined;

  /**
   * The INSERTs skip the extended statistics (NDV sketches, a Puffin file per commit): about a quarter
   * of Trino's CPU and wall time per write here (docs/decisions/0006-iceberg-ingest.md). Row counts
   * and min/max stay in the manifests; `ANALYZE` computes the sketches when wanted. Needs the
   * table's catalog: an unqualified table name writes with the server's default.
   */
  const [catalog, , name] = table.split(".");
  const insertSession = name && !opts.extendedStatistics ? { [`${catalog}.collect_extended_statistics_on_write`]: "false" } : undefined;
  const runFilter = (r: { runId: string; scenarioId?: string }) => `${r.scenarioId ? `scenario_id = ${varcharLiteral(r.scenarioId)} AND ` : ""}run_id = ${varcharLiteral(r.runId)}`;
  // The rows of one write: write_id in ['<id>:', '<id>;'). A range (not starts_with) lets Trino skip
  // files by their write_id bounds, so removing the other writes' rows does not read this one's.
  const ownRows = (writeId: string) => `(write_id >= ${varcharLiteral(`${writeId}:`)} AND write_id < ${varcharLiteral(`${writeId};`)})`;

  /**
   * A statement that lost an Iceberg commit race (another writer committed first) is tried again,
   * up to 4 times: a DELETE always (it is idempotent), an INSERT once a count by its tag shows that
   * none of its rows landed (the error alone cannot tell a lost race from a lost answer).
   */
  async function execute(sql: string, opts: QueryOptions & { tenantId: string; landed?: () => Promise<number> }): Promise<number | undefined> {
    const { landed, ...queryOpts } = opts;
    for (let attempt = 1; ; attempt++) {
      try {
        return (await trino.execute(sql, queryOpts)).updateCount;
      } catch (err) {
        // The server's limit went down since it was learnt (a restart with a lower query.max-length): learnt again by the run's next attempt.
        if (err instanceof TrinoError && err.errorName === TOO_LARGE) forgetLimit(trino, wantedChars);
        const conflict = err instanceof TrinoError && err.errorName === "ICEBERG_COMMIT_ERROR";
        if (!conflict || attempt >= 4 || (landed && (await landed()) > 0)) throw err;
        log.warn("iceberg_commit_conflict", { tenant_id: opts.tenantId, attempt, query_id: err.queryId });
        await Bun.sleep(100 * attempt + Math.random() * 100);
      }
    }
  }

  const deleteWhere = (where: string, tenantId = "", traceId?: string) => execute(`DELETE FROM ${table} WHERE ${where}`, { tenantId, ...(traceId ? { traceId } : {}) });

  /**
   * Runs the statements, `concurrency` at a time. On a failure it stops taking new ones and waits
   * for those in flight, so nothing of this write lands after the caller's clean-up.
   */
  async function run(
    statements: Iterator<InsertStatement> | AsyncIterator<InsertStatement>,
    meta: RunOutputMeta,
    signal?: AbortSignal,
    onRows?: (n: number) => void,
  ): Promise<number> {
    let rows = 0;
    let failure: { err: unknown } | undefined;
    const landed = (tag: string) => async () =>
      Number((await trino.execute(`SELECT count(*) FROM ${table} WHERE ${runFilter(meta)} AND write_id = ${varcharLiteral(tag)}`)).rows[0]?.[0]);
    const options = statementOptions(meta, insertSession, signal);
    const lane = async () => {
      try {
        while (!failure) {
          const next = await statements.next();
          if (next.done || failure) return;
          const release = await slots?.take();
          if (failure) return release?.(); // another lane failed while this one waited
          const { sql, tag } = next.value;
          const n = (await execute(sql, { ...options, landed: landed(tag) }).finally(() => release?.())) ?? next.value.rows;
          rows += n;
          onRows?.(n);
        }
      } catch (err) {
        failure ??= { err };
      }
    };
    await Promise.all(Array.from({ length: concurrency }, lane));
    if (failure) {
      await statements.return?.(undefined); // closes the source (a Postgres cursor) before the caller rolls back
      throw failure.err;
    }
    return rows;
  }

  /** Step 1's INSERTs: `write` the rows under `writeId`; on failure this write's rows are deleted again. Returns rows written. */
  async function writeRows(meta: RunOutputMeta, writeId: string, write: () => Promise<number>): Promise<number> {
    const started = performance.now();
    const rows = await write().catch(async (err: unknown) => {
      await dropWrite(meta, writeId);
      throw err;
    });
    const ms = Math.round(performance.now() - started);
    log.info("iceberg_outputs_written", { run_id: meta.runId, trace_id: meta.traceId, tenant_id: meta.tenantId, rows, write_id: writeId, ms });
    return rows;
  }

  /** Step 4: the run's rows of every write but `writeId` go. */
  async function retireOthers(meta: RunOutputMeta, writeId: string): Promise<void> {
    await deleteWhere(`${runFilter(meta)} AND (write_id IS NULL OR NOT ${ownRows(writeId)})`, meta.tenantId, meta.traceId);
  }

  /** This write's rows go again. Harmless if that fails: the run is not SUCCEEDED, and its next write removes them. */
  async function dropWrite(meta: RunOutputMeta, writeId: string): Promise<void> {
    await deleteWhere(`${runFilter(meta)} AND ${ownRows(writeId)}`, meta.tenantId).catch((e) =>
      log.warn("iceberg_outputs_cleanup_failed", { run_id: meta.runId, write_id: writeId, error: (e as Error).message }),
    );
  }

  return {
    table,
    run,
    /** Statements of one write; `part` keeps the tags of several calls for one write apart. */
    statements: (meta: RunOutputMeta, writeId: string, batches: Iterable<OutputColumns>, part = 0) =>
      withinLimit(trino, wantedChars, log, (max) => insertStatements(table, meta, `${writeId}:${part}.`, batches, max)),
    statementsFrom: (meta: RunOutputMeta, writeId: string, batches: AsyncIterable<OutputColumns>, part = 0) =>
      withinLimit(trino, wantedChars, log, (max) => insertStatementsFrom(table, meta, `${writeId}:${part}.`, batches, max)),

    write: writeRows,
    retireOthers,
    dropWrite,

    delete: (r: { runId: string; scenarioId?: string }) => deleteWhere(runFilter(r)),

    /** Every row of a scenario (its runs are gone from Postgres). Returns the rows deleted. */
    deleteScenario: (s: { tenantId: string; scenarioId: string }) =>
      deleteWhere(`scenario_id = ${varcharLiteral(s.scenarioId)} AND tenant_id = ${varcharLiteral(s.tenantId)}`, s.tenantId),
  };
}

export type IcebergOutputs = ReturnType<typeof createIcebergOutputs>;

/** The query options of a write's INSERTs: its tenant and trace, the session properties, the caller's signal. */
const statementOptions = (meta: RunOutputMeta, session: Record<string, string> | undefined, signal: AbortSignal | undefined) => ({
  tenantId: meta.tenantId,
  ...(session ? { session } : {}),
  ...(meta.traceId ? { traceId: meta.traceId } : {}),
  ...(signal ? { signal } : {}),
});

/** At most `n` holders at once; `take` waits for a free slot and returns its release (first come, first served). */
export function statementSlots(n: number): { take(): Promise<() => void> } {
  let free = n;
  const waiting: (() => void)[] = [];
  return {
    async take() {
      if (free > 0) free--;
      else await new Promise<void>((resolve) => waiting.push(resolve));
      let held = true;
      return () => {
        if (!held) return;
        held = false;
        // the slot passes straight on to the first waiter, if any
        const next = waiting.shift();
        if (next) next();
        else free++;
      };
    },
  };
}

/** Trino's error for a statement over its `query.max-length`: "Query text length (N) exceeds the maximum length (M)". */
const TOO_LARGE = "QUERY_TEXT_TOO_LARGE";
/** Per client, per wanted size: the largest statement the server takes. */
const limits = new WeakMap<TrinoClient, Map<number, Promise<number>>>();
const forgetLimit = (trino: TrinoClient, wanted: number) => limits.get(trino)?.delete(wanted);

/**
 * The largest statement `trino` accepts, at most `wanted` characters. Trino has no query that tells
 * its `query.max-length`, so a `SELECT 1` padded with a comment to `wanted` characters goes once per
 * client and size (~170 ms for 16,000,000 characters here): refused, the error names the server's
 * limit, which is kept instead. A probe that fails otherwise (Trino down) is sent again next time.
 */
export function statementLimit(trino: TrinoClient, wanted: number, log: Logger): Promise<number> {
  const byWanted = limits.get(trino) ?? new Map<number, Promise<number>>();
  limits.set(trino, byWanted);
  const known = byWanted.get(wanted);
  if (known) return known;
  const probe = trino.execute(`SELECT 1 /*${"-".repeat(Math.max(0, wanted - 13))}*/`).then(
    () => wanted,
    (err: unknown) => {
      const server = err instanceof TrinoError && err.errorName === TOO_LARGE ? Number(/maximum length \((\d+)\)/.exec(err.message)?.[1]) : Number.NaN;
      if (!Number.isSafeInteger(server)) throw err;
      log.warn("trino_statement_limit", { wanted, server, hint: "raise the server's query.max-length to AURUM_TRINO_MAX_STATEMENT_CHARS: larger statements write faster" });
      return Math.min(server, wanted);
    },
  );
  byWanted.set(wanted, probe);
  probe.catch(() => {
    if (byWanted.get(wanted) === probe) byWanted.delete(wanted);
  });
  return probe;
}

/** Statements within the server's limit, learnt before the first one is built. */
async function* withinLimit(
  trino: TrinoClient,
  wanted: number,
  log: Logger,
  make: (maxChars: number) => Iterable<InsertStatement> | AsyncIterable<InsertStatement>,
): AsyncGenerator<InsertStatement> {
  yield* make(await statementLimit(trino, wanted, log));
}

/**
 * Steps 1–4 in one go, for a writer that holds the run's lock in its transaction throughout (the
 * backfill): `write` the rows under a fresh write id, `settle` (Postgres, uncommitted), drop the
 * run's other rows; on failure drop this write's rows. Returns rows written.
 */
export async function replaceWrite(iceberg: IcebergOutputs, meta: RunOutputMeta, write: (writeId: string) => Promise<number>, settle: () => Promise<void>): Promise<number> {
  const writeId = newWriteId();
  const rows = await iceberg.write(meta, writeId, () => write(writeId));
  try {
    await settle();
    await iceberg.retireOthers(meta, writeId);
  } catch (err) {
    await iceberg.dropWrite(meta, writeId);
    throw err;
  }
  return rows;
}

/**
 * Removes a deleted scenario's rows from Iceberg (Postgres drops its runs and rows by cascade).
 * Called after the Postgres delete commits; if it fails, the rows stay behind unreachable (no run
 * refers to them) and a later delete of the same id, or the SQL in docs/outputs-trino.md, removes them.
 */
export function icebergScenarioPurge(opts: { trino: TrinoClient; log: Logger; table?: string }) {
  const iceberg = createIcebergOutputs(opts);
  return async ({ tenantId, scenarioId }: { tenantId: string; scenarioId: string }): Promise<void> => {
    try {
      // Through the same DELETE as a run's clean-up, so a lost Iceberg commit race is retried.
      const rows = await iceberg.deleteScenario({ tenantId, scenarioId });
      opts.log.info("iceberg_scenario_purged", { tenant_id: tenantId, scenario_id: scenarioId, rows: rows ?? 0 });
    } catch (err) {
      opts.log.error("iceberg_scenario_purge_failed", { tenant_id: tenantId, scenario_id: scenarioId, error: (err as Error).message });
    }
  };
}

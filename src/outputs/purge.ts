/**
 * The output purge: deletes the rows of deleted runs from `scenario_output` in bounded batches.
 *
 * Deleting a scenario (or a run) queues each run in `output_purge` (a trigger in the same
 * transaction, ddl/postgres/014_output_purge.sql) instead of deleting its rows there, so the DELETE
 * answers at once whatever the run sizes. A batch is one short transaction: claim the oldest queued
 * run (`for update skip locked`, so processes share the queue), delete the next `batchRows` of its
 * rows in key order after the entry's cursor (by ctid), move the cursor to the last of them, and
 * drop the queue entry once fewer than a batch were left. A process that stops mid-purge leaves the
 * entry queued with its cursor: the next pass, in any process, goes on from there.
 * Each pass also drops the staging tables that crashed workers left (pg-store.ts, dropOrphanStaging).
 */
import type { Transaction } from "../adapters/postgres";
import type { Logger } from "../platform/logger";
import { dropOrphanStaging } from "./pg-store";

export type OutputPurgeOptions = {
  transaction: Transaction;
  log: Logger;
  /** Rows deleted per transaction (default 20,000: about a tenth of a second on our 2-core machine). */
  batchRows?: number;
  /** Pause between passes when the queue was empty (default 30 s); `kick()` starts one at once. */
  idleMs?: number;
  /** The least pause between two batches (default 100 ms). */
  pauseMs?: number;
  /**
   * The share of wall time the purge may spend in its batches (default 0.1): after a batch of `b`
   * ms it pauses `b × (1 / share − 1)` ms (at least `pauseMs`), so it leaves the database to
   * exports and writers and slows down by itself when they make its batches slower. 1: no pause
   * beyond `pauseMs`. With 100 ms pauses alone (until stop 49) a 1,000,000-row CSV export through
   * the API ran at 0.78× its speed during a 5,000,000-row purge (`bun run bench runs`, delete).
   */
  share?: number;
  /** Clock and sleep (tests); default `performance.now` and `Bun.sleep`. */
  now?: () => number;
  sleep?: (ms: number) => Promise<unknown>;
};

export type OutputPurge = {
  /** One batch; what it did, or null when nothing is queued. */
  batch(): Promise<{ runId: string; rows: number; done: boolean } | null>;
  /** Batches until the queue is empty; the rows and runs it purged. */
  drain(signal?: AbortSignal): Promise<{ rows: number; runs: number }>;
  /** Starts the background loop (a pass now, then whenever kicked or idle for `idleMs`). */
  start(): void;
  /** Starts a pass soon (after a scenario was deleted); without `start()`, one pass in the background. */
  kick(): void;
  /** Stops the loop after the batch in flight. */
  stop(): Promise<void>;
};

type Queued = { run_id: string; after_metric: string | null; after_curve_key: string | null; after_tenor_type: string | null; after_contract_month: string | null };
/** A row's primary key after `run_id`. */
type Key = { metric: string; curve_key: string; tenor_type: string; contract_month: string };

/** One batch: the next `batchRows` rows of the oldest queued run that no other process holds. */
async function purgeBatch(transaction: Transaction, batchRows: number): Promise<{ runId: string; rows: number; done: boolean } | null> {
  return transaction(async (tx) => {
    const [queued] = await tx<Queued[]>`
      select run_id::text, after_metric, after_curve_key, after_tenor_type, to_char(after_contract_month, 'YYYY-MM-DD') as after_contract_month
      from output_purge order by queued_at limit 1 for update skip locked`;
    if (!queued) return null;
    // The next `batchRows` rows in key order after the last one deleted (016_output_purge_cursor.sql):
    // the key of the last of them, then a delete of the range up to it, both walks of the primary
    // key's index from the cursor on. Never a scan of all the run's rows and a sort: on statistics
    // older than a large run's rows the planner chose a bitmap scan and a sort, 0.8 s for a batch
    // out of 1,000,000 rows. No JIT: a plan costed with a path switched off compiles for ~150 ms
    // (seen when sorts were switched off too).
    await tx`set local enable_seqscan = off`;
    await tx`set local enable_bitmapscan = off`;
    await tx`set local jit = off`;
    const key = tx`(metric, curve_key, tenor_type, contract_month)`;
    const after =
      queued.after_metric === null ? tx`` : tx`and ${key} > (${queued.after_metric}, ${queued.after_curve_key}, ${queued.after_tenor_type}, ${queued.after_contract_month}::date)`;
    // Ordered by the table's columns: by name, ORDER BY would take the text `contract_month` below.
    const [last] = await tx<Key[]>`
      select o.metric, o.curve_key, o.tenor_type, to_char(o.contract_month, 'YYYY-MM-DD') as contract_month from scenario_output o
      where o.run_id = ${queued.run_id} ${after} order by o.metric, o.curve_key, o.tenor_type, o.contract_month offset ${batchRows - 1} limit 1`;
    const upTo = last ? tx`and ${key} <= (${last.metric}, ${last.curve_key}, ${last.tenor_type}, ${last.contract_month}::date)` : tx``;
    const rows = (await tx`delete from scenario_output where run_id = ${queued.run_id} ${after} ${upTo}`).count;
    // Fewer than a batch were left: they were the last.
    const done = !last;
    if (done) await tx`delete from output_purge where run_id = ${queued.run_id}`;
    else
      await tx`update output_purge set after_metric = ${last.metric}, after_curve_key = ${last.curve_key},
        after_tenor_type = ${last.tenor_type}, after_contract_month = ${last.contract_month}::date where run_id = ${queued.run_id}`;
    return { runId: queued.run_id, rows, done };
  });
}

export function createOutputPurge(o: OutputPurgeOptions): OutputPurge {
  const batchRows = o.batchRows ?? 20_000;
  const idleMs = o.idleMs ?? 30_000;
  const pauseMs = o.pauseMs ?? 100;
  const share = o.share ?? 0.1;
  if (!(share > 0 && share <= 1)) throw new Error(`output purge share must be in (0, 1], got ${share}`);
  const now = o.now ?? (() => performance.now());
  const sleep = o.sleep ?? Bun.sleep;
  let controller: AbortController | undefined;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  /** `kick()` came while the loop was in a pass (not waiting): it goes round again instead of waiting. */
  let kicked = false;
  /** Passes started by `kick()` while the loop is not running. */
  const oneOffs = new Set<Promise<void>>();

  const batch = () => purgeBatch(o.transaction, batchRows);

  async function drain(signal?: AbortSignal): Promise<{ rows: number; runs: number }> {
    const total = { rows: 0, runs: 0 };
    while (!signal?.aborted) {
      const t0 = now();
      const b = await batch();
      if (!b) break;
      total.rows += b.rows;
      if (b.done) {
        total.runs++;
        o.log.info("output_run_purged", { run_id: b.runId });
      }
      const pause = Math.max(pauseMs, (now() - t0) * (1 / share - 1));
      if (pause > 0) await sleep(pause);
    }
    const dropped = await dropOrphanStaging(o.transaction);
    if (dropped > 0) o.log.info("output_staging_dropped", { tables: dropped });
    return total;
  }

  return {
    batch,
    drain,
    start() {
      if (loop) return;
      const c = new AbortController();
      controller = c;
      c.signal.addEventListener("abort", () => wake?.(), { once: true });
      loop = (async () => {
        while (!c.signal.aborted) {
          try {
            await drain(c.signal);
          } catch (err) {
            // A database that is down: try again after the pause; the queue keeps the work.
            if (!c.signal.aborted) o.log.warn("output_purge_failed", { error: (err as Error).message });
          }
          if (c.signal.aborted) break;
          // Kicked during that pass, after its last look at the queue: another pass at once.
          if (kicked) {
            kicked = false;
            continue;
          }
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, idleMs);
            timer.unref?.();
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          wake = undefined;
        }
      })();
    },
    kick() {
      if (loop) {
        if (wake) wake();
        else kicked = true;
        return;
      }
      // Not started (an app built for tests or tools): one pass now, in the background.
      const pass = drain(controller?.signal).then(
        () => {},
        (err) => o.log.warn("output_purge_failed", { error: (err as Error).message }),
      );
      oneOffs.add(pass);
      void pass.finally(() => oneOffs.delete(pass));
    },
    async stop() {
      controller?.abort();
      await Promise.all([loop, ...oneOffs]);
      loop = undefined;
    },
  };
}

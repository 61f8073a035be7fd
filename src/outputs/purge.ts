/**
 * The output purge: deletes the rows of deleted runs from `scenario_output` in bounded batches.
 *
 * Deleting a scenario (or a run) queues each run in `output_purge` (a trigger in the same
 * transaction, ddl/postgres/014_output_purge.sql) instead of deleting its rows there, so the DELETE
 * answers at once whatever the run sizes. A batch is one short transaction: claim the oldest queued
 * run (`for update skip locked`, so processes share the queue), delete up to `batchRows` of its rows
 * by ctid, and drop the queue entry once fewer than a batch were left. A process that stops
 * mid-purge leaves the entry queued: the next pass, in any process, goes on from there.
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
  /** Pause between two batches (default 100 ms), so the purge leaves the machine to exports and writers. */
  pauseMs?: number;
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

export function createOutputPurge(o: OutputPurgeOptions): OutputPurge {
  const batchRows = o.batchRows ?? 20_000;
  const idleMs = o.idleMs ?? 30_000;
  const pauseMs = o.pauseMs ?? 100;
  let controller: AbortController | undefined;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  /** Passes started by `kick()` while the loop is not running. */
  const oneOffs = new Set<Promise<void>>();

  async function batch(): Promise<{ runId: string; rows: number; done: boolean } | null> {
    return o.transaction(async (tx) => {
      const [queued] = await tx<{ run_id: string }[]>`select run_id::text from output_purge order by queued_at limit 1 for update skip locked`;
      if (!queued) return null;
      const deleted = await tx`delete from scenario_output where ctid = any(array(
        select ctid from scenario_output where run_id = ${queued.run_id} limit ${batchRows}))`;
      const done = deleted.count < batchRows;
      if (done) await tx`delete from output_purge where run_id = ${queued.run_id}`;
      return { runId: queued.run_id, rows: deleted.count, done };
    });
  }

  async function drain(signal?: AbortSignal): Promise<{ rows: number; runs: number }> {
    const total = { rows: 0, runs: 0 };
    while (!signal?.aborted) {
      const b = await batch();
      if (!b) break;
      total.rows += b.rows;
      if (b.done) {
        total.runs++;
        o.log.info("output_run_purged", { run_id: b.runId });
      }
      if (pauseMs > 0) await Bun.sleep(pauseMs);
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
      if (loop) return wake?.();
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

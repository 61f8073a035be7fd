/**
 * runs suite, maintain section (issue 21, item 4): what `worker maintain` buys after many small
 * runs, on the local Trino (docs/outputs-trino.md, "Maintenance"):
 * 0. the table is maintained first, so the stages start from a table as nightly maintenance leaves
 *    it, not one still holding the snapshots and files of earlier tests and benches;
 * 1. one run of `rows` rows of a fresh scenario is written through the Iceberg output writer, and
 *    its full export (the Trino reader's CSV export, as the API streams it) is timed: `repeats`
 *    samples, each the fastest of three exports (see `exports`);
 * 2. `smallRuns` small commits follow into the scenario's partitions: one row each under a run id
 *    of its own, the new data file and snapshot a small run's write leaves. Paced at about 3 per
 *    second: every finished query holds ~4 MB of Trino's heap for `query.min-expire-age` (2 min);
 *    the export is timed again;
 * 3. `maintainIceberg` (what `worker maintain` runs: optimize, optimize_manifests, expire_snapshots,
 *    remove_orphan_files) with `snapshotRetention`, and the export is timed a third time.
 *    Nightly maintenance finds the day's runs past `worker maintain`'s snapshot retention (1 day);
 *    the bench's commits are minutes old, so it stands for that with 0s by default: what the
 *    retention keeps costs every query ~18 ms per 1,000 snapshots, and is the operator's choice.
 * The scenario's data files are counted at each stage; every stage's export must give the same bytes.
 * The scenario's rows are deleted at the end. Maintenance runs on the whole table, so the suite
 * leaves it compacted.
 */
import { createTrinoClient } from "../../src/adapters/trino";
import { varcharLiteral } from "../../src/adapters/trino-literals";
import { createMetadata } from "../../src/metadata";
import { maintainIceberg, retentionSession } from "../../src/outputs/iceberg-maintenance";
import { createTrinoOutputReader } from "../../src/outputs/trino-reader";
import { createTrinoOutputWriter, ICEBERG_OUTPUT_TABLE as T } from "../../src/outputs/trino-store";
import { createLogger } from "../../src/platform/logger";
import type { TestDb } from "../../test/support/app";
import { writeSyntheticRun } from "../../test/support/outputs";
import { serviceEnv } from "../../test/support/services";
import type { Recorder, SuiteContext } from "../lib/result";

const TENANT = "bench";
/** Exports per sample, the fastest kept (see `exports`). */
const BEST_OF = 3;

export type MaintainOptions = { rows: number; smallRuns: number; snapshotRetention: string };

export async function maintainAfterSmallRuns(ctx: SuiteContext, rec: Recorder, db: TestDb, o: MaintainOptions): Promise<void> {
  const env = serviceEnv();
  const client = (session?: Record<string, string>) =>
    createTrinoClient({ url: env.AURUM_TRINO_URL as string, user: env.AURUM_TRINO_USER ?? "aurum", source: "aurum-bench", ...(session ? { session } : {}) });
  const trino = client();
  const log = createLogger("silent");
  const metadata = createMetadata(db.sql);
  const [s] = await db.sql<{ id: string }[]>`insert into scenario (tenant_id, name) values (${TENANT}, 'maintenance') returning id::text as id`;
  const scenarioId = (s as { id: string }).id;
  const retention = { snapshotRetention: o.snapshotRetention, orphanRetention: "7d" };
  const maintain = () => maintainIceberg({ trino: client(retentionSession("iceberg", retention)), log, table: T, ...retention, fileSizeThreshold: "128MB" });
  try {
    await maintain();
    const runId = await writeSyntheticRun(db.sql, createTrinoOutputWriter({ metadata, trino, log }), { tenantId: TENANT, scenarioId, rows: o.rows });
    const reader = createTrinoOutputReader({ runs: metadata.runs, trino });
    const files = async () =>
      Number((await trino.execute(`SELECT count(*) FROM iceberg.market."scenario_output$files" WHERE partition.scenario_id = ${varcharLiteral(scenarioId)}`)).rows[0]?.[0]);
    /** The run's full CSV export once: seconds and bytes. */
    const exportOnce = async () => {
      const t0 = performance.now();
      let bytes = 0;
      for await (const chunk of reader.export({ tenantId: TENANT, scenarioId, runId }, { format: "csv", escapeFormulas: false, signal: new AbortController().signal }))
        bytes += chunk.length;
      return { seconds: (performance.now() - t0) / 1000, bytes };
    };
    /**
     * The export at this stage: one untimed export (the first query after a commit loads the new
     * snapshot's metadata; that happens once per commit, not per export), then `repeats` samples,
     * each the fastest of BEST_OF exports in a row. A 1-second export's noise is additive (a
     * collector's pause in Trino or here, after the 1,000 commits' garbage): one export per sample,
     * as until stop 50, spread one stage's samples over 62-99 k rows/s and put the ratio anywhere
     * in 0.60-1.13 in one run. Whatever the table's state costs, every export pays.
     */
    const exports = async () => {
      const rates: number[] = [];
      let bytes = (await exportOnce()).bytes;
      for (let r = 0; r < ctx.repeats; r++) {
        let best = Number.POSITIVE_INFINITY;
        for (let k = 0; k < (ctx.quick ? 1 : BEST_OF); k++) {
          const e = await exportOnce();
          if (e.bytes !== bytes) bytes = -1; // the check below reports it
          best = Math.min(best, e.seconds);
        }
        rates.push(o.rows / best);
      }
      return { rates, bytes };
    };
    /**
     * Waits until Trino has dropped the finished queries of the commits' burst: it keeps each one
     * (text, plan, stats) for `query.min-expire-age` (2 minutes, trino/etc/config.properties) while
     * it holds more than `query.max-history` (100). Nightly maintenance runs hours after the runs,
     * so the stages compare the table's states, not a heap still holding ~1,000 queries.
     */
    const settle = async () => {
      const t0 = performance.now();
      for (;;) {
        const kept = Number((await trino.execute("SELECT count(*) FROM system.runtime.queries")).rows[0]?.[0]);
        if (kept <= 150 || performance.now() - t0 > 300_000)
          return ctx.log(`maintain: Trino holds ${kept} finished queries after ${((performance.now() - t0) / 1000).toFixed(0)} s`);
        await Bun.sleep(5_000);
      }
    };
    const stage = async (name: string) => {
      const [f, e] = [await files(), await exports()];
      ctx.log(`maintain, ${name}: ${f} data files; export ${Math.round(e.rates.reduce((a, b) => a + b) / e.rates.length)} rows/s (mean of ${e.rates.length})`);
      return { files: f, ...e };
    };

    const fresh = await stage(`after one ${o.rows}-row run`);
    const t0 = performance.now();
    for (let i = 0; i < o.smallRuns; i++) {
      const started = performance.now();
      await trino.execute(
        `INSERT INTO ${T} (tenant_id, scenario_id, run_id, asof_date, curve_key, tenor_type, contract_month, tenor_label, metric, value, write_id)
         VALUES (${varcharLiteral(TENANT)}, ${varcharLiteral(scenarioId)}, ${varcharLiteral(crypto.randomUUID())}, DATE '2026-01-02', 'SMALL', 'MONTHLY', DATE '2027-01-01', '2027-01', '${["mid", "baseline", "uplift"][i % 3]}', ${i}, 'w')`,
      );
      await Bun.sleep(Math.max(0, 330 - (performance.now() - started)));
      if ((i + 1) % 100 === 0) ctx.log(`maintain: ${i + 1} small commits (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    }
    if (!ctx.quick) await settle();
    const grown = await stage(`after ${o.smallRuns} small commits`);
    const report = await maintain();
    const kept = await stage(`after maintain (${JSON.stringify(report.ms)} ms per step)`);

    const first = rec.figure(`full export of a ${o.rows.toLocaleString("en-US")}-row Iceberg run, before the small commits, rows/s`, "rows/s", fresh.rates, "baseline");
    rec.figure(`the same after ${o.smallRuns.toLocaleString("en-US")} small commits, rows/s`, "rows/s", grown.rates, "info");
    const last = rec.figure("the same after maintain, rows/s", "rows/s", kept.rates, "project");
    rec.ratio("full export rows/s after maintain / before the small commits", last, first, { text: "≥ 1 (issue 21: at least as fast)", meets: (x) => x >= 1 });
    const fewer = grown.files / Math.max(kept.files, 1);
    // The goal needs the 1,000 small runs; --quick makes a handful, which must still compact.
    const full = o.smallRuns >= 1_000;
    rec.check(
      `the scenario's data files after ${o.smallRuns} small commits → after maintain, ${full ? "≥ 10×" : "fewer"} (issue 21)`,
      `${fresh.files} → ${grown.files} → ${kept.files} (${fewer.toFixed(1)}× fewer)`,
      full ? fewer >= 10 : fewer > 1,
    );
    rec.check("every stage's export the same bytes", `${fresh.bytes}, ${grown.bytes}, ${kept.bytes}`, fresh.bytes === grown.bytes && grown.bytes === kept.bytes && fresh.bytes > 0);
    rec.note(
      `maintain (snapshot retention ${o.snapshotRetention}): manifests ${report.manifests.before} → ${report.manifests.after}, snapshots ${report.snapshots.before} → ${report.snapshots.after}; ms per step ${JSON.stringify(report.ms)}`,
    );
  } finally {
    await trino.execute(`DELETE FROM ${T} WHERE scenario_id = ${varcharLiteral(scenarioId)}`);
  }
}

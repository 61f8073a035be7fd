/**
 * runs suite, maintain section (issue 21, item 4): what `worker maintain` buys after many small
 * runs, on the local Trino (docs/outputs-trino.md, "Maintenance"):
 * 0. the table is maintained first, so the stages start from a table as nightly maintenance leaves
 *    it, not one still holding the snapshots and files of earlier tests and benches;
 * 1. one run of `rows` rows of a fresh scenario is written through the Iceberg output writer, and
 *    the same rows once more into a control table of the same definition that nothing else
 *    touches: the table "before the 1,000 runs", kept;
 * 2. `smallRuns` small commits follow into the scenario's partitions: one row each under a run id
 *    of its own, the new data file and snapshot a small run's write leaves. Paced at about 3 per
 *    second: every finished query holds ~4 MB of Trino's heap for `query.min-expire-age` (2 min);
 * 3. `maintainIceberg` (what `worker maintain` runs: optimize, optimize_manifests, expire_snapshots,
 *    remove_orphan_files) with `snapshotRetention`. Nightly maintenance finds the day's runs past
 *    `worker maintain`'s snapshot retention (1 day); the bench's commits are minutes old, so it
 *    stands for that with 0s by default: what the retention keeps costs every query ~18 ms per
 *    1,000 snapshots, and is the operator's choice.
 * At each stage the run's full export (the Trino reader's CSV export, as the API streams it) is
 * timed from the table and from the control in turn (see `exports`), so that both sides of each
 * ratio are read by the same Trino at the same moment: Trino after 1,000 commits is not the Trino
 * of a minute after its start (stop 51: the fresh export read 62-92 k rows/s and the one after
 * maintain 49-81 k over two runs, one stage after the other, with nothing else running). The
 * goal's ratio is the table after maintain against the same table before the commits, each stage's
 * rate taken relative to the control's read in turn: the control alone is not "before", since two
 * tables holding the same run read 0.94-0.98 of each other (stop 51; the table also holds every
 * other scenario's partitions). The scenario's data files are counted at
 * each stage; every export must give the same bytes. The scenario's rows are deleted at the end
 * and the control table dropped. Maintenance runs on the whole table, so the suite leaves it
 * compacted.
 */
import { createTrinoClient } from "../../src/adapters/trino";
import { varcharLiteral } from "../../src/adapters/trino-literals";
import { createMetadata } from "../../src/metadata";
import { DEFAULT_RETENTION, maintainIceberg, retentionSession } from "../../src/outputs/iceberg-maintenance";
import { createTrinoOutputReader } from "../../src/outputs/trino-reader";
import { createTrinoOutputWriter, ICEBERG_OUTPUT_TABLE as T } from "../../src/outputs/trino-store";
import { createLogger } from "../../src/platform/logger";
import type { TestDb } from "../../test/support/app";
import { writeSyntheticRun } from "../../test/support/outputs";
import { serviceEnv } from "../../test/support/services";
import type { Recorder, SuiteContext } from "../lib/result";
import { median } from "../lib/stats";

const TENANT = "bench";
/** The control: the table's definition, holding the same run and nothing else. */
const CONTROL = `${T}_bench_control`;
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
  const retention = { ...DEFAULT_RETENTION, snapshotRetention: o.snapshotRetention };
  const maintain = () => maintainIceberg({ trino: client(retentionSession("iceberg", retention)), log, table: T, ...retention, fileSizeThreshold: "128MB" });
  try {
    await maintain();
    await trino.execute(`DROP TABLE IF EXISTS ${CONTROL}`);
    // The table's own definition, but for its location (Trino gives a new table a folder of its own).
    const ddl = String((await trino.execute(`SHOW CREATE TABLE ${T}`)).rows[0]?.[0]);
    await trino.execute(ddl.replace(`CREATE TABLE ${T}`, `CREATE TABLE ${CONTROL}`).replace(/\n\s*location = '[^']*',/, ""));
    const write = (table: string) => writeSyntheticRun(db.sql, createTrinoOutputWriter({ metadata, trino, log, table }), { tenantId: TENANT, scenarioId, rows: o.rows });
    const subject = { name: "table", runId: await write(T), reader: createTrinoOutputReader({ runs: metadata.runs, trino }) };
    const control = { name: "control", runId: await write(CONTROL), reader: createTrinoOutputReader({ runs: metadata.runs, trino, table: CONTROL }) };
    const files = async () =>
      Number((await trino.execute(`SELECT count(*) FROM iceberg.market."scenario_output$files" WHERE partition.scenario_id = ${varcharLiteral(scenarioId)}`)).rows[0]?.[0]);
    /** One side's full CSV export once: seconds and bytes. */
    const exportOnce = async (side: typeof subject) => {
      const t0 = performance.now();
      let bytes = 0;
      for await (const chunk of side.reader.export(
        { tenantId: TENANT, scenarioId, runId: side.runId },
        { format: "csv", escapeFormulas: false, signal: new AbortController().signal },
      ))
        bytes += chunk.length;
      return { seconds: (performance.now() - t0) / 1000, bytes };
    };
    /**
     * The export at this stage, from the table and from the control in turn: one untimed export of
     * each (the first query after a commit loads the new snapshot's metadata; that happens once
     * per commit, not per export), then `repeats` samples, each the fastest of BEST_OF exports of
     * each side, the sides alternating export by export (which goes first alternates too). A 1-second export's noise is additive (a
     * collector's pause in Trino or here): one export per sample, as until stop 50, spread one
     * stage's samples over 62-99 k rows/s. Whatever a table's state costs, every export pays.
     */
    const exports = async () => {
      const rates = { table: [] as number[], control: [] as number[] };
      const bytes = { table: (await exportOnce(subject)).bytes, control: (await exportOnce(control)).bytes };
      for (let r = 0; r < ctx.repeats; r++) {
        const best = { table: Number.POSITIVE_INFINITY, control: Number.POSITIVE_INFINITY };
        for (let k = 0; k < (ctx.quick ? 1 : BEST_OF); k++)
          // Each side goes first as often as the other: an export right after the other side's may not cost what one after its own does.
          for (const side of (r + k) % 2 === 0 ? [subject, control] : [control, subject]) {
            const e = await exportOnce(side);
            const key = side.name as keyof typeof best;
            if (e.bytes !== bytes[key]) bytes[key] = -1; // the check below reports it
            best[key] = Math.min(best[key], e.seconds);
          }
        rates.table.push(o.rows / best.table);
        rates.control.push(o.rows / best.control);
      }
      return { rates, bytes };
    };
    /**
     * Waits until Trino has dropped the finished queries of the commits' burst: it keeps each one
     * (text, plan, stats) for `query.min-expire-age` (2 minutes, trino/etc/config.properties) while
     * it holds more than `query.max-history` (100).
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
    const mean = (xs: number[]) => Math.round(xs.reduce((a, b) => a + b) / xs.length);
    const stage = async (name: string) => {
      const [f, e] = [await files(), await exports()];
      ctx.log(`maintain, ${name}: ${f} data files; export ${mean(e.rates.table)} rows/s, control ${mean(e.rates.control)} (means of ${e.rates.table.length})`);
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

    const n = o.rows.toLocaleString("en-US");
    const commits = o.smallRuns.toLocaleString("en-US");
    const figures = (stageName: string, st: typeof fresh) => ({
      table: rec.figure(`full export of a ${n}-row Iceberg run ${stageName}, rows/s`, "rows/s", st.rates.table, "project"),
      control: rec.figure(`the same run in the control table, read in turn ${stageName}, rows/s`, "rows/s", st.rates.control, "baseline"),
    });
    const [f0, f1, f2] = [figures("after the run", fresh), figures(`after ${commits} small commits`, grown), figures("after maintain", kept)];
    // The goal: the table after maintain against the same table before the commits. One stage after
    // the other, Trino's drift moved that ratio 0.61-1.12 (stop 51); each stage's export is
    // therefore taken relative to the control read in turn, and the two stages' relative rates
    // compared. The control alone is not the "before": two tables holding the same run read
    // 0.94-0.98 of each other (the table also holds every other scenario's partitions).
    const relative = (st: typeof fresh) => st.rates.table.map((x, i) => x / (st.rates.control[i] as number));
    const before = median(relative(fresh));
    const after = rec.figure("full export after maintain, relative to the control read in turn", "×", relative(kept), "project");
    rec.ratio(
      `full export after maintain / before the ${commits} runs, each relative to the control read in turn`,
      after,
      { name: `the same before the ${commits} runs (median)`, samples: after.samples.map(() => before) },
      { text: "≥ 1 (issue 21: at least as fast)", meets: (x) => x >= 1 },
    );
    rec.ratio(`full export rows/s after maintain / the control's, read in turn`, f2.table, f2.control);
    rec.ratio("the same after the run / the control's (two tables holding the same run: their own difference and the method's noise)", f0.table, f0.control);
    rec.ratio(`the same after ${commits} small commits / the control's`, f1.table, f1.control);
    rec.ratio("full export rows/s after maintain / after the run, one stage after the other (Trino's drift included)", f2.table, f0.table);
    const fewer = grown.files / Math.max(kept.files, 1);
    // The goal needs the 1,000 small runs; --quick makes a handful, which must still compact.
    const full = o.smallRuns >= 1_000;
    rec.check(
      `the scenario's data files after ${o.smallRuns} small commits → after maintain, ${full ? "≥ 10×" : "fewer"} (issue 21)`,
      `${fresh.files} → ${grown.files} → ${kept.files} (${fewer.toFixed(1)}× fewer)`,
      full ? fewer >= 10 : fewer > 1,
    );
    const sizes = [fresh, grown, kept].flatMap((st) => [st.bytes.table, st.bytes.control]);
    rec.check("every export the same bytes (table and control, every stage)", sizes.join(", "), sizes.every((b) => b === sizes[0]) && (sizes[0] as number) > 0);
    rec.note(
      `maintain (snapshot retention ${o.snapshotRetention}): manifests ${report.manifests.before} → ${report.manifests.after}, snapshots ${report.snapshots.before} → ${report.snapshots.after}; ms per step ${JSON.stringify(report.ms)}`,
    );
  } finally {
    await trino.execute(`DELETE FROM ${T} WHERE scenario_id = ${varcharLiteral(scenarioId)}`);
    await trino.execute(`DROP TABLE IF EXISTS ${CONTROL}`);
  }
}

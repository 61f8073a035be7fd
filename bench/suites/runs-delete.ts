/**
 * runs suite, delete section (issue 21, item 5): deleting a scenario of many output rows while
 * another scenario's export runs. An API process (`bun src/main.ts api`, its own process, as the
 * export suite's) serves both; its output purge (src/outputs/purge.ts) frees the deleted rows in
 * the background. In every round, on the suite's Postgres, from an empty `scenario_output` (the
 * round does not wait for the purge, which takes minutes per 5,000,000 rows: docs/outputs.md):
 * 1. two scenarios' runs are written (untimed): the one to export (`exportRows` rows) through the
 *    Postgres output writer, the one to delete (`victimRows`) by SQL; then a CHECKPOINT;
 * 2. the first is exported as CSV through the API (`curl`): once untimed (the first read of new
 *    rows writes their hint bits), then twice in a row alone, timed;
 * 3. the second scenario is deleted through the API (`DELETE /v1/scenarios/{id}`, timed to its 204);
 * 4. at once the same two exports, while the purge deletes the deleted scenario's rows; a round
 *    counts only if rows were still left to purge when they ended (a check).
 */
import { createPgOutputWriter } from "../../src/outputs/pg-store";
import type { TestDb } from "../../test/support/app";
import { seedRun, startApiProcess, writeSyntheticRun } from "../../test/support/outputs";
import { timedBytes } from "../lib/proc";
import type { Recorder, SuiteContext } from "../lib/result";

const TENANT = "bench";

export type DeleteUnderExportOptions = { victimRows: number; exportRows: number };

export async function deleteUnderExport(ctx: SuiteContext, rec: Recorder, db: TestDb, o: DeleteUnderExportOptions): Promise<void> {
  const writer = createPgOutputWriter(db.sql);
  const newScenario = async (name: string) =>
    ((await db.sql<{ id: string }[]>`insert into scenario (tenant_id, name) values (${TENANT}, ${name}) returning id::text as id`)[0] as { id: string }).id;
  /** A scenario with one SUCCEEDED run of `rows` rows written by the output writer (the heap in export order, as a real run's); its ids. */
  const scenarioOf = async (name: string, rows: number) => {
    const scenarioId = await newScenario(name);
    return { scenarioId, runId: await writeSyntheticRun(db.sql, writer, { tenantId: TENANT, scenarioId, rows }) };
  };
  const left = async (runId: string) => (await db.sql<{ n: number }[]>`select count(*)::int as n from scenario_output where run_id = ${runId}`)[0]?.n ?? 0;

  const api = await startApiProcess(db.url as string, { AURUM_API_RATE_LIMIT_ENABLED: "0", AURUM_LOG_LEVEL: "warn" });
  // The section vacuums nothing: each round starts from an empty table, and autovacuum, which the
  // 6,000,000 rows written per round would start at a moment of its choosing, is off meanwhile.
  await db.sql`alter table scenario_output set (autovacuum_enabled = off)`;
  try {
    const m = { solo: [] as number[], during: [] as number[], deleteMs: [] as number[], purged: [] as number[] };
    for (let r = 0; r < ctx.repeats; r++) {
      // The queue first, as the API's purge takes it (a batch of that purge holds its entry until
      // its commit): the other order deadlocks with such a batch.
      await db.sql.begin(async (tx) => {
        await tx`delete from output_purge`;
        await tx`truncate scenario_output`;
      });
      const t0 = performance.now();
      const kept = await scenarioOf(`exported while another is deleted ${r + 1}`, o.exportRows);
      // The deleted one's rows straight from SQL (test/support/outputs.ts: indexes rebuilt after a large load), twice as fast as through the writer.
      const victimScenario = await newScenario(`deleted during an export ${r + 1}`);
      const victim = { scenarioId: victimScenario, runId: await seedRun(db.sql, { tenantId: TENANT, scenarioId: victimScenario, rows: o.victimRows }) };
      const exportCsv = ["curl", "-sf", "-o", "-", `${api.base}/v1/scenarios/${kept.scenarioId}/outputs?tenant_id=${TENANT}&run_id=${kept.runId}&format=csv`];
      const warm = await timedBytes(exportCsv); // the first read of new rows writes their hint bits
      // The load's dirty pages written out now, not by the checkpointer during the timed exports.
      await db.sql`checkpoint`.catch(() => {});
      ctx.log(`delete round ${r + 1}: ${o.exportRows + o.victimRows} rows written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      /** Two exports back to back: seconds of both, and whether each gave the first one's bytes. */
      const twice = async () => {
        const [a, b] = [await timedBytes(exportCsv), await timedBytes(exportCsv)];
        return { seconds: a.seconds + b.seconds, same: a.bytes === warm.bytes && b.bytes === warm.bytes };
      };
      const solo = await twice();
      const t1 = performance.now();
      const res = await fetch(`${api.base}/v1/scenarios/${victim.scenarioId}`, { method: "DELETE", headers: { "x-aurum-tenant": TENANT } });
      const deleteMs = performance.now() - t1;
      if (res.status !== 204) throw new Error(`DELETE answered ${res.status}: ${await res.text()}`);
      const during = await twice();
      const remaining = await left(victim.runId);
      const seconds = (performance.now() - t1) / 1000;
      if (!solo.same || !during.same) rec.check(`CSV bytes, round ${r + 1}`, `an export differed from the first one's ${warm.bytes} bytes`, false);
      rec.check(`rows still left to purge when the exports ended, round ${r + 1}`, `${remaining} of ${o.victimRows}`, remaining > 0);
      m.solo.push((2 * o.exportRows) / solo.seconds);
      m.during.push((2 * o.exportRows) / during.seconds);
      m.deleteMs.push(deleteMs);
      m.purged.push((o.victimRows - remaining) / seconds);
      ctx.log(
        `delete round ${r + 1}: DELETE ${deleteMs.toFixed(0)} ms; two exports ${solo.seconds.toFixed(2)} s alone, ${during.seconds.toFixed(2)} s during the purge (${remaining} of ${o.victimRows} rows left then)`,
      );
    }
    const deleteMs = rec.figure(`DELETE of a scenario of ${o.victimRows.toLocaleString("en-US")} output rows, answered in`, "ms", m.deleteMs, "project");
    rec.check("DELETE answered within 1 s (issue 21), slowest round", `${deleteMs.max.toFixed(0)} ms`, deleteMs.max <= 1_000);
    const during = rec.figure(
      `CSV export of another scenario's ${o.exportRows.toLocaleString("en-US")} rows via API during the purge (two in a row), rows/s`,
      "rows/s",
      m.during,
      "project",
    );
    const solo = rec.figure(`the same export alone, rows/s`, "rows/s", m.solo, "baseline");
    rec.ratio("export rows/s during a deleted scenario's purge / alone", during, solo, { text: "≥ 0.9 (issue 21: at full speed, within 10 %)", meets: (x) => x >= 0.9 });
    rec.figure("rows purged per second meanwhile (from the DELETE to the exports' end)", "rows/s", m.purged, "info");
  } finally {
    await api.stop();
    await db.sql`alter table scenario_output reset (autovacuum_enabled)`;
    await db.sql`delete from output_purge`;
    await db.sql`truncate scenario_output`;
  }
}

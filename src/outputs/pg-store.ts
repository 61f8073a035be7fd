/**
 * Postgres output store (`scenario_output`). A run's rows are deleted and re-inserted in the same
 * transaction that marks the run SUCCEEDED, so a retried or reclaimed run replaces its own rows
 * and a crash leaves none. Inserts send whole columns as arrays (`unnest`), one statement per batch.
 */
import type { Sql } from "../adapters/postgres";
import type { OutputBatch } from "../engine/types";
import type { OutputWriter, RunOutputMeta } from "./store";

const CHUNK = 20_000;

export function createPgOutputWriter(sql: Sql): OutputWriter {
  return {
    async replaceRun(meta: RunOutputMeta, batches: OutputBatch[], commit) {
      return sql.begin(async (tx) => {
        await tx`delete from scenario_output where run_id = ${meta.runId}`;
        let rows = 0;
        for (const b of batches) {
          for (let start = 0; start < b.length; start += CHUNK) {
            const end = Math.min(b.length, start + CHUNK);
            await tx`
              insert into scenario_output (tenant_id, scenario_id, run_id, asof_date, version_hash, computed_ts,
                curve_key, tenor_type, contract_month, tenor_label, metric, value, band_lower, band_upper, attribution)
              select ${meta.tenantId}, ${meta.scenarioId}::uuid, ${meta.runId}::uuid, ${meta.asofDate}::date, ${meta.versionHash}, ${meta.computedTs}::text::timestamptz,
                     k, t, make_date(cm / 100, cm % 100, 1), l, m, v, lo, hi, a::jsonb
              from unnest(${b.curveKey.slice(start, end)}::text[], ${b.tenorType.slice(start, end)}::text[], ${Array.from(b.contractMonth.subarray(start, end))}::int[],
                          ${b.tenorLabel.slice(start, end)}::text[], ${b.metric.slice(start, end)}::text[], ${Array.from(b.value.subarray(start, end))}::float8[],
                          ${Array.from(b.bandLower.subarray(start, end))}::float8[], ${Array.from(b.bandUpper.subarray(start, end))}::float8[],
                          ${b.attribution.slice(start, end)}::text[]) as u(k, t, cm, l, m, v, lo, hi, a)`;
            rows += end - start;
          }
        }
        await commit(tx);
        return rows;
      });
    },

    async deleteRun(runId: string) {
      await sql`delete from scenario_output where run_id = ${runId}`;
    },
  };
}

/**
 * --store-metrics: the run's p95 latencies and ratios into `ops_metrics` (ddl/postgres/008_ops_metrics.sql,
 * a Timescale hypertable when the extension exists). The DDL is idempotent and applied here, so
 * the target needs no prior migration.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import type { BenchFile } from "./file";

export const OPS_METRICS_DDL = join(import.meta.dir, "../../ddl/postgres/008_ops_metrics.sql");

export async function storeOpsMetrics(dsn: string, file: BenchFile): Promise<{ rows: number; hypertable: boolean }> {
  const sql = postgres(dsn, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(readFileSync(OPS_METRICS_DDL, "utf8"));
    const labels = (suite: string) => ({ suite, host: file.machine.host, git_commit: file.machine.git_commit ?? null, quick: file.quick, slowdown: file.slowdown });
    const rows: { ts: string; source: string; metric: string; value: number; unit: string; labels: unknown }[] = [];
    for (const s of file.suites) {
      for (const d of s.distributions)
        rows.push({ ts: file.finished_at, source: "bench", metric: `${s.suite}.${d.group}.${d.name}.p95`, value: d.p95, unit: d.unit, labels: labels(s.suite) });
      for (const r of s.ratios) rows.push({ ts: file.finished_at, source: "bench", metric: `${s.suite}.ratio.${r.name}`, value: r.median, unit: "ratio", labels: labels(s.suite) });
    }
    if (rows.length) {
      await sql`insert into ops_metrics ${sql(
        rows.map((r) => ({ ...r, labels: sql.json(r.labels as never) })),
        "ts",
        "source",
        "metric",
        "value",
        "unit",
        "labels",
      )}`;
    }
    const [h] = await sql<{ n: number }[]>`select count(*)::int as n from pg_extension where extname = 'timescaledb'`;
    let hypertable = false;
    if (h?.n) hypertable = ((await sql`select 1 from timescaledb_information.hypertables where hypertable_name = 'ops_metrics'`).length as number) > 0;
    return { rows: rows.length, hypertable };
  } finally {
    await sql.end();
  }
}

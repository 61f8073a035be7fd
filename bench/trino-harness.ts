/**
 * `make trino-harness-metrics` (the user's guide: "Ops metrics table can store query p95s via make
 * trino-harness-metrics"): the output read path on the Iceberg store, timed through Trino, with the
 * p50/p95 of each query kind printed and stored in `ops_metrics` (ddl/postgres/008_ops_metrics.sql;
 * a Timescale hypertable where the extension exists).
 *
 * It seeds a scenario with two SUCCEEDED runs (`--rows` rows each) in a throwaway Postgres database,
 * copies them into Iceberg with the backfill, then times `--iterations` rounds of what the API asks
 * Trino (src/outputs/trino-reader.ts): a JSON page (`/outputs?limit=100`), a filtered page
 * (`metric=NPV`), the latest rollup (`/metrics/latest?limit=100`), its per-metric summary
 * (`group_by=metric`) and a full CSV export. Each figure is also read back from Trino
 * (`system.runtime.queries`: Trino's own elapsed time for the same statements). The Iceberg rows
 * and the database are removed afterwards.
 *
 *   bun bench/trino-harness.ts [--rows N (20000)] [--iterations N (20)] [--metrics-dsn URL] [--json FILE]
 *
 * `--metrics-dsn` (default AURUM_METRICS_DSN, then AURUM_APP_DB_DSN): where `ops_metrics` rows go
 * (metric `trino.<kind>.p95` / `.p50`, unit ms, source `trino-harness`); without one the figures
 * are printed only. Needs Trino and Postgres (`npm run services:up`; .services/env).
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import postgres from "postgres";
import { createTrinoClient } from "../src/adapters/trino";
import { varcharLiteral } from "../src/adapters/trino-literals";
import { createMetadata } from "../src/metadata";
import { backfill } from "../src/outputs/backfill";
import type { OutputFilter } from "../src/outputs/reader";
import { createTrinoOutputReader } from "../src/outputs/trino-reader";
import { ICEBERG_OUTPUT_TABLE } from "../src/outputs/trino-store";
import { createLogger } from "../src/platform/logger";
import { createTestDb } from "../test/support/app";
import { seedRun } from "../test/support/outputs";
import { requireService, serviceEnv } from "../test/support/services";
import { machineFacts } from "./lib/machine";
import { OPS_METRICS_DDL } from "./lib/ops-metrics";
import { percentile } from "./lib/stats";

const { values: flags } = parseArgs({
  options: { rows: { type: "string" }, iterations: { type: "string" }, "metrics-dsn": { type: "string" }, json: { type: "string" }, help: { type: "boolean" } },
});
if (flags.help) {
  console.log("bun bench/trino-harness.ts [--rows N (20000)] [--iterations N (20)] [--metrics-dsn URL] [--json FILE]");
  process.exit(0);
}
const rows = Number(flags.rows ?? 20_000);
const iterations = Number(flags.iterations ?? 20);
if (!(Number.isInteger(rows) && rows > 0 && Number.isInteger(iterations) && iterations > 0)) {
  console.error("--rows and --iterations must be positive integers");
  process.exit(2);
}
const env = serviceEnv();
const metricsDsn = flags["metrics-dsn"] || env.AURUM_METRICS_DSN || env.AURUM_APP_DB_DSN || "";
const status = await requireService("trino").catch((e: Error) => ({ available: false, reason: e.message }));
if (!status.available) {
  console.error(`trino-harness: Trino is not reachable (${status.reason}); start it with npm run services:up`);
  process.exit(3);
}

const TENANT = "t-trino-harness";
const log = createLogger("silent");
const trino = createTrinoClient({ url: env.AURUM_TRINO_URL ?? "http://127.0.0.1:8080", user: env.AURUM_TRINO_USER ?? "aurum", source: "aurum-trino-harness" });
const db = await createTestDb("postgres");
let scenarioId = "";
try {
  [{ id: scenarioId }] = await db.sql<{ id: string }[]>`insert into scenario (tenant_id, name) values (${TENANT}, 'trino harness') returning id::text as id`;
  await seedRun(db.sql, { tenantId: TENANT, scenarioId, rows, asof: "2026-01-02", finishedAt: "2026-01-02T10:00:00Z" });
  await seedRun(db.sql, { tenantId: TENANT, scenarioId, rows, asof: "2026-02-02", finishedAt: "2026-02-02T10:00:00Z", offset: 11 });
  await db.sql`update scenario_output o set computed_ts = r.finished_at from scenario_run r where r.id = o.run_id`;
  const copied = await backfill({ metadata: createMetadata(db.sql), trino, log, scenarioId });
  console.log(`seeded 2 runs × ${rows} rows, copied to ${ICEBERG_OUTPUT_TABLE} (${copied.rowsDone} rows)`);

  const reader = createTrinoOutputReader({ runs: createMetadata(db.sql).runs, trino });
  const [run] = await db.sql<{ id: string }[]>`select id::text as id from scenario_run where scenario_id = ${scenarioId} order by finished_at desc limit 1`;
  const base: OutputFilter = { tenantId: TENANT, scenarioId };
  const page = { ...base, runId: run?.id as string };
  const kinds: Record<string, () => Promise<unknown>> = {
    page: () => reader.page(page, 100),
    page_metric: () => reader.page({ ...page, metric: "NPV" }, 100),
    latest: () => reader.latest(base, 100),
    latest_by_metric: () => reader.latestByMetric(base, 100),
    export_csv: async () => {
      let bytes = 0;
      for await (const chunk of reader.export(page, { format: "csv", escapeFormulas: false, signal: new AbortController().signal })) bytes += chunk.byteLength;
      return bytes;
    },
  };
  const started = new Date();
  const wall: Record<string, number[]> = {};
  for (const kind of Object.keys(kinds)) await kinds[kind]?.(); // warm-up round (metadata, plans)
  for (let i = 0; i < iterations; i++) {
    for (const [kind, fn] of Object.entries(kinds)) {
      const t0 = performance.now();
      await fn();
      wall[kind] = [...(wall[kind] ?? []), performance.now() - t0];
    }
  }
  // Trino's own account of the same statements (elapsed as it measures it), matched by the scenario id in their text.
  const history = await trino.execute(
    `SELECT query, to_milliseconds("end" - started) AS ms FROM system.runtime.queries
     WHERE state = 'FINISHED' AND source = 'aurum-trino-harness' AND query LIKE ${varcharLiteral(`%${scenarioId}%`)} AND created >= from_iso8601_timestamp(${varcharLiteral(started.toISOString())})`,
  );
  const trinoMs: Record<string, number[]> = {};
  for (const [query, ms] of history.rows as [string, number][]) {
    const kind = /count\(DISTINCT run_id\)/.test(query)
      ? "latest_by_metric"
      : /row_number\(\)/.test(query)
        ? "latest"
        : /LIMIT 100$/.test(query.trim())
          ? /metric = 'NPV'/.test(query)
            ? "page_metric"
            : "page"
          : "export_csv";
    trinoMs[kind] = [...(trinoMs[kind] ?? []), Number(ms)];
  }

  const figures = Object.keys(kinds).flatMap((kind) => {
    const w = (wall[kind] ?? []).sort((a, b) => a - b);
    const t = (trinoMs[kind] ?? []).sort((a, b) => a - b);
    return [
      { metric: `trino.${kind}.p50`, value: percentile(w, 50) },
      { metric: `trino.${kind}.p95`, value: percentile(w, 95) },
      ...(t.length ? [{ metric: `trino.${kind}.server_p95`, value: percentile(t, 95) }] : []),
    ];
  });
  console.log(`\n${iterations} rounds, ms (wall: this client; server: Trino's elapsed)`);
  console.log(`${"query".padEnd(18)} ${"p50".padStart(9)} ${"p95".padStart(9)} ${"server p95".padStart(11)}`);
  for (const kind of Object.keys(kinds)) {
    const f = (name: string) => figures.find((x) => x.metric === `trino.${kind}.${name}`)?.value;
    const fmt = (v: number | undefined, w: number) => (v === undefined ? "—" : v.toFixed(1)).padStart(w);
    console.log(`${kind.padEnd(18)} ${fmt(f("p50"), 9)} ${fmt(f("p95"), 9)} ${fmt(f("server_p95"), 11)}`);
  }

  const machine = await machineFacts();
  const labels = { rows, iterations, host: machine.host, git_commit: machine.git_commit ?? null, trino_version: machine.trino ?? null };
  if (flags.json) writeFileSync(flags.json, `${JSON.stringify({ finished_at: new Date().toISOString(), labels, figures }, null, 2)}\n`);
  if (metricsDsn) {
    const sql = postgres(metricsDsn, { max: 1, onnotice: () => {} });
    try {
      await sql.unsafe(await Bun.file(OPS_METRICS_DDL).text());
      const ts = new Date().toISOString();
      await sql`insert into ops_metrics ${sql(
        figures.map((f) => ({ ts, source: "trino-harness", metric: f.metric, value: f.value, unit: "ms", labels: sql.json(labels as never) })),
        "ts",
        "source",
        "metric",
        "value",
        "unit",
        "labels",
      )}`;
      console.log(`\nops_metrics: ${figures.length} rows written (source trino-harness)`);
    } finally {
      await sql.end();
    }
  } else console.log("\nops_metrics: not stored (no --metrics-dsn, AURUM_METRICS_DSN or AURUM_APP_DB_DSN)");
} finally {
  if (scenarioId) await trino.execute(`DELETE FROM ${ICEBERG_OUTPUT_TABLE} WHERE scenario_id = ${varcharLiteral(scenarioId)}`).catch(() => {});
  await db.drop();
}

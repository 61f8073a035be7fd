/**
 * What `worker maintain` buys (docs/outputs-trino.md "Maintenance"), on the local Trino:
 *
 *   bun bench/iceberg-maintain.ts [smallRuns=1000] [rows=100000] [retention=7d]
 *
 * 1. writes one run of `rows` rows of a fresh scenario through the output store, and times reading
 *    the whole run back (the export's query: every column, in export order; median of 3);
 * 2. adds `smallRuns` small commits (one row each, a re-run's worth of new files) to the scenario's
 *    partitions, paced at about 3 per second (every finished query holds ~4 MB of Trino's heap for
 *    `query.min-expire-age`), and times the read again;
 * 3. runs maintenance (optimize, expire_snapshots, remove_orphan_files with `retention`) and times
 *    the read a third time.
 *
 * Prints the scenario's data files and the table's snapshots at each stage, and the read medians.
 * Leaves nothing behind (the scenario's rows are deleted at the end). Needs
 * `bash deploy/local/services.sh up` (or AURUM_TRINO_URL).
 */
import { createTrinoClient } from "../src/adapters/trino";
import { varcharLiteral } from "../src/adapters/trino-literals";
import { createMetadata } from "../src/metadata";
import { maintainIceberg, retentionSession } from "../src/outputs/iceberg-maintenance";
import { writeRun } from "../src/outputs/store";
import { createTrinoOutputWriter, ICEBERG_OUTPUT_TABLE as T } from "../src/outputs/trino-store";
import { createLogger } from "../src/platform/logger";
import { createTestDb } from "../test/support/app";
import { syntheticBatches } from "../test/support/output-batches";
import { serviceEnv } from "../test/support/services";

const [smallRuns = 1000, rows = 100_000] = process.argv.slice(2, 4).map(Number);
const retention = process.argv[4] ?? "7d";
const env = serviceEnv();
const url = env.AURUM_TRINO_URL ?? "http://127.0.0.1:8080";
const log = createLogger("silent");
const trino = createTrinoClient({ url, user: "aurum", source: "aurum-bench" });
const db = await createTestDb("postgres");

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const count = async (sql: string) => Number((await trino.execute(sql)).rows[0]?.[0]);

try {
  const [s] = await db.sql`insert into scenario (tenant_id, name) values ('t-bench', 'maintenance') returning id::text as id`;
  const scenarioId = s?.id as string;
  const [r] = await db.sql`insert into scenario_run (scenario_id, tenant_id, state, input_hash, run_key)
    values (${scenarioId}, 't-bench', 'RUNNING', ${crypto.randomUUID()}, 'k') returning id::text as id`;
  const runId = r?.id as string;
  const writer = createTrinoOutputWriter({ metadata: createMetadata(db.sql), trino, log });
  await writeRun(
    writer,
    createMetadata(db.sql).transaction,
    { tenantId: "t-bench", scenarioId, runId, asofDate: "2026-01-02", versionHash: "vh", computedTs: "2026-01-02T03:04:05.678Z" },
    syntheticBatches(rows),
  );
  const files = () => count(`SELECT count(*) FROM iceberg.market."scenario_output$files" WHERE partition.scenario_id = ${varcharLiteral(scenarioId)}`);
  const snapshots = () => count(`SELECT count(*) FROM iceberg.market."scenario_output$snapshots"`);
  /** The run read back whole, as the export reads it; milliseconds (median of 3) and the rows. */
  const read = async () => {
    const times: number[] = [];
    let n = 0;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      n = 0;
      for await (const page of trino.query(
        `SELECT * FROM ${T} WHERE scenario_id = ${varcharLiteral(scenarioId)} AND run_id = ${varcharLiteral(runId)} ORDER BY metric, curve_key, tenor_type, contract_month`,
      ))
        n += page.rows.length;
      times.push(performance.now() - t0);
    }
    return { ms: median(times), rows: n };
  };
  const stage = async (name: string) => {
    const [f, sn, rd] = [await files(), await snapshots(), await read()];
    console.log(`${name.padEnd(34)} files ${String(f).padStart(6)}  snapshots ${String(sn).padStart(6)}  read ${rd.rows} rows in ${rd.ms.toFixed(0)} ms (median of 3)`);
    return { files: f, ms: rd.ms };
  };

  const fresh = await stage(`after one ${rows}-row run`);
  const t0 = performance.now();
  for (let i = 0; i < smallRuns; i++) {
    const started = performance.now();
    await trino.execute(
      `INSERT INTO ${T} (tenant_id, scenario_id, run_id, asof_date, curve_key, tenor_type, contract_month, tenor_label, metric, value, write_id)
       VALUES ('t-bench', ${varcharLiteral(scenarioId)}, ${varcharLiteral(crypto.randomUUID())}, DATE '2026-01-02', 'SMALL', 'MONTHLY', DATE '2027-01-01', '2027-01', '${["mid", "baseline", "uplift"][i % 3]}', ${i}, 'w')`,
    );
    await Bun.sleep(Math.max(0, 330 - (performance.now() - started)));
    if ((i + 1) % 100 === 0) process.stderr.write(`${i + 1} small commits (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
  }
  const grown = await stage(`after ${smallRuns} small commits`);
  const report = await maintainIceberg({
    trino: createTrinoClient({ url, user: "aurum", source: "aurum-bench", session: retentionSession("iceberg", retention) }),
    log,
    table: T,
    retention,
    fileSizeThreshold: "128MB",
  });
  console.log(`maintain (retention ${retention}): ${JSON.stringify(report.ms)} ms per step`);
  const kept = await stage("after maintain");
  console.log(
    `files: ${grown.files} → ${kept.files} (${(grown.files / Math.max(kept.files, 1)).toFixed(1)}× fewer); read: ${fresh.ms.toFixed(0)} ms fresh, ${grown.ms.toFixed(0)} ms grown, ${kept.ms.toFixed(0)} ms maintained (maintained / fresh ${(kept.ms / fresh.ms).toFixed(2)})`,
  );
  await trino.execute(`DELETE FROM ${T} WHERE scenario_id = ${varcharLiteral(scenarioId)}`);
} finally {
  await db.drop();
}
process.exit(0);

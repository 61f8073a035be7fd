/**
 * Write strategies into iceberg.market.scenario_output through Trino's HTTP protocol, medians of
 * `repeats` runs of `rows` synthetic output rows (test/support/output-batches.ts):
 *
 *   bun bench/trino-write.ts [rows=100000] [repeats=3]
 *
 *   values            multi-row INSERT ... VALUES, N rows per statement (on 10,000 rows at most: it is slow)
 *   json-rows         one JSON array of rows per statement, json_parse + UNNEST
 *   json-columns ×c   the store's encoding (src/outputs/trino-insert.ts): column-wise JSON with a
 *                     string dictionary, statements up to 1,000,000 characters (Trino's default
 *                     query.max-length), c in flight, no extended statistics on write (as the store writes)
 *   … M chars         json-columns ×2 in larger statements: 4,000,000 characters and the store's
 *                     default (MAX_STATEMENT_CHARS), within what the server takes
 *   … +NDV stats      json-columns ×2 with Trino's default: NDV sketches written with every INSERT
 *   staged            json-columns into an unpartitioned staging table, then one INSERT ... SELECT
 *   writeRun          the whole store write (src/outputs/trino-store.ts): insert, Postgres commit,
 *                     delete of the run's earlier rows, on a fresh Postgres test database
 *
 * Staging in Postgres and one INSERT ... SELECT through Trino's postgresql connector is measured
 * only when a `postgresql` catalog exists (the local Trino has none: see docs/outputs-trino.md).
 * Needs `bash deploy/local/services.sh up` (or AURUM_TRINO_URL).
 */

import { createTrinoClient } from "../src/adapters/trino";
import { dateLiteral, doubleLiteral, timestampTzLiteral, varcharLiteral } from "../src/adapters/trino-literals";
import type { OutputBatch } from "../src/engine/types";
import { createMetadata } from "../src/metadata";
import { type RunOutputMeta, writeRun } from "../src/outputs/store";
import { type InsertStatement, OUTPUT_COLUMNS } from "../src/outputs/trino-insert";
import { createIcebergOutputs, createTrinoOutputWriter, ICEBERG_OUTPUT_TABLE, MAX_STATEMENT_CHARS } from "../src/outputs/trino-store";
import { createLogger } from "../src/platform/logger";
import { createTestDb } from "../test/support/app";
import { syntheticBatches } from "../test/support/output-batches";
import { serviceEnv } from "../test/support/services";

const [ROWS = 100_000, REPEATS = 3] = process.argv.slice(2).map(Number);
const env = serviceEnv();
const log = createLogger("silent");
const trino = createTrinoClient({ url: env.AURUM_TRINO_URL ?? "http://127.0.0.1:8080", user: env.AURUM_TRINO_USER ?? "aurum", source: "aurum-bench" });
const TABLE = ICEBERG_OUTPUT_TABLE;
const STAGING = "iceberg.market.bench_output_staging";
const MAX_CHARS = 1_000_000;
const scenarioId = `bench-${Date.now().toString(36)}`;
const batches = syntheticBatches(ROWS);
const VALUES_ROWS = Math.min(ROWS, 10_000);

const metaFor = (runId: string): RunOutputMeta => ({
  tenantId: "bench",
  scenarioId,
  runId,
  asofDate: "2026-01-02",
  versionHash: "vh-bench",
  computedTs: "2026-01-02T03:04:05.678Z",
});
const constants = (m: RunOutputMeta, writeId: string) =>
  `${varcharLiteral(m.tenantId)}, ${varcharLiteral(m.scenarioId)}, ${varcharLiteral(m.runId)}, ${dateLiteral(m.asofDate)}, ${varcharLiteral(m.versionHash)}, ${timestampTzLiteral(m.computedTs)}, ${varcharLiteral(writeId)}`;
const COLUMNS_BY_CONSTANTS =
  "tenant_id, scenario_id, run_id, asof_date, version_hash, computed_ts, write_id, curve_key, tenor_type, contract_month, tenor_label, metric, value, band_lower, band_upper, attribution";
const monthDate = "date_add('month', (cm / 100 - 1970) * 12 + cm % 100 - 1, DATE '1970-01-01')";

/** The rows of `source` in statements of `perStatement` rows, each rendered by `render`, all tagged `writeId`. */
function* byRows(source: OutputBatch[], writeId: string, perStatement: number, render: (b: OutputBatch, from: number, to: number) => string): Generator<InsertStatement> {
  for (const b of source) {
    for (let from = 0; from < b.length; from += perStatement) {
      const to = Math.min(b.length, from + perStatement);
      const sql = render(b, from, to);
      if (sql.length > MAX_CHARS) throw new Error(`statement of ${to - from} rows is ${sql.length} characters`);
      yield { sql, rows: to - from, tag: writeId };
    }
  }
}

function valuesStatements(m: RunOutputMeta, writeId: string, perStatement: number) {
  return byRows(syntheticBatches(VALUES_ROWS), writeId, perStatement, (b, from, to) => {
    const rows: string[] = [];
    for (let i = from; i < to; i++) {
      rows.push(
        `(${varcharLiteral(b.curveKey[i])}, ${varcharLiteral(b.tenorType[i])}, ${b.contractMonth[i]}, ${varcharLiteral(b.tenorLabel[i])}, ${varcharLiteral(b.metric[i])}, ` +
          `${doubleLiteral(b.value[i])}, ${doubleLiteral(b.bandLower[i])}, ${doubleLiteral(b.bandUpper[i])}, ${varcharLiteral(b.attribution[i])})`,
      );
    }
    return `INSERT INTO ${TABLE} (${COLUMNS_BY_CONSTANTS}) SELECT ${constants(m, writeId)}, k, t, ${monthDate}, l, mt, v, lo, hi, a
      FROM (VALUES ${rows.join(",\n")}) AS r(k, t, cm, l, mt, v, lo, hi, a)`;
  });
}

function jsonRowStatements(m: RunOutputMeta, writeId: string, perStatement: number) {
  const num = (v: number) => (Number.isFinite(v) ? String(v) : `"${v}"`);
  return byRows(batches, writeId, perStatement, (b, from, to) => {
    const rows: string[] = [];
    for (let i = from; i < to; i++) {
      const text = [b.curveKey[i], b.tenorType[i]].map((x) => JSON.stringify(x)).join(",");
      const rest = [b.tenorLabel[i], b.metric[i]].map((x) => JSON.stringify(x)).join(",");
      const row = `[${text},${b.contractMonth[i]},${rest},${num(b.value[i]!)},${num(b.bandLower[i]!)},${num(b.bandUpper[i]!)},${JSON.stringify(b.attribution[i])}]`;
      rows.push(row.replaceAll("'", "''"));
    }
    return `INSERT INTO ${TABLE} (${COLUMNS_BY_CONSTANTS}) SELECT ${constants(m, writeId)}, k, t, ${monthDate}, l, mt, v, lo, hi, a
      FROM UNNEST(CAST(json_parse('[${rows.join(",")}]') AS ARRAY(ROW(k varchar, t varchar, cm integer, l varchar, mt varchar, v double, lo double, hi double, a varchar))))
      AS r(k, t, cm, l, mt, v, lo, hi, a)`;
  });
}

type Strategy = { name: string; rows?: number; write: (runId: string) => Promise<void> };
const writerFor = (concurrency: number, table = TABLE, extendedStatistics = false, maxStatementChars = MAX_CHARS) =>
  createIcebergOutputs({ trino, log, concurrency, table, extendedStatistics, maxStatementChars });
const rawStrategy = (
  name: string,
  statements: (m: RunOutputMeta, writeId: string) => Iterator<InsertStatement> | AsyncIterator<InsertStatement>,
  concurrency = 1,
  rows = ROWS,
): Strategy => ({
  name,
  rows,
  write: async (runId) => {
    const m = metaFor(runId);
    await writerFor(concurrency).run(statements(m, runId), m);
  },
});

async function median({ name, rows = ROWS, write }: Strategy): Promise<void> {
  const times: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const runId = crypto.randomUUID();
    const t0 = performance.now();
    await write(runId);
    times.push(performance.now() - t0);
    await trino.execute(`DELETE FROM ${TABLE} WHERE scenario_id = ${varcharLiteral(scenarioId)} AND run_id = ${varcharLiteral(runId)}`);
  }
  times.sort((a, b) => a - b);
  const ms = times[Math.floor(times.length / 2)] as number;
  console.log(
    `${name.padEnd(28)} ${rows.toLocaleString("en").padStart(9)} rows ${ms.toFixed(0).padStart(8)} ms ${Math.round((rows / ms) * 1000)
      .toLocaleString("en")
      .padStart(9)} rows/s   (runs: ${times.map((t) => t.toFixed(0)).join(", ")} ms)`,
  );
}

const strategies: Strategy[] = [
  rawStrategy("values, 1000 rows/stmt", (m, w) => valuesStatements(m, w, 1000), 1, VALUES_ROWS),
  rawStrategy("values, 4000 rows/stmt", (m, w) => valuesStatements(m, w, 4000), 1, VALUES_ROWS),
  rawStrategy("json-rows, 6000 rows/stmt", (m, w) => jsonRowStatements(m, w, 6000)),
  ...[1, 2, 3].map((c) => rawStrategy(`json-columns ×${c}`, (m, w) => writerFor(c).statements(m, w, batches), c)),
  // The store's default size, where the server's query.max-length allows it (statementLimit learns it).
  ...[4_000_000, MAX_STATEMENT_CHARS].map((chars) =>
    rawStrategy(`json-columns ×2, ${chars / 1e6} M chars`, (m, w) => writerFor(2, TABLE, false, chars).statements(m, w, batches), 2),
  ),
  {
    name: "json-columns ×2 +NDV stats",
    write: async (runId) => {
      const m = metaFor(runId);
      const withStats = writerFor(2, TABLE, true);
      await withStats.run(withStats.statements(m, runId, batches), m);
    },
  },
  {
    name: "staged ×2",
    write: async (runId) => {
      const m = metaFor(runId);
      const staging = writerFor(2, STAGING);
      await staging.run(staging.statements(m, runId, batches), m);
      await trino.execute(`INSERT INTO ${TABLE} (${OUTPUT_COLUMNS}) SELECT ${OUTPUT_COLUMNS} FROM ${STAGING} WHERE write_id = ${varcharLiteral(runId)}`);
      await trino.execute(`DELETE FROM ${STAGING} WHERE write_id = ${varcharLiteral(runId)}`);
    },
  },
];

console.log(`${ROWS.toLocaleString("en")} rows, median of ${REPEATS}, Trino ${env.AURUM_TRINO_URL ?? "http://127.0.0.1:8080"}`);
const catalogs = (await trino.execute("SHOW CATALOGS")).rows.map((r) => r[0]);
if (!catalogs.includes("postgresql")) console.log("postgres staging + INSERT ... SELECT: skipped, Trino has no postgresql catalog");
await trino.execute(`CREATE TABLE IF NOT EXISTS ${STAGING} (LIKE ${TABLE}) WITH (partitioning = ARRAY['write_id'])`);
try {
  for (const s of strategies) await median(s);
  const db = await createTestDb("postgres");
  try {
    const writer = createTrinoOutputWriter({ metadata: createMetadata(db.sql), trino, log });
    const [s] = await db.sql`insert into scenario (tenant_id, name) values ('bench', 'bench') returning id::text as id`;
    await median({
      name: "writeRun (json-columns ×2)",
      write: async (runId) => {
        await db.sql`insert into scenario_run (id, scenario_id, tenant_id, state, input_hash, run_key) values (${runId}, ${s!.id}, 'bench', 'RUNNING', ${runId}, 'k')`;
        await writeRun(writer, createMetadata(db.sql).transaction, metaFor(runId), batches);
      },
    });
  } finally {
    await db.drop();
  }
} finally {
  await trino.execute(`DROP TABLE IF EXISTS ${STAGING}`);
  await trino.execute(`DELETE FROM ${TABLE} WHERE scenario_id = ${varcharLiteral(scenarioId)}`);
}

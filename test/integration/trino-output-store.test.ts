// The Iceberg output store through a real Trino (and a fresh Postgres database for the run
// metadata): the shared write-side contract and the read contract for non-finite values, then what only a two-system write needs — leftovers
// of a crashed attempt, a failure in the middle of a write or in its clean-up, a SUCCEEDED run's
// rows left alone, two writers of one run taking turns. Needs `bash deploy/local/services.sh up`.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Tx } from "../../src/adapters/postgres";
import { createTrinoClient, type TrinoClient, TrinoError } from "../../src/adapters/trino";
import { varcharLiteral } from "../../src/adapters/trino-literals";
import { loadConfig } from "../../src/config";
import { createMetadata } from "../../src/metadata";
import { type OutputWriter, type RunOutputMeta, writeRun } from "../../src/outputs/store";
import { createTrinoOutputReader } from "../../src/outputs/trino-reader";
import { createIcebergOutputs, createTrinoOutputWriter, ICEBERG_OUTPUT_TABLE, statementLimit } from "../../src/outputs/trino-store";
import { createLogger } from "../../src/platform/logger";
import { apiApp, createTestDb, type TestDb } from "../support/app";
import { checked } from "../support/contract";
import { syntheticBatches } from "../support/output-batches";
import { contractBatch, describeOutputWriterContract, expectedRows, type StoredRow, sortRows } from "../support/output-contract";
import { describeNonFiniteReadContract, legacyAttributionText, type ReadContractHarness } from "../support/output-read-contract";
import { requireService, serviceEnv } from "../support/services";

const service = await requireService("trino");
const env = serviceEnv();
const log = createLogger("silent");
const T = ICEBERG_OUTPUT_TABLE;

function realTrino(): TrinoClient {
  return createTrinoClient({ url: env.AURUM_TRINO_URL ?? "http://127.0.0.1:8080", user: env.AURUM_TRINO_USER ?? "aurum", source: "aurum-tests" });
}

/** The INSERT and DELETE statements Trino ran that name `runId`, with their `collect_extended_statistics_on_write` session value (from /v1/query/{id}). */
async function querySessions(trino: TrinoClient, runId: string) {
  const { rows } = await trino.execute(
    `SELECT query_id, substr(query, 1, 6) FROM system.runtime.queries WHERE query LIKE ${varcharLiteral(`%${runId}%`)} AND (query LIKE 'INSERT%' OR query LIKE 'DELETE%')`,
  );
  return Promise.all(
    rows.map(async ([id, kind]) => {
      const info = (await (
        await fetch(`${env.AURUM_TRINO_URL ?? "http://127.0.0.1:8080"}/v1/query/${id}`, { headers: { "X-Trino-User": env.AURUM_TRINO_USER ?? "aurum" } })
      ).json()) as {
        session: { catalogProperties: Record<string, Record<string, string>> };
      };
      return { kind: kind as string, extendedStatistics: info.session.catalogProperties.iceberg?.collect_extended_statistics_on_write as string | undefined };
    }),
  );
}

/** A Postgres test database with one scenario, RUNNING runs on demand, and rows read back from Iceberg. */
async function openStore(options: { trino?: TrinoClient; maxStatementChars?: number } = {}) {
  const trino = realTrino();
  const db: TestDb = await createTestDb("postgres");
  const [s] = await db.sql`insert into scenario (tenant_id, name) values ('t-out', 'outputs') returning id::text as id`;
  const scenarioId = s!.id as string;
  const writer: OutputWriter = createTrinoOutputWriter({
    metadata: createMetadata(db.sql),
    trino: options.trino ?? trino,
    log,
    ...(options.maxStatementChars ? { maxStatementChars: options.maxStatementChars } : {}),
  });
  return {
    db,
    trino,
    scenarioId,
    writer,
    transaction: createMetadata(db.sql).transaction,
    newRun: async (): Promise<RunOutputMeta> => {
      const [r] = await db.sql`insert into scenario_run (scenario_id, tenant_id, state, input_hash, run_key)
        values (${scenarioId}, 't-out', 'RUNNING', ${crypto.randomUUID()}, 'k') returning id::text as id`;
      return { tenantId: "t-out", scenarioId, runId: r!.id, asofDate: "2026-01-02", versionHash: "vh\t1", computedTs: "2026-01-02T03:04:05.678Z" };
    },
    read: async (runId: string): Promise<StoredRow[]> => {
      const { rows } = await trino.execute(`
        SELECT curve_key, tenor_type, CAST(contract_month AS varchar), tenor_label, metric, value, band_lower, band_upper, attribution,
               tenant_id, version_hash, CAST(asof_date AS varchar), CAST(computed_ts AT TIME ZONE 'UTC' AS varchar)
        FROM ${T} WHERE scenario_id = ${varcharLiteral(scenarioId)} AND run_id = ${varcharLiteral(runId)}`);
      const num = (v: unknown) => (v === null ? null : Number(v)); // NaN and ±Infinity arrive as strings
      const stored = rows.map((r) => ({
        curve_key: r[0] as string,
        tenor_type: r[1] as string,
        contract_month: r[2] as string,
        tenor_label: r[3] as string,
        metric: r[4] as string,
        value: Number(r[5]),
        band_lower: num(r[6]),
        band_upper: num(r[7]),
        attribution: r[8] === null ? null : JSON.parse(r[8] as string),
        tenant_id: r[9] as string,
        version_hash: r[10] as string,
        asof_date: r[11] as string,
        computed_ts: (r[12] as string).slice(0, 23).replace(" ", "T"),
      }));
      return sortRows(stored);
    },
    writeIds: async (runId: string) =>
      (await trino.execute(`SELECT DISTINCT write_id FROM ${T} WHERE scenario_id = ${varcharLiteral(scenarioId)} AND run_id = ${varcharLiteral(runId)}`)).rows.map((r) => r[0]),
    close: async () => {
      await trino.execute(`DELETE FROM ${T} WHERE scenario_id = ${varcharLiteral(scenarioId)}`).catch(() => {});
      await db.drop();
    },
  };
}

/** The real client, except that statements matching `fail` throw (as a crash or a lost connection would). */
function failingTrino(real: TrinoClient, fail: (sql: string, n: number) => boolean): TrinoClient {
  let n = 0;
  return {
    query: (sql, opts) => real.query(sql, opts),
    execute: async (sql, opts) => {
      if (fail(sql, ++n)) throw new Error(`injected failure: ${sql.slice(0, 30)}`);
      return real.execute(sql, opts);
    },
  };
}

if (service.available) describeOutputWriterContract("trino / iceberg", openStore, 120_000);

/** A double as a Trino literal; NaN and ±Infinity through their functions. */
const doubleLiteral = (v: number | null) =>
  v === null ? "NULL" : Number.isNaN(v) ? "nan()" : v === Number.POSITIVE_INFINITY ? "infinity()" : v === Number.NEGATIVE_INFINITY ? "-infinity()" : `DOUBLE '${v}'`;

/**
 * The read contract on Iceberg: the API on the Trino reader, rows inserted with a Trino INSERT, the
 * attribution as the engine's old text (`{"load_growth:1":Infinity}`, what the writer stored before it quoted it).
 */
async function openReadStore(): Promise<ReadContractHarness> {
  const trino = realTrino();
  const db = await createTestDb("postgres");
  const tenantId = "t-read";
  const config = loadConfig({ AURUM_LOG_LEVEL: "silent", AURUM_API_AUTH_DISABLED: "1" });
  const app = checked(await apiApp(db, config, { log, outputs: createTrinoOutputReader({ runs: createMetadata(db.sql).runs, trino }) }));
  const scenarios: string[] = [];
  return {
    app,
    tenantId,
    seed: async (rows) => {
      const [s] = await db.sql`insert into scenario (tenant_id, name) values (${tenantId}, 'non-finite reads') returning id::text as id`;
      const [r] = await db.sql`insert into scenario_run (scenario_id, tenant_id, state, input_hash, run_key, finished_at)
        values (${s!.id}, ${tenantId}, 'SUCCEEDED', ${crypto.randomUUID()}, 'k', now()) returning id::text as id`;
      scenarios.push(s!.id);
      const values = rows.map(
        (row) => `(${varcharLiteral(tenantId)}, ${varcharLiteral(s!.id)}, ${varcharLiteral(r!.id)}, DATE '2026-01-02', ${varcharLiteral(row.curve_key)}, 'MONTHLY',
          DATE '2026-02-01', '2026-02', ${varcharLiteral(row.metric)}, ${doubleLiteral(row.value)}, ${doubleLiteral(row.band_lower)}, ${doubleLiteral(row.band_upper)},
          ${row.attribution === null ? "NULL" : varcharLiteral(legacyAttributionText(row.attribution))}, 'vh', TIMESTAMP '2026-01-02 10:00:00 UTC')`,
      );
      await trino.execute(`INSERT INTO ${T} (tenant_id, scenario_id, run_id, asof_date, curve_key, tenor_type, contract_month, tenor_label, metric, value,
        band_lower, band_upper, attribution, version_hash, computed_ts) VALUES ${values.join(", ")}`);
      return { scenarioId: s!.id as string, runId: r!.id as string };
    },
    close: async () => {
      for (const id of scenarios) await trino.execute(`DELETE FROM ${T} WHERE scenario_id = ${varcharLiteral(id)}`).catch(() => {});
      await db.drop();
    },
  };
}

if (service.available) describeNonFiniteReadContract("trino / iceberg", openReadStore, 120_000);

/** A client in front of the real one that refuses a statement over `limit()` characters with Trino's own error (its text as the real server words it, below). */
function limitedTrino(real: TrinoClient, limit: () => number) {
  const inserts: number[] = [];
  const client: TrinoClient = {
    query: (sql, opts) => real.query(sql, opts),
    execute: (sql, opts) => {
      const max = limit();
      if (sql.length > max)
        return Promise.reject(
          new TrinoError(
            `Trino query q failed: QUERY_TEXT_TOO_LARGE (35): Query text length (${sql.length}) exceeds the maximum length (${max})`,
            "QUERY_TEXT_TOO_LARGE",
            "USER_ERROR",
            35,
            "q",
          ),
        );
      if (sql.startsWith("INSERT")) inserts.push(sql.length);
      return real.execute(sql, opts);
    },
  };
  return { client, inserts };
}

describe.skipIf(!service.available)("iceberg output store", () => {
  let store: Awaited<ReturnType<typeof openStore>>;
  beforeAll(async () => {
    store = await openStore();
  });
  afterAll(async () => {
    await store?.close();
  });

  test("a write larger than one statement arrives whole, split across statements", async () => {
    const small = createTrinoOutputWriter({ metadata: createMetadata(store.db.sql), trino: store.trino, log, maxStatementChars: 40_000 });
    const meta = await store.newRun();
    const batches = [contractBatch(1500, "a:"), contractBatch(1500, "b:")];
    expect(await writeRun(small, store.transaction, meta, batches)).toBe(3000);
    expect(await store.read(meta.runId)).toEqual(expectedRows(meta, batches));
    // Its INSERTs skipped the extended statistics (a session property each); its DELETE, not an
    // INSERT, ran with the server's default: the check tells the two apart.
    const sessions = await querySessions(store.trino, meta.runId);
    const of = (kind: string) => sessions.filter((q) => q.kind === kind).map((q) => q.extendedStatistics ?? "default");
    expect(of("INSERT").length).toBeGreaterThan(1);
    expect(new Set(of("INSERT"))).toEqual(new Set(["false"]));
    expect(of("DELETE").length).toBeGreaterThan(0);
    expect(new Set(of("DELETE"))).toEqual(new Set(["default"]));
  }, 120_000);

  test("rows go in in export order: within a metric, a write's data files cover disjoint curve-key ranges", async () => {
    // Per data file and metric: the curve-key range it holds (the metric is a partition column).
    // Two files may share a boundary key (a statement can end inside a curve); overlap is more.
    const ranges = async (runId: string) =>
      (
        await store.trino.execute(
          `SELECT metric, min(curve_key), max(curve_key) FROM ${T} WHERE scenario_id = ${varcharLiteral(store.scenarioId)} AND run_id = ${varcharLiteral(runId)}
           GROUP BY "$path", metric ORDER BY metric, 2, 3`,
        )
      ).rows as [string, string, string][];
    const overlaps = (files: [string, string, string][]) =>
      files.filter(([metric, from], i) => i > 0 && files[i - 1]?.[0] === metric && (files[i - 1]?.[2] as string) > from).length;
    // 12,000 synthetic rows, engine order (curve by curve, every metric), 3 statements' worth or more.
    const rows = syntheticBatches(12_000, 4_000);
    const write = async (sortRows: number) => {
      const writer = createTrinoOutputWriter({ metadata: createMetadata(store.db.sql), trino: store.trino, log, maxStatementChars: 200_000, sortRows });
      const meta = await store.newRun();
      expect(await writeRun(writer, store.transaction, meta, rows)).toBe(12_000);
      return ranges(meta.runId);
    };
    const sorted = await write(100_000);
    expect(sorted.length).toBeGreaterThan(5); // several files per metric
    expect(overlaps(sorted)).toBe(0);
    // The negative case: windows of one batch (4,000 rows) are each sorted, but the files of
    // different windows overlap.
    expect(overlaps(await write(1_000))).toBeGreaterThan(0);
  }, 120_000);

  test("the leftovers of a crashed attempt are removed by the next attempt", async () => {
    const meta = await store.newRun();
    // A worker that died after its INSERT (step 2) left rows under its own write_id.
    const iceberg = createIcebergOutputs({ trino: store.trino, log });
    await iceberg.run(iceberg.statements(meta, "crashed-write", [contractBatch(80, "old:")]), meta);
    const batch = contractBatch(30);
    await writeRun(store.writer, store.transaction, meta, [batch]);
    expect(await store.read(meta.runId)).toEqual(expectedRows(meta, [batch]));
  }, 120_000);

  test("commit marks the run SUCCEEDED only together with its rows; a later write of a SUCCEEDED run is refused", async () => {
    const meta = await store.newRun();
    const batch = contractBatch(40);
    await writeRun(store.writer, store.transaction, meta, [batch], async (tx) => {
      await tx`update scenario_run set state = 'SUCCEEDED' where id = ${meta.runId}`;
    });
    const [run] = await store.db.sql`select state from scenario_run where id = ${meta.runId}`;
    expect(run!.state).toBe("SUCCEEDED");
    // A stale worker (its lease long gone) must not touch the final rows, even if it would fail its commit.
    await expect(writeRun(store.writer, store.transaction, meta, [contractBatch(5, "stale:")])).rejects.toThrow("already SUCCEEDED");
    expect(await store.read(meta.runId)).toEqual(expectedRows(meta, [batch]));
  }, 120_000);

  test("an INSERT that fails midway leaves nothing of its write; the earlier rows stay", async () => {
    const meta = await store.newRun();
    const first = contractBatch(20);
    await writeRun(store.writer, store.transaction, meta, [first]);
    let inserts = 0;
    const trino = failingTrino(store.trino, (sql) => sql.startsWith("INSERT") && ++inserts === 3);
    const writer = createTrinoOutputWriter({ metadata: createMetadata(store.db.sql), trino, log, maxStatementChars: 40_000 });
    await expect(writeRun(writer, store.transaction, meta, [contractBatch(3000, "x:")])).rejects.toThrow("injected failure");
    expect(inserts).toBeGreaterThanOrEqual(3);
    expect(await store.read(meta.runId)).toEqual(expectedRows(meta, [first]));
  }, 120_000);

  test("when removing the earlier rows fails, the SUCCEEDED mark rolls back and the new rows go", async () => {
    const meta = await store.newRun();
    const first = contractBatch(20);
    await writeRun(store.writer, store.transaction, meta, [first]);
    const trino = failingTrino(store.trino, (sql) => sql.startsWith("DELETE") && sql.includes("IS NULL OR NOT"));
    const writer = createTrinoOutputWriter({ metadata: createMetadata(store.db.sql), trino, log });
    const done = writeRun(writer, store.transaction, meta, [contractBatch(50, "new:")], async (tx) => {
      await tx`update scenario_run set state = 'SUCCEEDED' where id = ${meta.runId}`;
    });
    await expect(done).rejects.toThrow("injected failure");
    const [run] = await store.db.sql`select state from scenario_run where id = ${meta.runId}`;
    expect(run!.state).toBe("RUNNING");
    expect(await store.read(meta.runId)).toEqual(expectedRows(meta, [first]));
  }, 120_000);

  test("an INSERT that lost an Iceberg commit race is tried again, but only when none of its rows landed", async () => {
    const conflict = () => new TrinoError("Failed to update table due to concurrent updates", "ICEBERG_COMMIT_ERROR", "EXTERNAL", 84148236, "q");
    const meta = await store.newRun();
    const batch = contractBatch(3000);
    // Lost race: the first INSERT is refused before it runs; the retry writes it once.
    let inserts = 0;
    const racing: TrinoClient = {
      query: (sql, opts) => store.trino.query(sql, opts),
      execute: (sql, opts) => (sql.startsWith("INSERT") && ++inserts === 1 ? Promise.reject(conflict()) : store.trino.execute(sql, opts)),
    };
    const writer = createTrinoOutputWriter({ metadata: createMetadata(store.db.sql), trino: racing, log, maxStatementChars: 40_000 });
    expect(await writeRun(writer, store.transaction, meta, [batch])).toBe(3000);
    expect(await store.read(meta.runId)).toEqual(expectedRows(meta, [batch]));

    // Lost answer: the INSERT committed, then the error came; a retry would double its rows, so the write fails instead.
    let landedInserts = 0;
    const lossy: TrinoClient = {
      query: (sql, opts) => store.trino.query(sql, opts),
      execute: async (sql, opts) => {
        const result = await store.trino.execute(sql, opts);
        if (sql.startsWith("INSERT") && ++landedInserts === 2) throw conflict();
        return result;
      },
    };
    const failing = createTrinoOutputWriter({ metadata: createMetadata(store.db.sql), trino: lossy, log, maxStatementChars: 40_000 });
    await expect(writeRun(failing, store.transaction, meta, [contractBatch(3000, "again:")])).rejects.toThrow("concurrent updates");
    expect(await store.read(meta.runId)).toEqual(expectedRows(meta, [batch]));
  }, 120_000);

  test("two writers of one run take turns: the one whose checks pass ends the run with exactly its write's rows", async () => {
    const meta = await store.newRun();
    const a = contractBatch(200, "a:");
    const b = contractBatch(150, "b:");
    // Each writer's checks, as the worker's lease check: the run must still be RUNNING (the other has not won).
    const checks = async (tx: Tx) => {
      const [run] = await tx`select state from scenario_run where id = ${meta.runId} for update`;
      if (run?.state !== "RUNNING") throw new Error("the run is not ours any more");
      await tx`update scenario_run set state = 'SUCCEEDED' where id = ${meta.runId}`;
    };
    const results = await Promise.allSettled([writeRun(store.writer, store.transaction, meta, [a], checks), writeRun(store.writer, store.transaction, meta, [b], checks)]);
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    const won = results[0]?.status === "fulfilled" ? a : b;
    expect(await store.read(meta.runId)).toEqual(expectedRows(meta, [won]));
    expect(await store.writeIds(meta.runId)).toHaveLength(1);
  }, 120_000);

  describe("statements within the server's query.max-length", () => {
    test("the real server's limit is learnt from its refusal of a longer probe, and a probe at the limit is taken", async () => {
      // The local Trino's setting (deploy/local renders trino/etc/config.properties); Trino's default where it sets none.
      const configured = /^query\.max-length=(\d+)$/m.exec(readFileSync(join(import.meta.dir, "../../trino/etc/config.properties"), "utf8"))?.[1];
      const server = Number(configured ?? 1_000_000);
      expect(await statementLimit(realTrino(), server + 1, log)).toBe(server);
      expect(await statementLimit(realTrino(), server, log)).toBe(server);
      expect(await statementLimit(realTrino(), 50_000, log)).toBe(50_000);
    }, 120_000);

    test("a writer that wants more than the server takes keeps to the server's limit, and every row arrives", async () => {
      const limited = limitedTrino(store.trino, () => 100_000);
      // The stand-in refuses as the server does (the negative case: a statement over its limit fails).
      await expect(limited.client.execute(`SELECT 1 /*${"-".repeat(100_000)}*/`)).rejects.toThrow("QUERY_TEXT_TOO_LARGE");
      const writer = createTrinoOutputWriter({ metadata: createMetadata(store.db.sql), trino: limited.client, log }); // wants the default, 8,000,000
      const meta = await store.newRun();
      const batches = [contractBatch(3000, "a:"), contractBatch(3000, "b:")];
      expect(await writeRun(writer, store.transaction, meta, batches)).toBe(6000);
      expect(await store.read(meta.runId)).toEqual(expectedRows(meta, batches));
      expect(limited.inserts.length).toBeGreaterThan(1);
      expect(Math.max(...limited.inserts)).toBeLessThanOrEqual(100_000);
    }, 120_000);

    test("a limit lowered after it was learnt fails that write; the next attempt learns it again", async () => {
      let max = 400_000;
      const limited = limitedTrino(store.trino, () => max);
      const writer = createTrinoOutputWriter({ metadata: createMetadata(store.db.sql), trino: limited.client, log, maxStatementChars: 1_000_000 });
      const meta = await store.newRun();
      const batch = contractBatch(3000, "first:");
      expect(await writeRun(writer, store.transaction, meta, [batch])).toBe(3000);
      expect(limited.inserts).toHaveLength(1); // one statement of up to 400,000 characters held it
      max = 60_000; // the server restarted with a lower query.max-length
      const again = contractBatch(3000, "again:");
      await expect(writeRun(writer, store.transaction, meta, [again])).rejects.toThrow("QUERY_TEXT_TOO_LARGE");
      expect(await store.read(meta.runId)).toEqual(expectedRows(meta, [batch])); // the failed write left nothing
      limited.inserts.length = 0;
      expect(await writeRun(writer, store.transaction, meta, [again])).toBe(3000);
      expect(await store.read(meta.runId)).toEqual(expectedRows(meta, [again]));
      expect(limited.inserts.length).toBeGreaterThan(1);
      expect(Math.max(...limited.inserts)).toBeLessThanOrEqual(60_000);
    }, 120_000);
  });
});

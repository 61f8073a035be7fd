// `worker maintain` against the real Trino and Iceberg table (issue 21, item 4): many small commits
// leave many small files and manifests; maintenance compacts them (≥ 10× fewer files, few
// manifests), expires old snapshots and keeps every row; snapshots and orphan files have
// retentions of their own; it runs safely while the output writer writes runs; bad arguments are refused.
// Needs `bash deploy/local/services.sh up`.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createTrinoClient } from "../../src/adapters/trino";
import { varcharLiteral } from "../../src/adapters/trino-literals";
import { createMetadata } from "../../src/metadata";
import { DEFAULT_RETENTION, expiryMarginMs, type MaintainReport, maintainIceberg, retentionSession } from "../../src/outputs/iceberg-maintenance";
import { writeRun } from "../../src/outputs/store";
import { currentSnapshot } from "../../src/outputs/trino-export";
import { createTrinoOutputWriter, ICEBERG_OUTPUT_TABLE } from "../../src/outputs/trino-store";
import { createLogger } from "../../src/platform/logger";
import { createTestDb } from "../support/app";
import { contractBatch } from "../support/output-contract";
import { envWithoutAurum, requireService, serviceEnv } from "../support/services";

const service = await requireService("trino");
const env = serviceEnv();
const log = createLogger("silent");
const ROOT = join(import.meta.dir, "../..");
const T = ICEBERG_OUTPUT_TABLE;
const trino = createTrinoClient({ url: env.AURUM_TRINO_URL ?? "http://127.0.0.1:8080", user: env.AURUM_TRINO_USER ?? "aurum", source: "aurum-tests" });
const COMMITS = 20;

/** `bun src/main.ts worker maintain ARGS` with the machine's Trino settings; its exit code, stdout and stderr. */
async function maintainProcess(args: string[]) {
  const proc = Bun.spawn([process.execPath, "src/main.ts", "worker", "maintain", ...args], {
    cwd: ROOT,
    env: { ...envWithoutAurum(), AURUM_TRINO_URL: env.AURUM_TRINO_URL ?? "http://127.0.0.1:8080", AURUM_TRINO_USER: env.AURUM_TRINO_USER ?? "aurum", AURUM_LOG_LEVEL: "warn" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

/** One row under a run id of its own into the scenario's `mid` partition: one commit, one small file, one snapshot. */
const commitOneRow = (scenarioId: string, value: number) =>
  trino.execute(
    `INSERT INTO ${T} (tenant_id, scenario_id, run_id, asof_date, curve_key, tenor_type, contract_month, tenor_label, metric, value, write_id)
     VALUES ('t-maintain', ${varcharLiteral(scenarioId)}, ${varcharLiteral(crypto.randomUUID())}, DATE '2026-01-02', 'K', 'MONTHLY', DATE '2027-01-01', '2027-01', 'mid', ${value}, 'w')`,
  );
const scalar = async (sql: string) => (await trino.execute(sql)).rows[0] as unknown[];
/** Data files of the scenario's partitions in the current snapshot. */
const filesOf = async (scenarioId: string) =>
  Number((await scalar(`SELECT count(*) FROM iceberg.market."scenario_output$files" WHERE partition.scenario_id = ${varcharLiteral(scenarioId)}`))[0]);
const rowsOf = async (scenarioId: string) => {
  const [n, sum] = await scalar(`SELECT count(*), sum(value) FROM ${T} WHERE scenario_id = ${varcharLiteral(scenarioId)}`);
  return { n: Number(n), sum: Number(sum) };
};

describe.skipIf(!service.available)("worker maintain on the Iceberg output table", () => {
  const scenarios: string[] = [];
  afterAll(async () => {
    for (const id of scenarios) await trino.execute(`DELETE FROM ${T} WHERE scenario_id = ${varcharLiteral(id)}`);
  });

  test(`${COMMITS} one-row commits into one partition: compacted to ≥ 10× fewer files, old snapshots expired, every row kept`, async () => {
    const scenarioId = crypto.randomUUID();
    scenarios.push(scenarioId);
    for (let i = 0; i < COMMITS; i++) await commitOneRow(scenarioId, i + 0.5);
    const before = { files: await filesOf(scenarioId), rows: await rowsOf(scenarioId) };
    expect(before.files).toBe(COMMITS);
    expect(before.rows).toEqual({ n: COMMITS, sum: (COMMITS * COMMITS) / 2 });

    // No writer runs beside this file (Trino files run one at a time), so a retention of 0s is safe here.
    const out = await maintainProcess(["--retention", "0s"]);
    expect({ code: out.code, stderr: out.stderr }).toEqual({ code: 0, stderr: "" });
    const report = JSON.parse(out.stdout) as MaintainReport;
    console.log(`maintain: ${out.stdout.trim()}`);
    expect(report.table).toBe(T);
    expect(report.files.before).toBeGreaterThanOrEqual(COMMITS);
    expect(report.files.after).toBeLessThan(report.files.before);
    expect(report.snapshots.before).toBeGreaterThan(COMMITS);
    // Retention 0s: only the current snapshot is left.
    expect(report.snapshots.after).toBe(1);
    // One manifest per commit before; optimize_manifests merges the commits' manifests into one. The
    // table's other manifests (other files' delete manifests) stay: seen 22 → 3, 25 → 6, 26 → 7.
    expect(report.manifests.before).toBeGreaterThanOrEqual(COMMITS);
    expect(report.manifests.after).toBeLessThanOrEqual(report.manifests.before - (COMMITS - 1));
    expect(Object.keys(report.ms)).toEqual(["optimize", "optimize_manifests", "expire_snapshots", "remove_orphan_files"]);

    const after = { files: await filesOf(scenarioId), rows: await rowsOf(scenarioId) };
    expect(after.files * 10).toBeLessThanOrEqual(before.files);
    expect(after.rows).toEqual(before.rows);
  }, 300_000);

  test("safe while the output writer writes: runs written through the store all the while maintenance runs; every run's rows exact", async () => {
    const db = await createTestDb("postgres");
    try {
      const [s] = await db.sql`insert into scenario (tenant_id, name) values ('t-maintain', 'beside maintenance') returning id::text as id`;
      const scenarioId = s?.id as string;
      scenarios.push(scenarioId);
      const writer = createTrinoOutputWriter({ metadata: createMetadata(db.sql), trino, log });
      const runs: string[] = [];
      let maintaining = true;
      // Runs are written one after another for as long as maintenance lasts (at least four).
      const writes = (async () => {
        for (let i = 0; i < 20 && (i < 4 || maintaining); i++) {
          const [r] = await db.sql`insert into scenario_run (scenario_id, tenant_id, state, input_hash, run_key)
            values (${scenarioId}, 't-maintain', 'RUNNING', ${crypto.randomUUID()}, 'k') returning id::text as id`;
          const runId = r?.id as string;
          runs.push(runId);
          const meta = { tenantId: "t-maintain", scenarioId, runId, asofDate: "2026-01-02", versionHash: "vh", computedTs: "2026-01-02T03:04:05.678Z" };
          await writeRun(writer, createMetadata(db.sql).transaction, meta, [contractBatch(50 + i, `r${i}:`)]);
        }
      })();
      // The defaults, meant for writers in flight: snapshots 1 day, orphan files 7.
      const retention = DEFAULT_RETENTION;
      const maintained = maintainIceberg({
        trino: createTrinoClient({ url: env.AURUM_TRINO_URL ?? "http://127.0.0.1:8080", user: "aurum", source: "aurum-tests", session: retentionSession("iceberg", retention) }),
        log,
        table: T,
        ...retention,
        fileSizeThreshold: "128MB",
        backoffMs: 100,
      });
      const [report] = await Promise.all([maintained.finally(() => (maintaining = false)), writes]);
      expect(report.files.after).toBeGreaterThan(0);
      for (const [i, runId] of runs.entries()) {
        const [n] = await scalar(`SELECT count(*) FROM ${T} WHERE run_id = ${varcharLiteral(runId)}`);
        expect(Number(n)).toBe(50 + i);
      }
    } finally {
      await db.drop();
    }
  }, 300_000);

  test("snapshots and orphan files have retentions of their own: a 2-day-old orphan outlives --snapshot-retention 0s (orphans kept 7 days), and goes with --orphan-retention 1d", async () => {
    const scenarioId = crypto.randomUUID();
    scenarios.push(scenarioId);
    for (let i = 0; i < 3; i++) await commitOneRow(scenarioId, i);
    // A file in the table's data folder that no snapshot refers to (what a crashed writer leaves), two days old.
    const [dataFile] = await scalar(`SELECT file_path FROM iceberg.market."scenario_output$files" WHERE partition.scenario_id = ${varcharLiteral(scenarioId)} LIMIT 1`);
    const warehouse = /^local\.location=(.+)$/m.exec(readFileSync(join(ROOT, ".services/trino/etc/catalog/iceberg.properties"), "utf8"))?.[1] as string;
    const folder = join(
      warehouse,
      String(dataFile)
        .replace(/^local:\/\/\//, "")
        .replace(/\/[^/]+$/, ""),
    );
    mkdirSync(folder, { recursive: true });
    const orphan = join(folder, `orphan-${crypto.randomUUID()}.parquet`);
    writeFileSync(orphan, "not a data file");
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    utimesSync(orphan, twoDaysAgo, twoDaysAgo);

    const snapshotsOnly = await maintainProcess(["--snapshot-retention", "0s"]);
    expect({ code: snapshotsOnly.code, stderr: snapshotsOnly.stderr }).toEqual({ code: 0, stderr: "" });
    expect(JSON.parse(snapshotsOnly.stdout).snapshots.after).toBe(1);
    expect(await Bun.file(orphan).exists()).toBe(true);

    const orphans = await maintainProcess(["--orphan-retention", "1d"]);
    expect({ code: orphans.code, stderr: orphans.stderr }).toEqual({ code: 0, stderr: "" });
    expect(await Bun.file(orphan).exists()).toBe(false);
    expect(await rowsOf(scenarioId)).toEqual({ n: 3, sum: 3 });
  }, 300_000);

  test("a snapshot that was current until maintain began is kept, however old: an export pinned to it still reads its files after optimize and expire; snapshots superseded longer ago go", async () => {
    const scenarioId = crypto.randomUUID();
    scenarios.push(scenarioId);
    const current = async () => {
      const id = await currentSnapshot(trino, T);
      if (id === undefined) throw new Error("the table has no current snapshot after a commit");
      return id;
    };
    await commitOneRow(scenarioId, 1);
    await commitOneRow(scenarioId, 2);
    const superseded = await current();
    // Farther back than the margin kept before the pinned snapshot under the 2 s retention below, so this one is superseded long enough.
    await Bun.sleep(expiryMarginMs(2_000) + 3_000);
    await commitOneRow(scenarioId, 3);
    // What an export starting now pins (the export's own currentSnapshot). It grows older than the retention
    // below, the way a table's last run may be days old when the nightly maintenance runs.
    const pinned = await current();
    await Bun.sleep(3_000);
    const retention = { snapshotRetention: "2s", orphanRetention: DEFAULT_RETENTION.orphanRetention };
    const report = await maintainIceberg({
      trino: createTrinoClient({ url: env.AURUM_TRINO_URL ?? "http://127.0.0.1:8080", user: "aurum", source: "aurum-tests", session: retentionSession("iceberg", retention) }),
      log,
      table: T,
      ...retention,
      fileSizeThreshold: "128MB",
    });
    expect(report.files.after).toBeLessThan(report.files.before); // optimize replaced the pinned snapshot's small files
    const kept = new Set((await trino.execute(`SELECT CAST(snapshot_id AS varchar) FROM iceberg.market."scenario_output$snapshots"`)).rows.map((r) => String(r[0])));
    expect({ pinned: kept.has(pinned), superseded: kept.has(superseded) }).toEqual({ pinned: true, superseded: false });
    // The export's reads of its snapshot: the files only it uses are still there.
    const [n, sum] = await scalar(`SELECT count(*), sum(value) FROM ${T} FOR VERSION AS OF ${pinned} WHERE scenario_id = ${varcharLiteral(scenarioId)}`);
    expect({ n: Number(n), sum: Number(sum) }).toEqual({ n: 3, sum: 6 });
    expect(await rowsOf(scenarioId)).toEqual({ n: 3, sum: 6 });
  }, 120_000);

  test("bad arguments: exit 2 with the reason and the usage, nothing run (negative cases)", async () => {
    for (const [args, reason] of [
      [["--retention", "a week"], "--retention a week is not a duration such as 7d, 12h or 30m"],
      [["--snapshot-retention", "1 day"], "--snapshot-retention 1 day is not a duration such as 7d, 12h or 30m"],
      [["--orphan-retention", "7"], "--orphan-retention 7 is not a duration such as 7d, 12h or 30m"],
      [["--file-size-threshold", "big"], "--file-size-threshold big is not a size such as 128MB"],
      [["--compact"], "Unknown option '--compact'"],
    ] as const) {
      const out = await maintainProcess([...args]);
      expect(out.code).toBe(2);
      expect(out.stderr).toContain(reason);
      expect(out.stderr).toContain("worker maintain [--snapshot-retention 1d] [--orphan-retention 7d]");
      expect(out.stdout).toBe("");
    }
  }, 60_000);
});

// The service with AURUM_OUTPUT_STORE=trino, as a real process on a real Postgres and Trino: a run's
// outputs land in Iceberg (none in Postgres) and the API reads them from there; deleting the scenario
// removes them from Iceberg; `worker backfill` copies Postgres outputs into Iceberg, once; the CLI's
// export from Iceberg (read in key-range chunks), stopped mid-download and resumed, is byte-identical
// to an uninterrupted one and to the Postgres export of the same rows.
// Needs `bash deploy/local/services.sh up`.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTrinoClient } from "../../src/adapters/trino";
import { varcharLiteral } from "../../src/adapters/trino-literals";
import { createMetadata } from "../../src/metadata";
import { backfill } from "../../src/outputs/backfill";
import { createPgOutputReader } from "../../src/outputs/pg-reader";
import { ICEBERG_OUTPUT_TABLE } from "../../src/outputs/trino-store";
import { createLogger } from "../../src/platform/logger";
import { createTestDb, type TestDb } from "../support/app";
import { checkedFetch } from "../support/contract";
import { trickleProxy } from "../support/downloads";
import { eventually } from "../support/eventually";
import { type ApiProcess, exportText, seedRun, startApiProcess } from "../support/outputs";
import { envWithoutAurum, requireService, serviceEnv } from "../support/services";

/** Every response of the real process is checked against the OpenAPI document (test/support/contract.ts). */
const fetch = checkedFetch;

const service = await requireService("trino");
const env = serviceEnv();
const TRINO_URL = env.AURUM_TRINO_URL ?? "http://127.0.0.1:8080";
const TENANT = "t-trino-proc";
const headers = { "x-aurum-tenant": TENANT, "content-type": "application/json" };
const trino = createTrinoClient({ url: TRINO_URL, user: "aurum", source: "aurum-tests" });
const icebergCount = async (where: string) => Number((await trino.execute(`SELECT count(*) FROM ${ICEBERG_OUTPUT_TABLE} WHERE ${where}`)).rows[0]?.[0]);

describe.skipIf(!service.available)("AURUM_OUTPUT_STORE=trino in a real process", () => {
  let db: TestDb;
  let api: ApiProcess;
  const scenarios: string[] = [];

  beforeAll(async () => {
    db = await createTestDb("postgres");
    api = await startApiProcess(
      db.url as string,
      // Export chunks of ~2,000 rows: the resume test's 20,000 rows read in about ten.
      {
        AURUM_OUTPUT_STORE: "trino",
        AURUM_TRINO_URL: TRINO_URL,
        AURUM_LOAD_SAMPLE_CURVES: "always",
        AURUM_API_RATE_LIMIT_ENABLED: "0",
        AURUM_TRINO_EXPORT_CHUNK_ROWS: "2000",
      },
      "start",
    );
  }, 180_000);
  afterAll(async () => {
    await api?.stop();
    if (scenarios.length) await trino.execute(`DELETE FROM ${ICEBERG_OUTPUT_TABLE} WHERE scenario_id IN (${scenarios.map(varcharLiteral).join(", ")})`).catch(() => {});
    await db?.drop();
  }, 120_000);

  const http = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${api.base}${path}`, { method, headers, ...(body ? { body: JSON.stringify(body) } : {}) });
    return { status: res.status, text: await res.text() };
  };

  test("a run writes its outputs to Iceberg only; the API reads them from there; deleting the scenario purges them", async () => {
    const created = JSON.parse((await http("POST", "/v1/scenarios", { name: "iceberg run" })).text).data;
    scenarios.push(created.id);
    const run = JSON.parse((await http("POST", `/v1/scenarios/${created.id}/run`, { seed: 7 })).text).data;
    const state = await eventually(
      async () => {
        const r = JSON.parse((await http("GET", `/v1/scenarios/${created.id}/runs/${run.id}`)).text).data as { state: string; attempts: number; progress: number; error: unknown };
        if (["SUCCEEDED", "FAILED", "CANCELLED"].includes(r.state)) return r.state;
        // Not done yet: a timeout reports how far it got (it once ran past 120 s in a full run; alone it takes about 3 s).
        throw new Error(`run ${r.state}, attempt ${r.attempts}, progress ${r.progress}, error ${JSON.stringify(r.error)}`);
      },
      { what: "the run to finish", timeoutMs: 120_000, intervalMs: 500 },
    ).catch(async (err) => {
      // A run left QUEUED (twice in a full run: attempt 0 after 120 s). The service's log without its
      // request lines (a dispatcher stuck in a call logs dispatcher_stalled; one whose claims
      // cannot lock the run, dispatcher_claim_refused), and what a claim's
      // lookup finds now, from here: the run, or nothing (then the lookup itself missed it).
      const log = api
        .output()
        .split("\n")
        .filter((l) => !l.includes('"event":"http_request"'));
      console.log(`the service's log, request lines left out, last lines:\n${log.slice(-40).join("\n")}`);
      const [row] = await db.sql`select state, attempts, next_attempt_at, cancel_requested, clock_timestamp() as now from scenario_run where id = ${run.id}`;
      console.log(`the run: ${JSON.stringify(row)}; nextQueued from here: ${await createMetadata(db.sql).runs.nextQueued()}`);
      throw err;
    });
    expect(state).toBe("SUCCEEDED");

    const inIceberg = await icebergCount(`run_id = ${varcharLiteral(run.id)}`);
    expect(inIceberg).toBeGreaterThan(0);
    const [{ n: inPostgres }] = await db.sql`select count(*)::int as n from scenario_output where run_id = ${run.id}`;
    expect(inPostgres).toBe(0);

    const csv = await http("GET", `/v1/scenarios/${created.id}/outputs?format=csv`);
    expect(csv.status).toBe(200);
    const lines = csv.text.trimEnd().split("\n");
    expect(lines.length - 1).toBe(inIceberg);
    expect(lines[1]).toStartWith(`${created.id},${run.id},`);
    const latest = await http("GET", `/v1/scenarios/${created.id}/metrics/latest?metric=NPV`);
    expect(latest.status).toBe(200);
    expect(JSON.parse(latest.text).data.length).toBeGreaterThan(0);

    expect((await http("DELETE", `/v1/scenarios/${created.id}`)).status).toBe(204);
    expect(await icebergCount(`scenario_id = ${varcharLiteral(created.id)}`)).toBe(0);
  }, 180_000);

  test("`worker backfill` copies a scenario's Postgres outputs into Iceberg once, with progress; bad arguments exit 2", async () => {
    const [{ id }] = await db.sql<{ id: string }[]>`insert into scenario (tenant_id, name) values (${TENANT}, 'backfill verb') returning id::text as id`;
    scenarios.push(id);
    for (const asof of ["2026-01-02", "2026-02-02"]) await seedRun(db.sql, { tenantId: TENANT, scenarioId: id, rows: 1_500, asof });
    await db.sql`update scenario_output o set computed_ts = r.created_at from scenario_run r where r.id = o.run_id`;
    const backfill = async (...args: string[]) => {
      const proc = Bun.spawn([process.execPath, "src/main.ts", "worker", "backfill", ...args], {
        cwd: `${import.meta.dir}/../..`,
        env: { ...process.env, AURUM_APP_DB_DSN: db.url as string, AURUM_TRINO_URL: TRINO_URL, AURUM_LOG_LEVEL: "warn" },
        stdout: "pipe",
        stderr: "pipe",
      });
      const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
      return { code, stderr };
    };

    const first = await backfill("--scenario", id);
    expect(first.code).toBe(0);
    expect(first.stderr).toContain("backfill: 2 runs, 3000 rows");
    expect(await icebergCount(`scenario_id = ${varcharLiteral(id)}`)).toBe(3_000);

    const again = await backfill("--scenario", id);
    expect([again.code, again.stderr.includes("backfill: 0 runs, 0 rows")]).toEqual([0, true]);
    expect(await icebergCount(`scenario_id = ${varcharLiteral(id)}`)).toBe(3_000);

    for (const args of [["--scenario", "nope"], ["--from", "2026-13"], ["--bogus"]]) {
      const bad = await backfill(...args);
      expect([args, bad.code]).toEqual([args, 2]);
      expect(bad.stderr).toContain("usage:");
    }
  }, 180_000);

  test("a CLI export from Iceberg stopped by SIGKILL mid-download resumes into a file byte-identical to an uninterrupted one and to Postgres'", async () => {
    const [{ id }] = await db.sql<{ id: string }[]>`insert into scenario (tenant_id, name) values (${TENANT}, 'cli resume') returning id::text as id`;
    scenarios.push(id);
    const runId = await seedRun(db.sql, { tenantId: TENANT, scenarioId: id, rows: 20_000, asof: "2026-03-02", curvePattern: 'N"%s,é' });
    // One computed_ts per run, as the worker writes them (the backfill copies a run per distinct timestamp).
    await db.sql`update scenario_output o set computed_ts = r.finished_at from scenario_run r where r.id = o.run_id and r.id = ${runId}`;
    await backfill({ metadata: createMetadata(db.sql), trino, log: createLogger("silent"), scenarioId: id });
    const request = { format: "csv" as const, escapeFormulas: false, signal: new AbortController().signal };
    const expected = await exportText(createPgOutputReader(db.sql).export({ tenantId: TENANT, scenarioId: id, runId }, request));

    const work = mkdtempSync(join(tmpdir(), "aurum-trino-resume-"));
    const cli = (file: string, url: string, ...extra: string[]) =>
      Bun.spawn(["bun", join(import.meta.dir, "../../src/cli/main.ts"), "outputs", id, "--format", "csv", "-o", file, ...extra], {
        cwd: work,
        env: { ...envWithoutAurum(), AURUM_URL: url, AURUM_TENANT: TENANT },
        stdout: "pipe",
        stderr: "pipe",
      });
    const proxy = trickleProxy(api.base, 256 * 1024);
    try {
      expect(await cli("whole.csv", api.base).exited).toBe(0);
      expect(readFileSync(join(work, "whole.csv"), "utf8")).toBe(expected);

      const sidecar = join(work, "part.csv.aurum-resume");
      const state = (): { rows: number } | undefined => (existsSync(sidecar) ? JSON.parse(readFileSync(sidecar, "utf8")) : undefined);
      const stopped = cli("part.csv", `http://127.0.0.1:${proxy.port}`);
      await eventually(() => (state()?.rows ?? 0) > 0, { what: "a checkpoint with rows", intervalMs: 20 });
      stopped.kill("SIGKILL");
      await stopped.exited;
      const rows = state()?.rows ?? 0;
      expect(rows).toBeGreaterThan(0);
      expect(rows).toBeLessThan(20_000);
      appendFileSync(join(work, "part.csv"), `${id},torn`); // a torn last line, as a crash mid-write leaves it

      const resumed = cli("part.csv", api.base, "--resume", "--json");
      expect(await resumed.exited).toBe(0);
      expect(JSON.parse(await new Response(resumed.stdout).text())).toMatchObject({ resumed_after_row: rows });
      expect(readFileSync(join(work, "part.csv"), "utf8")).toBe(expected);
    } finally {
      proxy.stop(true);
      rmSync(work, { recursive: true, force: true });
    }
  }, 180_000);
});

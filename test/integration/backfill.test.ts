// Backfill from the Postgres output store into Iceberg, against a real Trino: 500,000 source rows
// (20 runs of 25,000, made with generate_series), a first pass limited to one as-of date, a second
// pass killed halfway through a run (its clean-up failing too, as after a crash), then a restart
// that ends with exactly the source rows: same count and same row checksum on both sides, per run.
// Needs `bash deploy/local/services.sh up`. What is checked needs several runs and several
// statements per run, not size: 1,000,000 rows, as until stop 46, made it the suite's second
// longest file (109 s on a quiet 2-core machine, 157-199 s on a loaded one); its rate is the bench's.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTrinoClient, type TrinoClient } from "../../src/adapters/trino";
import { varcharLiteral } from "../../src/adapters/trino-literals";
import { createMetadata } from "../../src/metadata";
import { type BackfillProgress, backfill, terminalProgress } from "../../src/outputs/backfill";
import { ICEBERG_OUTPUT_TABLE } from "../../src/outputs/trino-store";
import { createLogger } from "../../src/platform/logger";
import { createTestDb, type TestDb } from "../support/app";
import { requireService, serviceEnv } from "../support/services";

const service = await requireService("trino");
const env = serviceEnv();
const log = createLogger("silent");
const RUNS = 20;
const ROWS_PER_RUN = 25_000;

/**
 * One 40-bit hash per row, summed: equal sums mean equal multisets of rows (to a 2^-40 chance).
 * The row is its text columns joined by '|' plus the IEEE-754 bits of its doubles, the same bytes
 * on both sides.
 */
const PG_CHECKSUM = `
  select run_id::text as run_id, count(*)::int as n,
         sum(('x' || left(md5(convert_to(concat_ws('|', run_id::text, tenant_id, scenario_id::text, asof_date::text, curve_key, tenor_type, contract_month::text,
                tenor_label, metric, coalesce(attribution::text, '~'), version_hash, to_char(computed_ts at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')), 'UTF8')
             || coalesce(float8send(value), '\\x00') || coalesce(float8send(band_lower), '\\x00') || coalesce(float8send(band_upper), '\\x00')), 10))::bit(40)::bigint)::text as h
  from scenario_output group by run_id order by run_id`;
const trinoChecksum = (scenarioIds: string[]) => `
  SELECT run_id, count(*) AS n,
         CAST(sum(from_base(substr(lower(to_hex(md5(to_utf8(concat_ws('|', run_id, tenant_id, scenario_id, CAST(asof_date AS varchar), curve_key, tenor_type,
                CAST(contract_month AS varchar), tenor_label, metric, coalesce(attribution, '~'), version_hash, substr(CAST(computed_ts AT TIME ZONE 'UTC' AS varchar), 1, 26)))
             || coalesce(to_ieee754_64(value), X'00') || coalesce(to_ieee754_64(band_lower), X'00') || coalesce(to_ieee754_64(band_upper), X'00')))), 1, 10), 16)) AS varchar) AS h
  FROM ${ICEBERG_OUTPUT_TABLE} WHERE scenario_id IN (${scenarioIds.map(varcharLiteral).join(", ")}) GROUP BY run_id ORDER BY run_id`;

/** 20 runs over 2 scenarios and 4 as-of dates; awkward text, NULL bands, NaN, jsonb attribution, microsecond timestamps. */
async function seed(db: TestDb): Promise<string[]> {
  const scenarios = await db.sql<{ id: string }[]>`
    insert into scenario (tenant_id, name) select 't-backfill', 'backfill ' || n from generate_series(1, 2) n returning id::text as id`;
  const ids = scenarios.map((s) => s.id);
  await db.sql`
    insert into scenario_run (scenario_id, tenant_id, state, input_hash, run_key)
    select (${ids}::text[])[1 + n % 2]::uuid, 't-backfill', 'SUCCEEDED', md5(n::text), 'k' || n from generate_series(1, ${RUNS}) n`;
  await db.sql`
    insert into scenario_output (tenant_id, scenario_id, run_id, asof_date, curve_key, tenor_type, contract_month, tenor_label, metric,
                                 value, band_lower, band_upper, attribution, version_hash, computed_ts)
    select 't-backfill', r.scenario_id, r.id, date '2026-01-01' + (r.n % 4)::int,
           'PJM_NODE' || (i / 1800) || case when i % 1800 = 7 then E'\\'q|\\t' else '' end, 'MONTHLY',
           (date '2027-01-01' + make_interval(months => (i / 5) % 360))::date, to_char(date '2027-01-01' + make_interval(months => (i / 5) % 360), 'YYYY-MM'),
           (array['mid', 'baseline', 'uplift', 'policy_uplift', 'NPV'])[1 + i % 5],
           case when i % 9973 = 0 then 'NaN'::float8 else sin(i) * 100 + i / 7.0 end,
           case when i % 7 = 0 then null else sin(i) * 90 end, cos(i) * 110,
           case when i % 5 = 2 then jsonb_build_object('policy:0', i / 3.0, 'load_growth:1', -i / 7.0) end,
           'vh-' || r.n, timestamptz '2026-01-02 03:04:05.123456+00' + r.n * interval '1 second'
    from (select id, scenario_id, row_number() over (order by id) as n from scenario_run) r
    cross join generate_series(0, ${ROWS_PER_RUN - 1}) i`;
  return ids;
}

/** The real client, except that DELETEs fail once `crashed` is set (a killed process cleans nothing up). */
function crashable(real: TrinoClient) {
  const state = { crashed: false };
  const client: TrinoClient = {
    query: (sql, opts) => real.query(sql, opts),
    execute: (sql, opts) => (state.crashed && sql.startsWith("DELETE") ? Promise.reject(new Error("process killed")) : real.execute(sql, opts)),
  };
  return { client, state };
}

describe.skipIf(!service.available)("backfill Postgres → Iceberg (500,000 rows)", () => {
  let db: TestDb;
  let trino: TrinoClient;
  let scenarioIds: string[];
  const ledger = async () => (await db.sql<{ n: number; rows: number }[]>`select count(*)::int as n, coalesce(sum(rows), 0)::int as rows from output_backfill`)[0]!;
  const icebergRows = async () =>
    Number((await trino.execute(`SELECT count(*) FROM ${ICEBERG_OUTPUT_TABLE} WHERE scenario_id IN (${scenarioIds.map(varcharLiteral).join(", ")})`)).rows[0]?.[0]);

  beforeAll(async () => {
    trino = createTrinoClient({ url: env.AURUM_TRINO_URL ?? "http://127.0.0.1:8080", user: env.AURUM_TRINO_USER ?? "aurum", source: "aurum-tests" });
    db = await createTestDb("postgres");
    scenarioIds = await seed(db);
  }, 120_000);
  afterAll(async () => {
    if (scenarioIds) await trino.execute(`DELETE FROM ${ICEBERG_OUTPUT_TABLE} WHERE scenario_id IN (${scenarioIds.map(varcharLiteral).join(", ")})`).catch(() => {});
    await db?.drop();
  }, 120_000);

  test("a range first, then a run killed halfway, then a restart: exactly the source rows, by count and checksum", async () => {
    const [{ n: source }] = await db.sql`select count(*)::int as n from scenario_output`;
    expect(source).toBe(RUNS * ROWS_PER_RUN);

    // 1. One as-of date only (5 of the 20 runs).
    const ranged = await backfill({ metadata: createMetadata(db.sql), trino, log, from: "2026-01-02", to: "2026-01-02" });
    expect(ranged.runsDone).toBe(5);
    expect(await ledger()).toEqual({ n: 5, rows: 5 * ROWS_PER_RUN });

    // 2. Killed after half of all rows, in the middle of a run, and its clean-up DELETE fails too.
    const { client, state } = crashable(trino);
    const controller = new AbortController();
    let killedIn: string | undefined;
    const seen: BackfillProgress[] = [];
    const killed = backfill({
      metadata: createMetadata(db.sql),
      trino: client,
      log,
      // Several statements per run (about six), so that it can be killed inside one (the default,
      // 8,000,000 characters, takes a whole run in one statement).
      maxStatementChars: 1_000_000,
      signal: controller.signal,
      onProgress: (p) => {
        seen.push(p);
        if (!killedIn && p.runId && p.rowsDone >= (RUNS * ROWS_PER_RUN) / 2 - 5 * ROWS_PER_RUN && p.rowsDone % ROWS_PER_RUN !== 0) {
          killedIn = p.runId;
          state.crashed = true;
          controller.abort(new Error("killed"));
        }
      },
    });
    await expect(killed).rejects.toThrow("killed");
    expect(killedIn).toBeDefined();
    expect(seen[0]).toMatchObject({ runsTotal: 15, rowsTotal: 15 * ROWS_PER_RUN, runsDone: 0, rowsDone: 0 });
    const half = await ledger();
    expect(half.n).toBeGreaterThan(5);
    expect(half.n).toBeLessThan(RUNS);
    // the interrupted run left rows behind in Iceberg, and is not in the ledger
    expect(await icebergRows()).toBeGreaterThan(half.rows);
    expect((await db.sql`select 1 from output_backfill where run_id = ${killedIn!}`).length).toBe(0);

    // 3. Restarted: copies what the ledger lacks, replacing the leftovers.
    const lines: string[] = [];
    const resumed = await backfill({ metadata: createMetadata(db.sql), trino, log, onProgress: terminalProgress((s) => lines.push(s)) });
    expect(resumed.runsDone).toBe(RUNS - half.n);
    expect(resumed.rowsDone).toBe(source - half.rows);
    expect(lines.at(-1)).toContain(`${RUNS - half.n}/${RUNS - half.n} runs`);
    expect(await ledger()).toEqual({ n: RUNS, rows: source });

    const pg = await db.sql.unsafe<{ run_id: string; n: number; h: string }[]>(PG_CHECKSUM);
    const ice = (await trino.execute(trinoChecksum(scenarioIds))).rows.map((r) => ({ run_id: r[0], n: Number(r[1]), h: r[2] }));
    expect(ice).toEqual(pg.map((r) => ({ ...r })));
    expect(await icebergRows()).toBe(source);

    // 4. Once more: nothing left to do. With redo, one scenario's runs of one day are copied again, still exactly once.
    expect((await backfill({ metadata: createMetadata(db.sql), trino, log })).runsDone).toBe(0);
    const [pick] = await db.sql<{ scenario_id: string; day: string; runs: number }[]>`
      select scenario_id::text, asof_date::text as day, count(distinct run_id)::int as runs from scenario_output group by 1, 2 order by 1, 2 limit 1`;
    const redo = await backfill({ metadata: createMetadata(db.sql), trino, log, scenarioId: pick!.scenario_id, from: pick!.day, to: pick!.day, redo: true });
    expect(redo.runsDone).toBe(pick!.runs);
    expect(await icebergRows()).toBe(source);
  }, 600_000);
});

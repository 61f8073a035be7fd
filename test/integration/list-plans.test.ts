/**
 * Keyset pages and exports read their rows in index order, on a real Postgres: each query is
 * captured as the code sends it and explained with its own parameters, and the plan must read one
 * index and sort nothing. Every query here selects a key column under its own name in another
 * spelling, and an ORDER BY name means the output column first:
 * - the scenario and run lists select `created_at` as ISO text; until stop 48 they ordered by
 *   it, so every page read and sorted all of a tenant's scenarios or a scenario's runs
 *   (EXPLAIN ANALYZE, 50,000 rows: 127–163 ms a page, 0.1 ms through the index). Same order:
 *   fixed-width UTC text sorts as the time does; the cost grew with the table;
 * - output pages and CSV exports select `contract_month` as text, and with `escape_formulas` the
 *   curve key formula-quoted; until stop 47 the exports sorted on disk (and in the quoted text's
 *   order) and the pages sorted each month's text (docs/outputs.md);
 * - curve observation pages select `contract_month` as text, the runtime-config audit log `id`
 *   (until stop 47 it sorted those: 9 came before 12 in the audit log);
 * - the output purge finds the last key of its next batch selecting `contract_month` as text
 *   (stop 49, in review: years past 9999 sort wrong as text, and a batch shrank to a fifth).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import type { Sql } from "../../src/adapters/postgres";
import { transactions } from "../../src/adapters/postgres";
import { createCurveRepo } from "../../src/curves/repo";
import { createConfigRepo } from "../../src/flags/repo";
import { copyStatement, createPgOutputReader } from "../../src/outputs/pg-reader";
import { createOutputPurge } from "../../src/outputs/purge";
import { createLogger } from "../../src/platform/logger";
import { createRunRepo } from "../../src/runs/repo";
import { createScenarioRepo } from "../../src/scenarios/repo";
import { createTestDb, type TestDb } from "../support/app";

type PlanNode = { "Node Type": string; "Index Name"?: string; Plans?: PlanNode[] };
const nodes = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodes)];

describe("keyset pages and exports read one index in order and sort nothing", () => {
  let db: TestDb;
  let sql: postgres.Sql;
  let sent: { query: string; params: unknown[] }[] = [];
  let scenarioId: string;

  /** The plan of the one query `fn` sends, explained with the parameters it was sent with. */
  async function planOf(fn: () => Promise<unknown>): Promise<PlanNode[]> {
    sent = [];
    await fn();
    expect(sent).toHaveLength(1);
    const { query, params } = sent[0] as (typeof sent)[number];
    const [row] = await sql.unsafe<{ "QUERY PLAN": { Plan: PlanNode }[] }[]>(`explain (format json) ${query}`, params as never[]);
    return nodes(row?.["QUERY PLAN"][0]?.Plan as PlanNode);
  }
  /** The one query `fn` sends sorts nothing and reads one index: one of `names`, when given. */
  async function expectIndexOrder(fn: () => Promise<unknown>, names?: string[]): Promise<void> {
    const plan = await planOf(fn);
    expect(plan.filter((n) => n["Node Type"].includes("Sort")).map((n) => n["Node Type"])).toEqual([]);
    const used = plan.flatMap((n) => (n["Index Name"] ? [n["Index Name"]] : []));
    expect(used).toHaveLength(1);
    if (names) expect(names).toContain(used[0] as string);
  }
  /** A keyset list's first page and the page after it. */
  async function twoPages<R extends { created_at: string; id: string }>(list: (after?: { ts: string; id: string }) => Promise<R[]>) {
    const last = (await list()).at(-1) as R;
    return [() => list(), () => list({ ts: last.created_at, id: last.id })];
  }

  beforeAll(async () => {
    db = await createTestDb("postgres");
    sql = postgres(db.url as string, { max: 1, onnotice: () => {}, debug: (_connection, query, params) => sent.push({ query, params }) });
    // Enough rows that reading them all costs more than the index: 5,000 scenarios of one tenant, 5,000 runs of one scenario.
    await sql`insert into scenario (tenant_id, name, created_at) select 't-plan', 'plan ' || n, now() - n * interval '1 second' from generate_series(1, 5000) n`;
    [{ id: scenarioId }] = await sql<{ id: string }[]>`select id::text as id from scenario where name = 'plan 1'`;
    await sql`
      insert into scenario_run (scenario_id, tenant_id, state, created_at)
      select ${scenarioId}::uuid, 't-plan', 'SUCCEEDED', now() - n * interval '1 second' from generate_series(1, 5000) n`;
    // 24,000 output rows of one of those runs: 4 metrics × 50 curves × 120 months.
    await sql`
      insert into scenario_output (tenant_id, scenario_id, run_id, asof_date, curve_key, tenor_type, contract_month, tenor_label, metric, value, version_hash, computed_ts)
      select 't-plan', ${scenarioId}::uuid, r.id, date '2026-01-01', 'C' || c, 'MONTHLY', date '2026-01-01' + m * interval '1 month', 'M' || m, 'metric_' || k, c + m, 'v', now()
      from (select id from scenario_run where scenario_id = ${scenarioId}::uuid limit 1) r, generate_series(1, 4) k, generate_series(1, 50) c, generate_series(0, 119) m`;
    // One curve with 10 as-of dates of 600 months, and 5,000 audit entries in two scopes.
    await sql`
      insert into curve (curve_key, market, location, product, block, unit, first_month, last_month, latest_asof, observations)
      values ('PLAN_CURVE', 'PJM', 'WEST', 'power', 'ATC', 'USD/MWh', date '2026-01-01', date '2075-12-01', date '2026-01-10', 6000)`;
    await sql`
      insert into curve_observation (curve_key, asof_date, contract_month, mid)
      select 'PLAN_CURVE', date '2026-01-01' + d, date '2026-01-01' + m * interval '1 month', 40 + m from generate_series(1, 10) d, generate_series(0, 599) m`;
    await sql`
      insert into runtime_config_audit (actor, scope, kind, name, new_value, version)
      select 'user', case when n % 2 = 0 then 'plan-a' else 'plan-b' end, 'feature', 'f', to_jsonb(n), n from generate_series(1, 5000) n`;
    for (const table of ["scenario", "scenario_run", "scenario_output", "curve_observation", "runtime_config_audit"]) await sql`analyze ${sql(table)}`;
  }, 120_000);
  afterAll(async () => {
    await sql?.end();
    await db?.drop();
  });

  test("scenarios: the first page and a later one", async () => {
    const repo = createScenarioRepo(sql as unknown as Sql);
    // Either keyset index gives the order (one tenant holds every scenario here).
    for (const page of await twoPages((after) => repo.list({ tenantId: "t-plan" }, 50, after)))
      await expectIndexOrder(page, ["scenario_tenant_created_idx", "scenario_created_idx"]);
  });

  test("runs of a scenario: the first page and a later one", async () => {
    const repo = createRunRepo(sql as unknown as Sql);
    for (const page of await twoPages((after) => repo.list({ scenarioId, tenantId: "t-plan" }, 50, after))) await expectIndexOrder(page, ["scenario_run_scenario_created_idx"]);
  });

  test("output pages and CSV exports of a run, with and without escape_formulas", async () => {
    const [run] = await sql<{ id: string }[]>`select distinct run_id::text as id from scenario_output`;
    const filter = { tenantId: "t-plan", scenarioId, runId: run?.id as string };
    const reader = createPgOutputReader(sql as unknown as Sql);
    const [first] = await reader.page(filter, 100);
    const after = { metric: first?.metric, curve_key: first?.curve_key, tenor_type: first?.tenor_type, contract_month: first?.contract_month } as Parameters<typeof reader.page>[2];
    for (const page of [() => reader.page(filter, 100), () => reader.page(filter, 100, after)]) await expectIndexOrder(page, ["scenario_output_pkey"]);
    for (const escapeFormulas of [false, true]) {
      const statement = copyStatement(filter, { format: "csv", escapeFormulas, after });
      const select = /^copy \((.*)\) to stdout/s.exec(statement)?.[1] as string;
      await expectIndexOrder(() => sql.unsafe(select), ["scenario_output_pkey"]);
    }
  });

  test("curve observation pages and the runtime-config audit log", async () => {
    const curves = createCurveRepo(sql as unknown as Sql);
    for (const page of [() => curves.observations("PLAN_CURVE", "2026-01-05", 100), () => curves.observations("PLAN_CURVE", "2026-01-05", 100, "2030-01-01")])
      await expectIndexOrder(page, ["curve_observation_pkey"]);
    const config = createConfigRepo(sql as unknown as Sql);
    for (const page of [
      () => config.audit({ scope: "plan-a", limit: 50 }),
      () => config.audit({ scope: "plan-a", limit: 50, beforeId: "4000" }),
      () => config.audit({ limit: 50 }),
    ])
      await expectIndexOrder(page);
  });

  test("the output purge: a batch after its cursor finds its last key and deletes its range through the primary key, sorting nothing", async () => {
    // Last: the run and its rows go. Its 24,000 rows, 5,000 a batch: the second batch starts at the first one's cursor.
    const [run] = await sql<{ id: string }[]>`select distinct run_id::text as id from scenario_output`;
    await sql`delete from scenario_run where id = ${run?.id as string}`;
    const purge = createOutputPurge({ transaction: transactions(sql as unknown as Sql), log: createLogger("silent"), batchRows: 5_000, pauseMs: 0, share: 1 });
    await purge.batch();
    sent = [];
    expect(await purge.batch()).toEqual({ runId: run?.id as string, rows: 5_000, done: false });
    // Explained as the batch ran them: after its own planner settings.
    const settings = sent.filter((q) => q.query.startsWith("set local"));
    const planned = sent.filter((q) => / offset |delete from scenario_output/.test(q.query));
    expect(planned).toHaveLength(2);
    for (const { query, params } of planned)
      await sql.begin(async (tx) => {
        for (const s of settings) await tx.unsafe(s.query);
        const [row] = await tx.unsafe<{ "QUERY PLAN": { Plan: PlanNode }[] }[]>(`explain (format json) ${query}`, params as never[]);
        const plan = nodes(row?.["QUERY PLAN"][0]?.Plan as PlanNode);
        expect(plan.filter((n) => n["Node Type"].includes("Sort")).map((n) => n["Node Type"])).toEqual([]);
        expect(plan.flatMap((n) => (n["Index Name"] ? [n["Index Name"]] : []))).toEqual(["scenario_output_pkey"]);
      });
  });
});

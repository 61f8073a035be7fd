/**
 * The scenario and run lists page through their keyset indexes, on a real Postgres. Both select
 * `created_at` as ISO text under its own name; until stop 48 they ordered by that name, which is
 * the text (an ORDER BY name means the output column first), so every page read and sorted all of
 * a tenant's scenarios or a scenario's runs (EXPLAIN ANALYZE, 50,000 rows: 127–163 ms a page, where
 * the index gives it in 0.1 ms). The order was the same (fixed-width UTC text sorts as the time
 * does); the cost grew with the table. Each query is captured as the repository sends it and
 * explained with its own parameters: the plan must read the index and sort nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import type { Sql } from "../../src/adapters/postgres";
import { createRunRepo } from "../../src/runs/repo";
import { createScenarioRepo } from "../../src/scenarios/repo";
import { createTestDb, type TestDb } from "../support/app";

type PlanNode = { "Node Type": string; "Index Name"?: string; Plans?: PlanNode[] };
const nodes = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodes)];

describe("list pages come from their index, not from a sort of the table", () => {
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
  const sorts = (plan: PlanNode[]) => plan.filter((n) => n["Node Type"].includes("Sort")).map((n) => n["Node Type"]);
  const indexes = (plan: PlanNode[]) => plan.flatMap((n) => (n["Index Name"] ? [n["Index Name"]] : []));

  beforeAll(async () => {
    db = await createTestDb("postgres");
    sql = postgres(db.url as string, { max: 1, onnotice: () => {}, debug: (_connection, query, params) => sent.push({ query, params }) });
    // Enough rows that reading them all costs more than the index: 5,000 scenarios of one tenant, 5,000 runs of one scenario.
    await sql`insert into scenario (tenant_id, name, created_at) select 't-plan', 'plan ' || n, now() - n * interval '1 second' from generate_series(1, 5000) n`;
    [{ id: scenarioId }] = await sql<{ id: string }[]>`select id::text as id from scenario where name = 'plan 1'`;
    await sql`
      insert into scenario_run (scenario_id, tenant_id, state, created_at)
      select ${scenarioId}::uuid, 't-plan', 'SUCCEEDED', now() - n * interval '1 second' from generate_series(1, 5000) n`;
    await sql`analyze scenario`;
    await sql`analyze scenario_run`;
  }, 120_000);
  afterAll(async () => {
    await sql?.end();
    await db?.drop();
  });

  test("scenarios: the first page and a later one", async () => {
    const repo = createScenarioRepo(sql as unknown as Sql);
    const first = await repo.list({ tenantId: "t-plan" }, 50);
    const last = first.at(-1) as (typeof first)[number];
    for (const page of [() => repo.list({ tenantId: "t-plan" }, 50), () => repo.list({ tenantId: "t-plan" }, 50, { ts: last.sort_ts, id: last.id })]) {
      const plan = await planOf(page);
      expect(sorts(plan)).toEqual([]);
      // Either keyset index gives the order (one tenant holds every scenario here).
      expect(indexes(plan)).toHaveLength(1);
      expect(["scenario_tenant_created_idx", "scenario_created_idx"]).toContain(indexes(plan)[0] as string);
    }
  });

  test("runs of a scenario: the first page and a later one", async () => {
    const repo = createRunRepo(sql as unknown as Sql);
    const first = await repo.list({ scenarioId, tenantId: "t-plan" }, 50);
    const last = first.at(-1) as (typeof first)[number];
    for (const page of [() => repo.list({ scenarioId, tenantId: "t-plan" }, 50), () => repo.list({ scenarioId, tenantId: "t-plan" }, 50, { ts: last.sort_ts, id: last.id })]) {
      const plan = await planOf(page);
      expect(sorts(plan)).toEqual([]);
      expect(indexes(plan)).toEqual(["scenario_run_scenario_created_idx"]);
    }
  });
});

/** The owed cache bumps (`cache_bump_pending`, see bumps.ts): written with the change, removed once bumped. */
import type { Sql, Tx } from "../adapters/postgres";
import type { Invalidation } from "./events";

export type OwedBump = { id: string; tenant_id: string; scenario_id: string | null; run_id: string | null; reason: string };

export function createBumpRepo(sql: Sql) {
  // Ordered by the table's id below: bare, `id` is the text selected under that name (10 before 9).
  const owed = sql.unsafe("id::text as id, tenant_id, scenario_id::text as scenario_id, run_id::text as run_id, reason");
  return {
    /** Inside the change's transaction: the bump it owes. */
    async insert(tx: Tx, inv: Invalidation): Promise<void> {
      await tx`insert into cache_bump_pending (tenant_id, scenario_id, run_id, reason)
               values (${inv.tenantId}, ${inv.scenarioId ?? null}, ${inv.runId ?? null}, ${inv.reason})`;
    },

    /** Every committed bump the tenant owes, oldest first. */
    async owedBy(tenantId: string): Promise<OwedBump[]> {
      return sql<OwedBump[]>`select ${owed} from cache_bump_pending where tenant_id = ${tenantId} order by cache_bump_pending.id`;
    },

    /** Bumps owed for longer than `graceMs`, oldest first, at most `limit`. */
    async owedLongerThan(graceMs: number, limit: number): Promise<OwedBump[]> {
      return sql<OwedBump[]>`select ${owed} from cache_bump_pending where created_at < clock_timestamp() - make_interval(secs => ${graceMs / 1000})
                             order by cache_bump_pending.id limit ${limit}`;
    },

    async remove(ids: string[]): Promise<void> {
      await sql`delete from cache_bump_pending where id = any(${ids}::bigint[])`;
    },
  };
}

export type BumpRepo = ReturnType<typeof createBumpRepo>;

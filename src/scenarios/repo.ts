/**
 * Scenario SQL. Every statement takes the tenant (null = the local operator, all tenants) and
 * every mutation writes its `scenario_event` row in the same transaction.
 */
import { type Sql, type Tx, transactions, utcIsoText } from "../adapters/postgres";
import type { ScenarioRecord, ScenarioStatus } from "./model";

export type NewScenario = {
  tenantId: string;
  name: string;
  description: string | null;
  status: ScenarioStatus;
  assumptions: unknown[];
  parameters: Record<string, unknown>;
  tags: string[];
  createdBy: string;
};

export type ScenarioChanges = Partial<Pick<NewScenario, "name" | "description" | "status" | "assumptions" | "parameters" | "tags">>;

export type ScenarioFilter = {
  tenantId: string | null;
  name?: string;
  tag?: string;
  status?: ScenarioStatus;
  createdAfter?: Date;
  createdBefore?: Date;
};

export function createScenarioRepo(sql: Sql) {
  const transaction = transactions(sql);
  const columns = sql.unsafe(`id::text as id, tenant_id, name, description, status, assumptions, parameters, tags, version, created_by,
    ${utcIsoText("created_at")} as created_at, ${utcIsoText("updated_at")} as updated_at`);
  const tenantScope = (tenantId: string | null) => (tenantId === null ? sql`` : sql`and tenant_id = ${tenantId}`);

  return {
    async insert(s: NewScenario): Promise<ScenarioRecord> {
      return transaction(async (tx) => {
        const [row] = await tx<ScenarioRecord[]>`
          insert into scenario (tenant_id, name, description, status, assumptions, parameters, tags, created_by)
          values (${s.tenantId}, ${s.name}, ${s.description}, ${s.status}, ${tx.json(s.assumptions as never)},
                  ${tx.json(s.parameters as never)}, ${tx.array(s.tags)}, ${s.createdBy})
          returning ${columns}`;
        const created = row as ScenarioRecord;
        await tx`insert into scenario_event (tenant_id, scenario_id, event_type, payload)
                 values (${s.tenantId}, ${created.id}, 'scenario_created', ${tx.json({ version: 1, by: s.createdBy })})`;
        return created;
      });
    },

    /** Locks the scenario against deletion and change until the transaction ends; returns its version, undefined when it is gone. */
    async lockVersion(tx: Tx, id: string): Promise<number | undefined> {
      const [row] = await tx<{ version: number }[]>`select version from scenario where id = ${id} for share`;
      return row?.version;
    },

    async get(id: string, tenantId: string | null): Promise<ScenarioRecord | undefined> {
      const [row] = await sql<ScenarioRecord[]>`select ${columns} from scenario where id = ${id} ${tenantScope(tenantId)}`;
      return row;
    },

    /**
     * Newest first; `after` is the sort key of the previous page's last row. Returns up to `limit` + 1
     * rows. Ordered by the table's columns, as the keyset condition compares them: bare, `created_at`
     * and `id` are the texts selected under those names, and sorting by them read and sorted every
     * scenario of the tenant for each page, where the (tenant_id, created_at, id) index hands out
     * the page (EXPLAIN ANALYZE, 50,000 scenarios: 127 ms → 0.1 ms).
     */
    async list(f: ScenarioFilter, limit: number, after?: { ts: string; id: string }): Promise<ScenarioRecord[]> {
      return sql<ScenarioRecord[]>`
        select ${columns} from scenario
        where true ${tenantScope(f.tenantId)}
          ${f.name !== undefined ? sql`and name ilike ${`%${escapeLike(f.name)}%`}` : sql``}
          ${f.tag !== undefined ? sql`and tags @> ${sql.array([f.tag])}::text[]` : sql``}
          ${f.status !== undefined ? sql`and status = ${f.status}` : sql``}
          ${f.createdAfter ? sql`and created_at >= ${f.createdAfter}` : sql``}
          ${f.createdBefore ? sql`and created_at < ${f.createdBefore}` : sql``}
          ${
            // ::text first: a parameter typed timestamptz would go through a JS Date and lose microseconds.
            after ? sql`and (created_at, id) < (${after.ts}::text::timestamptz, ${after.id}::uuid)` : sql``
          }
        order by scenario.created_at desc, scenario.id desc
        limit ${limit + 1}`;
    },

    /**
     * Applies changes and bumps the version, atomically; with `expectedVersion` only if the row
     * still has it. Returns the new row, or why nothing changed.
     */
    async update(
      id: string,
      tenantId: string | null,
      changes: ScenarioChanges,
      expectedVersion: number | undefined,
      by: string,
    ): Promise<{ row: ScenarioRecord } | { missing: true } | { currentVersion: number }> {
      if (Object.keys(changes).length === 0) throw new Error("update needs at least one change");
      return transaction(async (tx) => {
        const set: Record<string, unknown> = {};
        if (changes.name !== undefined) set.name = changes.name;
        if (changes.description !== undefined) set.description = changes.description;
        if (changes.status !== undefined) set.status = changes.status;
        if (changes.assumptions !== undefined) set.assumptions = tx.json(changes.assumptions as never);
        if (changes.parameters !== undefined) set.parameters = tx.json(changes.parameters as never);
        if (changes.tags !== undefined) set.tags = tx.array(changes.tags);
        const [row] = await tx<ScenarioRecord[]>`
          update scenario set ${tx(set)}, version = version + 1, updated_at = clock_timestamp()
          where id = ${id} ${tenantScope(tenantId)}
            ${expectedVersion !== undefined ? sql`and version = ${expectedVersion}` : sql``}
          returning ${columns}`;
        if (!row) {
          const [current] = await tx<{ version: number }[]>`select version from scenario where id = ${id} ${tenantScope(tenantId)}`;
          return current ? { currentVersion: current.version } : { missing: true as const };
        }
        await tx`insert into scenario_event (tenant_id, scenario_id, event_type, payload)
                 values (${row.tenant_id}, ${row.id}, 'scenario_updated', ${tx.json({ version: row.version, by, fields: Object.keys(changes) })})`;
        return { row };
      });
    },

    /**
     * Deletes the scenario with its runs and events (ON DELETE CASCADE); returns its tenant, undefined
     * when there was none. `within` runs in the same transaction once the row is gone.
     */
    /** Deletes the scenario (only at `expectedVersion` when given) and returns its tenant; undefined when no row matched. */
    async remove(id: string, tenantId: string | null, within?: (tx: Tx, tenantId: string) => Promise<unknown>, expectedVersion?: number): Promise<string | undefined> {
      return transaction(async (tx) => {
        const versionScope = expectedVersion === undefined ? tx`` : tx`and version = ${expectedVersion}`;
        const [row] = await tx<{ tenant_id: string }[]>`delete from scenario where id = ${id} ${tenantScope(tenantId)} ${versionScope} returning tenant_id`;
        if (row && within) await within(tx, row.tenant_id);
        return row?.tenant_id;
      });
    },
  };
}

export type ScenarioRepo = ReturnType<typeof createScenarioRepo>;

/** ILIKE treats % and _ as wildcards and \ as the escape: a user's substring matches literally. */
function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

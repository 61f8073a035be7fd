/** Runtime config in Postgres: the overrides, the version replicas poll, and the audit log. */
import { type Sql, transactions, utcIsoText } from "../adapters/postgres";

export type ConfigKind = "ratelimit" | "feature";
export type ConfigRow = { scope: string; kind: ConfigKind; name: string; value: unknown };

export type ConfigChange = { scope: string; kind: ConfigKind; name: string; value: unknown; actor: string; requestId: string | null };

export type AuditRow = {
  id: string;
  changed_at: string;
  actor: string;
  request_id: string | null;
  scope: string;
  kind: string;
  name: string;
  old_value: unknown;
  new_value: unknown;
  version: number;
};

export function createConfigRepo(sql: Sql) {
  const transaction = transactions(sql);
  return {
    async version(): Promise<number> {
      const [row] = await sql<{ version: string }[]>`select version from runtime_config_version`;
      return Number(row?.version ?? 0);
    },

    /** Every override and the version they belong to, from one snapshot (one statement). */
    async load(): Promise<{ version: number; rows: ConfigRow[] }> {
      const rows = await sql<(ConfigRow & { current: string })[]>`
        select v.version as current, c.scope, c.kind, c.name, c.value
        from runtime_config_version v left join runtime_config c on true`;
      return { version: Number(rows[0]?.current ?? 0), rows: rows.filter((r) => r.scope !== null).map(({ current: _, ...r }) => r) };
    },

    /** Sets (or with `value: null` removes) one override and audits it, in one transaction; returns the old value. */
    async write(change: ConfigChange): Promise<{ version: number; old: unknown }> {
      return transaction(async (tx) => {
        // The version row lock serializes writers, so audit order is the order changes took effect.
        const [bumped] = await tx<{ version: string }[]>`update runtime_config_version set version = version + 1 returning version`;
        const version = Number(bumped?.version);
        const [old] = await tx<{ value: unknown }[]>`
          select value from runtime_config where scope = ${change.scope} and kind = ${change.kind} and name = ${change.name}`;
        if (change.value === null) {
          await tx`delete from runtime_config where scope = ${change.scope} and kind = ${change.kind} and name = ${change.name}`;
        } else {
          await tx`
            insert into runtime_config (scope, kind, name, value, version, updated_by)
            values (${change.scope}, ${change.kind}, ${change.name}, ${tx.json(change.value as never)}, ${version}, ${change.actor})
            on conflict (scope, kind, name) do update
              set value = excluded.value, version = excluded.version, updated_by = excluded.updated_by, updated_at = now()`;
        }
        await tx`
          insert into runtime_config_audit (actor, request_id, scope, kind, name, old_value, new_value, version)
          values (${change.actor}, ${change.requestId}, ${change.scope}, ${change.kind}, ${change.name},
                  ${old ? tx.json(old.value as never) : null}, ${change.value === null ? null : tx.json(change.value as never)}, ${version})`;
        return { version, old: old?.value ?? null };
      });
    },

    /** Newest first (by the table's id: bare, `id` is the text selected under that name, which put 9 before 12); `beforeId` continues a page. */
    async audit(q: { scope?: string | undefined; limit: number; beforeId?: string | undefined }): Promise<AuditRow[]> {
      const rows = await sql<(AuditRow & { version: string })[]>`
        select id::text as id, ${sql.unsafe(utcIsoText("changed_at"))} as changed_at,
               actor, request_id, scope, kind, name, old_value, new_value, version
        from runtime_config_audit
        where true ${q.scope ? sql`and scope = ${q.scope}` : sql``} ${q.beforeId ? sql`and id < ${q.beforeId}` : sql``}
        order by runtime_config_audit.id desc limit ${q.limit}`;
      return rows.map((r) => ({ ...r, version: Number(r.version) }));
    },
  };
}

export type ConfigRepo = ReturnType<typeof createConfigRepo>;

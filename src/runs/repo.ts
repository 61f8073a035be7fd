/** Run SQL: creation with dedupe, reads, and guarded state transitions that log an event each. */
import type { Sql, Tx } from "../adapters/postgres";
import type { RunInputs } from "./inputs";
import type { RunRecord } from "./model";
import type { RunState } from "./state";

const ISO_US = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;
const ts = (col: string) => `to_char(${col} at time zone 'UTC', ${ISO_US})`;

export const RUN_COLUMNS = `id::text as id, scenario_id::text as scenario_id, tenant_id, state, priority, coalesce(code_version, 'v1') as code_version,
  coalesce(seed, 42)::int as seed, timeout_minutes, max_retries, coalesce(options->'parameters', '{}'::jsonb) as parameters,
  coalesce(options->'environment', '{}'::jsonb) as environment, idempotency_key, input_hash, run_key, attempts, progress::float8 as progress,
  rows_written::int as rows_written, band_stats, cancel_requested, error, inputs, trace_id, requested_by, ${ts("created_at")} as created_at, ${ts("queued_at")} as queued_at,
  ${ts("started_at")} as started_at, ${ts("finished_at")} as finished_at, ${ts("updated_at")} as updated_at`;

export type NewRun = {
  scenarioId: string;
  tenantId: string;
  priority: string;
  codeVersion: string;
  seed: number;
  timeoutMinutes: number;
  maxRetries: number;
  parameters: Record<string, unknown>;
  environment: Record<string, string>;
  idempotencyKey: string | null;
  inputHash: string;
  runKey: string;
  requestedBy: string;
  inputs: RunInputs;
  traceId: string;
};

/**
 * Owner of the lease an admin's QUEUED → RUNNING takes: no worker executes such a run, so nothing
 * heartbeats it; when the lease lapses the reclaimer queues it again (or ends it if cancelled).
 */
export const ADMIN_LEASE_PREFIX = "admin:";

/** A lease that lapsed, or none at all (rows from before leases): the run's worker is presumed dead. */
export const LEASE_LAPSED = "(lease_expires_at is null or lease_expires_at < clock_timestamp())";

/**
 * A RUNNING run no worker is executing: no lease (rows from before leases), a lapsed lease, or an
 * admin's lease. Such a run can be ended at once; a worker's live lease means "ask the worker".
 */
export const UNATTENDED = `(${LEASE_LAPSED} or lease_owner like '${ADMIN_LEASE_PREFIX}%')`;

export type RunFilter = { scenarioId: string; tenantId: string | null; state?: RunState; createdAfter?: Date; createdBefore?: Date };

export function createRunRepo(sql: Sql) {
  const columns = sql.unsafe(RUN_COLUMNS);
  const unattended = sql.unsafe(UNATTENDED);
  const tenantScope = (tx: Tx, tenantId: string | null) => (tenantId === null ? tx`` : tx`and tenant_id = ${tenantId}`);

  return {
    columns,

    /** An existing run that makes a new one unnecessary: same idempotency key, or same input while live or succeeded. */
    async findEquivalent(
      tx: Tx,
      r: Pick<NewRun, "tenantId" | "scenarioId" | "idempotencyKey" | "inputHash">,
    ): Promise<{ run: RunRecord; by: "idempotency_key" | "fingerprint" } | undefined> {
      if (r.idempotencyKey !== null) {
        const [byKey] = await tx<RunRecord[]>`select ${columns} from scenario_run
          where tenant_id = ${r.tenantId} and scenario_id = ${r.scenarioId} and idempotency_key = ${r.idempotencyKey}`;
        if (byKey) return { run: byKey, by: "idempotency_key" };
      }
      const [byHash] = await tx<RunRecord[]>`select ${columns} from scenario_run
        where tenant_id = ${r.tenantId} and scenario_id = ${r.scenarioId} and input_hash = ${r.inputHash}
          and state in ('QUEUED', 'RUNNING', 'SUCCEEDED') order by created_at desc limit 1`;
      return byHash ? { run: byHash, by: "fingerprint" } : undefined;
    },

    /** Inserts unless a unique index says an equivalent run appeared meanwhile (then undefined). */
    async insert(tx: Tx, r: NewRun): Promise<RunRecord | undefined> {
      const [row] = await tx<RunRecord[]>`
        insert into scenario_run (scenario_id, tenant_id, priority, code_version, seed, timeout_minutes, max_retries, options,
                                  idempotency_key, input_hash, run_key, requested_by, inputs, trace_id)
        values (${r.scenarioId}, ${r.tenantId}, ${r.priority}, ${r.codeVersion}, ${r.seed}, ${r.timeoutMinutes}, ${r.maxRetries},
                ${tx.json({ parameters: r.parameters, environment: r.environment } as never)}, ${r.idempotencyKey}, ${r.inputHash}, ${r.runKey}, ${r.requestedBy},
                ${tx.json(r.inputs as never)}, ${r.traceId})
        on conflict do nothing
        returning ${columns}`;
      return row;
    },

    /** Locks the scenario against deletion and change until the transaction ends; returns its version, undefined when it is gone. */
    async lockScenario(tx: Tx, scenarioId: string): Promise<number | undefined> {
      const [row] = await tx<{ version: number }[]>`select version from scenario where id = ${scenarioId} for share`;
      return row?.version;
    },

    async event(tx: Tx, e: { tenantId: string; scenarioId: string; runId: string; type: string; payload: Record<string, unknown> }): Promise<void> {
      await tx`insert into scenario_event (tenant_id, scenario_id, run_id, event_type, payload)
               values (${e.tenantId}, ${e.scenarioId}, ${e.runId}, ${e.type}, ${tx.json(e.payload as never)})`;
    },

    async get(tx: Tx, runId: string, tenantId: string | null): Promise<RunRecord | undefined> {
      const [row] = await tx<RunRecord[]>`select ${columns} from scenario_run where id = ${runId} ${tenantScope(tx, tenantId)}`;
      return row;
    },

    async list(f: RunFilter, limit: number, after?: { ts: string; id: string }): Promise<(RunRecord & { sort_ts: string })[]> {
      return sql<(RunRecord & { sort_ts: string })[]>`
        select ${columns}, ${sql.unsafe(ts("created_at"))} as sort_ts from scenario_run
        where scenario_id = ${f.scenarioId} ${tenantScope(sql, f.tenantId)}
          ${f.state ? sql`and state = ${f.state}` : sql``}
          ${f.createdAfter ? sql`and created_at >= ${f.createdAfter}` : sql``}
          ${f.createdBefore ? sql`and created_at < ${f.createdBefore}` : sql``}
          ${after ? sql`and (created_at, id) < (${after.ts}::text::timestamptz, ${after.id}::uuid)` : sql``}
        order by created_at desc, id desc limit ${limit + 1}`;
    },

    /**
     * Moves a run from one of `from` to `to` if it is still there, logging who, when, from, to and why.
     * Returns the updated run, or undefined when the run was not in an allowed state.
     */
    async transition(
      tx: Tx,
      runId: string,
      from: readonly RunState[],
      to: RunState,
      why: { by: string; reason?: string; error?: Record<string, unknown> },
    ): Promise<RunRecord | undefined> {
      const [row] = await tx<(RunRecord & { previous: RunState })[]>`
        with prev as (select id as prev_id, state as prev_state from scenario_run where id = ${runId} and state in ${tx(from as RunState[])} for update)
        update scenario_run r set state = ${to}, updated_at = clock_timestamp(),
          started_at = case when ${to} = 'RUNNING' then clock_timestamp() else r.started_at end,
          finished_at = case when ${to} in ('SUCCEEDED', 'FAILED', 'CANCELLED') then clock_timestamp() else r.finished_at end,
          queued_at = case when ${to} = 'QUEUED' then clock_timestamp() else r.queued_at end,
          progress = case when ${to} = 'SUCCEEDED' then 1 when ${to} = 'QUEUED' then 0 else r.progress end,
          error = coalesce(${why.error ? tx.json(why.error as never) : null}, case when ${to} = 'SUCCEEDED' then null else r.error end),
          lease_owner = case when ${to} = 'RUNNING' then r.lease_owner else null end,
          lease_expires_at = case when ${to} = 'RUNNING' then r.lease_expires_at else null end
        from prev where r.id = prev.prev_id
        returning ${columns}, prev.prev_state as previous`;
      if (!row) return undefined;
      const { previous, ...run } = row;
      await this.event(tx, {
        tenantId: run.tenant_id,
        scenarioId: run.scenario_id,
        runId,
        type: "run_state_changed",
        payload: { from: previous, to, by: why.by, reason: why.reason ?? null, ...(why.error ? { error: why.error } : {}) },
      });
      return run;
    },

    /** Gives a RUNNING run a lease of `ms` held by `owner` (as a worker's claim does); returns the run. */
    async lease(tx: Tx, runId: string, owner: string, ms: number): Promise<RunRecord | undefined> {
      const [row] = await tx<RunRecord[]>`
        update scenario_run set lease_owner = ${owner}, lease_expires_at = clock_timestamp() + ${ms} * interval '1 millisecond'
        where id = ${runId} and state = 'RUNNING' returning ${columns}`;
      return row;
    },

    /** RUNNING → CANCELLED at once when no worker executes the run (see UNATTENDED); else undefined. */
    async cancelUnattended(tx: Tx, runId: string, by: string): Promise<RunRecord | undefined> {
      const [stuck] = await tx`select 1 from scenario_run where id = ${runId} and state = 'RUNNING' and ${unattended} for update`;
      if (!stuck) return undefined;
      return this.transition(tx, runId, ["RUNNING"], "CANCELLED", { by, reason: "cancelled by user; no worker held the run" });
    },

    async requestCancel(tx: Tx, runId: string): Promise<void> {
      await tx`update scenario_run set cancel_requested = true, updated_at = clock_timestamp() where id = ${runId}`;
    },
  };
}

export type RunRepo = ReturnType<typeof createRunRepo>;

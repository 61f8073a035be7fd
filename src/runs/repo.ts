/**
 * The runs repository, the only place that speaks SQL to `scenario_run`: creation with dedupe,
 * reads, guarded state transitions that log an event each, and the worker's claims, leases,
 * heartbeats, retries and fairness ranking. A method that takes a `tx` runs inside that unit of
 * work; where it is optional, the pool is used without one.
 */
import { type Sql, type Tx, utcIsoText as ts } from "../adapters/postgres";
import type { RunInputs } from "./inputs";
import type { RunRecord } from "./model";
import { ADMIN_LEASE_PREFIX, type RunState } from "./state";

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

/** A lease that lapsed, or none at all (rows from before leases): the run's worker is presumed dead. */
const LEASE_LAPSED = "(lease_expires_at is null or lease_expires_at < clock_timestamp())";

/**
 * A RUNNING run no worker is executing: no lease (rows from before leases), a lapsed lease, or an
 * admin's lease. Such a run can be ended at once; a worker's live lease means "ask the worker".
 */
const UNATTENDED = `(${LEASE_LAPSED} or lease_owner like '${ADMIN_LEASE_PREFIX}%')`;

/** A QUEUED run with no cancel requested: the rows of scenario_run_queued_order_idx. */
const QUEUED = "state = 'QUEUED' and not cancel_requested";

/** A QUEUED run a worker may claim now: its back-off over, no cancel requested. */
const DUE = `${QUEUED} and next_attempt_at <= clock_timestamp()`;

/** A run's priority as claims order it (0 first); the same expression as scenario_run_queued_order_idx. */
const PRIORITY_RANK = "case priority when 'CRITICAL' then 0 when 'HIGH' then 1 when 'NORMAL' then 2 else 3 end";

/**
 * `f`: the first due run (id, rank, created_at) of a relation `t` with a `tenant_id`, by priority,
 * then age: the first due entry of scenario_run_queued_order_idx. Ordered and limited, the planner
 * walks that index; as an EXISTS it scanned the table (90 ms with 50,000 runs queued). Runs in
 * `except` are passed over.
 */
const firstDue = (sql: Sql, except: readonly string[] = []) => sql`cross join lateral (
    select r.id, ${sql.unsafe(PRIORITY_RANK)} as rank, r.created_at from scenario_run r
    where r.tenant_id = t.tenant_id and ${sql.unsafe(DUE)} ${except.length ? sql`and r.id <> all(${except as string[]}::uuid[])` : sql``}
    order by ${sql.unsafe(PRIORITY_RANK)}, r.created_at, r.id
    limit 1
  ) f`;

/**
 * `tenants`, a recursive CTE: every tenant with a QUEUED run that is not cancelled (and a last row
 * of null), one index probe per tenant, the next tenant after the last; a DISTINCT over the queued
 * runs read every one of them (ddl/postgres/017_claim_order.sql).
 */
const QUEUED_TENANTS = `tenants(tenant_id) as (
    (select tenant_id from scenario_run where ${QUEUED} order by tenant_id limit 1)
    union all
    select (select r.tenant_id from scenario_run r where ${QUEUED} and r.tenant_id > t.tenant_id order by r.tenant_id limit 1)
    from tenants t where t.tenant_id is not null
  )`;

/**
 * How claims rank tenants (docs/runs.md "Fairness"), joined to a relation `t` with a `tenant_id`:
 * `load.running`, its RUNNING runs (fewer first), and `last.served`, its latest claim (least recent
 * first, never served before all).
 */
const TENANT_LOAD = `
  cross join lateral (select count(*) as running from scenario_run r where r.tenant_id = t.tenant_id and r.state = 'RUNNING') load
  left join lateral (
    select r.started_at as served from scenario_run r where r.tenant_id = t.tenant_id and r.started_at is not null order by r.started_at desc limit 1
  ) last on true`;

export type RunFilter = { scenarioId: string; tenantId: string | null; state?: RunState; createdAfter?: Date; createdBefore?: Date };

/** The queries every part of the repository shares. */
function runSql(sql: Sql) {
  return {
    sql,
    columns: sql.unsafe(RUN_COLUMNS),
    unattended: sql.unsafe(UNATTENDED),
    lapsed: sql.unsafe(LEASE_LAPSED),
    queued: sql.unsafe(QUEUED),
    queuedTenants: sql.unsafe(QUEUED_TENANTS),
    firstDue: (except?: readonly string[]) => firstDue(sql, except),
    tenantLoad: sql.unsafe(TENANT_LOAD),
    tenantScope: (tx: Tx, tenantId: string | null) => (tenantId === null ? tx`` : tx`and tenant_id = ${tenantId}`),
  };
}
type RunSql = ReturnType<typeof runSql>;

/**
 * All SQL on `scenario_run` (and its event log), in four parts: records (create, read, list), state
 * changes the API makes, worker claims, and leases with the worker's bookkeeping.
 */
export function createRunRepo(sql: Sql) {
  const q = runSql(sql);
  const records = runRecords(q);
  return { ...records, ...runStates(q, records.event), ...runClaims(q), ...runLeases(q) };
}

/** Creating, reading and listing runs, and their event log. */
function runRecords(q: RunSql) {
  const { sql, columns, tenantScope } = q;
  return {
    /** An existing run that makes a new one unnecessary: same idempotency key, or same input while live or succeeded. */
    async findEquivalent(
      r: Pick<NewRun, "tenantId" | "scenarioId" | "idempotencyKey" | "inputHash">,
      tx: Tx = sql,
    ): Promise<{ run: RunRecord; by: "idempotency_key" | "fingerprint" } | undefined> {
      if (r.idempotencyKey !== null) {
        const [byKey] = await tx<RunRecord[]>`select ${columns} from scenario_run
          where tenant_id = ${r.tenantId} and scenario_id = ${r.scenarioId} and idempotency_key = ${r.idempotencyKey}`;
        if (byKey) return { run: byKey, by: "idempotency_key" };
      }
      const [byHash] = await tx<RunRecord[]>`select ${columns} from scenario_run
        where tenant_id = ${r.tenantId} and scenario_id = ${r.scenarioId} and input_hash = ${r.inputHash}
          and state in ('QUEUED', 'RUNNING', 'SUCCEEDED') order by scenario_run.created_at desc limit 1`;
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

    async event(tx: Tx, e: { tenantId: string; scenarioId: string; runId: string; type: string; payload: Record<string, unknown> }): Promise<void> {
      await tx`insert into scenario_event (tenant_id, scenario_id, run_id, event_type, payload)
               values (${e.tenantId}, ${e.scenarioId}, ${e.runId}, ${e.type}, ${tx.json(e.payload as never)})`;
    },

    async get(runId: string, tenantId: string | null, tx: Tx = sql): Promise<RunRecord | undefined> {
      const [row] = await tx<RunRecord[]>`select ${columns} from scenario_run where id = ${runId} ${tenantScope(tx, tenantId)}`;
      return row;
    },

    /**
     * Newest first, up to `limit` + 1 runs after `after`. Ordered by the table's columns, as the
     * keyset condition compares them: bare, `created_at` is the text selected under that name, and
     * sorting by it read and sorted every run of the scenario for each page, where the (scenario_id,
     * created_at, id) index hands out the page (EXPLAIN ANALYZE, 50,000 runs: 163 ms → 0.1 ms).
     */
    async list(f: RunFilter, limit: number, after?: { ts: string; id: string }): Promise<RunRecord[]> {
      return sql<RunRecord[]>`
        select ${columns} from scenario_run
        where scenario_id = ${f.scenarioId} ${tenantScope(sql, f.tenantId)}
          ${f.state ? sql`and state = ${f.state}` : sql``}
          ${f.createdAfter ? sql`and created_at >= ${f.createdAfter}` : sql``}
          ${f.createdBefore ? sql`and created_at < ${f.createdBefore}` : sql``}
          ${after ? sql`and (created_at, id) < (${after.ts}::text::timestamptz, ${after.id}::uuid)` : sql``}
        order by scenario_run.created_at desc, scenario_run.id desc limit ${limit + 1}`;
    },
  };
}

/** The state changes the API makes (trigger, cancel, admin transitions) and the reads of run states. */
function runStates(q: RunSql, recordEvent: ReturnType<typeof runRecords>["event"]) {
  const { sql, columns, unattended } = q;
  const states = {
    /**
     * Moves a run from one of `from` to `to` if it is still there, logging who, when, from, to and why.
     * Returns the updated run, or undefined when the run was not in an allowed state. Its row lock
     * is the UPDATE's own (`for no key update`): it waits for other changes of the run, not for
     * transactions that insert rows referring to it (lockClaimable).
     */
    async transition(
      tx: Tx,
      runId: string,
      from: readonly RunState[],
      to: RunState,
      why: { by: string; reason?: string; error?: Record<string, unknown> },
    ): Promise<RunRecord | undefined> {
      const [row] = await tx<(RunRecord & { previous: RunState })[]>`
        with prev as (select id as prev_id, state as prev_state from scenario_run where id = ${runId} and state in ${tx(from as RunState[])} for no key update)
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
      await recordEvent(tx, {
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
      return transition(tx, runId, ["RUNNING"], "CANCELLED", { by, reason: "cancelled by user; no worker held the run" });
    },

    async requestCancel(tx: Tx, runId: string): Promise<void> {
      await tx`update scenario_run set cancel_requested = true, updated_at = clock_timestamp() where id = ${runId}`;
    },

    /** A named run's state, if the run is the scenario's (the outputs' check that it SUCCEEDED). */
    async stateOf(runId: string, scenarioId: string): Promise<RunState | undefined> {
      const [run] = await sql<{ state: RunState }[]>`select state from scenario_run where id = ${runId} and scenario_id = ${scenarioId}`;
      return run?.state;
    },

    /** The scenario's run whose outputs readers see by default: the one that finished SUCCEEDED last. */
    async latestSucceeded(scenarioId: string): Promise<string | undefined> {
      const [latest] = await sql<{ id: string }[]>`
        select id::text as id from scenario_run where scenario_id = ${scenarioId} and state = 'SUCCEEDED'
        order by finished_at desc nulls last, created_at desc, scenario_run.id desc limit 1`;
      return latest?.id;
    },

    /** Every SUCCEEDED run of the tenant's scenario (an output store without the runs table filters by them). */
    async succeededIds(scenarioId: string, tenantId: string): Promise<string[]> {
      const runs = await sql<{ id: string }[]>`
        select id::text as id from scenario_run
        where scenario_id = ${scenarioId}::uuid and tenant_id = ${tenantId} and state = 'SUCCEEDED'`;
      return runs.map((r) => r.id);
    },

    /** Keeps inputs resolved for a run queued before they were recorded, unless some were meanwhile; returns the kept ones. */
    async keepInputs(runId: string, inputs: RunInputs): Promise<RunInputs | undefined> {
      const [kept] = await sql<{ inputs: RunInputs }[]>`
        update scenario_run set inputs = coalesce(inputs, ${sql.json(inputs as never)}) where id = ${runId} returning inputs`;
      return kept?.inputs;
    },
  };
  const { transition } = states;
  return states;
}

/** What a worker claims: claimable runs, fairness between tenants, lapsed leases. */
function runClaims(q: RunSql) {
  const { sql, columns, lapsed, queued, tenantLoad, queuedTenants, firstDue } = q;
  return {
    /**
     * Locks a run that a worker may claim (QUEUED, no cancel requested), skipping it when another
     * transaction is changing it. `for no key update`, the lock the claim's UPDATE takes anyway: a
     * transaction that only inserts a row referring to the run (an event; its foreign key check
     * holds `for key share` until it commits) no longer makes the claim skip the run.
     */
    async lockClaimable(tx: Tx, runId: string): Promise<RunRecord | undefined> {
      const [run] = await tx<RunRecord[]>`
        select ${columns} from scenario_run where id = ${runId} and ${queued} for no key update skip locked`;
      return run;
    },

    /** A claimed run's attempt begins: one more attempt, and the lease of `owner` for `ms`. */
    async startAttempt(tx: Tx, runId: string, owner: string, ms: number): Promise<RunRecord | undefined> {
      const [leased] = await tx<RunRecord[]>`
        update scenario_run set attempts = attempts + 1, lease_owner = ${owner},
          lease_expires_at = clock_timestamp() + ${ms} * interval '1 millisecond'
        where id = ${runId} returning ${columns}`;
      return leased;
    },

    /**
     * Locks a RUNNING run (waiting for other holders); with `lapsed`, only if its lease lapsed. The
     * cancel request and the lease owner tell the caller what the run may become.
     */
    async lockRunning(tx: Tx, runId: string, o: { lapsed?: boolean } = {}): Promise<{ cancel_requested: boolean; lease_owner: string | null } | undefined> {
      const [row] = await tx<{ cancel_requested: boolean; lease_owner: string | null }[]>`
        select cancel_requested, lease_owner from scenario_run
        where id = ${runId} and state = 'RUNNING' ${o.lapsed ? tx`and ${lapsed}` : tx``} for update`;
      return row;
    },

    /** RUNNING runs no worker executes any more: a lapsed lease, or none (rows from before leases). */
    async lapsedIds(): Promise<string[]> {
      const rows = await sql<{ id: string }[]>`select id::text as id from scenario_run where state = 'RUNNING' and ${lapsed}`;
      return rows.map((r) => r.id);
    },

    /**
     * True when another tenant with a due QUEUED run ranks ahead of `tenantId` as nextQueued ranks
     * tenants: fewer RUNNING runs first, then least recently served.
     */
    async otherTenantAhead(tx: Tx, tenantId: string): Promise<boolean> {
      const [ahead] = await tx`
        with recursive ${queuedTenants}, rank as (
          select t.tenant_id, load.running, coalesce(last.served, '-infinity'::timestamptz) as served
          from (select ${tenantId}::text as tenant_id union select t.tenant_id from tenants t ${firstDue()} where t.tenant_id <> ${tenantId}) t
          ${tenantLoad}
        )
        select 1 from rank other, rank mine
        where mine.tenant_id = ${tenantId} and other.tenant_id <> ${tenantId}
          and (other.running, other.served) < (mine.running, mine.served)
        limit 1`;
      return ahead !== undefined;
    },

    /**
     * The next claimable run id, fair across tenants (docs/runs.md "Fairness"): each tenant with due
     * runs offers its first one (highest priority, then oldest); of those, the tenant with the fewest
     * RUNNING runs goes first, then the one served least recently (its latest claim), and only then
     * priority and age. Runs in `except` are passed over (ones a claim could not lock just now): the
     * tenant offers its next due run instead.
     */
    async nextQueued(except: readonly string[] = []): Promise<string | undefined> {
      const [row] = await sql<{ id: string }[]>`
        with recursive ${queuedTenants}
        select f.id::text as id
        from tenants t
        ${firstDue(except)}
        ${tenantLoad}
        order by load.running, last.served nulls first, f.rank, f.created_at, f.id
        limit 1`;
      return row?.id;
    },
  };
}

/** A worker's lease and bookkeeping: heartbeats, hand-backs, results, and the counts the metrics report. */
function runLeases(q: RunSql) {
  const { sql } = q;
  return {
    /** Extends `owner`'s lease by `ms` and records progress; undefined when the run is no longer RUNNING under that lease. */
    async heartbeat(runId: string, owner: string, ms: number, progress: number): Promise<{ cancel_requested: boolean } | undefined> {
      const [row] = await sql<{ cancel_requested: boolean }[]>`
        update scenario_run set lease_expires_at = clock_timestamp() + ${ms} * interval '1 millisecond', progress = ${progress}, updated_at = clock_timestamp()
        where id = ${runId} and state = 'RUNNING' and lease_owner = ${owner}
        returning cancel_requested`;
      return row;
    },

    /** A run put back to QUEUED waits `delayMs` before it can be claimed; a hand-back also returns the attempt it used. */
    async deferAttempt(tx: Tx, runId: string, delayMs: number, handBack: boolean): Promise<void> {
      await tx`update scenario_run set next_attempt_at = clock_timestamp() + ${delayMs} * interval '1 millisecond',
               attempts = attempts - ${handBack ? 1 : 0} where id = ${runId}`;
    },

    /** What a SUCCEEDED run produced: its row count and band statistics. */
    async recordResult(tx: Tx, runId: string, rows: number, bandStats: unknown): Promise<void> {
      await tx`update scenario_run set rows_written = ${rows}, band_stats = ${bandStats ? tx.json(bandStats as never) : null} where id = ${runId}`;
    },

    /**
     * RUNNING runs whose lease lapsed more than `graceMs` ago, or that have none: the reclaimer should
     * have taken them back, so a count that stays above 0 means no worker is reclaiming.
     */
    async countLeaseLapsed(graceMs: number): Promise<number> {
      const [row] = await sql<{ n: number }[]>`
        select count(*)::int as n from scenario_run
        where state = 'RUNNING' and (lease_expires_at is null or lease_expires_at < clock_timestamp() - ${graceMs} * interval '1 millisecond')`;
      return row?.n ?? 0;
    },

    /** QUEUED and RUNNING runs by state (the claim index covers both). */
    async countLive(): Promise<{ state: string; n: number }[]> {
      return sql<{ state: string; n: number }[]>`
        select state, count(*)::int as n from scenario_run where state in ('QUEUED', 'RUNNING') group by state`;
    },
  };
}

export type RunRepo = ReturnType<typeof createRunRepo>;

/**
 * Worker-side SQL: claiming runs (with a lease), heartbeats, retry scheduling, reclaiming runs
 * whose worker died, and loading a run's engine input (its recorded inputs + their curve snapshot).
 */
import type { Sql, Tx } from "../adapters/postgres";
import { createCurveRepo } from "../curves/repo";
import { DEFAULT_PARAMETERS, type EngineInput, type ModelParameters } from "../engine/types";
import { normalizeParameters } from "../engine/validate";
import { type RunInputs, resolveInputs, snapshotCurves, toEngineInput } from "../runs/inputs";
import type { RunRecord } from "../runs/model";
import type { RunQueue } from "../runs/queue";
import { createRunRepo, LEASE_LAPSED } from "../runs/repo";

/** `queue` is told about every run this store puts back to QUEUED (Kafka mode publishes it again). */
export function createRunStore(sql: Sql, workerId: string, leaseMs: number, queue?: RunQueue) {
  const runs = createRunRepo(sql);
  const curveRepo = createCurveRepo(sql);
  const lapsed = sql.unsafe(LEASE_LAPSED);

  /** Runs queued before migration 010 have no inputs: resolve them from the scenario as it is now and keep them. */
  async function recordLegacyInputs(run: RunRecord): Promise<RunInputs> {
    const [scenario] = await sql<{ assumptions: { driver_type: string; payload: Record<string, unknown> }[]; parameters: Record<string, unknown> }[]>`
      select assumptions, parameters from scenario where id = ${run.scenario_id}`;
    if (!scenario) throw Object.assign(new Error("the run's scenario no longer exists"), { name: "EngineValidationError" });
    let inputs: RunInputs;
    try {
      inputs = await resolveInputs(curveRepo, {
        assumptions: scenario.assumptions,
        parameters: { ...scenario.parameters, ...run.parameters },
        codeVersion: run.code_version,
        seed: run.seed,
      });
    } catch (err) {
      throw Object.assign(new Error((err as Error).message), { name: "EngineValidationError" });
    }
    const [kept] = await sql<{ inputs: RunInputs }[]>`
      update scenario_run set inputs = coalesce(inputs, ${sql.json(inputs as never)}) where id = ${run.id} returning inputs`;
    return kept?.inputs ?? inputs;
  }

  /** One run of reclaimExpired, locked and checked again: its worker may have heartbeaten since the scan. */
  async function reclaimOne(tx: Tx, id: string): Promise<RunRecord | undefined> {
    const [row] = await tx<{ cancel_requested: boolean }[]>`
      select cancel_requested from scenario_run
      where id = ${id} and state = 'RUNNING' and ${lapsed} for update`;
    if (!row) return undefined;
    if (row.cancel_requested) return runs.transition(tx, id, ["RUNNING"], "CANCELLED", { by: workerId, reason: "cancelled by user; its lease lapsed" });
    const back = await runs.transition(tx, id, ["RUNNING"], "QUEUED", { by: workerId, reason: "lease expired; worker presumed dead" });
    if (back) await queue?.enqueue(tx, back, { requestId: `reclaim-${id}` });
    return back;
  }
  const store = {
    runs,

    /** QUEUED → RUNNING with a fresh lease, unless cancelled or taken meanwhile. */
    async claim(runId: string): Promise<RunRecord | undefined> {
      return sql.begin(async (tx) => {
        const [ok] = await tx`select 1 from scenario_run where id = ${runId} and state = 'QUEUED' and not cancel_requested for update skip locked`;
        if (!ok) return undefined;
        const run = await runs.transition(tx, runId, ["QUEUED"], "RUNNING", { by: workerId, reason: "claimed" });
        if (!run) return undefined;
        const [leased] = await tx<RunRecord[]>`
          update scenario_run set attempts = attempts + 1, lease_owner = ${workerId},
            lease_expires_at = clock_timestamp() + ${leaseMs} * interval '1 millisecond'
          where id = ${runId} returning ${runs.columns}`;
        return leased;
      });
    },

    /**
     * RUNNING runs whose lease lapsed more than one lease ago, or that have none: the reclaimer
     * (every worker, every lease/3) should have taken them back, so a count that stays above 0 means
     * no worker is reclaiming (the AurumRunsStuck alert).
     */
    async countLeaseLapsed(): Promise<number> {
      const [row] = await sql<{ n: number }[]>`
        select count(*)::int as n from scenario_run
        where state = 'RUNNING' and (lease_expires_at is null or lease_expires_at < clock_timestamp() - ${leaseMs} * interval '1 millisecond')`;
      return row?.n ?? 0;
    },

    /** QUEUED and RUNNING runs by state (the claim index covers both). */
    async countLive(): Promise<{ state: string; n: number }[]> {
      return sql<{ state: string; n: number }[]>`
        select state, count(*)::int as n from scenario_run where state in ('QUEUED', 'RUNNING') group by state`;
    },

    /**
     * Kafka mode's claim (docs/runs.md "Fairness across tenants"). Messages come in partition order,
     * so a worker cannot pick another tenant's run ahead of the one it was handed; instead, when
     * another tenant with a due QUEUED run ranks ahead of this run's tenant in nextQueued's order
     * (fewer RUNNING runs, or as many and served less recently), this run is not claimed but
     * published again after `delayMs` (an outbox row, in the transaction that decides it), and the
     * message is done. The ranking is a strict order, so two tenants never defer to each other at
     * once; one run is deferred at most `maxDeferrals` times, so a run of another tenant whose
     * message never comes costs a bounded number of republished messages.
     * Without a queue (embedded mode) this is `claim`.
     */
    async claimFair(runId: string, delayMs: number, maxDeferrals = 10): Promise<RunRecord | "deferred" | undefined> {
      if (!queue) return store.claim(runId);
      const deferred = await sql.begin(async (tx) => {
        const [run] = await tx<RunRecord[]>`
          select ${runs.columns} from scenario_run where id = ${runId} and state = 'QUEUED' and not cancel_requested for update skip locked`;
        if (!run) return false;
        // Tenants ranked as nextQueued ranks them: fewer RUNNING runs first, then least recently served.
        const [ahead] = await tx<{ deferrals: number }[]>`
          with rank as (
            select r.tenant_id,
                   (select count(*) from scenario_run x where x.tenant_id = r.tenant_id and x.state = 'RUNNING') as running,
                   coalesce((select max(x.started_at) from scenario_run x where x.tenant_id = r.tenant_id), '-infinity'::timestamptz) as served
            from (
              select ${run.tenant_id}::text as tenant_id
              union
              select distinct tenant_id from scenario_run
              where state = 'QUEUED' and next_attempt_at <= clock_timestamp() and not cancel_requested and tenant_id <> ${run.tenant_id}
            ) r
          )
          select (select count(*)::int from run_outbox o where o.run_id = ${runId} and o.headers->>'request_id' like 'fair-%') as deferrals
          from rank other, rank mine
          where mine.tenant_id = ${run.tenant_id} and other.tenant_id <> ${run.tenant_id}
            and (other.running, other.served) < (mine.running, mine.served)
          limit 1`;
        if (!ahead || ahead.deferrals >= maxDeferrals) return false;
        await queue.enqueue(tx, run, { requestId: `fair-${runId}-${ahead.deferrals + 1}`, delayMs });
        return true;
      });
      return deferred ? "deferred" : store.claim(runId);
    },

    /**
     * The next claimable run id, fair across tenants (docs/runs.md "Fairness"): each tenant with due
     * runs offers its first one (highest priority, then oldest); of those, the tenant with the fewest
     * RUNNING runs goes first, then the one served least recently (its latest claim), and only then
     * priority and age. A tenant's backlog, whatever its priority, delays another tenant's run by at
     * most about one run per worker thread.
     */
    async nextQueued(): Promise<string | undefined> {
      const [row] = await sql<{ id: string }[]>`
        with due as (
          select id, tenant_id, created_at,
                 case priority when 'CRITICAL' then 0 when 'HIGH' then 1 when 'NORMAL' then 2 else 3 end as rank
          from scenario_run
          where state = 'QUEUED' and next_attempt_at <= clock_timestamp() and not cancel_requested
        ),
        head as (
          select distinct on (tenant_id) id, tenant_id, rank, created_at from due order by tenant_id, rank, created_at, id
        )
        select head.id::text as id
        from head
        cross join lateral (
          select count(*) as running from scenario_run r where r.tenant_id = head.tenant_id and r.state = 'RUNNING'
        ) load
        left join lateral (
          select r.started_at as served from scenario_run r
          where r.tenant_id = head.tenant_id and r.started_at is not null order by r.started_at desc limit 1
        ) last on true
        order by load.running, last.served nulls first, head.rank, head.created_at, head.id
        limit 1`;
      return row?.id;
    },

    /** Extends this worker's lease; says whether to keep going (false: cancelled, reclaimed or gone). */
    async heartbeat(runId: string, progress: number): Promise<{ keep: boolean; cancelled: boolean }> {
      const [row] = await sql<{ cancel_requested: boolean }[]>`
        update scenario_run set lease_expires_at = clock_timestamp() + ${leaseMs} * interval '1 millisecond', progress = ${progress}, updated_at = clock_timestamp()
        where id = ${runId} and state = 'RUNNING' and lease_owner = ${workerId}
        returning cancel_requested`;
      if (!row) return { keep: false, cancelled: false };
      return { keep: !row.cancel_requested, cancelled: row.cancel_requested };
    },

    /**
     * RUNNING runs no worker executes any more (lease lapsed, or none at all on rows from before
     * leases) go back to QUEUED, or end CANCELLED when a cancel was requested: a cancel must not
     * turn into another attempt. Returns the ids of the runs it moved.
     */
    async reclaimExpired(): Promise<string[]> {
      const expired = await sql<{ id: string }[]>`
        select id::text as id from scenario_run where state = 'RUNNING' and ${lapsed}`;
      const reclaimed: string[] = [];
      for (const { id } of expired) {
        if (await sql.begin((tx) => reclaimOne(tx, id))) reclaimed.push(id);
      }
      return reclaimed;
    },

    /**
     * RUNNING → QUEUED, claimable again after `delayMs`; a hand-back also returns the attempt it used.
     * A run whose cancel was requested meanwhile ends CANCELLED instead (check the returned state):
     * queued with `cancel_requested` it would never be claimed again, nor end.
     */
    async scheduleRetry(runId: string, delayMs: number, error: Record<string, unknown>, handBack = false): Promise<RunRecord | undefined> {
      return sql.begin(async (tx) => {
        const [row] = await tx<{ cancel_requested: boolean }[]>`select cancel_requested from scenario_run where id = ${runId} and state = 'RUNNING' for update`;
        if (row?.cancel_requested) return runs.transition(tx, runId, ["RUNNING"], "CANCELLED", { by: workerId, reason: "cancelled by user" });
        const run = await runs.transition(tx, runId, ["RUNNING"], "QUEUED", { by: workerId, reason: handBack ? "handed back on shutdown" : `retry in ${delayMs} ms`, error });
        if (run) {
          await tx`update scenario_run set next_attempt_at = clock_timestamp() + ${delayMs} * interval '1 millisecond',
                   attempts = attempts - ${handBack ? 1 : 0} where id = ${runId}`;
          await queue?.enqueue(tx, run, { requestId: `retry-${runId}-${run.attempts}`, delayMs });
        }
        return run;
      });
    },

    /** RUNNING → FAILED or CANCELLED; a FAILED run with an error also gets its dead-letter message in the same transaction. */
    async finish(runId: string, to: "FAILED" | "CANCELLED", reason: string, error?: Record<string, unknown>): Promise<RunRecord | undefined> {
      return sql.begin(async (tx) => {
        const run = await runs.transition(tx, runId, ["RUNNING"], to, { by: workerId, reason, ...(error ? { error } : {}) });
        if (run && to === "FAILED" && error) await queue?.deadLetter(tx, run, error);
        return run;
      });
    },

    /**
     * The engine input of a run: exactly its recorded inputs, with the curve rows they name (whose
     * hashes must still match). A run triggered before inputs were recorded gets them now, once.
     */
    async engineInput(run: RunRecord): Promise<EngineInput> {
      const inputs = run.inputs ?? (await recordLegacyInputs(run));
      const curves = snapshotCurves(inputs.curves, await curveRepo.readSnapshots(inputs.curves));
      const issues: { field: string; message: string }[] = [];
      const merged: Record<string, unknown> = { ...inputs.parameters, seed: inputs.options.seed };
      // Only the model's own keys; the rest of `parameters` is the user's metadata.
      const modelKeys = Object.fromEntries(
        Object.keys(DEFAULT_PARAMETERS)
          .filter((k) => k in merged)
          .map((k) => [k, merged[k]]),
      );
      const parameters = normalizeParameters(modelKeys as Partial<ModelParameters>, issues);
      if (issues.length) throw Object.assign(new Error(`invalid parameters: ${issues.map((i) => `${i.field} ${i.message}`).join("; ")}`), { name: "EngineValidationError" });
      return toEngineInput(run, inputs, curves, parameters);
    },
  };
  return store;
}

export type RunStore = ReturnType<typeof createRunStore>;

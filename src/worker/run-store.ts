/**
 * Worker-side SQL: claiming runs (with a lease), heartbeats, retry scheduling, reclaiming runs
 * whose worker died, and loading a run's engine input (its recorded inputs + their curve snapshot).
 */
import type { Sql } from "../adapters/postgres";
import { createCurveRepo } from "../curves/repo";
import { DEFAULT_PARAMETERS, type EngineInput, type ModelParameters } from "../engine/types";
import { normalizeParameters } from "../engine/validate";
import { type RunInputs, resolveInputs, snapshotCurves, toEngineInput } from "../runs/inputs";
import type { RunRecord } from "../runs/model";
import type { RunQueue } from "../runs/queue";
import { createRunRepo, type Tx } from "../runs/repo";

/** `queue` is told about every run this store puts back to QUEUED (Kafka mode publishes it again). */
export function createRunStore(sql: Sql, workerId: string, leaseMs: number, queue?: RunQueue) {
  const runs = createRunRepo(sql);
  const curveRepo = createCurveRepo(sql);

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
      where id = ${id} and state = 'RUNNING' and (lease_expires_at is null or lease_expires_at < clock_timestamp()) for update`;
    if (!row) return undefined;
    if (row.cancel_requested) return runs.transition(tx, id, ["RUNNING"], "CANCELLED", { by: workerId, reason: "cancelled by user; its lease lapsed" });
    const back = await runs.transition(tx, id, ["RUNNING"], "QUEUED", { by: workerId, reason: "lease expired; worker presumed dead" });
    if (back) await queue?.enqueue(tx, back, { requestId: `reclaim-${id}` });
    return back;
  }
  return {
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

    /** The next claimable run id, highest priority first, oldest first. */
    async nextQueued(): Promise<string | undefined> {
      const [row] = await sql<{ id: string }[]>`
        select id::text as id from scenario_run
        where state = 'QUEUED' and next_attempt_at <= clock_timestamp() and not cancel_requested
        order by case priority when 'CRITICAL' then 0 when 'HIGH' then 1 when 'NORMAL' then 2 else 3 end, created_at
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
        select id::text as id from scenario_run where state = 'RUNNING' and (lease_expires_at is null or lease_expires_at < clock_timestamp())`;
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
}

export type RunStore = ReturnType<typeof createRunStore>;

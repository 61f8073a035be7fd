/**
 * The worker's side of the runs: claiming runs (with a lease), heartbeats, retry scheduling,
 * reclaiming runs whose worker died, and loading a run's engine input (its recorded inputs + their
 * curve snapshot). The SQL is the repositories'; this module decides what commits together.
 */
import type { Transaction, Tx } from "../adapters/postgres";
import type { CurveRepo } from "../curves/repo";
import { DEFAULT_PARAMETERS, type EngineInput, type ModelParameters } from "../engine/types";
import { EngineValidationError, normalizeParameters } from "../engine/validate";
import { AppError } from "../platform/errors";
import { type RunInputs, resolveInputs, snapshotCurves, toEngineInput } from "../runs/inputs";
import type { RunRecord } from "../runs/model";
import type { OutboxRepo } from "../runs/outbox";
import type { RunQueue } from "../runs/queue";
import type { RunRepo } from "../runs/repo";
import type { ScenarioRepo } from "../scenarios/repo";

export type RunStorePorts = {
  transaction: Transaction;
  runs: RunRepo;
  scenarios: Pick<ScenarioRepo, "get">;
  curves: Pick<CurveRepo, "latestAsof" | "snapshotsAsOf" | "readSnapshots">;
  outbox: Pick<OutboxRepo, "countRequests">;
};

/** The request id prefix of a fair claim's deferral (counted to bound how often one run is deferred). */
const FAIR_DEFERRAL = "fair-";

/** Runs queued before migration 010 have no inputs: resolve them from the scenario as it is now and keep them. */
async function recordLegacyInputs(ports: RunStorePorts, run: RunRecord): Promise<RunInputs> {
  const scenario = await ports.scenarios.get(run.scenario_id, null);
  if (!scenario) throw new EngineValidationError("the run's scenario no longer exists");
  let inputs: RunInputs;
  try {
    inputs = await resolveInputs(ports.curves, {
      assumptions: scenario.assumptions,
      parameters: { ...scenario.parameters, ...run.parameters },
      codeVersion: run.code_version,
      seed: run.seed,
    });
  } catch (err) {
    // The inputs refused (no curve for the as-of date): the run's own fault, as the engine's refusal
    // would be. Anything else (the database away) stays what it is, and is classified as such.
    if (err instanceof AppError && !err.retryable) throw new EngineValidationError(err.message);
    throw err;
  }
  return (await ports.runs.keepInputs(run.id, inputs)) ?? inputs;
}

/** One run of reclaimExpired, locked and checked again: its worker may have heartbeaten since the scan. */
async function reclaimOne(runs: RunStorePorts["runs"], tx: Tx, id: string, workerId: string, queue: RunQueue | undefined): Promise<RunRecord | undefined> {
  const row = await runs.lockRunning(tx, id, { lapsed: true });
  if (!row) return undefined;
  if (row.cancel_requested) return runs.transition(tx, id, ["RUNNING"], "CANCELLED", { by: workerId, reason: "cancelled by user; its lease lapsed" });
  const back = await runs.transition(tx, id, ["RUNNING"], "QUEUED", { by: workerId, reason: "lease expired; worker presumed dead" });
  if (back) await queue?.enqueue(tx, back, { requestId: `reclaim-${id}` });
  return back;
}

/** `queue` is told about every run this store puts back to QUEUED (Kafka mode publishes it again). */
export function createRunStore(ports: RunStorePorts, workerId: string, leaseMs: number, queue?: RunQueue) {
  const { transaction, runs } = ports;

  const store = {
    runs,
    /** The unit of work a run's outputs commit in (executor.ts). */
    transaction,

    /** QUEUED → RUNNING with a fresh lease, unless cancelled or taken meanwhile. */
    async claim(runId: string): Promise<RunRecord | undefined> {
      return transaction(async (tx) => {
        if (!(await runs.lockClaimable(tx, runId))) return undefined;
        const run = await runs.transition(tx, runId, ["QUEUED"], "RUNNING", { by: workerId, reason: "claimed" });
        if (!run) return undefined;
        return runs.startAttempt(tx, runId, workerId, leaseMs);
      });
    },

    /**
     * RUNNING runs whose lease lapsed more than one lease ago, or that have none: the reclaimer
     * (every worker, every lease/3) should have taken them back, so a count that stays above 0 means
     * no worker is reclaiming (the AurumRunsStuck alert).
     */
    countLeaseLapsed: (): Promise<number> => runs.countLeaseLapsed(leaseMs),

    /** QUEUED and RUNNING runs by state (the claim index covers both). */
    countLive: () => runs.countLive(),

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
      const deferred = await transaction(async (tx) => {
        const run = await runs.lockClaimable(tx, runId);
        if (!run) return false;
        if (!(await runs.otherTenantAhead(tx, run.tenant_id))) return false;
        const deferrals = await ports.outbox.countRequests(tx, runId, FAIR_DEFERRAL);
        if (deferrals >= maxDeferrals) return false;
        await queue.enqueue(tx, run, { requestId: `${FAIR_DEFERRAL}${runId}-${deferrals + 1}`, delayMs });
        return true;
      });
      return deferred ? "deferred" : store.claim(runId);
    },

    /**
     * The next claimable run id, fair across tenants (docs/runs.md "Fairness"); a tenant's backlog,
     * whatever its priority, delays another tenant's run by at most about one run per worker thread.
     */
    nextQueued: (except?: readonly string[]): Promise<string | undefined> => runs.nextQueued(except),

    /** Extends this worker's lease; says whether to keep going (false: cancelled, reclaimed or gone). */
    async heartbeat(runId: string, progress: number): Promise<{ keep: boolean; cancelled: boolean }> {
      const row = await runs.heartbeat(runId, workerId, leaseMs, progress);
      if (!row) return { keep: false, cancelled: false };
      return { keep: !row.cancel_requested, cancelled: row.cancel_requested };
    },

    /**
     * RUNNING runs no worker executes any more (lease lapsed, or none at all on rows from before
     * leases) go back to QUEUED, or end CANCELLED when a cancel was requested: a cancel must not
     * turn into another attempt. Returns the ids of the runs it moved.
     */
    async reclaimExpired(): Promise<string[]> {
      const reclaimed: string[] = [];
      for (const id of await runs.lapsedIds()) {
        if (await transaction((tx) => reclaimOne(runs, tx, id, workerId, queue))) reclaimed.push(id);
      }
      return reclaimed;
    },

    /**
     * RUNNING → QUEUED, claimable again after `delayMs`; a hand-back also returns the attempt it used.
     * A run whose cancel was requested meanwhile ends CANCELLED instead (check the returned state):
     * queued with `cancel_requested` it would never be claimed again, nor end.
     */
    async scheduleRetry(runId: string, delayMs: number, error: Record<string, unknown>, handBack = false): Promise<RunRecord | undefined> {
      return transaction(async (tx) => {
        const row = await runs.lockRunning(tx, runId);
        if (row?.cancel_requested) return runs.transition(tx, runId, ["RUNNING"], "CANCELLED", { by: workerId, reason: "cancelled by user" });
        const run = await runs.transition(tx, runId, ["RUNNING"], "QUEUED", { by: workerId, reason: handBack ? "handed back on shutdown" : `retry in ${delayMs} ms`, error });
        if (run) {
          await runs.deferAttempt(tx, runId, delayMs, handBack);
          await queue?.enqueue(tx, run, { requestId: `retry-${runId}-${run.attempts}`, delayMs });
        }
        return run;
      });
    },

    /** RUNNING → FAILED or CANCELLED; a FAILED run with an error also gets its dead-letter message in the same transaction. */
    async finish(runId: string, to: "FAILED" | "CANCELLED", reason: string, error?: Record<string, unknown>): Promise<RunRecord | undefined> {
      return transaction(async (tx) => {
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
      const inputs = run.inputs ?? (await recordLegacyInputs(ports, run));
      const curves = snapshotCurves(inputs.curves, await ports.curves.readSnapshots(inputs.curves));
      const issues: { field: string; message: string }[] = [];
      const merged: Record<string, unknown> = { ...inputs.parameters, seed: inputs.options.seed };
      // Only the model's own keys; the rest of `parameters` is the user's metadata.
      const modelKeys = Object.fromEntries(
        Object.keys(DEFAULT_PARAMETERS)
          .filter((k) => k in merged)
          .map((k) => [k, merged[k]]),
      );
      const parameters = normalizeParameters(modelKeys as Partial<ModelParameters>, issues);
      if (issues.length) throw new EngineValidationError(`invalid parameters: ${issues.map((i) => `${i.field} ${i.message}`).join("; ")}`);
      return toEngineInput(run, inputs, curves, parameters);
    },
  };
  return store;
}

export type RunStore = ReturnType<typeof createRunStore>;

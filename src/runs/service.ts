/**
 * Run use cases: trigger with fingerprint/idempotency dedupe (run, event and queue entry in one
 * transaction), reads, cancellation and admin state changes through the state machine.
 */
import type { Transaction, Tx } from "../adapters/postgres";
import type { CurveSnapshots } from "../curves/snapshots";
import type { FeatureGate } from "../flags/service";
import { authorize, authorizePriority, type Principal, resolveTenant } from "../platform/auth";
import { newestFirstPage } from "../platform/cursor";
import { AppError, badRequest, conflict, type FieldIssue, notFound } from "../platform/errors";
import { normalizeEnum } from "../platform/schema";
import { isCalendarDate, parseCreatedRange } from "../platform/time";
import { validateModelParameters } from "../scenarios/drivers";
import type { ScenarioRepo } from "../scenarios/repo";
import { fingerprint } from "./fingerprint";
import { resolveInputs } from "./inputs";
import { PRIORITIES, type RunOptionsInput, type RunRecord } from "./model";
import type { RunQueue } from "./queue";
import type { NewRun, RunRepo } from "./repo";
import { ADMIN_LEASE_PREFIX, canTransition, RUN_STATES, type RunState, TERMINAL } from "./state";

/** The request a trigger comes from: its id and W3C trace id (src/platform/http.ts). */
export type RequestContext = { requestId: string; traceId: string };

export type Dedupe = "idempotency_key" | "fingerprint" | null;
export type TriggerResult = { run: RunRecord; deduplicated: Dedupe };

/** What the run service needs: the metadata ports, the queue, and the hooks of an admin's SUCCEEDED. */
export type RunServiceDeps = {
  /** The unit of work a trigger, a cancel and an admin state change each commit in. */
  transaction: Transaction;
  /** The curve store a trigger resolves its as-of date and curve snapshot against. */
  curves: CurveSnapshots;
  runs: RunRepo;
  scenarios: ScenarioRepo;
  queue: RunQueue;
  flags?: FeatureGate;
  /**
   * When an admin marks a run SUCCEEDED its outputs become readable: `onCommitting` runs inside that
   * transaction (the cache records the bump it owes), `onSucceeded` after it (the cache bumps); the
   * latter must not throw.
   */
  onCommitting?: (tx: Tx, run: RunRecord) => Promise<unknown>;
  onSucceeded?: (run: RunRecord) => Promise<unknown>;
  /** Length of the lease an admin's QUEUED → RUNNING takes (a worker's lease; default 30 s). */
  leaseMs?: number;
};

/** Triggers a run (docs/runs.md "Triggering"): resolved inputs, deduplicated, queued in one transaction with the scenario's version. */
function createTrigger(deps: RunServiceDeps) {
  const { transaction, runs, scenarios, queue } = deps;

  async function trigger(p: Principal, scenarioId: string, options: RunOptionsInput, ctx: RequestContext): Promise<TriggerResult> {
    authorize(p, "scenarios:run");
    authorizePriority(p, options.priority);
    const overrides = options.parameters ?? {};
    const issues: FieldIssue[] = validateModelParameters(overrides);
    if (options.asof_date !== undefined && !isCalendarDate(options.asof_date)) issues.push({ field: "/asof_date", location: "body", message: "must be a real date YYYY-MM-DD" });
    if (issues.length) throw badRequest("run options are invalid", issues);
    // The inputs are resolved from the scenario as read, then the run is written only if the
    // scenario still has that version (a concurrent PATCH makes us resolve again; a delete is a 404).
    for (let attempt = 1; ; attempt++) {
      const scenario = await scenarios.get(scenarioId, resolveTenant(p, undefined));
      if (!scenario) throw notFound("scenario");
      const parameters = { ...scenario.parameters, ...overrides };
      // A scenario saved under older rules (e.g. mc_paths below 100) is refused here, not failed by the worker.
      const stale = validateModelParameters(parameters);
      if (stale.length)
        throw badRequest("the scenario's parameters, with this run's overrides, are not valid for a run: PATCH the scenario or override them in `parameters`", stale);
      const inputs = await resolveInputs(deps.curves, {
        assumptions: scenario.assumptions,
        parameters,
        codeVersion: options.code_version ?? "v1",
        seed: options.seed ?? (typeof parameters.seed === "number" ? parameters.seed : 42),
        asofDate: options.asof_date,
      });
      const { inputHash, runKey } = fingerprint({ tenantId: scenario.tenant_id, scenarioId, scenarioVersion: scenario.version }, inputs);
      const candidate: NewRun = {
        scenarioId,
        tenantId: scenario.tenant_id,
        priority: normalizeEnum(PRIORITIES, options.priority ?? "NORMAL"),
        codeVersion: inputs.options.code_version,
        seed: inputs.options.seed,
        timeoutMinutes: options.timeout_minutes ?? 60,
        maxRetries: options.max_retries ?? 3,
        parameters: overrides,
        environment: options.environment ?? {},
        idempotencyKey: options.idempotency_key ?? null,
        inputHash,
        runKey,
        requestedBy: p.subject,
        inputs,
        traceId: ctx.traceId,
      };
      const result = await transaction(async (tx): Promise<TriggerResult | "stale"> => {
        // Held until commit: a delete of the scenario waits for this run (and then removes it with its runs).
        const version = await scenarios.lockVersion(tx, scenarioId);
        if (version === undefined) throw notFound("scenario");
        if (version !== scenario.version) return "stale";
        const existing = await runs.findEquivalent(candidate, tx);
        if (existing) return { run: existing.run, deduplicated: existing.by };
        const run = await runs.insert(tx, candidate);
        if (!run) {
          // A concurrent identical request won the unique index between our check and insert.
          const winner = await runs.findEquivalent(candidate);
          if (!winner) throw conflict("an equivalent run was created concurrently; retry");
          return { run: winner.run, deduplicated: winner.by };
        }
        await runs.event(tx, {
          tenantId: run.tenant_id,
          scenarioId,
          runId: run.id,
          type: "run_state_changed",
          payload: { from: null, to: "QUEUED", by: p.subject, reason: "triggered" },
        });
        await queue.enqueue(tx, run, { requestId: ctx.requestId });
        return { run, deduplicated: null };
      });
      if (result === "stale") {
        if (attempt < 3) continue;
        throw conflict("the scenario changed while the run was being triggered; retry");
      }
      if (result.deduplicated === null) queue.notify();
      return result;
    }
  }
  return trigger;
}

/** `runs:bulk`: each item triggered as by `trigger`; one bad item fails only itself (docs/runs.md "Bulk"). */
async function bulkTrigger(deps: RunServiceDeps, trigger: ReturnType<typeof createTrigger>, p: Principal, scenarioId: string, items: RunOptionsInput[], ctx: RequestContext) {
  authorize(p, "scenarios:run");
  // Before any item is created: one CRITICAL item without the permission refuses the whole request.
  for (const item of items) authorizePriority(p, item.priority);
  if (deps.flags) {
    const scenario = await deps.scenarios.get(scenarioId, resolveTenant(p, undefined));
    if (!scenario) throw notFound("scenario");
    await deps.flags.require(scenario.tenant_id, "bulk_runs");
  }
  const seen = new Map<string, number>();
  const issues: FieldIssue[] = [];
  items.forEach((item, i) => {
    if (item.idempotency_key === undefined) return;
    const first = seen.get(item.idempotency_key);
    if (first !== undefined) issues.push({ field: `/runs/${i}/idempotency_key`, location: "body", message: `repeats the key of /runs/${first}` });
    else seen.set(item.idempotency_key, i);
  });
  if (issues.length) throw badRequest("idempotency keys repeat within the request", issues);
  const results = [];
  for (const [index, item] of items.entries()) {
    try {
      const { run, deduplicated } = await trigger(p, scenarioId, item, ctx);
      results.push(deduplicated ? { index, status: "duplicate" as const, run, duplicate_of: run.id, reason: deduplicated } : { index, status: "created" as const, run });
    } catch (err) {
      // The scenario itself missing or forbidden fails the whole request; one bad item fails only itself.
      if (err instanceof AppError && (err.status === 404 || err.status === 403)) throw err;
      if (!(err instanceof AppError)) throw err;
      results.push({ index, status: "failed" as const, reason: err.message, error: { code: err.code, details: err.details } });
    }
  }
  return results;
}

export function createRunService(deps: RunServiceDeps) {
  const { transaction, runs, scenarios, queue } = deps;
  const trigger = createTrigger(deps);

  async function getScoped(p: Principal, runId: string, scenarioId?: string): Promise<RunRecord> {
    const run = await runs.get(runId, resolveTenant(p, undefined));
    if (!run || (scenarioId !== undefined && run.scenario_id !== scenarioId)) throw notFound("run");
    return run;
  }

  return {
    trigger,

    bulk: (p: Principal, scenarioId: string, items: RunOptionsInput[], ctx: RequestContext) => bulkTrigger(deps, trigger, p, scenarioId, items, ctx),

    async get(p: Principal, scenarioId: string, runId: string): Promise<RunRecord> {
      authorize(p, "scenarios:read");
      return getScoped(p, runId, scenarioId);
    },

    async list(p: Principal, scenarioId: string, q: { limit?: number; cursor?: string; state?: string; created_after?: string; created_before?: string; tenant_id?: string }) {
      authorize(p, "scenarios:read");
      const tenantId = resolveTenant(p, q.tenant_id);
      if (!(await scenarios.get(scenarioId, tenantId))) throw notFound("scenario");
      const created = parseCreatedRange(q);
      const filter = {
        scenarioId,
        tenantId,
        ...(q.state ? { state: normalizeEnum(RUN_STATES, q.state.toUpperCase()) } : {}),
        ...created,
      };
      const limit = q.limit ?? 20;
      const { items, nextCursor } = await newestFirstPage({
        cursor: q.cursor,
        limit,
        filter,
        fetch: (after) => runs.list(filter, limit, after),
      });
      return { items, limit, nextCursor };
    },

    /**
     * Idempotent: QUEUED → CANCELLED at once; RUNNING with no worker executing it (no lease, a lapsed
     * or an admin's lease) → CANCELLED at once; RUNNING in a worker → cancel requested (the worker
     * aborts; if it died, the reclaimer ends the run when its lease lapses); CANCELLED stays; finished → 409.
     */
    async cancel(p: Principal, runId: string): Promise<RunRecord> {
      authorize(p, "scenarios:run");
      const run = await getScoped(p, runId);
      if (run.state === "CANCELLED") return run;
      if (run.state === "SUCCEEDED" || run.state === "FAILED") throw conflict(`run is already ${run.state}; only QUEUED or RUNNING runs can be cancelled`, { state: run.state });
      const updated = await transaction(async (tx) => {
        const queued = await runs.transition(tx, runId, ["QUEUED"], "CANCELLED", { by: p.subject, reason: "cancelled by user" });
        if (queued) return queued;
        const unattended = await runs.cancelUnattended(tx, runId, p.subject);
        if (unattended) return unattended;
        await runs.requestCancel(tx, runId);
        return runs.get(runId, null, tx);
      });
      queue.cancel(runId);
      const now = updated ?? run;
      // A run that finished between our read and the update is reported as it is.
      if (now.state === "SUCCEEDED" || now.state === "FAILED") throw conflict(`run is already ${now.state}; only QUEUED or RUNNING runs can be cancelled`, { state: now.state });
      return now;
    },

    /**
     * Admin: any transition the state machine allows, nothing else. FAILED records the reason on the
     * run's `error`; RUNNING takes a lease like a worker's claim, so a run nobody executes is queued
     * again when it lapses instead of staying RUNNING for ever.
     */
    async setState(p: Principal, runId: string, target: string, reason: string | undefined): Promise<RunRecord> {
      authorize(p, "admin:*");
      const to = normalizeEnum(RUN_STATES, target.toUpperCase()) as RunState;
      const run = await getScoped(p, runId);
      const from = run.state as RunState;
      if (!canTransition(from, to)) throw conflict(`illegal transition ${from} → ${to}`, { from, to, allowed: RUN_STATES.filter((s) => canTransition(from, s)) });
      const error = to === "FAILED" ? { code: "ADMIN_FAILED", message: reason?.trim() || "marked FAILED by an administrator", by: p.subject } : undefined;
      const updated = await transaction(async (tx) => {
        let r = await runs.transition(tx, runId, [from], to, { by: p.subject, reason: reason ?? "admin state change", ...(error ? { error } : {}) });
        if (r && to === "RUNNING") r = await runs.lease(tx, runId, `${ADMIN_LEASE_PREFIX}${p.subject}`, deps.leaseMs ?? 30_000);
        if (r && to === "QUEUED") await queue.enqueue(tx, r, { requestId: "admin" });
        if (r && to === "SUCCEEDED") await deps.onCommitting?.(tx, r);
        return r;
      });
      if (!updated) throw conflict(`run changed state concurrently (was ${from}); read it again`, { from });
      if (to === "QUEUED") queue.notify();
      if (TERMINAL.has(to)) queue.cancel(runId);
      if (to === "SUCCEEDED") await deps.onSucceeded?.(updated);
      return updated;
    },
  };
}

export type RunService = ReturnType<typeof createRunService>;

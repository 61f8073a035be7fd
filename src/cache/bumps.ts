/**
 * Version bumps that survive a crash or a Redis outage. A change that needs its tenant's version
 * bumped writes a row into `cache_bump_pending` inside its own transaction (`record`); after the
 * commit, `settle` bumps and deletes the rows the bump covered. A row left behind, because the
 * process died between its commit and the bump or Redis did not answer, is bumped by `sweep`, which
 * every process with a shared (Redis) cache runs each second: the stale window after a lost bump is
 * then about a second after Redis answers again, not the entries' TTL (docs/cache.md).
 *
 * A bump covers the rows that were committed before it started: `settle` and `sweep` read the rows
 * first (only committed rows are visible), then bump, then delete exactly those rows.
 *
 * With a cache that is not shared (process memory, or none) there is nothing to lose between the
 * commit and the bump but the process itself, which takes its cache along: no rows are written.
 */
import type { Tx } from "../adapters/postgres";
import type { Logger } from "../platform/logger";
import type { BumpRepo, OwedBump as Owed } from "./bump-repo";
import { INVALIDATION_REASONS, type Invalidation, type InvalidationReason } from "./events";
import type { ScenarioCache } from "./service";

export type CacheBumps = {
  /** Inside the change's transaction: the bump it owes. */
  record(tx: Tx, inv: Invalidation): Promise<void>;
  /** After the commit: bumps now. Never throws; a failed bump stays owed. */
  settle(inv: Invalidation): Promise<void>;
  /** Bumps what is owed for longer than the grace period; answers how many rows it settled. */
  sweep(): Promise<number>;
  /** Sweeps every `everyMs` until the returned function is called. */
  startSweeping(everyMs?: number): () => void;
};

/** Without a shared cache: bump after the commit, nothing recorded. */
export function immediateBumps(cache: ScenarioCache): CacheBumps {
  return {
    record: async () => {},
    settle: async (inv) => {
      await cache.invalidate(inv).catch(() => null);
    },
    sweep: async () => 0,
    startSweeping: () => () => {},
  };
}

/**
 * The worker's hooks (ExecutorOptions): the bump is recorded in the transaction that commits a run's
 * outputs and its SUCCEEDED state, and made after it (docs/cache.md, "Ordering"). Never throws, so a
 * cache outage cannot turn a finished run into a failed one.
 */
export function bumpOnCommit(bumps: CacheBumps) {
  type RunRef = { id: string; tenant_id: string; scenario_id: string };
  const owed = (run: RunRef): Invalidation => ({ tenantId: run.tenant_id, scenarioId: run.scenario_id, runId: run.id, reason: "outputs_committed" });
  return {
    onCommitting: (tx: Tx, run: RunRef) => bumps.record(tx, owed(run)),
    onSucceeded: (run: RunRef) => bumps.settle(owed(run)),
  };
}

function asInvalidation(r: Owed): Invalidation {
  const reason = (INVALIDATION_REASONS as readonly string[]).includes(r.reason) ? (r.reason as InvalidationReason) : "outputs_committed";
  return { tenantId: r.tenant_id, reason, ...(r.scenario_id ? { scenarioId: r.scenario_id } : {}), ...(r.run_id ? { runId: r.run_id } : {}) };
}

/** `graceMs`: how long a row is left to its own `settle` before the sweep takes it over. */
export function durableBumps(repo: BumpRepo, cache: ScenarioCache, log: Logger, o: { graceMs?: number } = {}): CacheBumps {
  const graceMs = o.graceMs ?? 2_000;

  /** One bump per tenant for these rows, then the rows go; at the first failed bump (Redis is away) the rest wait for the next sweep. */
  async function bump(rows: Owed[], inv?: Invalidation): Promise<number> {
    const byTenant = new Map<string, Owed[]>(inv ? [[inv.tenantId, []]] : []);
    for (const r of rows) byTenant.set(r.tenant_id, [...(byTenant.get(r.tenant_id) ?? []), r]);
    let settled = 0;
    for (const [tenantId, owed] of byTenant) {
      const version = await cache.invalidate(inv?.tenantId === tenantId ? inv : asInvalidation(owed[0] as Owed));
      if (version === null) break;
      if (!owed.length) continue;
      await repo.remove(owed.map((r) => r.id));
      settled += owed.length;
    }
    return settled;
  }

  const api: CacheBumps = {
    async record(tx, inv) {
      await repo.insert(tx, inv);
    },

    async settle(inv) {
      try {
        await bump(await repo.owedBy(inv.tenantId), inv);
      } catch (err) {
        // Postgres failed after the commit: the row stays and the sweep bumps it.
        log.warn("cache_bump_settle_failed", { tenant_id: inv.tenantId, reason: inv.reason, error: (err as Error).message });
        await cache.invalidate(inv).catch(() => null);
      }
    },

    async sweep() {
      const owed = await repo.owedLongerThan(graceMs, 1000);
      if (!owed.length) return 0;
      const settled = await bump(owed);
      if (settled) log.info("cache_bumps_swept", { rows: settled, tenants: new Set(owed.map((r) => r.tenant_id)).size });
      return settled;
    },

    startSweeping(everyMs = 1_000) {
      let running = false;
      const timer = setInterval(async () => {
        if (running) return;
        running = true;
        try {
          await api.sweep();
        } catch (err) {
          log.warn("cache_bump_sweep_failed", { error: (err as Error).message });
        } finally {
          running = false;
        }
      }, everyMs);
      timer.unref?.();
      return () => clearInterval(timer);
    },
  };
  return api;
}

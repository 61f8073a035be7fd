/**
 * Cache invalidation events (docs/events.md, `AURUM_SCENARIO_CACHE_INVALIDATION_TOPIC`): one
 * message per tenant version bump, keyed by tenant so a tenant's events stay in order on one
 * partition. Best effort: they let other systems drop their own caches; this service's cache is
 * correct without them (the version lives in Redis).
 */

export const INVALIDATION_REASONS = ["outputs_committed", "scenario_deleted", "admin"] as const;
export type InvalidationReason = (typeof INVALIDATION_REASONS)[number];

/** What changed: a tenant's outputs, because of this scenario (and run). */
export type Invalidation = { tenantId: string; scenarioId?: string; runId?: string; reason: InvalidationReason; requestId?: string };

export type InvalidationEvent = {
  schema: "aurum.scenario.cache_invalidation";
  version: 1;
  tenant_id: string;
  scenario_id: string | null;
  run_id: string | null;
  reason: InvalidationReason;
  /** The tenant's cache version after the bump; null when the cache store could not be reached. */
  cache_version: string | null;
  at: string;
};

export type EventSink = (message: { key: string; value: string; headers: Record<string, string> }) => Promise<void>;

export function invalidationMessage(inv: Invalidation, cacheVersion: string | null, at = new Date()): Parameters<EventSink>[0] {
  const event: InvalidationEvent = {
    schema: "aurum.scenario.cache_invalidation",
    version: 1,
    tenant_id: inv.tenantId,
    scenario_id: inv.scenarioId ?? null,
    run_id: inv.runId ?? null,
    reason: inv.reason,
    cache_version: cacheVersion,
    at: at.toISOString(),
  };
  const headers: Record<string, string> = inv.requestId ? { request_id: inv.requestId } : {};
  return { key: inv.tenantId, value: JSON.stringify(event), headers };
}

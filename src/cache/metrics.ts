/** The cache's Prometheus counters (`aurum_scenario_cache_*`), behind the structural CacheMetrics the service uses. */
import { Counter, Histogram, type Registry } from "prom-client";
import type { CacheKind } from "./keys";

export type CacheMetrics = {
  /** A request answered from the cache (also after waiting for another loader). */
  hit(kind: CacheKind): void;
  /** A request that found nothing cached (it loaded, or shared another request's load). */
  miss(kind: CacheKind): void;
  /** A request served straight from the store because the cache failed or is known to be down. */
  error(kind: CacheKind): void;
  /** A request that waited for a load already running (in this process or another replica). */
  wait(kind: CacheKind): void;
  /** A store query made because of a miss. */
  load(kind: CacheKind): void;
  /** How long the first cache read of a request took (version and entry: one round trip on Redis). */
  lookup(kind: CacheKind, seconds: number): void;
  invalidation(reason: string, result: "ok" | "failed"): void;
};

export function createCacheMetrics(registry: Registry): CacheMetrics {
  const counter = (name: string, help: string) => new Counter({ name: `aurum_scenario_cache_${name}`, help, labelNames: ["kind"] as const, registers: [registry] });
  const hits = counter("hits_total", "Output/metrics reads answered from the cache, by kind");
  const misses = counter("misses_total", "Output/metrics reads that found nothing cached, by kind");
  const errors = counter("errors_total", "Output/metrics reads served from the store because the cache failed or was down, by kind");
  const waits = counter("singleflight_waits_total", "Reads that waited for an identical load already running (this process or another replica), by kind");
  const loads = counter("loads_total", "Store queries made on a cache miss, by kind");
  const lookups = new Histogram({
    name: "aurum_scenario_cache_lookup_duration_seconds",
    help: "Time of a read's cache lookup (the tenant's version and the entry under it), by kind",
    labelNames: ["kind"] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
    registers: [registry],
  });
  const invalidations = new Counter({
    name: "aurum_scenario_cache_invalidations_total",
    help: "Tenant cache version bumps by reason and result (failed: the cache store was unreachable; entries expire by TTL)",
    labelNames: ["reason", "result"] as const,
    registers: [registry],
  });
  return {
    hit: (kind) => hits.inc({ kind }),
    miss: (kind) => misses.inc({ kind }),
    error: (kind) => errors.inc({ kind }),
    wait: (kind) => waits.inc({ kind }),
    load: (kind) => loads.inc({ kind }),
    lookup: (kind, seconds) => lookups.observe({ kind }, seconds),
    invalidation: (reason, result) => invalidations.inc({ reason, result }),
  };
}

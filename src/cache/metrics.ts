/** What the cache reports (`aurum_scenario_cache_*` on /metrics); the Prometheus side is createCacheMetrics in src/adapters/metrics.ts. */
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

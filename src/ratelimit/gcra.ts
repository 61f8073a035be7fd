/**
 * GCRA (the generic cell rate algorithm, a token bucket that stores one timestamp per key): the
 * port every limiter store implements, the decision arithmetic, and the in-memory store of the
 * embedded default. The Redis store (redis-store.ts) runs the same arithmetic in one Lua script.
 *
 * Times are integer microseconds so that `burst` requests at one instant add up to exactly
 * `burst × interval`; with floating milliseconds the last request of a burst could be refused.
 */

export type Limit = { rps: number; burst: number };

export type Decision = {
  allowed: boolean;
  /** The bucket size (`burst`): what X-RateLimit-Limit reports. */
  limit: number;
  remaining: number;
  /** Until the bucket is full again. */
  resetMs: number;
  /** Until the next request would pass (0 when allowed). */
  retryAfterMs: number;
};

export interface RateLimitStore {
  /** Takes one token from the bucket `key`; `nowMs` pins the clock (tests), otherwise the store's own. */
  take(key: string, limit: Limit, nowMs?: number): Promise<Decision>;
  readonly kind: "memory" | "redis";
}

/**
 * The slowest rate a limit may have: one request per 1,000 s. Every interface that sets a rate
 * (the admin API, AURUM_API_RATE_LIMIT_OVERRIDES) refuses less. It keeps the arithmetic sane: the
 * interval is at most 10^9 µs and a full bucket (burst ≤ 10^6) at most 10^15 µs, so timestamps stay
 * exact doubles (< 2^53) and the Redis TTL an integer.
 */
export const MIN_RPS = 0.001;
export const MAX_RPS = 1_000_000;

/**
 * The emission interval in whole microseconds, from 1 to 10^9. A rate outside the valid range
 * (only possible from a row stored before the minimum was enforced) is clamped, never an error.
 */
export function intervalUs(rps: number): number {
  const safe = Number.isFinite(rps) ? Math.min(Math.max(rps, MIN_RPS), MAX_RPS) : MIN_RPS;
  return Math.max(1, Math.round(1_000_000 / safe));
}

/** One GCRA step: given the stored theoretical arrival time (µs, or undefined), the decision and the new one. */
export function gcraStep(tat: number | undefined, nowUs: number, limit: Limit): { decision: Decision; tat: number | undefined } {
  const interval = intervalUs(limit.rps);
  const tolerance = interval * limit.burst;
  const newTat = Math.max(tat ?? nowUs, nowUs) + interval;
  const diff = newTat - nowUs;
  if (diff > tolerance) {
    const waited = Math.max(tat ?? nowUs, nowUs) - nowUs;
    return { decision: { allowed: false, limit: limit.burst, remaining: 0, resetMs: waited / 1000, retryAfterMs: (diff - tolerance) / 1000 }, tat };
  }
  return { decision: { allowed: true, limit: limit.burst, remaining: Math.floor((tolerance - diff) / interval), resetMs: diff / 1000, retryAfterMs: 0 }, tat: newTat };
}

/** The embedded default: one process, one Map. Expired buckets are swept once the map grows. */
export function createMemoryRateLimitStore(opts: { maxKeys?: number; clock?: () => number } = {}): RateLimitStore {
  const buckets = new Map<string, number>();
  const maxKeys = opts.maxKeys ?? 100_000;
  return {
    kind: "memory",
    async take(key, limit, nowMs) {
      const nowUs = Math.round((nowMs ?? opts.clock?.() ?? Date.now()) * 1000);
      if (buckets.size >= maxKeys) {
        for (const [k, tat] of buckets) if (tat <= nowUs) buckets.delete(k);
        // Still full (a flood of distinct callers): forget the oldest buckets rather than grow without bound.
        for (const k of buckets.keys()) {
          if (buckets.size < maxKeys * 0.9) break;
          buckets.delete(k);
        }
      }
      const { decision, tat } = gcraStep(buckets.get(key), nowUs, limit);
      if (tat !== undefined) buckets.set(key, tat);
      return decision;
    },
  };
}

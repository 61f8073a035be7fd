/**
 * The shared limiter: GCRA in one Lua script, so read-decide-write is atomic across every API
 * replica and costs one round trip (EVALSHA; EVAL once after a Redis restart forgot the script).
 * The clock is Redis's own TIME, so replicas with skewed clocks still share one bucket exactly.
 */
import type { Redis } from "../adapters/redis";
import { type Decision, intervalUs, type Limit, type RateLimitStore } from "./gcra";

// KEYS[1] bucket; ARGV interval µs, burst, now µs ('' = Redis TIME). Returns {allowed, remaining, reset µs, retry µs}.
// Integers throughout: Lua numbers are doubles, exact below 2^53 (µs since 1970 are ~2^51). Every
// number goes back to Redis through %.0f: a plain Lua number prints as 1e+14 from 10^14 on, which
// SET PX refuses (the script errored for tiny rates before MIN_RPS, in gcra.ts, bounded them).
const SCRIPT = `
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new_tat = tat + interval
local diff = new_tat - now
local tolerance = interval * burst
if diff > tolerance then
  return {0, 0, string.format('%.0f', tat - now), string.format('%.0f', diff - tolerance)}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', string.format('%.0f', math.ceil(diff / 1000)))
return {1, math.floor((tolerance - diff) / interval), string.format('%.0f', diff), '0'}
`;

const SHA = new Bun.CryptoHasher("sha1").update(SCRIPT).digest("hex");

/** `clock` (ms) replaces Redis's TIME: tests freeze it to count a burst exactly. */
export function createRedisRateLimitStore(redis: Redis, opts: { prefix?: string; clock?: () => number } = {}): RateLimitStore {
  const prefix = opts.prefix ?? "aurum:rl:";
  return {
    kind: "redis",
    async take(key: string, limit: Limit, nowMs = opts.clock?.()): Promise<Decision> {
      const args = [`${prefix}${key}`, intervalUs(limit.rps), limit.burst, nowMs === undefined ? "" : Math.round(nowMs * 1000)] as const;
      let reply: unknown;
      try {
        reply = await redis.evalsha(SHA, 1, ...args);
      } catch (err) {
        if (!(err instanceof Error) || !err.message.startsWith("NOSCRIPT")) throw err;
        reply = await redis.eval(SCRIPT, 1, ...args);
      }
      const [allowed, remaining, resetUs, retryUs] = reply as [number, number, string, string];
      return { allowed: allowed === 1, limit: limit.burst, remaining, resetMs: Number(resetUs) / 1000, retryAfterMs: Number(retryUs) / 1000 };
    },
  };
}

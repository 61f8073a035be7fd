/**
 * Which limit applies to a request: route-prefix rules from three layers (the tenant's runtime
 * override, the global runtime override, the environment), the longest matching prefix winning,
 * else the nearest layer's base limit. Pure functions; the limiter plugin calls `resolveLimit`.
 */
import { type Limit, MAX_RPS, MIN_RPS } from "./gcra";

export type PrefixRule = Limit & { prefix: string };

/** One layer of settings; a field left undefined falls through to the layer below. */
export type LimitLayer = { enabled?: boolean; rps?: number; burst?: number; prefixes?: readonly PrefixRule[] };

export type ResolvedLimit = Limit & {
  /** The rule that matched (`*` for the base limit): requests under one rule share one bucket. */
  bucket: string;
};

/**
 * A prefix matches whole path segments, and `*` matches any one segment, so `/v1/scenarios/*\/outputs`
 * limits every scenario's outputs together while `/v1/curves` never matches `/v1/curvesX`.
 */
export function prefixMatches(prefix: string, path: string): boolean {
  const want = segments(prefix);
  const have = segments(path);
  if (want.length > have.length) return false;
  return want.every((seg, i) => seg === "*" || seg === have[i]);
}

const segments = (path: string) => path.split("/").filter(Boolean);

/** Layers nearest first (tenant, global, env); the env layer must define enabled, rps and burst. */
export function resolveLimit(path: string, layers: readonly LimitLayer[]): ResolvedLimit | null {
  const enabled = layers.find((l) => l.enabled !== undefined)?.enabled ?? true;
  if (!enabled) return null;
  let best: { rule: PrefixRule; depth: number; literal: number } | undefined;
  for (const layer of layers) {
    for (const rule of layer.prefixes ?? []) {
      if (!prefixMatches(rule.prefix, path)) continue;
      const segs = segments(rule.prefix);
      const depth = segs.length;
      const literal = segs.filter((s) => s !== "*").length;
      // Longer wins, then fewer wildcards; on a tie the nearer layer (seen first) keeps it.
      if (!best || depth > best.depth || (depth === best.depth && literal > best.literal)) best = { rule, depth, literal };
    }
  }
  if (best) return { bucket: best.rule.prefix, rps: best.rule.rps, burst: best.rule.burst };
  const rps = layers.find((l) => l.rps !== undefined)?.rps;
  const burst = layers.find((l) => l.burst !== undefined)?.burst;
  if (rps === undefined || burst === undefined) return null;
  return { bucket: "*", rps, burst };
}

const PREFIX = /^\/[A-Za-z0-9._~:@!$&'()*+,;=%/-]*$/;

/** Parses `prefix=rps:burst,...` (AURUM_API_RATE_LIMIT_OVERRIDES); undefined when any entry is malformed. */
export function parseOverrides(raw: string): PrefixRule[] | undefined {
  const rules: PrefixRule[] = [];
  for (const entry of raw.split(",").map((s) => s.trim())) {
    if (!entry) continue;
    const m = entry.match(/^(\S+)=(\d+(?:\.\d+)?):(\d+)$/);
    if (!m || !PREFIX.test(m[1] as string)) return undefined;
    const rule = { prefix: m[1] as string, rps: Number(m[2]), burst: Number(m[3]) };
    if (!(rule.rps >= MIN_RPS && rule.rps <= MAX_RPS) || rule.burst < 1 || rule.burst > 1_000_000) return undefined;
    rules.push(rule);
  }
  return rules;
}

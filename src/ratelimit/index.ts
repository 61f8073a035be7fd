/**
 * The rate limiter: an `onRequest` hook (before routing, so unknown paths and floods are cheap)
 * that finds the caller's identity and limit, takes a token from the store, and sets the
 * X-RateLimit-* headers on whatever response follows; a refusal is a 429 envelope with
 * Retry-After. A failing store (an error or a timeout) is handled by the configured policy:
 * `open` serves the request unlimited, `closed` answers 503; both are counted. After a failure the
 * store is left alone for a cool-off (`cooldownMs`), during which the policy applies at once, and
 * then one request probes it: a stalled Redis costs one timeout per cool-off, not one per request.
 */

import { Elysia } from "elysia";
import type { Authenticator } from "../platform/auth";
import { AppError } from "../platform/errors";
import type { Logger } from "../platform/logger";
import type { RateLimitStore } from "./gcra";
import { identify } from "./identity";
import { type LimitLayer, resolveLimit } from "./policy";

/** Probes and scrapes must never be refused: an orchestrator would restart a healthy, busy pod. */
export const EXEMPT_PATHS: ReadonlySet<string> = new Set(["/healthz", "/readyz", "/metrics"]);

/** What the limiter reports (`aurum_ratelimit_requests_total`; Prometheus: createRateLimitMetrics in src/adapters/metrics.ts). */
export type RateLimitMetrics = { decision(outcome: "allowed" | "limited" | "fail_open" | "fail_closed"): void };

export type RateLimitDeps = {
  store: RateLimitStore;
  /** The caller's limit layers, nearest first (tenant, global, environment). */
  layers: (tenantId: string | null) => Promise<LimitLayer[]>;
  authenticate: Authenticator;
  metrics: RateLimitMetrics;
  log: Logger;
  failMode: "open" | "closed";
  trustedProxyHops: number;
  /** How long the store is skipped after it failed (default 1 s); then one request probes it. */
  cooldownMs?: number;
};

export function rateLimit(deps: RateLimitDeps) {
  const { metrics } = deps;
  const cooldownMs = deps.cooldownMs ?? 1_000;
  let lastWarn = 0;
  // The circuit: closed while downUntil is 0; open until downUntil; then half-open, one probe at a time.
  let downUntil = 0;
  let probing = false;

  function failed(err: Error | undefined): void {
    metrics.decision(deps.failMode === "open" ? "fail_open" : "fail_closed");
    if (err && Date.now() - lastWarn > 30_000) {
      lastWarn = Date.now();
      deps.log.warn("ratelimit_store_failed", { store: deps.store.kind, fail_mode: deps.failMode, error: err.message, retry_in_ms: cooldownMs });
    }
    if (deps.failMode === "closed") throw new AppError("UNAVAILABLE", "the rate limiter is unavailable; retry later");
  }

  return new Elysia({ name: "ratelimit" }).onRequest(async ({ request, set, server }) => {
    const path = pathOf(request.url);
    if (EXEMPT_PATHS.has(path)) return;
    const who = await identify(request, { authenticate: deps.authenticate, trustedProxyHops: deps.trustedProxyHops, server });
    const limit = resolveLimit(path, await deps.layers(who.tenantId));
    if (!limit) return;
    const now = Date.now();
    if (downUntil !== 0 && (now < downUntil || probing)) return failed(undefined);
    const probe = downUntil !== 0;
    if (probe) probing = true;
    let decision: Awaited<ReturnType<RateLimitStore["take"]>>;
    try {
      decision = await deps.store.take(`${who.key}|${limit.bucket}`, limit);
      downUntil = 0;
    } catch (err) {
      downUntil = Date.now() + cooldownMs;
      return failed(err as Error);
    } finally {
      if (probe) probing = false;
    }
    set.headers["x-ratelimit-limit"] = String(decision.limit);
    set.headers["x-ratelimit-remaining"] = String(decision.remaining);
    set.headers["x-ratelimit-reset"] = String(Math.ceil(decision.resetMs / 1000));
    metrics.decision(decision.allowed ? "allowed" : "limited");
    if (decision.allowed) return;
    const retryAfter = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
    set.headers["retry-after"] = String(retryAfter);
    throw new AppError("RATE_LIMITED", `rate limit exceeded (${limit.burst} requests, ${limit.rps}/s); retry in ${retryAfter} s`, {
      retry_after_seconds: retryAfter,
      limit: limit.burst,
      requests_per_second: limit.rps,
      scope: limit.bucket,
    });
  });
}

/** The path of an absolute request URL, without parsing all of it. */
function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const query = url.indexOf("?", start);
  return url.slice(start, query < 0 ? undefined : query);
}

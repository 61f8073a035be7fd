/**
 * The rate limiter: an `onRequest` hook (before routing, so unknown paths and floods are cheap)
 * that finds the caller's identity and limit, takes a token from the store, and sets the
 * X-RateLimit-* headers on whatever response follows; a refusal is a 429 envelope with
 * Retry-After. A failing store lets requests through (counted) unless configured to fail closed.
 */

import { Elysia } from "elysia";
import { Counter, type Registry } from "prom-client";
import type { Authenticator } from "../platform/auth";
import { AppError } from "../platform/errors";
import type { Logger } from "../platform/logger";
import type { RateLimitStore } from "./gcra";
import { identify } from "./identity";
import { type LimitLayer, resolveLimit } from "./policy";

/** Probes and scrapes must never be refused: an orchestrator would restart a healthy, busy pod. */
export const EXEMPT_PATHS: ReadonlySet<string> = new Set(["/healthz", "/readyz", "/metrics"]);

export type RateLimitDeps = {
  store: RateLimitStore;
  /** The caller's limit layers, nearest first (tenant, global, environment). */
  layers: (tenantId: string | null) => Promise<LimitLayer[]>;
  authenticate: Authenticator;
  registry: Registry;
  log: Logger;
  failMode: "open" | "closed";
  keyHeader: string;
  trustedProxyHops: number;
};

export function rateLimit(deps: RateLimitDeps) {
  const outcomes = counter(deps.registry);
  let lastWarn = 0;
  return new Elysia({ name: "ratelimit" }).onRequest(async ({ request, set, server }) => {
    const path = pathOf(request.url);
    if (EXEMPT_PATHS.has(path)) return;
    const who = await identify(request, { authenticate: deps.authenticate, keyHeader: deps.keyHeader, trustedProxyHops: deps.trustedProxyHops, server });
    const limit = resolveLimit(path, await deps.layers(who.tenantId));
    if (!limit) return;
    let decision: Awaited<ReturnType<RateLimitStore["take"]>>;
    try {
      decision = await deps.store.take(`${who.key}|${limit.bucket}`, limit);
    } catch (err) {
      outcomes.inc({ outcome: deps.failMode === "open" ? "fail_open" : "fail_closed" });
      if (Date.now() - lastWarn > 30_000) {
        lastWarn = Date.now();
        deps.log.warn("ratelimit_store_failed", { store: deps.store.kind, fail_mode: deps.failMode, error: (err as Error).message });
      }
      if (deps.failMode === "closed") throw new AppError("UNAVAILABLE", "the rate limiter is unavailable; retry later");
      return;
    }
    set.headers["x-ratelimit-limit"] = String(decision.limit);
    set.headers["x-ratelimit-remaining"] = String(decision.remaining);
    set.headers["x-ratelimit-reset"] = String(Math.ceil(decision.resetMs / 1000));
    outcomes.inc({ outcome: decision.allowed ? "allowed" : "limited" });
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

function counter(registry: Registry): Counter<"outcome"> {
  const name = "aurum_ratelimit_requests_total";
  return (
    (registry.getSingleMetric(name) as Counter<"outcome"> | undefined) ??
    new Counter({
      name,
      help: "Rate-limit decisions: allowed, limited, or fail_open/fail_closed when the limiter store failed",
      labelNames: ["outcome"] as const,
      registers: [registry],
    })
  );
}

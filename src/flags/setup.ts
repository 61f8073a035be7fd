/**
 * Assembles runtime config for the API (built by src/runtime.ts, mounted by createApp): the snapshot poller, the flags service other features
 * call, the shared per-request authenticator, and one plugin holding the rate limiter (when a
 * store is given) and the /v1/admin/config routes.
 */
import { Elysia } from "elysia";
import { createRateLimitMetrics, type Metrics } from "../adapters/metrics";
import type { Config } from "../config";
import type { Authenticator } from "../platform/auth";
import type { Logger } from "../platform/logger";
import { requireRoutePermissions } from "../platform/route-permissions";
import { rateLimit } from "../ratelimit";
import type { RateLimitStore } from "../ratelimit/gcra";
import { rememberPrincipal } from "../ratelimit/identity";
import { adminConfigRoutes } from ".";
import type { ConfigRepo } from "./repo";
import { createRuntimeConfig } from "./runtime";
import { createFlags, type FlagsConfig } from "./service";

export type LimitsConfig = FlagsConfig & Pick<Config, "rateLimitFailMode" | "trustedProxyHops">;

export function createRuntimeLimits(deps: {
  /** The runtime-config port (metadata.runtimeConfig). */
  repo: ConfigRepo;
  log: Logger;
  metrics: Metrics;
  config: LimitsConfig;
  authenticate: Authenticator;
  /** The limiter's buckets; null: no request is limited (tests, tools). */
  store: RateLimitStore | null;
}) {
  const { config } = deps;
  const { repo } = deps;
  const runtime = createRuntimeConfig({ repo, log: deps.log, pollMs: config.runtimeConfigPollMs });
  const flags = createFlags({ runtime, repo, config });
  const authenticate = rememberPrincipal(deps.authenticate);
  const limiter = deps.store
    ? rateLimit({
        store: deps.store,
        layers: flags.rateLimitLayers,
        authenticate,
        metrics: createRateLimitMetrics(deps.metrics.registry),
        log: deps.log,
        failMode: config.rateLimitFailMode,
        trustedProxyHops: config.trustedProxyHops,
      })
    : new Elysia({ name: "ratelimit-off" });
  return {
    flags,
    authenticate,
    plugin: new Elysia({ name: "runtime-limits" })
      .use(limiter)
      // Global: every route registered after this one (the admin routes here, the app's other routes) is authorized before its body is read.
      .use(requireRoutePermissions(authenticate))
      .use(adminConfigRoutes({ authenticate, flags })),
  };
}

export type RuntimeLimits = ReturnType<typeof createRuntimeLimits>;

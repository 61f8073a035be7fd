/**
 * The runtime-config snapshot each replica serves from memory, kept fresh by polling the version
 * row. The poll is driven by traffic: a request finding the snapshot older than `pollMs` starts one
 * background check (one indexed single-row read), so busy replicas converge within `pollMs` plus a
 * query, idle ones cost nothing, and no timer outlives the app. Only the first load is awaited.
 */
import type { Logger } from "../platform/logger";
import { withTimeout } from "../platform/timers";
import type { FeatureFlagInput, FeatureName, RateLimitSettingsInput } from "./model";
import type { ConfigRepo } from "./repo";

export type Snapshot = {
  version: number;
  rateLimits: ReadonlyMap<string, RateLimitSettingsInput>;
  features: ReadonlyMap<string, ReadonlyMap<FeatureName, FeatureFlagInput>>;
};

const EMPTY: Snapshot = { version: -1, rateLimits: new Map(), features: new Map() };

export function createRuntimeConfig(deps: { repo: ConfigRepo; log: Logger; pollMs: number; firstLoadTimeoutMs?: number }) {
  let snapshot = EMPTY;
  let loaded = false;
  let checkedAt = 0;
  let inflight: Promise<void> | undefined;
  let lastWarn = 0;

  async function check(): Promise<void> {
    try {
      if (snapshot.version >= 0 && (await deps.repo.version()) === snapshot.version) return;
      const { version, rows } = await deps.repo.load();
      const rateLimits = new Map<string, RateLimitSettingsInput>();
      const features = new Map<string, Map<FeatureName, FeatureFlagInput>>();
      for (const row of rows) {
        if (row.kind === "ratelimit") rateLimits.set(row.scope, row.value as RateLimitSettingsInput);
        else {
          const scoped = features.get(row.scope) ?? new Map<FeatureName, FeatureFlagInput>();
          scoped.set(row.name as FeatureName, row.value as FeatureFlagInput);
          features.set(row.scope, scoped);
        }
      }
      // A slower, older load must not replace a newer snapshot.
      if (version >= snapshot.version) snapshot = { version, rateLimits, features };
    } catch (err) {
      // Keep serving the last snapshot (or the environment's defaults); say so at most every 30 s.
      if (Date.now() - lastWarn > 30_000) {
        lastWarn = Date.now();
        deps.log.warn("runtime_config_unavailable", { error: (err as Error).message, version: snapshot.version });
      }
    } finally {
      loaded = true;
      checkedAt = Date.now();
    }
  }

  function start(): Promise<void> {
    inflight ??= check().finally(() => {
      inflight = undefined;
    });
    return inflight;
  }

  return {
    /** The current snapshot; awaits only the first load (bounded), later checks run in the background. */
    async current(): Promise<Snapshot> {
      if (!loaded) {
        const timeout = deps.firstLoadTimeoutMs ?? 2_000;
        await withTimeout(start(), timeout, () => undefined);
      } else if (Date.now() - checkedAt >= deps.pollMs) void start();
      return snapshot;
    },
    /** Reloads now (after this replica wrote a change, so it answers with it at once). */
    async refresh(): Promise<Snapshot> {
      await inflight;
      await start();
      return snapshot;
    },
  };
}

export type RuntimeConfig = ReturnType<typeof createRuntimeConfig>;

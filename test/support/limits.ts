/** Apps with the rate limiter and runtime config wired by main.ts's root (src/runtime.ts), for the limits and runtime-config tests. */

import { createMetrics } from "../../src/adapters/metrics";
import { loadConfig } from "../../src/config";
import type { RateLimitStore } from "../../src/ratelimit/gcra";
import { apiApp, type TestDb } from "./app";
import { checked } from "./contract";

/** Local mode (tenant from X-Aurum-Tenant); `store` undefined: nothing is rate limited. */
export async function limitedApp(db: TestDb, store: RateLimitStore | undefined, env: Record<string, string> = {}) {
  const config = loadConfig({ AURUM_LOG_LEVEL: "silent", AURUM_API_AUTH_DISABLED: "1", ...env });
  const metrics = createMetrics();
  const app = checked(await apiApp(db, config, { metrics, rateLimitStore: store ?? null }));
  return { app, metrics };
}

/** Drops the test database, but never hangs the suite on a server busy with someone else's backend. */
export const dropSoon = (db: TestDb | undefined) => Promise.race([db?.drop(), Bun.sleep(10_000)]);

/** Apps with the rate limiter and runtime config wired as main.ts wires them, for the limits and runtime-config tests. */

import { createMetrics } from "../../src/adapters/metrics";
import { createApp } from "../../src/app";
import { loadConfig } from "../../src/config";
import { createAuthenticator } from "../../src/platform/auth";
import { createLogger } from "../../src/platform/logger";
import type { RateLimitStore } from "../../src/ratelimit/gcra";
import type { TestDb } from "./app";
import { checked } from "./contract";

/** Local mode (tenant from X-Aurum-Tenant); `store` undefined: nothing is rate limited. */
export function limitedApp(db: TestDb, store: RateLimitStore | undefined, env: Record<string, string> = {}) {
  const config = loadConfig({ AURUM_LOG_LEVEL: "silent", AURUM_API_AUTH_DISABLED: "1", ...env });
  const metrics = createMetrics();
  const app = checked(
    createApp({ config, sql: db.sql, log: createLogger("silent"), metrics, authenticate: createAuthenticator(config), ...(store ? { rateLimitStore: store } : {}) }),
  );
  return { app, metrics };
}

/** Drops the test database, but never hangs the suite on a server busy with someone else's backend. */
export const dropSoon = (db: TestDb | undefined) => Promise.race([db?.drop(), Bun.sleep(10_000)]);

/**
 * Browser tests: the real service process (`bun src/main.ts start`, embedded PGlite in a temp
 * folder, auth disabled) and Debian's Chromium driven by playwright-core (never a downloaded browser).
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";
import { startService as spawnService } from "../support/service";
import { pgliteFromTemplate } from "../support/templates";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const HAVE_CHROMIUM = existsSync(CHROMIUM);

// The machine's network is closed: no QUIC, no background or component fetches, no sync.
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

export type Service = { base: string; stop: () => Promise<void> };

/**
 * `bun src/main.ts start` on a free loopback port, auth disabled, embedded PGlite in a temp folder
 * copied from the migrated template (a first start's initdb costs ~7 CPU-seconds and 1 GB; the
 * first start itself is tested in test/integration/server.test.ts).
 */
export async function startService(env: Record<string, string> = {}): Promise<Service> {
  const dataDir = await pgliteFromTemplate();
  const { AURUM_APP_DB_DSN: _a, AURUM_TIMESCALE_DSN: _b, AURUM_KAFKA_BROKERS: _c, ...inherited } = process.env;
  const service = await spawnService("start", {
    ...inherited,
    AURUM_DATA_DIR: dataDir,
    AURUM_API_AUTH_DISABLED: "1",
    AURUM_API_RATE_LIMIT_ENABLED: "0",
    AURUM_WORKER_CONCURRENCY: "2",
    ...env,
  });
  return {
    base: service.base,
    stop: async () => {
      await service.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Chromium with a fresh profile folder, removed on close. */
export async function launchBrowser(): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), "aurum-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    acceptDownloads: true,
    viewport: { width: 1200, height: 900 },
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

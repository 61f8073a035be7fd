/**
 * Builds the real app for tests with the composition root main.ts uses (src/runtime.ts), on
 * either store: "pglite" (embedded, a fresh data folder) or "postgres" (a fresh database on the
 * machine's server).
 */
import { rmSync } from "node:fs";
import postgres from "postgres";
import { type Database, openDatabase } from "../../src/adapters/postgres";
import { type Config, loadConfig } from "../../src/config";
import { createCurveRepo } from "../../src/curves/repo";
import { createCurveService } from "../../src/curves/service";
import { migrate } from "../../src/db/migrate";
import { createLogger } from "../../src/platform/logger";
import type { RunQueue } from "../../src/runs/queue";
import { buildRuntime, type RuntimeDeps } from "../../src/runtime";
import { checked } from "./contract";
import { pgliteFromTemplate, postgresTemplate } from "./templates";

export type Store = "pglite" | "postgres";
export const STORES: Store[] = ["pglite", "postgres"];

/** The machine's Postgres (trust auth); override with AURUM_TEST_PG_URL. */
export const ADMIN_PG_URL = process.env.AURUM_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export type TestDb = Database & { url?: string; drop: () => Promise<void> };

/** A fresh, migrated database; `sampleCurves` loads the bundled curve set (runs need curves to trigger). */
export async function createTestDb(store: Store, opts: { sampleCurves?: boolean } = {}): Promise<TestDb> {
  const db = await freshDb(store);
  if (opts.sampleCurves) await createCurveService(createCurveRepo(db.sql)).loadSampleIfEmpty();
  return db;
}

/**
 * What must stop before a test database closes: the runtimes built on it (apiApp). An app's
 * background work (a purge pass a DELETE kicked, the cache's sweeper) still querying while the pool
 * ended and `drop database ... with (force)` cut its connections left postgres.js errors with no
 * one to catch them (CONNECT_TIMEOUT, ECONNRESET): bun counts those "between tests" and the file
 * exits 1 with every test passed (runs-api, 5 of 16 runs beside a loaded suite; 0 of 8 after).
 */
const closers = new WeakMap<Database, (() => Promise<void>)[]>();
async function closeRuntimes(db: Database): Promise<void> {
  for (const close of closers.get(db)?.splice(0) ?? []) await close();
}

async function freshDb(store: Store): Promise<TestDb> {
  const log = createLogger("silent");
  if (store === "pglite") {
    const dir = await pgliteFromTemplate();
    const db = await openDatabase({ databaseUrl: undefined, dataDir: dir, poolMax: 1, log });
    await migrate(db.sql);
    const testDb: TestDb = {
      ...db,
      drop: async () => {
        await closeRuntimes(testDb);
        await db.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
    return testDb;
  }
  const name = `aurum_test_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = postgres(ADMIN_PG_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name} template ${await postgresTemplate(admin, ADMIN_PG_URL)}`);
  await admin.end();
  const url = ADMIN_PG_URL.replace(/\/[^/?]*(\?|$)/, `/${name}$1`);
  const db = await openDatabase({ databaseUrl: url, dataDir: "", poolMax: 10, log });
  await migrate(db.sql);
  const testDb: TestDb = {
    ...db,
    url,
    drop: async () => {
      await closeRuntimes(testDb);
      await db.close();
      const a = postgres(ADMIN_PG_URL, { max: 1, onnotice: () => {} });
      await a.unsafe(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
  return testDb;
}

/**
 * The app of `bun src/main.ts api` on a test database, built by the same root; `deps` swap in
 * test doubles (a logger, metrics, a reader, ...). Unless a store is given nothing is rate limited.
 */
export async function apiApp(db: Database, config: Config, deps: Partial<RuntimeDeps> = {}) {
  const runtime = await buildRuntime("api", config, { db, log: createLogger("silent"), rateLimitStore: null, ...deps });
  if (!runtime.app) throw new Error("the api runtime has no app");
  closers.set(db, [...(closers.get(db) ?? []), () => runtime.close(1_000)]);
  return runtime.app;
}

/** The app in local mode by default; `queue`: where triggered runs go (a local queue a test attaches its own worker to). */
export async function buildApp(db: Database, env: Record<string, string> = { AURUM_API_AUTH_DISABLED: "1" }, queue?: RunQueue) {
  const config = loadConfig({ AURUM_LOG_LEVEL: "silent", ...env });
  // Every response is checked against the OpenAPI document (test/support/contract.ts).
  return checked(await apiApp(db, config, queue ? { queue } : {}));
}

type Json = Record<string, unknown> | unknown[] | string | number | boolean | null;

/** One request through app.handle; returns status, headers and the parsed JSON body (if any). */
export async function call(
  app: { handle: (r: Request) => Promise<Response> },
  method: string,
  path: string,
  opts: { body?: Json; raw?: string; headers?: Record<string, string> } = {},
) {
  const headers: Record<string, string> = { ...opts.headers };
  let body: string | undefined = opts.raw;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers["content-type"] ??= "application/json";
  }
  const res = await app.handle(new Request(`http://localhost${path}`, { method, headers, ...(body !== undefined ? { body } : {}) }));
  const text = await res.text();
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text };
}

/** The guide's create-scenario body, exactly as its curl example sends it. */
export const GUIDE_SCENARIO = {
  tenant_id: "demo-tenant",
  name: "RPS sensitivity",
  assumptions: [{ driver_type: "policy", payload: { policy_name: "RPS", start_year: 2030, target: 0.6 } }],
  parameters: { shock_bp: 25 },
  tags: ["demo", "sensitivity"],
};

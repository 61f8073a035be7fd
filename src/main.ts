/**
 * Composition root and CLI: `start` (everything in one process on embedded defaults),
 * `api` (the HTTP API only; auth must be configured) and `migrate`.
 */
import { openDatabase } from "./adapters/postgres";
import { createApp } from "./app";
import { type Config, ConfigError, loadConfig } from "./config";
import { createCurveRepo } from "./curves/repo";
import { SAMPLE_CURVES } from "./curves/sample";
import { createCurveService } from "./curves/service";
import { migrate } from "./db/migrate";
import { createAuthenticator } from "./platform/auth";
import { createLogger } from "./platform/logger";
import { createMetrics } from "./platform/metrics";
import { createLocalQueue } from "./runs/queue";
import { startEmbeddedWorker } from "./worker";

const USAGE = "usage: bun src/main.ts <start|api|migrate>";

async function main(verb: string | undefined): Promise<void> {
  if (verb !== "start" && verb !== "api" && verb !== "migrate") {
    console.error(USAGE);
    process.exit(2);
  }
  const env = { ...process.env };
  // `start` is the local, all-in-one mode: with no token verifier configured it runs in the
  // trusted local mode so the guide's curl examples work as written. `api` never guesses.
  const localDefault = verb === "start" && env.AURUM_API_AUTH_DISABLED === undefined && !env.AURUM_API_AUTH_JWKS_URL && !env.AURUM_API_AUTH_PUBLIC_KEY;
  if (localDefault) env.AURUM_API_AUTH_DISABLED = "1";
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(78);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolMax: config.dbPoolMax, log });
  const applied = await migrate(db.sql);
  log.info("migrations_applied", { applied, mode: db.mode });
  const loadSample = config.loadSampleCurves === "always" || (config.loadSampleCurves === "embedded" && db.mode === "embedded");
  if (loadSample && (await createCurveService(createCurveRepo(db.sql)).loadSampleIfEmpty())) log.info("sample_curves_loaded", { curves: SAMPLE_CURVES.length });
  if (verb === "migrate") {
    await db.close();
    return;
  }
  if (localDefault) log.warn("auth_disabled", { reason: "no AURUM_API_AUTH_JWKS_URL or AURUM_API_AUTH_PUBLIC_KEY; `start` runs in trusted local mode" });

  let draining = false;
  const authenticate = createAuthenticator(config);
  // `start` executes runs in-process; `api` only queues them (workers run elsewhere).
  const queue = createLocalQueue();
  const worker = verb === "start" ? startEmbeddedWorker({ sql: db.sql, config, log, queue }) : undefined;
  const app = createApp({ config, sql: db.sql, log, metrics: createMetrics(), authenticate, queue, isDraining: () => draining }).listen({
    port: config.port,
    hostname: config.host,
    maxRequestBodySize: Math.max(config.maxBodyBytes, config.maxImportBytes),
  });
  log.info("listening", { url: `http://${config.host}:${app.server?.port}`, verb, database: db.mode, auth: config.authDisabled ? "disabled" : "jwt" });

  const shutdown = async (signal: string) => {
    if (draining) return;
    draining = true;
    log.info("shutdown_started", { signal });
    // Stop accepting, let in-flight requests finish within the grace period, then close pools.
    const closed = app.server?.stop(false);
    const graceful = await Promise.race([closed?.then(() => true), Bun.sleep(config.shutdownGraceMs).then(() => false)]);
    if (!graceful) await app.server?.stop(true);
    if (worker) await worker.stop(config.shutdownGraceMs);
    await db.close();
    log.info("shutdown_complete", { graceful });
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

await main(process.argv[2]);

/**
 * The CLI: `start` (API and worker in one process; embedded defaults), `api` (the HTTP API only;
 * auth must be configured), `worker` (the scenario worker with its probe server), `worker backfill`
 * (copy Postgres outputs into Iceberg), `worker maintain` (compact the Iceberg output table and
 * expire its snapshots) and `migrate`. It loads the config, refuses a start it cannot
 * serve (exit 78), takes the data folder's lock, has src/runtime.ts (the composition root) build
 * the verb's runtime, listens, and turns signals into an orderly shutdown.
 */

import { parseArgs } from "node:util";
import { DataDirLockedError, lockDataDir } from "./adapters/datalock";
import type { Sql } from "./adapters/postgres";
import { type Config, ConfigError, loadConfig, unknownVariables } from "./config";
import { createMetadata } from "./metadata";
import { backfill, terminalProgress } from "./outputs/backfill";
import { DEFAULT_RETENTION, durationError, maintainArgumentError, maintainIceberg, retentionSession } from "./outputs/iceberg-maintenance";
import { type Authenticator, createAuthenticator } from "./platform/auth";
import { createLogger, type Logger } from "./platform/logger";
import { redact } from "./platform/redact";
import { buildRuntime, openMetadata, trinoClient } from "./runtime";

const USAGE = `usage: bun src/main.ts <start|api|worker|migrate>
       bun src/main.ts worker backfill [--scenario ID] [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--redo]
       bun src/main.ts worker maintain [--snapshot-retention ${DEFAULT_RETENTION.snapshotRetention}] [--orphan-retention ${DEFAULT_RETENTION.orphanRetention}] [--retention D (both)] [--file-size-threshold 128MB]`;

/** Exit code of a start refused for its configuration (sysexits EX_CONFIG), as docs/configuration.md promises. */
const EX_CONFIG = 78;

/** The settings that configure a token verifier. */
const VERIFIERS: readonly string[] = ["AURUM_API_AUTH_JWKS_URL", "AURUM_API_AUTH_PUBLIC_KEY"];

/** A refused start: one line on stderr (credentials masked), no stack trace, exit 78. */
function fail(message: string, code = EX_CONFIG): never {
  console.error(
    `aurum: ${redact(message)
      .replace(/:\n\s*/g, ": ")
      .replace(/\n\s*/g, "; ")}`,
  );
  process.exit(code);
}

async function main(verb: string | undefined): Promise<void> {
  if (verb !== "start" && verb !== "api" && verb !== "worker" && verb !== "migrate") {
    console.error(USAGE);
    process.exit(2);
  }
  const env = { ...process.env };
  const unknown = unknownVariables(env);
  // `start` is the local, all-in-one mode: with no token verifier configured it runs in the
  // trusted local mode so the guide's curl examples work as written. `api` never guesses.
  const localDefault = verb === "start" && env.AURUM_API_AUTH_DISABLED === undefined && !env.AURUM_API_AUTH_JWKS_URL && !env.AURUM_API_AUTH_PUBLIC_KEY;
  if (localDefault) {
    // …but not when the environment shows a verifier was meant: an empty or misspelled key setting
    // must not quietly turn authentication off.
    const meant = [
      ...VERIFIERS.filter((name) => env[name] !== undefined).map((name) => `${name} is set but empty`),
      ...unknown.filter((u) => u.suggestion && VERIFIERS.includes(u.suggestion)).map((u) => `${u.name} is not a setting (did you mean ${u.suggestion}?)`),
    ];
    if (meant.length) {
      fail(`${meant.join("; ")}: \`start\` will not fall back to trusted local mode with no authentication; fix the variable, or unset it, or set AURUM_API_AUTH_DISABLED=1`);
    }
    env.AURUM_API_AUTH_DISABLED = "1";
  }
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  // Maintenance talks to Trino only: no metadata database, no data folder.
  if (verb === "worker" && process.argv[3] === "maintain") return runMaintain(config, process.argv.slice(4));
  // Serving the API needs a verifier (or local mode, chosen explicitly or by `start`): refused here,
  // in one line, before any data is opened — not as a stack trace after the migrations ran.
  let authenticate: Authenticator | undefined;
  if (verb === "start" || verb === "api") {
    if (!config.authDisabled && !config.jwksUrl && !config.jwtPublicKey)
      fail(
        `authentication is on but no token verifier is configured: set AURUM_API_AUTH_JWKS_URL or AURUM_API_AUTH_PUBLIC_KEY, or AURUM_API_AUTH_DISABLED=1 for trusted local use (docs/configuration.md)`,
      );
    try {
      authenticate = createAuthenticator(config);
    } catch (err) {
      fail((err as Error).message);
    }
  }
  // The embedded data belongs to one process; a second one would fork it and lose writes. Taken
  // before anything is logged, so a refused process prints its one line and nothing else.
  if (!config.databaseUrl) {
    try {
      await lockDataDir(config.dataDir);
    } catch (err) {
      if (err instanceof DataDirLockedError) fail(err.message);
      throw err;
    }
  }
  const log = createLogger(config.logLevel);
  for (const u of unknown)
    log.warn("unknown_setting", { variable: u.name, ...(u.suggestion ? { did_you_mean: u.suggestion } : {}), reason: "no setting reads this variable; it has no effect" });
  if (authenticate && config.authDisabled)
    log.warn("auth_disabled", {
      reason: localDefault ? "no AURUM_API_AUTH_JWKS_URL or AURUM_API_AUTH_PUBLIC_KEY; `start` runs in trusted local mode" : "AURUM_API_AUTH_DISABLED is set: trusted local mode",
      detail: "no authentication: every caller acts as the operator of any tenant; keep the API on loopback or behind a trusted proxy",
      host: config.host,
      database: config.databaseUrl ? "server" : "embedded",
    });
  const db = await openMetadata(verb, config, log);
  if (verb === "migrate") {
    await db.close();
    return;
  }
  if (verb === "worker" && process.argv[3] === "backfill") return runBackfill(config, db.sql, log, process.argv.slice(4));
  const runtime = await buildRuntime(verb, config, { db, log, ...(authenticate ? { authenticate } : {}) });
  const { app, worker } = runtime;
  runtime.outputPurge.start();
  if (app) {
    try {
      // Elysia asks Bun for SO_REUSEPORT by default: a second process on the same port would then
      // listen too and take half the connections. Shared only when configured.
      // Our limits (readBodyText, limitBody) answer 413 in the envelope; Bun's own limit is only a
      // backstop far above them. Set equal, it tripped first (it counts bytes as they arrive, ours as
      // they are consumed) and closed the connection so abruptly that clients often saw no answer.
      app.listen({ port: config.port, hostname: config.host, reusePort: config.reusePort, maxRequestBodySize: 8 * Math.max(config.maxBodyBytes, config.maxImportBytes) });
    } catch (err) {
      if ((err as { code?: unknown }).code !== "EADDRINUSE") throw err;
      await worker?.stop(0);
      await db.close();
      fail(`port ${config.port} on ${config.host} is in use by another process: stop it, or set AURUM_API_PORT (AURUM_API_REUSE_PORT=1 shares a port on purpose)`);
    }
  }
  if (app)
    log.info("listening", {
      url: `http://${config.host}:${app.server?.port}`,
      verb,
      database: db.mode,
      auth: config.authDisabled ? "disabled" : "jwt",
      queue: runtime.queueKind,
      cache: runtime.cache.backend,
      outputs: config.outputStore,
    });

  const shutdown = async (signal: string) => {
    if (runtime.isDraining()) return;
    runtime.beginDraining();
    log.info("shutdown_started", { signal });
    // Stop accepting, let in-flight requests finish within the grace period, then close the rest and the pool.
    const closed = app?.server?.stop(false);
    const graceful = await Promise.race([closed?.then(() => true) ?? Promise.resolve(true), Bun.sleep(config.shutdownGraceMs).then(() => false)]);
    if (!graceful) await app?.server?.stop(true);
    await runtime.close(config.shutdownGraceMs);
    await db.close();
    log.info("shutdown_complete", { graceful });
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

/**
 * `worker backfill`: copies outputs from the Postgres store into Iceberg (docs/outputs-trino.md),
 * with progress on stderr. Ctrl-C stops after the statement in flight; run it again to resume.
 */
async function runBackfill(config: Config, sql: Sql, log: Logger, args: string[]): Promise<void> {
  let opts: { scenario?: string; from?: string; to?: string; redo?: boolean };
  try {
    ({ values: opts } = parseArgs({ args, options: { scenario: { type: "string" }, from: { type: "string" }, to: { type: "string" }, redo: { type: "boolean" } } }));
    for (const d of [opts.from, opts.to]) if (d !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(d)) throw new Error(`${d} is not a date (YYYY-MM-DD)`);
    if (opts.scenario !== undefined && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(opts.scenario))
      throw new Error(`${opts.scenario} is not a scenario id (UUID)`);
    if (!config.trinoUrl) throw new Error("backfill needs AURUM_TRINO_URL");
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  const controller = new AbortController();
  process.once("SIGINT", () => controller.abort());
  process.once("SIGTERM", () => controller.abort());
  try {
    const done = await backfill({
      metadata: createMetadata(sql),
      trino: trinoClient(config, log),
      log,
      table: `${config.trinoCatalog}.${config.trinoSchema}.scenario_output`,
      concurrency: config.trinoWriteConcurrency,
      maxStatementChars: config.trinoMaxStatementChars,
      signal: controller.signal,
      onProgress: terminalProgress(),
      ...(opts.scenario ? { scenarioId: opts.scenario } : {}),
      ...(opts.from ? { from: opts.from } : {}),
      ...(opts.to ? { to: opts.to } : {}),
      ...(opts.redo ? { redo: true } : {}),
    });
    process.stderr.write(`\nbackfill: ${done.runsDone} runs, ${done.rowsDone} rows in ${(done.elapsedMs / 1000).toFixed(1)} s\n`);
    process.exit(0);
  } catch (err) {
    process.stderr.write(`\nbackfill stopped: ${(err as Error).message}; run it again to resume\n`);
    process.exit(controller.signal.aborted ? 130 : 1);
  }
}

/**
 * `worker maintain`: optimize, optimize_manifests, expire_snapshots and remove_orphan_files on the
 * Iceberg output table (src/outputs/iceberg-maintenance.ts); prints the report as one JSON line.
 * Snapshots are kept 1 day and orphan files 7 by default; `--retention` sets both, the specific
 * options win over it. Exit 0, 1 on a failed step (run it again), 2 on bad arguments.
 */
async function runMaintain(config: Config, args: string[]): Promise<void> {
  let retention: { snapshotRetention: string; orphanRetention: string };
  let fileSizeThreshold: string;
  try {
    const { values } = parseArgs({
      args,
      options: {
        "snapshot-retention": { type: "string" },
        "orphan-retention": { type: "string" },
        retention: { type: "string" },
        "file-size-threshold": { type: "string", default: "128MB" },
      },
    });
    // --retention first, so that a bad value is named as the option given.
    const both = values.retention === undefined ? undefined : durationError("retention", values.retention);
    if (both) throw new Error(`--${both}`);
    retention = {
      snapshotRetention: values["snapshot-retention"] ?? values.retention ?? DEFAULT_RETENTION.snapshotRetention,
      orphanRetention: values["orphan-retention"] ?? values.retention ?? DEFAULT_RETENTION.orphanRetention,
    };
    fileSizeThreshold = values["file-size-threshold"] as string;
    const wrong = maintainArgumentError({ ...retention, fileSizeThreshold });
    if (wrong) throw new Error(`--${wrong}`);
    if (!config.trinoUrl) throw new Error("maintain needs AURUM_TRINO_URL");
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  const log = createLogger(config.logLevel);
  const controller = new AbortController();
  process.once("SIGINT", () => controller.abort());
  process.once("SIGTERM", () => controller.abort());
  try {
    const report = await maintainIceberg({
      trino: trinoClient(config, log, undefined, retentionSession(config.trinoCatalog, retention)),
      log,
      table: `${config.trinoCatalog}.${config.trinoSchema}.scenario_output`,
      ...retention,
      fileSizeThreshold,
      signal: controller.signal,
    });
    console.log(JSON.stringify(report));
    process.exit(0);
  } catch (err) {
    process.stderr.write(`maintain stopped: ${(err as Error).message}; run it again\n`);
    process.exit(controller.signal.aborted ? 130 : 1);
  }
}

try {
  await main(process.argv[2]);
} catch (err) {
  // Whatever stops a start (a database that refuses, a port in use) is reported with its credentials masked.
  console.error(`aurum: ${process.argv[2] ?? ""} failed: ${redact(err instanceof Error ? (err.stack ?? err.message) : String(err))}`);
  process.exit(1);
}

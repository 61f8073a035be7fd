/**
 * Composition root and CLI: `start` (API and worker in one process; embedded defaults), `api`
 * (the HTTP API only; auth must be configured), `worker` (the scenario worker with its probe
 * server), `worker backfill` (copy Postgres outputs into Iceberg) and `migrate`. With
 * AURUM_KAFKA_BROKERS set, runs travel through the outbox and Kafka; with AURUM_OUTPUT_STORE=trino,
 * outputs are written to and read from Iceberg through Trino.
 */

import { parseArgs } from "node:util";
import { DataDirLockedError, lockDataDir } from "./adapters/datalock";
import { createKafka, type KafkaClient, type KafkaProducer } from "./adapters/kafka";
import { createCacheMetrics, createMetrics, createOutboxMetrics, type Metrics } from "./adapters/metrics";
import { openDatabase, type Sql } from "./adapters/postgres";
import { closeRedis, createNativeRedis, createRedis, type RedisCommands, redisReady } from "./adapters/redis";
import { createTrinoClient, type TrinoClient } from "./adapters/trino";
import { createApp } from "./app";
import { bumpOnCommit, durableBumps, immediateBumps } from "./cache/bumps";
import { createRedisStore } from "./cache/redis-store";
import { createScenarioCache, type ScenarioCache } from "./cache/service";
import { createMemoryStore } from "./cache/store";
import { type Config, ConfigError, loadConfig, unknownVariables } from "./config";
import { createCurveRepo } from "./curves/repo";
import { SAMPLE_CURVES } from "./curves/sample";
import { createCurveService } from "./curves/service";
import { migrate } from "./db/migrate";
import { backfill, terminalProgress } from "./outputs/backfill";
import { createPgOutputWriter } from "./outputs/pg-store";
import { createTrinoOutputReader } from "./outputs/trino-reader";
import { createTrinoOutputWriter, icebergScenarioPurge } from "./outputs/trino-store";
import { type Authenticator, createAuthenticator } from "./platform/auth";
import { createLogger, type Logger } from "./platform/logger";
import { redact } from "./platform/redact";
import { createMemoryRateLimitStore } from "./ratelimit/gcra";
import { createRedisRateLimitStore } from "./ratelimit/redis-store";
import { createLocalQueue, createOutboxQueue, type LocalQueue, type OutboxQueue, type RunQueue } from "./runs/queue";
import { type Publisher, startOutboxRelay } from "./runs/relay";
import { startWorker } from "./worker";
import type { ExecutorOptions } from "./worker/executor";
import { startProbeServer } from "./worker/metrics";

const USAGE = `usage: bun src/main.ts <start|api|worker|migrate>
       bun src/main.ts worker backfill [--scenario ID] [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--redo]`;

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
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolMax: config.dbPoolMax, log });
  const applied = await migrate(db.sql);
  log.info("migrations_applied", { applied, mode: db.mode });
  const loadSample =
    config.loadSampleCurves === "always" || (config.loadSampleCurves !== "never" && db.mode === "embedded") || (config.loadSampleCurves === "start" && verb === "start");
  if (loadSample && (await createCurveService(createCurveRepo(db.sql)).loadSampleIfEmpty())) log.info("sample_curves_loaded", { curves: SAMPLE_CURVES.length });
  if (verb === "migrate") {
    await db.close();
    return;
  }
  if (verb === "worker" && process.argv[3] === "backfill") return runBackfill(config, db.sql, log, process.argv.slice(4));
  const metrics = createMetrics();
  const trino = config.outputStore === "trino" ? trinoClient(config, log, metrics) : undefined;
  const iceberg = trino ? { trino, log, table: `${config.trinoCatalog}.${config.trinoSchema}.scenario_output` } : undefined;

  let draining = false;
  const kafka = config.kafkaBrokers?.length ? createKafka({ brokers: config.kafkaBrokers, clientId: `${config.kafkaClientId}-${verb}` }) : undefined;
  // Kafka mode: triggers write an outbox row that the relay publishes. Embedded: the table is the queue.
  const outbox = kafka ? createOutboxQueue({ request: config.scenarioRequestTopic, deadLetter: config.scenarioDlqTopic, output: config.scenarioOutputTopic }) : undefined;
  const local = outbox ? undefined : createLocalQueue();
  const queue: RunQueue = outbox ?? (local as LocalQueue);
  if (kafka) {
    await kafka
      .ensureTopics([
        { name: config.scenarioRequestTopic, partitions: 12 },
        { name: config.scenarioDlqTopic, partitions: 3 },
        { name: config.scenarioOutputTopic, partitions: 3 },
        ...(config.scenarioCacheInvalidationTopic ? [{ name: config.scenarioCacheInvalidationTopic, partitions: 3 }] : []),
      ])
      .catch((err) => log.warn("kafka_topics_unverified", { error: (err as Error).message }));
  }
  const relay =
    kafka && outbox
      ? startOutboxRelay({
          sql: db.sql,
          publisher: lazyPublisher(kafka),
          log,
          metrics: createOutboxMetrics(metrics.registry),
          pollMs: config.relayPollMs,
          onNotify: (wake) => outbox.onNotify(wake),
        })
      : undefined;
  const redis = config.redisUrl ? createRedis(config.redisUrl, { commandTimeoutMs: config.redisCommandTimeoutMs, log, connectionName: `aurum-scenarios-${verb}` }) : undefined;
  const cacheRedis = config.redisUrl ? createNativeRedis(config.redisUrl, { commandTimeoutMs: config.redisCommandTimeoutMs, log }) : undefined;
  if (redis && cacheRedis && !(await Promise.all([redisReady(redis, 2_000), cacheRedis.ready(2_000)])).every(Boolean))
    log.warn("redis_unavailable_at_start", { reason: "serving from the store until Redis answers" });
  const cache = buildCache({ config, verb, redis: cacheRedis, kafka, metrics, log });
  // A shared cache owes its bumps durably: recorded with each change, swept if a process dies first.
  const bumps = cache.backend === "redis" ? durableBumps(db.sql, cache, log) : immediateBumps(cache);
  const stopSweeping = bumps.startSweeping();
  if (verb === "worker" && !kafka && db.mode === "embedded")
    log.warn("worker_embedded_store", { reason: "a separate worker process needs a shared Postgres (AURUM_APP_DB_DSN) or Kafka" });
  const worker =
    verb === "api"
      ? undefined
      : await startWorker({
          sql: db.sql,
          config,
          log,
          metrics,
          writer: iceberg
            ? createTrinoOutputWriter({ ...iceberg, sql: db.sql, concurrency: config.trinoWriteConcurrency, maxStatementChars: config.trinoMaxStatementChars })
            : createPgOutputWriter(db.sql, { copy: db.mode === "server" }),
          // After the outputs commit, never before: see docs/cache.md ("Ordering").
          // Kafka mode: the "outputs ready" event goes into the outbox in the same transaction.
          executorOptions: withOutputsReady(bumpOnCommit(bumps), outbox),
          ...(kafka ? { mode: "kafka" as const, queue, kafka } : { mode: "embedded" as const, queue: local as LocalQueue }),
        });
  const probes =
    verb === "worker" && worker
      ? startProbeServer({ port: config.scenarioMetricsPort, hostname: config.scenarioMetricsAddr, metrics, sql: db.sql, isReady: () => !draining && worker.ready })
      : undefined;
  if (probes) log.info("worker_probes_listening", { url: `http://${config.scenarioMetricsAddr}:${probes.port}` });

  // The worker serves no API, so it needs no token verifier.
  const app =
    verb === "worker"
      ? undefined
      : createApp({
          config,
          sql: db.sql,
          log,
          metrics,
          authenticate: authenticate as Authenticator,
          queue,
          cache,
          bumps,
          ...(iceberg ? { outputs: createTrinoOutputReader({ ...iceberg, sql: db.sql }), purgeScenarioOutputs: icebergScenarioPurge(iceberg) } : {}),
          // Redis: one bucket per caller across replicas; without it each process limits on its own.
          rateLimitStore: redis ? createRedisRateLimitStore(redis) : createMemoryRateLimitStore(),
          isDraining: () => draining,
        });
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
      queue: kafka ? "kafka" : "embedded",
      cache: cache.backend,
      outputs: config.outputStore,
    });

  const shutdown = async (signal: string) => {
    if (draining) return;
    draining = true;
    log.info("shutdown_started", { signal });
    // Stop accepting, let in-flight requests finish within the grace period, then close pools.
    const closed = app?.server?.stop(false);
    const graceful = await Promise.race([closed?.then(() => true) ?? Promise.resolve(true), Bun.sleep(config.shutdownGraceMs).then(() => false)]);
    if (!graceful) await app?.server?.stop(true);
    // The worker hands back what it cannot finish in time; the relay then publishes those hand-backs.
    if (worker) await worker.stop(config.shutdownGraceMs);
    if (relay) {
      await relay.flush().catch((err) => log.warn("outbox_flush_failed", { error: (err as Error).message }));
      await relay.stop();
    }
    await probes?.stop(true);
    stopSweeping();
    await cache.flush(2_000);
    if (redis) await closeRedis(redis);
    cacheRedis?.close();
    await kafka?.close();
    await db.close();
    log.info("shutdown_complete", { graceful });
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

/**
 * The output cache: Redis when configured (shared by replicas and workers); process memory in
 * `start` without Kafka, where the API and the only worker share this process; otherwise none,
 * because a worker in another process could not invalidate this process's memory.
 */
/** The cache's commit hooks, plus the "outputs ready" outbox row when runs travel through Kafka. */
function withOutputsReady(hooks: ReturnType<typeof bumpOnCommit>, outbox: OutboxQueue | undefined): Partial<ExecutorOptions> {
  if (!outbox) return hooks;
  return {
    ...hooks,
    onCommitting: async (tx, run, out) => {
      await hooks.onCommitting(tx, run);
      await outbox.outputsReady(tx, run, out);
    },
  };
}

function buildCache(o: {
  config: Config;
  verb: string;
  redis: RedisCommands | undefined;
  kafka: KafkaClient | undefined;
  metrics: ReturnType<typeof createMetrics>;
  log: Logger;
}): ScenarioCache {
  const { config, kafka } = o;
  const store = o.redis
    ? createRedisStore(o.redis)
    : o.verb === "start" && !kafka && config.scenarioCacheMemoryBytes > 0
      ? createMemoryStore({ maxBytes: config.scenarioCacheMemoryBytes })
      : undefined;
  const topic = config.scenarioCacheInvalidationTopic;
  const events = kafka && topic ? lazyPublisher(kafka) : undefined;
  return createScenarioCache({
    ...(store ? { store } : {}),
    namespace: config.scenarioCacheNamespace,
    ttlSeconds: { outputs: config.scenarioOutputTtl, metrics: config.scenarioMetricsTtl, compare: config.scenarioOutputTtl },
    maxEntryBytes: config.scenarioCacheMaxEntryBytes,
    waitMs: config.scenarioCacheWaitMs,
    metrics: createCacheMetrics(o.metrics.registry),
    log: o.log,
    ...(events && topic ? { publish: (message) => events.send(topic, [message]) } : {}),
  });
}

function trinoClient(config: Config, log: Logger, metrics?: Metrics): TrinoClient {
  if (!config.trinoUrl) throw new Error("AURUM_TRINO_URL is not set"); // loadConfig already refuses this
  return createTrinoClient({
    url: config.trinoUrl,
    user: config.trinoUser,
    source: config.trinoSource,
    catalog: config.trinoCatalog,
    schema: config.trinoSchema,
    log,
    ...(metrics ? { onQueryEnd: (q: { state: string; elapsedSeconds: number }) => metrics.trinoQueryDuration.observe({ state: q.state }, q.elapsedSeconds) } : {}),
  });
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
      sql,
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

/** A producer made on first use and remade after a failure, so the relay rides out a Kafka outage. */
function lazyPublisher(kafka: KafkaClient): Publisher {
  let producer: Promise<KafkaProducer> | undefined;
  return {
    async send(topic, messages) {
      producer ??= kafka.producer();
      try {
        await (await producer).send(topic, messages);
      } catch (err) {
        const failed = producer;
        producer = undefined;
        void failed.then((p) => p.close()).catch(() => {});
        throw err;
      }
    },
  };
}

try {
  await main(process.argv[2]);
} catch (err) {
  // Whatever stops a start (a database that refuses, a port in use) is reported with its credentials masked.
  console.error(`aurum: ${process.argv[2] ?? ""} failed: ${redact(err instanceof Error ? (err.stack ?? err.message) : String(err))}`);
  process.exit(1);
}

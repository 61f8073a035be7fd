/**
 * The composition root: `buildRuntime(verb, config, deps)` builds everything a verb runs — queue,
 * relay, Redis, cache, services, the API app, the worker and its probes — from the config, each
 * part in exactly one place here. src/main.ts (the CLI) calls it with the process's database,
 * logger and authenticator; tests call it with a test database and in-memory stand-ins
 * (`RuntimeDeps`), so the app they exercise is wired exactly as the one that ships.
 */

import { cpus } from "node:os";
import type { KafkaClient, KafkaProducer } from "./adapters/kafka";
import { createCacheMetrics, createMetrics, createOutboxMetrics, type Metrics } from "./adapters/metrics";
import { type Database, openDatabase, type Sql } from "./adapters/postgres";
import { closeRedis, createNativeRedis, createRedis, type Redis, type RedisCommands, redisReady } from "./adapters/redis";
import { createTrinoClient, type TrinoClient } from "./adapters/trino";
import { createApp } from "./app";
import type { BumpRepo } from "./cache/bump-repo";
import { bumpOnCommit, type CacheBumps, durableBumps, immediateBumps } from "./cache/bumps";
import { createRedisStore } from "./cache/redis-store";
import { createScenarioCache, type ScenarioCache } from "./cache/service";
import { createMemoryStore } from "./cache/store";
import type { Config } from "./config";
import { SAMPLE_CURVES } from "./curves/sample";
import { createCurveService } from "./curves/service";
import { migrate } from "./db/migrate";
import { createRuntimeLimits } from "./flags/setup";
import { createMetadata, type Metadata } from "./metadata";
import { createPgOutputReader } from "./outputs/pg-reader";
import { createPgOutputWriter } from "./outputs/pg-store";
import { createOutputPurge, type OutputPurge } from "./outputs/purge";
import type { OutputReader } from "./outputs/reader";
import { createOutputService } from "./outputs/service";
import type { OutputWriter } from "./outputs/store";
import { createTrinoOutputReader } from "./outputs/trino-reader";
import { createTrinoOutputWriter, icebergScenarioPurge } from "./outputs/trino-store";
import { type Authenticator, createAuthenticator } from "./platform/auth";
import type { Logger } from "./platform/logger";
import { createMemoryRateLimitStore, type RateLimitStore } from "./ratelimit/gcra";
import { createRedisRateLimitStore } from "./ratelimit/redis-store";
import type { RunEventOptions } from "./runs/events";
import { createLocalQueue, createOutboxQueue, type LocalQueue, type OutboxQueue, type RunQueue } from "./runs/queue";
import { type Publisher, startOutboxRelay } from "./runs/relay";
import { createRunService } from "./runs/service";
import { createScenarioService } from "./scenarios/service";
import { startWorker } from "./worker";
import type { ExecutorOptions } from "./worker/executor";
import { startProbeServer } from "./worker/metrics";

/** The verbs that run a service: `start` (API and worker in one process), `api`, `worker`. */
export type Verb = "start" | "api" | "worker";

export type RuntimeDeps = {
  /** The metadata database, open and migrated (openMetadata); the caller closes it after `close()`. */
  db: Database;
  log: Logger;
  /** The API's token verifier; built from the config when not given. */
  authenticate?: Authenticator;
  /** Tests: a registry of their own to read. */
  metrics?: Metrics;
  /** Tests of the API alone: the queue triggered runs go to (a local one they attach their own worker to, an outbox they inspect). */
  queue?: RunQueue;
  /** Tests: an output store's read side other than the configured one (a Trino reader, a failing or counting one). */
  outputs?: OutputReader;
  /** Tests: a cache and its bumps made with their own options (both or neither); the runtime does not sweep them. */
  cache?: { cache: ScenarioCache; bumps: CacheBumps };
  /** Tests: the rate limiter's buckets, or null for no rate limiting at all. */
  rateLimitStore?: RateLimitStore | null;
  /** Tests: shorter poll and heartbeat intervals of the run event stream. */
  runEvents?: RunEventOptions;
};

/** The Iceberg output table and the client that reaches it. */
type IcebergOutputs = { trino: TrinoClient; log: Logger; table: string };

export type Runtime = Awaited<ReturnType<typeof buildRuntime>>;

/**
 * Opens the metadata database, applies the migrations and, when the config says so, loads the
 * bundled sample curves into an empty catalog. Every verb starts here, `migrate` ends here.
 */
export async function openMetadata(verb: Verb | "migrate", config: Config, log: Logger): Promise<Database> {
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolMax: config.dbPoolMax, log });
  const applied = await migrate(db.sql);
  log.info("migrations_applied", { applied, mode: db.mode });
  const loadSample =
    config.loadSampleCurves === "always" || (config.loadSampleCurves !== "never" && db.mode === "embedded") || (config.loadSampleCurves === "start" && verb === "start");
  if (loadSample && (await createCurveService(createMetadata(db.sql).curves).loadSampleIfEmpty())) log.info("sample_curves_loaded", { curves: SAMPLE_CURVES.length });
  return db;
}

/**
 * Builds the runtime of `verb`. With AURUM_KAFKA_BROKERS set, runs travel through the outbox and
 * Kafka; with AURUM_OUTPUT_STORE=trino, outputs are written to and read from Iceberg through Trino.
 * The app (absent for `worker`) is returned unlistened: listening and signals are the CLI's.
 */
export async function buildRuntime(verb: Verb, config: Config, deps: RuntimeDeps) {
  const { db, log } = deps;
  const { sql } = db;
  const metadata = createMetadata(sql);
  const metrics = deps.metrics ?? createMetrics();
  const trino = config.outputStore === "trino" ? trinoClient(config, log, metrics) : undefined;
  const iceberg: IcebergOutputs | undefined = trino ? { trino, log, table: `${config.trinoCatalog}.${config.trinoSchema}.scenario_output` } : undefined;

  let draining = false;
  const isDraining = () => draining;
  const kafka = await kafkaClient(config, verb);
  // Kafka mode: triggers write an outbox row that the relay publishes. Embedded: the table is the queue.
  const outbox = kafka
    ? createOutboxQueue(metadata.outbox, { request: config.scenarioRequestTopic, deadLetter: config.scenarioDlqTopic, output: config.scenarioOutputTopic })
    : undefined;
  const queue: RunQueue = deps.queue ?? outbox ?? createLocalQueue();
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
          outbox: metadata.outbox,
          transaction: metadata.transaction,
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
  const { cache, bumps, stopSweeping } = deps.cache
    ? // A test's own bumps: the test sweeps them when it means to.
      { ...deps.cache, stopSweeping: () => {} }
    : cacheWithBumps(buildCache({ config, verb, redis: cacheRedis, kafka, metrics, log }), metadata.cacheBumps, log);
  if (verb === "worker" && !kafka && db.mode === "embedded")
    log.warn("worker_embedded_store", { reason: "a separate worker process needs a shared Postgres (AURUM_APP_DB_DSN) or Kafka" });
  const worker =
    verb === "api"
      ? undefined
      : await startWorker({
          sql,
          config: { ...config, workerConcurrency: config.workerConcurrency ?? Math.max(1, cpus().length) },
          workerId: `worker-${process.pid}-${crypto.randomUUID().slice(0, 8)}`,
          log,
          metrics,
          writer: outputWriter(config, db.mode, sql, iceberg && { ...iceberg, metadata }),
          // After the outputs commit, never before: see docs/cache.md ("Ordering").
          // Kafka mode: the "outputs ready" event goes into the outbox in the same transaction.
          executorOptions: withOutputsReady(bumpOnCommit(bumps), outbox),
          ...(kafka ? { mode: "kafka" as const, queue, kafka } : { mode: "embedded" as const, queue: queue as LocalQueue }),
        });
  // Rows of deleted runs go in the background, in bounded batches (src/outputs/purge.ts); every
  // process shares the queue. src/main.ts starts its loop; an app built without it purges when kicked.
  const outputPurge = createOutputPurge({ transaction: metadata.transaction, log });
  const probes =
    verb === "worker" && worker
      ? startProbeServer({ port: config.scenarioMetricsPort, hostname: config.scenarioMetricsAddr, metrics, sql, isReady: () => !draining && worker.ready })
      : undefined;
  if (probes) log.info("worker_probes_listening", { url: `http://${config.scenarioMetricsAddr}:${probes.port}` });

  // The worker serves no API, so it needs no token verifier and none of the API's services.
  const app = verb === "worker" ? undefined : buildApi({ config, deps, metadata, metrics, queue, cache, bumps, redis, iceberg, isDraining, outputPurge });

  return {
    app,
    worker,
    probes,
    queue,
    cache,
    outputPurge,
    /** How runs travel, for the start-up log line. */
    queueKind: kafka ? ("kafka" as const) : ("embedded" as const),
    isDraining,
    /** From now on /readyz (API and worker probes) answers 503, so load balancers stop sending traffic. */
    beginDraining() {
      draining = true;
    },
    /**
     * Closes everything but the HTTP server (the caller stops it first) and the database (the
     * caller closes it last): the worker hands back what it cannot finish within `graceMs`, the
     * relay then publishes those hand-backs; then the output purge (after its batch in flight), probes,
     * the cache, Redis and Kafka.
     */
    async close(graceMs: number) {
      if (worker) await worker.stop(graceMs);
      await outputPurge.stop();
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
    },
  };
}

/**
 * The API: the rate limiter and runtime config, the services over the metadata database and the
 * output store, and the app that mounts their routes.
 */
function buildApi(o: {
  config: Config;
  deps: RuntimeDeps;
  metadata: Metadata;
  metrics: Metrics;
  queue: RunQueue;
  cache: ScenarioCache;
  bumps: CacheBumps;
  redis: Redis | undefined;
  iceberg: IcebergOutputs | undefined;
  isDraining: () => boolean;
  outputPurge: OutputPurge;
}) {
  const { config, deps, metadata, metrics, queue, cache, bumps, iceberg } = o;
  const { log } = deps;
  const { sql } = deps.db;
  // Redis: one bucket per caller across replicas; without it each process limits on its own.
  const rateLimitStore = deps.rateLimitStore !== undefined ? deps.rateLimitStore : o.redis ? createRedisRateLimitStore(o.redis) : createMemoryRateLimitStore();
  // One authentication per request, shared by the rate limiter (it needs the tenant) and the routes.
  const limits = createRuntimeLimits({ repo: metadata.runtimeConfig, log, metrics, config, authenticate: deps.authenticate ?? createAuthenticator(config), store: rateLimitStore });
  const curveRepo = metadata.curves;
  const scenarioRepo = metadata.scenarios;
  // Outputs kept outside Postgres (Iceberg) go with their scenario.
  const purgeOutputs = iceberg ? icebergScenarioPurge(iceberg) : undefined;
  const scenarios = createScenarioService(scenarioRepo, curveRepo, {
    removing: (tx, removed) => bumps.record(tx, { ...removed, reason: "scenario_deleted" }),
    removed: (removed) => {
      // The runs' Postgres rows were queued in the DELETE's transaction; purge them now, in the background.
      o.outputPurge.kick();
      return Promise.all([purgeOutputs?.(removed), bumps.settle({ ...removed, reason: "scenario_deleted" })]);
    },
  });
  const outputs = createOutputService({
    runs: metadata.runs,
    scenarios: scenarioRepo,
    reader:
      deps.outputs ??
      (iceberg
        ? createTrinoOutputReader({ ...iceberg, runs: metadata.runs, exportChunkRows: config.trinoExportChunkRows, exportPrefetch: config.trinoExportPrefetch })
        : createPgOutputReader(sql)),
    maxExports: config.outputExportsMax,
    ...(config.outputExportsPerTenant !== undefined ? { maxExportsPerTenant: config.outputExportsPerTenant } : {}),
    cache,
    flags: limits.flags,
    onExportBytes: (n) => metrics.exportBytes.inc(n),
  });
  metrics.reportExportSlots(() => outputs.exportsActive, config.outputExportsMax);
  const runs = createRunService({
    transaction: metadata.transaction,
    curves: curveRepo,
    runs: metadata.runs,
    scenarios: scenarioRepo,
    queue,
    flags: limits.flags,
    ...bumpOnCommit(bumps),
    // An admin's QUEUED → RUNNING takes a worker's lease (docs/runs.md).
    leaseMs: config.workerLeaseSeconds * 1000,
  });
  return createApp({
    config,
    sql,
    log,
    metrics,
    limits,
    curves: createCurveService(curveRepo),
    scenarios,
    scenarioRepo,
    runs,
    outputs,
    cache,
    runEvents: deps.runEvents,
    isDraining: o.isDraining,
  });
}

/**
 * The Kafka client in Kafka mode. Imported only then: loading the client library costs about 0.6 s
 * and 0.85 CPU-seconds, most of a process start, which every other process would pay for nothing.
 */
async function kafkaClient(config: Config, verb: Verb): Promise<KafkaClient | undefined> {
  if (!config.kafkaBrokers?.length) return undefined;
  const { createKafka } = await import("./adapters/kafka");
  return createKafka({ brokers: config.kafkaBrokers, clientId: `${config.kafkaClientId}-${verb}` });
}

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

/** A shared cache owes its bumps durably: recorded with each change, swept if a process dies first. */
function cacheWithBumps(cache: ScenarioCache, repo: BumpRepo, log: Logger) {
  const bumps = cache.backend === "redis" ? durableBumps(repo, cache, log) : immediateBumps(cache);
  return { cache, bumps, stopSweeping: bumps.startSweeping() };
}

/**
 * The output cache: Redis when configured (shared by replicas and workers); process memory in
 * `start` without Kafka, where the API and the only worker share this process; otherwise none,
 * because a worker in another process could not invalidate this process's memory.
 */
function buildCache(o: { config: Config; verb: Verb; redis: RedisCommands | undefined; kafka: KafkaClient | undefined; metrics: Metrics; log: Logger }): ScenarioCache {
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

/** The worker's output store, write side: Iceberg through Trino, or Postgres. */
function outputWriter(config: Config, mode: "server" | "embedded", sql: Sql, iceberg: (IcebergOutputs & { metadata: Metadata }) | undefined): OutputWriter {
  return iceberg
    ? createTrinoOutputWriter({
        ...iceberg,
        concurrency: config.trinoWriteConcurrency,
        maxStatementChars: config.trinoMaxStatementChars,
        sortRows: config.outputSortRows,
      })
    : createPgOutputWriter(sql, {
        copy: mode === "server",
        // The embedded store has one connection for everything: a run is held whole, so no
        // transaction stays open while the engine computes (docs/runs.md, "Memory").
        sortRows: mode === "server" ? config.outputSortRows : Number.POSITIVE_INFINITY,
      });
}

/** The Trino client of the Iceberg output store (and of `worker backfill`). */
export function trinoClient(config: Config, log: Logger, metrics?: Metrics, session?: Record<string, string>): TrinoClient {
  if (!config.trinoUrl) throw new Error("AURUM_TRINO_URL is not set"); // loadConfig already refuses this
  return createTrinoClient({
    url: config.trinoUrl,
    user: config.trinoUser,
    source: config.trinoSource,
    catalog: config.trinoCatalog,
    schema: config.trinoSchema,
    log,
    ...(config.trinoSpooling !== "off" ? { spooling: config.trinoSpooling } : {}),
    segmentFetches: config.trinoSegmentFetches,
    ...(session ? { session } : {}),
    ...(metrics ? { onQueryEnd: (q: { state: string; elapsedSeconds: number }) => metrics.trinoQueryDuration.observe({ state: q.state }, q.elapsedSeconds) } : {}),
  });
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

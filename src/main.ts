/**
 * Composition root and CLI: `start` (API and worker in one process; embedded defaults), `api`
 * (the HTTP API only; auth must be configured), `worker` (the scenario worker with its probe
 * server) and `migrate`. With AURUM_KAFKA_BROKERS set, runs travel through the outbox and Kafka.
 */
import { createKafka, type KafkaClient, type KafkaProducer } from "./adapters/kafka";
import { openDatabase } from "./adapters/postgres";
import { createApp } from "./app";
import { type Config, ConfigError, loadConfig } from "./config";
import { createCurveRepo } from "./curves/repo";
import { SAMPLE_CURVES } from "./curves/sample";
import { createCurveService } from "./curves/service";
import { migrate } from "./db/migrate";
import { createPgOutputWriter } from "./outputs/pg-store";
import { createAuthenticator } from "./platform/auth";
import { createLogger } from "./platform/logger";
import { createMetrics } from "./platform/metrics";
import { createLocalQueue, createOutboxQueue, type LocalQueue, type RunQueue } from "./runs/queue";
import { type Publisher, startOutboxRelay } from "./runs/relay";
import { startWorker } from "./worker";
import { startProbeServer } from "./worker/metrics";

const USAGE = "usage: bun src/main.ts <start|api|worker|migrate>";

async function main(verb: string | undefined): Promise<void> {
  if (verb !== "start" && verb !== "api" && verb !== "worker" && verb !== "migrate") {
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
  const metrics = createMetrics();
  const kafka = config.kafkaBrokers?.length ? createKafka({ brokers: config.kafkaBrokers, clientId: `${config.kafkaClientId}-${verb}` }) : undefined;
  // Kafka mode: triggers write an outbox row that the relay publishes. Embedded: the table is the queue.
  const outbox = kafka ? createOutboxQueue({ request: config.scenarioRequestTopic, deadLetter: config.scenarioDlqTopic }) : undefined;
  const local = outbox ? undefined : createLocalQueue();
  const queue: RunQueue = outbox ?? (local as LocalQueue);
  if (kafka) {
    await kafka
      .ensureTopics([
        { name: config.scenarioRequestTopic, partitions: 12 },
        { name: config.scenarioDlqTopic, partitions: 3 },
      ])
      .catch((err) => log.warn("kafka_topics_unverified", { error: (err as Error).message }));
  }
  const relay =
    kafka && outbox ? startOutboxRelay({ sql: db.sql, publisher: lazyPublisher(kafka), log, pollMs: config.relayPollMs, onNotify: (wake) => outbox.onNotify(wake) }) : undefined;
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
          writer: createPgOutputWriter(db.sql, { copy: db.mode === "server" }),
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
      : createApp({ config, sql: db.sql, log, metrics, authenticate: createAuthenticator(config), queue, isDraining: () => draining }).listen({
          port: config.port,
          hostname: config.host,
          maxRequestBodySize: Math.max(config.maxBodyBytes, config.maxImportBytes),
        });
  if (app)
    log.info("listening", {
      url: `http://${config.host}:${app.server?.port}`,
      verb,
      database: db.mode,
      auth: config.authDisabled ? "disabled" : "jwt",
      queue: kafka ? "kafka" : "embedded",
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
    await kafka?.close();
    await db.close();
    log.info("shutdown_complete", { graceful });
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
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

await main(process.argv[2]);

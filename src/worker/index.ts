/**
 * Assembles a scenario worker: a pool of Bun Workers, the executor, and a source of runs — the
 * Kafka consumer group when a Kafka client is given, else the in-process dispatcher that claims
 * QUEUED runs from the runs table (embedded mode). Both reclaim runs whose lease expired.
 */
import type { KafkaClient, KafkaConsumer } from "../adapters/kafka";
import { createRunMetrics, type Metrics } from "../adapters/metrics";
import type { Sql } from "../adapters/postgres";
import type { Config } from "../config";
import { createMetadata } from "../metadata";
import type { OutputWriter } from "../outputs/store";
import type { Logger } from "../platform/logger";
import type { LocalQueue, RunQueue } from "../runs/queue";
import { startDispatcher } from "./dispatcher";
import { createExecutor, type ExecutorOptions } from "./executor";
import { createRequestHandler } from "./kafka-worker";
import { WorkerPool } from "./pool";
import { createRunStore } from "./run-store";

/** The worker's settings, resolved: its pool's size is a number here (the composition root picks the cores when the config leaves it open). */
export type WorkerConfig = Pick<Config, "workerLeaseSeconds" | "workerPollMs" | "workerRetryBaseMs" | "scenarioRequestTopic" | "scenarioDlqTopic" | "workerGroupId"> & {
  workerConcurrency: number;
};

export type WorkerDeps = {
  sql: Sql;
  config: WorkerConfig;
  log: Logger;
  metrics: Metrics;
  /** Where the outputs go: the Postgres table or Iceberg (chosen by src/runtime.ts). */
  writer: OutputWriter;
  /** This worker's name in leases and logs (unique per process). */
  workerId: string;
  executorOptions?: Partial<ExecutorOptions>;
} & ({ mode: "embedded"; queue: LocalQueue } | { mode: "kafka"; queue: RunQueue; kafka: KafkaClient });

export type Worker = Awaited<ReturnType<typeof startWorker>>;

export async function startWorker(deps: WorkerDeps) {
  const { sql, config, log } = deps;
  const { workerConcurrency: concurrency } = config;
  const { workerId } = deps;
  const leaseMs = config.workerLeaseSeconds * 1000;
  const pool = new WorkerPool(concurrency);
  const store = createRunStore(createMetadata(sql), workerId, leaseMs, deps.queue);
  let consumer: KafkaConsumer | undefined;
  const metrics = createRunMetrics(deps.metrics.registry, {
    pool,
    lag: () => consumer?.lag() ?? Promise.resolve(0),
    partitions: deps.mode === "kafka" ? () => consumer?.assignments().length ?? 0 : undefined,
    leaseLapsed: () => store.countLeaseLapsed(),
    live: () => store.countLive(),
  });
  const executor = createExecutor({
    store,
    pool,
    writer: deps.writer,
    log,
    metrics,
    options: { workerId, leaseMs, retryBaseMs: config.workerRetryBaseMs, ...deps.executorOptions },
  });

  // A source of runs: stop() stops taking new ones; close() lets go of what is left (offsets, group).
  let source: { stop(): Promise<void> | void; close(): Promise<void> };
  if (deps.mode === "embedded") {
    const dispatcher = startDispatcher({ store, executor, queue: deps.queue, concurrency, pollMs: config.workerPollMs, log });
    source = { stop: () => dispatcher.stop(), close: async () => {} };
  } else {
    const producer = await deps.kafka.producer();
    const handle = createRequestHandler({ store, executor, producer, dlqTopic: config.scenarioDlqTopic, metrics, log });
    const c = await deps.kafka.consumer({
      groupId: config.workerGroupId,
      topics: [config.scenarioRequestTopic],
      concurrency,
      onError: (err, m) => log.warn("consumer_error", { error: err.message, ...(m ? { topic: m.topic, partition: m.partition, offset: String(m.offset) } : {}) }),
    });
    consumer = c;
    const consuming = c.run(handle).catch((err) => log.error("consumer_failed", { error: (err as Error).message }));
    const sweeper = startSweeper(store, config.workerPollMs, log);
    source = {
      stop: () => {
        sweeper.stop();
        c.pause();
      },
      close: async () => {
        // Every handler has returned by now (finished or handed back), so their offsets commit.
        await c.close(5_000);
        await consuming;
        await producer.close();
      },
    };
  }
  /** Waits until no run executes here, at most `ms`; true when none does. */
  const drain = async (ms: number) => {
    const deadline = Date.now() + ms;
    while (executor.active > 0 && Date.now() < deadline) await Bun.sleep(25);
    return executor.active === 0;
  };
  log.info("worker_started", { worker_id: workerId, concurrency, mode: deps.mode });

  return {
    workerId,
    pool,
    executor,
    get ready() {
      return deps.mode === "embedded" || consumer !== undefined;
    },
    /** Stops taking runs, lets running ones finish within `graceMs`, hands the rest back to the queue, closes the pool. */
    async stop(graceMs: number): Promise<boolean> {
      await source.stop();
      const finished = await drain(graceMs);
      if (!finished) {
        executor.handBackAll();
        await drain(5_000);
      }
      await source.close();
      await pool.close();
      log.info("worker_stopped", { worker_id: workerId, finished_in_grace: finished });
      return finished;
    },
  };
}

/** Kafka mode's lease watchdog: puts runs whose worker died back to QUEUED (and into the outbox). */
function startSweeper(store: ReturnType<typeof createRunStore>, pollMs: number, log: Logger) {
  const timer = setInterval(async () => {
    try {
      const reclaimed = await store.reclaimExpired();
      if (reclaimed.length) log.warn("runs_reclaimed", { run_ids: reclaimed });
    } catch (err) {
      log.warn("reclaim_failed", { error: (err as Error).message });
    }
  }, pollMs);
  return { stop: () => clearInterval(timer) };
}

/** Assembles the embedded worker: pool + executor + dispatcher over the local queue. */
import { cpus } from "node:os";
import type { Sql } from "../adapters/postgres";
import type { Config } from "../config";
import { createPgOutputWriter } from "../outputs/pg-store";
import type { OutputWriter } from "../outputs/store";
import type { Logger } from "../platform/logger";
import type { LocalQueue } from "../runs/queue";
import { startDispatcher } from "./dispatcher";
import { createExecutor, type ExecutorOptions } from "./executor";
import { WorkerPool } from "./pool";
import { createRunStore } from "./run-store";

export type WorkerConfig = Pick<Config, "workerConcurrency" | "workerLeaseSeconds" | "workerPollMs" | "workerRetryBaseMs">;

export function startEmbeddedWorker(deps: {
  sql: Sql;
  config: WorkerConfig;
  log: Logger;
  queue: LocalQueue;
  workerId?: string;
  writer?: OutputWriter;
  executorOptions?: Partial<ExecutorOptions>;
}) {
  const { sql, config, log, queue } = deps;
  const concurrency = config.workerConcurrency ?? Math.max(1, cpus().length);
  const workerId = deps.workerId ?? `embedded-${process.pid}-${crypto.randomUUID().slice(0, 8)}`;
  const leaseMs = config.workerLeaseSeconds * 1000;
  const pool = new WorkerPool(concurrency);
  const store = createRunStore(sql, workerId, leaseMs);
  const writer = deps.writer ?? createPgOutputWriter(sql);
  const executor = createExecutor({ store, pool, writer, log, options: { workerId, leaseMs, retryBaseMs: config.workerRetryBaseMs, ...deps.executorOptions } });
  const dispatcher = startDispatcher({ store, executor, queue, concurrency, pollMs: config.workerPollMs, log });
  log.info("worker_started", { worker_id: workerId, concurrency, mode: "embedded" });
  return {
    pool,
    executor,
    /** Stops claiming, lets running runs finish within `graceMs`, hands the rest back, closes the pool. */
    async stop(graceMs: number) {
      const finished = await dispatcher.stop(graceMs);
      if (!finished) {
        executor.handBackAll();
        await dispatcher.stop(5_000);
      }
      await pool.close();
      return finished;
    },
  };
}

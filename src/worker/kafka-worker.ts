/**
 * Kafka mode of the scenario worker. For each request message the main thread claims the run (a
 * cancelled, finished or already running run is skipped), executes it on the pool, and only then
 * lets the consumer commit the offset. The runs table stays the source of truth: retries, lease
 * reclaims and dead letters go through the outbox in the transaction that decides them, and the
 * relay publishes them. An undecodable message goes straight to the dead-letter topic and is
 * committed, so it never stalls its partition.
 */
import type { KafkaMessage, KafkaProducer } from "../adapters/kafka";
import type { Logger } from "../platform/logger";
import { deadLetterMessage } from "../runs/queue";
import type { Executor, RunMetrics } from "./executor";
import type { RunStore } from "./run-store";

/** How long a run deferred for fairness waits before its message is published again. */
export const FAIR_DEFER_MS = 500;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Decodes a run request (docs/events.md); throws with the reason when it is not one we understand. */
export function decodeRequest(value: Uint8Array | null): { run_id: string } {
  if (!value?.length) throw new Error("empty message");
  let msg: unknown;
  try {
    msg = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(value));
  } catch (err) {
    throw new Error(`not UTF-8 JSON: ${(err as Error).message}`);
  }
  const m = (msg ?? {}) as { schema?: unknown; version?: unknown; run_id?: unknown };
  if (m.schema !== "aurum.scenario.request") throw new Error("schema is not aurum.scenario.request");
  if (m.version !== 1) throw new Error(`unsupported version ${JSON.stringify(m.version)} (this worker reads version 1)`);
  if (typeof m.run_id !== "string" || !UUID.test(m.run_id)) throw new Error("run_id is not a UUID");
  return { run_id: m.run_id };
}

export function createRequestHandler(deps: { store: RunStore; executor: Executor; producer: KafkaProducer; dlqTopic: string; metrics: RunMetrics; log: Logger }) {
  const { store, executor, producer, log } = deps;
  return async function handle(m: KafkaMessage): Promise<void> {
    let runId: string;
    try {
      runId = decodeRequest(m.value).run_id;
    } catch (err) {
      const source = { topic: m.topic, partition: m.partition, offset: String(m.offset) };
      log.warn("request_undecodable", { ...source, error: (err as Error).message });
      const error = { code: "UNDECODABLE", message: (err as Error).message, value_base64: m.value ? Buffer.from(m.value).toString("base64") : null };
      await producer.send(deps.dlqTopic, [{ key: m.key ?? "", value: JSON.stringify(deadLetterMessage({ reason: "undecodable request", error, source })) }]);
      deps.metrics.deadLettered();
      return;
    }
    // Fair across tenants: a run whose tenant already has more RUNNING runs than another tenant with
    // work is published again a little later instead of claimed (docs/runs.md "Fairness across tenants").
    const run = await store.claimFair(runId, FAIR_DEFER_MS);
    if (run === "deferred") {
      log.debug("request_deferred", { run_id: runId, reason: "another tenant with fewer running runs has a queued run", delay_ms: FAIR_DEFER_MS });
      return;
    }
    if (!run) {
      log.debug("request_skipped", { run_id: runId, reason: "not QUEUED: cancelled, finished, running elsewhere, or unknown" });
      return;
    }
    await executor.execute(run);
  };
}

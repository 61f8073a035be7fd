/**
 * The outbox relay: publishes due `run_outbox` rows to Kafka in id order and marks them sent in
 * the same transaction that locked them. Rows are locked with SKIP LOCKED, so several relays (one
 * per API replica and worker) share the work; a publish that fails rolls the batch back and it is
 * tried again, so a Kafka outage delays runs and never loses them. Delivery is at least once:
 * a crash between publish and commit sends a row twice, and workers skip a run they cannot claim.
 */

import type { Transaction } from "../adapters/postgres";
import type { Logger } from "../platform/logger";
import { createSleeper, withTimeout } from "../platform/timers";
import type { OutboxRepo } from "./outbox";

export type OutboxMessage = { key: string; value: string; headers: Record<string, string> };
export type Publisher = { send(topic: string, messages: OutboxMessage[]): Promise<void> };

/** What the relay reports (`aurum_outbox_*`; Prometheus: createOutboxMetrics in src/adapters/metrics.ts). */
export type OutboxMetrics = {
  /** Rows published by one flush. */
  published(n: number): void;
  /** A flush that failed (Kafka unavailable or slow, or the database). */
  failed(): void;
  /** Unsent rows (due or not), as last counted. */
  backlog(n: number): void;
};

const NO_METRICS: OutboxMetrics = { published: () => {}, failed: () => {}, backlog: () => {} };

const SEND_TIMEOUT_MS = 15_000;

export type Relay = { stop(): Promise<void>; readonly backlog: number; flush(): Promise<number> };

export function startOutboxRelay(deps: {
  outbox: OutboxRepo;
  /** The unit of work a batch is locked, published and marked sent in. */
  transaction: Transaction;
  publisher: Publisher;
  log: Logger;
  pollMs: number;
  batchSize?: number;
  onNotify?: (wake: () => void) => void;
  metrics?: OutboxMetrics;
}): Relay {
  const { outbox, transaction, publisher, log, pollMs } = deps;
  const metrics = deps.metrics ?? NO_METRICS;
  const batchSize = deps.batchSize ?? 500;
  let stopped = false;
  let failures = 0;
  let backlog = 0;
  const pause = createSleeper();
  deps.onNotify?.(() => pause.wake());

  /** Publishes one batch of due rows; returns how many were sent. */
  async function flushOnce(): Promise<number> {
    return transaction(async (tx) => {
      const rows = await outbox.lockDue(tx, batchSize);
      if (rows.length === 0) return 0;
      const byTopic = new Map<string, OutboxMessage[]>();
      for (const r of rows) {
        const list = byTopic.get(r.topic) ?? [];
        list.push({ key: r.msg_key, value: JSON.stringify(r.payload), headers: r.headers });
        byTopic.set(r.topic, list);
      }
      // Bounded: the rows stay locked while we wait, so a hung broker must not hold them for long.
      for (const [topic, messages] of byTopic)
        await withTimeout(publisher.send(topic, messages), SEND_TIMEOUT_MS, () => {
          throw new Error(`publishing to ${topic} timed out after ${SEND_TIMEOUT_MS} ms`);
        });
      await outbox.markSent(
        tx,
        rows.map((r) => r.id),
      );
      return rows.length;
    });
  }

  async function flush(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await flushOnce();
      total += n;
      if (n < batchSize) break;
    }
    return total;
  }

  const loop = (async () => {
    while (!stopped) {
      try {
        const sent = await flush();
        // Nothing sent may also mean another relay holds the rows: only a publish proves recovery.
        if (sent) {
          metrics.published(sent);
          if (failures) log.info("outbox_relay_recovered", { after_failures: failures });
          failures = 0;
        }
        backlog = await outbox.countUnsent();
        metrics.backlog(backlog);
      } catch (err) {
        failures++;
        metrics.failed();
        // Log the first failure and then every tenth, not every poll of an outage.
        if (failures === 1 || failures % 10 === 0) log.warn("outbox_relay_failed", { failures, error: (err as Error).message });
      }
      // Back off while failing: poll interval × failures, at most 10 s.
      const delay = Math.min(10_000, pollMs * Math.max(1, failures));
      await pause.sleep(delay);
    }
  })();

  return {
    get backlog() {
      return backlog;
    },
    flush,
    async stop() {
      stopped = true;
      pause.wake();
      await loop;
    },
  };
}

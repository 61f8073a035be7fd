/**
 * The outbox repository (`run_outbox`): messages written in the transaction that decided them,
 * published later by the relay (relay.ts). Rows are locked with SKIP LOCKED, so several relays
 * share the due rows without waiting for each other.
 */
import type { Sql, Tx } from "../adapters/postgres";

export type OutboxRow = { id: string; topic: string; msg_key: string; headers: Record<string, string>; payload: unknown };

export type NewOutboxMessage = { runId: string; topic: string; key: string; headers: Record<string, string>; payload: Record<string, unknown>; delayMs?: number };

export function createOutboxRepo(sql: Sql) {
  return {
    /** Inside the transaction the message belongs to; it becomes due `delayMs` after it is written. */
    async insert(tx: Tx, m: NewOutboxMessage): Promise<void> {
      await tx`insert into run_outbox (run_id, topic, msg_key, headers, payload, available_at)
               values (${m.runId}, ${m.topic}, ${m.key}, ${tx.json(m.headers)}, ${tx.json(m.payload as never)},
                       clock_timestamp() + ${m.delayMs ?? 0} * interval '1 millisecond')`;
    },

    /**
     * Up to `limit` due unsent rows in publishing order (due time, then the order they were written),
     * locked until `tx` ends; rows another relay holds are skipped. The ORDER BY names the table's id:
     * bare, `id` is the text selected under that name, which put message 10 before message 9 when
     * both fell due in the same microsecond (and sorted where the due index gives the order).
     */
    async lockDue(tx: Tx, limit: number): Promise<OutboxRow[]> {
      return tx<OutboxRow[]>`
        select id::text as id, topic, msg_key, headers, payload from run_outbox
        where sent_at is null and available_at <= clock_timestamp()
        order by available_at, run_outbox.id limit ${limit} for update skip locked`;
    },

    async markSent(tx: Tx, ids: string[]): Promise<void> {
      await tx`update run_outbox set sent_at = clock_timestamp() where id in ${tx(ids)}`;
    },

    /** Unsent rows, due or not (the relay's backlog gauge). */
    async countUnsent(): Promise<number> {
      const [row] = await sql<{ n: number }[]>`select count(*)::int as n from run_outbox where sent_at is null`;
      return row?.n ?? 0;
    },

    /** Messages for the run whose request id starts with `prefix` (how often a fair claim deferred it). */
    async countRequests(tx: Tx, runId: string, prefix: string): Promise<number> {
      const [row] = await tx<{ n: number }[]>`
        select count(*)::int as n from run_outbox where run_id = ${runId} and headers->>'request_id' like ${`${prefix}%`}`;
      return row?.n ?? 0;
    },
  };
}

export type OutboxRepo = ReturnType<typeof createOutboxRepo>;

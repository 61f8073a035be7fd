/**
 * The events docs/events.md promises, over a real broker with real processes (`bun src/main.ts api`
 * and `worker` in Kafka mode): a run whose outputs commit publishes one "outputs ready" event on
 * the output topic through the outbox, and deleting a scenario publishes a `scenario_deleted`
 * invalidation event carrying the API request's `request_id` header.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createKafka, type KafkaConsumer, type KafkaMessage } from "../../src/adapters/kafka";
import { createTestDb, type TestDb } from "../support/app";
import { checkedFetch } from "../support/contract";
import { eventually } from "../support/eventually";
import { type ServiceProcess, startService } from "../support/service";
import { requireService, serviceEnv } from "../support/services";

/** Every response of the real process is checked against the OpenAPI document (test/support/contract.ts). */
const fetch = checkedFetch;

const kafkaStatus = await requireService("kafka");
const suffix = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const TOPICS = {
  request: `aurum.it.ev.request.${suffix}`,
  dlq: `aurum.it.ev.dlq.${suffix}`,
  output: `aurum.it.ev.output.${suffix}`,
  invalidation: `aurum.it.ev.invalidation.${suffix}`,
};
const TENANT = "t-events";
const headers = { "x-aurum-tenant": TENANT, "content-type": "application/json" };

describe.skipIf(!kafkaStatus.available)("Kafka events: outputs ready and scenario_deleted", () => {
  let db: TestDb;
  let api: ServiceProcess;
  let worker: ServiceProcess;
  const kafka = createKafka({ brokers: (serviceEnv().AURUM_KAFKA_BROKERS ?? "").split(","), clientId: `aurum-it-events-${suffix}` });
  const seen: Record<"output" | "invalidation", KafkaMessage[]> = { output: [], invalidation: [] };
  const consumers: KafkaConsumer[] = [];

  const http = async (method: string, path: string, body?: unknown, extra: Record<string, string> = {}) => {
    const res = await fetch(`${api.base}${path}`, { method, headers: { ...headers, ...extra }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    return { status: res.status, json: res.status === 204 ? undefined : ((await res.json()) as { data: Record<string, unknown> }) };
  };
  const decoded = (m: KafkaMessage) => JSON.parse(m.value?.toString() ?? "");

  beforeAll(async () => {
    db = await createTestDb("postgres");
    await kafka.ensureTopics(Object.values(TOPICS).map((name) => ({ name, partitions: 1 })));
    for (const kind of ["output", "invalidation"] as const) {
      const c = await kafka.consumer({ groupId: `aurum-it-ev-${kind}-${suffix}`, topics: [TOPICS[kind]], fromBeginning: true });
      consumers.push(c);
      void c.run(async (m) => void seen[kind].push(m));
    }
    const env: Record<string, string | undefined> = {
      PATH: process.env.PATH,
      AURUM_APP_DB_DSN: db.url,
      AURUM_KAFKA_BROKERS: serviceEnv().AURUM_KAFKA_BROKERS,
      AURUM_SCENARIO_REQUEST_TOPIC: TOPICS.request,
      AURUM_SCENARIO_DLQ_TOPIC: TOPICS.dlq,
      AURUM_SCENARIO_OUTPUT_TOPIC: TOPICS.output,
      AURUM_SCENARIO_CACHE_INVALIDATION_TOPIC: TOPICS.invalidation,
      AURUM_WORKER_GROUP_ID: `aurum-it-ev-worker-${suffix}`,
      AURUM_OUTBOX_RELAY_POLL_MS: "100",
      AURUM_API_AUTH_DISABLED: "1",
      AURUM_OUTPUT_STORE: "postgres",
      AURUM_LOAD_SAMPLE_CURVES: "always",
    };
    api = await startService("api", env);
    worker = await startService("worker", env);
  }, 120_000);

  afterAll(async () => {
    await api?.stop();
    await worker?.stop();
    for (const c of consumers) await c.close().catch(() => {});
    await kafka.deleteTopics?.(Object.values(TOPICS)).catch(() => {});
    await kafka.close();
    await db?.drop();
  }, 120_000);

  test("a run whose outputs commit publishes one outputs_ready event (through the outbox), with the committed row count", async () => {
    const created = await http("POST", "/v1/scenarios", {
      name: "Events",
      assumptions: [{ driver_type: "policy", payload: { policy_name: "RPS", start_year: 2027, target: 0.5 } }],
      parameters: { horizon_months: 6, mc_paths: 100 },
    });
    expect(created.status).toBe(201);
    const scenarioId = created.json?.data.id as string;
    const triggered = await http("POST", `/v1/scenarios/${scenarioId}/run`, { seed: 7 });
    expect(triggered.status).toBe(202);
    const runId = triggered.json?.data.id as string;
    const run = await eventually(
      async () => {
        const r = (await http("GET", `/v1/scenarios/${scenarioId}/runs/${runId}`)).json?.data;
        return r && ["SUCCEEDED", "FAILED"].includes(r.state as string) ? r : undefined;
      },
      { what: "the run to succeed", timeoutMs: 60_000 },
    );
    expect(run.state).toBe("SUCCEEDED");
    const message = await eventually(() => seen.output.find((m) => decoded(m).run_id === runId), { what: "the outputs_ready event" });
    const [stored] = await db.sql<{ n: number; asof_date: string; version_hash: string }[]>`
      select count(*)::int as n, min(asof_date)::text as asof_date, min(version_hash) as version_hash from scenario_output where run_id = ${runId}`;
    const n = stored?.n ?? 0;
    expect(n).toBeGreaterThan(0);
    expect(message.key).toBe(scenarioId);
    expect(message.headers).toMatchObject({ run_id: runId, request_id: `outputs-${runId}`, traceparent: expect.stringMatching(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/) });
    expect(decoded(message)).toEqual({
      schema: "aurum.scenario.outputs_ready",
      version: 1,
      run_id: runId,
      scenario_id: scenarioId,
      tenant_id: TENANT,
      rows: n,
      asof_date: stored?.asof_date,
      version_hash: stored?.version_hash,
      committed_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
    });
    // It went through the outbox: one row, sent.
    // (the relay marks the row sent after the broker acknowledged it, so possibly after the consumer saw it)
    const rows = await eventually(
      async () => {
        const r = await db.sql`select sent_at from run_outbox where run_id = ${runId} and topic = ${TOPICS.output}`;
        return r.every((row) => row.sent_at !== null) && r;
      },
      { what: "the outbox row to be marked sent" },
    );
    expect(rows).toHaveLength(1);
    // Exactly one per run.
    await Bun.sleep(300);
    expect(seen.output.filter((m) => decoded(m).run_id === runId)).toHaveLength(1);
  }, 120_000);

  test("deleting a scenario publishes a scenario_deleted invalidation event with the request's request_id header", async () => {
    const created = await http("POST", "/v1/scenarios", {
      name: "Deleted",
      assumptions: [{ driver_type: "policy", payload: { policy_name: "RPS", start_year: 2027, target: 0.5 } }],
      parameters: {},
    });
    const scenarioId = created.json?.data.id as string;
    const res = await http("DELETE", `/v1/scenarios/${scenarioId}`, undefined, { "x-request-id": `req-delete-${suffix}` });
    expect(res.status).toBe(204);
    const message = await eventually(() => seen.invalidation.find((m) => decoded(m).scenario_id === scenarioId), { what: "the scenario_deleted event" });
    expect(message.key).toBe(TENANT);
    expect(message.headers.request_id).toBe(`req-delete-${suffix}`);
    expect(decoded(message)).toMatchObject({
      schema: "aurum.scenario.cache_invalidation",
      version: 1,
      tenant_id: TENANT,
      scenario_id: scenarioId,
      run_id: null,
      reason: "scenario_deleted",
    });
  }, 120_000);
});

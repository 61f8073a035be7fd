/**
 * One trace id across processes (docs/operations.md): a run triggered with a W3C `traceparent`
 * carries its trace id in the API's log, the outbox row, the Kafka message headers, the worker's
 * log lines and the worker's `trino_query_metrics` (Kafka mode, Iceberg store through Trino).
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
const trinoStatus = await requireService("trino");

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;

/** Log lines of a process's output (JSON objects, one a line). */
const lines = (text: string) =>
  text
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe.skipIf(!kafkaStatus.available || !trinoStatus.available)("one trace id from the request to Trino (Kafka mode, Iceberg store)", () => {
  let db: TestDb;
  let api: ServiceProcess;
  let worker: ServiceProcess;
  let consumer: KafkaConsumer;
  const requests: KafkaMessage[] = [];
  const suffix = Math.random().toString(36).slice(2, 8);
  const topic = `aurum.trace.request.${suffix}`;
  const env = serviceEnv();
  const kafka = createKafka({ brokers: (env.AURUM_KAFKA_BROKERS as string).split(","), clientId: `aurum-trace-test-${suffix}` });

  beforeAll(async () => {
    db = await createTestDb("postgres", { sampleCurves: true });
    const processEnv = {
      ...env,
      AURUM_APP_DB_DSN: db.url,
      AURUM_SCENARIO_REQUEST_TOPIC: topic,
      AURUM_SCENARIO_DLQ_TOPIC: `aurum.trace.dlq.${suffix}`,
      AURUM_WORKER_GROUP_ID: `aurum-trace-${suffix}`,
      AURUM_OUTPUT_STORE: "trino",
      AURUM_API_AUTH_DISABLED: "1",
      AURUM_API_RATE_LIMIT_ENABLED: "0",
      AURUM_OUTBOX_RELAY_POLL_MS: "100",
      AURUM_WORKER_CONCURRENCY: "1",
    };
    api = await startService("api", processEnv);
    worker = await startService("worker", processEnv);
    consumer = await kafka.consumer({ groupId: `aurum-trace-reader-${suffix}`, topics: [topic], fromBeginning: true });
    void consumer.run(async (m) => void requests.push(m));
  }, 120_000);

  afterAll(async () => {
    await consumer?.close(1_000);
    await api?.stop();
    await worker?.stop();
    await kafka.deleteTopics([topic]).catch(() => {});
    await db?.drop();
  });

  test("the same trace id in the API log, the outbox, the Kafka headers, the worker log and trino_query_metrics", async () => {
    const headers = { "content-type": "application/json", "x-aurum-tenant": `t-trace-${suffix}` };
    const created = await (
      await fetch(`${api.base}/v1/scenarios`, {
        method: "POST",
        headers,
        body: JSON.stringify({
          name: "Traced",
          assumptions: [{ driver_type: "policy", payload: { policy_name: "RPS", start_year: 2027, target: 0.5 } }],
          parameters: { horizon_months: 6, mc_paths: 100 },
        }),
      })
    ).json();
    const triggered = await fetch(`${api.base}/v1/scenarios/${created.data.id}/run`, { method: "POST", headers: { ...headers, traceparent: TRACEPARENT }, body: "{}" });
    expect(triggered.status).toBe(202);
    const run = (await triggered.json()).data;
    expect(run.trace_id).toBe(TRACE_ID);

    // Wait on the database, not the API, so the API's log keeps the lines of the trigger.
    const state = await eventually(
      async () => {
        const now = (await db.sql`select state from scenario_run where id = ${run.id}`)[0]?.state as string;
        return ["SUCCEEDED", "FAILED"].includes(now) && now;
      },
      { what: "the run to finish", timeoutMs: 90_000, intervalMs: 200 },
    );
    expect(state).toBe("SUCCEEDED");

    const apiLog = lines(api.output());
    expect(apiLog.some((l) => l.event === "http_request" && l.trace_id === TRACE_ID && l.status === 202)).toBe(true);
    expect(apiLog.some((l) => l.event === "scenario_run_triggered" && l.trace_id === TRACE_ID && l.run_id === run.id)).toBe(true);

    const [outbox] = await db.sql<{ headers: Record<string, string> }[]>`select headers from run_outbox where run_id = ${run.id} order by id limit 1`;
    expect(outbox?.headers.traceparent).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`));

    const message = await eventually(() => requests.find((m) => m.headers.run_id === run.id), { what: "the run's request message" });
    expect(message?.headers.traceparent).toMatch(new RegExp(`^00-${TRACE_ID}-`));

    // The worker logs the run's success after the commit the database showed, and its output
    // arrives through a pipe: wait for that line (once, under load, the check ran before it came).
    const workerLog = await eventually(
      () => {
        const log = lines(worker.output());
        return log.some((l) => l.run_id === run.id && l.event === "scenario_run_succeeded") && log;
      },
      { what: "the worker's scenario_run_succeeded line" },
    );
    const runLines = workerLog.filter((l) => l.run_id === run.id);
    expect(runLines.map((l) => l.event)).toEqual(expect.arrayContaining(["scenario_run_started", "iceberg_outputs_written", "scenario_run_succeeded"]));
    for (const l of runLines) expect({ event: l.event, trace_id: l.trace_id }).toEqual({ event: l.event, trace_id: TRACE_ID });
    const trinoLines = workerLog.filter((l) => l.event === "trino_query_metrics" && l.trace_id === TRACE_ID);
    expect(trinoLines.length).toBeGreaterThan(0);
    expect(trinoLines.every((l) => l.state === "FINISHED")).toBe(true);
  }, 120_000);

  test("a request without a valid traceparent gets a new trace id of its own", async () => {
    const res = await fetch(`${api.base}/v1/scenarios?limit=1`, {
      headers: { "x-aurum-tenant": `t-trace-${suffix}`, traceparent: "00-00000000000000000000000000000000-00f067aa0ba902b7-01" },
    });
    expect(res.status).toBe(200);
    const requestId = res.headers.get("x-request-id");
    // The request's log line is written after the response went out: wait for it.
    const find = () => lines(api.output()).find((l) => l.event === "http_request" && l.request_id === requestId);
    const line = await eventually(find, { what: "the request's log line" });
    expect(line?.trace_id).toMatch(/^[0-9a-f]{32}$/);
    expect(line?.trace_id).not.toBe("00000000000000000000000000000000");
  });
});

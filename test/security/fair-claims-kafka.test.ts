/**
 * Issue 18, item 10, in Kafka mode with real processes: the API (and its relay) publishes one
 * tenant's 100 CRITICAL runs and then another tenant's NORMAL run to a one-partition topic (the
 * worst case: one scenario key or an unlucky hash puts them in one partition), and only then a
 * worker with 2 threads joins. Messages arrive in partition order; the claim check (claimFair)
 * defers the busy tenant's runs while the other tenant waits, so the other run is among the first
 * runs started instead of the 101st. Order only, no wall-clock bounds.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createKafka } from "../../src/adapters/kafka";
import { createTestDb, type TestDb } from "../support/app";
import { checkedFetch } from "../support/contract";
import { eventually } from "../support/eventually";
import { type ServiceProcess, startService } from "../support/service";
import { kafkaModeEnv, requireService, serviceEnv } from "../support/services";

/** Every response of the real process is checked against the OpenAPI document (test/support/contract.ts). */
const fetch = checkedFetch;

const kafkaStatus = await requireService("kafka");
const brokers = serviceEnv().AURUM_KAFKA_BROKERS ?? "";
const suffix = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const REQUEST_TOPIC = `aurum.it.fair.${suffix}`;
const DLQ_TOPIC = `aurum.it.fair-dlq.${suffix}`;
const BULK = 100;

describe.skipIf(!kafkaStatus.available)("Kafka mode: claims are fair across tenants", () => {
  let db: TestDb;
  let api: ServiceProcess | undefined;
  let worker: ServiceProcess | undefined;
  const kafka = createKafka({ brokers: brokers.split(","), clientId: `aurum-it-fair-${suffix}` });

  const env = (extra: Record<string, string> = {}) =>
    kafkaModeEnv({ databaseUrl: db.url as string, requestTopic: REQUEST_TOPIC, dlqTopic: DLQ_TOPIC, groupId: `aurum-it-fair-${suffix}` }, extra);
  const http = async (method: string, path: string, tenant: string, body?: unknown) => {
    const res = await fetch(`${api?.base}${path}`, {
      method,
      headers: { "x-aurum-tenant": tenant, "content-type": "application/json" },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, json: (await res.json()) as { data: never } };
  };

  beforeAll(async () => {
    db = await createTestDb("postgres", { sampleCurves: true });
    await kafka.ensureTopics([
      { name: REQUEST_TOPIC, partitions: 1 },
      { name: DLQ_TOPIC, partitions: 1 },
    ]);
    api = await startService("api", env());
  }, 120_000);
  afterAll(async () => {
    await worker?.stop("SIGKILL");
    await api?.stop("SIGKILL");
    await kafka.deleteTopics([REQUEST_TOPIC, DLQ_TOPIC]).catch(() => {});
    await kafka.close();
    await db?.drop();
  }, 120_000);

  test(`behind ${BULK} CRITICAL messages of one tenant in one partition, another tenant's NORMAL run is among the first 3 started (2 threads)`, async () => {
    // Runs of about a second each (2,000 paths): both threads' runs end at about the same time, so the
    // busy tenant is often at 0 RUNNING when the next message comes; least recently served decides then.
    const bulky = (await http("POST", "/v1/scenarios", "t-bulky", { name: "Bulky", parameters: { mc_paths: 2000 } })).json.data as { id: string };
    const quiet = (await http("POST", "/v1/scenarios", "t-other", { name: "Other" })).json.data as { id: string };
    const runs = Array.from({ length: BULK }, (_, i) => ({ priority: "CRITICAL", seed: i }));
    expect((await http("POST", `/v1/scenarios/${bulky.id}/runs:bulk`, "t-bulky", { runs })).status).toBe(200);
    const other = await http("POST", `/v1/scenarios/${quiet.id}/run`, "t-other", { priority: "NORMAL" });
    expect(other.status).toBe(202);
    const otherId = (other.json.data as { id: string }).id;
    // Every request is in the partition, the other tenant's last, before any worker reads it.
    await eventually(async () => (await db.sql`select count(*)::int as unsent from run_outbox where sent_at is null`)[0]?.unsent === 0, {
      what: "every outbox row to be sent",
      timeoutMs: 120_000,
      intervalMs: 100,
    });
    worker = await startService("worker", env({ AURUM_WORKER_CONCURRENCY: "2" }));
    await eventually(async () => (await db.sql<{ state: string }[]>`select state from scenario_run where id = ${otherId}`)[0]?.state !== "QUEUED", {
      what: "the other tenant's run to start",
      timeoutMs: 180_000,
      intervalMs: 100,
    });
    const started = await db.sql<{ id: string }[]>`select id::text as id from scenario_run where started_at is not null order by started_at, id`;
    const position = started.findIndex((r) => r.id === otherId) + 1;
    const [{ deferred }] = await db.sql`select count(*)::int as deferred from run_outbox where headers->>'request_id' like 'fair-%'`;
    console.log(`Kafka mode, 1 partition, 2 threads: the other tenant's run started ${position} of ${started.length} started so far; ${deferred} messages deferred`);
    expect(position).toBeGreaterThan(0);
    expect(position).toBeLessThanOrEqual(3);
  }, 300_000);
});

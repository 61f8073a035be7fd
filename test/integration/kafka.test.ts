// Real Kafka: 10,000 keyed messages through a fresh topic and a consumer group with committed
// offsets. Needs `bash deploy/local/services.sh up` (or AURUM_KAFKA_BROKERS); skips without it,
// fails without it when CI=true.
import { describe, expect, test } from "bun:test";
import { Admin, Consumer, type Message, Producer, stringDeserializers, stringSerializers } from "@platformatic/kafka";
import { requireService, serviceEnv } from "../support/services";

const kafka = await requireService("kafka");
const env = serviceEnv();

const COUNT = 10_000;
const PARTITIONS = 3;
const BATCH = 500;
const runId = `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
const topic = `aurum.it.kafka.${runId}`;
const groupId = `aurum-it-${runId}`;

const messageKey = (i: number) => `scenario-${i % 97}:msg-${i}`;
const messageValue = (i: number) =>
  JSON.stringify({
    i,
    scenarioId: `scenario-${i % 97}`,
    payload: `value-${i}`,
  });

describe.skipIf(!kafka.available)("kafka (real broker)", () => {
  const brokers = (env.AURUM_KAFKA_BROKERS ?? "").split(",").map((b) => b.trim());

  test("produces 10,000 keyed messages and consumes them all in a group with committed offsets", async () => {
    const admin = new Admin({
      clientId: `aurum-it-admin-${runId}`,
      bootstrapBrokers: brokers,
    });
    try {
      await roundTrip(brokers, admin);
    } finally {
      await admin.deleteTopics({ topics: [topic] }).catch(() => {});
      await admin.close();
    }
  }, 120_000);
});

async function roundTrip(brokers: string[], admin: Admin): Promise<void> {
  await admin.createTopics({ topics: [topic], partitions: PARTITIONS, replicas: 1 });
  // Wait until every partition of the new topic has a leader before producing: without this,
  // sends right after createTopics were retried by the client and some records landed twice.
  for (let attempt = 0; ; attempt++) {
    const metadata = await admin.metadata({ topics: [topic], forceUpdate: true });
    const partitions = metadata.topics.get(topic)?.partitions ?? [];
    if (partitions.length === PARTITIONS && partitions.every((p) => p.leader >= 0)) break;
    if (attempt >= 50) throw new Error(`topic ${topic} has no leaders after 5 s`);
    await Bun.sleep(100);
  }

  // ---- produce
  const producer = new Producer({
    clientId: `aurum-it-producer-${runId}`,
    bootstrapBrokers: brokers,
    serializers: stringSerializers,
    acks: -1,
    // Belt and braces: a retried batch must not land twice.
    idempotent: true,
  });
  try {
    for (let start = 0; start < COUNT; start += BATCH) {
      const messages = [];
      for (let i = start; i < Math.min(start + BATCH, COUNT); i++) {
        messages.push({ topic, key: messageKey(i), value: messageValue(i) });
      }
      await producer.send({ messages });
    }
  } finally {
    await producer.close();
  }

  // ---- consume in a group, commit the last offset of every partition
  const consumer = new Consumer({
    clientId: `aurum-it-consumer-${runId}`,
    groupId,
    bootstrapBrokers: brokers,
    deserializers: stringDeserializers,
    maxWaitTime: 500,
  });
  const seen = new Map<string, string>();
  const lastByPartition = new Map<number, Message<string, string, string, string>>();
  let received = 0;
  try {
    const stream = await consumer.consume({
      topics: [topic],
      mode: "committed",
      fallbackMode: "earliest",
      autocommit: false,
      sessionTimeout: 10_000,
      heartbeatInterval: 500,
    });
    for await (const message of stream) {
      received++;
      seen.set(message.key, message.value);
      lastByPartition.set(message.partition, message);
      if (received >= COUNT) break;
    }
    await Promise.all([...lastByPartition.values()].map((m) => m.commit()));
    await stream.close();
  } finally {
    await consumer.close(true);
  }

  expect(received).toBe(COUNT);
  expect(seen.size).toBe(COUNT);
  for (let i = 0; i < COUNT; i++) {
    expect(seen.get(messageKey(i))).toBe(messageValue(i));
  }

  // ---- the group's committed offsets cover every message
  const [group] = await admin.listConsumerGroupOffsets({ groups: [groupId] });
  const committed = group?.topics.find((t) => t.name === topic)?.partitions ?? [];
  expect(committed.length).toBe(PARTITIONS);
  const total = committed.reduce((sum, p) => sum + Number(p.committedOffset), 0);
  expect(total).toBe(COUNT);
  for (const p of committed) {
    const last = lastByPartition.get(p.partitionIndex);
    expect(last).toBeDefined();
    expect(p.committedOffset).toBe((last?.offset ?? -1n) + 1n);
  }

  // ---- a new member of the same group starts after the committed offsets: nothing left
  const again = new Consumer({
    clientId: `aurum-it-consumer2-${runId}`,
    groupId,
    bootstrapBrokers: brokers,
    deserializers: stringDeserializers,
    maxWaitTime: 500,
  });
  let leftover = 0;
  try {
    const stream = await again.consume({
      topics: [topic],
      mode: "committed",
      fallbackMode: "earliest",
      autocommit: false,
      sessionTimeout: 10_000,
      heartbeatInterval: 500,
    });
    stream.on("data", () => {
      leftover++;
    });
    await Bun.sleep(2_000);
    await stream.close();
  } finally {
    await again.close(true);
  }
  expect(leftover).toBe(0);
}

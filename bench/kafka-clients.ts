/**
 * Kafka client comparison under Bun against the real broker:
 * `bun bench/kafka-clients.ts [--rounds 3] [--messages 200000] [--size 300] [--clients kafkajs,platformatic,port]`.
 * Background and results: docs/decisions/0003-kafka-client.md.
 *
 * For kafkajs and @platformatic/kafka, each round measures
 * - produce: `--messages` values of `--size` bytes to a 6-partition topic, idempotent, acks=all,
 *   sequential sends of 1,000 messages;
 * - consume: a new group reads them from the earliest offset, one awaited async handler per
 *   message, client-side autocommit; "join" is start to first message, msg/s is first to last;
 * and three correctness checks, with an awaited commit after every handled message:
 * - split: two members of one group on a 6-partition topic get disjoint partitions covering all
 *   six, and 6,000 messages arrive exactly once between them;
 * - restart: a member commits the first 100 messages of each partition, reads the rest without
 *   committing and leaves; the next member gets exactly the uncommitted ones;
 * - rebalance: while 6,000 messages are produced over ~6 s, a second member joins and leaves
 *   again; every message arrives (duplicates are counted, at-least-once allows them), and a
 *   member started afterwards finds nothing left uncommitted.
 * Topics get a random suffix and are deleted at the end. Figures are medians over the rounds.
 */
import { parseArgs } from "node:util";
import { Admin, Consumer, Producer } from "@platformatic/kafka";
import { Kafka, logLevel, Partitioners } from "kafkajs";
import { createKafka } from "../src/adapters/kafka";
import { serviceEnv } from "../test/support/services";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    messages: { type: "string", default: "200000" },
    size: { type: "string", default: "300" },
    clients: { type: "string", default: "kafkajs,platformatic,port" },
  },
});
const ROUNDS = Number(values.rounds);
const MESSAGES = Number(values.messages);
const SIZE = Number(values.size);
const BATCH = 1_000;
const brokers = (serviceEnv().AURUM_KAFKA_BROKERS ?? "127.0.0.1:9092").split(",").map((b) => b.trim());
const runId = `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
let seq = 0;
const groups: string[] = [];
const fresh = (what: string) => {
  const name = `aurum.bench.${what}.${runId}.${seq++}`;
  if (what === "g") groups.push(name);
  return name;
};

type Delivered = { partition: number; offset: bigint; id: number };
/** Returning false skips the commit of that message (with `commit: "each"`). */
type OnMessage = (m: Delivered) => Promise<boolean | undefined>;
type BenchConsumer = { assigned(): number[]; stop(): Promise<void> };
type BenchProducer = { send(topic: string, ids: number[]): Promise<void>; close(): Promise<void> };
interface Driver {
  name: string;
  createTopic(topic: string, partitions: number): Promise<void>;
  deleteTopics(topics: string[]): Promise<void>;
  producer(): Promise<BenchProducer>;
  /** `commit: "each"` commits offset+1 after every handled message and waits for it. */
  consumer(groupId: string, topic: string, commit: "auto" | "each", onMessage: OnMessage): Promise<BenchConsumer>;
  close(): Promise<void>;
}

const payload = (id: number) => Buffer.from(`${id}:`.padEnd(SIZE, "x"));
const idOf = (key: Buffer | string | null | undefined) => Number(String(key).slice(1));

function kafkajsDriver(): Driver {
  const kafka = new Kafka({ clientId: `bench-kafkajs-${runId}`, brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const connected = admin.connect();
  return {
    name: "kafkajs 2.2.4",
    async createTopic(topic, partitions) {
      await connected;
      await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
    },
    async deleteTopics(topics) {
      await admin.deleteTopics({ topics });
    },
    async producer() {
      const p = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
      await p.connect();
      return {
        send: async (topic, ids) => void (await p.send({ topic, acks: -1, messages: ids.map((id) => ({ key: `k${id}`, value: payload(id) })) })),
        close: () => p.disconnect(),
      };
    },
    async consumer(groupId, topic, commit, onMessage) {
      const c = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500, maxWaitTimeInMs: 500 });
      let assigned: number[] = [];
      c.on(c.events.GROUP_JOIN, (e) => {
        assigned = e.payload.memberAssignment[topic] ?? [];
      });
      await c.connect();
      await c.subscribe({ topic, fromBeginning: true });
      await c.run({
        autoCommit: commit === "auto",
        eachMessage: async ({ partition, message }) => {
          const offset = BigInt(message.offset);
          const handled = await onMessage({ partition, offset, id: idOf(message.key) });
          if (commit === "each" && handled !== false) await c.commitOffsets([{ topic, partition, offset: String(offset + 1n) }]);
        },
      });
      return { assigned: () => assigned, stop: () => c.disconnect() };
    },
    close: () => admin.disconnect(),
  };
}

function platformaticDriver(): Driver {
  const base = { clientId: `bench-platformatic-${runId}`, bootstrapBrokers: brokers };
  const admin = new Admin(base);
  return {
    name: "@platformatic/kafka 2.12.1",
    async createTopic(topic, partitions) {
      await admin.createTopics({ topics: [topic], partitions, replicas: 1 });
      for (let i = 0; ; i++) {
        const md = await admin.metadata({ topics: [topic], forceUpdate: true });
        const ps = md.topics.get(topic)?.partitions ?? [];
        if (ps.length === partitions && ps.every((p) => p.leader >= 0)) return;
        if (i > 100) throw new Error(`${topic}: no leaders`);
        await Bun.sleep(50);
      }
    },
    deleteTopics: (topics) => admin.deleteTopics({ topics }),
    async producer() {
      const p = new Producer({ ...base, acks: -1, idempotent: true });
      return {
        send: async (topic, ids) => void (await p.send({ messages: ids.map((id) => ({ topic, key: Buffer.from(`k${id}`), value: payload(id) })) })),
        close: () => p.close(),
      };
    },
    async consumer(groupId, topic, commit, onMessage) {
      const c = new Consumer({ ...base, groupId, sessionTimeout: 10_000, heartbeatInterval: 500, maxWaitTime: 500 });
      const stream = await c.consume({ topics: [topic], mode: "committed", fallbackMode: "earliest", autocommit: commit === "auto" });
      const loop = (async () => {
        for await (const m of stream) {
          const handled = await onMessage({ partition: m.partition, offset: m.offset, id: idOf(m.key) });
          if (commit === "each" && handled !== false) await m.commit();
        }
      })();
      loop.catch((err) => console.error(`  ${groupId}: stream failed: ${(err as Error).message}`));
      return {
        assigned: () => c.assignments?.find((a) => a.topic === topic)?.partitions ?? [],
        async stop() {
          await stream.close();
          await loop.catch(() => {});
          await c.close();
        },
      };
    },
    close: () => admin.close(),
  };
}

/**
 * The port (src/adapters/kafka.ts) on @platformatic/kafka: it always commits after the handler,
 * coalescing commits instead of waiting for each. A handler that returns false never resolves
 * (not handled, so never committed), so the checks run with room for that many stalled handlers.
 */
function portDriver(): Driver {
  const kafka = createKafka({ brokers, clientId: `bench-port-${runId}` });
  return {
    name: "port (src/adapters/kafka.ts)",
    createTopic: (topic, partitions) => kafka.ensureTopics([{ name: topic, partitions }]),
    deleteTopics: (topics) => kafka.deleteTopics(topics),
    async producer() {
      const p = await kafka.producer();
      return {
        send: (topic, ids) =>
          p.send(
            topic,
            ids.map((id) => ({ key: `k${id}`, value: payload(id) })),
          ),
        close: () => p.close(),
      };
    },
    async consumer(groupId, topic, commit, onMessage) {
      const c = await kafka.consumer({ groupId, topics: [topic], concurrency: commit === "auto" ? 1 : 4_096 });
      const running = c.run(async (m) => {
        if ((await onMessage({ partition: m.partition, offset: m.offset, id: idOf(m.key) })) === false) await new Promise(() => {});
      });
      return {
        assigned: () => c.assignments().map((a) => a.partition),
        async stop() {
          await c.close(500);
          await running;
        },
      };
    },
    close: () => kafka.close(),
  };
}

async function waitUntil(what: string, cond: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

async function produceAll(d: Driver, topic: string, count: number): Promise<number> {
  const p = await d.producer();
  try {
    const t0 = performance.now();
    for (let i = 0; i < count; i += BATCH) await p.send(topic, range(i, Math.min(i + BATCH, count)));
    return performance.now() - t0;
  } finally {
    await p.close();
  }
}

async function throughput(d: Driver, topics: string[]) {
  const topic = fresh("tput");
  topics.push(topic);
  await d.createTopic(topic, 6);
  const produceMs = await produceAll(d, topic, MESSAGES);
  let received = 0;
  let first = 0;
  let last = 0;
  const ids = new Uint8Array(MESSAGES);
  const t0 = performance.now();
  const c = await d.consumer(fresh("g"), topic, "auto", async (m) => {
    if (received++ === 0) first = performance.now();
    ids[m.id]!++;
    last = performance.now();
  });
  await waitUntil("all messages", () => received >= MESSAGES, 300_000);
  await c.stop();
  const exactlyOnce = received === MESSAGES && ids.every((n) => n === 1);
  return { produce: (MESSAGES / produceMs) * 1000, consume: (MESSAGES / (last - first)) * 1000, joinMs: first - t0, exactlyOnce };
}

/** Two members, one group, 6 partitions: disjoint assignments covering all, every message once. */
async function checkSplit(d: Driver, topics: string[]): Promise<string> {
  const topic = fresh("split");
  const group = fresh("g");
  topics.push(topic);
  await d.createTopic(topic, 6);
  const seen = [new Map<number, number>(), new Map<number, number>()];
  const partitionsSeen = [new Set<number>(), new Set<number>()];
  const members: BenchConsumer[] = [];
  for (const i of [0, 1])
    members.push(
      await d.consumer(group, topic, "each", async (m) => {
        seen[i]!.set(m.id, (seen[i]!.get(m.id) ?? 0) + 1);
        partitionsSeen[i]!.add(m.partition);
      }),
    );
  const settled = () =>
    members.every((m) => m.assigned().length > 0) && members.flatMap((m) => m.assigned()).length === 6 && new Set(members.flatMap((m) => m.assigned())).size === 6;
  await waitUntil("disjoint assignments covering 6 partitions", settled);
  const [a0, a1] = members.map((m) => [...m.assigned()].sort());
  await produceAll(d, topic, 6_000);
  const unique = () => new Set([...seen[0]!.keys(), ...seen[1]!.keys()]).size;
  await waitUntil("6,000 messages", () => unique() >= 6_000).catch(() => {});
  await Bun.sleep(1_000); // let duplicates, if any, arrive
  await Promise.all(members.map((m) => m.stop()));
  const deliveries = [...seen[0]!.values(), ...seen[1]!.values()].reduce((s, n) => s + n, 0);
  const overlap = [...seen[0]!.keys()].filter((id) => seen[1]!.has(id)).length;
  const stayed = [0, 1].every((i) => [...partitionsSeen[i]!].every((p) => [a0, a1][i]!.includes(p)));
  const ok = a0!.length + a1!.length === 6 && unique() === 6_000 && deliveries === 6_000 && stayed;
  const moved = stayed ? "" : `, partitions seen [${[...partitionsSeen[0]!].sort()}]+[${[...partitionsSeen[1]!].sort()}]`;
  return `${ok ? "ok" : "FAIL"} [${a0}]+[${a1}], ${unique()}/6000 ids, ${deliveries} deliveries, ${overlap} to both members${moved}`;
}

/** Committed offsets survive a restart: committed messages are not redelivered, uncommitted ones are. */
async function checkRestart(d: Driver, topics: string[]): Promise<string> {
  const topic = fresh("restart");
  const group = fresh("g");
  topics.push(topic);
  await d.createTopic(topic, 3);
  await produceAll(d, topic, 3_000);
  const committed = new Set<number>();
  let firstMember = 0;
  const a = await d.consumer(group, topic, "each", async (m) => {
    firstMember++;
    if (m.offset >= 100n) return false; // read, not committed
    committed.add(m.id);
    return true;
  });
  await waitUntil("all 3,000 at the first member", () => firstMember >= 3_000);
  await Bun.sleep(500);
  await a.stop();
  const second = new Map<number, number>();
  const b = await d.consumer(group, topic, "each", async (m) => void second.set(m.id, (second.get(m.id) ?? 0) + 1));
  await waitUntil("the uncommitted 2,700", () => second.size >= 2_700).catch(() => {});
  await Bun.sleep(1_000);
  await b.stop();
  const redelivered = [...committed].filter((id) => second.has(id)).length;
  const dups = [...second.values()].filter((n) => n > 1).length;
  const ok = committed.size === 300 && second.size === 2_700 && redelivered === 0 && dups === 0;
  return `${ok ? "ok" : "FAIL"} committed ${committed.size}, next member got ${second.size}/2700 (${redelivered} committed redelivered, ${dups} dups)`;
}

/** A member joins and leaves while messages flow: nothing lost, and nothing left uncommitted after. */
async function checkRebalance(d: Driver, topics: string[]): Promise<string> {
  const topic = fresh("rebalance");
  const group = fresh("g");
  topics.push(topic);
  await d.createTopic(topic, 6);
  const counts = new Map<number, number>();
  const onMessage = async (m: Delivered) => void counts.set(m.id, (counts.get(m.id) ?? 0) + 1);
  const c1 = await d.consumer(group, topic, "each", onMessage);
  await waitUntil("first member assigned", () => c1.assigned().length === 6);
  const p = await d.producer();
  const producing = (async () => {
    for (let i = 0; i < 6_000; i += 100) {
      await p.send(topic, range(i, i + 100));
      await Bun.sleep(100);
    }
  })();
  await Bun.sleep(1_500);
  const c2 = await d.consumer(group, topic, "each", onMessage);
  await waitUntil("second member assigned", () => c2.assigned().length > 0);
  await Bun.sleep(2_000);
  await c2.stop();
  await producing;
  await p.close();
  await waitUntil("all 6,000", () => counts.size >= 6_000).catch(() => {});
  await Bun.sleep(1_000);
  await c1.stop();
  let leftover = 0;
  const c3 = await d.consumer(group, topic, "each", async () => void leftover++);
  await Bun.sleep(3_000);
  await c3.stop();
  const deliveries = [...counts.values()].reduce((s, n) => s + n, 0);
  const ok = counts.size === 6_000 && leftover === 0;
  return `${ok ? "ok" : "FAIL"} ${counts.size}/6000 ids, ${deliveries - counts.size} dups, ${leftover} left uncommitted`;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

const results: Record<string, { produce: number[]; consume: number[]; joinMs: number[]; checks: string[][] }> = {};
for (let round = 1; round <= ROUNDS; round++) {
  const drivers = { kafkajs: kafkajsDriver, platformatic: platformaticDriver, port: portDriver };
  for (const make of values.clients.split(",").map((c) => drivers[c as keyof typeof drivers])) {
    const d = make();
    const topics: string[] = [];
    results[d.name] ??= { produce: [], consume: [], joinMs: [], checks: [] };
    const r = results[d.name]!;
    try {
      const t = await throughput(d, topics);
      r.produce.push(t.produce);
      r.consume.push(t.consume);
      r.joinMs.push(t.joinMs);
      const checks = [t.exactlyOnce ? "ok" : "FAIL (not exactly once)"];
      for (const check of [checkSplit, checkRestart, checkRebalance]) {
        const t0 = performance.now();
        const result = await check(d, topics).catch((err) => `FAIL ${(err as Error).message}`);
        checks.push(`${result} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
      }
      r.checks.push(checks);
      console.log(`round ${round} ${d.name}: produce ${fmt(t.produce)} msg/s, consume ${fmt(t.consume)} msg/s (join ${fmt(t.joinMs)} ms)`);
      for (const [i, name] of ["throughput data", "split", "restart", "rebalance"].entries()) console.log(`  ${name}: ${checks[i]}`);
    } finally {
      await d.deleteTopics(topics).catch((err) => console.error(`delete topics: ${(err as Error).message}`));
      await d.close();
    }
  }
}

const cleanup = createKafka({ brokers, clientId: `bench-cleanup-${runId}` });
await cleanup.deleteGroups(groups).catch((err) => console.error(`delete groups: ${(err as Error).message}`));
await cleanup.close();

console.log(`\nmedians of ${ROUNDS} rounds, ${fmt(MESSAGES)} messages of ${SIZE} bytes, Bun ${Bun.version}`);
console.log("| client | produce msg/s | consume msg/s | join ms | checks passed |");
console.log("|---|---:|---:|---:|---|");
for (const [name, r] of Object.entries(results)) {
  const passed = r.checks.map((c) => c.filter((s) => s.startsWith("ok")).length);
  console.log(`| ${name} | ${fmt(median(r.produce))} | ${fmt(median(r.consume))} | ${fmt(median(r.joinMs))} | ${passed.join(", ")} of 4 per round |`);
}
process.exit(0);

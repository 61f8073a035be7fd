// The Kafka port (src/adapters/kafka.ts) against the real broker: roundtrip, commit-after-handler,
// the in-order commit watermark with concurrency, partitions shared in a group, bounded closes.
// Needs `bash deploy/local/services.sh up` (or AURUM_KAFKA_BROKERS); skips without it, fails with CI=true.
import { afterAll, describe, expect, test } from "bun:test";
import { Readable } from "node:stream";
import { createKafka, GroupConsumer, type KafkaConsumer, type KafkaMessage, PartitionWatermark } from "../../src/adapters/kafka";
import { AppError } from "../../src/platform/errors";
import { eventually } from "../support/eventually";
import { requireService, serviceEnv } from "../support/services";

describe("PartitionWatermark", () => {
  test("commits up to the first offset whose handler has not finished", () => {
    const w = new PartitionWatermark();
    for (const o of [5n, 6n, 7n, 8n]) expect(w.begin(o)).toBe(true);
    expect(w.commitPoint()).toBeUndefined();
    w.done(7n);
    w.done(6n);
    expect(w.commitPoint()).toBe(5n); // 5 still running
    w.done(5n);
    expect(w.commitPoint()).toBe(8n);
    w.committed = 8n;
    expect(w.commitPoint()).toBeUndefined();
    w.done(8n);
    expect(w.commitPoint()).toBe(9n);
  });

  test("refuses an offset that is running or already done (a redelivery after a rebalance)", () => {
    const w = new PartitionWatermark();
    expect(w.begin(0n)).toBe(true);
    expect(w.begin(1n)).toBe(true);
    w.done(1n);
    expect(w.begin(0n)).toBe(false);
    expect(w.begin(1n)).toBe(false);
    expect(w.begin(2n)).toBe(true);
  });
});

describe("GroupConsumer and the streams consume() hands over", () => {
  // A race the broker cannot be made to lose on cue (the CI run on 2974868 lost it: a test's
  // consumer closed while consume() was retrying after Kafka came back, and the process crashed on
  // the unlistened stream's "Client is closed."). The client is a stand-in with the calls the
  // consumer makes; the stream is a real Readable with the MessagesStream's close().
  class Stream extends Readable {
    closeCalled = false;
    override _read() {}
    async close() {
      this.closeCalled = true;
    }
  }

  /** The client's consume(): with a callback it hands the stream over through it, without one as a promise (as the real client does). */
  const standIn = () => {
    const state = { handOver: (_: Stream) => {}, listenedAtHandOver: false };
    const client = {
      generationId: 1,
      assignments: [],
      on() {},
      consume: (_options: unknown, callback?: (err: Error | null, s?: Stream) => void) => {
        if (!callback) return new Promise<Stream>((resolve) => (state.handOver = resolve));
        state.handOver = (s) => {
          callback(null, s);
          // what a stream's error emitted on the next tick would find: nextTick runs before the awaiting code's microtask
          state.listenedAtHandOver = s.listenerCount("error") > 0;
        };
      },
      close: async () => {},
    };
    return { client, state };
  };

  test("a new stream's errors are listened to the moment the client hands it over, before any next tick", async () => {
    const { client, state } = standIn();
    const consumer = new GroupConsumer(client as never, { groupId: "g", topics: ["t"] }, () => {});
    const running = consumer.run(async () => {});
    await Bun.sleep(0);
    state.handOver(new Stream());
    expect(state.listenedAtHandOver).toBe(true);
    await consumer.close(0);
    await running;
  });

  test("the stream is closed, and an error it emits afterwards is listened to (no crash)", async () => {
    const { client, state } = standIn();
    const handOver = (s: Stream) => state.handOver(s);
    const consumer = new GroupConsumer(client as never, { groupId: "g", topics: ["t"] }, () => {});
    const running = consumer.run(async () => {});
    await Bun.sleep(0); // run() is waiting in consume()
    await consumer.close(0);
    const stream = new Stream();
    handOver(stream);
    await running;
    expect(stream.closeCalled).toBe(true);
    // emit() throws an unlistened error at once: this is what crashed the process.
    expect(() => stream.emit("error", new Error("Client is closed."))).not.toThrow();
  });
});

const kafka = await requireService("kafka");
const brokers = (serviceEnv().AURUM_KAFKA_BROKERS ?? "").split(",").map((b) => b.trim());
const runId = `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;

describe.skipIf(!kafka.available)("Kafka port (real broker)", () => {
  const client = createKafka({ brokers, clientId: `aurum-it-port-${runId}` });
  const topics: string[] = [];
  const groups: string[] = [];
  const consumers: KafkaConsumer[] = [];
  const errors: Error[] = [];
  const fresh = async (name: string, partitions: number) => {
    const topic = `aurum.it.port.${runId}.${name}`;
    const groupId = `aurum-it-port-${runId}-${name}`;
    topics.push(topic);
    groups.push(groupId);
    await client.ensureTopics([{ name: topic, partitions }]);
    return { topic, groupId };
  };
  const consumer = async (groupId: string, topic: string, concurrency = 1) => {
    const c = await client.consumer({ groupId, topics: [topic], concurrency, onError: (err) => errors.push(err) });
    consumers.push(c);
    return c;
  };
  const send = async (topic: string, messages: { key: string; value: string | Uint8Array; headers?: Record<string, string> }[]) => {
    const p = await client.producer();
    try {
      await p.send(topic, messages);
    } finally {
      await p.close();
    }
  };
  const committed = async (groupId: string, topic: string) => [...(await client.committedOffsets(groupId, topic)).entries()].sort(([a], [b]) => a - b);

  afterAll(async () => {
    await Promise.all(consumers.map((c) => c.close(0)));
    await client.deleteTopics(topics).catch(() => {});
    await client.deleteGroups(groups).catch(() => {});
    await client.close();
  }, 120_000);

  test("a message goes through with its key, value and headers, and its offset is committed", async () => {
    const { topic, groupId } = await fresh("roundtrip", 1);
    await send(topic, [
      { key: "run-1", value: '{"a":1}', headers: { "content-type": "application/json", trace: "t-1" } },
      { key: "run-2", value: new Uint8Array([0, 1, 2, 255]) },
    ]);
    const got: KafkaMessage[] = [];
    const c = await consumer(groupId, topic);
    const running = c.run(async (m) => void got.push(m));
    await eventually(() => got.length === 2, { what: "two messages" });
    expect(got[0]).toMatchObject({ topic, partition: 0, offset: 0n, key: "run-1", headers: { "content-type": "application/json", trace: "t-1" } });
    expect(got[0]!.value?.toString()).toBe('{"a":1}');
    expect(got[1]).toMatchObject({ offset: 1n, key: "run-2", headers: {} });
    expect([...got[1]!.value!]).toEqual([0, 1, 2, 255]);
    expect(c.assignments()).toEqual([{ topic, partition: 0 }]);
    await eventually(async () => (await committed(groupId, topic))[0]?.[1] === 2n, { what: "the commit" });
    expect(await c.lag()).toBe(0);
    await c.close();
    await running;
  }, 120_000);

  test("a consumer closed before its handler resolves commits nothing: the next member gets the message", async () => {
    const { topic, groupId } = await fresh("redeliver", 1);
    await send(topic, [{ key: "k", value: "v" }]);
    const first = await consumer(groupId, topic);
    let started = 0;
    const running = first.run(async () => {
      started++;
      await new Promise(() => {}); // never resolves
    });
    await eventually(() => started === 1, { what: "the first handler" });
    // Returns after its 200 ms grace, not when the handler does (it never does): the test's ceiling shows a hang.
    await first.close(200);
    await running;
    expect(await committed(groupId, topic)).toEqual([[0, -1n]]);

    const second = await consumer(groupId, topic);
    const got: KafkaMessage[] = [];
    void second.run(async (m) => void got.push(m));
    await eventually(() => got.length === 1, { what: "the redelivery" });
    expect(got[0]).toMatchObject({ offset: 0n, key: "k" });
    await second.close();
    expect(await committed(groupId, topic)).toEqual([[0, 1n]]);
  }, 120_000);

  test("with concurrency 4, a slow message holds its partition's commit back until it is done", async () => {
    const { topic, groupId } = await fresh("watermark", 1);
    await send(
      topic,
      Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: String(i) })),
    );
    let release!: () => void;
    const slow = new Promise<void>((resolve) => {
      release = resolve;
    });
    const done = new Set<bigint>();
    let running = 0;
    let peak = 0;
    const c = await consumer(groupId, topic, 4);
    void c.run(async (m) => {
      peak = Math.max(peak, ++running);
      if (m.offset === 0n) await slow;
      else await Bun.sleep(20);
      running--;
      done.add(m.offset);
    });
    await eventually(() => done.size === 9, { what: "offsets 1..9 done" });
    await Bun.sleep(300); // a commit past the slow message, if one were (wrongly) made, would have landed by now
    expect((await committed(groupId, topic))[0]![1]).toBeLessThanOrEqual(0n);
    expect(await c.lag()).toBe(10);
    release();
    await eventually(async () => (await committed(groupId, topic))[0]?.[1] === 10n, { what: "the commit of all 10" });
    expect(peak).toBe(4);
    expect(await c.lag()).toBe(0);
    await c.close();
  }, 120_000);

  test("a throwing handler is retried and holds the offset back until it succeeds", async () => {
    const { topic, groupId } = await fresh("retry", 1);
    await send(topic, [{ key: "k", value: "v" }]);
    let calls = 0;
    const seen: Error[] = [];
    const c = await client.consumer({ groupId, topics: [topic], onError: (err) => seen.push(err) });
    consumers.push(c);
    void c.run(async () => {
      if (++calls <= 2) {
        expect(await committed(groupId, topic)).toEqual([[0, -1n]]);
        throw new Error(`database down (${calls})`);
      }
    });
    await eventually(() => calls === 3, { what: "the third call" });
    await eventually(async () => (await committed(groupId, topic))[0]?.[1] === 1n, { what: "the commit" });
    expect(seen.map((e) => e.message)).toEqual(["database down (1)", "database down (2)"]);
    await c.close();
  }, 120_000);

  test("two members of a group split the partitions and get every message exactly once", async () => {
    const { topic, groupId } = await fresh("group", 6);
    const byMember = [new Map<string, number>(), new Map<string, number>()];
    const members = [await consumer(groupId, topic, 4), await consumer(groupId, topic, 4)];
    members.forEach((c, i) => void c.run(async (m) => void byMember[i]!.set(m.key!, m.partition)));
    const owned = () => members.map((c) => c.assignments().map((a) => a.partition));
    await eventually(
      () => {
        const [a, b] = owned();
        return a!.length > 0 && b!.length > 0 && a!.length + b!.length === 6 && new Set([...a!, ...b!]).size === 6;
      },
      { what: "disjoint assignments covering 6 partitions" },
    );
    const [mine, theirs] = owned();
    await send(
      topic,
      Array.from({ length: 600 }, (_, i) => ({ key: `k${i}`, value: String(i) })),
    );
    await eventually(() => byMember[0]!.size + byMember[1]!.size >= 600, { what: "600 messages" });
    await Bun.sleep(500);
    expect(byMember[0]!.size + byMember[1]!.size).toBe(600);
    expect(byMember.every((m) => m.size > 0)).toBe(true);
    expect([...byMember[0]!.values()].every((p) => mine!.includes(p))).toBe(true);
    expect([...byMember[1]!.values()].every((p) => theirs!.includes(p))).toBe(true);
    await Promise.all(members.map((c) => c.close()));
    const offsets = await committed(groupId, topic);
    expect(offsets.reduce((sum, [, o]) => sum + Number(o), 0)).toBe(600);
  }, 120_000);

  test("a member joining and leaving while messages flow loses nothing, and every offset ends up committed", async () => {
    const { topic, groupId } = await fresh("rebalance", 6);
    const counts = new Map<string, number>();
    const onMessage = async (m: KafkaMessage) => {
      await Bun.sleep(1);
      counts.set(m.key!, (counts.get(m.key!) ?? 0) + 1);
    };
    const first = await consumer(groupId, topic, 4);
    void first.run(onMessage);
    await eventually(() => first.assignments().length === 6, { what: "the first member owns all partitions" });
    const producer = await client.producer();
    const producing = (async () => {
      for (let i = 0; i < 2_000; i += 50) {
        await producer.send(
          topic,
          Array.from({ length: 50 }, (_, j) => ({ key: `k${i + j}`, value: "v" })),
        );
        await Bun.sleep(40);
      }
    })();
    await Bun.sleep(300);
    const second = await consumer(groupId, topic, 4);
    void second.run(onMessage);
    await eventually(() => second.assignments().length > 0, { what: "the second member owns partitions" });
    await Bun.sleep(500);
    await second.close();
    await producing;
    await producer.close();
    await eventually(() => counts.size === 2_000, { what: "2,000 messages" });
    await eventually(async () => (await committed(groupId, topic)).reduce((sum, [, o]) => sum + Number(o), 0) === 2_000, { what: "all offsets committed" });
    expect(first.assignments().length).toBe(6);
    await first.close();
  }, 120_000);

  test("pause stops handing out messages until resume", async () => {
    const { topic, groupId } = await fresh("pause", 1);
    const got: KafkaMessage[] = [];
    const c = await consumer(groupId, topic);
    void c.run(async (m) => void got.push(m));
    await eventually(() => c.assignments().length === 1, { what: "assigned" });
    c.pause();
    await send(topic, [{ key: "k", value: "v" }]);
    await Bun.sleep(1_000);
    expect(got).toHaveLength(0);
    c.resume();
    await eventually(() => got.length === 1, { what: "the message" });
    await c.close();
  }, 120_000);

  test("with the broker unreachable, sends fail with a retryable error and closes return quickly", async () => {
    const down = createKafka({ brokers: ["127.0.0.1:1"], clientId: `aurum-it-port-down-${runId}` });
    const producer = await down.producer();
    const err = await producer.send("nowhere", [{ key: "k", value: "v" }]).catch((e) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: "UNAVAILABLE", retryable: true });

    const failures: Error[] = [];
    const c = await down.consumer({ groupId: "nobody", topics: ["nowhere"], onError: (e) => failures.push(e) });
    const running = c.run(async () => {});
    await eventually(() => failures.length > 0, { what: "a reported connection failure" });
    await down.close(); // closes the producer and the consumer; a hang would meet the test's ceiling
    await running;
  }, 120_000);
});

// The spooling client against a scripted server: segments download at most `segmentFetches` at
// once yet come out in order whatever order the downloads finish in; json+zstd and plain segments
// decode alike; an encoding it cannot decode, or a segment that cannot be fetched, fails the query
// with a TrinoError and cancels it.
import { describe, expect, test } from "bun:test";
import { createTrinoClient, TrinoError } from "../../src/adapters/trino";

const BASE = "http://trino.test";
const json = (body: unknown) => new Response(JSON.stringify(body), { headers: { "content-type": "application/json" } });

/** Segment i holds rows [i*10, i*10+10); odd ones are zstd-compressed. */
const segmentRows = (i: number) => Array.from({ length: 10 }, (_, k) => [i * 10 + k]);
const segmentBytes = (i: number) => {
  const raw = Buffer.from(JSON.stringify(segmentRows(i)));
  return i % 2 ? Bun.zstdCompressSync(raw) : raw;
};
const spooled = (i: number) => ({
  type: "spooled",
  uri: `http://storage.test/seg-${i}`,
  ackUri: `${BASE}/v1/spooled/ack/${i}`,
  headers: { "x-key": [`k${i}`] },
  metadata: { rowOffset: i * 10, rowsCount: 10, segmentSize: 1, ...(i % 2 ? { uncompressedSize: 100 } : {}) },
});

/** A server whose query result is `pages` pages of `perPage` spooled segments; downloads wait for `release`. */
function server(opts: { pages: number; perPage: number; encoding?: string; failSegment?: number }) {
  const waiting = new Map<number, () => void>();
  let inFlight = 0;
  let maxInFlight = 0;
  const acks: string[] = [];
  const deletes: string[] = [];
  const segmentHeaders: string[] = [];
  const fetch = async (input: string, init: RequestInit): Promise<Response> => {
    const method = init.method ?? "GET";
    if (method === "DELETE") {
      deletes.push(input);
      return new Response(null, { status: 204 });
    }
    if (input.startsWith("http://storage.test/")) {
      const i = Number(input.split("-").at(-1));
      segmentHeaders.push(String((init.headers as Record<string, string>)["x-key"]));
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise<void>((resolve) => waiting.set(i, resolve));
      inFlight--;
      if (i === opts.failSegment) return new Response("gone", { status: 404 });
      return new Response(new Uint8Array(segmentBytes(i)));
    }
    if (input.includes("/v1/spooled/ack/")) {
      acks.push(input.split("/").at(-1) as string);
      return new Response(null, { status: 200 });
    }
    const n = method === "POST" ? 0 : Number(input.split("/").at(-1));
    const segments = Array.from({ length: opts.perPage }, (_, k) => spooled(n * opts.perPage + k));
    return json({
      id: "q1",
      columns: [{ name: "x", type: "integer" }],
      data: { encoding: opts.encoding ?? "json+zstd", segments },
      ...(n + 1 < opts.pages ? { nextUri: `${BASE}/v1/statement/executing/q1/${n + 1}` } : {}),
      stats: { state: n + 1 < opts.pages ? "RUNNING" : "FINISHED" },
    });
  };
  return { fetch, waiting, acks, deletes, segmentHeaders, max: () => maxInFlight };
}

/** Finishes downloads in reverse order of their start, whenever some are waiting. */
function finishBackwards(waiting: Map<number, () => void>) {
  const t = setInterval(() => {
    const keys = [...waiting.keys()].sort((a, b) => b - a);
    for (const k of keys) {
      waiting.get(k)?.();
      waiting.delete(k);
    }
  }, 5);
  return () => clearInterval(t);
}

describe("trino client, spooling protocol (scripted server)", () => {
  test("at most segmentFetches downloads at once, finished out of order, rows in order; each segment's headers sent and each acknowledged", async () => {
    const s = server({ pages: 4, perPage: 2 });
    const client = createTrinoClient({ url: BASE, user: "u", source: "s", spooling: "json+zstd", segmentFetches: 3, fetch: s.fetch });
    const stop = finishBackwards(s.waiting);
    const rows: number[] = [];
    try {
      for await (const page of client.query("select", { spooled: true })) for (const r of page.rows) rows.push(r[0] as number);
    } finally {
      stop();
    }
    expect(rows).toEqual(Array.from({ length: 80 }, (_, i) => i));
    expect(s.max()).toBe(3);
    expect(s.segmentHeaders.sort()).toEqual(Array.from({ length: 8 }, (_, i) => `k${i}`).sort());
    await Bun.sleep(0);
    expect(s.acks.map(Number).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  test("segmentFetches 1 downloads one segment at a time", async () => {
    const s = server({ pages: 2, perPage: 3 });
    const client = createTrinoClient({ url: BASE, user: "u", source: "s", spooling: "json", segmentFetches: 1, fetch: s.fetch });
    const stop = finishBackwards(s.waiting);
    let n = 0;
    try {
      for await (const page of client.query("select", { spooled: true })) n += page.rows.length;
    } finally {
      stop();
    }
    expect(n).toBe(60);
    expect(s.max()).toBe(1);
  });

  test("an encoding the client cannot decode fails the query with UNSUPPORTED_ENCODING", async () => {
    const s = server({ pages: 2, perPage: 1, encoding: "json+lz4" });
    const client = createTrinoClient({ url: BASE, user: "u", source: "s", spooling: "json+zstd", fetch: s.fetch });
    const err = await (async () => {
      for await (const _ of client.query("select", { spooled: true })) {
      }
    })().catch((e) => e);
    expect(err).toBeInstanceOf(TrinoError);
    expect((err as TrinoError).errorName).toBe("UNSUPPORTED_ENCODING");
    expect(s.deletes.length).toBe(1); // the query was cancelled
  });

  test("a segment that cannot be fetched fails the query (HTTP_404), cancels it, and releases the other segments", async () => {
    const s = server({ pages: 3, perPage: 2, failSegment: 1 });
    const client = createTrinoClient({ url: BASE, user: "u", source: "s", spooling: "json+zstd", segmentFetches: 2, retries: 0, fetch: s.fetch });
    const stop = finishBackwards(s.waiting);
    const seen: number[] = [];
    const err = await (async () => {
      for await (const page of client.query("select", { spooled: true })) for (const r of page.rows) seen.push(r[0] as number);
    })()
      .catch((e) => e)
      .finally(stop);
    expect(err).toBeInstanceOf(TrinoError);
    expect((err as TrinoError).errorName).toBe("HTTP_404");
    expect(seen).toEqual(segmentRows(0).map((r) => r[0])); // segment 0, then the failure
    expect(s.deletes.length).toBe(1);
    await Bun.sleep(0);
    expect(s.acks).toContain("0");
    expect(s.acks).toContain("1"); // the failed one: released too
    expect(s.acks).toContain("2"); // queued, never read: released
  });
});

/** Content negotiation of downloads, chunk recycling in the response body, and the keyset walk that row stores export with. */
import { describe, expect, test } from "bun:test";
import { ChunkPool } from "../../../src/outputs/chunks";
import { pickEncoding, streamResponse } from "../../../src/outputs/http-stream";
import { pagedRows, type RunFilter } from "../../../src/outputs/reader";
import type { OutputKey, OutputRow } from "../../../src/outputs/row";

describe("pickEncoding", () => {
  test("prefers zstd, then gzip; q=0 refuses; anything else is identity", () => {
    expect(pickEncoding(null)).toBeUndefined();
    expect(pickEncoding("")).toBeUndefined();
    expect(pickEncoding("gzip")).toBe("gzip");
    expect(pickEncoding("gzip, deflate, br, zstd")).toBe("zstd");
    expect(pickEncoding("GZIP;q=0.5, Zstd;q=0.1")).toBe("gzip");
    expect(pickEncoding("gzip;q=0.9, zstd;q=0.9")).toBe("zstd");
    expect(pickEncoding("gzip, zstd;q=0.5")).toBe("gzip");
    expect(pickEncoding("*;q=0.2, gzip;q=0.1")).toBe("zstd");
    expect(pickEncoding("zstd;q=abc, gzip;q=0.3")).toBe("gzip");
    expect(pickEncoding("zstd;q=0, gzip")).toBe("gzip");
    expect(pickEncoding("gzip;q=0")).toBeUndefined();
    expect(pickEncoding("br, deflate")).toBeUndefined();
    expect(pickEncoding("*")).toBe("zstd");
    expect(pickEncoding("*;q=0")).toBeUndefined();
    expect(pickEncoding("identity")).toBeUndefined();
  });
});

describe("streamResponse: pooled chunks", () => {
  const N = 300;
  /** N chunks from one pool, chunk i filled with letter i % 26 and 64 KB - i bytes long. */
  function produce() {
    const pool = new ChunkPool(64 * 1024);
    const buffers = new Set<ArrayBufferLike>();
    async function* chunks() {
      for (let i = 0; i < N; i++) {
        const b = pool.take();
        b.fill(97 + (i % 26));
        buffers.add(b.buffer);
        yield pool.lend(b, b.length - i);
      }
    }
    return { chunks: chunks(), buffers };
  }
  const expected = () => Buffer.concat(Array.from({ length: N }, (_, i) => Buffer.alloc(64 * 1024 - i, 97 + (i % 26))));
  const respond = (chunks: AsyncIterable<Uint8Array>, acceptEncoding: string | null = null) =>
    streamResponse(chunks, { format: "csv", headers: {}, acceptEncoding, requestId: "r", abort: new AbortController(), onError: () => {} });

  test("over Bun.serve the response copies each chunk, so the pool reuses a few buffers, and the bytes arrive intact", async () => {
    const made = produce();
    const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => respond(made.chunks) });
    try {
      const body = Buffer.from(await (await fetch(`http://127.0.0.1:${server.port}/`)).arrayBuffer());
      expect(body.equals(expected())).toBe(true);
      // Recycled: were the sink not recognised as copying (a Bun release renaming it), this would be N.
      expect(made.buffers.size).toBeLessThanOrEqual(4);
    } finally {
      server.stop(true);
    }
  });

  test("a JavaScript consumer keeps the chunks it is given: none is recycled, the bytes are intact", async () => {
    const made = produce();
    const body = Buffer.from(await (await respond(made.chunks)).arrayBuffer());
    expect(body.equals(expected())).toBe(true);
    expect(made.buffers.size).toBe(N);
  });

  test("compressed: chunks are queued for the compressor, never recycled", async () => {
    const made = produce();
    const res = await respond(made.chunks, "gzip");
    expect(Buffer.from(Bun.gunzipSync(new Uint8Array(await res.arrayBuffer()))).equals(expected())).toBe(true);
    expect(made.buffers.size).toBe(N);
  });
});

describe("pagedRows", () => {
  const rows = Array.from(
    { length: 23 },
    (_, i) => ({ metric: "m", curve_key: `c${String(i).padStart(2, "0")}`, tenor_type: "MONTHLY", contract_month: "2026-01-01" }) as OutputRow,
  );
  const reader = {
    calls: [] as (OutputKey | undefined)[],
    async page(_: RunFilter, limit: number, after?: OutputKey) {
      this.calls.push(after);
      return rows.filter((r) => !after || r.curve_key > after.curve_key).slice(0, limit);
    },
  };
  const filter = { tenantId: "t", scenarioId: "s", runId: "r" };
  const collect = async (req: { limit?: number; signal: AbortSignal }) => {
    const out: OutputRow[][] = [];
    for await (const batch of pagedRows(reader, filter, req, 5)) out.push(batch);
    return out;
  };

  test("walks every row once, page after page, and stops at a short page or the limit", async () => {
    expect((await collect({ signal: new AbortController().signal })).map((b) => b.length)).toEqual([5, 5, 5, 5, 3]);
    expect((await collect({ limit: 12, signal: new AbortController().signal })).map((b) => b.length)).toEqual([5, 5, 2]);
    expect((await collect({ limit: 10, signal: new AbortController().signal })).flat().map((r) => r.curve_key)).toEqual(rows.slice(0, 10).map((r) => r.curve_key));
  });

  test("stops when the signal aborts", async () => {
    const abort = new AbortController();
    const seen: number[] = [];
    for await (const batch of pagedRows(reader, filter, { signal: abort.signal }, 5)) {
      seen.push(batch.length);
      abort.abort();
    }
    expect(seen).toEqual([5]);
  });
});

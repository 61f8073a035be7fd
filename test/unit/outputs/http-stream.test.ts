/** Content negotiation of downloads, and the keyset walk that row stores export with. */
import { describe, expect, test } from "bun:test";
import { pickEncoding } from "../../../src/outputs/http-stream";
import { type OutputKey, type OutputRow, pagedRows, type RunFilter } from "../../../src/outputs/reader";

describe("pickEncoding", () => {
  test("prefers zstd, then gzip; q=0 refuses; anything else is identity", () => {
    expect(pickEncoding(null)).toBeUndefined();
    expect(pickEncoding("")).toBeUndefined();
    expect(pickEncoding("gzip")).toBe("gzip");
    expect(pickEncoding("gzip, deflate, br, zstd")).toBe("zstd");
    expect(pickEncoding("GZIP;q=0.5, Zstd;q=0.1")).toBe("zstd");
    expect(pickEncoding("zstd;q=0, gzip")).toBe("gzip");
    expect(pickEncoding("gzip;q=0")).toBeUndefined();
    expect(pickEncoding("br, deflate")).toBeUndefined();
    expect(pickEncoding("*")).toBe("zstd");
    expect(pickEncoding("*;q=0")).toBeUndefined();
    expect(pickEncoding("identity")).toBeUndefined();
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

/**
 * COPY binary encoding of output rows, byte by byte against the format's documentation
 * (PostgreSQL, "COPY", "Binary Format"). That Postgres reads back every value exactly (the
 * awkward texts, -0, NaN, ±Infinity, subnormals, non-finite attribution entries) is the writer
 * contract's test, on the real server (test/integration/output-writer.test.ts).
 */
import { describe, expect, test } from "bun:test";
import type { OutputBatch } from "../../../src/engine/types";
import { assertBatchColumns, copyBinaryRows } from "../../../src/outputs/pg-copy-binary";
import { BATCH_COLUMNS } from "../../../src/outputs/row";
import type { RunOutputMeta } from "../../../src/outputs/store";

const meta: RunOutputMeta = {
  tenantId: "t",
  scenarioId: "00000000-0000-4000-8000-000000000001",
  runId: "01a24644-da7a-7995-80cb-82990fb92313",
  asofDate: "2000-01-02",
  versionHash: "vh",
  computedTs: "2000-01-01T00:00:01.5Z",
};

function batch(n: number): OutputBatch {
  return {
    length: n,
    curveKey: Array.from({ length: n }, (_, i) => `c${i % 2}`),
    tenorType: Array(n).fill("MONTHLY"),
    contractMonth: new Int32Array(n).fill(200002),
    tenorLabel: Array(n).fill("2000-02"),
    metric: Array(n).fill("mid"),
    value: new Float64Array(n).fill(1.5),
    bandLower: new Float64Array(n).fill(-0),
    bandUpper: new Float64Array(n).fill(Number.NaN),
    attribution: Array.from({ length: n }, (_, i) => (i % 2 ? null : '{"é":Infinity}')),
  };
}

/** Reads one tuple's fields (length-prefixed byte strings, null for -1) from `buf` at `at`. */
function tuple(buf: Buffer, at: number): { fields: (Buffer | null)[]; next: number } {
  const n = buf.readInt16BE(at);
  let pos = at + 2;
  const fields: (Buffer | null)[] = [];
  for (let f = 0; f < n; f++) {
    const len = buf.readInt32BE(pos);
    pos += 4;
    fields.push(len < 0 ? null : buf.subarray(pos, pos + len));
    if (len > 0) pos += len;
  }
  return { fields, next: pos };
}

describe("COPY binary rows", () => {
  test("header, one tuple per row with every column in its type's binary form, trailer", () => {
    const rows = copyBinaryRows(meta, 1 << 16);
    rows.add(batch(2), 0);
    rows.add(batch(2), 1);
    const buf = rows.take(true);
    expect(buf.subarray(0, 11).toString("latin1")).toBe("PGCOPY\n\xff\r\n\0");
    expect(buf.readInt32BE(11)).toBe(0); // flags
    expect(buf.readInt32BE(15)).toBe(0); // header extension
    const first = tuple(buf, 19);
    expect(first.fields.length).toBe(15);
    const [tenant, scenario, run, asof, vh, ts, curve, tenor, month, label, metric, value, lower, upper, attribution] = first.fields as Buffer[];
    expect(tenant?.toString()).toBe("t");
    expect(scenario?.toString("hex")).toBe("00000000000040008000000000000001");
    expect(run?.toString("hex")).toBe("01a24644da7a799580cb82990fb92313");
    expect(asof?.readInt32BE(0)).toBe(1); // days since 2000-01-01
    expect(vh?.toString()).toBe("vh");
    expect(ts?.readBigInt64BE(0)).toBe(1_500_000n); // microseconds since 2000-01-01 UTC
    expect([curve?.toString(), tenor?.toString(), label?.toString(), metric?.toString()]).toEqual(["c0", "MONTHLY", "2000-02", "mid"]);
    expect(month?.readInt32BE(0)).toBe(31); // 2000-02-01
    expect(value?.readDoubleBE(0)).toBe(1.5);
    expect(Object.is(lower?.readDoubleBE(0), -0)).toBe(true);
    expect(upper?.readDoubleBE(0)).toBeNaN();
    // jsonb: version 1, then the text, its non-finite entry quoted (JSON has no Infinity)
    expect(attribution?.[0]).toBe(1);
    expect(attribution?.subarray(1).toString("utf8")).toBe('{"é":"Infinity"}');
    const second = tuple(buf, first.next);
    expect(second.fields[14]).toBeNull();
    expect(second.fields[6]?.toString()).toBe("c1");
    expect(buf.readInt16BE(second.next)).toBe(-1);
    expect(buf.length).toBe(second.next + 2);
  });

  test("chunks: taken as they fill, each a view of the one buffer (valid until the next row), together the same bytes as one", () => {
    const b = batch(50);
    const whole = copyBinaryRows(meta, 1 << 20);
    for (let i = 0; i < b.length; i++) whole.add(b, i);
    const expected = Buffer.from(whole.take(true));
    const chunked = copyBinaryRows(meta, 200); // smaller than two rows
    const chunks: Buffer[] = [];
    const copies: Buffer[] = []; // each chunk's bytes when it was taken
    const take = (last = false) => {
      chunks.push(chunked.take(last));
      copies.push(Buffer.from(chunks.at(-1) as Buffer));
    };
    for (let i = 0; i < b.length; i++) if (chunked.add(b, i) >= 200) take();
    take(true);
    expect(chunks.length).toBeGreaterThan(10);
    expect(Buffer.concat(copies)).toEqual(expected);
    // No buffer per chunk (a new one each time raised a 4.9 M-row run's peak by ~80 MB): the writer
    // must be done with a chunk before the next row (pg-store.ts waits for the stream's callback).
    expect(new Set(chunks.map((c) => c.buffer)).size).toBe(1);
  });

  test("a run's metadata that is not in its column's type is refused before any row", () => {
    expect(() => copyBinaryRows({ ...meta, runId: "not-a-uuid" }, 1024)).toThrow('not a uuid: "not-a-uuid"');
    expect(() => copyBinaryRows({ ...meta, asofDate: "2000-1-2" }, 1024)).toThrow('not a date: "2000-1-2"');
    expect(() => copyBinaryRows({ ...meta, computedTs: "yesterday" }, 1024)).toThrow('not a timestamp: "yesterday"');
  });

  test("the batch columns it writes are row.ts's: a column added or moved there fails the check", () => {
    expect(() => assertBatchColumns(BATCH_COLUMNS)).not.toThrow();
    expect(() => assertBatchColumns([...BATCH_COLUMNS, "extra"])).toThrow("the batch columns are");
    expect(() => assertBatchColumns([...BATCH_COLUMNS].reverse())).toThrow("the batch columns are");
  });
});

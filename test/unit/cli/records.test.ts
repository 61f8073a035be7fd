/** The CLI's record splitter and key reader: downloads stop between rows, whatever the chunking. */
import { describe, expect, test } from "bun:test";
import { csvFields, ndjsonError, RecordSplitter, rowKey } from "../../../src/cli/records";
import { csvRow } from "../../../src/outputs/encoders";
import type { OutputRow } from "../../../src/outputs/row";

const enc = new TextEncoder();
const dec = new TextDecoder();

const row = (curve_key: string, attribution: Record<string, number> | null = { "policy:0": 1.5 }): OutputRow => ({
  scenario_id: "6d12dd93-4355-44c1-8ee2-dbe3545a7321",
  run_id: "53d2919c-4b91-437d-b1e8-50970ad77982",
  asof_date: "2026-01-02",
  curve_key,
  tenor_type: "MONTHLY",
  contract_month: "2027-01-01",
  tenor_label: "Jan-27",
  metric: "mid",
  value: 61.25,
  band_lower: null,
  band_upper: 70,
  attribution,
  version_hash: "fnv1a64:296ba9700a865f4a",
});

/** Every record the splitter returns for `text` cut into pieces of `size` bytes. */
function split(text: string, size: number, csv = true) {
  const bytes = enc.encode(text);
  const splitter = new RecordSplitter(csv);
  const out: { bytes: string; count: number; first: string; last: string }[] = [];
  for (let i = 0; i < bytes.length; i += size) {
    const r = splitter.push(bytes.subarray(i, i + size));
    if (r) out.push({ bytes: dec.decode(r.bytes), count: r.count, first: dec.decode(r.first), last: dec.decode(r.last) });
  }
  return { out, rest: dec.decode(splitter.rest()) };
}

describe("RecordSplitter", () => {
  // Quoted line feeds, doubled quotes and commas inside fields: the cases a naive line split gets wrong.
  const rows = [row("A"), row('B,"quoted"\nsecond line'), row("C", null), row("D\n\nE")];
  const text = `header\n${rows.map((r) => csvRow(r)).join("")}`;

  for (const size of [1, 2, 3, 7, 64, 100_000]) {
    test(`returns whole CSV records only, in chunks of ${size} bytes`, () => {
      const { out, rest } = split(`${text}partial,"open\n`, size);
      expect(out.map((o) => o.bytes).join("")).toBe(text);
      expect(out.reduce((n, o) => n + o.count, 0)).toBe(5);
      expect(rest).toBe('partial,"open\n');
      for (const o of out) {
        expect(o.bytes.startsWith(o.first)).toBe(true);
        expect(o.bytes.endsWith(o.last)).toBe(true);
      }
      expect(out.at(-1)?.last).toBe(csvRow(rows[3] as OutputRow));
    });
  }

  test("splits NDJSON at line feeds", () => {
    const { out, rest } = split('{"a":1}\n{"a":"x\\ny"}\n{"a"', 5, false);
    expect(out.map((o) => o.bytes).join("")).toBe('{"a":1}\n{"a":"x\\ny"}\n');
    expect(rest).toBe('{"a"');
  });
});

describe("reading a row back", () => {
  test("csvFields undoes the encoder's quoting", () => {
    const r = row('B,"quoted"\nsecond line');
    expect(csvFields(csvRow(r))).toEqual([
      r.scenario_id,
      r.run_id,
      r.asof_date,
      'B,"quoted"\nsecond line',
      "MONTHLY",
      "2027-01-01",
      "Jan-27",
      "mid",
      "61.25",
      "",
      "70",
      '{"policy:0": 1.5}',
      r.version_hash,
    ]);
    expect(csvFields('"",x,\n')).toEqual(["", "x", ""]);
  });

  test("rowKey finds the sort key by the header's column names, or by NDJSON field names", () => {
    const header = ["scenario_id", "run_id", "asof_date", "curve_key", "tenor_type", "contract_month", "tenor_label", "metric", "value"];
    const key = { metric: "mid", curve_key: "X,Y", tenor_type: "MONTHLY", contract_month: "2027-01-01" };
    expect(rowKey(enc.encode('s,r,2026-01-02,"X,Y",MONTHLY,2027-01-01,Jan-27,mid,1\n'), header)).toEqual(key);
    expect(rowKey(enc.encode(`${JSON.stringify({ ...key, value: 1 })}\n`), null)).toEqual(key);
    expect(() => rowKey(enc.encode('{"metric":"mid"}\n'), null)).toThrow("cannot read the sort key");
  });

  test("ndjsonError recognises the server's failure line, not a row", () => {
    expect(ndjsonError(enc.encode('{"error":{"code":"INTERNAL","message":"the export failed","request_id":"r1"}}\n'))).toBe("the export failed (request r1)");
    expect(ndjsonError(enc.encode('{"scenario_id":"x","error":1}\n'))).toBeNull();
  });
});

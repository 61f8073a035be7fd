/**
 * exportOrder: every row once, in (metric, curve_key, tenor_type, contract_month) order, checked
 * against a plain sort of all rows; for engine output, synthetic batches and shuffled rows, as
 * plain batches and coded as an engine thread sends them.
 */
import { describe, expect, test } from "bun:test";
import { runScenario } from "../../../src/engine";
import { textAt } from "../../../src/engine/batch";
import type { OutputBatch } from "../../../src/engine/types";
import { exportOrder } from "../../../src/outputs/export-order";
import { packBatch, unpackBatch } from "../../../src/worker/messages";
import { syntheticBatches } from "../../support/output-batches";
import { sampleInput } from "../engine/helpers";

type Key = [string, string, string, number];
const keyOf = (b: OutputBatch, i: number): Key => [textAt(b, "metric", i), textAt(b, "curveKey", i), textAt(b, "tenorType", i), b.contractMonth[i] as number];
/** The batches as an engine thread hands them over: text columns coded, each batch with its own distinct values (src/worker/messages.ts). */
const coded = (batches: OutputBatch[]) => batches.map((b) => unpackBatch(packBatch(b).packed));
/** Text by its UTF-8 bytes (code point order, the database's under the C collation), numbers by value. */
const compare = (x: Key, y: Key) => {
  for (let i = 0; i < 4; i++) {
    if (x[i] === y[i]) continue;
    return typeof x[i] === "number" ? (x[i] as number) - (y[i] as number) : Buffer.compare(Buffer.from(x[i] as string), Buffer.from(y[i] as string));
  }
  return 0;
};

/** The keys in the order exportOrder gives, and all keys sorted plainly. */
function orders(batches: OutputBatch[]) {
  const { batch, row } = exportOrder(batches);
  const got = Array.from(batch, (b, i) => keyOf(batches[b] as OutputBatch, row[i] as number));
  const all = batches.flatMap((b) => Array.from({ length: b.length }, (_, i) => keyOf(b, i)));
  return { got, want: [...all].sort(compare), pairs: new Set(Array.from(batch, (b, i) => `${b}:${row[i]}`)) };
}

/** Rows moved between positions and batches at random (a seeded shuffle), so no group arrives in order. */
function shuffled(batches: OutputBatch[], seed = 7): OutputBatch[] {
  const rows = batches.flatMap((b) => Array.from({ length: b.length }, (_, i) => [b, i] as const));
  let s = seed;
  for (let i = rows.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [rows[i], rows[j]] = [rows[j] as (typeof rows)[number], rows[i] as (typeof rows)[number]];
  }
  const out: OutputBatch[] = [];
  for (let start = 0; start < rows.length; start += 333) {
    const part = rows.slice(start, start + 333);
    out.push({
      length: part.length,
      curveKey: part.map(([b, i]) => b.curveKey[i] as string),
      tenorType: part.map(([b, i]) => b.tenorType[i] as OutputBatch["tenorType"][number]),
      contractMonth: Int32Array.from(part, ([b, i]) => b.contractMonth[i] as number),
      tenorLabel: part.map(([b, i]) => b.tenorLabel[i] as string),
      metric: part.map(([b, i]) => b.metric[i] as string),
      value: Float64Array.from(part, ([b, i]) => b.value[i] as number),
      bandLower: Float64Array.from(part, ([b, i]) => b.bandLower[i] as number),
      bandUpper: Float64Array.from(part, ([b, i]) => b.bandUpper[i] as number),
      attribution: part.map(([b, i]) => b.attribution[i] ?? null),
    });
  }
  return out;
}

describe("exportOrder", () => {
  const engine = runScenario(sampleInput([{ driver_type: "policy", policy_name: "RPS", start_year: 2027, target: 0.3 }])).batches;

  for (const [name, batches] of [
    ["engine output (monthly, quarterly and calendar tenors)", engine],
    ["synthetic batches", syntheticBatches(30_000, 7_000)],
    ["engine output, shuffled across batches", shuffled(engine)],
    ["engine output, coded as from an engine thread", coded(engine)],
    ["engine output, shuffled across batches, then coded", coded(shuffled(engine))],
  ] as const) {
    test(`${name}: each row once, in key order`, () => {
      const { got, want, pairs } = orders(batches as OutputBatch[]);
      const total = (batches as OutputBatch[]).reduce((n, b) => n + b.length, 0);
      expect(got.length).toBe(total);
      expect(pairs.size).toBe(total);
      expect(got).toEqual(want);
    });
  }

  test("the engine's own order is not export order (so the test above has something to check)", () => {
    const asMade = engine.flatMap((b) => Array.from({ length: b.length }, (_, i) => keyOf(b, i)));
    expect(asMade).not.toEqual([...asMade].sort(compare));
    expect(new Set(engine.flatMap((b) => b.tenorType)).size).toBe(3);
  });

  test("no batches, or empty ones: nothing", () => {
    expect(exportOrder([]).batch.length).toBe(0);
    expect(exportOrder(syntheticBatches(0)).row.length).toBe(0);
  });
});

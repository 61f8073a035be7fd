/**
 * A batch's way from an engine thread to the main thread (src/worker/messages.ts): packed, cloned
 * as postMessage clones it (its buffers transferred), unpacked: the same rows, value for value,
 * and through a real pool thread the same rows as the engine run inline.
 */
import { describe, expect, test } from "bun:test";
import { runScenario } from "../../src/engine";
import { attributionAt, textAt } from "../../src/engine/batch";
import type { OutputBatch, TextColumn } from "../../src/engine/types";
import { packBatch, unpackBatch } from "../../src/worker/messages";
import { WorkerPool } from "../../src/worker/pool";
import { randomScenario, WORKED_EXAMPLE } from "./engine/helpers";

/**
 * A batch as plain arrays, to compare with toEqual (numbers compared by Object.is: -0 is not 0, NaN
 * is NaN); its texts one per row, as `textAt` and `attributionAt` read them whichever form they came in.
 */
const plain = (b: OutputBatch) => {
  const { attributionText: _joined, coded: _coded, ...rest } = b;
  const texts = (column: TextColumn) => Array.from({ length: b.length }, (_, i) => textAt(b, column, i));
  return {
    ...rest,
    curveKey: texts("curveKey"),
    tenorType: texts("tenorType"),
    tenorLabel: texts("tenorLabel"),
    metric: texts("metric"),
    contractMonth: [...b.contractMonth],
    value: [...b.value],
    bandLower: [...b.bandLower],
    bandUpper: [...b.bandUpper],
    attribution: Array.from({ length: b.length }, (_, i) => attributionAt(b, i)),
  };
};

function awkward(): OutputBatch {
  const curveKey = ["PJM_WEST", "PJM_WEST", "ÉLEC\tQ", "PJM_WEST", "", "😀"];
  return {
    length: 6,
    curveKey,
    tenorType: ["MONTHLY", "QUARTER", "CALENDAR", "MONTHLY", "MONTHLY", "QUARTER"],
    contractMonth: Int32Array.from([202701, 202704, 202801, 202702, 202703, 202707]),
    tenorLabel: ["2027-01", "2027-Q2", "CAL-2028", "2027-02", "2027-03", "2027-Q3"],
    metric: ["mid", "mid", "NPV", "baseline", "mid", "uplift"],
    value: Float64Array.from([1.5, -0, Number.NaN, Number.POSITIVE_INFINITY, 1e-300, 42]),
    bandLower: Float64Array.from([1, 2, 3, 4, 5, 6]),
    bandUpper: Float64Array.from([7, 8, 9, 10, 11, 12]),
    attribution: [null, '{"policy:0":1.5}', "", null, '{"a\\"b":"😀"}', '{"x":-0}'],
  };
}

/** What the main thread gets for `b`: packed, cloned with its buffers transferred, unpacked. */
function acrossThreads(b: OutputBatch): OutputBatch {
  const { packed, transfer } = packBatch(b);
  return unpackBatch(structuredClone(packed, { transfer }));
}

describe("a batch across the thread boundary", () => {
  test("awkward text, nulls, empty strings, -0, NaN and Infinity arrive as they left", () => {
    const expected = plain(awkward());
    expect(plain(acrossThreads(awkward()))).toEqual(expected);
  });

  test("an empty batch", () => {
    const empty: OutputBatch = { ...awkward(), length: 0, curveKey: [], tenorType: [], tenorLabel: [], metric: [], attribution: [] };
    for (const k of ["contractMonth", "value", "bandLower", "bandUpper"] as const) (empty as Record<typeof k, Int32Array | Float64Array>)[k] = empty[k].subarray(0, 0);
    expect(acrossThreads(empty).length).toBe(0);
  });

  test("text columns stay coded across: no string array per column, each row's text read through its code", () => {
    const got = acrossThreads(awkward());
    expect([got.curveKey.length, got.attribution.length]).toEqual([0, 0]);
    expect(got.coded?.curveKey.values).toEqual(["PJM_WEST", "ÉLEC\tQ", "", "😀"]);
  });

  test("the comparison sees a difference: a code that points at another value does not unpack equal", () => {
    const { packed } = packBatch(awkward());
    packed.curveKey.codes[1] = 1;
    expect(plain(unpackBatch(packed))).not.toEqual(plain(awkward()));
  });

  test("the comparison sees a difference: attribution offsets shifted by one do not unpack equal", () => {
    const { packed } = packBatch(awkward());
    packed.attribution.ends[1] = (packed.attribution.ends[1] as number) - 1;
    expect(plain(unpackBatch(packed))).not.toEqual(plain(awkward()));
  });

  describe("the engine's joined attribution (RunOptions.attributionText, as an engine thread runs it)", () => {
    // Batches of 7 rows: many boundaries, inside curves and inside a row's metrics, and a short last batch.
    const inline = runScenario(WORKED_EXAMPLE, { batchRows: 7 }).batches;
    // Fresh for each test: crossing the boundary transfers (detaches) a batch's buffers.
    const joinedRun = () => runScenario(WORKED_EXAMPLE, { batchRows: 7, attributionText: true }).batches;

    test("is the per-row texts joined: the same rows once across the thread boundary, batch for batch", () => {
      const joined = joinedRun();
      expect(joined.length).toBe(inline.length);
      expect(joined.every((b) => b.attributionText !== undefined && b.attribution.length === 0)).toBe(true);
      expect(joined.map(acrossThreads).map(plain)).toEqual(inline.map(plain));
      // null and non-null rows both present, so both kinds of row were compared
      const all = inline.flatMap((b) => b.attribution);
      expect(all.some((a) => a === null) && all.some((a) => a !== null)).toBe(true);
    });

    test("random scenarios: every row's joined text is its per-row text, in batches of 50,000 rows and of 7", () => {
      let rows = 0;
      for (let seed = 1; seed <= 20; seed++)
        for (const batchRows of [undefined, 7]) {
          const texts = (b: OutputBatch) => Array.from({ length: b.length }, (_, i) => attributionAt(b, i));
          const input = randomScenario(seed);
          const perRow = runScenario(input, { batchRows }).batches.flatMap(texts);
          expect(runScenario(input, { batchRows, attributionText: true }).batches.flatMap(texts)).toEqual(perRow);
          rows += perRow.filter((a) => a !== null).length;
        }
      expect(rows).toBeGreaterThan(10_000);
    });

    test("the comparison sees a difference: one changed character of the joined text does not unpack equal", () => {
      const joined = joinedRun();
      const b = joined.find((x) => (x.attributionText?.text.length ?? 0) > 0) as OutputBatch;
      const { text } = b.attributionText as NonNullable<OutputBatch["attributionText"]>;
      const changed = { ...b, attributionText: { ...(b.attributionText as NonNullable<OutputBatch["attributionText"]>), text: `${text.slice(0, -2)}9}` } };
      expect(plain(acrossThreads(changed))).not.toEqual(plain(inline[joined.indexOf(b)] as OutputBatch));
    });
  });

  test("text columns travel as their distinct values: one per curve, not one per row", () => {
    const [batch] = runScenario(WORKED_EXAMPLE).batches;
    const { packed } = packBatch(batch as OutputBatch);
    expect(packed.curveKey.values).toEqual([...new Set((batch as OutputBatch).curveKey)]);
    expect(packed.curveKey.codes.length).toBe((batch as OutputBatch).length);
  });

  test("through a pool thread, a run's rows equal the engine's run inline", async () => {
    const pool = new WorkerPool(1);
    try {
      const job = pool.run(WORKED_EXAMPLE);
      const got: OutputBatch[] = [];
      for await (const b of job.batches) got.push(b);
      await job.result;
      expect(got.map(plain)).toEqual(runScenario(WORKED_EXAMPLE).batches.map(plain));
    } finally {
      pool.close();
    }
  });
});

/** Messages between the pool (main thread) and its engine threads. */
import type { AttributionText, BandStats, CodedText, EngineInput, OutputBatch } from "../engine/types";

/** Batches a thread may have posted that the pool's reader has not taken yet (each taken one is acked). */
export const IN_FLIGHT = 2;

export type ToThread = { type: "run"; jobId: number; input: EngineInput } | { type: "ack"; jobId: number };

export type FromThread =
  | { type: "started"; jobId: number; versionHash: string; rows: number }
  | { type: "progress"; jobId: number; done: number; total: number }
  | { type: "batch"; jobId: number; batch: PackedBatch }
  | { type: "done"; jobId: number; rows: number; bandStats: BandStats }
  /** `code` and `retryable` travel as plain fields (a thrown class does not survive the clone): the executor classifies by them (failure.ts). */
  | { type: "error"; jobId: number; message: string; name: string; code?: string; retryable?: boolean };

/**
 * An OutputBatch as it crosses from an engine thread to the main thread. Cloning a batch's string
 * arrays (five strings a row) cost the pool 12-17 % of its runs/s on CPU-heavy runs (docs/performance.md,
 * "Runs across threads"): the repeated columns travel as their distinct values plus a code per
 * row, the attribution texts as one string plus offsets, and every array as a transferred buffer.
 */
export type PackedBatch = {
  length: number;
  curveKey: CodedText;
  tenorType: CodedText;
  tenorLabel: CodedText;
  metric: CodedText;
  contractMonth: Int32Array;
  value: Float64Array;
  bandLower: Float64Array;
  bandUpper: Float64Array;
  /** Every non-null attribution text, joined; row i's is [ends[i - 1], ends[i]) of it, null where `isNull[i]`. */
  attribution: AttributionText;
};

function code(column: readonly string[]): CodedText {
  const index = new Map<string, number>();
  const values: string[] = [];
  const codes = new Uint32Array(column.length);
  let last: string | undefined;
  let lastCode = 0;
  for (let i = 0; i < column.length; i++) {
    const v = column[i] as string;
    // Rows of a curve come together: most rows repeat the row before's value.
    if (v !== last) {
      let c = index.get(v);
      if (c === undefined) {
        c = values.length;
        index.set(v, c);
        values.push(v);
      }
      last = v;
      lastCode = c;
    }
    codes[i] = lastCode;
  }
  return { values, codes };
}

/** A batch's attribution texts joined, as the engine joins them itself when asked (RunOptions.attributionText). */
function joinAttribution(b: OutputBatch): AttributionText {
  const ends = new Uint32Array(b.length);
  const isNull = new Uint8Array(b.length);
  const texts: string[] = [];
  let end = 0;
  for (let i = 0; i < b.length; i++) {
    const a = b.attribution[i];
    if (a == null) isNull[i] = 1;
    else {
      texts.push(a);
      end += a.length;
    }
    ends[i] = end;
  }
  return { text: texts.join(""), ends, isNull };
}

/** Packs a batch for postMessage; `transfer` lists its buffers (the batch's own typed arrays when they own theirs). */
export function packBatch(b: OutputBatch): { packed: PackedBatch; transfer: ArrayBuffer[] } {
  const attribution = b.attributionText ?? joinAttribution(b);
  const packed: PackedBatch = {
    length: b.length,
    curveKey: b.coded?.curveKey ?? code(b.curveKey),
    tenorType: b.coded?.tenorType ?? code(b.tenorType),
    tenorLabel: b.coded?.tenorLabel ?? code(b.tenorLabel),
    metric: b.coded?.metric ?? code(b.metric),
    contractMonth: b.contractMonth,
    value: b.value,
    bandLower: b.bandLower,
    bandUpper: b.bandUpper,
    attribution,
  };
  const own = [packed.contractMonth, packed.value, packed.bandLower, packed.bandUpper].filter((v) => v.byteOffset === 0 && v.byteLength === v.buffer.byteLength);
  const mine = [packed.curveKey.codes, packed.tenorType.codes, packed.tenorLabel.codes, packed.metric.codes, attribution.ends, attribution.isNull];
  // A buffer shared by two views can be transferred only once: transfer none of the batch's own then.
  const buffers = own.map((v) => v.buffer as ArrayBuffer);
  const transfer = new Set(buffers).size === buffers.length ? buffers : [];
  return { packed, transfer: [...transfer, ...mine.map((v) => v.buffer as ArrayBuffer)] };
}

/**
 * The batch again, its text columns still coded (`coded`) and its attribution still joined
 * (`attributionText`): a writer reads each row's with `textAt` and `attributionAt` as it goes.
 * Decoding them here, a string array per column and a string per row, cost the main thread
 * ~9 ms a 107,840-row run, on the cores the engine threads need (docs/performance.md, "Runs across threads").
 */
export function unpackBatch(p: PackedBatch): OutputBatch {
  return {
    length: p.length,
    curveKey: [],
    tenorType: [],
    tenorLabel: [],
    metric: [],
    coded: { curveKey: p.curveKey, tenorType: p.tenorType, tenorLabel: p.tenorLabel, metric: p.metric },
    contractMonth: p.contractMonth,
    value: p.value,
    bandLower: p.bandLower,
    bandUpper: p.bandUpper,
    attribution: [],
    attributionText: p.attribution,
  };
}

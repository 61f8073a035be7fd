import type { OutputBatch, TenorType, TextColumn } from "./types";

/** A batch with room for `capacity` rows, `length` of them counted (the engine fills from 0; a copy sets it whole). */
export function emptyBatch(capacity: number, length = 0): OutputBatch {
  return {
    length,
    curveKey: new Array<string>(capacity),
    tenorType: new Array<TenorType>(capacity),
    contractMonth: new Int32Array(capacity),
    tenorLabel: new Array<string>(capacity),
    metric: new Array<string>(capacity),
    value: new Float64Array(capacity),
    bandLower: new Float64Array(capacity),
    bandUpper: new Float64Array(capacity),
    attribution: new Array<string | null>(capacity),
  };
}

/**
 * Row `i`'s attribution text (null where it has none), from whichever form the batch carries:
 * one string per row, or the batch's texts joined (`attributionText`, as batches from an engine
 * thread arrive: sliced on arrival, every row's string was part of the main thread's decoding, src/worker/messages.ts).
 */
export function attributionAt(b: OutputBatch, i: number): string | null {
  const joined = b.attributionText;
  if (!joined) return b.attribution[i] ?? null;
  return joined.isNull[i] ? null : joined.text.slice(i === 0 ? 0 : joined.ends[i - 1], joined.ends[i]);
}

/** Row `i`'s text in `column`, from whichever form the batch carries (OutputBatch.coded). */
export function textAt(b: OutputBatch, column: TextColumn, i: number): string {
  const coded = b.coded?.[column];
  return (coded ? coded.values[coded.codes[i] as number] : b[column][i]) as string;
}

/** The texts of `column`: its distinct values when coded, else every row's (for a caller that collects distinct values). */
export function textValues(b: OutputBatch, column: TextColumn): readonly string[] {
  return b.coded?.[column].values ?? b[column];
}

/** Rows `[start, end)` of `column`, one text per row. */
export function textSlice(b: OutputBatch, column: TextColumn, start: number, end: number): string[] {
  return b.coded ? Array.from({ length: end - start }, (_, j) => textAt(b, column, start + j)) : b[column].slice(start, end);
}

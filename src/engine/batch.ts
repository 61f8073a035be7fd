import type { OutputBatch, TenorType } from "./types";

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

/**
 * Synthetic engine output shaped like the real thing (curve × tenor × metric rows, attribution JSON
 * on uplift rows), for the output-store tests and bench/trino-write.ts. Deterministic for a given size.
 */
import { emptyBatch } from "../../src/engine/batch";
import type { OutputBatch, TenorType } from "../../src/engine/types";

const METRICS = ["mid", "baseline", "uplift", "policy_uplift", "NPV"];
const MARKETS = ["PJM", "ERCOT", "MISO", "CAISO", "NYISO"];
const BLOCKS = ["ON_PEAK", "OFF_PEAK", "ATC"];

/** `rows` rows in batches of at most `batchRows`. */
export function syntheticBatches(rows: number, batchRows = 20_000): OutputBatch[] {
  const out: OutputBatch[] = [];
  for (let start = 0; start < rows; start += batchRows) out.push(syntheticBatch(Math.min(batchRows, rows - start), start));
  return out;
}

function syntheticBatch(n: number, offset: number): OutputBatch {
  const b = emptyBatch(n, n);
  for (let j = 0; j < n; j++) {
    const i = offset + j;
    const metric = METRICS[i % METRICS.length] as string;
    const month = Math.floor(i / METRICS.length) % 360;
    const curve = Math.floor(i / (METRICS.length * 360));
    const ym = (2027 + Math.floor(month / 12)) * 100 + (month % 12) + 1;
    const tenor: TenorType = "MONTHLY";
    const v = 40 + Math.sin(i) * 10 + i / 1e6;
    b.curveKey[j] = `${MARKETS[curve % MARKETS.length]}_NODE${curve}_${BLOCKS[curve % BLOCKS.length]}`;
    b.tenorType[j] = tenor;
    b.contractMonth[j] = ym;
    b.tenorLabel[j] = `${Math.floor(ym / 100)}-${String(ym % 100).padStart(2, "0")}`;
    b.metric[j] = metric;
    b.value[j] = v;
    b.bandLower[j] = v * 0.9;
    b.bandUpper[j] = v * 1.1;
    b.attribution[j] = metric === "uplift" ? JSON.stringify({ "policy:0": v * 0.25, "load_growth:1": v * 0.75 }) : null;
  }
  return b;
}

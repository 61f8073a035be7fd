/**
 * Every value the engine produces must be finite. A non-finite one (an overflow from extreme
 * curve values, a 0/0) is a deterministic failure of these inputs: the run fails at once, and is
 * not retried, with an error naming the curve, the period and the metric. The error's `code` and
 * `retryable` are plain fields because they cross the worker-thread boundary (src/worker/thread.ts).
 */
import type { TenorType } from "./types";

export const NON_FINITE_OUTPUT = "NON_FINITE_OUTPUT";

export class NonFiniteOutputError extends Error {
  override name = "NonFiniteOutputError";
  readonly code = NON_FINITE_OUTPUT;
  readonly retryable = false;
  constructor(
    readonly curveKey: string,
    readonly period: string,
    readonly metric: string,
    readonly field: string,
    readonly value: string,
  ) {
    super(`non-finite output: curve ${curveKey}, ${period}, metric ${metric}: ${field} is ${value}; extreme baseline values overflow the model (check the curve)`);
  }
}

const PERIOD: Record<Exclude<TenorType, "MONTHLY">, string> = { QUARTER: "quarter", CALENDAR: "year" };

/**
 * Throws NonFiniteOutputError unless value, bands and attribution are finite. `attribution` is the
 * engine's own JSON text: its keys are `driver_type:index`, so "NaN" or "Infinity" in it can only
 * be a number the engine printed (checking the text costs less than checking every part on the hot path).
 */
export function assertFiniteRow(
  curveKey: string,
  tenor: TenorType,
  month: number,
  label: string,
  metric: string,
  value: number,
  lo: number,
  hi: number,
  attribution: string | null,
  /** The caller has checked the attribution's numbers: skip the text scan. */
  attributionChecked = false,
): void {
  if (Number.isFinite(value) && Number.isFinite(lo) && Number.isFinite(hi) && (attribution === null || attributionChecked || !hasNonFinite(attribution))) return;
  // A quarter or year also names its first contract month, so every message names a month.
  const first = `${Math.floor(month / 100)}-${String(month % 100).padStart(2, "0")}`;
  const period = tenor === "MONTHLY" ? `month ${first}` : `${PERIOD[tenor]} ${label} (from month ${first})`;
  const where = (field: string, v: string) => new NonFiniteOutputError(curveKey, period, metric, field, v);
  if (!Number.isFinite(value)) throw where("value", String(value));
  if (!Number.isFinite(lo)) throw where("band_lower", String(lo));
  if (!Number.isFinite(hi)) throw where("band_upper", String(hi));
  const entry = /"([^"]*)":(-?Infinity|NaN)/.exec(attribution as string);
  throw where(`attribution ${entry?.[1] ?? "entry"}`, entry?.[2] ?? "not finite");
}

function hasNonFinite(json: string): boolean {
  return json.includes("Infinity") || json.includes("NaN");
}

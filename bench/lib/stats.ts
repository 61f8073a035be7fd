/** Order statistics for the bench: medians of rounds, percentiles of latency samples. */

export const sorted = (xs: readonly number[]): number[] => [...xs].sort((a, b) => a - b);

/** The median (the mean of the two middle values for an even count). */
export function median(xs: readonly number[]): number {
  if (!xs.length) return Number.NaN;
  const s = sorted(xs);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Nearest-rank percentile, p in 0..100. */
export function percentile(xs: readonly number[], p: number): number {
  if (!xs.length) return Number.NaN;
  const s = sorted(xs);
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))] as number;
}

export type Summary = { median: number; min: number; max: number; n: number };
export function summarize(xs: readonly number[]): Summary {
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length };
}

export type Latency = { p50: number; p95: number; p99: number; max: number; n: number };
export function latency(xs: readonly number[]): Latency {
  return { p50: percentile(xs, 50), p95: percentile(xs, 95), p99: percentile(xs, 99), max: Math.max(...xs), n: xs.length };
}

/** Parses "10%", "10" or "0.1" into a fraction (0.1). */
export function parseTolerance(text: string): number {
  const t = text.trim();
  if (t.endsWith("%")) return Number(t.slice(0, -1)) / 100;
  const n = Number(t);
  if (!Number.isFinite(n) || n < 0) throw new Error(`bad tolerance '${text}'`);
  return n >= 1 ? n / 100 : n;
}

/** Compact human formatting of a figure. */
export function fmt(x: number, unit = ""): string {
  if (!Number.isFinite(x)) return String(x);
  if (unit === "ms" && x < 1) return `${(x * 1000).toFixed(0)} µs`;
  const a = Math.abs(x);
  const s = a >= 1000 ? Math.round(x).toLocaleString("en-US") : a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : a >= 1 ? x.toFixed(2) : x.toFixed(3);
  return unit ? `${s} ${unit}` : s;
}

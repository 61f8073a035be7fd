/**
 * --compare BASELINE.json --tolerance 10%: every ratio present in both results is compared; a
 * ratio that moved in its worse direction by more than the tolerance (relative to the baseline's
 * value) is a regression. Absolute figures are never compared (they follow the machine's load).
 */
import type { BenchFile } from "./file";
import type { Ratio } from "./result";
import { fmt } from "./stats";
import { table } from "./table";

export type Comparison = { key: string; baseline: number; current: number; change: number; better: Ratio["better"]; regression: boolean };

export function compare(baseline: BenchFile, current: BenchFile, tolerance: number): { rows: Comparison[]; missing: string[]; regressions: number } {
  const base = new Map<string, Ratio>();
  for (const s of baseline.suites) for (const r of s.ratios) base.set(`${s.suite}: ${r.name}`, r);
  const rows: Comparison[] = [];
  const seen = new Set<string>();
  for (const s of current.suites) {
    for (const r of s.ratios) {
      const key = `${s.suite}: ${r.name}`;
      const b = base.get(key);
      if (!b || !Number.isFinite(b.median) || b.median === 0) continue;
      seen.add(key);
      const change = r.median / b.median - 1;
      const regression = r.better === "higher" ? change < -tolerance : change > tolerance;
      rows.push({ key, baseline: b.median, current: r.median, change, better: r.better, regression });
    }
  }
  const missing = [...base.keys()].filter((k) => !seen.has(k));
  return { rows, missing, regressions: rows.filter((r) => r.regression).length };
}

export function printComparison(c: ReturnType<typeof compare>, tolerance: number): string {
  const out = [
    `== compare (tolerance ${(tolerance * 100).toFixed(0)} %)`,
    table(
      ["ratio", "baseline", "current", "change", "better", "result"],
      c.rows.map((r) => [r.key, fmt(r.baseline), fmt(r.current), `${r.change >= 0 ? "+" : ""}${(r.change * 100).toFixed(1)} %`, r.better, r.regression ? "REGRESSION" : "ok"]),
    ),
  ];
  if (c.missing.length) out.push(`not measured in this run (not compared): ${c.missing.length} ratio(s), e.g. ${c.missing.slice(0, 3).join("; ")}`);
  out.push(
    c.regressions ? `${c.regressions} regression(s) beyond ${(tolerance * 100).toFixed(0)} %` : `no regression beyond ${(tolerance * 100).toFixed(0)} % in ${c.rows.length} ratios`,
  );
  return out.join("\n");
}

/** Plain-text tables of a suite's result, as `bun run bench` prints them. */
import type { SuiteResult } from "./result";
import { fmt } from "./stats";

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

export function printSuite(r: SuiteResult): string {
  const out: string[] = [`== ${r.suite}${r.seconds !== undefined ? ` (${r.seconds.toFixed(1)} s)` : ""}`];
  if (r.skipped) {
    out.push(`skipped: ${r.skipped}`);
    return out.join("\n");
  }
  if (r.figures.length) {
    const n = Math.max(...r.figures.map((f) => f.samples.length));
    out.push(
      table(
        ["measure", "side", `median (of ${n})`, "min", "max", "unit"],
        r.figures.map((f) => [f.name, f.side, fmt(f.median), fmt(f.min), fmt(f.max), f.unit]),
      ),
    );
  }
  if (r.distributions.length) {
    out.push("");
    out.push(
      table(
        ["latency", "p50 ms", "p95 ms", "p99 ms", "max ms", "n"],
        r.distributions.map((d) => [`${d.group}: ${d.name}`, fmt(d.p50), fmt(d.p95), fmt(d.p99), fmt(d.max), String(d.n)]),
      ),
    );
  }
  if (r.ratios.length) {
    out.push("");
    out.push(
      table(
        ["ratio (project / baseline, same run)", "median", "min", "max", "better", "goal", "meets"],
        r.ratios.map((x) => [x.name, fmt(x.median), fmt(x.min), fmt(x.max), x.better, x.goal ?? "", x.meets === undefined ? "" : x.meets ? "yes" : "NO"]),
      ),
    );
  }
  if (r.checks.length) {
    out.push("");
    out.push(
      table(
        ["check", "value", "ok"],
        r.checks.map((c) => [c.name, c.value, c.ok ? "yes" : "NO"]),
      ),
    );
  }
  for (const n of r.notes) out.push(`note: ${n}`);
  return out.join("\n");
}

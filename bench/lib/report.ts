/**
 * --report FILE.html: one self-contained page (inline CSS and SVG, no script, no external asset):
 * per suite, ratio bars against their goals, throughput bars (project next to its baseline),
 * latency distributions (quantile curves), and the figures' table; machine facts on top.
 */
import type { BenchFile } from "./file";
import type { Distribution, Figure, Ratio, SuiteResult } from "./result";
import { fmt } from "./stats";

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563", "#ca8a04"];

/** Horizontal bars, one per item, scaled to the largest value; an optional marker per bar (a goal or baseline). */
function bars(items: { label: string; value: number; color: string; text: string; marker?: number; markerText?: string }[], title: string): string {
  if (!items.length) return "";
  const W = 760;
  const labelW = 330;
  const rowH = 22;
  const H = items.length * rowH + 34;
  const max = Math.max(...items.map((i) => Math.max(i.value, i.marker ?? 0))) * 1.15 || 1;
  const x = (v: number) => labelW + (v / max) * (W - labelW - 90);
  const rows = items.map((it, i) => {
    const y = 24 + i * rowH;
    const marker =
      it.marker !== undefined
        ? `<line x1="${x(it.marker)}" x2="${x(it.marker)}" y1="${y - 2}" y2="${y + rowH - 4}" stroke="#111" stroke-width="2" stroke-dasharray="3,2"><title>${esc(it.markerText ?? "")}</title></line>`
        : "";
    return `<text x="${labelW - 6}" y="${y + 13}" text-anchor="end" font-size="11">${esc(it.label)}</text><rect x="${labelW}" y="${y}" width="${Math.max(1, x(it.value) - labelW)}" height="${rowH - 6}" fill="${it.color}"><title>${esc(`${it.label}: ${it.text}`)}</title></rect><text x="${x(it.value) + 4}" y="${y + 13}" font-size="11">${esc(it.text)}</text>${marker}`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}"><text x="0" y="14" font-size="13" font-weight="bold">${esc(title)}</text>${rows.join("")}</svg>`;
}

function ratioChart(ratios: Ratio[]): string {
  return bars(
    ratios.map((r) => {
      const goal = r.goal?.match(/[\d.]+/)?.[0];
      const plain = r.goal && /^[≥≤=]\s*[\d.]+/.test(r.goal) ? Number(goal) : undefined;
      return {
        label: r.name,
        value: r.median,
        color: r.meets === false ? "#dc2626" : r.meets ? "#16a34a" : "#2563eb",
        text: `${fmt(r.median)}${r.goal ? ` (goal ${r.goal})` : ""}`,
        ...(plain !== undefined ? { marker: plain, markerText: `goal ${r.goal}` } : {}),
      };
    }),
    "Ratios, project / baseline (median of rounds; dashed line: goal; green meets, red misses)",
  );
}

function throughputChart(figs: Figure[]): string {
  const rates = figs.filter((f) => f.unit.endsWith("/s") && f.side !== "info");
  // One chart per unit, so rows/s and MB/s do not share a scale.
  return [...new Set(rates.map((f) => f.unit))]
    .map((unit) =>
      bars(
        rates
          .filter((f) => f.unit === unit)
          .map((f) => ({ label: f.name, value: f.median, color: f.side === "project" ? "#2563eb" : "#9ca3af", text: `${fmt(f.median)} ${f.unit}` })),
        `Throughput (${unit}): project (blue) against baselines (grey)`,
      ),
    )
    .join("");
}

function latencyChart(dists: Distribution[], title: string): string {
  if (!dists.length) return "";
  const W = 760;
  const H = 260;
  const L = 60;
  const B = 36;
  const top = 40;
  const all = dists.flatMap((d) => d.samples);
  const ymax = Math.max(...all.filter((_, i, a) => i < a.length), 0.001) * 1.05;
  const cap = Math.max(...dists.map((d) => d.p99)) * 1.3;
  const yTop = Math.min(ymax, cap || ymax);
  const px = (p: number) => L + (p / 100) * (W - L - 20);
  const py = (v: number) => top + (1 - Math.min(v, yTop) / yTop) * (H - top - B);
  const lines = dists.map((d, k) => {
    const n = d.samples.length;
    const pts = d.samples.map((v, i) => `${px(n === 1 ? 50 : (i / (n - 1)) * 100).toFixed(1)},${py(v).toFixed(1)}`).join(" ");
    return `<polyline fill="none" stroke="${COLORS[k % COLORS.length]}" stroke-width="1.8" points="${pts}"><title>${esc(`${d.name}: p50 ${fmt(d.p50)} ms, p95 ${fmt(d.p95)} ms, p99 ${fmt(d.p99)} ms, max ${fmt(d.max)} ms`)}</title></polyline>`;
  });
  const legend = dists.map(
    (d, k) =>
      `<rect x="${L + k * 170}" y="20" width="10" height="10" fill="${COLORS[k % COLORS.length]}"/><text x="${L + 14 + k * 170}" y="29" font-size="11">${esc(`${d.name} (p50 ${fmt(d.p50)})`)}</text>`,
  );
  const ticks = [0, 0.25, 0.5, 0.75, 1].map(
    (f) =>
      `<text x="${L - 4}" y="${py(f * yTop) + 4}" font-size="10" text-anchor="end">${fmt(f * yTop)}</text><line x1="${L}" x2="${W - 20}" y1="${py(f * yTop)}" y2="${py(f * yTop)}" stroke="#e5e7eb"/>`,
  );
  const xt = [0, 25, 50, 75, 90, 99, 100].map((p) => `<text x="${px(p)}" y="${H - B + 14}" font-size="10" text-anchor="middle">p${p}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}"><text x="0" y="14" font-size="13" font-weight="bold">${esc(title)} (ms by percentile)</text>${ticks.join("")}${xt.join("")}${legend.join("")}<line x1="${L}" x2="${L}" y1="${top}" y2="${H - B}" stroke="#111"/><line x1="${L}" x2="${W - 20}" y1="${H - B}" y2="${H - B}" stroke="#111"/>${lines.join("")}</svg>`;
}

function suiteSection(s: SuiteResult, base?: SuiteResult): string {
  if (s.skipped) return `<section><h2>${esc(s.suite)}</h2><p class="skip">skipped: ${esc(s.skipped)}</p></section>`;
  const groups = [...new Set(s.distributions.map((d) => d.group))];
  const baseRatio = new Map(base?.ratios.map((r) => [r.name, r.median]) ?? []);
  const rows = s.figures
    .map((f) => `<tr><td>${esc(f.name)}</td><td>${f.side}</td><td>${fmt(f.median)}</td><td>${fmt(f.min)}</td><td>${fmt(f.max)}</td><td>${esc(f.unit)}</td></tr>`)
    .join("");
  const ratioRows = s.ratios
    .map(
      (r) =>
        `<tr><td>${esc(r.name)}</td><td>${fmt(r.median)}</td><td>${fmt(r.min)}</td><td>${fmt(r.max)}</td><td>${r.better}</td><td>${esc(r.goal ?? "")}</td><td class="${r.meets === false ? "miss" : ""}">${r.meets === undefined ? "" : r.meets ? "yes" : "no"}</td><td>${baseRatio.has(r.name) ? fmt(baseRatio.get(r.name) as number) : ""}</td></tr>`,
    )
    .join("");
  return `<section><h2>${esc(s.suite)} <small>${s.seconds !== undefined ? `${s.seconds.toFixed(1)} s` : ""}</small></h2>
${s.notes.map((n) => `<p class="note">${esc(n)}</p>`).join("")}
<div class="charts">${ratioChart(s.ratios)}${throughputChart(s.figures)}${groups
    .map((g) =>
      latencyChart(
        s.distributions.filter((d) => d.group === g),
        `Latency, ${g}`,
      ),
    )
    .join("")}</div>
<table><thead><tr><th>ratio</th><th>median</th><th>min</th><th>max</th><th>better</th><th>goal</th><th>meets</th><th>compared baseline</th></tr></thead><tbody>${ratioRows}</tbody></table>
<table><thead><tr><th>figure</th><th>side</th><th>median</th><th>min</th><th>max</th><th>unit</th></tr></thead><tbody>${rows}</tbody></table>
${s.checks.length ? `<table><thead><tr><th>check</th><th>value</th><th>ok</th></tr></thead><tbody>${s.checks.map((c) => `<tr><td>${esc(c.name)}</td><td>${esc(c.value.slice(0, 300))}</td><td class="${c.ok ? "" : "miss"}">${c.ok ? "yes" : "NO"}</td></tr>`).join("")}</tbody></table>` : ""}
</section>`;
}

export function renderReport(file: BenchFile, baseline?: BenchFile): string {
  const m = file.machine;
  const facts = [
    ["started", file.started_at],
    ["cpu", `${m.cpu} × ${m.cores}`],
    ["memory", `${m.memory_gb} GB`],
    ["load average", m.load_avg.join(" ")],
    ["bun", m.bun],
    ["postgres", m.postgres ?? "?"],
    ["redis", m.redis ?? "?"],
    ["trino", m.trino ?? "not running"],
    ["git", m.git_commit ?? "?"],
    ["mode", `${file.quick ? "quick (tiny sizes)" : "full"}, ${file.repeats} rounds${file.slowdown ? `, AURUM_BENCH_SLOWDOWN=${file.slowdown}` : ""}`],
  ];
  const baseOf = (name: string) => baseline?.suites.find((s) => s.suite === name);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Aurum Scenarios bench ${esc(file.started_at)}</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#111;max-width:1100px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:12px}td,th{border:1px solid #d1d5db;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}
th{background:#f3f4f6}.miss{color:#b91c1c;font-weight:bold}.skip{color:#92400e}.note{color:#374151;font-size:13px;margin:2px 0}
section{border-top:2px solid #e5e7eb;margin-top:18px}.charts svg{display:block;margin:10px 0;background:#fafafa;border:1px solid #eee}small{color:#6b7280;font-weight:normal}
</style></head><body>
<h1>Aurum Scenarios: <code>bun run bench</code></h1>
<table>${facts.map(([k, v]) => `<tr><th>${esc(k as string)}</th><td>${esc(v as string)}</td></tr>`).join("")}</table>
<p>Ratios are the project's figure over a baseline measured in the same rounds (medians of rounds); absolute figures follow the machine's load. ${baseline ? `Compared with a baseline from ${esc(baseline.started_at)}.` : ""}</p>
${file.suites.map((s) => suiteSection(s, baseOf(s.suite))).join("\n")}
</body></html>
`;
}

/** Charts drawn as inline SVG: a mid/baseline line chart with its band, and a horizontal bar chart. */
import { fmt, id, s } from "./dom";

export type Point = { label: string; month: string; mid: number; baseline: number | null; lower: number | null; upper: number | null };

/** About `count` round tick values covering [lo, hi]. */
export function ticks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((st) => (hi - lo) / st <= count) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.round(v / step) * step);
  return out;
}

const W = 760;
const H = 340;
const M = { left: 64, right: 28, top: 16, bottom: 44 };

/**
 * The band chart: `band_lower`..`band_upper` as a filled area, baseline dashed, mid solid, over
 * the contract months; a marker on the selected month. Focusable: arrow keys, Home and End move
 * the selection; a click selects the nearest month.
 */
export function bandChart(points: Point[], o: { title: string; selected: number; onSelect: (index: number) => void; desc?: string }): SVGSVGElement {
  const titleId = id("chart-title");
  const descId = id("chart-desc");
  const values = points.flatMap((p) => [p.mid, p.baseline, p.lower, p.upper]).filter((v): v is number => v !== null && Number.isFinite(v));
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (!(hi > lo)) [lo, hi] = [lo - 1, hi + 1];
  const pad = (hi - lo) * 0.04;
  const yt = ticks(lo - pad, hi + pad);
  lo = Math.min(lo - pad, yt[0] ?? lo);
  hi = Math.max(hi + pad, yt.at(-1) ?? hi);
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const x = (i: number) => M.left + (points.length === 1 ? plotW / 2 : (i / (points.length - 1)) * plotW);
  const y = (v: number) => M.top + (1 - (v - lo) / (hi - lo)) * plotH;
  const line = (pick: (p: Point) => number | null) => {
    let d = "";
    let pen = "M";
    points.forEach((p, i) => {
      const v = pick(p);
      if (v === null || !Number.isFinite(v)) {
        pen = "M";
        return;
      }
      d += `${pen}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
      pen = "L";
    });
    return d;
  };
  const banded = points.map((p, i) => ({ i, p })).filter(({ p }) => p.lower !== null && p.upper !== null);
  const bandD = banded.length
    ? `M${banded.map(({ i, p }) => `${x(i).toFixed(1)},${y(p.upper as number).toFixed(1)}`).join("L")}L${banded
        .reverse()
        .map(({ i, p }) => `${x(i).toFixed(1)},${y(p.lower as number).toFixed(1)}`)
        .join("L")}Z`
    : "";
  const first = points[0];
  const last = points.at(-1);
  const mids = points.map((p) => p.mid);
  const desc =
    o.desc ??
    `${points.length} contract months from ${first?.label} to ${last?.label}. Mid from ${fmt(Math.min(...mids), true)} to ${fmt(Math.max(...mids), true)}; ` +
      `band from ${fmt(Math.min(...points.map((p) => p.lower ?? Number.POSITIVE_INFINITY)), true)} to ${fmt(Math.max(...points.map((p) => p.upper ?? Number.NEGATIVE_INFINITY)), true)}. ` +
      "Left and right arrow keys, Home and End select a contract month; the data is also in the table below.";
  const xEvery = Math.max(1, Math.ceil(points.length / 8));
  const sel = Math.min(Math.max(o.selected, 0), points.length - 1);
  // A negative `selected` marks no month (the compare view has no month detail).
  const sp = o.selected < 0 ? undefined : points[sel];

  const svg = s(
    "svg",
    { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": `${titleId} ${descId}`, tabindex: 0, className: "chart band-chart", "data-points": points.length },
    s("title", { id: titleId }, o.title),
    s("desc", { id: descId }, desc),
    s(
      "g",
      { className: "grid", "aria-hidden": "true" },
      yt.map((v) => [s("line", { x1: M.left, x2: W - M.right, y1: y(v), y2: y(v) }), s("text", { x: M.left - 8, y: y(v) + 4, "text-anchor": "end" }, fmt(v, true))]),
      points.map((p, i) =>
        i % xEvery === 0 || i === points.length - 1
          ? s("text", { x: x(i), y: H - M.bottom + 18, "text-anchor": i === points.length - 1 && points.length > 1 ? "end" : "middle" }, p.label)
          : null,
      ),
      s("line", { className: "axis", x1: M.left, x2: W - M.right, y1: H - M.bottom, y2: H - M.bottom }),
    ),
    bandD ? s("path", { className: "band", d: bandD, "data-role": "band" }) : null,
    s("path", { className: "baseline", d: line((p) => p.baseline), "data-role": "baseline" }),
    s("path", { className: "mid", d: line((p) => p.mid), "data-role": "mid" }),
    sp
      ? s(
          "g",
          { className: "selection", "aria-hidden": "true" },
          s("line", { x1: x(sel), x2: x(sel), y1: M.top, y2: H - M.bottom }),
          s("circle", { cx: x(sel), cy: y(sp.mid), r: 4.5 }),
        )
      : null,
  );
  svg.addEventListener("keydown", (e) => {
    const next = { ArrowLeft: sel - 1, ArrowRight: sel + 1, ArrowDown: sel - 1, ArrowUp: sel + 1, Home: 0, End: points.length - 1 }[e.key];
    if (next === undefined) return;
    e.preventDefault();
    o.onSelect(Math.min(Math.max(next, 0), points.length - 1));
  });
  svg.addEventListener("click", (e) => {
    const box = svg.getBoundingClientRect();
    const vx = ((e.clientX - box.left) / box.width) * W;
    let best = 0;
    points.forEach((_, i) => {
      if (Math.abs(x(i) - vx) < Math.abs(x(best) - vx)) best = i;
    });
    o.onSelect(best);
  });
  return svg;
}

/** Horizontal bars around a zero axis, labelled with their values. */
export function barChart(items: { label: string; value: number }[], o: { title: string; desc: string }): SVGSVGElement {
  const titleId = id("bar-title");
  const descId = id("bar-desc");
  const rowH = 30;
  const height = 24 + rowH * Math.max(items.length, 1);
  const labelW = 170;
  const valueW = 110;
  const plotW = W - labelW - valueW;
  const max = Math.max(...items.map((i) => Math.abs(i.value)), 1e-12);
  const hasNeg = items.some((i) => i.value < 0);
  const hasPos = items.some((i) => i.value > 0);
  const zero = labelW + (hasNeg && hasPos ? plotW / 2 : hasNeg ? plotW : 0);
  const scale = (hasNeg && hasPos ? plotW / 2 : plotW) / max;
  return s(
    "svg",
    { viewBox: `0 0 ${W} ${height}`, role: "img", "aria-labelledby": `${titleId} ${descId}`, className: "chart bar-chart" },
    s("title", { id: titleId }, o.title),
    s("desc", { id: descId }, o.desc),
    s("line", { className: "axis", x1: zero, x2: zero, y1: 8, y2: height - 8, "aria-hidden": "true" }),
    items.map((item, i) => {
      const top = 12 + i * rowH;
      const w = Math.abs(item.value) * scale;
      const left = item.value < 0 ? zero - w : zero;
      return s(
        "g",
        { "aria-hidden": "true" },
        s("text", { x: labelW - 8, y: top + 15, "text-anchor": "end" }, item.label),
        s("rect", { className: item.value < 0 ? "bar neg" : "bar", x: left, y: top + 2, width: Math.max(w, 1), height: rowH - 10, "data-role": "bar" }),
        s("text", { x: W - 8, y: top + 15, "text-anchor": "end" }, fmt(item.value, true)),
      );
    }),
  );
}

/** Charts drawn as inline SVG: a mid/baseline line chart with its band, and a horizontal bar chart. */
import { clear, fmt, id, s } from "./dom";

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
const H = 360;
const M = { left: 84, right: 40, top: 16, bottom: 58 };
/** About how wide a tick label's character is, in viewBox units (the labels are 12 px). */
const CHAR_W = 7.2;

/** Tick indices along the x axis: evenly spaced, as many as fit without overlapping, the last one only when it has room. */
export function xTicks(labels: string[], width: number): number[] {
  const n = labels.length;
  if (n === 0) return [];
  const widest = Math.max(...labels.map((l) => l.length)) * CHAR_W + 14;
  const fit = Math.max(1, Math.floor(width / widest));
  const every = Math.max(1, Math.ceil(n / fit));
  const out: number[] = [];
  for (let i = 0; i < n; i += every) out.push(i);
  const last = out.at(-1) as number;
  if (last !== n - 1 && ((n - 1 - last) / Math.max(n - 1, 1)) * width >= widest) out.push(n - 1);
  return out;
}

export type BandChartOptions = {
  title: string;
  /** The selected point's index; negative: none (the compare view has no month detail). */
  selected: number;
  onSelect: (index: number) => void;
  desc?: string;
  /** The y axis title, e.g. "Price (USD/MWh)"; the x axis says what a point is, e.g. "Contract month". */
  yTitle?: string;
  xTitle?: string;
  /** Draw the band (default true); without it the y scale fits mid and baseline only. */
  band?: boolean;
  /** What the tooltip calls mid and baseline (default "Mid", "Baseline"). */
  names?: { mid: string; baseline: string };
  /** Called with the first and last index of a range dragged across the chart (a brush). */
  onZoom?: (from: number, to: number) => void;
};

/**
 * The band chart: `band_lower`..`band_upper` as a filled area, baseline dashed, mid solid, over
 * the contract months; axis titles; a marker on the selected month; a tooltip with the exact
 * values of the month under the pointer. Focusable: arrow keys, Home and End move the selection;
 * a click selects the nearest month; a drag across months zooms to them (`onZoom`).
 */
export function bandChart(points: Point[], o: BandChartOptions): SVGSVGElement {
  const titleId = id("chart-title");
  const descId = id("chart-desc");
  const showBand = o.band !== false;
  const names = o.names ?? { mid: "Mid", baseline: "Baseline" };
  const values = points.flatMap((p) => (showBand ? [p.mid, p.baseline, p.lower, p.upper] : [p.mid, p.baseline])).filter((v): v is number => v !== null && Number.isFinite(v));
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
  const banded = showBand ? points.map((p, i) => ({ i, p })).filter(({ p }) => p.lower !== null && p.upper !== null) : [];
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
    `${points.length} contract months from ${first?.label} to ${last?.label}. Mid from ${fmt(Math.min(...mids))} to ${fmt(Math.max(...mids))}` +
      (showBand
        ? `; band from ${fmt(Math.min(...points.map((p) => p.lower ?? Number.POSITIVE_INFINITY)))} to ${fmt(Math.max(...points.map((p) => p.upper ?? Number.NEGATIVE_INFINITY)))}. `
        : ". ") +
      "Left and right arrow keys, Home and End select a contract month; the data is also in the table below.";
  const sel = Math.min(Math.max(o.selected, 0), points.length - 1);
  const sp = o.selected < 0 ? undefined : points[sel];
  const tip = s("g", { className: "tooltip", "aria-hidden": "true", visibility: "hidden" });
  const brush = s("rect", { className: "brush", y: M.top, height: plotH, width: 0, visibility: "hidden", "aria-hidden": "true" });

  const svg = s(
    "svg",
    { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": `${titleId} ${descId}`, tabindex: 0, className: "chart band-chart", "data-points": points.length },
    s("title", { id: titleId }, o.title),
    s("desc", { id: descId }, desc),
    s(
      "g",
      { className: "grid", "aria-hidden": "true" },
      yt.map((v) => [s("line", { x1: M.left, x2: W - M.right, y1: y(v), y2: y(v) }), s("text", { x: M.left - 8, y: y(v) + 4, "text-anchor": "end" }, fmt(v, true))]),
      xTicks(
        points.map((p) => p.label),
        plotW,
      ).map((i) => s("text", { x: x(i), y: H - M.bottom + 18, "text-anchor": "middle" }, points[i]?.label)),
      s("line", { className: "axis", x1: M.left, x2: W - M.right, y1: H - M.bottom, y2: H - M.bottom }),
      o.yTitle ? s("text", { className: "axis-title", transform: `translate(16 ${M.top + plotH / 2}) rotate(-90)`, "text-anchor": "middle" }, o.yTitle) : null,
      s("text", { className: "axis-title", x: M.left + plotW / 2, y: H - 10, "text-anchor": "middle" }, o.xTitle ?? "Contract month"),
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
    brush,
    tip,
  );
  pointer(svg, points, o, { x, plotW, tip, brush, names, showBand });
  return svg;
}

/** A value as the tooltip shows it: every digit the API sent. */
const exact = (v: number | null | undefined) => (v === null || v === undefined ? "—" : String(v));

/** Geometry and parts the pointer handlers draw into. */
type PointerParts = { x: (i: number) => number; plotW: number; tip: SVGGElement; brush: SVGRectElement; names: { mid: string; baseline: string }; showBand: boolean };

/**
 * The chart's keyboard and pointer handling: arrow keys, Home and End select; hovering shows the
 * month's exact values; a click selects the nearest month; a drag across months zooms (`onZoom`).
 */
function pointer(svg: SVGSVGElement, points: Point[], o: BandChartOptions, { x, plotW, tip, brush, names, showBand }: PointerParts): void {
  const sel = Math.min(Math.max(o.selected, 0), points.length - 1);
  const nearest = (clientX: number) => {
    const box = svg.getBoundingClientRect();
    const vx = ((clientX - box.left) / box.width) * W;
    const i = points.length === 1 ? 0 : Math.round(((vx - M.left) / plotW) * (points.length - 1));
    return Math.min(Math.max(i, 0), points.length - 1);
  };
  const showTip = (i: number) => {
    const p = points[i] as Point;
    const lines = [
      p.label,
      `${names.mid}: ${exact(p.mid)}`,
      `${names.baseline}: ${exact(p.baseline)}`,
      showBand && p.lower !== null ? `Band: ${exact(p.lower)} to ${exact(p.upper)}` : null,
    ].filter((l): l is string => l !== null);
    const width = Math.max(...lines.map((l) => l.length)) * CHAR_W + 16;
    const left = x(i) + 12 + width > W ? x(i) - 12 - width : x(i) + 12;
    clear(
      tip,
      s("rect", { x: left, y: M.top + 4, width, height: 10 + lines.length * 17, rx: 4 }),
      lines.map((l, n) => s("text", { x: left + 8, y: M.top + 21 + n * 17, className: n === 0 ? "tip-head" : undefined }, l)),
      s("line", { x1: x(i), x2: x(i), y1: M.top, y2: H - M.bottom }),
    );
    tip.setAttribute("visibility", "visible");
    tip.setAttribute("data-index", String(i));
  };
  let dragFrom: number | undefined;
  svg.addEventListener("keydown", (e) => {
    const next = { ArrowLeft: sel - 1, ArrowRight: sel + 1, ArrowDown: sel - 1, ArrowUp: sel + 1, Home: 0, End: points.length - 1 }[e.key];
    if (next === undefined) return;
    e.preventDefault();
    o.onSelect(Math.min(Math.max(next, 0), points.length - 1));
  });
  svg.addEventListener("pointerdown", (e) => {
    dragFrom = nearest(e.clientX);
  });
  svg.addEventListener("pointermove", (e) => {
    const i = nearest(e.clientX);
    showTip(i);
    if (dragFrom === undefined || !o.onZoom || i === dragFrom) return;
    const [a, b] = [Math.min(dragFrom, i), Math.max(dragFrom, i)];
    brush.setAttribute("x", String(x(a)));
    brush.setAttribute("width", String(x(b) - x(a)));
    brush.setAttribute("visibility", "visible");
  });
  svg.addEventListener("pointerleave", () => tip.setAttribute("visibility", "hidden"));
  svg.addEventListener("pointerup", (e) => {
    const from = dragFrom;
    dragFrom = undefined;
    brush.setAttribute("visibility", "hidden");
    if (from === undefined) return;
    const to = nearest(e.clientX);
    // A drag across at least two months zooms; a click (or a drag within one month) selects.
    if (o.onZoom && to !== from) o.onZoom(Math.min(from, to), Math.max(from, to));
    else o.onSelect(to);
  });
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
        s("text", { x: W - 8, y: top + 15, "text-anchor": "end" }, fmt(item.value)),
      );
    }),
  );
}

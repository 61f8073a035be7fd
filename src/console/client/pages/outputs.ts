/**
 * Outputs of a run: a chosen curve's mid against the baseline with its band over contract months,
 * a tenor switch, the attribution of the selected month as bars, the latest-metrics table, and the
 * CSV download.
 */
import { allRows, api, download, qs } from "../api";
import { bandChart, barChart, type Point } from "../chart";
import { type Child, choice, clear, columnHeads, field, fmt, h, numCell, select, short } from "../dom";
import { type Assumption, driverLabel } from "../drivers";
import { type Ctx, type CurveInfo, curveInfo, curvesOf, errorBox, heading, type LatestRow, type OutputRow, type Run, type Scenario, TENOR_AXIS, tenorSwitch } from "../shell";
import { kpiSection } from "./kpi";

/** The view, all of it in the URL: run, curve, tenor, selected month, band shown, zoom (first and last month). */
type State = { runId: string; curve: string; tenor: string; month: string; band: boolean; from: string; to: string };

export function outputsPage(ctx: Ctx): void {
  const scenarioId = ctx.params[1] as string;
  const h1 = heading(ctx, "Outputs");
  const error = errorBox();
  const body = h("div", { "aria-busy": "true" }, h("p", {}, "Loading…"));
  ctx.main.append(h("p", {}, h("a", { href: `#/scenarios/${scenarioId}` }, "Back to the scenario")), error.el, body);
  const signal = ctx.signal;
  const base = `/v1/scenarios/${scenarioId}`;

  void (async () => {
    try {
      const [{ data: sc }, { data: runs }, first] = await Promise.all([
        api<Scenario>(base, { signal }),
        api<Run[]>(`${base}/runs${qs({ state: "SUCCEEDED", limit: 50 })}`, { signal }),
        api<OutputRow[]>(`${base}/outputs${qs({ limit: 1, run_id: ctx.query.get("run") ?? undefined })}`, { signal }),
      ]);
      h1.textContent = `Outputs: ${sc.name}`;
      document.title = `Outputs: ${sc.name} · Aurum Scenarios console`;
      const runId = first.meta.run_id as string | null;
      if (!runId) {
        clear(body, h("p", {}, "This scenario has no SUCCEEDED run yet. Run it from ", h("a", { href: `#/scenarios/${scenarioId}` }, "the scenario page"), "."));
        body.setAttribute("aria-busy", "false");
        return;
      }
      const q = ctx.query;
      const state: State = {
        runId,
        curve: q.get("curve") ?? "",
        tenor: q.get("tenor") ?? "MONTHLY",
        month: q.get("month") ?? "",
        band: q.get("band") !== "0",
        from: q.get("from") ?? "",
        to: q.get("to") ?? "",
      };
      if (!runs.some((r) => r.id === runId)) runs.unshift({ id: runId } as Run);
      await render(ctx, body, base, sc, runs, state);
      body.setAttribute("aria-busy", "false");
    } catch (err) {
      if (signal.aborted) return;
      clear(body);
      error.show(err);
    }
  })();
}

async function render(ctx: Ctx, body: HTMLElement, base: string, sc: Scenario, runs: Run[], state: State): Promise<void> {
  const signal = ctx.signal;
  let curves = await curvesOf(base, state.runId, signal);
  if (!state.curve || !curves.includes(state.curve)) state.curve = curves[0] ?? "";
  const remember = () =>
    history.replaceState(
      null,
      "",
      `#/scenarios/${sc.id}/outputs${qs({ run: state.runId, curve: state.curve, tenor: state.tenor, month: state.month, band: state.band ? undefined : 0, from: state.from, to: state.to })}`,
    );

  const runSelect = field(
    "Run",
    select(
      "run",
      runs.map((r, i) => [r.id, `${short(r.id)}${r.finished_at ? ` · finished ${r.finished_at.slice(0, 19).replace("T", " ")}Z` : ""}${i === 0 ? " (latest)" : ""}`]),
      state.runId,
    ),
  );
  const curveSelect = choice("Curve", "curve", curves, state.curve);
  const tenorSet = tenorSwitch(state.tenor, "tenor");
  const controls = h("form", { className: "card controls", "aria-label": "Chart options" }, runSelect.wrap, curveSelect.wrap, tenorSet);
  controls.addEventListener("submit", (e) => e.preventDefault());

  const chartArea = h("div", { className: "chart-area", "aria-live": "off" });
  /** The chart's title: the curve, where and what it is, the tenor and the unit. */
  const chartHeading = h("h2", { id: "chart-h" }, "Mid against baseline");
  const latestArea = h("div", {});
  const downloadArea = downloadSection(base, sc, state);
  const assumptionsOf = (runId: string) => runs.find((r) => r.id === runId)?.inputs?.assumptions as Assumption[] | undefined;
  /** The run summary, replaced when another run is chosen. */
  const summary = h("div", {}, kpiSection(ctx, base, state.runId, assumptionsOf(state.runId)));
  clear(
    body,
    controls,
    h("section", { "aria-labelledby": "chart-h" }, chartHeading, chartArea),
    summary,
    h("section", { "aria-labelledby": "latest-h" }, h("h2", { id: "latest-h" }, "Latest metrics"), latestArea),
    downloadArea,
  );

  let generation = 0;
  async function refresh(): Promise<void> {
    const mine = ++generation;
    remember();
    chartArea.setAttribute("aria-busy", "true");
    clear(chartArea, h("p", {}, "Loading…"));
    const params = { run_id: state.runId, curve_key: state.curve, tenor_type: state.tenor, limit: 1000 };
    const [[mid, baseline, uplift], curve] = await Promise.all([
      Promise.all(["mid", "baseline", "uplift"].map((metric) => allRows<OutputRow>(`${base}/outputs`, { ...params, metric }, signal).then((r) => r.rows))),
      curveInfo(state.curve, signal),
    ]);
    if (mine !== generation) return;
    const assumptions = assumptionsOf(state.runId);
    chartHeading.textContent = chartTitle(state, curve);
    drawChart(chartArea, state, { mid: mid ?? [], baseline: baseline ?? [], uplift: uplift ?? [], assumptions, curve }, remember);
    chartArea.setAttribute("aria-busy", "false");
    void latestTable(latestArea, base, state, signal);
  }

  runSelect.control.addEventListener("change", async () => {
    state.runId = runSelect.control.value;
    summary.replaceChildren(kpiSection(ctx, base, state.runId, assumptionsOf(state.runId)));
    curves = await curvesOf(base, state.runId, signal);
    if (!curves.includes(state.curve)) state.curve = curves[0] ?? "";
    void refresh().catch((err) => showError(chartArea, err));
  });
  curveSelect.control.addEventListener("change", () => {
    state.curve = curveSelect.control.value;
    state.from = "";
    state.to = "";
    void refresh().catch((err) => showError(chartArea, err));
  });
  tenorSet.addEventListener("change", (e) => {
    state.tenor = (e.target as HTMLInputElement).value;
    state.month = "";
    state.from = "";
    state.to = "";
    void refresh().catch((err) => showError(chartArea, err));
  });
  await refresh();
}

function showError(area: HTMLElement, err: unknown): void {
  const box = errorBox();
  box.show(err);
  clear(area, box.el);
}

/** The selected month: its mid, baseline, band and uplift, and the uplift's attribution by driver as bars. */
function monthDetail(state: State, p: Point, row: OutputRow | undefined, assumptions: Assumption[] | undefined, unit: string): Element[] {
  const value = (v: number | null | undefined) =>
    h("span", { title: v === null || v === undefined ? null : String(v) }, `${fmt(v)}${unit && v !== null && v !== undefined ? ` ${unit}` : ""}`);
  const items = Object.entries(row?.attribution ?? {})
    .map(([key, value]) => ({ label: driverLabel(key, assumptions), value: Number(value) }))
    .filter((it) => Number.isFinite(it.value))
    .sort((a, b) => Math.abs(b.value) - Math.abs(a.value));
  return [
    h("h3", {}, `${p.label}`),
    h(
      "dl",
      { className: "facts" },
      [
        ["Mid", value(p.mid)],
        ["Baseline", value(p.baseline)],
        ["Band", [value(p.lower), " to ", value(p.upper)]],
        ["Uplift", value(row?.value)],
      ].map(([k, v]) => [h("dt", {}, k as string), h("dd", {}, v as Child)]),
    ),
    h("h4", {}, "Attribution of the uplift"),
    items.length
      ? barChart(items, {
          title: `Attribution of the uplift of ${state.curve} in ${p.label}`,
          desc: items.map((it) => `${it.label}: ${fmt(it.value)}`).join("; "),
        })
      : h("p", {}, "No driver contributes to this month's uplift."),
  ];
}

/** The chart's points as a table, folded under a summary (what a screen reader or a copy-paste reads). */
function chartData(state: State, points: Point[]): HTMLElement {
  return h(
    "details",
    {},
    h("summary", {}, "Chart data as a table"),
    h(
      "table",
      {},
      h("caption", {}, `${state.curve}, ${state.tenor.toLowerCase()}`),
      columnHeads(["Contract", "Mid", "Baseline", "Band lower", "Band upper"]),
      h(
        "tbody",
        {},
        points.map((p) => h("tr", {}, h("th", { scope: "row" }, p.label), [p.mid, p.baseline, p.lower, p.upper].map(numCell))),
      ),
    ),
  );
}

/** The run's rows of the curve and tenor, its assumptions (what attribution keys name) and the curve's identity. */
type ChartData = { mid: OutputRow[]; baseline: OutputRow[]; uplift: OutputRow[]; assumptions: Assumption[] | undefined; curve: CurveInfo | undefined };

/** "PJM_WEST_ON_PEAK: PJM West Hub, ON_PEAK, monthly (USD/MWh)". */
function chartTitle(state: State, curve: CurveInfo | undefined): string {
  const what = curve ? `${curve.location}, ${curve.block}, ` : "";
  return `${state.curve}: ${what}${state.tenor.toLowerCase()}${curve ? ` (${curve.unit})` : ""}`;
}

function drawChart(area: HTMLElement, state: State, { mid, baseline, uplift, assumptions, curve }: ChartData, remember: () => void): void {
  if (!mid.length) {
    clear(area, h("p", {}, `No ${state.tenor.toLowerCase()} rows for ${state.curve} in this run.`));
    return;
  }
  const baseBy = new Map(baseline.map((r) => [r.contract_month, r.value]));
  const attrBy = new Map(uplift.map((r) => [r.contract_month, r]));
  const points: Point[] = mid.map((r) => ({
    label: r.tenor_label,
    month: r.contract_month,
    mid: r.value,
    baseline: baseBy.get(r.contract_month) ?? null,
    lower: r.band_lower,
    upper: r.band_upper,
  }));
  const indexOf = (month: string, fallback: number) => {
    const i = points.findIndex((p) => p.month === month);
    return i < 0 ? fallback : i;
  };
  let selected = indexOf(state.month, 0);
  const options = points.map((p): [string, string] => [p.month, p.label]);
  const monthSelect = field("Contract month", select("month", options, points[selected]?.month ?? ""), "Or focus the chart and use the arrow keys.");
  const fromSelect = field("From", select("from", options, ""));
  const toSelect = field("To", select("to", options, ""));
  const bandBox = h("input", { type: "checkbox", id: "show-band", name: "band", checked: state.band });
  const reset = h("button", { type: "button", className: "secondary" }, "Show all months");
  const view = h(
    "fieldset",
    { className: "chart-view" },
    h("legend", {}, "View"),
    fromSelect.wrap,
    toSelect.wrap,
    h("div", { className: "actions" }, reset),
    h("div", { className: "radio" }, bandBox, h("label", { for: "show-band" }, "Show the band")),
    h("p", { className: "hint" }, "Or drag across the chart to zoom to those months."),
  );
  const chartSlot = h("div", { className: "chart-slot" });
  const detail = h("div", { className: "month-detail", "aria-live": "polite" });
  const legend = h("ul", { className: "legend", "aria-label": "Legend" });

  /** The zoom as indices, from the state's first and last month (all months when unset). */
  const zoom = () => {
    const a = indexOf(state.from, 0);
    const b = indexOf(state.to, points.length - 1);
    return a <= b ? [a, b] : [b, a];
  };
  const draw = (focusChart: boolean) => {
    const [a, b] = zoom() as [number, number];
    if (selected < a || selected > b) selected = a;
    const p = points[selected] as Point;
    state.month = p.month;
    remember();
    monthSelect.control.value = p.month;
    fromSelect.control.value = points[a]?.month ?? "";
    toSelect.control.value = points[b]?.month ?? "";
    reset.disabled = a === 0 && b === points.length - 1;
    clear(
      legend,
      h("li", {}, h("span", { className: "swatch mid", "aria-hidden": "true" }), "Mid (scenario)"),
      h("li", {}, h("span", { className: "swatch baseline", "aria-hidden": "true" }), "Baseline (dashed)"),
      state.band ? h("li", {}, h("span", { className: "swatch band", "aria-hidden": "true" }), "Band (band_lower to band_upper)") : null,
    );
    const chart = bandChart(points.slice(a, b + 1), {
      title: `${chartTitle(state, curve)}: mid against baseline${state.band ? " with its band" : ""}${a > 0 || b < points.length - 1 ? `, ${points[a]?.label} to ${points[b]?.label}` : ""}`,
      selected: selected - a,
      onSelect: (n) => select_(a + n, true),
      onZoom: (from, to) => setZoom(a + from, a + to),
      yTitle: curve ? `Price (${curve.unit})` : "Price",
      xTitle: TENOR_AXIS[state.tenor],
      band: state.band,
    });
    chartSlot.replaceChildren(chart);
    if (focusChart) chart.focus();
    clear(detail, ...monthDetail(state, p, attrBy.get(p.month), assumptions, curve?.unit ?? ""));
  };
  const select_ = (i: number, focusChart: boolean) => {
    selected = i;
    draw(focusChart);
  };
  const setZoom = (a: number, b: number) => {
    const all = a <= 0 && b >= points.length - 1;
    state.from = all ? "" : (points[a]?.month ?? "");
    state.to = all ? "" : (points[b]?.month ?? "");
    draw(false);
  };
  monthSelect.control.addEventListener("change", () => select_(indexOf(monthSelect.control.value, 0), false));
  fromSelect.control.addEventListener("change", () => setZoom(indexOf(fromSelect.control.value, 0), zoom()[1] as number));
  toSelect.control.addEventListener("change", () => setZoom(zoom()[0] as number, indexOf(toSelect.control.value, points.length - 1)));
  reset.addEventListener("click", () => {
    setZoom(0, points.length - 1);
    fromSelect.control.focus();
  });
  bandBox.addEventListener("change", () => {
    state.band = bandBox.checked;
    draw(false);
  });

  clear(area, h("div", { className: "controls" }, monthSelect.wrap, view), h("figure", {}, chartSlot, h("figcaption", {}, legend)), detail, chartData(state, points));
  draw(false);
}

const METRICS = ["", "mid", "baseline", "uplift", "policy_uplift", "NPV", "rec_cost", "npv_per_bp", "mid_per_gas"];
let latestMetric = "";

async function latestTable(area: HTMLElement, base: string, state: State, signal: AbortSignal, cursor?: string, trail: string[] = []): Promise<void> {
  try {
    const { data, meta } = await api<LatestRow[]>(`${base}/metrics/latest${qs({ curve_key: state.curve, tenor_type: state.tenor, metric: latestMetric, limit: 50, cursor })}`, {
      signal,
    });
    const next = meta.next_cursor ?? null;
    const metric = field(
      "Metric",
      select(
        "latest-metric",
        METRICS.map((m) => [m, m || "All metrics"]),
        latestMetric,
      ),
    );
    metric.control.addEventListener("change", () => {
      latestMetric = metric.control.value;
      void latestTable(area, base, state, signal).then(() => (area.querySelector("select") as HTMLSelectElement | null)?.focus());
    });
    clear(
      area,
      h("div", { className: "filters inline" }, metric.wrap),
      h(
        "table",
        {},
        h("caption", {}, `Latest value per metric and contract for ${state.curve}, ${state.tenor.toLowerCase()} (page ${trail.length + 1})`),
        columnHeads(["Contract", "Metric", "Value", "Band lower", "Band upper", "As of", "Run"]),
        h(
          "tbody",
          {},
          data.map((r) =>
            h(
              "tr",
              {},
              h("th", { scope: "row" }, r.tenor_label),
              h("td", {}, r.metric),
              [r.value, r.band_lower, r.band_upper].map(numCell),
              h("td", {}, r.asof_date),
              h("td", {}, h("code", { title: r.run_id }, short(r.run_id))),
            ),
          ),
        ),
      ),
      h(
        "nav",
        { className: "pager", "aria-label": "Latest metrics pages" },
        h(
          "button",
          {
            type: "button",
            className: "secondary",
            disabled: trail.length === 0,
            onClick: () => {
              const prev = trail.slice(0, -1);
              void latestTable(area, base, state, signal, trail.at(-1) || undefined, prev);
            },
          },
          "Previous metrics",
        ),
        h(
          "button",
          { type: "button", className: "secondary", disabled: !next, onClick: () => void latestTable(area, base, state, signal, next ?? undefined, [...trail, cursor ?? ""]) },
          "Next metrics",
        ),
      ),
    );
  } catch (err) {
    if (!signal.aborted) showError(area, err);
  }
}

function downloadSection(base: string, sc: Scenario, state: State): HTMLElement {
  const only = h("input", { type: "checkbox", id: "csv-only", name: "only" });
  const status = h("p", { className: "result", role: "status" });
  const button = h("button", { type: "button" }, "Download CSV");
  button.addEventListener("click", async () => {
    status.textContent = "Preparing the download…";
    button.disabled = true;
    try {
      const filter = only.checked ? { curve_key: state.curve, tenor_type: state.tenor } : {};
      const { blob, filename } = await download(`${base}/outputs${qs({ format: "csv", run_id: state.runId, ...filter })}`, `scenario-${sc.id}-outputs.csv`);
      const url = URL.createObjectURL(blob);
      const a = h("a", { href: url, download: filename, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      status.textContent = `Downloaded ${filename} (${blob.size.toLocaleString()} bytes).`;
    } catch (err) {
      status.textContent = `The download failed: ${(err as Error).message}`;
    } finally {
      button.disabled = false;
    }
  });
  return h(
    "section",
    { "aria-labelledby": "csv-h" },
    h("h2", { id: "csv-h" }, "Download"),
    h("p", {}, "Every row of the run shown above as CSV (the API's format=csv)."),
    h("div", { className: "radio" }, only, h("label", { for: "csv-only" }, "Only the selected curve and tenor")),
    h("div", { className: "actions" }, button),
    status,
  );
}

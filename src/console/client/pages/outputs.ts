/**
 * Outputs of a run: a chosen curve's mid against the baseline with its band over contract months,
 * a tenor switch, the attribution of the selected month as bars, the latest-metrics table, and the
 * CSV download.
 */
import { allRows, api, download, qs } from "../api";
import { bandChart, barChart, type Point } from "../chart";
import { choice, clear, columnHeads, field, fmt, h, select, short } from "../dom";
import { type Assumption, driverLabel } from "../drivers";
import { type Ctx, curvesOf, errorBox, heading, type LatestRow, type OutputRow, type Run, type Scenario, tenorSwitch } from "../shell";

type State = { runId: string; curve: string; tenor: string; month: string };

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
      const state: State = { runId, curve: ctx.query.get("curve") ?? "", tenor: ctx.query.get("tenor") ?? "MONTHLY", month: ctx.query.get("month") ?? "" };
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
  const remember = () => history.replaceState(null, "", `#/scenarios/${sc.id}/outputs${qs({ run: state.runId, curve: state.curve, tenor: state.tenor, month: state.month })}`);

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
  const latestArea = h("div", {});
  const downloadArea = downloadSection(base, sc, state);
  clear(
    body,
    controls,
    h("section", { "aria-labelledby": "chart-h" }, h("h2", { id: "chart-h" }, "Mid against baseline"), chartArea),
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
    const [mid, baseline, uplift] = await Promise.all(
      ["mid", "baseline", "uplift"].map((metric) => allRows<OutputRow>(`${base}/outputs`, { ...params, metric }, signal).then((r) => r.rows)),
    );
    if (mine !== generation) return;
    const assumptions = runs.find((r) => r.id === state.runId)?.inputs?.assumptions as Assumption[] | undefined;
    drawChart(chartArea, state, { mid: mid ?? [], baseline: baseline ?? [], uplift: uplift ?? [], assumptions }, remember);
    chartArea.setAttribute("aria-busy", "false");
    void latestTable(latestArea, base, state, signal);
  }

  runSelect.control.addEventListener("change", async () => {
    state.runId = runSelect.control.value;
    curves = await curvesOf(base, state.runId, signal);
    if (!curves.includes(state.curve)) state.curve = curves[0] ?? "";
    void refresh().catch((err) => showError(chartArea, err));
  });
  curveSelect.control.addEventListener("change", () => {
    state.curve = curveSelect.control.value;
    void refresh().catch((err) => showError(chartArea, err));
  });
  tenorSet.addEventListener("change", (e) => {
    state.tenor = (e.target as HTMLInputElement).value;
    state.month = "";
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
function monthDetail(state: State, p: Point, row: OutputRow | undefined, assumptions: Assumption[] | undefined): Element[] {
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
        ["Mid", fmt(p.mid)],
        ["Baseline", fmt(p.baseline)],
        ["Band", `${fmt(p.lower)} to ${fmt(p.upper)}`],
        ["Uplift", fmt(row?.value)],
      ].map(([k, v]) => [h("dt", {}, k as string), h("dd", {}, v as string)]),
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
        points.map((p) =>
          h(
            "tr",
            {},
            h("th", { scope: "row" }, p.label),
            [p.mid, p.baseline, p.lower, p.upper].map((v) => h("td", { className: "num" }, fmt(v))),
          ),
        ),
      ),
    ),
  );
}

/** The run's rows of the curve and tenor, and its assumptions (what attribution keys name). */
type ChartData = { mid: OutputRow[]; baseline: OutputRow[]; uplift: OutputRow[]; assumptions: Assumption[] | undefined };

function drawChart(area: HTMLElement, state: State, { mid, baseline, uplift, assumptions }: ChartData, remember: () => void): void {
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
  let selected = Math.max(
    0,
    points.findIndex((p) => p.month === state.month),
  );
  const monthSelect = field(
    "Contract month",
    select(
      "month",
      points.map((p) => [p.month, p.label]),
      points[selected]?.month ?? "",
    ),
    "Or focus the chart and use the arrow keys.",
  );
  const chartSlot = h("div", { className: "chart-slot" });
  const detail = h("div", { className: "month-detail", "aria-live": "polite" });
  const legend = h(
    "ul",
    { className: "legend", "aria-label": "Legend" },
    h("li", {}, h("span", { className: "swatch mid", "aria-hidden": "true" }), "Mid (scenario)"),
    h("li", {}, h("span", { className: "swatch baseline", "aria-hidden": "true" }), "Baseline (dashed)"),
    h("li", {}, h("span", { className: "swatch band", "aria-hidden": "true" }), "Band (band_lower to band_upper)"),
  );

  const select_ = (i: number, focusChart: boolean) => {
    selected = i;
    const p = points[i] as Point;
    state.month = p.month;
    remember();
    monthSelect.control.value = p.month;
    const chart = bandChart(points, { title: `${state.curve}, ${state.tenor.toLowerCase()}: mid against baseline with its band`, selected: i, onSelect: (n) => select_(n, true) });
    chartSlot.replaceChildren(chart);
    if (focusChart) chart.focus();
    clear(detail, ...monthDetail(state, p, attrBy.get(p.month), assumptions));
  };
  monthSelect.control.addEventListener("change", () =>
    select_(
      Math.max(
        0,
        points.findIndex((p) => p.month === monthSelect.control.value),
      ),
      false,
    ),
  );

  clear(area, monthSelect.wrap, h("figure", {}, chartSlot, h("figcaption", {}, legend)), detail, chartData(state, points));
  select_(selected, false);
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
              [r.value, r.band_lower, r.band_upper].map((v) => h("td", { className: "num" }, fmt(v))),
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
      status.textContent = `Downloaded ${filename} (${fmt(blob.size)} bytes).`;
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

/**
 * A scenario compared with its no-driver baseline, with another scenario, or with itself run
 * against run (`GET /v1/scenarios/{id}/compare`, docs/compare.md): run a and run b, one curve,
 * tenor and metric, side a solid and side b dashed over contract months, small multiples of the
 * other curves of the curve's market, then the deltas as a table. Every choice is in the URL
 * (`#/scenarios/{id}/compare?with=&run=&with_run=&curve=&tenor=&metric=`), so a link reopens the same view.
 */

import type { CompareRow } from "../../../outputs/row";
import { allRows, api, qs } from "../api";
import { bandChart, type Point } from "../chart";
import { choice, clear, columnHeads, field, fmt, h, numCell, select, short } from "../dom";
import { type Ctx, curveInfo, curvesOf, errorBox, heading, type Run, type Scenario, TENOR_AXIS, tenorSwitch } from "../shell";

type State = { with: string; run: string; withRun: string; curve: string; tenor: string; metric: string };

const METRICS = ["mid", "baseline", "uplift", "policy_uplift", "NPV"];
/** At most this many small multiples under the main chart. */
const MAX_MULTIPLES = 8;
/** What a chart's tooltip calls its solid and dashed line. */
const SIDES = { mid: "a", baseline: "b" };
const pct = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 2, signDisplay: "exceptZero" });

/** A scenario's SUCCEEDED runs, the one that finished last first (the API's default run). */
async function succeededRuns(scenarioId: string, signal: AbortSignal): Promise<Run[]> {
  const { data } = await api<Run[]>(`/v1/scenarios/${scenarioId}/runs${qs({ state: "SUCCEEDED", limit: 100 })}`, { signal });
  return data.sort((x, y) => (y.finished_at ?? "").localeCompare(x.finished_at ?? "") || y.created_at.localeCompare(x.created_at));
}

/** Options of a run select: short id and finish time, "(latest)" on the first; an unknown `keep` id is listed too, so the API names it. */
function runOptions(runs: Run[], keep: string): [string, string][] {
  const options = runs.map((r, i): [string, string] => [
    r.id,
    `${short(r.id)}${r.finished_at ? ` · finished ${r.finished_at.slice(0, 19).replace("T", " ")}Z` : ""}${i === 0 ? " (latest)" : ""}`,
  ]);
  if (keep && !runs.some((r) => r.id === keep)) options.unshift([keep, `${short(keep)} (from the link)`]);
  return options.length ? options : [["", "no SUCCEEDED run"]];
}

/** Replaces a select's options and sets its value. */
function setOptions(control: HTMLSelectElement, options: [string, string][], value: string): void {
  clear(
    control,
    options.map(([v, l]) => h("option", { value: v }, l)),
  );
  control.value = value;
}

/** The page: loads the scenario, the scenarios to compare with and this scenario's runs, then renders the view of the URL. */
export function comparePage(ctx: Ctx): void {
  const scenarioId = ctx.params[1] as string;
  const base = `/v1/scenarios/${scenarioId}`;
  const h1 = heading(ctx, "Compare");
  const error = errorBox();
  const body = h("div", { "aria-busy": "true" }, h("p", {}, "Loading…"));
  ctx.main.append(h("p", {}, h("a", { href: `#/scenarios/${scenarioId}` }, "Back to the scenario")), error.el, body);
  const { signal } = ctx;
  const q = ctx.query;
  const state: State = {
    with: q.get("with") ?? "baseline",
    run: q.get("run") ?? "",
    withRun: q.get("with_run") ?? "",
    curve: q.get("curve") ?? "",
    tenor: q.get("tenor") ?? "MONTHLY",
    metric: q.get("metric") ?? "mid",
  };

  void (async () => {
    try {
      const [{ data: sc }, { data: others }, runs] = await Promise.all([
        api<Scenario>(base, { signal }),
        api<Scenario[]>(`/v1/scenarios${qs({ limit: 100 })}`, { signal }),
        succeededRuns(scenarioId, signal),
      ]);
      h1.textContent = `Compare: ${sc.name}`;
      document.title = `Compare: ${sc.name} · Aurum Scenarios console`;
      if (!runs.length) {
        clear(body, h("p", {}, "This scenario has no SUCCEEDED run yet. Run it from ", h("a", { href: `#/scenarios/${scenarioId}` }, "the scenario page"), "."));
        body.setAttribute("aria-busy", "false");
        return;
      }
      state.run ||= (runs[0] as Run).id;
      // A run a the API refuses (a wrong id in a link) still gets the page: /compare then names it in the alert.
      const curves = await curvesOf(base, state.run, signal).catch(() => curvesOf(base, undefined, signal));
      if (!curves.includes(state.curve)) state.curve = curves[0] ?? "";
      const sides: [string, string][] = [
        ["baseline", "Its no-driver baseline"],
        [sc.id, "This scenario itself (run against run)"],
        ...others.filter((o) => o.id !== sc.id).map((o): [string, string] => [o.id, `${o.name} (${short(o.id)})`]),
      ];
      await render(ctx, body, base, sc, sides, runs, curves, state);
      body.setAttribute("aria-busy", "false");
    } catch (err) {
      if (signal.aborted) return;
      clear(body);
      error.show(err);
    }
  })();
}

/** The controls (side b, runs a and b, curve, metric, tenor) and the comparison, redrawn on every change. */
async function render(ctx: Ctx, body: HTMLElement, base: string, sc: Scenario, sides: [string, string][], runs: Run[], curves: string[], state: State): Promise<void> {
  const { signal } = ctx;
  const withSelect = field("Compare with", select("with", sides, state.with));
  const runA = field("Run a", select("run", runOptions(runs, state.run), state.run), "This scenario's run.");
  const runB = field("Run b", select("with_run", [], ""), "The run of the scenario compared with.");
  const curveSelect = choice("Curve", "curve", curves, state.curve);
  const metricSelect = choice("Metric", "metric", METRICS, state.metric);
  const tenorSet = tenorSwitch(state.tenor, "ctenor");
  const controls = h(
    "form",
    { className: "card controls", "aria-label": "Comparison options" },
    withSelect.wrap,
    runA.wrap,
    runB.wrap,
    curveSelect.wrap,
    metricSelect.wrap,
    tenorSet,
  );
  controls.addEventListener("submit", (e) => e.preventDefault());
  const area = h("div", { className: "chart-area" });
  clear(body, controls, h("section", { "aria-labelledby": "compare-h" }, h("h2", { id: "compare-h" }, "Side a against side b"), area));

  const sideName = () => sides.find(([v]) => v === state.with)?.[1] ?? state.with;
  let generation = 0;
  async function refresh(): Promise<void> {
    const mine = ++generation;
    const withRun = state.with.toLowerCase() === "baseline" ? undefined : state.withRun || undefined;
    history.replaceState(
      null,
      "",
      `#/scenarios/${sc.id}/compare${qs({ with: state.with, run: state.run, with_run: withRun, curve: state.curve, tenor: state.tenor, metric: state.metric })}`,
    );
    area.setAttribute("aria-busy", "true");
    clear(area, h("p", {}, "Loading…"));
    try {
      const params = { with: state.with, run_id: state.run, with_run_id: withRun, tenor_type: state.tenor, metric: state.metric, limit: 1000 };
      const { rows, meta } = await allRows<CompareRow>(`${base}/compare`, { ...params, curve_key: state.curve }, signal);
      if (mine !== generation) return;
      const names = {
        a: `${sc.name}, run ${short(String(meta.run_id ?? ""))}`,
        b: meta.with_run_id ? `${sideName()}, run ${short(String(meta.with_run_id))}` : sideName(),
      };
      const multiples = h("div", { className: "multiples-area", "aria-busy": "true" });
      draw(area, state, rows, names, multiples);
      const rowsOf = (curve: string) => allRows<CompareRow>(`${base}/compare`, { ...params, curve_key: curve }, signal).then((r) => r.rows);
      void smallMultiples(multiples, state, curves, names, rowsOf, signal)
        .catch((err) => showError(multiples, err, signal))
        .finally(() => multiples.setAttribute("aria-busy", "false"));
    } catch (err) {
      if (mine === generation) showError(area, err, signal);
    }
    area.setAttribute("aria-busy", "false");
  }
  const later = (f: () => Promise<void>) => () =>
    void f()
      .then(refresh)
      .catch((err) => showError(area, err, signal));
  withSelect.control.addEventListener(
    "change",
    later(async () => {
      state.with = withSelect.control.value;
      state.withRun = "";
      await loadRunB(state, sc.id, runs, runB, signal);
    }),
  );
  runA.control.addEventListener(
    "change",
    later(async () => {
      state.run = runA.control.value;
      curves = await curvesOf(base, state.run, signal);
      if (!curves.includes(state.curve)) state.curve = curves[0] ?? "";
      setOptions(
        curveSelect.control,
        curves.map((c) => [c, c]),
        state.curve,
      );
    }),
  );
  for (const [control, key] of [
    [runB.control, "withRun"],
    [curveSelect.control, "curve"],
    [metricSelect.control, "metric"],
  ] as const) {
    control.addEventListener("change", () => {
      state[key] = control.value;
      void refresh();
    });
  }
  tenorSet.addEventListener("change", (e) => {
    state.tenor = (e.target as HTMLInputElement).value;
    void refresh();
  });
  await loadRunB(state, sc.id, runs, runB, signal);
  void refresh();
}

/** The API's error in an alert in place of `el`'s content (nothing once the page is left). */
function showError(el: HTMLElement, err: unknown, signal: AbortSignal): void {
  if (signal.aborted) return;
  const box = errorBox();
  box.show(err);
  clear(el, box.el);
}

/**
 * Run b's choices for the `with` side: none for the baseline (hidden), this scenario's `runs`
 * (default: the one before run a), or the other scenario's SUCCEEDED runs (default: its latest).
 */
async function loadRunB(state: State, scenarioId: string, runs: Run[], runB: { wrap: HTMLElement; control: HTMLSelectElement }, signal: AbortSignal): Promise<void> {
  const baseline = state.with.toLowerCase() === "baseline";
  runB.wrap.hidden = baseline;
  runB.control.disabled = baseline;
  if (baseline) {
    state.withRun = "";
    return;
  }
  const self = state.with === scenarioId;
  const bRuns = self ? runs : await succeededRuns(state.with, signal);
  if (!state.withRun) state.withRun = (self ? bRuns[bRuns.findIndex((r) => r.id === state.run) + 1] : undefined)?.id ?? bRuns[0]?.id ?? "";
  setOptions(runB.control, runOptions(bRuns, state.withRun), state.withRun);
}

/** Compare rows as chart points: a as the solid line, b as the dashed one. */
const toPoints = (rows: CompareRow[]): Point[] =>
  rows.filter((r) => r.a !== null).map((r) => ({ label: r.tenor_label, month: r.contract_month, mid: r.a as number, baseline: r.b, lower: null, upper: null }));

/** The chart's text description: the months, which line is which, and the range of the deltas. */
function describeDeltas(points: Point[], rows: CompareRow[], names: { a: string; b: string }): string {
  const deltas = rows.map((r) => r.delta).filter((d): d is number => d !== null);
  return (
    `${points.length} contract months from ${points[0]?.label} to ${points.at(-1)?.label}. Solid: ${names.a}. Dashed: ${names.b}. ` +
    (deltas.length ? `Delta (a − b) from ${fmt(Math.min(...deltas))} to ${fmt(Math.max(...deltas))}.` : "")
  );
}

/** Side a (solid) and side b (dashed) over the contract months, the `multiples` slot, then each month's delta in a table. */
function draw(area: HTMLElement, state: State, rows: CompareRow[], names: { a: string; b: string }, multiples: HTMLElement): void {
  const shown = rows.filter((r) => r.a !== null);
  if (!shown.length) {
    clear(area, h("p", {}, `No ${state.metric} rows for ${state.curve} (${state.tenor.toLowerCase()}) in this scenario's run.`));
    return;
  }
  const points = toPoints(shown);
  const desc = `${describeDeltas(points, shown, names)} The deltas are in the table below.`;
  const chart = bandChart(points, {
    title: `${state.curve} ${state.metric}, ${state.tenor.toLowerCase()}: a against b`,
    selected: -1,
    onSelect: () => {},
    desc,
    names: SIDES,
    xTitle: TENOR_AXIS[state.tenor],
    yTitle: state.metric,
  });
  chart.classList.add("compare-chart");
  // The delta itself over the months, against a dashed zero line.
  const withDelta = shown.filter((r) => r.delta !== null);
  const deltaChart = withDelta.length
    ? bandChart(
        withDelta.map((r) => ({ label: r.tenor_label, month: r.contract_month, mid: r.delta as number, baseline: 0, lower: null, upper: null })),
        {
          title: `${state.curve} ${state.metric}, ${state.tenor.toLowerCase()}: delta a − b`,
          selected: -1,
          onSelect: () => {},
          desc: `${describeDeltas(points, shown, names)} Solid: the delta; dashed: zero.`,
          names: { mid: "Delta", baseline: "Zero" },
          xTitle: TENOR_AXIS[state.tenor],
          yTitle: `Delta (${state.metric})`,
        },
      )
    : null;
  deltaChart?.classList.add("delta-chart");
  clear(
    area,
    chart,
    h("p", { className: "legend" }, `Solid: ${names.a}. Dashed: ${names.b}.`),
    deltaChart ? h("figure", {}, deltaChart, h("figcaption", { className: "legend" }, "The delta a − b (solid) against zero (dashed).")) : null,
    multiples,
    h(
      "table",
      { className: "deltas" },
      h("caption", {}, `${state.curve} ${state.metric}, ${state.tenor.toLowerCase()}: delta = a − b`),
      columnHeads(["Contract", "a", "b", "Delta", "Delta %"]),
      h(
        "tbody",
        {},
        shown.map((r) =>
          h(
            "tr",
            { "data-month": r.contract_month },
            h("th", { scope: "row" }, r.tenor_label),
            numCell(r.a),
            numCell(r.b),
            numCell(r.delta),
            h("td", { className: "num", "data-value": r.delta_pct }, r.delta_pct === null ? "—" : pct.format(r.delta_pct)),
          ),
        ),
      ),
    ),
  );
}

/**
 * The curves of the selected curve's market among run a's `curves` (the market from /v1/curves; the
 * key's prefix before `_` if the store no longer lists the curve), the selected one always among them.
 */
async function sameMarket(curve: string, curves: string[], signal: AbortSignal): Promise<{ market: string; keys: string[] }> {
  let market: string;
  let members: (k: string) => boolean;
  try {
    const info = await curveInfo(curve, signal);
    if (!info) throw new Error(`curve ${curve} is not in the curve store`);
    market = info.market;
    const { rows } = await allRows<{ curve_key: string }>("/v1/curves", { market, limit: 200 }, signal, 10);
    const inMarket = new Set(rows.map((r) => r.curve_key));
    members = (k) => inMarket.has(k);
  } catch (err) {
    if (signal.aborted) throw err;
    market = curve.split("_")[0] as string;
    members = (k) => k.split("_")[0] === market;
  }
  return { market, keys: curves.filter((k) => k === curve || members(k)) };
}

/** One small chart per curve of the selected curve's market (at most MAX_MULTIPLES), same metric and tenor, a against b; not focusable. */
async function smallMultiples(
  slot: HTMLElement,
  state: State,
  curves: string[],
  names: { a: string; b: string },
  rowsOf: (curve: string) => Promise<CompareRow[]>,
  signal: AbortSignal,
): Promise<void> {
  const { market, keys } = await sameMarket(state.curve, curves, signal);
  const others = keys.filter((k) => k !== state.curve).slice(0, MAX_MULTIPLES - 1);
  const shown = keys.filter((k) => k === state.curve || others.includes(k));
  const all = await Promise.all(shown.map(rowsOf));
  const items = shown.map((curve, i) => {
    const rows = (all[i] as CompareRow[]).filter((r) => r.a !== null);
    if (!rows.length) return h("li", {}, h("p", {}, `${curve}: no ${state.metric} rows.`));
    const points = toPoints(rows);
    const title = `${curve} ${state.metric}, ${state.tenor.toLowerCase()}: a against b`;
    const chart = bandChart(points, { title, selected: -1, onSelect: () => {}, desc: describeDeltas(points, rows, names), names: SIDES, xTitle: TENOR_AXIS[state.tenor] });
    chart.removeAttribute("tabindex");
    chart.classList.add("small-multiple");
    chart.dataset.curve = curve;
    return h("li", {}, h("figure", {}, chart, h("figcaption", {}, curve === state.curve ? `${curve} (the chart above)` : curve)));
  });
  clear(
    slot,
    h("h3", {}, `Curves of the ${market} market (${shown.length}${keys.length > shown.length ? ` of ${keys.length}` : ""}), ${state.metric}, a solid, b dashed`),
    h("ul", { className: "multiples" }, items),
  );
}

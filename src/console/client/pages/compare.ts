/**
 * A scenario compared with its no-driver baseline or with another scenario
 * (`GET /v1/scenarios/{id}/compare`, docs/compare.md): one curve, tenor and metric, side a solid
 * and side b dashed over contract months, then the deltas as a table. Every choice is in the URL
 * (`#/scenarios/{id}/compare?with=&curve=&tenor=&metric=`), so a link reopens the same view.
 */

import type { CompareRow } from "../../../outputs/row";
import { allRows, api, qs } from "../api";
import { bandChart, type Point } from "../chart";
import { choice, clear, columnHeads, field, fmt, h, select, short } from "../dom";
import { type Ctx, curvesOf, errorBox, heading, type Scenario, tenorSwitch } from "../shell";

type State = { with: string; curve: string; tenor: string; metric: string };

const METRICS = ["mid", "baseline", "uplift", "policy_uplift", "NPV"];
const pct = new Intl.NumberFormat("en-US", { style: "percent", maximumFractionDigits: 2, signDisplay: "exceptZero" });

export function comparePage(ctx: Ctx): void {
  const scenarioId = ctx.params[1] as string;
  const base = `/v1/scenarios/${scenarioId}`;
  const h1 = heading(ctx, "Compare");
  const error = errorBox();
  const body = h("div", { "aria-busy": "true" }, h("p", {}, "Loading…"));
  ctx.main.append(h("p", {}, h("a", { href: `#/scenarios/${scenarioId}` }, "Back to the scenario")), error.el, body);
  const { signal } = ctx;
  const q = ctx.query;
  const state: State = { with: q.get("with") ?? "baseline", curve: q.get("curve") ?? "", tenor: q.get("tenor") ?? "MONTHLY", metric: q.get("metric") ?? "mid" };

  void (async () => {
    try {
      const [{ data: sc }, { data: others }, curves] = await Promise.all([
        api<Scenario>(base, { signal }),
        api<Scenario[]>(`/v1/scenarios${qs({ limit: 100 })}`, { signal }),
        curvesOf(base, undefined, signal),
      ]);
      h1.textContent = `Compare: ${sc.name}`;
      document.title = `Compare: ${sc.name} · Aurum Scenarios console`;
      if (!curves.length) {
        clear(body, h("p", {}, "This scenario has no SUCCEEDED run yet. Run it from ", h("a", { href: `#/scenarios/${scenarioId}` }, "the scenario page"), "."));
        body.setAttribute("aria-busy", "false");
        return;
      }
      if (!curves.includes(state.curve)) state.curve = curves[0] as string;
      const sides: [string, string][] = [
        ["baseline", "Its no-driver baseline"],
        ...others.filter((o) => o.id !== sc.id).map((o): [string, string] => [o.id, `${o.name} (${short(o.id)})`]),
      ];
      render(ctx, body, base, sc, sides, curves, state);
      body.setAttribute("aria-busy", "false");
    } catch (err) {
      if (signal.aborted) return;
      clear(body);
      error.show(err);
    }
  })();
}

function render(ctx: Ctx, body: HTMLElement, base: string, sc: Scenario, sides: [string, string][], curves: string[], state: State): void {
  const withSelect = field("Compare with", select("with", sides, state.with));
  const curveSelect = choice("Curve", "curve", curves, state.curve);
  const metricSelect = choice("Metric", "metric", METRICS, state.metric);
  const tenorSet = tenorSwitch(state.tenor, "ctenor");
  const controls = h("form", { className: "card controls", "aria-label": "Comparison options" }, withSelect.wrap, curveSelect.wrap, metricSelect.wrap, tenorSet);
  controls.addEventListener("submit", (e) => e.preventDefault());
  const area = h("div", { className: "chart-area" });
  clear(body, controls, h("section", { "aria-labelledby": "compare-h" }, h("h2", { id: "compare-h" }, "Side a against side b"), area));

  const sideName = () => sides.find(([v]) => v === state.with)?.[1] ?? state.with;
  let generation = 0;
  async function refresh(): Promise<void> {
    const mine = ++generation;
    history.replaceState(null, "", `#/scenarios/${sc.id}/compare${qs({ with: state.with, curve: state.curve, tenor: state.tenor, metric: state.metric })}`);
    area.setAttribute("aria-busy", "true");
    clear(area, h("p", {}, "Loading…"));
    try {
      const { rows, meta } = await allRows<CompareRow>(
        `${base}/compare`,
        { with: state.with, curve_key: state.curve, tenor_type: state.tenor, metric: state.metric, limit: 1000 },
        ctx.signal,
      );
      if (mine !== generation) return;
      draw(area, state, rows, { a: `${sc.name}, run ${short(String(meta.run_id ?? ""))}`, b: sideName() });
    } catch (err) {
      if (mine !== generation || ctx.signal.aborted) return;
      const box = errorBox();
      box.show(err);
      clear(area, box.el);
    }
    area.setAttribute("aria-busy", "false");
  }
  for (const [control, key] of [
    [withSelect.control, "with"],
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
  void refresh();
}

/** Side a (solid) and side b (dashed) over the contract months, then each month's delta in a table. */
function draw(area: HTMLElement, state: State, rows: CompareRow[], names: { a: string; b: string }): void {
  const shown = rows.filter((r) => r.a !== null);
  if (!shown.length) {
    clear(area, h("p", {}, `No ${state.metric} rows for ${state.curve} (${state.tenor.toLowerCase()}) in this scenario's run.`));
    return;
  }
  const points: Point[] = shown.map((r) => ({ label: r.tenor_label, month: r.contract_month, mid: r.a as number, baseline: r.b, lower: null, upper: null }));
  const deltas = shown.map((r) => r.delta).filter((d): d is number => d !== null);
  const desc =
    `${points.length} contract months from ${points[0]?.label} to ${points.at(-1)?.label}. Solid: ${names.a}. Dashed: ${names.b}. ` +
    (deltas.length ? `Delta (a − b) from ${fmt(Math.min(...deltas))} to ${fmt(Math.max(...deltas))}. ` : "") +
    "The deltas are in the table below.";
  const chart = bandChart(points, { title: `${state.curve} ${state.metric}, ${state.tenor.toLowerCase()}: a against b`, selected: -1, onSelect: () => {}, desc });
  chart.classList.add("compare-chart");
  clear(
    area,
    chart,
    h("p", { className: "legend" }, `Solid: ${names.a}. Dashed: ${names.b}.`),
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
            h("td", { className: "num" }, fmt(r.a)),
            h("td", { className: "num" }, fmt(r.b)),
            h("td", { className: "num" }, fmt(r.delta)),
            h("td", { className: "num" }, r.delta_pct === null ? "—" : pct.format(r.delta_pct)),
          ),
        ),
      ),
    ),
  );
}

/**
 * A run's summary (issue 23): NPV by curve, the average uplift per calendar year and curve, and the
 * sensitivities the run stores (`npv_per_bp`, `mid_per_gas`), read from the run's /outputs rows
 * (docs/model.md §1 and §5–6 say how each metric aggregates). Curve units come from /v1/curves.
 */
import { allRows } from "../api";
import { clear, columnHeads, h, numCell } from "../dom";
import { type Assumption, driverLabel } from "../drivers";
import { allCurves, type Ctx, errorBox, type OutputRow } from "../shell";

/** Rows the summary reads per metric: 50 pages of 1,000 (allRows' default). */
const MAX_ROWS = 50_000;

/** The "Run summary" section of run `runId` of the scenario at `base`; it fills itself in when its rows arrive. */
export function kpiSection(ctx: Ctx, base: string, runId: string, assumptions: Assumption[] | undefined): HTMLElement {
  const body = h("div", { "aria-busy": "true" }, h("p", {}, "Loading…"));
  const section = h("section", { "aria-labelledby": "kpi-h", className: "kpi" }, h("h2", { id: "kpi-h" }, "Run summary"), body);
  const { signal } = ctx;
  const rows = (metric: string, tenor: string) => allRows<OutputRow>(`${base}/outputs`, { run_id: runId, metric, tenor_type: tenor, limit: 1000 }, signal).then((r) => r.rows);
  void (async () => {
    try {
      const [npv, perBp, perGas, uplift, curves] = await Promise.all([
        rows("NPV", "MONTHLY"),
        rows("npv_per_bp", "MONTHLY"),
        rows("mid_per_gas", "MONTHLY"),
        rows("uplift", "CALENDAR"),
        allCurves(signal),
      ]);
      const unit = new Map(curves.map((c) => [c.curve_key, c.unit]));
      const keys = [...new Set([...npv, ...uplift, ...perBp, ...perGas].map((r) => r.curve_key))];
      const months = new Set(npv.map((r) => r.contract_month)).size;
      const drivers = assumptions?.map((a, i) => driverLabel(`${a.driver_type}:${i}`, assumptions)) ?? [];
      clear(
        body,
        h("p", {}, `Run ${runId.slice(0, 8)}: ${keys.length} curves, ${months} contract months. Drivers: ${drivers.length ? drivers.join("; ") : "none"}.`),
        [npv, perBp, perGas, uplift].some((r) => r.length >= MAX_ROWS)
          ? h(
              "p",
              { className: "hint" },
              `This run has more rows than the summary reads (${MAX_ROWS.toLocaleString()} per metric): it covers the first curves only. The API has them all.`,
            )
          : null,
        npvTable(keys, npv, months),
        upliftTable(keys, uplift, unit),
        sensitivityTable(keys, perBp, perGas, unit),
      );
    } catch (err) {
      if (signal.aborted) return;
      const box = errorBox();
      box.show(err);
      clear(body, box.el);
    }
    body.setAttribute("aria-busy", "false");
  })();
  return section;
}

/** Sum (or mean) of each curve's values. */
function byCurve(rows: OutputRow[], mean = false): Map<string, number> {
  const acc = new Map<string, { sum: number; n: number }>();
  for (const r of rows) {
    const a = acc.get(r.curve_key) ?? { sum: 0, n: 0 };
    a.sum += Number(r.value);
    a.n += 1;
    acc.set(r.curve_key, a);
  }
  return new Map([...acc].map(([k, a]) => [k, mean ? a.sum / a.n : a.sum]));
}

const rowHead = (key: string) => h("th", { scope: "row" }, key);

/** NPV per curve: the horizon total, the sum of its MONTHLY rows (docs/model.md §6). */
function npvTable(keys: string[], npv: OutputRow[], months: number): HTMLElement {
  const total = byCurve(npv);
  return h(
    "table",
    { className: "kpi-npv" },
    h(
      "caption",
      {},
      `NPV by curve: the sum of the run's ${months} monthly NPV rows (the discounted value of the uplift for 1 MW of the curve's block, in USD per MW for power; per fuel unit a day for fuels)`,
    ),
    columnHeads(["Curve", "NPV"]),
    h(
      "tbody",
      {},
      keys.map((k) => h("tr", { "data-curve": k }, rowHead(k), numCell(total.get(k)))),
    ),
  );
}

/** The CALENDAR uplift rows (hour-weighted means of each full year's months), curves down, years across. */
function upliftTable(keys: string[], uplift: OutputRow[], unit: Map<string, string>): HTMLElement {
  const years = [...new Set(uplift.map((r) => r.tenor_label))].sort();
  if (!years.length) return h("p", {}, "No full calendar year in this run's horizon, so no yearly uplift.");
  const value = new Map(uplift.map((r) => [`${r.curve_key} ${r.tenor_label}`, Number(r.value)]));
  return h(
    "div",
    { className: "table-scroll", role: "region", "aria-label": "Average uplift by calendar year", tabindex: 0 },
    h(
      "table",
      { className: "kpi-uplift" },
      h("caption", {}, "Average uplift (mid − baseline) by calendar year, in the curve's unit: the engine's hour-weighted mean of each full year (partial years have no row)"),
      columnHeads(["Curve (unit)", ...years]),
      h(
        "tbody",
        {},
        keys.map((k) =>
          h(
            "tr",
            { "data-curve": k },
            h("th", { scope: "row" }, k, h("span", { className: "unit" }, ` (${unit.get(k) ?? "unit unknown"})`)),
            years.map((y) => numCell(value.get(`${k} ${y}`))),
          ),
        ),
      ),
    ),
  );
}

/** `npv_per_bp` summed over the months (the horizon NPV's rate sensitivity) and the mean monthly `mid_per_gas`. */
function sensitivityTable(keys: string[], perBp: OutputRow[], perGas: OutputRow[], unit: Map<string, string>): HTMLElement {
  const bp = byCurve(perBp);
  const gas = byCurve(perGas, true);
  return h(
    "table",
    { className: "kpi-sens" },
    h(
      "caption",
      {},
      "Sensitivities: npv_per_bp is the sum of the monthly rows, the change of the NPV above per basis point of discount rate; " +
        "mid_per_gas is the plain mean of the monthly rows, the change of mid per USD/MMBtu of gas, in the curve's unit per USD/MMBtu",
    ),
    columnHeads(["Curve", "npv_per_bp", "mid_per_gas", "Curve unit"]),
    h(
      "tbody",
      {},
      keys.map((k) => h("tr", { "data-curve": k }, rowHead(k), numCell(bp.get(k)), numCell(gas.get(k)), h("td", {}, unit.get(k) ?? "—"))),
    ),
  );
}

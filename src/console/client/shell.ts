/** What every page gets, the API's shapes as the console reads them, and shared page parts. */
import type { OutputRow as ApiOutputRow } from "../../outputs/row";
import { allRows, api, describe, qs } from "./api";
import { clear, h } from "./dom";

export type Ctx = {
  main: HTMLElement;
  /** Path segments after `#/`. */
  params: string[];
  query: URLSearchParams;
  /** Aborted when the user leaves the page: stops its requests, streams and timers. */
  signal: AbortSignal;
  go: (hash: string) => void;
  /** Says something through the polite live region. */
  announce: (message: string) => void;
};

export type Scenario = {
  id: string;
  tenant_id: string;
  name: string;
  description: string | null;
  status: string;
  assumptions: { driver_type: string; payload: Record<string, unknown> }[];
  parameters: Record<string, unknown>;
  tags: string[];
  version: number;
  created_by: string | null;
  created_at: string;
  updated_at: string;
};

export type Run = {
  id: string;
  scenario_id: string;
  state: string;
  priority: string;
  code_version: string;
  seed: number;
  /** The run's overrides of the scenario's parameters. */
  parameters: Record<string, unknown>;
  /** What the run computes from, fixed at trigger time (null for runs from before it was stored). */
  inputs: { asof_date: string; assumptions: unknown[]; curves: unknown[]; options: { code_version: string } } | null;
  attempts: number;
  progress: number;
  rows_written: number;
  cancel_requested: boolean;
  error: Record<string, unknown> | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
};

export type OutputRow = Omit<ApiOutputRow, "scenario_id" | "version_hash">;

export type LatestRow = Omit<OutputRow, "attribution"> & { run_id: string };

export const TERMINAL = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);

/** The page's h1; focused so keyboard and screen-reader users start at the new content. */
export function heading(ctx: Ctx, text: string): HTMLHeadingElement {
  const el = h("h1", { tabindex: -1 }, text);
  ctx.main.append(el);
  document.title = `${text} · Aurum Scenarios console`;
  queueMicrotask(() => el.focus());
  return el;
}

/** An alert box, hidden until `show(err)`. */
export function errorBox(): { el: HTMLElement; show: (err: unknown) => void; hide: () => void } {
  const el = h("div", { className: "error", role: "alert", hidden: true });
  return {
    el,
    show: (err) => {
      el.textContent = describe(err);
      el.hidden = false;
    },
    hide: () => {
      el.textContent = "";
      el.hidden = true;
    },
  };
}

export function stateBadge(state: string): HTMLElement {
  return h("span", { className: `badge state-${state.toLowerCase()}` }, state);
}

/** A JSON textarea's value, or a thrown error naming the field. */
export function parseJson<T>(label: string, text: string, fallback: T): T {
  if (!text.trim()) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new Error(`${label} is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * A page about the scenario in the route (`#/scenarios/{id}/...`): its heading, then the scenario
 * loaded (the page busy until then) and what `render` makes of it; a failure shows in the alert.
 */
export function scenarioLoadedPage(ctx: Ctx, loadingTitle: string, title: (sc: Scenario) => string, render: (sc: Scenario, error: ReturnType<typeof errorBox>) => Node[]): void {
  const h1 = heading(ctx, loadingTitle);
  const error = errorBox();
  const body = h("div", { "aria-busy": "true" }, h("p", {}, "Loading…"));
  ctx.main.append(error.el, body);
  api<Scenario>(`/v1/scenarios/${ctx.params[1]}`, { signal: ctx.signal }).then(
    ({ data }) => {
      h1.textContent = title(data);
      document.title = `${title(data)} · Aurum Scenarios console`;
      clear(body, ...render(data, error));
      body.setAttribute("aria-busy", "false");
    },
    (err) => {
      clear(body);
      error.show(err);
    },
  );
}

const TENORS = [
  ["MONTHLY", "Monthly"],
  ["QUARTER", "Quarterly"],
  ["CALENDAR", "Calendar years"],
] as const;

/** What a point of a chart is, per tenor: its x axis title. */
export const TENOR_AXIS: Record<string, string> = { MONTHLY: "Contract month", QUARTER: "Quarter", CALENDAR: "Calendar year" };

/** The tenor switch of a chart page: one radio per tenor type, `selected` checked; ids start with `idPrefix`. */
export function tenorSwitch(selected: string, idPrefix: string): HTMLFieldSetElement {
  return h(
    "fieldset",
    { className: "tenor-switch" },
    h("legend", {}, "Tenor"),
    TENORS.map(([value, label]) =>
      h(
        "div",
        { className: "radio" },
        h("input", { type: "radio", name: "tenor", value, id: `${idPrefix}-${value}`, checked: selected === value }),
        h("label", { for: `${idPrefix}-${value}` }, label),
      ),
    ),
  );
}

/** Curve keys of a run (default: the scenario's latest SUCCEEDED run), from its coarsest tenor rows (few rows per curve). */
export async function curvesOf(base: string, runId: string | undefined, signal: AbortSignal): Promise<string[]> {
  for (const tenor of ["CALENDAR", "QUARTER", "MONTHLY"]) {
    const { rows } = await allRows<OutputRow>(`${base}/outputs`, { run_id: runId, metric: "mid", tenor_type: tenor, limit: 1000 }, signal, 20);
    if (rows.length) return [...new Set(rows.map((r) => r.curve_key))];
  }
  return [];
}

/** A curve's identity as GET /v1/curves gives it. */
export type CurveInfo = { curve_key: string; market: string; location: string; product: string; block: string; unit: string };

/** Every curve of the curve store (all pages of GET /v1/curves, up to 10,000). */
export async function allCurves(signal: AbortSignal): Promise<CurveInfo[]> {
  return (await allRows<CurveInfo>("/v1/curves", { limit: 200 }, signal, 50)).rows;
}

const curveInfos = new Map<string, Promise<CurveInfo | undefined>>();
/** One curve's market, location, block and unit, asked once per key (none when the curve is not in the curve store). */
export function curveInfo(key: string, signal: AbortSignal): Promise<CurveInfo | undefined> {
  let found = curveInfos.get(key);
  if (!found) {
    found = api<{ curve: CurveInfo }>(`/v1/curves/${encodeURIComponent(key)}${qs({ limit: 1 })}`, { signal }).then(
      ({ data }) => data.curve,
      () => {
        curveInfos.delete(key);
        return undefined;
      },
    );
    curveInfos.set(key, found);
  }
  return found;
}

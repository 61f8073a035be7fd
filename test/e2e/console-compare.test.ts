/**
 * The console's run-against-run comparison and run summary (issue 23, items 2 and 3) in headless
 * Chromium against the real service process: two scenarios created and run through the API (one
 * of them twice), the compare page opened from a link naming both runs (`with` = the scenario
 * itself), its deltas equal to the API's /compare rows for those runs, one small multiple per
 * curve of the selected curve's market, a wrong run id in the link showing the API's 404; the
 * outputs page's run summary (NPV, yearly uplift, sensitivities) equal to sums and means computed
 * here from the run's /outputs rows; axe-core finds nothing on either page. Screenshot:
 * /tmp/console-compare-runs.png and /tmp/console-kpi.png.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { eventually } from "../support/eventually";
import { CHROMIUM, HAVE_CHROMIUM, launchBrowser, type Service, startService } from "./support";

const SCREENSHOT = "/tmp/console-compare-runs.png";
/** The run summary on the outputs page. */
const KPI_SCREENSHOT = "/tmp/console-kpi.png";
const TENANT = "e2e-compare";
const CURVE = "PJM_WEST_ON_PEAK";
const MAX_MULTIPLES = 8;

/** A value as a numeric cell's `data-value` holds it (every digit), null when the cell is empty. */
const exact = (v: number | null | undefined) => (v === null || v === undefined ? null : String(v));
/** A table's body rows: the row header's text, then each cell's `data-value` (numbers) or text. */
const cellsOf = (trs: Element[]) => trs.map((tr) => [...tr.children].map((c) => (c.matches("td.num") ? c.getAttribute("data-value") : c.textContent)));

type Row = { curve_key: string; tenor_label: string; contract_month: string; value: number };
type CompareRow = { tenor_label: string; a: number | null; b: number | null; delta: number | null; delta_pct: number | null };

if (!HAVE_CHROMIUM) console.warn(`SKIP console compare browser tests: ${CHROMIUM} is missing (apt-get install -y chromium; .ci/run installs it)`);

describe.skipIf(!HAVE_CHROMIUM)("console: run against run, small multiples, run summary", () => {
  let svc: Service;
  let context: BrowserContext;
  let closeBrowser: () => Promise<void>;
  const pageErrors: string[] = [];
  let scenario = "";
  let other = "";
  /** The scenario's runs, in the order they were triggered (the second with another discount rate). */
  const runs: string[] = [];
  let axeSource = "";

  const call = async <D = Record<string, unknown>>(path: string, body?: unknown) => {
    const res = await fetch(`${svc.base}${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { "content-type": "application/json", "x-aurum-tenant": TENANT },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, ...((await res.json()) as { data: D; meta: Record<string, unknown>; error?: { message: string } }) };
  };
  /** Every row of a paged list. */
  async function all<T>(path: string): Promise<T[]> {
    const rows: T[] = [];
    let cursor = "";
    do {
      const page = await call<T[]>(`${path}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      expect(page.status).toBe(200);
      rows.push(...page.data);
      cursor = (page.meta.next_cursor as string | null) ?? "";
    } while (cursor);
    return rows;
  }
  async function runToSuccess(id: string, options: Record<string, unknown>): Promise<string> {
    const run = (await call<{ id: string }>(`/v1/scenarios/${id}/run`, options)).data.id;
    await eventually(async () => (await call(`/v1/scenarios/${id}/runs/${run}`)).data.state === "SUCCEEDED", { what: `run ${run} to succeed`, timeoutMs: 90_000 });
    return run;
  }

  beforeAll(async () => {
    svc = await startService();
    ({ context, close: closeBrowser } = await launchBrowser());
    axeSource = readFileSync(join(import.meta.dir, "../../node_modules/axe-core/axe.min.js"), "utf8");
    scenario = (
      await call<{ id: string }>("/v1/scenarios", {
        name: "Runs compared",
        assumptions: [
          { driver_type: "policy", payload: { policy_name: "RPS", start_year: 2028, target: 0.5 } },
          { driver_type: "fuel_curve", payload: { fuel: "natural_gas", reference_series: "HENRY_HUB_GAS", basis_points_adjustment: 1500 } },
        ],
        parameters: { mc_paths: 100 },
      })
    ).data.id;
    other = (
      await call<{ id: string }>("/v1/scenarios", {
        name: "Other scenario",
        assumptions: [{ driver_type: "policy", payload: { policy_name: "RPS", start_year: 2027, target: 0.3 } }],
        parameters: { mc_paths: 100 },
      })
    ).data.id;
    runs.push(await runToSuccess(scenario, {}));
    runs.push(await runToSuccess(scenario, { parameters: { shock_bp: 100 } }));
    await runToSuccess(other, {});
  }, 240_000);
  afterAll(async () => {
    await closeBrowser?.();
    await svc?.stop();
  });

  /** A new tab at a link; signing in there (auth-disabled mode) lands on the link's view. */
  async function openSignedIn(hash: string): Promise<Page> {
    const page = await context.newPage();
    page.on("pageerror", (err) => pageErrors.push(err.message));
    await page.goto(`${svc.base}/console${hash}`);
    await page.getByText("authentication is disabled").waitFor();
    await page.getByLabel("Auth disabled (trusted local mode)").check();
    await page.getByLabel("Tenant (optional)").fill(TENANT);
    await page.getByRole("button", { name: "Sign in" }).click();
    return page;
  }

  /** axe-core's WCAG 2.1 A/AA and best-practice violations on the page once nothing is busy. */
  async function axe(page: Page): Promise<string[]> {
    await page.waitForFunction(() => !document.querySelector('[aria-busy="true"]'));
    if (!(await page.evaluate(() => "axe" in window))) await page.evaluate(axeSource);
    return page.evaluate(async () => {
      // biome-ignore lint/suspicious/noExplicitAny: axe is injected at run time
      const r = await (window as any).axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] } });
      return r.violations.map((v: { id: string; nodes: { target: string[] }[] }) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
    });
  }

  test("compare run against run of one scenario from a link: the API's deltas, one small multiple per curve of the market, no axe violations", async () => {
    const [a, b] = runs as [string, string];
    const link = `#/scenarios/${scenario}/compare?with=${scenario}&run=${a}&with_run=${b}&curve=${CURVE}&tenor=CALENDAR&metric=NPV`;
    const page = await openSignedIn(link);
    await page.getByRole("heading", { level: 1, name: "Compare: Runs compared" }).waitFor();
    await page.locator("table.deltas tbody tr").first().waitFor();
    // The view is the link's: this scenario itself as side b, both runs named in the selects and the URL.
    expect(await page.getByLabel("Compare with").inputValue()).toBe(scenario);
    expect(await page.getByLabel("Run a", { exact: true }).inputValue()).toBe(a);
    expect(await page.getByLabel("Run b", { exact: true }).inputValue()).toBe(b);
    expect(await page.getByLabel("Run b", { exact: true }).isVisible()).toBe(true);
    expect(page.url()).toContain(`run=${a}`);
    expect(page.url()).toContain(`with_run=${b}`);

    // Every delta row equals the API's /compare row for these two runs, as the console formats it.
    const api = await call<CompareRow[]>(
      `/v1/scenarios/${scenario}/compare?with=${scenario}&run_id=${a}&with_run_id=${b}&curve_key=${CURVE}&tenor_type=CALENDAR&metric=NPV&limit=1000`,
    );
    expect(api.meta).toMatchObject({ run_id: a, with_run_id: b, with_scenario_id: scenario });
    const rows = api.data;
    expect(rows.length).toBeGreaterThan(0);
    // The runs differ only in the discount rate, so every NPV differs (a run against itself would give 0).
    expect(rows.every((r) => r.delta !== 0 && r.delta !== null)).toBe(true);
    const shown = await page.locator("table.deltas tbody tr").evaluateAll(cellsOf);
    expect(shown).toEqual(rows.map((r) => [r.tenor_label, exact(r.a), exact(r.b), exact(r.delta), exact(r.delta_pct)]));
    // And what a person reads there is that number, formatted.
    expect(await page.locator("table.deltas tbody tr").first().locator("td").nth(2).textContent()).toBe(
      await page.evaluate((v) => new Intl.NumberFormat(undefined, { maximumSignificantDigits: 6 }).format(v), rows[0]?.delta as number),
    );
    expect(await page.locator("svg.compare-chart").getAttribute("data-points")).toBe(String(rows.length));

    // Small multiples: one per curve of the curve's market in the run (at most 8), not focusable, each an image with a title and description.
    const market = (await call<{ curve: { market: string } }>(`/v1/curves/${CURVE}?limit=1`)).data.curve.market;
    const runCurves = new Set((await all<Row>(`/v1/scenarios/${scenario}/outputs?run_id=${a}&metric=mid&tenor_type=CALENDAR&limit=1000`)).map((r) => r.curve_key));
    const inMarket = (await all<{ curve_key: string }>(`/v1/curves?market=${market}&limit=200`)).map((c) => c.curve_key).filter((k) => runCurves.has(k));
    expect(inMarket).toContain(CURVE);
    const multiples = page.locator("svg.small-multiple");
    await multiples.first().waitFor();
    expect(await multiples.count()).toBe(Math.min(inMarket.length, MAX_MULTIPLES));
    expect((await multiples.evaluateAll((svgs) => svgs.map((s) => (s as SVGElement).dataset.curve))).sort()).toEqual(inMarket.slice(0, MAX_MULTIPLES).sort());
    for (const svg of await multiples.all()) {
      expect(await svg.getAttribute("role")).toBe("img");
      expect(await svg.getAttribute("tabindex")).toBeNull();
      expect(await svg.locator("title").textContent()).toMatch(/NPV, calendar: a against b$/);
      expect(await svg.locator("desc").textContent()).toContain("Delta (a − b) from");
    }
    // Fewer columns than the main chart: each is drawn at a fraction of its width.
    const widths = await page.evaluate(() =>
      [document.querySelector("svg.compare-chart"), document.querySelector("svg.small-multiple")].map((e) => e?.getBoundingClientRect().width ?? 0),
    );
    expect(widths[1]).toBeLessThan((widths[0] as number) / 2);

    await page.locator("section", { has: page.locator("#compare-h") }).screenshot({ path: SCREENSHOT });
    expect(await axe(page)).toEqual([]);
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 120_000);

  test("switching side b to another scenario lists its runs; the baseline hides run b", async () => {
    const page = await openSignedIn(`#/scenarios/${scenario}/compare?with=${scenario}&run=${runs[1]}&curve=${CURVE}`);
    await page.locator("table.deltas tbody tr").first().waitFor();
    // Run b defaults to the run before run a when comparing the scenario with itself.
    expect(await page.getByLabel("Run b", { exact: true }).inputValue()).toBe(runs[0] as string);
    await page.getByLabel("Compare with").selectOption(other);
    const otherRuns = (await call<{ id: string }[]>(`/v1/scenarios/${other}/runs?state=SUCCEEDED`)).data;
    await page.waitForFunction((id) => (document.querySelector('select[name="with_run"]') as HTMLSelectElement | null)?.value === id, otherRuns[0]?.id);
    await page.waitForFunction((id) => location.hash.includes(`with_run=${id}`), otherRuns[0]?.id);
    await page.getByLabel("Compare with").selectOption("baseline");
    await page.waitForFunction(() => !location.hash.includes("with_run="));
    expect(await page.getByLabel("Run b", { exact: true }).isVisible()).toBe(false);
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 120_000);

  test("a wrong run id in the link shows the API's 404 in the alert, not a blank page", async () => {
    const missing = "00000000-0000-4000-8000-000000000000";
    const api = await call(`/v1/scenarios/${scenario}/compare?with=${scenario}&run_id=${missing}`);
    expect(api.status).toBe(404);
    const page = await openSignedIn(`#/scenarios/${scenario}/compare?with=${scenario}&run=${missing}`);
    // The page keeps its controls (pick another run) and shows the API's answer where the chart would be.
    const alert = page.locator(".chart-area [role=alert]");
    await alert.waitFor();
    expect(await alert.textContent()).toContain(`404 NOT_FOUND: ${api.error?.message}`);
    expect(api.error?.message).toContain(`run_id ${missing}`);
    expect(await page.locator("table.deltas").count()).toBe(0);
    expect(await page.getByLabel("Run a", { exact: true }).inputValue()).toBe(missing);
    // The same for run b.
    await page.goto(`${svc.base}/console#/scenarios/${scenario}/compare?with=${scenario}&run=${runs[0]}&with_run=${missing}`);
    await page.reload();
    const apiB = await call(`/v1/scenarios/${scenario}/compare?with=${scenario}&run_id=${runs[0]}&with_run_id=${missing}`);
    expect(apiB.status).toBe(404);
    await page.locator(".chart-area [role=alert]").waitFor();
    expect(await page.locator(".chart-area [role=alert]").textContent()).toContain(`404 NOT_FOUND: ${apiB.error?.message}`);
    expect(await page.getByLabel("Run b", { exact: true }).inputValue()).toBe(missing);
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 120_000);

  test("the outputs page's run summary: NPV by curve, uplift by calendar year, sensitivities, equal to the run's rows", async () => {
    const run = runs[0] as string;
    const rowsOf = (metric: string, tenor: string) => all<Row>(`/v1/scenarios/${scenario}/outputs?run_id=${run}&metric=${metric}&tenor_type=${tenor}&limit=1000`);
    const [npv, perBp, perGas, uplift] = await Promise.all([
      rowsOf("NPV", "MONTHLY"),
      rowsOf("npv_per_bp", "MONTHLY"),
      rowsOf("mid_per_gas", "MONTHLY"),
      rowsOf("uplift", "CALENDAR"),
    ]);
    const units = new Map((await all<{ curve_key: string; unit: string }>("/v1/curves?limit=200")).map((c) => [c.curve_key, c.unit]));
    const sum = (rows: Row[], k: string) => rows.filter((r) => r.curve_key === k).reduce((t, r) => t + r.value, 0);
    const mean = (rows: Row[], k: string) => sum(rows, k) / rows.filter((r) => r.curve_key === k).length;
    const curves = [...new Set(npv.map((r) => r.curve_key))];
    const years = [...new Set(uplift.map((r) => r.tenor_label))].sort();
    expect(curves.length).toBeGreaterThan(1);
    expect(years.length).toBeGreaterThan(1);

    const page = await openSignedIn(`#/scenarios/${scenario}/outputs?run=${run}`);
    const kpi = page.locator('section[aria-labelledby="kpi-h"]');
    await kpi.locator("table").first().waitFor({ timeout: 30_000 });
    expect(await kpi.locator("#kpi-h").textContent()).toBe("Run summary");
    const cells = (table: string) => kpi.locator(`table.${table} tbody tr`).evaluateAll(cellsOf);
    expect(await cells("kpi-npv")).toEqual(curves.map((k) => [k, exact(sum(npv, k))]));
    expect(await kpi.locator("table.kpi-npv caption").textContent()).toContain(`sum of the run's ${new Set(npv.map((r) => r.contract_month)).size} monthly NPV rows`);
    expect(await kpi.locator("table.kpi-uplift thead th").allTextContents()).toEqual(["Curve (unit)", ...years]);
    expect(await cells("kpi-uplift")).toEqual(
      curves.map((k) => [`${k} (${units.get(k)})`, ...years.map((y) => exact(uplift.find((r) => r.curve_key === k && r.tenor_label === y)?.value))]),
    );
    // The years fit beside the curves: the table does not scroll sideways at this width.
    expect(await kpi.locator(".table-scroll").evaluate((el) => el.scrollWidth - el.clientWidth)).toBeLessThanOrEqual(0);
    expect(await cells("kpi-sens")).toEqual(curves.map((k) => [k, exact(sum(perBp, k)), exact(mean(perGas, k)), units.get(k) ?? "—"]));
    // Column and row headers are scoped; the drivers are named as in the run's assumptions.
    expect(await kpi.locator("th:not([scope])").count()).toBe(0);
    expect(await kpi.locator("p").first().textContent()).toContain("RPS 50 % from 2028");
    await kpi.screenshot({ path: KPI_SCREENSHOT });
    expect(await axe(page)).toEqual([]);
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 120_000);
});

/** The scenario list (the API's filters and keyset paging) and the create form. */
import { ApiError, api, getSession, qs } from "../api";
import { clear, columnHeads, field, h, select, time } from "../dom";
import { assumptionsEditor } from "../forms";
import { type Ctx, errorBox, heading, parseJson, type Scenario, scenarioLoadedPage } from "../shell";

const FILTERS = ["name", "tag", "status", "created_after", "created_before", "limit"] as const;

/** Cursors of the pages before the current one, for "Previous page", per filter set. */
let trail: { key: string; cursors: string[] } = { key: "", cursors: [] };

export function scenarioListPage(ctx: Ctx): void {
  heading(ctx, "Scenarios");
  const q = ctx.query;
  const filterKey = FILTERS.map((f) => q.get(f) ?? "").join("|");
  if (trail.key !== filterKey) trail = { key: filterKey, cursors: [] };
  const cursor = q.get("cursor") ?? "";

  const filters = filterForm(ctx, q);

  const error = errorBox();
  const results = h("div", { className: "results", "aria-busy": "true" }, h("p", {}, "Loading…"));
  ctx.main.append(h("p", {}, h("a", { href: "#/scenarios/new", className: "button" }, "New scenario")), filters, error.el, results);

  const params = Object.fromEntries(FILTERS.map((f) => [f, q.get(f) ?? undefined]));
  api<Scenario[]>(`/v1/scenarios${qs({ ...params, cursor })}`, { signal: ctx.signal }).then(
    ({ data, meta }) => {
      const page = trail.cursors.length + 1;
      const table = scenarioTable(data, page);
      const next = meta.next_cursor;
      const nav = h(
        "nav",
        { className: "pager", "aria-label": "Scenario pages" },
        h(
          "button",
          {
            type: "button",
            className: "secondary",
            disabled: page === 1,
            onClick: () => {
              const prev = trail.cursors.pop() ?? "";
              ctx.go(`#/scenarios${qs({ ...params, cursor: prev })}`);
            },
          },
          "Previous page",
        ),
        h(
          "button",
          {
            type: "button",
            className: "secondary",
            disabled: !next,
            onClick: () => {
              trail.cursors.push(cursor);
              ctx.go(`#/scenarios${qs({ ...params, cursor: next ?? "" })}`);
            },
          },
          "Next page",
        ),
      );
      clear(results, data.length ? table : h("p", {}, "No scenarios match these filters."), nav);
      results.setAttribute("aria-busy", "false");
    },
    (err) => {
      clear(results);
      error.show(err);
    },
  );
}

/** The filter form, filled from the URL; applying it navigates to the filtered list. */
function filterForm(ctx: Ctx, q: URLSearchParams): HTMLFormElement {
  const name = field("Name contains", h("input", { name: "name", value: q.get("name") ?? "", autocomplete: "off" }));
  const tag = field("Tag", h("input", { name: "tag", value: q.get("tag") ?? "", autocomplete: "off" }));
  const status = field(
    "Status",
    select(
      "status",
      [
        ["", "Any"],
        ["draft", "Draft"],
        ["active", "Active"],
        ["archived", "Archived"],
      ],
      q.get("status") ?? "",
    ),
  );
  const after = field("Created on or after", h("input", { type: "date", name: "created_after", value: q.get("created_after") ?? "" }));
  const before = field("Created before", h("input", { type: "date", name: "created_before", value: q.get("created_before") ?? "" }), "Exclusive.");
  const limit = field(
    "Per page",
    select(
      "limit",
      ["10", "20", "50", "100", "200"].map((v) => [v, v]),
      q.get("limit") ?? "20",
    ),
  );
  const filters = h(
    "form",
    { className: "filters card", role: "search", "aria-label": "Filter scenarios" },
    name.wrap,
    tag.wrap,
    status.wrap,
    after.wrap,
    before.wrap,
    limit.wrap,
    h(
      "div",
      { className: "actions" },
      h("button", { type: "submit" }, "Apply filters"),
      h("button", { type: "button", className: "secondary", onClick: () => ctx.go("#/scenarios") }, "Clear"),
    ),
  );
  filters.addEventListener("submit", (e) => {
    e.preventDefault();
    const data = new FormData(filters);
    ctx.go(`#/scenarios${qs(Object.fromEntries(FILTERS.map((f) => [f, String(data.get(f) ?? "")])))}`);
  });

  return filters;
}

/** One page of scenarios as a table, each name linking to its page. */
function scenarioTable(data: Scenario[], page: number): HTMLTableElement {
  return h(
    "table",
    {},
    h("caption", {}, `Page ${page}: ${data.length} scenario${data.length === 1 ? "" : "s"}`),
    columnHeads(["Name", "Status", "Tags", "Version", "Tenant", "Created"]),
    h(
      "tbody",
      {},
      data.map((sc) =>
        h(
          "tr",
          {},
          h("th", { scope: "row" }, h("a", { href: `#/scenarios/${sc.id}` }, sc.name)),
          h("td", {}, sc.status),
          h("td", {}, sc.tags.join(", ")),
          h("td", { className: "num" }, sc.version),
          h("td", {}, sc.tenant_id),
          h("td", {}, time(sc.created_at)),
        ),
      ),
    ),
  );
}

const EXAMPLE_ASSUMPTIONS = [{ driver_type: "policy", payload: { policy_name: "RPS", start_year: 2030, target: 0.6 } }];

export function scenarioCreatePage(ctx: Ctx): void {
  heading(ctx, "New scenario");
  ctx.main.append(scenarioForm(ctx));
}

/** The edit form of a scenario: a PATCH guarded by the version it was loaded at (another edit meanwhile is a 409, shown). */
export function scenarioEditPage(ctx: Ctx): void {
  scenarioLoadedPage(
    ctx,
    "Edit scenario",
    (sc) => `Edit ${sc.name}`,
    (sc) => [scenarioForm(ctx, sc)],
  );
}

/** The create form, or with `existing` its edit form (no tenant: a scenario stays in its tenant). */
function scenarioForm(ctx: Ctx, existing?: Scenario): HTMLFormElement {
  const session = getSession();
  const tenant = existing
    ? undefined
    : field(
        "Tenant",
        h("input", { name: "tenant_id", autocomplete: "off", value: session?.mode === "local" ? session.tenant : "" }),
        session?.mode === "token" ? "Optional: your token's tenant is used." : "Required when no X-Aurum-Tenant was given at sign-in.",
      );
  const name = field(
    "Name",
    h("input", { name: "name", required: true, maxlength: 200, autocomplete: "off", value: existing?.name ?? "" }),
    "Unique in the tenant, case-insensitively.",
  );
  const description = field("Description", h("textarea", { name: "description", rows: 2 }));
  description.control.value = existing?.description ?? "";
  const status = field(
    "Status",
    select(
      "status",
      [
        ["active", "Active"],
        ["draft", "Draft"],
        ["archived", "Archived"],
      ],
      existing?.status.toLowerCase() ?? "active",
    ),
  );
  const tags = field("Tags", h("input", { name: "tags", autocomplete: "off", value: existing?.tags.join(", ") ?? "" }), "Comma-separated, e.g. demo, sensitivity.");
  const assumptions = assumptionsEditor(existing?.assumptions ?? EXAMPLE_ASSUMPTIONS, ctx.signal);
  const parameters = field(
    "Parameters (JSON)",
    h("textarea", { name: "parameters", rows: 3, spellcheck: "false", className: "code" }),
    "e.g. shock_bp, horizon_months, mc_paths, seed, band_quantiles, discount_rate.",
  );
  parameters.control.value = existing ? JSON.stringify(existing.parameters, null, 2) : '{"shock_bp": 25}';
  const error = errorBox();
  const back = existing ? `#/scenarios/${existing.id}` : "#/scenarios";
  const form = h(
    "form",
    { className: "card", "aria-label": existing ? `Edit ${existing.name}` : "New scenario" },
    tenant?.wrap ?? null,
    name.wrap,
    description.wrap,
    status.wrap,
    tags.wrap,
    assumptions.el,
    parameters.wrap,
    error.el,
    h(
      "div",
      { className: "actions" },
      h("button", { type: "submit" }, existing ? "Save changes" : "Create scenario"),
      h("a", { href: back, className: "button secondary" }, "Cancel"),
    ),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.hide();
    assumptions.clearIssues();
    try {
      const body: Record<string, unknown> = {
        name: name.control.value,
        status: status.control.value,
        assumptions: assumptions.value(),
        parameters: parseJson("Parameters", parameters.control.value, {}),
        tags: tags.control.value
          .split(",")
          .map((t) => t.trim())
          .filter(Boolean),
      };
      if (tenant?.control.value.trim()) body.tenant_id = tenant.control.value.trim();
      if (existing) {
        body.description = description.control.value.trim() ? description.control.value : null;
        body.version = existing.version;
        const { data } = await api<Scenario>(`/v1/scenarios/${existing.id}`, { method: "PATCH", body, signal: ctx.signal });
        ctx.announce(`Scenario ${data.name} saved (version ${data.version})`);
        ctx.go(`#/scenarios/${data.id}`);
        return;
      }
      if (description.control.value.trim()) body.description = description.control.value;
      const { data } = await api<Scenario>("/v1/scenarios", { method: "POST", body, signal: ctx.signal });
      ctx.announce(`Scenario ${data.name} created`);
      ctx.go(`#/scenarios/${data.id}`);
    } catch (err) {
      error.show(err);
      // The fields the API named get its message beside them, and the first one the focus.
      if (err instanceof ApiError) assumptions.showIssues(err.details);
    }
  });
  return form;
}

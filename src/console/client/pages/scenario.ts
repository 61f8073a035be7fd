/** A scenario: its assumptions and parameters, the run form, and its runs with live state. */
import { api, qs, readEvents } from "../api";
import { columnHeads, field, h, select, short, time } from "../dom";
import { type Ctx, errorBox, parseJson, type Run, type Scenario, scenarioLoadedPage, stateBadge, TERMINAL } from "../shell";

/** Live runs read through the events stream at most this many at once (a browser allows ~6 connections per host); the rest are polled. */
const MAX_STREAMS = 3;
const POLL_MS = 1500;

export function scenarioPage(ctx: Ctx): void {
  scenarioLoadedPage(
    ctx,
    "Scenario",
    (sc) => sc.name,
    (sc, error) => [details(ctx, sc, error), runSection(ctx, sc)],
  );
}

function details(ctx: Ctx, sc: Scenario, error: ReturnType<typeof errorBox>): HTMLElement {
  const dl = h(
    "dl",
    { className: "facts" },
    [
      ["Id", h("code", {}, sc.id)],
      ["Tenant", sc.tenant_id],
      ["Status", sc.status],
      ["Version", String(sc.version)],
      ["Tags", sc.tags.join(", ") || "—"],
      ["Created", time(sc.created_at)],
      ["Updated", time(sc.updated_at)],
    ].map(([k, v]) => [h("dt", {}, k as string), h("dd", {}, v as Node | string)]),
  );
  const assumptions = sc.assumptions.length
    ? h(
        "table",
        {},
        h("caption", { className: "visually-hidden" }, "Assumptions"),
        columnHeads(["#", "Driver", "Payload"]),
        h(
          "tbody",
          {},
          sc.assumptions.map((a, i) =>
            h(
              "tr",
              {},
              h("td", { className: "num" }, i),
              h("th", { scope: "row" }, a.driver_type),
              h(
                "td",
                {},
                h(
                  "ul",
                  { className: "kv" },
                  Object.entries(a.payload).map(([k, v]) => h("li", {}, h("span", { className: "k" }, k), " ", JSON.stringify(v))),
                ),
              ),
            ),
          ),
        ),
      )
    : h("p", {}, "No assumptions: runs reproduce the baseline.");
  const params = Object.entries(sc.parameters);
  const parameters = params.length
    ? h(
        "table",
        {},
        h("caption", { className: "visually-hidden" }, "Parameters"),
        columnHeads(["Parameter", "Value"]),
        h(
          "tbody",
          {},
          params.map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, h("code", {}, JSON.stringify(v))))),
        ),
      )
    : h("p", {}, "No parameters: the model's defaults apply.");
  return h(
    "section",
    { "aria-labelledby": "sc-details" },
    h("h2", { id: "sc-details" }, "Definition"),
    sc.description ? h("p", {}, sc.description) : null,
    dl,
    h("h3", {}, "Assumptions"),
    assumptions,
    h("h3", {}, "Parameters"),
    parameters,
    h(
      "div",
      { className: "actions" },
      h("a", { href: `#/scenarios/${sc.id}/outputs`, className: "button" }, "Open outputs"),
      h("a", { href: `#/scenarios/${sc.id}/compare`, className: "button secondary" }, "Compare"),
      h("a", { href: `#/scenarios/${sc.id}/edit`, className: "button secondary" }, "Edit"),
      deleteControl(ctx, sc, error),
    ),
  );
}

/** "Delete scenario", then an inline confirmation (no modal dialog): Delete removes it with its runs and outputs; Keep steps back. */
function deleteControl(ctx: Ctx, sc: Scenario, error: ReturnType<typeof errorBox>): HTMLElement {
  const ask = h("button", { type: "button", className: "secondary" }, "Delete scenario");
  const keep = h("button", { type: "button", className: "secondary" }, "Keep");
  const confirm = h("button", { type: "button", className: "danger" }, "Delete");
  const question = h(
    "span",
    { role: "group", "aria-label": "Confirm deletion", className: "confirm", hidden: true },
    `Delete ${sc.name} with its runs and outputs? `,
    confirm,
    " ",
    keep,
  );
  ask.addEventListener("click", () => {
    ask.hidden = true;
    question.hidden = false;
    keep.focus();
  });
  keep.addEventListener("click", () => {
    question.hidden = true;
    ask.hidden = false;
    ask.focus();
  });
  confirm.addEventListener("click", async () => {
    error.hide();
    confirm.disabled = true;
    try {
      await api(`/v1/scenarios/${sc.id}`, { method: "DELETE", signal: ctx.signal });
      ctx.announce(`Scenario ${sc.name} deleted`);
      ctx.go("#/scenarios");
    } catch (err) {
      confirm.disabled = false;
      error.show(err);
    }
  });
  return h("span", {}, ask, question);
}

function runSection(ctx: Ctx, sc: Scenario): HTMLElement {
  const list = runsList(ctx, sc);
  return h("section", { "aria-labelledby": "runs-h" }, runForm(ctx, sc, list.add), ...list.parts);
}

/** The run form: options, overrides and idempotency key; `queued` gets the run the API created (or matched). */
function runForm(ctx: Ctx, sc: Scenario, queued: (run: Run) => void): HTMLElement {
  const codeVersion = field("Code version", h("input", { name: "code_version", value: "v1", autocomplete: "off" }));
  const priority = field(
    "Priority",
    select(
      "priority",
      ["LOW", "NORMAL", "HIGH", "CRITICAL"].map((p) => [p, p]),
      "NORMAL",
    ),
  );
  const seed = field("Seed", h("input", { name: "seed", type: "number", min: 0, step: 1, inputmode: "numeric" }), "Empty: the scenario's parameters.seed, else 42.");
  const timeout = field("Timeout (minutes)", h("input", { name: "timeout_minutes", type: "number", min: 1, max: 1440, value: 60 }));
  const retries = field("Max retries", h("input", { name: "max_retries", type: "number", min: 0, max: 10, value: 3 }));
  const overrides = field("Parameter overrides (JSON)", h("textarea", { name: "parameters", rows: 2, spellcheck: "false", className: "code" }), 'e.g. {"shock_bp": 50}');
  const idem = field("Idempotency key", h("input", { name: "idempotency_key", autocomplete: "off" }), "Optional: the same key returns the run it created.");
  const runError = errorBox();
  const runResult = h("p", { className: "result", role: "status" });
  const form = h(
    "form",
    { className: "card run-form", "aria-labelledby": "run-h" },
    h("h2", { id: "run-h" }, "Run"),
    h("div", { className: "grid" }, codeVersion.wrap, priority.wrap, seed.wrap, timeout.wrap, retries.wrap, idem.wrap),
    overrides.wrap,
    runError.el,
    h("div", { className: "actions" }, h("button", { type: "submit" }, "Run scenario")),
    runResult,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    runError.hide();
    runResult.textContent = "";
    try {
      const options: Record<string, unknown> = {
        code_version: codeVersion.control.value.trim() || "v1",
        priority: priority.control.value,
        timeout_minutes: Number(timeout.control.value || 60),
        max_retries: Number(retries.control.value || 3),
      };
      if (seed.control.value !== "") options.seed = Number(seed.control.value);
      const params = parseJson<Record<string, unknown>>("Parameter overrides", overrides.control.value, {});
      if (Object.keys(params).length) options.parameters = params;
      if (idem.control.value.trim()) options.idempotency_key = idem.control.value.trim();
      const { data, meta } = await api<Run>(`/v1/scenarios/${sc.id}/run`, { method: "POST", body: options, signal: ctx.signal });
      runResult.textContent = meta.deduplicated
        ? `An equal run already exists (matched by ${String(meta.deduplicated).replace("_", " ")}): ${short(data.id)}, ${data.state}.`
        : `Run ${short(data.id)} queued.`;
      queued(data);
    } catch (err) {
      runError.show(err);
    }
  });
  return form;
}

/** One run's table row: state, progress, counts, times, and its outputs link or cancel button. */
/** A run's parameter overrides as `key=value` lines, or a dash when it has none. */
function overrides(parameters: Record<string, unknown> | undefined): string {
  const entries = Object.entries(parameters ?? {});
  return entries.length ? entries.map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(", ") : "—";
}

/** What the run computed from, in a few words: its drivers and the curves it read. */
function inputSummary(inputs: Run["inputs"]): string {
  if (!inputs) return "—";
  const n = (count: number, one: string) => `${count} ${one}${count === 1 ? "" : "s"}`;
  return `${n(inputs.assumptions.length, "driver")}, ${n(inputs.curves.length, "curve")}`;
}

function runRow(sc: Scenario, run: Run, cancel: (runId: string) => void): HTMLTableRowElement {
  const live = !TERMINAL.has(run.state);
  const progress = h("progress", { max: 1, value: run.progress, "aria-label": `Progress of run ${short(run.id)}` });
  const err = run.error ? h("div", { className: "run-error" }, `${String(run.error.code ?? "error")}: ${String(run.error.message ?? "")}`) : null;
  return h(
    "tr",
    { "data-run-id": run.id, "data-state": run.state },
    h("th", { scope: "row" }, h("code", { title: run.id }, short(run.id))),
    h("td", { className: "state" }, stateBadge(run.state), run.cancel_requested && live ? " (cancelling)" : null, err),
    h("td", {}, progress, ` ${Math.round(run.progress * 100)}%`),
    h("td", {}, run.priority),
    h("td", { className: "num" }, run.seed),
    h("td", { className: "overrides" }, overrides(run.parameters)),
    h("td", { className: "nowrap" }, run.inputs?.asof_date ?? "—"),
    h("td", {}, inputSummary(run.inputs)),
    h("td", { className: "num" }, run.attempts),
    h("td", { className: "num" }, run.rows_written.toLocaleString("en-US")),
    h("td", {}, time(run.created_at)),
    h("td", {}, time(run.finished_at)),
    h(
      "td",
      { className: "row-actions" },
      run.state === "SUCCEEDED" ? h("a", { href: `#/scenarios/${sc.id}/outputs${qs({ run: run.id })}`, "aria-label": `Outputs of run ${short(run.id)}` }, "Outputs") : null,
      live ? h("button", { type: "button", className: "secondary small", "aria-label": `Cancel run ${short(run.id)}`, onClick: () => cancel(run.id) }, "Cancel") : null,
    ),
  );
}

/**
 * Follows live runs until they end: the events stream while few are open, else (or when the stream
 * fails) polling. `seen` gets every state read; `failed` a polling error. Returns `watch(runId)`.
 */
function liveRuns(ctx: Ctx, sc: Scenario, seen: (run: Run) => void, failed: (err: unknown) => void): (runId: string) => void {
  const watching = new Set<string>();
  let streams = 0;
  return (runId) => {
    if (watching.has(runId)) return;
    watching.add(runId);
    const path = `/v1/scenarios/${sc.id}/runs/${runId}`;
    const poll = async () => {
      while (!ctx.signal.aborted) {
        await new Promise((r) => setTimeout(r, POLL_MS));
        if (ctx.signal.aborted) return;
        try {
          const { data } = await api<Run>(path, { signal: ctx.signal });
          seen(data);
          if (TERMINAL.has(data.state)) break;
        } catch (err) {
          if (ctx.signal.aborted) return;
          failed(err);
        }
      }
      watching.delete(runId);
    };
    if (streams >= MAX_STREAMS) {
      void poll();
      return;
    }
    streams++;
    let ended = false;
    readEvents(
      `${path}/events`,
      (event, data) => {
        if (event === "run") seen(data as Run);
        if (event === "end") ended = true;
      },
      ctx.signal,
    )
      .then(
        () => {
          streams--;
          if (ended || ctx.signal.aborted) watching.delete(runId);
          else void poll();
        },
        () => {
          streams--;
          if (ctx.signal.aborted) return;
          void poll();
        },
      )
      .catch(() => {});
  };
}

/** The runs table, newest first, with a state filter and more pages on demand; `add` puts a new run on top. */
function runsList(ctx: Ctx, sc: Scenario): { parts: HTMLElement[]; add: (run: Run) => void } {
  const stateFilter = field("Show", select("state", [["", "All states"], ...["QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"].map((s): [string, string] => [s, s])]));
  const listError = errorBox();
  const tbody = h("tbody", {});
  const caption = h("caption", {}, "Runs, newest first");
  const table = h(
    "table",
    { className: "runs" },
    caption,
    columnHeads(["Run", "State", "Progress", "Priority", "Seed", "Overrides", "As of", "Inputs", "Attempts", "Rows", "Created", "Finished", "Actions"]),
    tbody,
  );
  const more = h("button", { type: "button", className: "secondary", hidden: true }, "Load more runs");
  const empty = h("p", { hidden: true }, "No runs yet.");
  const rows = new Map<string, { tr: HTMLTableRowElement; run: Run }>();
  let nextCursor: string | null = null;
  const watch = liveRuns(
    ctx,
    sc,
    (run) => upsert(run),
    (err) => listError.show(err),
  );

  /** The caption counts the rows listed, whether loaded or added by a trigger here. */
  const counted = () => {
    caption.textContent = rows.size ? `Runs, newest first (${rows.size} shown)` : "Runs";
  };

  function upsert(run: Run, prepend = false): void {
    const known = rows.get(run.id);
    const tr = runRow(sc, run, (id) => void cancel(id));
    if (known) {
      // Keep focus on a row's button across re-renders.
      const focused = known.tr.contains(document.activeElement) ? (document.activeElement as HTMLElement).textContent : null;
      known.tr.replaceWith(tr);
      if (focused) [...tr.querySelectorAll<HTMLElement>("a, button")].find((el) => el.textContent === focused)?.focus();
      if (known.run.state !== run.state) ctx.announce(`Run ${short(run.id)} is ${run.state}`);
    } else if (prepend) tbody.prepend(tr);
    else tbody.append(tr);
    rows.set(run.id, { tr, run });
    table.hidden = rows.size === 0;
    counted();
    if (!TERMINAL.has(run.state)) watch(run.id);
  }

  async function cancel(runId: string): Promise<void> {
    try {
      const { data } = await api<Run>(`/v1/scenarios/runs/${runId}/cancel`, { method: "POST", signal: ctx.signal });
      upsert(data);
      ctx.announce(`Cancel requested for run ${short(runId)}`);
    } catch (err) {
      listError.show(err);
    }
  }

  async function load(reset: boolean): Promise<void> {
    listError.hide();
    if (reset) {
      rows.clear();
      tbody.replaceChildren();
      nextCursor = null;
    }
    try {
      const { data, meta } = await api<Run[]>(
        `/v1/scenarios/${sc.id}/runs${qs({ limit: 20, state: stateFilter.control.value, cursor: reset ? undefined : (nextCursor ?? undefined) })}`,
        {
          signal: ctx.signal,
        },
      );
      for (const run of data) upsert(run);
      nextCursor = meta.next_cursor ?? null;
      more.hidden = !nextCursor;
      counted();
      empty.hidden = rows.size > 0;
    } catch (err) {
      if (!ctx.signal.aborted) listError.show(err);
    }
  }

  stateFilter.control.addEventListener("change", () => void load(true));
  more.addEventListener("click", () => void load(false));
  table.hidden = true;
  void load(true);
  const add = (run: Run) => {
    empty.hidden = true;
    upsert(run, true);
  };
  return { parts: [h("h2", { id: "runs-h" }, "Runs"), h("div", { className: "filters inline" }, stateFilter.wrap), listError.el, empty, table, more], add };
}

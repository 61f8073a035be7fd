/**
 * Assumption forms: one form per driver type, built from the driver payload schemas the API
 * validates with (src/scenarios/drivers.ts `driverForms`, put into the bundle by build.ts), with a
 * curve picker fed by `GET /v1/curves`, the API's 400 details shown next to the field they name,
 * and raw JSON as the advanced view.
 */
import type { FormField } from "../../scenarios/drivers";
import { clear, field, h, id } from "./dom";
import { type Assumption, driverLabel } from "./drivers";
import { allCurves, type CurveInfo, parseJson } from "./shell";

declare const DRIVER_FORMS_FROM_SCHEMAS: Record<string, FormField[]>;

const TYPE_NAMES: Record<string, string> = { policy: "Policy", load_growth: "Load growth", fuel_curve: "Fuel curve shock", fleet_change: "Fleet change" };

/** Field names as people read them: `basis_points_adjustment` → "Basis points adjustment". */
const labelOf = (name: string) =>
  (name.charAt(0).toUpperCase() + name.slice(1))
    .replaceAll("_", " ")
    .replace(/\bmw\b/, "MW")
    .replace(/\bpct\b/, "%");

/** "Driver 2: RPS 60 % from 2030" once the payload says what the driver is; its type until then. */
function cardTitle(a: Assumption, i: number): string {
  const label = driverLabel(`${a.driver_type}:0`, [a]);
  return `Driver ${i + 1}: ${/undefined|\?/.test(label) || label === `${a.driver_type}:0` ? (TYPE_NAMES[a.driver_type] ?? a.driver_type) : label}`;
}

/** A field's schema description, without the long scope rules a region's carries (the list suggests regions instead). */
function hintOf(f: FormField): string {
  if (f.name === "region")
    return `${f.hint?.replace(/ \(docs\/model\.md.*$/s, "") ?? ""}: a market, hub, US state or carbon program; the list suggests the power curves' markets and hubs.`;
  return f.hint ?? "";
}

/** The range a number field takes, for its hint: "2000 to 2100", "more than 0, at most 1000000". */
function rangeOf(f: FormField): string {
  const lo = f.exclusiveMinimum !== undefined ? `more than ${f.exclusiveMinimum}` : f.minimum !== undefined ? `${f.minimum}` : undefined;
  if (lo !== undefined && f.maximum !== undefined) return f.exclusiveMinimum !== undefined ? `${lo}, at most ${f.maximum}` : `${lo} to ${f.maximum}`;
  return lo ?? (f.maximum !== undefined ? `at most ${f.maximum}` : "");
}

export type AssumptionsEditor = {
  el: HTMLElement;
  /** The assumptions as the forms (or the JSON view) hold them; throws on JSON that does not parse. */
  value: () => Assumption[];
  /** Marks the fields the API's 400 details name (`/assumptions/{i}/payload/{field}`); returns how many it marked. */
  showIssues: (details: unknown) => number;
  clearIssues: () => void;
};

/** What the cards share: the drivers being edited, the inputs by field path, the curves, and how to redraw. */
type Editor = {
  items: Assumption[];
  inputs: Map<string, { control: HTMLElement; error: HTMLElement }>;
  curves: Promise<CurveInfo[]>;
  regionsId: string;
  render: () => void;
  add: HTMLButtonElement;
  cards: HTMLElement;
};

/**
 * The assumptions editor: a card per driver (type, its schema's fields, Remove), Add driver, and
 * "Edit as JSON" which swaps the cards for a textarea (and back, parsing it).
 */
export function assumptionsEditor(initial: Assumption[], signal: AbortSignal): AssumptionsEditor {
  let asJson = false;
  const json = h("textarea", { name: "assumptions", rows: 10, spellcheck: "false", className: "code", "aria-label": "Assumptions as JSON" });
  const jsonWrap = h("div", { hidden: true }, json, h("p", { className: "hint" }, "A list of {driver_type, payload}, as the API takes it."));
  const toggle = h("button", { type: "button", className: "secondary", "aria-pressed": "false" }, "Edit as JSON");
  const regions = h("datalist", { id: id("regions") });
  const ed: Editor = {
    items: initial.map((a) => ({ driver_type: a.driver_type, payload: { ...a.payload } })),
    inputs: new Map(),
    // The pickers' curves; none when the list fails (the API then judges what is typed in JSON).
    curves: allCurves(signal).catch(() => []),
    regionsId: regions.id,
    add: h("button", { type: "button", className: "secondary" }, "Add driver"),
    cards: h("div", { className: "driver-cards" }),
    render: () => {
      ed.inputs = new Map();
      clear(
        ed.cards,
        ed.items.length ? null : h("p", {}, "No drivers: the scenario is its baseline."),
        ed.items.map((a, i) => driverCard(a, i, ed)),
      );
    },
  };
  void ed.curves.then((list) => {
    const names = [...new Set(list.filter((c) => c.product === "power").flatMap((c) => [c.market, c.location]))].sort();
    clear(
      regions,
      names.map((n) => h("option", { value: n })),
    );
  });
  ed.add.addEventListener("click", () => {
    ed.items.push({ driver_type: "policy", payload: {} });
    ed.render();
    (ed.cards.lastElementChild?.querySelector("select") as HTMLSelectElement | null)?.focus();
  });
  toggle.addEventListener("click", () => {
    if (!asJson) json.value = JSON.stringify(ed.items, null, 2);
    else {
      // Back to the forms: the JSON must parse (its content is the API's to judge); else it stays open.
      try {
        ed.items = parseJson<Assumption[]>("Assumptions", json.value, []);
      } catch (err) {
        json.setCustomValidity((err as Error).message);
        json.reportValidity();
        return;
      }
      json.setCustomValidity("");
      ed.render();
    }
    asJson = !asJson;
    ed.cards.hidden = asJson;
    ed.add.hidden = asJson;
    jsonWrap.hidden = !asJson;
    toggle.textContent = asJson ? "Edit in forms" : "Edit as JSON";
    toggle.setAttribute("aria-pressed", String(asJson));
  });
  ed.render();

  const clearIssues = () => {
    for (const { control, error } of ed.inputs.values()) {
      control.removeAttribute("aria-invalid");
      control.setAttribute("aria-describedby", (control.getAttribute("aria-describedby") ?? "").replace(` ${error.id}`, ""));
      error.hidden = true;
    }
  };
  return {
    el: h(
      "fieldset",
      { className: "assumptions" },
      h("legend", {}, "Assumptions"),
      h("p", { className: "hint" }, "Each driver's fields are those the API validates; the API's messages appear next to the field they name."),
      regions,
      ed.cards,
      jsonWrap,
      h("div", { className: "actions" }, ed.add, toggle),
    ),
    value: () => (asJson ? parseJson<Assumption[]>("Assumptions", json.value, []) : ed.items.map((a) => ({ driver_type: a.driver_type, payload: { ...a.payload } }))),
    clearIssues,
    showIssues: (details) => {
      clearIssues();
      if (asJson || !Array.isArray(details)) return 0;
      let marked = 0;
      for (const d of details as { field?: string; message?: string }[]) {
        const target = ed.inputs.get(String(d.field ?? ""));
        if (!target) continue;
        target.control.setAttribute("aria-invalid", "true");
        target.control.setAttribute("aria-describedby", `${target.control.getAttribute("aria-describedby") ?? ""} ${target.error.id}`.trim());
        target.error.textContent = String(d.message ?? "is not valid");
        target.error.hidden = false;
        if (marked++ === 0) target.control.focus();
      }
      return marked;
    },
  };
}

/** One driver's card: its type, the fields of that type's schema, and Remove. */
function driverCard(a: Assumption, i: number, ed: Editor): HTMLElement {
  const typeSelect = field(
    "Driver type",
    h(
      "select",
      { name: `driver-${i}-type` },
      Object.keys(DRIVER_FORMS_FROM_SCHEMAS).map((t) => h("option", { value: t, selected: t === a.driver_type }, TYPE_NAMES[t] ?? t)),
    ),
  );
  typeSelect.control.value = a.driver_type;
  typeSelect.control.addEventListener("change", () => {
    ed.items[i] = { driver_type: typeSelect.control.value, payload: {} };
    ed.render();
    (ed.cards.querySelector(`[data-driver="${i}"] select`) as HTMLSelectElement | null)?.focus();
  });
  const legend = h("legend", {}, cardTitle(a, i));
  const remove = h("button", { type: "button", className: "secondary" }, `Remove driver ${i + 1}`);
  remove.addEventListener("click", () => {
    ed.items.splice(i, 1);
    ed.render();
    ed.add.focus();
  });
  const fields = (DRIVER_FORMS_FROM_SCHEMAS[a.driver_type] ?? []).map((f) =>
    payloadControl(a, i, f, ed, () => {
      legend.textContent = cardTitle(a, i);
    }),
  );
  return h("fieldset", { className: "driver-card", "data-driver": i }, legend, typeSelect.wrap, fields, h("div", { className: "actions" }, remove));
}

/** One payload field as a control of its kind; a change writes it into the driver's payload. */
function payloadControl(a: Assumption, i: number, f: FormField, ed: Editor, changed: () => void): HTMLElement {
  const value = a.payload[f.name];
  const range = f.kind === "integer" || f.kind === "number" ? rangeOf(f) : "";
  const hint = [f.required ? "Required." : "Optional.", range && `${range}.`, hintOf(f)].filter(Boolean).join(" ");
  let el: HTMLInputElement | HTMLSelectElement;
  if (f.kind === "choice") {
    el = h(
      "select",
      {},
      f.required ? null : h("option", { value: "" }, "(none)"),
      (f.choices ?? []).map((c) => h("option", { value: c }, c)),
    );
    el.value = value === undefined ? (f.required ? (f.choices?.[0] ?? "") : "") : (f.choices?.find((c) => c.toLowerCase() === String(value).toLowerCase()) ?? String(value));
    if (f.required && value === undefined) a.payload[f.name] = el.value;
  } else if (f.kind === "curve") el = curvePicker(a, f, ed);
  else {
    const numeric = f.kind === "integer" || f.kind === "number";
    el = h("input", {
      type: numeric ? "number" : f.kind === "date" ? "date" : "text",
      autocomplete: "off",
      step: f.kind === "integer" ? 1 : numeric ? "any" : null,
      min: f.minimum ?? null,
      max: f.maximum ?? null,
      list: f.name === "region" ? ed.regionsId : null,
      value: value === undefined ? "" : String(value),
    });
  }
  el.name = `driver-${i}-${f.name}`;
  if (f.required) el.setAttribute("aria-required", "true");
  el.addEventListener("change", () => {
    const raw = el.value.trim();
    if (raw === "") delete a.payload[f.name];
    // A number that does not parse goes as typed: the API's 400 then says what it must be.
    else a.payload[f.name] = (f.kind === "integer" || f.kind === "number") && Number.isFinite(Number(raw)) ? Number(raw) : raw;
    // A fuel driver's curve list follows its fuel.
    if (f.kind === "choice") for (const other of el.closest("fieldset")?.querySelectorAll(`[data-product-field="${f.name}"]`) ?? []) other.dispatchEvent(new Event("aurum:refill"));
    changed();
  });
  const wrapped = field(labelOf(f.name), el, hint);
  const error = h("p", { className: "field-error", id: `${el.id}-error`, hidden: true });
  wrapped.wrap.append(error);
  ed.inputs.set(`/assumptions/${i}/payload/${f.name}`, { control: el, error });
  return wrapped.wrap;
}

/** A select of the curves of the field's product (or of the product another field names, refilled when it changes). */
function curvePicker(a: Assumption, f: FormField, ed: Editor): HTMLSelectElement {
  const el = h("select", {});
  const fill = async () => {
    const product = typeof f.product === "string" ? f.product : String(a.payload[f.product?.field ?? ""] ?? "");
    const keys = (await ed.curves).filter((c) => c.product === product).map((c) => c.curve_key);
    const current = a.payload[f.name] === undefined ? "" : String(a.payload[f.name]);
    // A stored key the list does not have (yet) stays choosable: the API judges it.
    if (current && !keys.includes(current) && el.getAttribute("data-product") === null) keys.unshift(current);
    clear(
      el,
      f.required ? null : h("option", { value: "" }, "(none)"),
      keys.map((k) => h("option", { value: k }, k)),
    );
    el.value = keys.includes(current) ? current : f.required ? (keys[0] ?? "") : "";
    if (el.value) a.payload[f.name] = el.value;
    else delete a.payload[f.name];
    el.setAttribute("data-product", product);
  };
  void fill();
  if (typeof f.product === "object") el.setAttribute("data-product-field", f.product.field);
  el.addEventListener("aurum:refill", () => void fill());
  return el;
}

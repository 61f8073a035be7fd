/** Tiny DOM helpers: elements with attributes and listeners, SVG elements, formatting. */

export type Child = Node | string | number | null | undefined | false | Child[];
type AttrValue = string | number | boolean | null | undefined | ((event: Event) => void);
export type Attrs = Record<string, AttrValue>;

function apply(el: Element, attrs: Attrs, children: Child[]): void {
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === "function") el.addEventListener(key.slice(2).toLowerCase(), value as EventListener);
    else el.setAttribute(key === "className" ? "class" : key, value === true ? "" : String(value));
  }
  append(el, children);
}

export function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(typeof c === "number" ? String(c) : c);
  }
}

/** An HTML element: `h("button", { type: "button", onClick }, "Run")`. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  apply(el, attrs, children);
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** An SVG element, same shape as `h`. */
export function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  apply(el, attrs, children);
  return el;
}

export function clear(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

let uid = 0;
/** A document-unique id for label/for and aria-describedby pairs. */
export const id = (prefix: string) => `${prefix}-${++uid}`;

/** A labelled form control with an optional hint; returns the wrapper and the control. */
export function field<E extends HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>(label: string, control: E, hint?: string): { wrap: HTMLElement; control: E } {
  control.id ||= id("f");
  const hintId = hint ? `${control.id}-hint` : undefined;
  if (hintId) control.setAttribute("aria-describedby", hintId);
  const wrap = h("div", { className: "field" }, h("label", { for: control.id }, label), control, hint ? h("p", { className: "hint", id: hintId }, hint) : null);
  return { wrap, control };
}

export function select(name: string, options: [value: string, label: string][], value = ""): HTMLSelectElement {
  const el = h("select", { name });
  for (const [v, l] of options) el.append(h("option", { value: v, selected: v === value }, l));
  el.value = value;
  return el;
}

/**
 * Numbers for people, one rule everywhere (as the CLI): the reader's locale, 6 significant digits
 * (61.2534, 13,018.4, 0.00123457); `compact` (axis ticks) at most 2 decimals. Exact values stay in
 * tooltips, `data-value` attributes and downloads.
 */
const numberFormat = new Intl.NumberFormat(undefined, { maximumSignificantDigits: 6 });
const compactFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });

export function fmt(n: number | null | undefined, compact = false): string {
  if (n === null || n === undefined) return "—";
  if (!Number.isFinite(n)) return String(n);
  return (compact ? compactFormat : numberFormat).format(n);
}

/** A numeric table cell: the value formatted, the exact value as its tooltip and `data-value`. */
export function numCell(n: number | null | undefined): HTMLTableCellElement {
  return h("td", { className: "num", "data-value": n === null || n === undefined ? null : String(n), title: n === null || n === undefined ? null : String(n) }, fmt(n));
}

/** A labelled select whose options are their own labels. */
export function choice(label: string, name: string, values: string[], value: string): { wrap: HTMLElement; control: HTMLSelectElement } {
  return field(
    label,
    select(
      name,
      values.map((v) => [v, v]),
      value,
    ),
  );
}

/** A table's head: one column header per name. */
export function columnHeads(names: string[]): HTMLTableSectionElement {
  return h(
    "thead",
    {},
    h(
      "tr",
      {},
      names.map((c) => h("th", { scope: "col" }, c)),
    ),
  );
}

/** `2026-11-29T02:19:22.674000Z` → `2026-11-29 02:19:22Z` inside a <time>. */
export function time(iso: string | null | undefined): Node | string {
  if (!iso) return "—";
  return h("time", { datetime: iso }, iso.replace("T", " ").replace(/\.\d+Z$/, "Z"));
}

export const short = (uuid: string) => uuid.slice(0, 8);

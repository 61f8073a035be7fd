/** Output helpers: JSON for scripts, aligned tables for people, and a status line on stderr. */

export function printJson(value: unknown): undefined {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export type Column<T> = [header: string, cell: (row: T) => unknown];

export function printTable<T>(rows: T[], columns: Column<T>[]): void {
  const cells = rows.map((r) => columns.map(([, cell]) => text(cell(r))));
  const widths = columns.map(([h], i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)));
  const line = (values: string[]) => `${values.map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i] as number))).join("  ")}\n`;
  let out = line(columns.map(([h]) => h));
  for (const c of cells) out += line(c);
  process.stdout.write(out);
}

/** How one field is shown instead of its plain value (e.g. a fraction as a percentage). */
export type FieldFormat = Record<string, (value: unknown) => string>;

/**
 * `key: value` lines for one record, for people: nested objects and lists of objects as indented
 * blocks (YAML-like), numbers rounded for display (`--json` prints them exactly).
 */
export function printFields(record: Record<string, unknown>, keys: string[] = Object.keys(record), format: FieldFormat = {}): undefined {
  process.stdout.write(renderFields(record, keys, format));
}

export function renderFields(record: Record<string, unknown>, keys: string[] = Object.keys(record), format: FieldFormat = {}): string {
  const width = Math.max(...keys.map((k) => k.length));
  return keys
    .map((k) => {
      const v = record[k];
      const shown = format[k] ?? text;
      return !format[k] && isBlock(v) ? `${k}:\n${block(v, 1)}` : `${`${k}:`.padEnd(width + 1)} ${shown(v)}\n`;
    })
    .join("");
}

/** A value shown on lines of its own: a non-empty object, or a list holding an object or a list. */
function isBlock(v: unknown): v is object {
  if (Array.isArray(v)) return v.some((x) => x !== null && typeof x === "object");
  return v !== null && typeof v === "object" && Object.keys(v).length > 0;
}

/** Indented lines for an object or a list (`- ` per item), two spaces a level. */
function block(v: object, depth: number): string {
  const pad = "  ".repeat(depth);
  if (Array.isArray(v)) {
    return v
      .map((item) => {
        if (!isBlock(item)) return `${pad}- ${text(item)}\n`;
        // The item's first line goes after the dash; the rest keep the item's indentation.
        const inner = block(item, depth + 1);
        return `${pad}- ${inner.slice(pad.length + 2)}`;
      })
      .join("");
  }
  return Object.entries(v)
    .map(([k, x]) => (isBlock(x) ? `${pad}${k}:\n${block(x, depth + 1)}` : `${pad}${k}: ${text(x)}\n`))
    .join("");
}

/** A scalar (or a flat list) as a table cell or a field value. */
function text(v: unknown): string {
  if (v === null || v === undefined) return "-";
  if (typeof v === "number") return num(v);
  if (Array.isArray(v)) return v.length ? v.map(text).join(", ") : "[]";
  if (typeof v === "object") return Object.keys(v).length ? JSON.stringify(v) : "{}";
  return String(v);
}

/** A number for people: integers as they are, others to 6 significant digits (6212.3634925240685 → 6212.36). */
export function num(v: number): string {
  if (Number.isInteger(v) || !Number.isFinite(v)) return String(v);
  return String(Number(v.toPrecision(6)));
}

/** A fraction 0..1 as a whole percentage, rounded down (a run is not 100 % until it is done). */
export const percent = (v: unknown) => (typeof v === "number" ? `${Math.floor(v * 100)}%` : text(v));

export const count = (n: number) => Math.round(n).toLocaleString("en-US");

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/**
 * One line on stderr that a terminal sees rewritten in place (`\r`, at most 10 times a second);
 * a pipe or a log file gets a plain line each time the caller's `key` changes instead.
 */
export class StatusLine {
  private readonly tty = Boolean(process.stderr.isTTY);
  private lastKey: string | undefined;
  private lastDraw = Number.NEGATIVE_INFINITY;
  private shown = false;

  update(text: string, key: string = text): void {
    if (this.tty) {
      const now = performance.now();
      if (now - this.lastDraw < 100) return;
      this.lastDraw = now;
      process.stderr.write(`\r${text}\x1b[K`);
      this.shown = true;
    } else if (key !== this.lastKey) {
      this.lastKey = key;
      process.stderr.write(`${text}\n`);
    }
  }

  /** The final line: always shown, and the terminal line is ended. */
  done(text: string): void {
    process.stderr.write(this.tty ? `\r${text}\x1b[K\n` : `${text}\n`);
    this.shown = false;
  }

  /** Ends a half-drawn terminal line so a message printed next starts on its own line. */
  clear(): void {
    if (this.tty && this.shown) process.stderr.write("\n");
    this.shown = false;
  }
}

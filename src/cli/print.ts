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

/** `key: value` lines for one record. */
export function printFields(record: Record<string, unknown>, keys: string[] = Object.keys(record)): undefined {
  const width = Math.max(...keys.map((k) => k.length));
  process.stdout.write(keys.map((k) => `${`${k}:`.padEnd(width + 1)} ${text(record[k])}\n`).join(""));
}

function text(v: unknown): string {
  if (v === null || v === undefined) return "-";
  if (Array.isArray(v)) return v.map(String).join(",");
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

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

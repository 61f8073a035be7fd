/**
 * Whole records out of a byte stream, so a download only ever stops between rows: CSV records
 * (RFC 4180: a line feed inside a quoted field is data) or NDJSON lines. Also reads the sort key
 * of a record back, which is where an interrupted export resumes.
 */
import { CliError, EXIT } from "./errors";

const LF = 0x0a;
const QUOTE = 0x22;

export type Records = {
  /** The complete records ended by this chunk, with the bytes held back from earlier chunks. */
  bytes: Uint8Array;
  count: number;
  first: Uint8Array;
  last: Uint8Array;
};

export class RecordSplitter {
  private inQuotes = false;
  private held: Uint8Array[] = [];

  constructor(private readonly csv: boolean) {}

  /** Null when the chunk ends no record (its bytes are held for the next one). */
  push(chunk: Uint8Array): Records | null {
    let count = 0;
    let firstEnd = -1;
    let prevEnd = -1;
    let lastEnd = -1;
    if (this.csv) {
      let inQuotes = this.inQuotes;
      for (let i = 0; i < chunk.length; i++) {
        const b = chunk[i];
        // A doubled quote inside a quoted field toggles twice, which is exactly right.
        if (b === QUOTE) inQuotes = !inQuotes;
        else if (b === LF && !inQuotes) {
          count++;
          if (firstEnd < 0) firstEnd = i;
          prevEnd = lastEnd;
          lastEnd = i;
        }
      }
      this.inQuotes = inQuotes;
    } else {
      for (let i = chunk.indexOf(LF); i >= 0; i = chunk.indexOf(LF, i + 1)) {
        count++;
        if (firstEnd < 0) firstEnd = i;
        prevEnd = lastEnd;
        lastEnd = i;
      }
    }
    if (count === 0) {
      this.held.push(chunk);
      return null;
    }
    const bytes = concat([...this.held, chunk.subarray(0, lastEnd + 1)]);
    const chunkStart = bytes.length - (lastEnd + 1);
    this.held = lastEnd + 1 < chunk.length ? [chunk.slice(lastEnd + 1)] : [];
    const first = bytes.subarray(0, chunkStart + firstEnd + 1);
    return { bytes, count, first, last: count === 1 ? first : bytes.subarray(chunkStart + prevEnd + 1) };
  }

  /** Bytes after the last complete record (non-empty only if a stream ends without a final line feed). */
  rest(): Uint8Array {
    return concat(this.held);
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The fields of one CSV record (RFC 4180), without its line end. */
export function csvFields(record: string): string[] {
  const text = record.endsWith("\r\n") ? record.slice(0, -2) : record.endsWith("\n") ? record.slice(0, -1) : record;
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (text[i] === '"') {
      let value = "";
      let j = i + 1;
      for (;;) {
        const close = text.indexOf('"', j);
        if (close < 0) throw new Error("unterminated quoted field");
        value += text.slice(j, close);
        if (text[close + 1] === '"') {
          value += '"';
          j = close + 2;
        } else {
          i = close + 1;
          break;
        }
      }
      fields.push(value);
    } else {
      const comma = text.indexOf(",", i);
      const end = comma < 0 ? text.length : comma;
      fields.push(text.slice(i, end));
      i = end;
    }
    if (i >= text.length) return fields;
    if (text[i] !== ",") throw new Error(`unexpected character after a quoted field at ${i}`);
    i++;
  }
}

/** Where an output row sits in the export's order (`metric, curve_key, tenor_type, contract_month`). */
export type RowKey = { metric: string; curve_key: string; tenor_type: string; contract_month: string };
const KEY_COLUMNS = ["metric", "curve_key", "tenor_type", "contract_month"] as const;

const decoder = new TextDecoder();

/** The key of a data record; `header` is the CSV header's column names (NDJSON names its fields). */
export function rowKey(record: Uint8Array, header: string[] | null): RowKey {
  const text = decoder.decode(record);
  try {
    let values: Record<string, unknown>;
    if (header) {
      const fields = csvFields(text);
      values = Object.fromEntries(header.map((name, i) => [name, fields[i]]));
    } else {
      values = JSON.parse(text);
    }
    const key = Object.fromEntries(KEY_COLUMNS.map((c) => [c, values[c]]));
    if (KEY_COLUMNS.some((c) => typeof key[c] !== "string")) throw new Error(`missing one of ${KEY_COLUMNS.join(", ")}`);
    return key as RowKey;
  } catch (err) {
    throw new CliError(`cannot read the sort key of an output row (${(err as Error).message}): ${text.slice(0, 200)}`, EXIT.API);
  }
}

/** The server's last line when an NDJSON export fails midway: `{"error": {...}}`. */
export function ndjsonError(record: Uint8Array): string | null {
  if (record[0] !== 0x7b || !decoder.decode(record.subarray(0, 10)).startsWith('{"error"')) return null;
  try {
    const { error } = JSON.parse(decoder.decode(record)) as { error: { message?: string; request_id?: string } };
    return `${error.message ?? "the export failed"}${error.request_id ? ` (request ${error.request_id})` : ""}`;
  } catch {
    return null;
  }
}

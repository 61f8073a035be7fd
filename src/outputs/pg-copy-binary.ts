/**
 * Output rows in COPY's binary format (PostgreSQL documentation, "COPY", "Binary Format"), for the
 * Postgres output store's `COPY scenario_output (...) FROM STDIN WITH (FORMAT binary)`: a header,
 * then per row a field count and each field as its length and its bytes in the type's binary
 * form (what the type's `recv` function reads), then a trailer.
 *
 * Why binary: the server reads doubles, dates and uuids from it without parsing text. psql's COPY
 * of the same 107,840 output rows into `scenario_output` took 400 ms in binary against 570 ms in
 * text (medians of 5 alternating rounds; docs/decisions/0007-postgres-ingest.md). The catch is that
 * each field must be in exactly its column's type: the columns and their kinds come from row.ts,
 * and a batch column this file does not know fails at load, not mid-run.
 *
 * Text repeated across a run (curve keys, tenor types and labels, metrics) is encoded once per
 * write and then copied; attribution texts (one per row) are encoded as they come.
 */
import { attributionAt, textAt } from "../engine/batch";
import type { OutputBatch } from "../engine/types";
import { quoteNonFinite } from "./finite";
import { BATCH_COLUMNS, type ColumnKind, field, OUTPUT_TABLE, RUN_COLUMNS } from "./row";
import type { RunOutputMeta } from "./store";

/** Signature, flags (no OIDs), header extension length (none). */
const HEADER = Buffer.concat([Buffer.from("PGCOPY\n\xff\r\n\0", "latin1"), Buffer.alloc(8)]);
/** A field count of -1 ends the data. */
const TRAILER = Buffer.from([0xff, 0xff]);
/** Postgres counts dates in days and timestamps in microseconds from 2000-01-01 (UTC). */
const PG_EPOCH_MS = Date.UTC(2000, 0, 1);
const DAY_MS = 86_400_000;
/** Room past a chunk's size for the row that crosses it; a larger row grows the buffer. */
const ROW_ROOM = 64 * 1024;
/** Distinct texts kept encoded per write, beyond which a text is encoded each time it comes. */
const TEXT_CACHE = 10_000;

/** The batch's columns in the order `add` writes them: a column added to row.ts must be added here too. */
const BATCH_ORDER = ["curve_key", "tenor_type", "contract_month", "tenor_label", "metric", "value", "band_lower", "band_upper", "attribution"];

/** Throws unless `columns` are the batch columns `add` writes, in its order (checked when this module loads). */
export function assertBatchColumns(columns: readonly string[]): void {
  if (columns.join() !== BATCH_ORDER.join()) throw new Error(`pg-copy-binary.ts writes ${BATCH_ORDER.join(", ")}; the batch columns are ${columns.join(", ")}`);
}
assertBatchColumns(BATCH_COLUMNS);

/** A text field: its length, then its UTF-8 bytes. */
function textField(v: string): Buffer {
  const bytes = Buffer.from(v, "utf8");
  const out = Buffer.allocUnsafe(4 + bytes.length);
  out.writeInt32BE(bytes.length, 0);
  bytes.copy(out, 4);
  return out;
}

/** Days from Postgres's epoch to a day (month 1-12). */
const pgDay = (year: number, month: number, day: number): number => (Date.UTC(year, month - 1, day) - PG_EPOCH_MS) / DAY_MS;

/** Days from Postgres's epoch to a `YYYY-MM-DD` date; throws on anything else. */
function pgDays(date: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  const days = m ? pgDay(Number(m[1]), Number(m[2]), Number(m[3])) : Number.NaN;
  if (!Number.isFinite(days)) throw new Error(`not a date: ${JSON.stringify(date)}`);
  return days;
}

/** A run column's field, from the run's metadata, in its column's binary form. */
function runField(kind: ColumnKind, v: string): Buffer {
  switch (kind) {
    case "text":
      return textField(v);
    case "uuid": {
      const hex = v.replace(/-/g, "");
      if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new Error(`not a uuid: ${JSON.stringify(v)}`);
      return Buffer.concat([int32(16), Buffer.from(hex, "hex")]);
    }
    case "date":
      return Buffer.concat([int32(4), int32(pgDays(v))]);
    case "timestamp": {
      const ms = Date.parse(v);
      if (!Number.isFinite(ms)) throw new Error(`not a timestamp: ${JSON.stringify(v)}`);
      const out = Buffer.allocUnsafe(12);
      out.writeInt32BE(8, 0);
      out.writeBigInt64BE(BigInt(ms - PG_EPOCH_MS) * 1000n, 4);
      return out;
    }
    default:
      throw new Error(`a run column of kind ${kind} has no binary form here`);
  }
}

function int32(v: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeInt32BE(v, 0);
  return out;
}

/**
 * One write's rows in binary, gathered into chunks: `add` appends a row and returns the bytes
 * pending, `take` hands them over (the header before the first row, the trailer after the last
 * when `last`). A chunk is a view of the one buffer every chunk is written into: the caller must
 * be done with it (the stream has passed it on) before the next `add`. A new buffer per chunk, as
 * first built, raised the worker's peak for a 4.9 M-row run by ~80 MB (385.5 against 302.6 MB with
 * COPY text): the collector frees a buffer's memory well after its young collection.
 */
export function copyBinaryRows(meta: RunOutputMeta, chunkBytes: number) {
  const fieldCount = Buffer.allocUnsafe(2);
  fieldCount.writeInt16BE(RUN_COLUMNS.length + BATCH_COLUMNS.length, 0);
  const prefix = Buffer.concat([fieldCount, ...RUN_COLUMNS.map((c) => runField(OUTPUT_TABLE[c].kind, meta[field(c)]))]);
  const texts = new Map<string, Buffer>();
  const text = (v: string): Buffer => {
    let f = texts.get(v);
    if (!f) {
      f = textField(v);
      if (texts.size < TEXT_CACHE) texts.set(v, f);
    }
    return f;
  };
  const days = new Map<number, number>();
  /** Days from Postgres's epoch to the first of a `yyyymm` month. */
  const monthDays = (cm: number): number => {
    let d = days.get(cm);
    if (d === undefined) {
      d = pgDay(Math.floor(cm / 100), cm % 100, 1);
      days.set(cm, d);
    }
    return d;
  };
  let buf = Buffer.allocUnsafe(chunkBytes + ROW_ROOM);
  let pos = HEADER.copy(buf, 0);
  /** Room for `n` more bytes: a larger buffer (for an outsized row) if this one is short. */
  const reserve = (n: number) => {
    if (pos + n <= buf.length) return;
    const bigger = Buffer.allocUnsafe(pos + n + ROW_ROOM);
    buf.copy(bigger, 0, 0, pos);
    buf = bigger;
  };
  const put = (f: Buffer) => {
    pos += f.copy(buf, pos);
  };
  const putDouble = (v: number) => {
    buf.writeInt32BE(8, pos);
    buf.writeDoubleBE(v, pos + 4);
    pos += 12;
  };

  return {
    add(b: OutputBatch, i: number): number {
      const curve = text(textAt(b, "curveKey", i));
      const tenor = text(textAt(b, "tenorType", i));
      const label = text(textAt(b, "tenorLabel", i));
      const metric = text(textAt(b, "metric", i));
      const attribution = attributionAt(b, i);
      const json = attribution == null ? undefined : quoteNonFinite(attribution);
      // fixed fields: the date (8 bytes), three doubles (12 each), the jsonb's length and version (5)
      reserve(prefix.length + curve.length + tenor.length + label.length + metric.length + 8 + 36 + 5 + (json === undefined ? 0 : 3 * json.length));
      put(prefix);
      put(curve);
      put(tenor);
      buf.writeInt32BE(4, pos);
      buf.writeInt32BE(monthDays(b.contractMonth[i] as number), pos + 4);
      pos += 8;
      put(label);
      put(metric);
      putDouble(b.value[i] as number);
      putDouble(b.bandLower[i] as number);
      putDouble(b.bandUpper[i] as number);
      if (json === undefined) {
        buf.writeInt32BE(-1, pos);
        pos += 4;
      } else {
        // jsonb's binary form: a version byte (1), then the JSON text
        const n = buf.write(json, pos + 5, "utf8");
        buf.writeInt32BE(n + 1, pos);
        buf[pos + 4] = 1;
        pos += 5 + n;
      }
      return pos;
    },
    /** The bytes gathered since the last `take`; `last` appends the trailer. */
    take(last = false): Buffer {
      if (last) {
        reserve(TRAILER.length);
        put(TRAILER);
      }
      const out = buf.subarray(0, pos);
      pos = 0;
      return out;
    },
  };
}

/**
 * Streaming CSV parsing and validation of curve files (fast-csv). Yields validated batches so an
 * import holds one batch in memory, not the file; the first bad record stops the import with a
 * 400 that names its line.
 */
import { parse } from "fast-csv";
import { AppError } from "../platform/errors";
import { isCalendarDate } from "../platform/time";
import { midProblem } from "./bounds";
import { BLOCKS, type Block, CSV_COLUMNS, CURVE_KEY_PATTERN, PRODUCTS, type Product } from "./model";

export type CurveIdentity = { market: string; location: string; product: Product; block: Block; unit: string };

/** Columnar batch of observations; `line` is the 1-based line of each record in the file. */
export type ObservationBatch = { line: number[]; curveKey: string[]; asofDate: string[]; contractMonth: string[]; mid: number[] };

const KEY = new RegExp(CURVE_KEY_PATTERN);
const MONTH = /^(\d{4})-(\d{2})(?:-01)?$/;

/** The longest record (line) accepted: a real one is under 200 bytes; an unclosed quote would otherwise swallow the file. */
export const MAX_RECORD_BYTES = 64 * 1024;
/** How much of a value or a parser message an error quotes. */
const EXCERPT = 200;

function excerpt(text: string): string {
  return text.length > EXCERPT ? `${text.slice(0, EXCERPT)}…` : text;
}

function lineError(line: number, column: string, message: string): AppError {
  return new AppError("VALIDATION_ERROR", `line ${line}: ${column} ${message}; nothing was imported`, [{ field: `line ${line}: ${column}`, location: "body", message }]);
}

/**
 * Parses and validates a CSV stream. `identities` collects each curve's identity (with the line
 * that first defined it); a later line that disagrees is rejected.
 */
export async function* parseCurveCsv(
  body: ReadableStream<Uint8Array>,
  identities: Map<string, CurveIdentity & { line: number }>,
  batchRows = 5000,
): AsyncGenerator<ObservationBatch> {
  const parser = parse({ headers: false, ignoreEmpty: true, trim: true, strictColumnHandling: false });
  const reader = body.getReader();
  void feed(reader, parser);
  let line = 0;
  let batch: ObservationBatch = { line: [], curveKey: [], asofDate: [], contractMonth: [], mid: [] };
  try {
    for await (const record of records(parser)) {
      line++;
      if (line === 1) {
        const header = record.map((h) => h.toLowerCase());
        if (header.length !== CSV_COLUMNS.length || header.some((h, i) => h !== CSV_COLUMNS[i])) {
          throw new AppError("VALIDATION_ERROR", `line 1: the header must be ${CSV_COLUMNS.join(",")}; nothing was imported`, [
            { field: "line 1", location: "body", message: `expected ${CSV_COLUMNS.join(",")}, got ${excerpt(record.join(","))}` },
          ]);
        }
        continue;
      }
      if (record.length !== CSV_COLUMNS.length) throw lineError(line, "record", `has ${record.length} fields, expected ${CSV_COLUMNS.length}`);
      const [curveKey, market, location, productRaw, blockRaw, unit, asof, month, midRaw] = record as [string, string, string, string, string, string, string, string, string];
      if (!KEY.test(curveKey)) throw lineError(line, "curve_key", `must match ${CURVE_KEY_PATTERN}`);
      for (const [name, value, max] of [
        ["market", market, 64],
        ["location", location, 128],
        ["unit", unit, 32],
      ] as const) {
        if (value === "" || value.length > max || value.includes("\u0000")) throw lineError(line, name, `must be 1..${max} characters`);
      }
      const product = PRODUCTS.find((p) => p === productRaw.toLowerCase());
      if (!product) throw lineError(line, "product", `must be one of ${PRODUCTS.join(", ")}`);
      const block = BLOCKS.find((b) => b === blockRaw.toUpperCase());
      if (!block) throw lineError(line, "block", `must be one of ${BLOCKS.join(", ")}`);
      if (!isCalendarDate(asof)) throw lineError(line, "asof_date", "must be a date YYYY-MM-DD");
      const m = MONTH.exec(month);
      if (!m || !isCalendarDate(`${m[1]}-${m[2]}-01`)) throw lineError(line, "contract_month", "must be a month YYYY-MM (or YYYY-MM-01)");
      // Number() also reads "NaN", "Infinity" and "1e999" (Infinity); midProblem refuses them and out-of-range values.
      const mid = midRaw === "" ? Number.NaN : Number(midRaw);
      const problem = midProblem(mid, unit);
      if (problem) throw lineError(line, "mid", problem);

      const known = identities.get(curveKey);
      if (!known) identities.set(curveKey, { market, location, product, block, unit, line });
      else if (known.market !== market || known.location !== location || known.product !== product || known.block !== block || known.unit !== unit) {
        throw lineError(line, "curve_key", `${curveKey} was defined on line ${known.line} with other market/location/product/block/unit`);
      }
      batch.line.push(line);
      batch.curveKey.push(curveKey);
      batch.asofDate.push(asof);
      batch.contractMonth.push(`${m[1]}-${m[2]}-01`);
      batch.mid.push(mid);
      if (batch.line.length >= batchRows) {
        yield batch;
        batch = { line: [], curveKey: [], asofDate: [], contractMonth: [], mid: [] };
      }
    }
  } catch (err) {
    if (err instanceof AppError) throw err;
    // A client that went away (or any read failure) ends the import like a bad file: nothing is stored.
    if (err instanceof BodyReadError) throw new AppError("VALIDATION_ERROR", `the request body could not be read (${excerpt(String(err.cause))}); nothing was imported`);
    // fast-csv reports malformed quoting and the like as plain errors; its message quotes the rest of
    // the record, so only an excerpt is passed on.
    throw lineError(line + 1, "record", `is not valid CSV (${excerpt((err as Error).message)})`);
  } finally {
    parser.destroy();
    reader.cancel().catch(() => {});
  }
  if (line === 0)
    throw new AppError("VALIDATION_ERROR", "line 1: the file is empty, expected a header; nothing was imported", [
      { field: "line 1", location: "body", message: "missing header" },
    ]);
  if (batch.line.length) yield batch;
}

/** The body stream failed (the client disconnected mid-upload, say). */
class BodyReadError extends Error {}

type CsvParser = ReturnType<typeof parse>;

/**
 * Feeds the body into the parser chunk by chunk. Every failure, including the client going away, is
 * handed to the parser as its error (so the consumer sees it) and never escapes as an unhandled one.
 * Each chunk is first scanned for a record longer than MAX_RECORD_BYTES (fast-csv rescans an open
 * record on every chunk, which made one unclosed quote cost minutes). The parser then gets it in
 * slices of 16 KiB, and the event loop a turn whenever 10 ms went by without one, so other requests
 * are served during any import (16 KiB of the costliest input, blank lines, parse in ~30 ms).
 */
async function feed(reader: ReadableStreamDefaultReader<Uint8Array>, parser: CsvParser): Promise<void> {
  const SLICE = 16 * 1024;
  const guard = recordGuard();
  let turn = performance.now();
  try {
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (err) {
        throw err instanceof AppError ? err : new BodyReadError("body read failed", { cause: err });
      }
      if (parser.destroyed) return;
      if (chunk.done) {
        parser.end();
        return;
      }
      guard(chunk.value);
      for (let at = 0; at < chunk.value.byteLength; at += SLICE) {
        if (!parser.write(chunk.value.subarray(at, at + SLICE))) await drained(parser);
        if (parser.destroyed) return;
        if (performance.now() - turn > 10) {
          await new Promise((resolve) => setImmediate(resolve));
          turn = performance.now();
        }
      }
    }
  } catch (err) {
    if (!parser.destroyed) parser.destroy(err as Error);
  }
}

function drained(parser: CsvParser): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      parser.off("drain", done);
      parser.off("close", done);
      resolve();
    };
    parser.on("drain", done);
    parser.on("close", done);
  });
}

/**
 * A scanner that follows quoting across chunks and throws a 400 naming the record (counted as the
 * parser counts them: non-blank lines, a quoted line break belonging to its record) once one grows
 * past MAX_RECORD_BYTES.
 */
export function recordGuard(): (chunk: Uint8Array) => void {
  let quoted = false;
  let length = 0;
  let blank = true;
  let records = 0;
  const tooLong = () => lineError(records + 1, "record", `is longer than ${MAX_RECORD_BYTES} bytes${quoted ? " (a quote opened in it is never closed)" : ""}`);
  // Only quotes and line feeds change state; the bytes between them are skipped with indexOf
  // (native), so the scan costs ~1% of an import rather than a JS loop over every byte.
  return (chunk) => {
    const n = chunk.length;
    const next = (byte: number, from: number) => {
      const at = chunk.indexOf(byte, from);
      return at < 0 ? n : at;
    };
    let i = 0;
    let quote = next(0x22, 0);
    let feed = next(0x0a, 0);
    while (i < n) {
      if (feed < i) feed = next(0x0a, i);
      const stop = quoted ? quote : Math.min(quote, feed);
      if (blank) {
        for (let j = i; j < stop; j++) {
          const b = chunk[j] as number;
          if (b !== 0x0d && b !== 0x20 && b !== 0x09) {
            blank = false;
            break;
          }
        }
      }
      length += stop - i;
      if (length > MAX_RECORD_BYTES) throw tooLong();
      if (stop === n) return;
      i = stop + 1;
      if (stop === quote) {
        quoted = !quoted;
        blank = false;
        if (++length > MAX_RECORD_BYTES) throw tooLong();
        quote = next(0x22, i);
      } else {
        if (!blank) records++;
        length = 0;
        blank = true;
      }
    }
  };
}

/**
 * Records in flowing mode with explicit pause/resume. Async iteration of the stream would also
 * give backpressure, but it drops the records parsed before a syntax error in the same chunk,
 * and then the error could not name its line.
 */
async function* records(parser: NodeJS.ReadableStream & { destroy(): void }): AsyncGenerator<string[]> {
  const HIGH = 10_000;
  let queue: string[][] = [];
  let failure: Error | undefined;
  let ended = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  parser.on("data", (r: string[]) => {
    queue.push(r);
    if (queue.length >= HIGH) parser.pause();
    notify();
  });
  parser.on("error", (e: Error) => {
    failure = e;
    notify();
  });
  parser.on("end", () => {
    ended = true;
    notify();
  });
  for (;;) {
    if (queue.length) {
      const taken = queue;
      queue = [];
      if (parser.isPaused()) parser.resume();
      yield* taken;
      continue;
    }
    if (failure) throw failure;
    if (ended) return;
    await new Promise<void>((resolve) => {
      wake = resolve;
    });
  }
}

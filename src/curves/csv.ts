/**
 * Streaming CSV parsing and validation of curve files (fast-csv). Yields validated batches so an
 * import holds one batch in memory, not the file; the first bad record stops the import with a
 * 400 that names its line.
 */
import { Readable } from "node:stream";
import { parse } from "fast-csv";
import { AppError } from "../platform/errors";
import { midProblem } from "./bounds";
import { BLOCKS, type Block, CSV_COLUMNS, CURVE_KEY_PATTERN, PRODUCTS, type Product } from "./model";

export type CurveIdentity = { market: string; location: string; product: Product; block: Block; unit: string };

/** Columnar batch of observations; `line` is the 1-based line of each record in the file. */
export type ObservationBatch = { line: number[]; curveKey: string[]; asofDate: string[]; contractMonth: string[]; mid: number[] };

const KEY = new RegExp(CURVE_KEY_PATTERN);
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const MONTH = /^(\d{4})-(\d{2})(?:-01)?$/;

function lineError(line: number, column: string, message: string): AppError {
  return new AppError("VALIDATION_ERROR", `line ${line}: ${column} ${message}; nothing was imported`, [{ field: `line ${line}: ${column}`, location: "body", message }]);
}

function validDate(y: number, m: number, d: number): boolean {
  const date = new Date(Date.UTC(y, m - 1, d));
  return y >= 1900 && y <= 2200 && date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
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
  const parser = Readable.fromWeb(body as never).pipe(parse({ headers: false, ignoreEmpty: true, trim: true, strictColumnHandling: false }));
  let line = 0;
  let batch: ObservationBatch = { line: [], curveKey: [], asofDate: [], contractMonth: [], mid: [] };
  try {
    for await (const record of records(parser)) {
      line++;
      if (line === 1) {
        const header = record.map((h) => h.toLowerCase());
        if (header.length !== CSV_COLUMNS.length || header.some((h, i) => h !== CSV_COLUMNS[i])) {
          throw new AppError("VALIDATION_ERROR", `line 1: the header must be ${CSV_COLUMNS.join(",")}; nothing was imported`, [
            { field: "line 1", location: "body", message: `expected ${CSV_COLUMNS.join(",")}, got ${record.join(",").slice(0, 200)}` },
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
      const d = DATE.exec(asof);
      if (!d || !validDate(Number(d[1]), Number(d[2]), Number(d[3]))) throw lineError(line, "asof_date", "must be a date YYYY-MM-DD");
      const m = MONTH.exec(month);
      if (!m || !validDate(Number(m[1]), Number(m[2]), 1)) throw lineError(line, "contract_month", "must be a month YYYY-MM (or YYYY-MM-01)");
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
    // fast-csv reports malformed quoting and the like as plain errors.
    throw lineError(line + 1, "record", `is not valid CSV (${(err as Error).message})`);
  } finally {
    parser.destroy();
  }
  if (line === 0)
    throw new AppError("VALIDATION_ERROR", "line 1: the file is empty, expected a header; nothing was imported", [
      { field: "line 1", location: "body", message: "missing header" },
    ]);
  if (batch.line.length) yield batch;
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

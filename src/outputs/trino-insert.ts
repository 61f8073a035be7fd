/**
 * Output rows as Trino INSERT statements, each within a length the caller gives (the server's
 * `query.max-length`, 1,000,000 characters by Trino's default; trino-store.ts learns it). Over
 * HTTP there is no bulk path, so the rows travel as SQL text; the shape below is the fastest one
 * measured (bench/trino-write.ts): one JSON document per statement, column-wise, with every
 * repeated string (curve keys, tenors, metrics) sent once in a dictionary and referenced by
 * position. Trino parses it once (`json_parse`, cast to a ROW of arrays) when the statement runs,
 * not while planning it, and unnests the columns. A multi-row VALUES list is ~30× slower (the
 * analyser handles every literal as an expression).
 */
import { dateLiteral, timestampTzLiteral, varcharLiteral } from "../adapters/trino-literals";
import { quoteNonFinite } from "./finite";
import { type OutputColumn, TABLE_COLUMNS } from "./row";
import type { RunOutputMeta } from "./store";

/** The table's columns and Iceberg's own `write_id`. */
export const OUTPUT_COLUMNS = [...TABLE_COLUMNS, "write_id"].join(", ");

/** One INSERT; every row it adds carries `tag` in write_id, so whether it landed can be checked. */
export type InsertStatement = { sql: string; rows: number; tag: string };

/** Columns of output rows: an engine OutputBatch, or rows read back from Postgres (where bands may be NULL). */
export type OutputColumns = {
  length: number;
  curveKey: ArrayLike<string>;
  tenorType: ArrayLike<string>;
  /** yyyymm */
  contractMonth: ArrayLike<number>;
  tenorLabel: ArrayLike<string>;
  metric: ArrayLike<string>;
  value: ArrayLike<number>;
  bandLower: ArrayLike<number | null>;
  bandUpper: ArrayLike<number | null>;
  attribution: ArrayLike<string | null>;
};

/** JSON for a double that keeps every bit: NaN and ±Infinity as strings (Trino's JSON→DOUBLE cast reads them), -0 signed. */
function jsonDouble(v: number | null): string {
  if (v === null) return "null";
  if (Number.isFinite(v)) return Object.is(v, -0) ? "-0.0" : String(v); // JSON -0 would be read as the integer 0
  return `"${v}"`;
}

/** A JSON string made safe inside a SQL string literal (quotes doubled). */
function jsonText(s: string): string {
  const json = JSON.stringify(s);
  return json.includes("'") ? json.replaceAll("'", "''") : json;
}

/**
 * INSERT statements for `batches`, every row carrying `meta`; each statement stays within
 * `maxChars`, and statement n tags its rows `${tagPrefix}${n}` (write_id).
 */
export function* insertStatements(table: string, meta: RunOutputMeta, tagPrefix: string, batches: Iterable<OutputColumns>, maxChars: number): Generator<InsertStatement> {
  const builder = statementBuilder(table, meta, tagPrefix, maxChars);
  for (const b of batches) yield* builder.add(b);
  yield* builder.end();
}

/** The same, for batches that arrive asynchronously (a Postgres cursor); pulls a batch only when a statement is wanted. */
export async function* insertStatementsFrom(
  table: string,
  meta: RunOutputMeta,
  tagPrefix: string,
  batches: AsyncIterable<OutputColumns>,
  maxChars: number,
): AsyncGenerator<InsertStatement> {
  const builder = statementBuilder(table, meta, tagPrefix, maxChars);
  for await (const b of batches) yield* builder.add(b);
  yield* builder.end();
}

function statementBuilder(table: string, meta: RunOutputMeta, tagPrefix: string, maxChars: number) {
  // Each column's value: the run's as literals, the batch's from the unnested JSON columns below.
  const values: Record<OutputColumn, string> = {
    tenant_id: varcharLiteral(meta.tenantId),
    scenario_id: varcharLiteral(meta.scenarioId),
    run_id: varcharLiteral(meta.runId),
    asof_date: dateLiteral(meta.asofDate),
    curve_key: "element_at(x.d, k)",
    tenor_type: "element_at(x.d, t)",
    contract_month: "date_add('month', (cm / 100 - 1970) * 12 + cm % 100 - 1, DATE '1970-01-01')",
    tenor_label: "element_at(x.d, l)",
    metric: "element_at(x.d, m)",
    value: "v",
    band_lower: "lo",
    band_upper: "hi",
    attribution: "a",
    version_hash: varcharLiteral(meta.versionHash),
    computed_ts: timestampTzLiteral(meta.computedTs),
  };
  const select = TABLE_COLUMNS.map((c) => values[c]).join(", ");
  // The document goes through a guard that is always true but not deterministic (random()), so the
  // planner leaves it to the task: folded at planning time, it was parsed there and its decoded
  // arrays shipped in the plan, 15 % slower (200,000 rows: 94 k against 111 k rows/s, 3.9 against
  // 3.3 Trino CPU-s; medians of 5 interleaved rounds).
  const head = (tag: string) => `INSERT INTO ${table} (${OUTPUT_COLUMNS})
SELECT ${select}, ${varcharLiteral(tag)}
FROM (SELECT CAST(json_parse(if(random() >= 0, '`;
  const tail = `')) AS ROW(d ARRAY(VARCHAR), k ARRAY(INTEGER), t ARRAY(INTEGER), c ARRAY(INTEGER), l ARRAY(INTEGER), m ARRAY(INTEGER),
  v ARRAY(DOUBLE), lo ARRAY(DOUBLE), hi ARRAY(DOUBLE), a ARRAY(VARCHAR))) AS x)
CROSS JOIN UNNEST(x.k, x.t, x.c, x.l, x.m, x.v, x.lo, x.hi, x.a) AS r(k, t, cm, l, m, v, lo, hi, a)`;
  // Room for the JSON: the fixed text (with a tag of up to 64 characters), the dictionary and the column keys.
  const budget = maxChars - head(tagPrefix).length - tail.length - 128;
  if (budget < 10_000) throw new RangeError(`maxChars ${maxChars} leaves no room for rows`);
  let chunk = new Chunk();
  let n = 0;
  const statement = (): InsertStatement => {
    const tag = `${tagPrefix}${n++}`;
    return { sql: head(tag) + chunk.json() + tail, rows: chunk.rows, tag };
  };

  return {
    *add(b: OutputColumns): Generator<InsertStatement> {
      for (let i = 0; i < b.length; i++) {
        const attribution = b.attribution[i];
        const row = [
          chunk.ref(b.curveKey[i] as string),
          chunk.ref(b.tenorType[i] as string),
          String(b.contractMonth[i]),
          chunk.ref(b.tenorLabel[i] as string),
          chunk.ref(b.metric[i] as string),
          jsonDouble(b.value[i] as number),
          jsonDouble(b.bandLower[i] as number | null),
          jsonDouble(b.bandUpper[i] as number | null),
          // Iceberg keeps attribution as text: it must be JSON even if an entry is not finite (quoteNonFinite).
          attribution == null ? "null" : jsonText(quoteNonFinite(attribution)),
        ];
        if (chunk.rows > 0 && chunk.chars + rowChars(row) > budget) {
          yield statement();
          chunk = new Chunk();
          i--; // again: the row's dictionary positions belong to the next chunk
          continue;
        }
        chunk.push(row);
      }
    },
    *end(): Generator<InsertStatement> {
      if (chunk.rows > 0) yield statement();
    },
  };
}

function rowChars(row: string[]): number {
  let n = 0;
  for (const piece of row) n += piece.length + 1; // + the comma
  return n;
}

/** One statement's rows, column by column, with a string dictionary (1-based positions, as element_at wants). */
class Chunk {
  private readonly dict = new Map<string, number>();
  private readonly dictJson: string[] = [];
  private readonly cols: string[][] = [[], [], [], [], [], [], [], [], []];
  rows = 0;
  chars = 0;

  ref(s: string): string {
    let at = this.dict.get(s);
    if (at === undefined) {
      at = this.dict.size + 1;
      this.dict.set(s, at);
      const json = jsonText(s);
      this.dictJson.push(json);
      this.chars += json.length + 1;
    }
    return String(at);
  }

  push(row: string[]): void {
    for (let c = 0; c < row.length; c++) (this.cols[c] as string[]).push(row[c] as string);
    this.chars += rowChars(row);
    this.rows++;
  }

  json(): string {
    const [k, t, c, l, m, v, lo, hi, a] = this.cols.map((col) => col.join(","));
    return `{"d":[${this.dictJson.join(",")}],"k":[${k}],"t":[${t}],"c":[${c}],"l":[${l}],"m":[${m}],"v":[${v}],"lo":[${lo}],"hi":[${hi}],"a":[${a}]}`;
  }
}

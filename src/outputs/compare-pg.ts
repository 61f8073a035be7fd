/**
 * Comparison on the Postgres store (server and PGlite): one statement joins the two runs' rows in
 * the database (FULL OUTER JOIN on the natural key; with `baseline`, a LEFT JOIN of the run on its
 * own `baseline` rows), ordered by the natural key. The filters and the keyset condition are the
 * /outputs reader's own (`conditions` in pg-reader.ts), applied to each side before the join.
 * Exports: `COPY (...) TO STDOUT` on a server (flat memory, the same path as /outputs), keyset pages
 * of 5,000 rows through the JS encoders on PGlite.
 */
import { copyOut } from "../adapters/copy-out";
import type { Sql } from "../adapters/postgres";
import { baselineCase, DELTA_SQL, encodeCompareRows, pagedCompareRows } from "./compare";
import { conditions, inline, placeholders } from "./pg-reader";
import type { CompareExportRequest, CompareReader, CompareRow, CompareSpec, OutputKey } from "./reader";

const KEY = "metric, curve_key, tenor_type, contract_month";
const SIDE_COLUMNS = "metric, curve_key, tenor_type, contract_month, tenor_label, value";
const TEXT_COLUMNS = ["curve_key", "tenor_type", "tenor_label", "metric"];
const OUT_COLUMNS = ["curve_key", "tenor_type", "contract_month", "tenor_label", "metric", "a", "b", "delta", "delta_pct"];

/** E'' string literal (safe whatever standard_conforming_strings says). */
const literal = (v: string) => `E'${v.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;

/**
 * The comparison's SELECT with $n placeholders: rows with columns OUT_COLUMNS (contract_month as
 * `YYYY-MM-DD` text), ordered by the natural key, after `after`, at most `limit`.
 */
export function compareSelect(spec: CompareSpec, after: OutputKey | undefined, limit: number | undefined, escapeFormulas = false): { text: string; values: string[] } {
  const p = placeholders();
  const whereA = conditions(spec.a, after, p.add);
  // With a limit, each side contributes only its first `limit` keys after the cursor (a primary-key
  // range scan): every key of the result's first `limit` rows is among them, in both runs that hold
  // it, so the join and sort touch at most 2 × limit rows instead of both runs whole.
  const first = limit !== undefined ? ` order by ${KEY} limit ${limit | 0}` : "";
  let joined: string;
  if (spec.b === "baseline") {
    // The run's own baseline rows: the same run and key filters, not the metric filter or the keyset (the key starts with the metric).
    const { metric: _m, ...keyFilter } = spec.a;
    const whereB = `${conditions(keyFilter, undefined, p.add)} and metric = 'baseline'`;
    joined = `select o.metric, o.curve_key, o.tenor_type, o.contract_month, o.tenor_label, o.value as a, ${baselineCase("o.metric", "bl.value", literal)} as b
      from (select ${SIDE_COLUMNS} from scenario_output where ${whereA}${first}) o
      left join (select curve_key, tenor_type, contract_month, value from scenario_output where ${whereB}) bl
        on bl.curve_key = o.curve_key and bl.tenor_type = o.tenor_type and bl.contract_month = o.contract_month and o.metric in ('mid', 'baseline')`;
  } else {
    const whereB = conditions({ ...spec.a, scenarioId: spec.b.scenarioId, runId: spec.b.runId }, after, p.add);
    joined = `select ${KEY}, coalesce(sa.tenor_label, sb.tenor_label) as tenor_label, sa.value as a, sb.value as b
      from (select ${SIDE_COLUMNS} from scenario_output where ${whereA}${first}) sa
      full outer join (select ${SIDE_COLUMNS} from scenario_output where ${whereB}${first}) sb using (${KEY})`;
  }
  const guard = (col: string) => `case when left(${col}, 1) in ('=', '+', '-', '@', E'\\t', E'\\r') then '''' || ${col} else ${col} end`;
  const column = (col: string) =>
    col === "contract_month" ? "to_char(contract_month, 'YYYY-MM-DD') as contract_month" : escapeFormulas && TEXT_COLUMNS.includes(col) ? `${guard(col)} as ${col}` : col;
  const select = OUT_COLUMNS.filter((c) => c !== "delta" && c !== "delta_pct").map(column);
  // Ordered by j's own columns (the date, not the text column of the same name), the order of the primary key.
  const order = KEY.split(", ")
    .map((k) => `j.${k}`)
    .join(", ");
  const text = `select ${select.join(", ")}, ${DELTA_SQL} from (${joined}) j order by ${order}${limit !== undefined ? ` limit ${limit | 0}` : ""}`;
  return { text, values: p.values };
}

/** The COPY statement of a comparison export. */
export function compareCopyStatement(spec: CompareSpec, req: Omit<CompareExportRequest, "signal">): string {
  const { text, values } = compareSelect(spec, req.after, req.limit, req.format === "csv" && req.escapeFormulas);
  const select = inline(text, values);
  return req.format === "csv"
    ? `copy (${select}) to stdout with (format csv, header)`
    : `copy (select row_to_json(t) from (${select}) t) to stdout with (format csv, quote E'\\x01', delimiter E'\\x02')`;
}

export function createPgCompareReader(sql: Sql, opts: { useCopy: () => Promise<boolean>; connect?: (() => Sql) | undefined }): CompareReader {
  const reader: CompareReader = {
    async page(spec, limit, after) {
      const { text, values } = compareSelect(spec, after, limit);
      return (await sql.unsafe(text, values)) as unknown as CompareRow[];
    },
    export(spec, request) {
      return (async function* () {
        if (await opts.useCopy()) yield* copyOut(sql, opts.connect, compareCopyStatement(spec, request), request.signal);
        else yield* encodeCompareRows(pagedCompareRows(reader, spec, request), request.format, request.escapeFormulas);
      })();
    },
  };
  return reader;
}

/**
 * Comparison on the Iceberg store, through Trino: the same statement shape as compare-pg.ts (a FULL
 * OUTER JOIN of the two runs' rows on the natural key, or a LEFT JOIN of the run on its own
 * `baseline` rows), with the /outputs reader's filters (`conditions` in trino-reader.ts) on each side.
 * Exports encode Trino's result pages as they arrive; leaving early cancels the query.
 */
import type { TrinoClient, TrinoColumn, TrinoPage } from "../adapters/trino";
import { varcharLiteral } from "../adapters/trino-literals";
import { baselineCase, DELTA_SQL, encodeCompareRows } from "./compare";
import type { CompareReader, CompareRow, CompareSpec, OutputKey } from "./reader";
import { conditions } from "./trino-reader";

const KEY = "metric, curve_key, tenor_type, contract_month";
const SIDE_COLUMNS = "metric, curve_key, tenor_type, contract_month, tenor_label, value";
const DOUBLES = new Set(["a", "b", "delta", "delta_pct"]);

export function compareStatement(table: string, spec: CompareSpec, after: OutputKey | undefined, limit: number | undefined): string {
  const whereA = conditions(spec.a, after);
  // With a limit, each side contributes its first `limit` keys (see compare-pg.ts): a TopN per side.
  const first = limit !== undefined ? ` ORDER BY ${KEY} LIMIT ${limit | 0}` : "";
  let joined: string;
  if (spec.b === "baseline") {
    const { metric: _m, ...keyFilter } = spec.a;
    const whereB = `${conditions(keyFilter, undefined)} AND metric = 'baseline'`;
    joined = `SELECT o.metric, o.curve_key, o.tenor_type, o.contract_month, o.tenor_label, o.value AS a, ${baselineCase("o.metric", "bl.value", varcharLiteral)} AS b
      FROM (SELECT ${SIDE_COLUMNS} FROM ${table} WHERE ${whereA}${first}) o
      LEFT JOIN (SELECT curve_key, tenor_type, contract_month, value FROM ${table} WHERE ${whereB}) bl
        ON bl.curve_key = o.curve_key AND bl.tenor_type = o.tenor_type AND bl.contract_month = o.contract_month AND o.metric IN ('mid', 'baseline')`;
  } else {
    const whereB = conditions({ ...spec.a, scenarioId: spec.b.scenarioId, runId: spec.b.runId }, after);
    joined = `SELECT ${KEY}, coalesce(sa.tenor_label, sb.tenor_label) AS tenor_label, sa.value AS a, sb.value AS b
      FROM (SELECT ${SIDE_COLUMNS} FROM ${table} WHERE ${whereA}${first}) sa
      FULL OUTER JOIN (SELECT ${SIDE_COLUMNS} FROM ${table} WHERE ${whereB}${first}) sb USING (${KEY})`;
  }
  return `SELECT curve_key, tenor_type, CAST(contract_month AS varchar) AS contract_month, tenor_label, metric, a, b, ${DELTA_SQL}
    FROM (${joined}) j ORDER BY j.metric, j.curve_key, j.tenor_type, j.contract_month${limit !== undefined ? ` LIMIT ${limit | 0}` : ""}`;
}

export function createTrinoCompareReader(trino: TrinoClient, table: string): CompareReader {
  return {
    async page(spec, limit, after) {
      return objects(await trino.execute(compareStatement(table, spec, after, limit), { tenantId: spec.a.tenantId }));
    },
    export(spec, request) {
      const pages = trino.query(compareStatement(table, spec, request.after, request.limit), { signal: request.signal, tenantId: spec.a.tenantId });
      return encodeCompareRows(rowBatches(pages), request.format, request.escapeFormulas);
    },
  };
}

async function* rowBatches(pages: AsyncGenerator<TrinoPage, unknown>): AsyncGenerator<CompareRow[]> {
  for await (const page of pages) if (page.rows.length) yield objects(page);
}

/** Rows as objects; Trino's JSON spells non-finite doubles as strings ("NaN", "Infinity"). */
function objects({ columns, rows }: { columns: TrinoColumn[]; rows: unknown[][] }): CompareRow[] {
  const names = columns.map((c) => c.name);
  return rows.map((r) => {
    const o: Record<string, unknown> = {};
    names.forEach((name, i) => {
      const v = r[i];
      o[name] = v === null || v === undefined ? null : DOUBLES.has(name) ? Number(v) : v;
    });
    return o as CompareRow;
  });
}

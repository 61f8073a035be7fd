/**
 * The statement of a comparison, for either store (compare-pg.ts, compare-trino.ts): the two runs'
 * rows joined in the database on the natural key (FULL OUTER JOIN; with `baseline`, a LEFT JOIN of
 * the run on its own `baseline` rows), ordered by it, so pages are keyset pages and exports stream.
 * The filters and the keyset condition are the /outputs reads' own (`where` in sql.ts), applied to
 * each side before the join.
 */
import { baselineCase, DELTA_SQL } from "./compare";
import type { CompareSpec } from "./reader";
import { COMPARE_COLUMNS, OUTPUT_TABLE, type OutputColumn, type OutputKey } from "./row";
import { type Dialect, KEY_ORDER, keyOrder, where } from "./sql";

const SIDE_COLUMNS = "metric, curve_key, tenor_type, contract_month, tenor_label, value";
const ROW_COLUMNS = COMPARE_COLUMNS.filter((c): c is OutputColumn & (typeof COMPARE_COLUMNS)[number] => c in OUTPUT_TABLE);

/**
 * The comparison's SELECT on `table`: rows with the columns COMPARE_COLUMNS (contract_month as
 * `YYYY-MM-DD` text), ordered by the natural key, after `after`, at most `limit`. `text` spells the
 * text columns (Postgres CSV: with formula escaping).
 */
export function compareSelect(d: Dialect, table: string, spec: CompareSpec, after: OutputKey | undefined, limit: number | undefined, text?: (col: string) => string): string {
  const whereA = where(d, spec.a, after);
  // With a limit, each side contributes only its first `limit` keys after the cursor (a primary-key
  // range scan; a TopN in Trino): every key of the result's first `limit` rows is among them, in
  // both runs that hold it, so the join and sort touch at most 2 × limit rows instead of both runs whole.
  const first = limit !== undefined ? ` order by ${KEY_ORDER} limit ${limit | 0}` : "";
  let joined: string;
  if (spec.b === "baseline") {
    // The run's own baseline rows: the same run and key filters, not the metric filter or the keyset (the key starts with the metric).
    const { metric: _m, ...keyFilter } = spec.a;
    const whereB = `${where(d, keyFilter)}${d.and}metric = 'baseline'`;
    joined = `select o.metric, o.curve_key, o.tenor_type, o.contract_month, o.tenor_label, o.value as a, ${baselineCase("o.metric", "bl.value", d.literal)} as b
      from (select ${SIDE_COLUMNS} from ${table} where ${whereA}${first}) o
      left join (select curve_key, tenor_type, contract_month, value from ${table} where ${whereB}) bl
        on bl.curve_key = o.curve_key and bl.tenor_type = o.tenor_type and bl.contract_month = o.contract_month and o.metric in ('mid', 'baseline')`;
  } else {
    const whereB = where(d, { ...spec.a, scenarioId: spec.b.scenarioId, runId: spec.b.runId }, after);
    joined = `select ${KEY_ORDER}, coalesce(sa.tenor_label, sb.tenor_label) as tenor_label, sa.value as a, sb.value as b
      from (select ${SIDE_COLUMNS} from ${table} where ${whereA}${first}) sa
      full outer join (select ${SIDE_COLUMNS} from ${table} where ${whereB}${first}) sb using (${KEY_ORDER})`;
  }
  const column = (c: OutputColumn) => (text && OUTPUT_TABLE[c].kind === "text" ? `${text(c)} as ${c}` : d.read(c, OUTPUT_TABLE[c].kind));
  // Ordered by j's own columns (the date, not the text column of the same name), the order of the primary key.
  return `select ${ROW_COLUMNS.map(column).join(", ")}, a, b, ${DELTA_SQL} from (${joined}) j order by ${keyOrder("j")}${limit !== undefined ? ` limit ${limit | 0}` : ""}`;
}

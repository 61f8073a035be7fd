/**
 * Comparison on the Iceberg store, through Trino: the statement of compare-sql.ts with literals.
 * Exports encode Trino's result pages as they arrive; leaving early cancels the query.
 */
import type { TrinoClient } from "../adapters/trino";
import { encodeCompareRows } from "./compare";
import { compareSelect } from "./compare-sql";
import type { CompareReader } from "./reader";
import type { CompareRow } from "./row";
import { trinoDialect } from "./sql";
import { rowBatches, rowObjects } from "./trino-rows";

const DOUBLES = new Set(["a", "b", "delta", "delta_pct"]);

export function createTrinoCompareReader(trino: TrinoClient, table: string): CompareReader {
  return {
    async page(spec, limit, after) {
      return rowObjects<CompareRow>(await trino.execute(compareSelect(trinoDialect, table, spec, after, limit), { tenantId: spec.a.tenantId }), DOUBLES);
    },
    export(spec, request) {
      const pages = trino.query(compareSelect(trinoDialect, table, spec, request.after, request.limit), { signal: request.signal, tenantId: spec.a.tenantId });
      return encodeCompareRows(rowBatches<CompareRow>(pages, DOUBLES), request.format, request.escapeFormulas);
    },
  };
}

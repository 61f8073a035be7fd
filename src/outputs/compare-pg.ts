/**
 * Comparison on the Postgres store (server and PGlite): the statement of compare-sql.ts with bound
 * parameters. Exports: `COPY (...) TO STDOUT` on a server (flat memory, the same path as /outputs),
 * keyset pages of 5,000 rows through the JS encoders on PGlite.
 */

import { copyOut } from "../adapters/copy-out";
import type { Sql } from "../adapters/postgres";
import { encodeCompareRows, pagedCompareRows } from "./compare";
import { compareSelect } from "./compare-sql";
import type { CompareExportRequest, CompareReader, CompareSpec } from "./reader";
import type { CompareRow, OutputKey } from "./row";
import { copyTo, formulaGuard, inline, pgParams } from "./sql";

/** The comparison's SELECT with $n placeholders and their values; with `escapeFormulas`, text columns as CSV formula escaping writes them. */
function select(spec: CompareSpec, after: OutputKey | undefined, limit: number | undefined, escapeFormulas = false): { text: string; values: string[] } {
  const p = pgParams();
  const text = compareSelect(p, "scenario_output", spec, after, limit, escapeFormulas ? formulaGuard : undefined);
  return { text, values: p.values };
}

/** The COPY statement of a comparison export. */
function compareCopyStatement(spec: CompareSpec, req: Omit<CompareExportRequest, "signal">): string {
  const { text, values } = select(spec, req.after, req.limit, req.format === "csv" && req.escapeFormulas);
  return copyTo(inline(text, values), req.format);
}

export function createPgCompareReader(sql: Sql, opts: { useCopy: () => Promise<boolean>; connect?: (() => Sql) | undefined }): CompareReader {
  const reader: CompareReader = {
    async page(spec, limit, after) {
      const { text, values } = select(spec, after, limit);
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

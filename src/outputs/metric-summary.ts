/**
 * `/metrics/latest?group_by=metric`: the guide's "aggregates by metric". The latest value of each
 * natural key (curve, tenor, month, metric: the default rollup) is summarised per metric, one row
 * each: how many keys, min, max and mean of their finite values, how many are not finite, and the
 * latest as-of date among them. Computed by the store over the same rollup (Postgres and PGlite:
 * pg-reader.ts; Trino: trino-reader.ts), keyset-paged by metric.
 */
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { t } from "elysia";
import { keysetPage } from "../platform/cursor";
import { type EnvelopeText, envelopeText } from "../platform/http";
import { Meta } from "../platform/schema";
import type { OutputFilter, OutputReader } from "./reader";

export const GROUP_BY = ["metric"] as const;

export const MetricSummary = t.Object({
  metric: t.String({ description: "The metric." }),
  count: t.Integer({
    minimum: 1,
    description: "Natural keys (curve_key, tenor_type, contract_month) with a latest value of this metric: the rows the ungrouped rollup lists for it.",
  }),
  min: t.Union([t.Number(), t.Null()], { description: "Least finite latest value; null when none is finite." }),
  max: t.Union([t.Number(), t.Null()], { description: "Greatest finite latest value; null when none is finite." }),
  mean: t.Union([t.Number(), t.Null()], { description: "Arithmetic mean of the finite latest values; null when none is finite." }),
  non_finite: t.Integer({ minimum: 0, description: "Latest values that are NaN or ±Infinity (left out of min, max and mean)." }),
  latest_asof_date: t.String({ description: "Greatest as-of date among the metric's latest values (YYYY-MM-DD)." }),
  run_ids: t.Integer({ minimum: 1, description: "How many runs the latest values come from." }),
});

export const MetricSummaryEnvelope = t.Object({ meta: Meta, data: t.Array(MetricSummary) });

const SUMMARY_CHECK = TypeCompiler.Compile(t.Array(MetricSummary));

/** Cursor of a summary page: the last metric listed. */
const SUMMARY_SHAPE = { g: /^[\s\S]{1,512}$/ };

/** One page of the summary as envelope text (`meta`: count, limit, next_cursor, group_by), checked against its schema. */
export async function summaryPage(reader: Pick<OutputReader, "latestByMetric">, filter: OutputFilter, rawCursor: string | undefined, limit: number): Promise<EnvelopeText> {
  const { items, nextCursor } = await keysetPage({
    cursor: rawCursor,
    limit,
    filters: { ...filter, kind: "latest-by-metric" },
    shape: SUMMARY_SHAPE,
    fetch: (after) => reader.latestByMetric(filter, limit + 1, after?.g),
    keyOf: (row) => ({ g: row.metric }),
  });
  if (!SUMMARY_CHECK.Check(items)) {
    const first = SUMMARY_CHECK.Errors(items).First();
    throw new Error(`the output store returned a summary row that does not match the MetricSummary schema: ${first?.path} ${first?.message}`);
  }
  return envelopeText(items, { count: items.length, limit, next_cursor: nextCursor, group_by: "metric" });
}

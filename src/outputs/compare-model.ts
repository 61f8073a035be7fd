/** `/compare` query and response schemas. */
import { t } from "elysia";
import { Meta } from "../platform/schema";
import { filters, pageOrDownload } from "./model";
import { CompareRowSchema } from "./row";

const UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";

export const CompareQuery = t.Object(
  {
    with: t.String({
      pattern: `^(?:${UUID}|[Bb][Aa][Ss][Ee][Ll][Ii][Nn][Ee])$`,
      error: "must be a scenario id (UUID) or baseline",
      description:
        "Side b: another scenario of the same tenant (its id), or `baseline`: the no-driver baseline of the run itself (b = its `baseline` value for `mid` and `baseline`, 0 for driver effects, null for other metrics; docs/compare.md).",
      examples: ["baseline"],
    }),
    run_id: t.Optional(
      t.String({ format: "uuid", error: "must be a UUID", description: "Run a: a run of this scenario; default: its latest SUCCEEDED run (named in `meta.run_id`)." }),
    ),
    with_run_id: t.Optional(
      t.String({
        format: "uuid",
        error: "must be a UUID",
        description: "Run b: a run of the `with` scenario; default: its latest SUCCEEDED run (named in `meta.with_run_id`). Not with `with=baseline`.",
      }),
    ),
    metric: filters.metric,
    metric_name: filters.metric_name,
    curve_key: filters.curve_key,
    tenor_type: filters.tenor_type,
    contract_month: filters.contract_month,
    contract_month_from: filters.contract_month_from,
    contract_month_to: filters.contract_month_to,
    cursor: filters.cursor,
    tenant_id: filters.tenant_id,
    ...pageOrDownload,
  },
  { additionalProperties: false },
);

export const ComparePageEnvelope = t.Object({ meta: Meta, data: t.Array(CompareRowSchema) });

export const compareModels = { CompareRow: CompareRowSchema, ComparePageEnvelope } as const;
export type CompareQueryInput = typeof CompareQuery.static;

/** Curve routes: CSV import (`POST /v1/curves:import`), list and read. */
import { Elysia, t } from "elysia";
import type { Authenticator } from "../platform/auth";
import { customVerb, envelope, limitBody, pageEnvelope } from "../platform/http";
import { authPlugin } from "../platform/principal";
import { ErrorResponse } from "../platform/schema";
import { CurveGetQuery, CurveListQuery, curveModels } from "./model";
import type { CurveService } from "./service";

const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse } as const;
/** The import and the list name no curve: never a 404 (another verb than `:import` is another path). */
const { 404: _, ...collectionErrors } = errors;

export function curveRoutes(deps: { authenticate: Authenticator; curves: CurveService; maxImportBytes: number }) {
  const { curves } = deps;
  return new Elysia({ name: "curves" })
    .model(curveModels)
    .use(authPlugin(deps.authenticate))
    .guard({ auth: true })
    .post(
      // No prefix on this plugin: a prefix would insert a "/" before ":verb".
      "/v1/curves:verb",
      async ({ request, principal, params }) => {
        customVerb(params, "import", request);
        // Counted as it arrives: a chunked body has no Content-Length to refuse up front.
        return envelope(request, await curves.importCsv(principal, request.body && limitBody(request.body, deps.maxImportBytes)));
      },
      {
        parse: "none",
        params: t.Object({ verb: t.String() }),
        response: { 200: "CurveImportEnvelope", ...collectionErrors, 409: ErrorResponse },
        detail: {
          tags: ["curves"],
          summary: "Import curve observations from CSV (POST /v1/curves:import)",
          description:
            "Body: CSV with the header `curve_key,market,location,product,block,unit,asof_date,contract_month,mid`. Streamed in one transaction: a bad line is a 400 naming the line and nothing of the file is stored. Existing (curve_key, asof_date, contract_month) rows are replaced. Needs `admin:*`. The path parameter must be `:import`.",
          requestBody: { content: { "text/csv": { schema: { type: "string" } } } },
        },
      },
    )
    .get(
      "/v1/curves",
      async ({ request, principal, query }) => {
        const page = await curves.list(principal, query);
        return pageEnvelope(request, page);
      },
      {
        query: CurveListQuery,
        response: { 200: "CurveListEnvelope", ...collectionErrors },
        detail: { tags: ["curves"], summary: "List curves", description: "Ordered by curve_key, keyset-paged." },
      },
    )
    .get(
      "/v1/curves/:curve_key",
      async ({ request, principal, params, query }) => {
        const r = await curves.get(principal, params.curve_key, query);
        return envelope(request, { curve: r.curve, observations: r.observations }, { asof_date: r.asof, count: r.observations.length, limit: r.limit, next_cursor: r.nextCursor });
      },
      {
        params: t.Object({ curve_key: t.String({ maxLength: 128 }) }),
        query: CurveGetQuery,
        response: { 200: "CurveEnvelope", ...errors },
        detail: { tags: ["curves"], summary: "Get a curve and its observations", description: "Observations of one as-of date (default: the latest), by contract month, paged." },
      },
    );
}

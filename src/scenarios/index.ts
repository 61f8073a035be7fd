/** Scenario routes: `/v1/scenarios` CRUD as an Elysia plugin over the scenario service. */
import { Elysia, t } from "elysia";
import type { Authenticator } from "../platform/auth";
import { ifNoneMatchHolds, parseTagCondition } from "../platform/conditional";
import { badRequest } from "../platform/errors";
import { envelope, isMergePatch, pageEnvelope, parseJson, requestInfo } from "../platform/http";
import type { Logger } from "../platform/logger";
import { headerRefs } from "../platform/openapi";
import { authPlugin } from "../platform/principal";
import { ErrorResponse, Uuid } from "../platform/schema";
import { DRIVER_PAYLOADS, MODEL_PARAMETERS } from "./drivers";
import { ScenarioListQuery, scenarioModels } from "./model";
import { etagOf, type Preconditions, type ScenarioService } from "./service";

function preconditions(request: Request): Preconditions {
  return { ifMatch: request.headers.get("if-match") ?? undefined, ifNoneMatch: request.headers.get("if-none-match") ?? undefined };
}

/** Fields a scenario cannot be without: a merge patch may not delete them (`description: null` clears the description). */
const NOT_REMOVABLE = ["name", "status", "assumptions", "parameters", "tags", "version"];

/**
 * Parse hook of PATCH: an `application/merge-patch+json` body (RFC 7396) must be a JSON object (a
 * patch that replaces the whole document is refused) and may not delete a field the scenario needs;
 * the route's schema then validates it like a JSON body. Other types are left to Elysia's JSON parser.
 */
async function mergePatchBody({ request }: { request: Request }): Promise<Record<string, unknown> | undefined> {
  if (!isMergePatch(request)) return undefined;
  const text = await request.text();
  const value: unknown = text.trim() === "" ? undefined : parseJson(text);
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw badRequest("a merge patch must be a JSON object", [{ field: "/", location: "body", message: "must be a JSON object (RFC 7396 patch of the scenario)" }]);
  }
  const removed = NOT_REMOVABLE.filter((field) => (value as Record<string, unknown>)[field] === null);
  if (removed.length) {
    throw badRequest(
      `a merge patch cannot remove ${removed.join(", ")}`,
      removed.map((field) => ({ field: `/${field}`, location: "body" as const, message: "cannot be removed (null); send a value ({} or [] to empty it)" })),
    );
  }
  return value as Record<string, unknown>;
}

const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse } as const;
/** The collection's routes name no scenario: never a 404. */
const { 404: _, ...collectionErrors } = errors;
const IdParams = t.Object({ id: Uuid });
const TenantQuery = t.Object({ tenant_id: t.Optional(t.String({ maxLength: 128 })) }, { additionalProperties: false });

/** A `scenario_*` lifecycle event (the guide's names), with the request's ids. */
function logLifecycle(log: Logger | undefined, event: string, request: Request, fields: Record<string, unknown>): void {
  const info = requestInfo(request);
  log?.info(event, { ...fields, request_id: info.requestId, trace_id: info.traceId });
}

export function scenarioRoutes(deps: { authenticate: Authenticator; scenarios: ScenarioService; log?: Logger }) {
  const lifecycle = (event: string, request: Request, fields: Record<string, unknown>) => logLifecycle(deps.log, event, request, fields);
  const { scenarios } = deps;
  return (
    new Elysia({ name: "scenarios", prefix: "/v1/scenarios" })
      // Driver payloads and model parameters are validated by the service; registered here so the
      // OpenAPI document names them.
      .model({
        ...scenarioModels,
        PolicyDriver: DRIVER_PAYLOADS.policy,
        LoadGrowthDriver: DRIVER_PAYLOADS.load_growth,
        FuelCurveDriver: DRIVER_PAYLOADS.fuel_curve,
        FleetChangeDriver: DRIVER_PAYLOADS.fleet_change,
        ModelParameters: MODEL_PARAMETERS,
      })
      .use(authPlugin(deps.authenticate))
      .guard({ auth: true })
      .get(
        "",
        async ({ request, principal, query }) => {
          const page = await scenarios.list(principal, query);
          return pageEnvelope(request, page);
        },
        {
          query: ScenarioListQuery,
          response: { 200: "ScenarioListEnvelope", ...collectionErrors },
          detail: { tags: ["scenarios"], summary: "List scenarios", description: "Newest first, keyset-paged: pass `meta.next_cursor` back as `cursor`." },
        },
      )
      .post(
        "",
        async ({ request, principal, body, set }) => {
          const created = await scenarios.create(principal, body);
          lifecycle("scenario_created", request, { scenario_id: created.id, tenant_id: created.tenant_id, version: created.version });
          set.status = 201;
          set.headers.location = `/v1/scenarios/${created.id}`;
          set.headers.etag = etagOf(created);
          return envelope(request, created);
        },
        {
          body: "ScenarioCreate",
          response: { 201: "ScenarioEnvelope", ...collectionErrors, 409: ErrorResponse },
          detail: {
            tags: ["scenarios"],
            summary: "Create a scenario",
            description: "Names are unique per tenant, case-insensitively (409 otherwise). Enum values are accepted in any case.",
            responses: { 201: { description: "Created", headers: headerRefs("ETag", "Location") } },
          },
        },
      )
      .get(
        "/:id",
        async ({ request, principal, params, query, set }) => {
          const scenario = await scenarios.get(principal, params.id, query.tenant_id);
          const etag = etagOf(scenario);
          set.headers.etag = etag;
          const ifNoneMatch = request.headers.get("if-none-match");
          if (ifNoneMatch !== null && !ifNoneMatchHolds(parseTagCondition(ifNoneMatch), etag)) {
            set.status = 304;
            return undefined;
          }
          return envelope(request, scenario);
        },
        {
          params: IdParams,
          query: TenantQuery,
          response: { 200: "ScenarioEnvelope", 304: t.Void(), ...errors },
          detail: {
            tags: ["scenarios"],
            summary: "Get a scenario",
            description: "Returns an ETag; `If-None-Match` with it gives 304.",
            responses: {
              200: { description: "The scenario", headers: headerRefs("ETag") },
              304: { description: "Not Modified: `If-None-Match` matched", headers: headerRefs("ETag") },
            },
          },
        },
      )
      .patch(
        "/:id",
        async ({ request, principal, params, body, set }) => {
          const patch = isMergePatch(request) ? scenarios.mergeUpdate : scenarios.update;
          const updated = await patch(principal, params.id, body, preconditions(request));
          lifecycle("scenario_updated", request, { scenario_id: updated.id, tenant_id: updated.tenant_id, version: updated.version, fields: Object.keys(body) });
          set.headers.etag = etagOf(updated);
          return envelope(request, updated);
        },
        {
          params: IdParams,
          // A merge patch is parsed here (Elysia's default parsers do not know its type); JSON, and no body, by Elysia's default (so auth still answers before a missing body is a 400).
          parse: mergePatchBody,
          body: "ScenarioPatch",
          response: { 200: "ScenarioEnvelope", ...errors, 409: ErrorResponse, 412: ErrorResponse },
          detail: {
            tags: ["scenarios"],
            summary: "Update a scenario",
            description:
              "Bumps `version`. Conditional per RFC 9110: `If-Match` (strong comparison, a list or `*`) or `If-None-Match` that does not hold gives 412 and changes nothing; a body `version` gives 409 when the scenario changed meanwhile. With `Content-Type: application/json` the body is a partial update: each given top-level field replaces the stored one whole (`parameters` and `assumptions` included: send the full object to change one key). With `Content-Type: application/merge-patch+json` (RFC 7396, same schema) each given field is merged into the stored one: objects such as `parameters` deeply, a `null` member deleting that key, arrays and strings replacing; `description: null` clears the description, and `name`, `status`, `assumptions`, `parameters` and `tags` cannot be removed (400). The merged scenario is validated as a whole (400) and written only at the version it was merged from.",
            responses: { 200: { description: "The updated scenario", headers: headerRefs("ETag") } },
          },
        },
      )
      .delete(
        "/:id",
        async ({ request, principal, params, query, set }) => {
          const tenantId = await scenarios.remove(principal, params.id, query.tenant_id, preconditions(request), requestInfo(request).requestId);
          lifecycle("scenario_deleted", request, { scenario_id: params.id, tenant_id: tenantId });
          set.status = 204;
        },
        {
          params: IdParams,
          query: TenantQuery,
          response: { 204: t.Void(), ...errors, 412: ErrorResponse },
          detail: {
            tags: ["scenarios"],
            summary: "Delete a scenario",
            description: "Its runs and events go with it. `If-Match` / `If-None-Match` that does not hold (RFC 9110) gives 412 and deletes nothing.",
            responses: { 204: { description: "Deleted" } },
          },
        },
      )
  );
}

/**
 * Scenario use cases: tenant scoping, normalisation, paging and concurrency rules.
 * No Elysia imports: routes translate HTTP into these calls.
 */

import type { Tx } from "../adapters/postgres";
import { regionCovers } from "../engine/scope";
import { authorize, type Principal, resolveTenant } from "../platform/auth";
import { ifMatchHolds, ifNoneMatchHolds, parseTagCondition } from "../platform/conditional";
import { newestFirstPage } from "../platform/cursor";
import { AppError, badRequest, conflict, type FieldIssue, notFound } from "../platform/errors";
import { normalizeEnum } from "../platform/schema";
import { parseCreatedRange } from "../platform/time";
import { type CurveRef, type RegionRef, validateAssumptions, validateModelParameters } from "./drivers";
import { DRIVER_TYPES, LIMITS, SCENARIO_STATUSES, type ScenarioCreateInput, type ScenarioListInput, type ScenarioPatchInput, type ScenarioRecord } from "./model";
import type { ScenarioChanges, ScenarioRepo } from "./repo";

export type ScenarioPage = { items: ScenarioRecord[]; nextCursor: string | null; limit: number };

export function etagOf(s: Pick<ScenarioRecord, "version">): string {
  return `"v${s.version}"`;
}

/** The raw If-Match / If-None-Match header values of a write. */
export type Preconditions = { ifMatch?: string; ifNoneMatch?: string };

/** RFC 9110 §13.2.2 order: If-Match first, then If-None-Match; a malformed header is a 400. */
function checkPreconditions(conditions: Preconditions, current: string): void {
  for (const [name, raw, holds] of [
    ["If-Match", conditions.ifMatch, ifMatchHolds],
    ["If-None-Match", conditions.ifNoneMatch, ifNoneMatchHolds],
  ] as const) {
    if (raw === undefined) continue;
    const condition = parseTagCondition(raw);
    if ("invalid" in condition) throw badRequest(`${name} is not * or a list of entity tags`, [{ field: name, location: "headers", message: 'expected * or "tag", W/"tag", ...' }]);
    if (!holds(condition, current)) throw new AppError("PRECONDITION_FAILED", `${name} ${raw.slice(0, 200)} does not hold for the current ETag ${current}`);
  }
}

/** What the scenario rules read from the curve store (src/curves/repo.ts implements it). */
export type CurveCatalog = {
  /** Product, market and location of those of these keys that exist. */
  identities(keys: string[]): Promise<Map<string, { product: string; market: string; location: string }>>;
  /** Distinct markets and locations of power curves; with `names`, only those matching one (case-insensitive). */
  powerRegions(names?: string[]): Promise<{ markets: string[]; locations: string[] }>;
  /** Curves of a product, by key (`limit + 1` rows at most). */
  list(f: { product: string }, limit: number): Promise<{ curve_key: string }[]>;
};

/** How many curve keys or locations an error message lists before pointing at GET /v1/curves. */
const LISTED = 10;

/**
 * A scenario's deletion: `removing` runs inside its transaction (the output cache records the bump
 * it owes), `removed` after it (the cache bumps the tenant's version; Iceberg rows go); `removed`
 * must not throw.
 */
export type ScenarioRemovalHooks = {
  removing?: (tx: Tx, removed: { tenantId: string; scenarioId: string }) => Promise<unknown>;
  removed?: (removed: { tenantId: string; scenarioId: string; requestId?: string }) => Promise<unknown>;
};

export function createScenarioService(repo: ScenarioRepo, curves: CurveCatalog, hooks: ScenarioRemovalHooks = {}) {
  /** Schema-level normalisation, then the checks that need the curve store (referenced curves and regions). */
  async function validated(input: Fields): Promise<ScenarioChanges> {
    const { changes, curveRefs, regionRefs } = normalizeFields(input);
    const issues = await curveIssues(curves, curveRefs, regionRefs);
    if (issues.length) throw badRequest(`assumptions would have no effect or reference unknown curves: ${issues.map((i) => `${i.field} ${i.message}`).join("; ")}`, issues);
    return changes;
  }

  return {
    async create(p: Principal, input: ScenarioCreateInput): Promise<ScenarioRecord> {
      authorize(p, "scenarios:write");
      const tenantId = resolveTenant(p, input.tenant_id);
      if (tenantId === null) throw badRequest("tenant_id is required", [{ field: "/tenant_id", location: "body", message: "name a tenant (body tenant_id or X-Aurum-Tenant)" }]);
      const fields = await validated(input);
      try {
        return await repo.insert({
          tenantId,
          name: fields.name as string,
          description: fields.description ?? null,
          status: fields.status ?? "active",
          assumptions: fields.assumptions ?? [],
          parameters: fields.parameters ?? {},
          tags: fields.tags ?? [],
          createdBy: p.subject,
        });
      } catch (err) {
        throw duplicateName(err, fields.name) ?? err;
      }
    },

    async get(p: Principal, id: string, requestedTenant?: string): Promise<ScenarioRecord> {
      authorize(p, "scenarios:read");
      const row = await repo.get(id, resolveTenant(p, requestedTenant));
      if (!row) throw notFound("scenario");
      return row;
    },

    list: (p: Principal, q: ScenarioListInput): Promise<ScenarioPage> => listScenarios(repo, p, q),

    /**
     * `conditions` are the If-Match / If-None-Match headers (RFC 9110 §13.1: 412 when one fails,
     * strong comparison for If-Match); `version` in the body is a 409 on mismatch.
     */
    async update(p: Principal, id: string, input: ScenarioPatchInput, conditions: Preconditions = {}): Promise<ScenarioRecord> {
      authorize(p, "scenarios:write");
      const tenantId = resolveTenant(p, undefined);
      const { version, ...rest } = input;
      if (Object.keys(rest).length === 0) throw badRequest("nothing to change", [{ field: "/", location: "body", message: "give at least one field to change" }]);
      let expected = version;
      const guarded = conditions.ifMatch !== undefined || conditions.ifNoneMatch !== undefined;
      if (guarded) {
        const current = await repo.get(id, tenantId);
        if (!current) throw notFound("scenario");
        checkPreconditions(conditions, etagOf(current));
        if (expected !== undefined && expected !== current.version) throw versionConflict(expected, current.version);
        expected = current.version;
      }
      const fields = await validated(rest);
      const result = await updateRow(repo, id, tenantId, fields, expected, p.subject);
      if ("row" in result) return result.row;
      if ("missing" in result) throw notFound("scenario");
      if (guarded && version === undefined) throw new AppError("PRECONDITION_FAILED", "the scenario changed since its ETag was read");
      throw versionConflict(expected as number, result.currentVersion);
    },

    /**
     * `PATCH` with `application/merge-patch+json` (RFC 7396): each top-level member of `patch` is
     * merged into the stored field (objects deeply, a null member deleting that key; arrays and
     * scalars replace), the merged fields are validated as a whole, and they are written only if the
     * scenario is still at the version they were merged from. Preconditions and a body `version` keep
     * their meaning (412 / 409); an unguarded merge that lost a race with another write is merged
     * again from the new version, so no concurrent change is overwritten.
     */
    async mergeUpdate(p: Principal, id: string, patch: ScenarioPatchInput, conditions: Preconditions = {}): Promise<ScenarioRecord> {
      authorize(p, "scenarios:write");
      const tenantId = resolveTenant(p, undefined);
      const { version, ...rest } = patch;
      if (Object.keys(rest).length === 0) throw badRequest("nothing to change", [{ field: "/", location: "body", message: "give at least one field to change" }]);
      const guarded = conditions.ifMatch !== undefined || conditions.ifNoneMatch !== undefined;
      for (let attempt = 1; ; attempt++) {
        const current = await repo.get(id, tenantId);
        if (!current) throw notFound("scenario");
        if (guarded) checkPreconditions(conditions, etagOf(current));
        if (version !== undefined && version !== current.version) throw versionConflict(version, current.version);
        const merged: Record<string, unknown> = {};
        for (const [field, value] of Object.entries(rest)) merged[field] = value === null ? null : mergePatch(current[field as keyof ScenarioRecord], value);
        const fields = await validated(merged as Fields);
        const result = await updateRow(repo, id, tenantId, fields, current.version, p.subject);
        if ("row" in result) return result.row;
        if ("missing" in result) throw notFound("scenario");
        if (version !== undefined) throw versionConflict(version, result.currentVersion);
        if (guarded) throw new AppError("PRECONDITION_FAILED", "the scenario changed since its ETag was read");
        if (attempt >= MERGE_ATTEMPTS)
          throw conflict(`the scenario changed during each of ${MERGE_ATTEMPTS} merges; send the patch again`, { current_version: result.currentVersion });
        // Racing writers spread out before the next round.
        await Bun.sleep(Math.random() * 5 * attempt);
      }
    },

    /** Deletes the scenario; with If-Match / If-None-Match, only while they hold (412 otherwise, nothing deleted). */
    /** Returns the deleted scenario's tenant. */
    async remove(p: Principal, id: string, requestedTenant?: string, conditions: Preconditions = {}, requestId?: string): Promise<string> {
      authorize(p, "scenarios:delete");
      const scope = resolveTenant(p, requestedTenant);
      let expected: number | undefined;
      const guarded = conditions.ifMatch !== undefined || conditions.ifNoneMatch !== undefined;
      if (guarded) {
        const current = await repo.get(id, scope);
        if (!current) throw notFound("scenario");
        checkPreconditions(conditions, etagOf(current));
        expected = current.version;
      }
      const removing = hooks.removing;
      const tenantId = await repo.remove(id, scope, removing && ((tx, tenantId) => removing(tx, { tenantId, scenarioId: id })), expected);
      if (tenantId === undefined) {
        if (guarded && (await repo.get(id, scope))) throw new AppError("PRECONDITION_FAILED", "the scenario changed since its ETag was read");
        throw notFound("scenario");
      }
      await hooks.removed?.({ tenantId, scenarioId: id, ...(requestId ? { requestId } : {}) });
      return tenantId;
    },
  };
}

/** repo.update, with a name another scenario of the tenant has answered as the 409 that says so. */
async function updateRow(repo: ScenarioRepo, ...args: Parameters<ScenarioRepo["update"]>): ReturnType<ScenarioRepo["update"]> {
  try {
    return await repo.update(...args);
  } catch (err) {
    throw duplicateName(err, args[2].name) ?? err;
  }
}

/** Newest first, keyset-paged, filtered by name, tag, status and creation time. */
async function listScenarios(repo: ScenarioRepo, p: Principal, q: ScenarioListInput): Promise<ScenarioPage> {
  authorize(p, "scenarios:read");
  const tenantId = resolveTenant(p, q.tenant_id);
  const created = parseCreatedRange(q);
  const filter = {
    tenantId,
    ...(q.name !== undefined ? { name: q.name } : {}),
    ...(q.tag !== undefined ? { tag: q.tag } : {}),
    ...(q.status !== undefined ? { status: normalizeEnum(SCENARIO_STATUSES, q.status) } : {}),
    ...created,
  };
  const limit = q.limit ?? 20;
  const { items, nextCursor } = await newestFirstPage({
    cursor: q.cursor,
    limit,
    filter,
    fetch: (after) => repo.list(filter, limit, after),
  });
  return { items, nextCursor, limit };
}

export type ScenarioService = ReturnType<typeof createScenarioService>;

function versionConflict(expected: number, current: number): AppError {
  return conflict(`scenario is at version ${current}, not ${expected}`, { expected_version: expected, current_version: current });
}

type Fields = Partial<Omit<ScenarioCreateInput, "tenant_id">>;

/** Trims names and tags, lower-cases enums, validates driver payloads and model parameters, and bounds JSON sizes. */
/**
 * How many times an unguarded merge patch is merged at most: each round of racing writers lets at
 * least one through, so up to this many concurrent merges of one scenario all land.
 */
const MERGE_ATTEMPTS = 10;

/** RFC 7396 MergePatch(target, patch): objects merge key by key, null deletes a key, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return patch;
  const out: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    // defineProperty: a "__proto__" key stays a key (JSON.parse makes it an own property) and never sets a prototype.
    else Object.defineProperty(out, key, { value: mergePatch(Object.hasOwn(out, key) ? out[key] : undefined, value), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function normalizeFields(input: Fields): { changes: ScenarioChanges; curveRefs: CurveRef[]; regionRefs: RegionRef[] } {
  const issues: FieldIssue[] = [];
  const out: ScenarioChanges = {};
  let curveRefs: CurveRef[] = [];
  let regionRefs: RegionRef[] = [];
  if (input.name !== undefined) out.name = input.name.trim();
  if (input.description !== undefined) out.description = input.description;
  if (input.status !== undefined) out.status = normalizeEnum(SCENARIO_STATUSES, input.status);
  if (input.tags !== undefined) out.tags = [...new Set(input.tags.map((tag) => tag.trim()))];
  if (input.assumptions !== undefined) {
    const checked = validateAssumptions(input.assumptions.map((a) => ({ ...a, driver_type: normalizeEnum(DRIVER_TYPES, a.driver_type) })));
    issues.push(...checked.issues);
    curveRefs = checked.curveRefs;
    regionRefs = checked.regionRefs;
    out.assumptions = checked.normalized;
    if (jsonBytes(out.assumptions) > LIMITS.jsonBytes) issues.push({ field: "/assumptions", location: "body", message: `must be at most ${LIMITS.jsonBytes} bytes of JSON` });
  }
  if (input.parameters !== undefined) {
    out.parameters = input.parameters;
    issues.push(...validateModelParameters(input.parameters));
    if (jsonBytes(out.parameters) > LIMITS.jsonBytes) issues.push({ field: "/parameters", location: "body", message: `must be at most ${LIMITS.jsonBytes} bytes of JSON` });
  }
  for (const [field, value] of Object.entries(out)) {
    // Postgres text and jsonb cannot hold NUL: reject it here, naming the field, instead of failing in SQL.
    if (JSON.stringify(value ?? null).includes("\\u0000")) issues.push({ field: `/${field}`, location: "body", message: "must not contain NUL characters" });
  }
  if (issues.length) throw badRequest("request body is invalid", issues);
  return { changes: out, curveRefs, regionRefs };
}

/**
 * Drivers the engine would skip (docs/scenarios.md, "No silent no-ops"): a referenced curve that
 * does not exist or is of the wrong product, and a region that matches no power curve (the engine
 * moves only power curves with policy, load_growth and fleet_change drivers, src/engine/engine.ts
 * driverApplies) or, for a load_growth driver with a reference curve, not that curve.
 */
async function curveIssues(curves: CurveCatalog, curveRefs: CurveRef[], regionRefs: RegionRef[]): Promise<FieldIssue[]> {
  const issues: FieldIssue[] = [];
  const issue = (field: string, message: string) => issues.push({ field, location: "body", message });
  const keys = [...new Set([...curveRefs.map((r) => r.key), ...regionRefs.flatMap((r) => (r.curveKey ? [r.curveKey] : []))])];
  const known = keys.length ? await curves.identities(keys) : new Map<string, { product: string; market: string; location: string }>();
  const ofProduct = new Map<string, string>();
  for (const r of curveRefs) {
    const curve = known.get(r.key);
    if (curve?.product === r.product) continue;
    if (!ofProduct.has(r.product)) {
      const rows = await curves.list({ product: r.product }, LISTED);
      ofProduct.set(
        r.product,
        rows.length
          ? `one of ${listed(
              rows.map((c) => c.curve_key),
              `GET /v1/curves?product=${r.product}`,
            )}`
          : `none is loaded (import one with POST /v1/curves:import)`,
      );
    }
    const what = curve ? `curve ${r.key} is a ${curve.product} curve` : `unknown curve key ${r.key}`;
    issue(r.field, `${what}; a ${r.driver} needs a ${r.product} curve: ${ofProduct.get(r.product)}`);
  }
  if (!regionRefs.length) return issues;
  const found = await curves.powerRegions(regionRefs.map((r) => r.region));
  const matched = new Set([...found.markets, ...found.locations].map(lowered));
  let all: { markets: string[]; locations: string[] } | undefined;
  for (const r of regionRefs) {
    // a region names a power curve's market or location, or (docs/model.md §3.1) a market alias, a US state or a carbon program covering one
    let covers = matched.has(lowered(r.region));
    if (!covers) {
      all ??= await curves.powerRegions();
      covers = all.markets.some((m) => regionCovers(r.region, { market: m, location: "" })) || all.locations.some((l) => regionCovers(r.region, { market: "", location: l }));
    }
    if (!covers) {
      all ??= await curves.powerRegions();
      const allowed = all.markets.length
        ? `a market (${all.markets.join(", ")}) or a location (${listed(all.locations, "GET /v1/curves?product=power")}) of a power curve, or a US state or carbon program covering one (docs/model.md §3.1)`
        : "a market or location of a power curve, and none is loaded (import curves with POST /v1/curves:import)";
      issue(r.field, `region '${r.region}' matches no power curve, so the driver would change nothing: it must be ${allowed}`);
      continue;
    }
    const curve = r.curveKey ? known.get(r.curveKey) : undefined;
    if (curve && curve.product === "power" && !regionCovers(r.region, curve))
      issue(
        r.field,
        `region '${r.region}' does not match reference curve ${r.curveKey}, so the driver would change nothing: it must be ${curve.market} or ${curve.location}, or be left out`,
      );
  }
  return issues;
}

const lowered = (name: string) => name.trim().toLowerCase();

/** At most LISTED names, then where to find the rest. */
function listed(names: string[], more: string): string {
  return names.length > LISTED ? `${names.slice(0, LISTED).join(", ")}, … (all in ${more})` : names.join(", ");
}

function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value));
}

/** A unique violation on (tenant, lower(name)) is the duplicate-name conflict of the guide. */
function duplicateName(err: unknown, name: string | undefined): AppError | undefined {
  const e = err as { code?: string; constraint_name?: string };
  if (e?.code === "23505" && e.constraint_name === "scenario_tenant_name_uq") {
    return conflict(`a scenario named '${name}' already exists in this tenant`, { field: "name" });
  }
  return undefined;
}

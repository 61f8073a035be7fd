/**
 * Output use cases: validate filters, scope to the caller's tenant, pick the run (the latest
 * SUCCEEDED one unless named), and read pages, exports and the latest-value rollup through the
 * read port. Cursors pin the run they started on, so a run finishing mid-paging changes nothing.
 */
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { t } from "elysia";
import type { CacheKind } from "../cache/keys";
import type { ScenarioCache } from "../cache/service";
import { checkOutputQuery, checkOutputRequest } from "../flags/outputs-gate";
import type { FeatureGate } from "../flags/service";
import { authorize, type Principal, resolveTenant } from "../platform/auth";
import { decodeCursor, encodeCursor, filterFingerprint } from "../platform/cursor";
import { badRequest, conflict, notFound } from "../platform/errors";
import { asEnvelopeText, type EnvelopeText, envelopeText } from "../platform/http";
import { JSON_LIMIT } from "../platform/json-page";
import { normalizeEnum } from "../platform/schema";
import { isCalendarDay } from "../platform/time";
import type { RunRepo } from "../runs/repo";
import type { ScenarioRepo } from "../scenarios/repo";
import { createCompareService } from "./compare-service";
import { encodeRows } from "./encoders";
import { createExportSlots, type ExportSlotOptions } from "./export-slots";
import { spellRow } from "./finite";
import { summaryPage } from "./metric-summary";
import { type FilterQuery, type LatestQueryInput, type OutputQueryInput, TENOR_TYPES } from "./model";
import { type ExportFormat, exportRequest, type OutputFilter, type OutputReader } from "./reader";
import { keyOf, LatestMetric, type LatestRow, type OutputKey, type OutputRow, OutputRowSchema } from "./row";

const ANY = /^[\s\S]*$/;
const KEY_SHAPE = { m: ANY, k: ANY, t: ANY, c: /^\d{4}-\d{2}-\d{2}$/ };
const RUN_KEY_SHAPE = { ...KEY_SHAPE, r: /^[0-9a-f-]{36}$/ };
/** Pages are cached as the envelope's text: a hit is answered without parsing or serialising its rows. */
const ENVELOPE_CODEC = { encode: (text: EnvelopeText) => text, decode: asEnvelopeText };
/**
 * The routes send that text as is, so Elysia does not validate it against the declared response
 * schema; the rows are checked here instead, once, when a page is built (and before it is cached).
 */
const ROW_CHECKS = { outputs: TypeCompiler.Compile(t.Array(OutputRowSchema)), metrics: TypeCompiler.Compile(t.Array(LatestMetric)) };
function pageText(kind: "outputs" | "metrics", rows: (OutputRow | LatestRow)[], meta: Record<string, unknown>): EnvelopeText {
  const check = ROW_CHECKS[kind];
  // NaN and ±Infinity as the strings the schema and docs/outputs.md allow (JSON has no such numbers).
  const items = rows.map(spellRow);
  if (!check.Check(items)) {
    const first = check.Errors(items).First();
    throw new Error(`the output store returned a row that does not match the ${kind} schema: ${first?.path} ${first?.message}`);
  }
  return envelopeText(items, meta);
}

export type OutputPlan = {
  format: "json" | ExportFormat;
  filter: OutputFilter;
  /** The run read: named, pinned by the cursor, or the latest SUCCEEDED; null when there is none. */
  runId: string | null;
  limit: number | undefined;
  after: OutputKey | undefined;
  escapeFormulas: boolean;
  fingerprint: string;
  /** The tenant's `max_concurrent_exports` flag (docs/runtime-config.md); undefined: no per-tenant bound. */
  tenantExportsMax?: number | undefined;
};

/** Its dependencies; the export slot limits are createExportSlots' (export-slots.ts). */
export type OutputServiceDeps = ExportSlotOptions & {
  /** Which runs' outputs are readable (SUCCEEDED ones). */
  runs: Pick<RunRepo, "stateOf" | "latestSucceeded">;
  scenarios: ScenarioRepo;
  reader: OutputReader;
  cache?: ScenarioCache;
  flags?: FeatureGate;
};

export function createOutputService(deps: OutputServiceDeps) {
  const { runs, scenarios, reader } = deps;
  const slots = createExportSlots(deps);
  const exportSlot = slots.run;

  /** Checks access and filters; the tenant of the filter is the scenario's own. */
  async function scope(p: Principal, scenarioId: string, q: FilterQuery): Promise<OutputFilter> {
    authorize(p, "scenarios:read");
    const scenario = await scenarios.get(scenarioId, resolveTenant(p, q.tenant_id));
    if (!scenario) throw notFound("scenario");
    return outputFilter(scenario.tenant_id, scenarioId, q);
  }

  /**
   * A named (or cursor-pinned) run must be the scenario's and SUCCEEDED (a store may hold partial rows
   * of a run still being written); otherwise the latest SUCCEEDED run, if any.
   */
  async function resolveRun(scenarioId: string, runId: string | undefined): Promise<string | null> {
    if (runId) {
      const state = await runs.stateOf(runId, scenarioId);
      if (!state) throw notFound("run");
      if (state !== "SUCCEEDED") throw conflict(`run ${runId} is ${state}; its outputs can be read once it has SUCCEEDED`, { state });
      return runId;
    }
    return (await runs.latestSucceeded(scenarioId)) ?? null;
  }

  const cached = (kind: CacheKind, p: Principal, scenarioId: string, q: CachedQuery, load: () => Promise<EnvelopeText>) => cachedPage(deps, kind, p, scenarioId, q, load);

  /** Validates a /outputs request and resolves its run; throws 4xx before anything is sent. */
  async function plan(p: Principal, scenarioId: string, q: OutputQueryInput): Promise<OutputPlan> {
    const filter = await scope(p, scenarioId, q);
    const { format, allowed } = await checkOutputQuery(deps.flags, filter.tenantId, q);
    const fingerprint = filterFingerprint({ ...filter, kind: "outputs" });
    const cursor = q.cursor ? decodeCursor(q.cursor, fingerprint, RUN_KEY_SHAPE) : undefined;
    const runId = await resolveRun(scenarioId, cursor?.r ?? filter.runId);
    return {
      format,
      filter: runId ? { ...filter, runId } : filter,
      runId,
      limit: format === "json" ? (allowed.limit ?? JSON_LIMIT.default) : allowed.limit,
      after: cursor && { metric: cursor.m, curve_key: cursor.k, tenor_type: cursor.t, contract_month: cursor.c },
      escapeFormulas: q.escape_formulas ?? false,
      fingerprint,
      tenantExportsMax: allowed.maxConcurrentExports,
    };
  }

  const compare = createCompareService({ scenarios, reader, flags: deps.flags, scope, resolveRun, cached, exportSlot });

  return {
    plan,

    /** One JSON page of /outputs (`format` json or absent) as envelope text; `meta.run_id` names the run it read. */
    async page(p: Principal, scenarioId: string, q: OutputQueryInput): Promise<EnvelopeText> {
      return cached("outputs", p, scenarioId, q, async () => {
        const planned = await plan(p, scenarioId, q);
        const limit = planned.limit ?? JSON_LIMIT.default;
        const rows = planned.runId ? await reader.page({ ...planned.filter, runId: planned.runId }, limit + 1, planned.after) : [];
        const items = rows.slice(0, limit);
        const last = items.at(-1);
        const nextCursor =
          rows.length > limit && last && planned.runId
            ? encodeCursor({ r: planned.runId, m: last.metric, k: last.curve_key, t: last.tenor_type, c: last.contract_month }, planned.fingerprint)
            : null;
        return pageText("outputs", items, { count: items.length, limit, next_cursor: nextCursor, run_id: planned.runId });
      });
    },

    /** CSV/NDJSON exports streaming now in this process (the aurum_output_exports_active gauge). */
    get exportsActive(): number {
      return slots.active;
    },

    /** The encoded rows of a CSV/NDJSON plan, in an export slot (`exportSlot`). */
    export(plan: OutputPlan & { format: ExportFormat }, signal: AbortSignal): AsyncIterable<Uint8Array> {
      const request = exportRequest(plan, signal);
      return exportSlot(plan.filter.tenantId, plan.tenantExportsMax, () =>
        plan.runId ? reader.export({ ...plan.filter, runId: plan.runId }, request) : encodeRows(emptyBatches(), plan.format),
      );
    },

    /** `/compare` (compare-service.ts): the same checks, cache and export slots as /outputs. */
    compare,

    /** The latest row per natural key across the scenario's SUCCEEDED runs (or within `run_id`), as envelope text. */
    async latest(p: Principal, scenarioId: string, q: LatestQueryInput): Promise<EnvelopeText> {
      return cached("metrics", p, scenarioId, q, async () => {
        const filter = await scope(p, scenarioId, q);
        const allowed = await checkOutputRequest(deps.flags, filter.tenantId, "json", q.limit);
        if (filter.runId) await resolveRun(scenarioId, filter.runId);
        if (q.group_by !== undefined) return summaryPage(reader, filter, q.cursor, allowed.limit ?? JSON_LIMIT.default);
        const fingerprint = filterFingerprint({ ...filter, kind: "latest" });
        const cursor = q.cursor ? decodeCursor(q.cursor, fingerprint, KEY_SHAPE) : undefined;
        const limit = allowed.limit ?? JSON_LIMIT.default;
        const after = cursor && { metric: cursor.m, curve_key: cursor.k, tenor_type: cursor.t, contract_month: cursor.c };
        const rows = await reader.latest(filter, limit + 1, after);
        const items = rows.slice(0, limit);
        const last = items.at(-1);
        const key = last && keyOf(last);
        const nextCursor = rows.length > limit && key ? encodeCursor({ m: key.metric, k: key.curve_key, t: key.tenor_type, c: key.contract_month }, fingerprint) : null;
        return pageText("metrics", items, { count: items.length, limit, next_cursor: nextCursor });
      });
    },
  };
}

export type OutputService = ReturnType<typeof createOutputService>;

async function* emptyBatches() {}

type CachedQuery = FilterQuery & { limit?: number | undefined };

/**
 * A JSON read through the cache. The entry is keyed by the caller's tenant, the scenario and the
 * query as asked, under the tenant's version, read (with the entry) before anything else, so a hit
 * answers from one Redis round trip without a database query. Everything an answer depends on bumps that version: a run's outputs
 * committing, an admin marking a run SUCCEEDED, the scenario's deletion, an admin invalidation
 * (docs/cache.md). A scenario that is not the tenant's fails inside `load`, and errors are never cached.
 */
async function cachedPage(
  deps: Pick<OutputServiceDeps, "cache" | "flags" | "scenarios">,
  kind: CacheKind,
  p: Principal,
  scenarioId: string,
  q: CachedQuery,
  load: () => Promise<EnvelopeText>,
): Promise<EnvelopeText> {
  if (!deps.cache) return load();
  authorize(p, "scenarios:read");
  // The caller's tenant; a local operator naming none reads under the scenario's own.
  const tenantId = resolveTenant(p, q.tenant_id) ?? (await deps.scenarios.get(scenarioId, null))?.tenant_id;
  if (!tenantId) return load();
  // A disabled feature or a limit over the tenant's maximum answers the same on a hit.
  await checkOutputRequest(deps.flags, tenantId, "json", q.limit);
  // The query as asked (canonical JSON: key order does not matter), `metric_name` read as its alias `metric`.
  const { metric_name, ...query } = q;
  return deps.cache.getOrLoad(kind, tenantId, { scenarioId, query: { ...query, metric: q.metric ?? metric_name } }, load, { codec: ENVELOPE_CODEC });
}

/** The validated filters of a query on a scenario of `tenantId`: one metric (or its alias), ranges of real days, the tenor's canonical spelling. */
function outputFilter(tenantId: string, scenarioId: string, q: FilterQuery): OutputFilter {
  if (q.metric !== undefined && q.metric_name !== undefined && q.metric !== q.metric_name) {
    throw badRequest("metric and metric_name differ", [{ field: "metric_name", location: "query", message: "is an alias of metric; give one, or the same value" }]);
  }
  const metric = q.metric ?? q.metric_name;
  const asof = range("asof_date", q.asof_date, q.asof_date_from, q.asof_date_to, (f, v) => day(f, v));
  const month = range("contract_month", q.contract_month, q.contract_month_from, q.contract_month_to, (f, v) => day(f, v.length === 7 ? `${v}-01` : v));
  return {
    tenantId,
    // Ids as Postgres prints them (lower case): Iceberg compares them as text.
    scenarioId: scenarioId.toLowerCase(),
    ...(q.run_id ? { runId: q.run_id.toLowerCase() } : {}),
    ...(metric ? { metric } : {}),
    ...(q.curve_key ? { curveKey: q.curve_key } : {}),
    ...(q.tenor_type ? { tenorType: normalizeEnum(TENOR_TYPES, q.tenor_type) } : {}),
    ...(asof.from ? { asofFrom: asof.from } : {}),
    ...(asof.to ? { asofTo: asof.to } : {}),
    ...(month.from ? { monthFrom: month.from } : {}),
    ...(month.to ? { monthTo: month.to } : {}),
  };
}

/** A real calendar day, else a 400 naming the field. */
function day(field: string, value: string): string {
  if (!isCalendarDay(value)) throw badRequest(`${field} is not a valid date`, [{ field, location: "query", message: `${value} is not a calendar date` }]);
  return value;
}

/** An exact value or an inclusive range (not both); `from` after `to` is a 400. */
function range(field: string, exact: string | undefined, from: string | undefined, to: string | undefined, parse: (field: string, v: string) => string) {
  if (exact !== undefined && (from !== undefined || to !== undefined)) {
    throw badRequest(`give ${field} or a ${field} range, not both`, [{ field, location: "query", message: `not together with ${field}_from/${field}_to` }]);
  }
  if (exact !== undefined) {
    const v = parse(field, exact);
    return { from: v, to: v };
  }
  const r = { from: from === undefined ? undefined : parse(`${field}_from`, from), to: to === undefined ? undefined : parse(`${field}_to`, to) };
  if (r.from && r.to && r.from > r.to)
    throw badRequest(`${field}_from is after ${field}_to`, [{ field: `${field}_from`, location: "query", message: `must not be after ${field}_to` }]);
  return r;
}

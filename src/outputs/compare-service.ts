/**
 * `/compare` use cases: the /outputs checks (tenant scope, filters, feature flags, limits), both
 * runs resolved (named, pinned by the cursor, or each scenario's latest SUCCEEDED run), then JSON
 * pages through the output cache and CSV/NDJSON exports in the /outputs export slots. The other
 * scenario is looked up in the first one's tenant, so another tenant's scenario is a 404 like any
 * scenario the caller cannot see.
 */
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { t } from "elysia";
import type { CacheKind } from "../cache/keys";
import { checkOutputQuery } from "../flags/outputs-gate";
import type { FeatureGate } from "../flags/service";
import type { Principal } from "../platform/auth";
import { decodeCursor, encodeCursor, filterFingerprint } from "../platform/cursor";
import { AppError, badRequest, conflict, notFound } from "../platform/errors";
import type { EnvelopeText } from "../platform/http";
import { envelopeText } from "../platform/http";
import { JSON_LIMIT } from "../platform/json-page";
import type { ScenarioRepo } from "../scenarios/repo";
import type { CompareQueryInput } from "./compare-model";
import { spellDouble } from "./finite";
import type { FilterQuery } from "./model";
import { type CompareSpec, type ExportFormat, exportRequest, type OutputFilter, type OutputReader } from "./reader";
import { type CompareRow, CompareRowSchema, type OutputKey } from "./row";

const ANY = /^[\s\S]*$/;
const ID = /^[0-9a-f-]{36}$/;
const CURSOR_SHAPE = { r: ID, w: ID, m: ANY, k: ANY, t: ANY, c: /^\d{4}-\d{2}-\d{2}$/ };
const ROWS_CHECK = TypeCompiler.Compile(t.Array(CompareRowSchema));

export type ComparePlan = {
  format: "json" | ExportFormat;
  spec: CompareSpec;
  /** Run a (this scenario's) and run b (the other scenario's; run a itself with `baseline`). */
  runId: string;
  withRunId: string;
  /** The other scenario; null with `baseline`. */
  withScenarioId: string | null;
  limit: number | undefined;
  after: OutputKey | undefined;
  escapeFormulas: boolean;
  fingerprint: string;
  tenantExportsMax?: number | undefined;
};

export type CompareContext = {
  scenarios: ScenarioRepo;
  reader: OutputReader;
  flags?: FeatureGate | undefined;
  scope: (p: Principal, scenarioId: string, q: FilterQuery) => Promise<OutputFilter>;
  resolveRun: (scenarioId: string, runId: string | undefined) => Promise<string | null>;
  cached: (kind: CacheKind, p: Principal, scenarioId: string, q: FilterQuery & { limit?: number | undefined }, load: () => Promise<EnvelopeText>) => Promise<EnvelopeText>;
  exportSlot: (tenantId: string, tenantExportsMax: number | undefined, open: () => AsyncIterable<Uint8Array>) => AsyncIterable<Uint8Array>;
};

/** A compared row for a JSON page: NaN and ±Infinity as their strings (finite.ts). */
function spellCompareRow(r: CompareRow): CompareRow {
  const ok = (v: number | null) => v === null || Number.isFinite(v);
  if (ok(r.a) && ok(r.b) && ok(r.delta) && ok(r.delta_pct)) return r;
  return { ...r, a: spellDouble(r.a), b: spellDouble(r.b), delta: spellDouble(r.delta), delta_pct: spellDouble(r.delta_pct) } as unknown as CompareRow;
}

export function createCompareService(ctx: CompareContext) {
  /** A run named for one side (or its default); 404 for a run of another scenario, 409 for one not SUCCEEDED or none at all. */
  async function side(scenarioId: string, runId: string | undefined, field: "run_id" | "with_run_id"): Promise<string> {
    let id: string | null;
    try {
      id = await ctx.resolveRun(scenarioId, runId);
    } catch (err) {
      if (err instanceof AppError && err.code === "NOT_FOUND") throw notFound(`${field} ${runId}: run of scenario ${scenarioId}`);
      throw err;
    }
    if (!id) throw conflict(`scenario ${scenarioId} has no SUCCEEDED run to compare; name one with ${field} or run the scenario`, { scenario_id: scenarioId, field });
    return id;
  }

  /** Validates a /compare request and resolves both runs; throws 4xx before anything is sent. */
  async function plan(p: Principal, scenarioId: string, q: CompareQueryInput): Promise<ComparePlan> {
    const filter = await ctx.scope(p, scenarioId, q);
    const { format, allowed } = await checkOutputQuery(ctx.flags, filter.tenantId, q);
    const baseline = q.with.toLowerCase() === "baseline";
    if (baseline && q.with_run_id !== undefined) {
      throw badRequest("with_run_id does not apply to with=baseline", [
        { field: "with_run_id", location: "query", message: "with=baseline compares run_id with its own no-driver baseline" },
      ]);
    }
    const withScenarioId = baseline ? null : q.with.toLowerCase();
    // The other scenario in this scenario's tenant: another tenant's is not found, as any scenario the caller cannot see.
    if (withScenarioId && withScenarioId !== scenarioId.toLowerCase() && !(await ctx.scenarios.get(withScenarioId, filter.tenantId))) {
      throw notFound(`scenario ${withScenarioId} (with)`);
    }
    const withRunAsked = q.with_run_id?.toLowerCase();
    const fingerprint = filterFingerprint({ ...filter, kind: "compare", with: withScenarioId ?? "baseline", withRunId: withRunAsked });
    const cursor = q.cursor ? decodeCursor(q.cursor, fingerprint, CURSOR_SHAPE) : undefined;
    const runId = await side(scenarioId, cursor?.r ?? filter.runId, "run_id");
    const withRunId = withScenarioId ? await side(withScenarioId, cursor?.w ?? withRunAsked, "with_run_id") : runId;
    const a = { ...filter, runId };
    return {
      format,
      spec: { a, b: withScenarioId ? { scenarioId: withScenarioId, runId: withRunId } : "baseline" },
      runId,
      withRunId,
      withScenarioId,
      limit: format === "json" ? (allowed.limit ?? JSON_LIMIT.default) : allowed.limit,
      after: cursor && { metric: cursor.m, curve_key: cursor.k, tenor_type: cursor.t, contract_month: cursor.c },
      escapeFormulas: q.escape_formulas ?? false,
      fingerprint,
      tenantExportsMax: allowed.maxConcurrentExports,
    };
  }

  return {
    plan,

    /** One JSON page; `meta` names both runs (`run_id`, `with_run_id`) and the other scenario (`with_scenario_id`, null with baseline). */
    async page(p: Principal, scenarioId: string, q: CompareQueryInput): Promise<EnvelopeText> {
      return ctx.cached("compare", p, scenarioId, q, async () => {
        const planned = await plan(p, scenarioId, q);
        const limit = planned.limit ?? JSON_LIMIT.default;
        const rows = await ctx.reader.compare.page(planned.spec, limit + 1, planned.after);
        const items = rows.slice(0, limit).map(spellCompareRow);
        if (!ROWS_CHECK.Check(items)) {
          const first = ROWS_CHECK.Errors(items).First();
          throw new Error(`the output store returned a compared row that does not match the schema: ${first?.path} ${first?.message}`);
        }
        const last = items.at(-1);
        const nextCursor =
          rows.length > limit && last
            ? encodeCursor({ r: planned.runId, w: planned.withRunId, m: last.metric, k: last.curve_key, t: last.tenor_type, c: last.contract_month }, planned.fingerprint)
            : null;
        return envelopeText(items, {
          count: items.length,
          limit,
          next_cursor: nextCursor,
          run_id: planned.runId,
          with: planned.withScenarioId ? "scenario" : "baseline",
          with_scenario_id: planned.withScenarioId,
          with_run_id: planned.withRunId,
        });
      });
    },

    /** The encoded rows of a CSV/NDJSON plan, in an export slot shared with /outputs. */
    export(plan: ComparePlan & { format: ExportFormat }, signal: AbortSignal): AsyncIterable<Uint8Array> {
      const request = exportRequest(plan, signal);
      return ctx.exportSlot(plan.spec.a.tenantId, plan.tenantExportsMax, () => ctx.reader.compare.export(plan.spec, request));
    },
  };
}

export type CompareService = ReturnType<typeof createCompareService>;

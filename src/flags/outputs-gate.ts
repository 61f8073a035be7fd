/**
 * The output feature's flags applied to one request: outputs on, streamed exports on (`csv_export`
 * covers csv and ndjson), the page or row limit within the tenant's maximum, and at most
 * `max_concurrent_exports` exports of one tenant streaming at once in this process.
 */

import { AppError, badRequest } from "../platform/errors";
import { JSON_LIMIT } from "../platform/json-page";
import { normalizeEnum } from "../platform/schema";
import type { FeatureGate } from "./service";

export type OutputAllowance = {
  /** The limit to use: the request's own, else the tenant's maximum when it is below the default; undefined: the caller's default. */
  limit: number | undefined;
  maxConcurrentExports: number | undefined;
};

/** Throws the flag's 403/503 or a 400 naming `limit`; without flags (tools, tests) everything is allowed. */
export async function checkOutputRequest(flags: FeatureGate | undefined, tenantId: string, format: "json" | "csv" | "ndjson", limit: number | undefined): Promise<OutputAllowance> {
  if (!flags) return { limit, maxConcurrentExports: undefined };
  const { outputLimits } = await flags.require(tenantId, "scenario_outputs");
  if (format !== "json") await flags.require(tenantId, "csv_export");
  const max = format === "json" ? outputLimits.max_page_size : outputLimits.max_export_rows;
  if (max !== null && limit !== undefined && limit > max) {
    const what = format === "json" ? "a JSON page" : "one export";
    throw badRequest(`limit is at most ${max} for ${what} of this tenant`, [{ field: "limit", location: "query", message: `must be at most ${max} (runtime config)` }]);
  }
  // Without a limit: a JSON page gets the default page size (capped), an export stops at the tenant's maximum.
  const fallback = max === null ? undefined : format === "json" ? (max < JSON_LIMIT.default ? max : undefined) : max;
  return { limit: limit ?? fallback, maxConcurrentExports: outputLimits.max_concurrent_exports };
}

/**
 * The checks every output read shares before it resolves its run (/outputs and /compare): the
 * format, the flags and limits of `checkOutputRequest`, the JSON page maximum, and
 * `escape_formulas` only with CSV. Throws 4xx; returns the format and the allowance.
 */
export async function checkOutputQuery(
  flags: FeatureGate | undefined,
  tenantId: string,
  q: { format?: string | undefined; limit?: number | undefined; escape_formulas?: unknown },
): Promise<{ format: "json" | "csv" | "ndjson"; allowed: OutputAllowance }> {
  const format = normalizeEnum(["json", "csv", "ndjson"] as const, q.format ?? "json");
  const allowed = await checkOutputRequest(flags, tenantId, format, q.limit);
  if (format === "json" && q.limit !== undefined && q.limit > JSON_LIMIT.max) {
    throw badRequest(`limit is at most ${JSON_LIMIT.max} for format=json`, [
      { field: "limit", location: "query", message: `must be at most ${JSON_LIMIT.max} for JSON pages; use format=csv or ndjson for more` },
    ]);
  }
  if (q.escape_formulas !== undefined && format !== "csv") {
    throw badRequest("escape_formulas applies to format=csv only", [{ field: "escape_formulas", location: "query", message: "only with format=csv" }]);
  }
  return { format, allowed };
}

/** Counts exports per tenant; `enter` throws 429 when the tenant is at its maximum, else returns the release. */
export function createTenantExportGate() {
  const running = new Map<string, number>();
  return {
    enter(tenantId: string, max: number | undefined): () => void {
      const now = running.get(tenantId) ?? 0;
      if (max !== undefined && now >= max) {
        throw new AppError("RATE_LIMITED", `at most ${max} exports of this tenant run at once; retry shortly`, {
          retry_after_seconds: 1,
          flag: "scenario_outputs.max_concurrent_exports",
        });
      }
      running.set(tenantId, now + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = (running.get(tenantId) ?? 1) - 1;
        if (left > 0) running.set(tenantId, left);
        else running.delete(tenantId);
      };
    },
  };
}

/** Feature-flag resolution (tenant → _global → environment), the outputs gate and the per-tenant export gate, without a database. */
import { describe, expect, test } from "bun:test";
import { loadConfig } from "../../src/config";
import type { FeatureFlagInput, FeatureName, RateLimitSettingsInput } from "../../src/flags/model";
import { checkOutputRequest, createTenantExportGate } from "../../src/flags/outputs-gate";
import type { ConfigRepo } from "../../src/flags/repo";
import type { RuntimeConfig, Snapshot } from "../../src/flags/runtime";
import { createFlags, featureName } from "../../src/flags/service";
import { AppError } from "../../src/platform/errors";

function flagsWith(
  features: Record<string, Partial<Record<FeatureName, FeatureFlagInput>>>,
  rateLimits: Record<string, RateLimitSettingsInput> = {},
  env: Record<string, string> = {},
) {
  const snapshot: Snapshot = {
    version: 1,
    rateLimits: new Map(Object.entries(rateLimits)),
    features: new Map(Object.entries(features).map(([scope, f]) => [scope, new Map(Object.entries(f) as [FeatureName, FeatureFlagInput][])])),
  };
  const runtime = { current: async () => snapshot, refresh: async () => snapshot } as RuntimeConfig;
  return createFlags({ runtime, repo: {} as ConfigRepo, config: loadConfig(env) });
}

const code = async (p: Promise<unknown>) =>
  p.then(
    () => "ok",
    (err: AppError) => `${err.status} ${err.code} ${JSON.stringify(err.details)}`,
  );

describe("feature flags", () => {
  test("environment defaults: outputs follow AURUM_API_SCENARIO_OUTPUTS_ENABLED, the rest are on", async () => {
    expect(await code(flagsWith({}).require("t", "scenario_outputs"))).toBe("ok");
    expect(await code(flagsWith({}, {}, { AURUM_API_SCENARIO_OUTPUTS_ENABLED: "0" }).require("t", "scenario_outputs"))).toBe('503 FEATURE_DISABLED {"flag":"scenario_outputs"}');
    expect((await flagsWith({}).get("t")).outputLimits).toEqual({ max_page_size: 1000, max_export_rows: null, max_concurrent_exports: 4 });
  });

  test("a tenant's override beats _global, which beats the environment; a tenant switched off is a 403", async () => {
    const flags = flagsWith(
      { _global: { bulk_runs: { enabled: false }, scenario_outputs: { enabled: true } }, vip: { bulk_runs: { enabled: true } }, blocked: { csv_export: { enabled: false } } },
      {},
      { AURUM_API_SCENARIO_OUTPUTS_ENABLED: "0" },
    );
    expect(await code(flags.require("someone", "bulk_runs"))).toBe('503 FEATURE_DISABLED {"flag":"bulk_runs"}');
    expect(await code(flags.require("vip", "bulk_runs"))).toBe("ok");
    expect(await code(flags.require("someone", "scenario_outputs"))).toBe("ok");
    expect(await code(flags.require("blocked", "csv_export"))).toBe('403 FEATURE_NOT_ENTITLED {"flag":"csv_export"}');
    expect(await code(flags.require(null, "csv_export"))).toBe("ok");
  });

  test("output limits merge key by key", async () => {
    const flags = flagsWith({
      _global: { scenario_outputs: { enabled: true, configuration: { max_page_size: 200, max_export_rows: 1000 } } },
      small: { scenario_outputs: { enabled: true, configuration: { max_page_size: 10 } } },
    });
    expect((await flags.get("small")).outputLimits).toEqual({ max_page_size: 10, max_export_rows: 1000, max_concurrent_exports: 4 });
  });

  test("rate-limit layers: tenant, then _global, then the environment", async () => {
    const flags = flagsWith({}, { t: { requests_per_second: 5, burst: 6, enabled: true }, _global: { requests_per_second: 7, burst: 8, enabled: true } });
    expect((await flags.rateLimitLayers("t")).map((l) => l.rps)).toEqual([5, 7, 50]);
    expect((await flags.rateLimitLayers("other")).map((l) => l.rps)).toEqual([7, 50]);
    expect((await flags.rateLimitLayers(null)).map((l) => l.rps)).toEqual([7, 50]);
  });

  test("feature names: canonical, any case, and the guide's ScenarioOutputFeature", () => {
    expect(featureName("CSV_EXPORT")).toBe("csv_export");
    expect(featureName("ScenarioOutputFeature")).toBe("scenario_outputs");
    expect(() => featureName("teleport")).toThrow("unknown feature teleport");
  });
});

describe("outputs gate", () => {
  const flags = flagsWith({ t: { scenario_outputs: { enabled: true, configuration: { max_page_size: 10, max_export_rows: 500, max_concurrent_exports: 2 } } } });

  test("JSON pages: at most max_page_size; without a limit the smaller of the default and the maximum", async () => {
    expect(await checkOutputRequest(flags, "t", "json", 10)).toEqual({ limit: 10, maxConcurrentExports: 2 });
    expect(await checkOutputRequest(flags, "t", "json", undefined)).toEqual({ limit: 10, maxConcurrentExports: 2 });
    expect(await code(checkOutputRequest(flags, "t", "json", 11))).toStartWith("400 VALIDATION_ERROR");
    expect((await checkOutputRequest(flagsWith({}), "t", "json", undefined)).limit).toBeUndefined();
  });

  test("exports: at most max_export_rows, which is also the limit when none is asked", async () => {
    expect((await checkOutputRequest(flags, "t", "csv", undefined)).limit).toBe(500);
    expect(await code(checkOutputRequest(flags, "t", "ndjson", 501))).toStartWith("400 VALIDATION_ERROR");
    expect((await checkOutputRequest(flagsWith({}), "t", "csv", undefined)).limit).toBeUndefined();
  });

  test("per-tenant export slots: the third concurrent export of a tenant at 2 is a 429; releasing frees a slot once", () => {
    const gate = createTenantExportGate();
    const first = gate.enter("t", 2);
    gate.enter("t", 2);
    expect(() => gate.enter("t", 2)).toThrow(AppError);
    gate.enter("other", 2);
    first();
    first();
    gate.enter("t", 2);
    expect(() => gate.enter("t", 2)).toThrow("at most 2 exports");
  });
});

/**
 * Run fingerprints: `input_hash` is the sha256 of the canonical JSON of everything that changes a
 * run's results; `run_key` names the run for humans and logs.
 */
import type { RunInputs } from "./inputs";

/** JSON with object keys sorted at every level, so equal inputs always hash equally. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

/**
 * Everything that changes a run's results is in its inputs (assumptions, effective parameters,
 * code version, seed, as-of date, curve snapshot hashes), so the fingerprint is the hash of those
 * within the tenant and scenario. The scenario's version is not in it: a rename or a tag change
 * does not make a new run necessary.
 */
export function fingerprint(scope: { tenantId: string; scenarioId: string; scenarioVersion: number }, inputs: RunInputs): { inputHash: string; runKey: string } {
  const inputHash = new Bun.CryptoHasher("sha256").update(canonicalJson({ tenantId: scope.tenantId, scenarioId: scope.scenarioId, inputs })).digest("hex");
  return { inputHash, runKey: `${scope.scenarioId.slice(0, 8)}-v${scope.scenarioVersion}-${inputs.options.code_version}-${inputHash.slice(0, 12)}` };
}

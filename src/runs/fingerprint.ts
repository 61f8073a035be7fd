/**
 * Run fingerprints: `input_hash` is the sha256 of the canonical JSON of everything that changes a
 * run's results; `run_key` names the run for humans and logs.
 */
import { canonicalJson } from "../platform/json";
import type { RunInputs } from "./inputs";

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

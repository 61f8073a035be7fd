/**
 * Run fingerprints: `input_hash` is the sha256 of the canonical JSON of everything that changes a
 * run's results; `run_key` names the run for humans and logs.
 */

/** JSON with object keys sorted at every level, so equal inputs always hash equally. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

export type FingerprintInput = {
  tenantId: string;
  scenarioId: string;
  scenarioVersion: number;
  assumptions: unknown;
  /** The scenario's parameters with the run's overrides applied. */
  parameters: Record<string, unknown>;
  codeVersion: string;
  seed: number;
};

export function fingerprint(input: FingerprintInput): { inputHash: string; runKey: string } {
  const inputHash = new Bun.CryptoHasher("sha256").update(canonicalJson(input)).digest("hex");
  return { inputHash, runKey: `${input.scenarioId.slice(0, 8)}-v${input.scenarioVersion}-${input.codeVersion}-${inputHash.slice(0, 12)}` };
}

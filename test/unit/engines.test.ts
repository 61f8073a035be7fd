/**
 * `engines.node` in package.json is true to the dependencies (issue 19 item 10): every Node version
 * it admits satisfies the `engines.node` of every package in package-lock.json (what `npm ci`
 * installs), so npm prints no EBADENGINE warning on a Node that package.json accepts.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");
type Lock = { packages: Record<string, { engines?: { node?: string } | string[]; dev?: boolean }> };

/** Node versions a `>=X.Y.Z` range admits, sampled: its minimum, the last minor of its major, and each later major up to 40. */
function admitted(range: string): string[] {
  const m = /^>=\s*(\d+)\.(\d+)\.(\d+)$/.exec(range.trim());
  if (!m) throw new Error(`engines.node should be ">=X.Y.Z", not ${JSON.stringify(range)}`);
  const major = Number(m[1]);
  return [`${m[1]}.${m[2]}.${m[3]}`, `${major}.99.0`, ...Array.from({ length: 40 - major }, (_, i) => `${major + 1 + i}.0.0`)];
}

/** "package needs RANGE (node V fails)" for each locked package whose engines.node one of `range`'s versions fails. */
function engineViolations(range: string, lock: Lock): string[] {
  const versions = admitted(range);
  const out: string[] = [];
  for (const [path, meta] of Object.entries(lock.packages)) {
    const needs = !Array.isArray(meta.engines) ? meta.engines?.node : undefined;
    if (!path || !needs) continue;
    const failing = versions.find((v) => !Bun.semver.satisfies(v, needs));
    if (failing) out.push(`${path.replace(/^.*node_modules\//, "")} needs ${needs} (node ${failing} fails)`);
  }
  return [...new Set(out)].sort();
}

describe("engines.node", () => {
  const manifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { engines: { node: string } };
  const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as Lock;

  test("admits only Node versions every locked dependency accepts", () => {
    expect(engineViolations(manifest.engines.node, lock)).toEqual([]);
  });

  test("is no stricter than needed: its minimum is the strictest dependency's minimum", () => {
    const [min] = admitted(manifest.engines.node);
    const [major, minor] = (min as string).split(".").map(Number) as [number, number];
    const below = `${major}.${minor - 1}.99`;
    expect(engineViolations(`>=${below}`, lock).length).toBeGreaterThan(0);
  });

  test("the old >=20 (>=20.0.0) is caught, naming the packages that need more (negative case)", () => {
    const violations = engineViolations(">=20.0.0", lock);
    expect(violations).toContainEqual(expect.stringMatching(/^@platformatic\/kafka needs >= 22\.22\.0/));
    expect(violations.length).toBeGreaterThan(3);
  });
});

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

/**
 * Node versions a range admits, sampled. The range is `>=X.Y.Z`, or `^X.Y.Z` parts and a last
 * `>=X.Y.Z` joined by `||` (a dev dependency may skip the odd, never-LTS majors). Per part: its
 * minimum and the last minor of its major; a `>=` part also each later major up to 40.
 */
function admitted(range: string): string[] {
  const out: string[] = [];
  for (const part of range.split("||").map((p) => p.trim())) {
    const m = /^(>=|\^)\s*(\d+)\.(\d+)\.(\d+)$/.exec(part);
    if (!m) throw new Error(`engines.node should be ">=X.Y.Z" or "^X.Y.Z || ... || >=X.Y.Z", not ${JSON.stringify(range)}`);
    const major = Number(m[2]);
    out.push(`${m[2]}.${m[3]}.${m[4]}`, `${major}.99.0`);
    if (m[1] === ">=") out.push(...Array.from({ length: 40 - major }, (_, i) => `${major + 1 + i}.0.0`));
  }
  return out;
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

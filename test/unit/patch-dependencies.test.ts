/**
 * scripts/patch-dependencies.mjs (docs/decisions/0008): the installed postgres.js carries every
 * edit; on the driver's own text each edit applies once (a second run changes nothing); a file that
 * no longer reads as expected (another version) fails the install instead of being half patched.
 * What the edits fix is tested on a real server by test/security/postgres-faults.test.ts, which
 * fails on the unpatched driver (checked).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
// @ts-expect-error plain JavaScript (node runs it as npm's postinstall), no declarations
import { CONNECTION, PATCHES, patchDependencies } from "../../scripts/patch-dependencies.mjs";

const ROOT = join(import.meta.dir, "../..");
type Edit = { find: string; replace: string };
const FILES = (PATCHES as { file: string }[]).map((p) => p.file);
const scratch = mkdtempSync(join(tmpdir(), "aurum-patch-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A package root holding `text` at every patched path. */
function rootWith(name: string, text: string): string {
  const root = join(scratch, name);
  for (const f of FILES) {
    mkdirSync(dirname(join(root, f)), { recursive: true });
    writeFileSync(join(root, f), text);
  }
  return root;
}
/** The driver's own text, the installed file with every edit undone. */
const original = (CONNECTION as Edit[]).reduce((t, e) => t.replace(e.replace, e.find), readFileSync(join(ROOT, FILES[0] as string), "utf8"));

describe("scripts/patch-dependencies.mjs", () => {
  test("the installed postgres.js is patched (npm's postinstall ran it)", () => {
    expect(patchDependencies(ROOT, { check: true })).toEqual([]);
  });

  test("on the driver's own text: every edit applies once; a second run changes nothing", () => {
    expect(original).not.toContain("aurum patch");
    const root = rootWith("fresh", original);
    expect(patchDependencies(root, { check: true }).length).toBe(FILES.length * (CONNECTION as Edit[]).length);
    expect(patchDependencies(root)).toEqual([]);
    const once = readFileSync(join(root, FILES[0] as string), "utf8");
    expect(once.match(/\/\* aurum patch:/g)?.length).toBe((CONNECTION as Edit[]).length);
    expect(patchDependencies(root)).toEqual([]);
    expect(readFileSync(join(root, FILES[0] as string), "utf8")).toBe(once);
    expect(patchDependencies(root, { check: true })).toEqual([]);
  });

  test("another version's text: reported, and the file is left as it was (negative case)", () => {
    const drifted = original.replace("  function nextWrite(fn) {\n", "  function nextWrite(fn, cb) {\n");
    const root = rootWith("drifted", drifted);
    const problems: string[] = patchDependencies(root);
    expect(problems.length).toBe(FILES.length);
    expect(problems[0]).toContain("does not read as expected");
    expect(readFileSync(join(root, FILES[0] as string), "utf8")).toBe(drifted);
  });

  test("--check fails where the driver is missing", () => {
    const root = join(scratch, "empty");
    mkdirSync(root);
    cpSync(join(ROOT, "package.json"), join(root, "package.json"));
    expect(patchDependencies(root, { check: true })).toEqual(FILES.map((f) => `${f}: not installed`));
  });
});

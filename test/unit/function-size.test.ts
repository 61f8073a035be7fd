/**
 * The function-size limit: biome's noExcessiveLinesPerFunction fails any function in src/ whose
 * body is over 100 lines (biome.json; no file is exempt). Runs the committed configuration on
 * planted files in a scratch copy.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");
let dir = "";

/** A function whose body is `lines` lines long. */
const planted = (lines: number) => `export function planted(): number {\n  let n = 0;\n${"  n += 1;\n".repeat(lines - 2)}  return n;\n}\n`;

function lint(path: string, source: string): { code: number; messages: string[] } {
  writeFileSync(join(dir, path), source);
  const run = Bun.spawnSync([join(ROOT, "node_modules/.bin/biome"), "lint", "--reporter=json", path], { cwd: dir, stdout: "pipe", stderr: "pipe" });
  const report = JSON.parse(run.stdout.toString()) as { diagnostics: { category: string; message: string }[] };
  return { code: run.exitCode, messages: report.diagnostics.map((d) => `${d.category}: ${d.message}`) };
}

describe("function size limit", () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "aurum-function-size-"));
    copyFileSync(join(ROOT, "biome.json"), join(dir, "biome.json"));
    mkdirSync(join(dir, "src"));
    mkdirSync(join(dir, "scripts"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("a function of 101 lines in src/ fails the lint", () => {
    const r = lint("src/planted.ts", planted(101));
    expect(r.code).not.toBe(0);
    expect(r.messages).toEqual(["lint/complexity/noExcessiveLinesPerFunction: This function has too many lines (101). Maximum allowed is 100."]);
  });

  test("100 lines pass, and the limit is for src/ only", () => {
    expect(lint("src/fits.ts", planted(100))).toEqual({ code: 0, messages: [] });
    expect(lint("scripts/planted.ts", planted(101))).toEqual({ code: 0, messages: [] });
  });
});

/**
 * docs/guide-map.md keeps the user's guide's words (issue 19 item 9): every path, command,
 * variable, table, topic and endpoint the guide names appears in the map, and every repository
 * path the map points to exists. Negative: a name the map lacks, and a path that does not exist,
 * are reported.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");
const GUIDE = join(ROOT, "../shared/seed/scenarios-guide.md");
// Table cells escape "|" as "\|".
const MAP = readFileSync(join(ROOT, "docs/guide-map.md"), "utf8").replaceAll("\\|", "|");

/** What the guide names: inline code, file paths (also outside code), and the commands of its code blocks. */
function guideNames(guide: string): string[] {
  const names = new Set<string>();
  for (const [, code] of guide.matchAll(/`([^`\n]+)`/g)) names.add(code as string);
  for (const [path] of guide.matchAll(/(?<![\w/.-])[\w-]+(?:\/[\w.-]+)+\.(?:ya?ml|sql|py|md)\b/g)) names.add(path);
  for (const [, command] of guide.matchAll(/^(?:COMPOSE_PROFILES=\S+ )?((?:docker compose|python|make) [^\\\n]*?)\s*(?:\\\\?)?$/gm)) names.add((command as string).trim());
  return [...names].filter((n) => n.trim() !== "");
}

/** Names of `names` that `map` never mentions. */
function unmapped(names: string[], map: string): string[] {
  return names.filter((n) => !map.includes(n));
}

/** Repository paths in the map's "here" column (first backticked path of the second cell) that do not exist. */
function missingPaths(map: string, root: string): string[] {
  const out: string[] = [];
  for (const line of map.split("\n")) {
    const cells = line.split(" | ");
    const here = cells[1] ?? "";
    for (const [, path] of here.matchAll(/`((?:docs|deploy|ddl|trino|bench|src|scripts|test)\/[\w./-]+|Makefile)`/g)) {
      if (!existsSync(join(root, path as string))) out.push(path as string);
    }
  }
  return out;
}

describe.skipIf(!existsSync(GUIDE))("docs/guide-map.md", () => {
  const guide = readFileSync(GUIDE, "utf8");

  test("names everything the guide names", () => {
    const names = guideNames(guide);
    for (const expected of [
      "compose/docker-compose.dev.yml",
      "k8s/scenario-worker/deployment.yaml",
      "postgres/ddl/app.sql",
      "scripts/bench/scenario_benchmark.py",
      "make trino-harness-metrics",
      "AURUM_TIMESCALE_DSN",
      "timescale.public.ops_metrics",
      "docs/runtime-config.md",
    ])
      expect(names).toContain(expected);
    expect(unmapped(names, MAP)).toEqual([]);
  });

  test("every repository path it points to exists", () => {
    expect(missingPaths(MAP, ROOT)).toEqual([]);
  });

  test("a guide name the map lacks, and a path that does not exist, are reported (negative case)", () => {
    expect(unmapped(["AURUM_NOT_MAPPED", "compose/docker-compose.dev.yml"], MAP)).toEqual(["AURUM_NOT_MAPPED"]);
    expect(missingPaths("| x | `deploy/nowhere.yaml` | note |\n| y | `docs/guide-map.md` | |", ROOT)).toEqual(["deploy/nowhere.yaml"]);
  });
});

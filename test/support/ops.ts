/**
 * What the operations pack (deploy/prometheus, deploy/grafana, docs/operations.md) names: alert
 * names, PromQL expressions, and the metric names those expressions read, so tests can hold them to
 * the service's real /metrics and to the runbook.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";

export const ROOT = join(import.meta.dir, "../..");
export const RULES_FILE = join(ROOT, "deploy/prometheus/rules.yml");
export const DASHBOARD_FILE = join(ROOT, "deploy/grafana/aurum-scenarios.json");

type RuleGroups = { groups: { name: string; rules: { alert: string; expr: string }[] }[] };

export function ruleGroups(file = RULES_FILE): RuleGroups["groups"] {
  return (parseYaml(readFileSync(file, "utf8")) as RuleGroups).groups;
}

export function alertNames(): string[] {
  return ruleGroups().flatMap((g) => g.rules.map((r) => r.alert));
}

/** Every PromQL expression of the alert rules and of the dashboard's panels. */
export function promqlExpressions(): { where: string; expr: string }[] {
  const rules = ruleGroups().flatMap((g) => g.rules.map((r) => ({ where: `rule ${r.alert}`, expr: r.expr })));
  const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, "utf8")) as { panels: { title: string; targets?: { expr: string }[] }[] };
  const panels = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel "${p.title}"`, expr: t.expr })));
  return [...rules, ...panels];
}

const FUNCTIONS = new Set(["sum", "rate", "increase", "histogram_quantile", "max", "min", "avg", "count", "clamp_min", "by", "without", "on", "ignoring", "and", "or", "unless"]);

/**
 * The metric names an expression reads, as exposed on /metrics (a histogram's `_bucket`, `_count`
 * and `_sum` series belong to the histogram's name). Label names inside `{...}` and `by (...)` are
 * not metric names and are skipped.
 */
export function metricNames(expr: string): string[] {
  const withoutLabels = expr.replace(/\{[^}]*\}/g, "").replace(/\b(by|without)\s*\([^)]*\)/g, "");
  const names = new Set<string>();
  for (const [word] of withoutLabels.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    if (FUNCTIONS.has(word) || /^\d/.test(word)) continue;
    if (/^(s|m|h|d|e)$/.test(word)) continue;
    names.add(word.replace(/_(bucket|count|sum)$/, ""));
  }
  return [...names];
}

/** Metric names a Prometheus text exposition declares (`# TYPE name kind`). */
export function exposedNames(text: string): Set<string> {
  return new Set([...text.matchAll(/^# TYPE (\S+) \S+$/gm)].map((m) => m[1] as string));
}

/** Expressions that name a metric missing from `exposed`, as "where: name" lines; [] when all exist. */
export function unknownMetrics(exposed: Set<string>, expressions = promqlExpressions()): string[] {
  return expressions.flatMap(({ where, expr }) =>
    metricNames(expr)
      .filter((n) => !exposed.has(n))
      .map((n) => `${where}: ${n}`),
  );
}

/**
 * `promtool check metrics` over a Prometheus text exposition (stdin): its exit code and its report
 * (one line per problem). Debian's `prometheus` package brings promtool; a missing one throws.
 */
export function promtoolCheckMetrics(exposition: string): { code: number; out: string } {
  const promtool = Bun.which("promtool");
  if (!promtool) throw new Error("promtool is not installed: apt-get install prometheus");
  const r = Bun.spawnSync([promtool, "check", "metrics"], { stdin: new TextEncoder().encode(exposition), stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? -1, out: r.stdout.toString() + r.stderr.toString() };
}

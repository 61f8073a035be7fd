/**
 * The operations pack holds together: promtool accepts the alert rules and their unit tests pass
 * (one firing and one quiet case per alert), the PrometheusRule carries the same groups, the
 * runbook explains every alert, and the metric-name extraction the drift test relies on works.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { createMetrics } from "../../src/adapters/metrics";
import { alertNames, metricNames, promqlExpressions, promtoolCheckMetrics, ROOT, RULES_FILE, ruleGroups, unknownMetrics } from "../support/ops";

const PROMTOOL = Bun.which("promtool");
const promtool = (...args: string[]) => {
  // Debian's `prometheus` package brings promtool; .ci/run installs it. A missing one fails, never skips.
  if (!PROMTOOL) throw new Error("promtool is not installed: apt-get install prometheus");
  const r = Bun.spawnSync([PROMTOOL, ...args], { cwd: join(ROOT, "deploy/prometheus"), stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
};

describe("alert rules", () => {
  test("promtool check rules accepts deploy/prometheus/rules.yml", () => {
    const r = promtool("check", "rules", "rules.yml");
    expect(r.out).toContain(`SUCCESS: ${alertNames().length} rules found`);
    expect(r.code).toBe(0);
  });

  test("promtool test rules passes, with a firing and a quiet case for every alert", () => {
    const r = promtool("test", "rules", "rules.test.yml");
    expect(r.out).toContain("SUCCESS");
    expect(r.code).toBe(0);
    const cases = (
      parseYaml(readFileSync(join(ROOT, "deploy/prometheus/rules.test.yml"), "utf8")) as { tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[] }
    ).tests.flatMap((t) => t.alert_rule_test);
    for (const name of alertNames()) {
      expect({ name, firing: cases.some((c) => c.alertname === name && c.exp_alerts.length > 0) }).toEqual({ name, firing: true });
      expect({ name, quiet: cases.some((c) => c.alertname === name && c.exp_alerts.length === 0) }).toEqual({ name, quiet: true });
    }
  });

  test("a wrong expectation fails promtool test rules (the unit tests can fail)", () => {
    const dir = mkdtempSync(join(tmpdir(), "aurum-rules-"));
    try {
      writeFileSync(join(dir, "rules.yml"), readFileSync(RULES_FILE, "utf8"));
      const wrong = `rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'aurum_scenario_runs_lease_lapsed{instance="w"}'
        values: '0x10'
    alert_rule_test:
      - eval_time: 8m
        alertname: AurumRunsStuck
        exp_alerts: [{ exp_labels: { severity: page } }]
`;
      writeFileSync(join(dir, "wrong.test.yml"), wrong);
      const r = Bun.spawnSync([PROMTOOL ?? "promtool", "test", "rules", "wrong.test.yml"], { cwd: dir, stdout: "pipe", stderr: "pipe" });
      expect(r.exitCode).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the PrometheusRule in deploy/k8s carries exactly the groups of the plain rules file", () => {
    const [rule] = [parseYaml(readFileSync(join(ROOT, "deploy/k8s/base/prometheusrule.yaml"), "utf8"))] as { kind: string; spec: { groups: unknown } }[];
    expect(rule?.kind).toBe("PrometheusRule");
    expect(rule?.spec.groups).toEqual(ruleGroups());
  });

  test("docs/operations.md explains every alert under its own heading, and names no alert that does not exist", () => {
    const doc = readFileSync(join(ROOT, "docs/operations.md"), "utf8");
    const headings = [...doc.matchAll(/^#### (Aurum\w+)$/gm)].map((m) => m[1]);
    expect(headings.sort()).toEqual(alertNames().sort());
  });
});

describe("metric names in PromQL", () => {
  test("are read from rules and panels, histogram series folded into their histogram, labels and functions skipped", () => {
    expect(metricNames('histogram_quantile(0.99, sum by (le, route) (rate(aurum_http_request_duration_seconds_bucket{route!~"/metrics"}[5m]))) > 1')).toEqual([
      "aurum_http_request_duration_seconds",
    ]);
    expect(metricNames('sum(rate(a_total{event="failed"}[30m])) / sum(rate(b_total[30m])) > 0.2')).toEqual(["a_total", "b_total"]);
    expect(promqlExpressions().length).toBeGreaterThan(20);
  });

  test("a rule or panel naming a metric the service does not expose is reported (negative case)", () => {
    const exposed = new Set(["aurum_scenario_runs_total"]);
    expect(unknownMetrics(exposed, [{ where: "rule X", expr: 'sum(rate(aurum_scenario_runs_totl{event="failed"}[5m]))' }])).toEqual(["rule X: aurum_scenario_runs_totl"]);
    expect(unknownMetrics(exposed, [{ where: "rule Y", expr: "sum(rate(aurum_scenario_runs_total[5m]))" }])).toEqual([]);
  });
});

describe("promtool check metrics", () => {
  test("accepts a process registry with the runtime defaults (no gauge named *_total)", async () => {
    const text = await createMetrics().registry.metrics();
    expect(text).toContain("aurum_nodejs_active_handles ");
    expect(text).not.toContain("aurum_nodejs_active_handles_total");
    const r = promtoolCheckMetrics(text);
    expect(r.out).toBe("");
    expect(r.code).toBe(0);
  });

  test("fails on a planted badly named metric: a gauge ending in _total, a non-base unit (negative case)", async () => {
    const metrics = createMetrics();
    const { Gauge } = await import("prom-client");
    new Gauge({ name: "aurum_planted_things_total", help: "planted", registers: [metrics.registry] }).set(1);
    const r = promtoolCheckMetrics(await metrics.registry.metrics());
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('aurum_planted_things_total non-counter metrics should not have "_total" suffix');
    const bare = promtoolCheckMetrics("# HELP x_milliseconds t\n# TYPE x_milliseconds gauge\nx_milliseconds 1\n");
    expect(bare.code).not.toBe(0);
    expect(bare.out).toContain('x_milliseconds use base unit "seconds"');
  });
});

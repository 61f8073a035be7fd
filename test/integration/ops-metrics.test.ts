/**
 * The alert rules and the dashboard read only metrics the service really exposes: a Kafka-mode API
 * process and a Kafka-mode worker process are started, their /metrics scraped, and every metric name
 * of every rule and panel must be among them (test/unit/ops.test.ts shows the check failing on a
 * misspelt name).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestDb, type TestDb } from "../support/app";
import { checkedFetch } from "../support/contract";
import { exposedNames, promtoolCheckMetrics, unknownMetrics } from "../support/ops";
import { type ServiceProcess, startService } from "../support/service";
import { requireService, serviceEnv } from "../support/services";

/** Every response of the real process is checked against the OpenAPI document (test/support/contract.ts). */
const fetch = checkedFetch;

const kafka = await requireService("kafka");

describe.skipIf(!kafka.available)("the operations pack against real /metrics (Kafka mode)", () => {
  let db: TestDb;
  let api: ServiceProcess;
  let worker: ServiceProcess;
  let scraped: { api: string; worker: string };

  beforeAll(async () => {
    db = await createTestDb("postgres");
    const suffix = Math.random().toString(36).slice(2, 8);
    const env = {
      PATH: process.env.PATH,
      ...serviceEnv(),
      AURUM_APP_DB_DSN: db.url,
      AURUM_SCENARIO_REQUEST_TOPIC: `aurum.ops.request.${suffix}`,
      AURUM_SCENARIO_DLQ_TOPIC: `aurum.ops.dlq.${suffix}`,
      AURUM_WORKER_GROUP_ID: `aurum-ops-${suffix}`,
      AURUM_API_AUTH_DISABLED: "1",
      AURUM_OUTPUT_STORE: "postgres",
    };
    delete (env as Record<string, unknown>).AURUM_TRINO_URL;
    api = await startService("api", env);
    worker = await startService("worker", env);
    // One request so the HTTP histogram has a series; the cache and limiter count from their first use.
    await fetch(`${api.base}/v1/scenarios?limit=1`, { headers: { "x-aurum-tenant": "t-ops" } });
    scraped = {
      api: await (await fetch(`${api.base}/metrics`)).text(),
      // the worker's probe server is not the API: not checked against its document
      worker: await (await globalThis.fetch(`${worker.base}/metrics`)).text(),
    };
  }, 120_000);

  afterAll(async () => {
    await api?.stop();
    await worker?.stop();
    await db?.drop();
  });

  test("every metric a rule or a dashboard panel reads is exposed by the API or the worker", () => {
    const exposed = new Set([...exposedNames(scraped.api), ...exposedNames(scraped.worker)]);
    expect(exposed.size).toBeGreaterThan(30);
    expect(unknownMetrics(exposed)).toEqual([]);
  });

  test("promtool check metrics accepts the API's and the worker's /metrics (exit 0, no findings)", () => {
    for (const [process, text] of Object.entries(scraped)) {
      const r = promtoolCheckMetrics(text);
      expect({ process, code: r.code, out: r.out }).toEqual({ process, code: 0, out: "" });
    }
    expect(exposedNames(scraped.worker).has("aurum_scenario_pool_utilisation_ratio")).toBe(true);
  });

  test("the metrics added for the operations pack are where the rules expect them", () => {
    const api = exposedNames(scraped.api);
    const worker = exposedNames(scraped.worker);
    for (const name of ["aurum_output_exports_active", "aurum_output_exports_max", "aurum_output_export_bytes_total", "aurum_http_request_duration_seconds"])
      expect(api.has(name)).toBe(true);
    for (const name of ["aurum_scenario_runs_lease_lapsed", "aurum_scenario_runs_live", "aurum_scenario_consumer_lag", "aurum_scenario_runs_total"])
      expect(worker.has(name)).toBe(true);
    expect(scraped.api).toMatch(/^aurum_output_exports_max 4$/m);
    expect(scraped.worker).toMatch(/^aurum_scenario_runs_lease_lapsed 0$/m);
  });
});

/** One structured log line per request, with request id, tenant, route template, status and duration. */
import { expect, test } from "bun:test";
import postgres from "postgres";
import { createMetrics } from "../../src/adapters/metrics";
import { createApp } from "../../src/app";
import { loadConfig } from "../../src/config";
import { createAuthenticator } from "../../src/platform/auth";
import { createLogger } from "../../src/platform/logger";

test("each request writes one JSON log line with its context", async () => {
  const lines: string[] = [];
  const config = loadConfig({ AURUM_API_AUTH_DISABLED: "1" });
  const sql = postgres({ host: "127.0.0.1", port: 9, max: 1 }); // never queried: the routes below fail validation first
  const app = createApp({ config, sql, log: createLogger("info", (l) => lines.push(l)), metrics: createMetrics(), authenticate: createAuthenticator(config) });
  await app.handle(new Request("http://localhost/v1/scenarios/not-a-uuid", { headers: { "x-request-id": "log-1", "x-aurum-tenant": "acme" } }));
  await app.handle(new Request("http://localhost/healthz", { headers: { "x-request-id": "log-2" } }));
  await Bun.sleep(10); // onAfterResponse runs after the response is handed back
  const records = lines.map((l) => JSON.parse(l));
  expect(records).toHaveLength(2);
  expect(records[0]).toMatchObject({ level: "info", event: "http_request", request_id: "log-1", method: "GET", route: "/v1/scenarios/:id", status: 400, tenant: "acme" });
  expect(records[0].duration_ms).toBeNumber();
  expect(records[1]).toMatchObject({ request_id: "log-2", route: "/healthz", status: 200 });
  await sql.end();
});

test("the log level filters lower levels", () => {
  const lines: string[] = [];
  const log = createLogger("warn", (l) => lines.push(l));
  log.info("hidden");
  log.warn("shown", { n: 1 });
  expect(lines.map((l) => JSON.parse(l).event)).toEqual(["shown"]);
});

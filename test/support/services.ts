// Where the integration tests find Kafka and Trino, and what to do when they are not there.
//
// `bash deploy/local/services.sh up` writes `.services/env` (KEY=VALUE lines). Variables already
// set in the process environment win over the file, so a developer can point the tests at their
// own Kafka/Trino with AURUM_KAFKA_BROKERS / AURUM_TRINO_URL / ... and no `.services/` at all.
//
// When a service is unreachable: with CI=true the test file fails (requireService throws);
// otherwise it is skipped with a warning that says why and how to start the services.
import { existsSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";

export const SERVICES_ENV_FILE = join(import.meta.dir, "..", "..", ".services", "env");

export type ServiceName = "kafka" | "trino";
export interface ServiceStatus {
  available: boolean;
  reason?: string;
}

/** `.services/env` parsed, overlaid with process.env (process.env wins). */
export function serviceEnv(): Record<string, string> {
  const fromFile: Record<string, string> = {};
  if (existsSync(SERVICES_ENV_FILE)) {
    for (const raw of readFileSync(SERVICES_ENV_FILE, "utf8").split("\n")) {
      const line = raw.trim();
      if (!line || line.startsWith("#")) continue;
      const eq = line.indexOf("=");
      if (eq <= 0) continue;
      fromFile[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
    }
  }
  const merged: Record<string, string> = { ...fromFile };
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) merged[k] = v;
  return merged;
}

function tcpReachable(hostPort: string, timeoutMs = 2000): Promise<string | undefined> {
  const i = hostPort.lastIndexOf(":");
  const host = hostPort.slice(0, i).replace(/^\[|\]$/g, "");
  const port = Number(hostPort.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port)) return Promise.resolve(`bad broker address '${hostPort}'`);
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (err?: string) => {
      socket.destroy();
      resolve(err);
    };
    socket.setTimeout(timeoutMs, () => done(`timeout connecting to ${hostPort}`));
    socket.once("connect", () => done());
    socket.once("error", (e) => done(`${hostPort}: ${e.message}`));
  });
}

async function probe(name: ServiceName, env: Record<string, string>): Promise<ServiceStatus> {
  if (name === "kafka") {
    const brokers = env.AURUM_KAFKA_BROKERS;
    if (!brokers) return { available: false, reason: "AURUM_KAFKA_BROKERS is not set" };
    const err = await tcpReachable((brokers.split(",")[0] ?? "").trim());
    return err ? { available: false, reason: `Kafka unreachable (${err})` } : { available: true };
  }
  const url = env.AURUM_TRINO_URL;
  if (!url) return { available: false, reason: "AURUM_TRINO_URL is not set" };
  try {
    const res = await fetch(`${url.replace(/\/$/, "")}/v1/info`, {
      signal: AbortSignal.timeout(3000),
    });
    if (!res.ok)
      return {
        available: false,
        reason: `Trino ${url}/v1/info answered HTTP ${res.status}`,
      };
    const info = (await res.json()) as { starting?: boolean };
    if (info.starting) return { available: false, reason: `Trino at ${url} is still starting` };
    return { available: true };
  } catch (e) {
    return {
      available: false,
      reason: `Trino unreachable at ${url} (${(e as Error).message})`,
    };
  }
}

/**
 * Is `name` reachable? Use at the top of a test file:
 *
 *   const kafka = await requireService("kafka");
 *   describe.skipIf(!kafka.available)("kafka", () => { ... });
 *
 * With CI=true an unavailable service throws, so the test file fails instead of skipping.
 */
export async function requireService(name: ServiceName): Promise<ServiceStatus> {
  const status = await probe(name, serviceEnv());
  if (!status.available) {
    const hint = "start it with `bash deploy/local/services.sh up` (npm run services:up) or set the AURUM_* variables";
    const message = `${name} integration tests: ${status.reason}; ${hint}`;
    if (process.env.CI === "true") throw new Error(`${message} (CI=true: failing instead of skipping)`);
    console.warn(`SKIP ${message}`);
  }
  return status;
}

/** This machine's environment without any AURUM_* setting of the caller's: what a spawned process starts from. */
export function envWithoutAurum(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("AURUM_")) env[k] = v;
  return env;
}

/**
 * The whole environment of an API or worker process in Kafka mode on `databaseUrl`: this machine's,
 * without any AURUM_* setting of the caller's, with the test's own topics and consumer group, a
 * quick outbox relay, no auth, no rate limit and no sample curves; `extra` last.
 */
export function kafkaModeEnv(o: { databaseUrl: string; requestTopic: string; dlqTopic: string; groupId: string }, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...envWithoutAurum(),
    AURUM_APP_DB_DSN: o.databaseUrl,
    AURUM_KAFKA_BROKERS: serviceEnv().AURUM_KAFKA_BROKERS ?? "",
    AURUM_SCENARIO_REQUEST_TOPIC: o.requestTopic,
    AURUM_SCENARIO_DLQ_TOPIC: o.dlqTopic,
    AURUM_WORKER_GROUP_ID: o.groupId,
    AURUM_OUTBOX_RELAY_POLL_MS: "100",
    AURUM_API_AUTH_DISABLED: "1",
    // Many triggers at once from one caller are the point of these tests, not the limiter (tested on its own).
    AURUM_API_RATE_LIMIT_ENABLED: "0",
    AURUM_LOAD_SAMPLE_CURVES: "never",
    ...extra,
  };
}

/** Where a process of `verb` listens on loopback: the API's port, or a worker's probe and metrics port. */
export function listenEnv(verb: "api" | "worker", port: number): Record<string, string> {
  return verb === "api" ? { AURUM_API_PORT: String(port), AURUM_API_HOST: "127.0.0.1" } : { AURUM_SCENARIO_METRICS_PORT: String(port), AURUM_SCENARIO_METRICS_ADDR: "127.0.0.1" };
}

/** The partitions a worker's Kafka consumer holds, from its metrics on `port`. */
export async function consumerPartitions(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Number(/aurum_scenario_consumer_partitions (\d+)/.exec(text)?.[1] ?? 0);
}

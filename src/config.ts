/**
 * Configuration: every setting comes from an `AURUM_*` environment variable, is parsed once
 * into one typed, frozen object, and a bad value stops start-up with a message that names the
 * variable and what it expects. `SETTINGS` is the single source for docs/configuration.md.
 */

import { createPublicKey } from "node:crypto";
import { redact, redactUrl } from "./platform/redact";
import { parseOverrides } from "./ratelimit/policy";

/** `url`: the value may carry credentials, so an error quotes it through redactUrl. */
type Parser<T> = { expects: string; parse: (raw: string) => T | undefined; url?: true };

const text: Parser<string> = { expects: "a string", parse: (raw) => raw };

const optionalText: Parser<string | undefined> = { expects: "a string", parse: (raw) => raw };

const flag: Parser<boolean> = {
  expects: "a boolean (1/0, true/false, yes/no, on/off)",
  parse: (raw) => {
    const v = raw.trim().toLowerCase();
    if (["1", "true", "yes", "on"].includes(v)) return true;
    if (["0", "false", "no", "off", ""].includes(v)) return false;
    return undefined;
  },
};

function int(min: number, max: number): Parser<number> {
  return {
    expects: `an integer from ${min} to ${max}`,
    parse: (raw) => {
      if (!/^-?\d+$/.test(raw.trim())) return undefined;
      const n = Number(raw);
      return n >= min && n <= max ? n : undefined;
    },
  };
}

function oneOf<const T extends string>(...values: T[]): Parser<T> {
  return {
    expects: `one of ${values.join(", ")}`,
    parse: (raw) => values.find((v) => v === raw.trim().toLowerCase()),
  };
}

function url(...protocols: string[]): Parser<string | undefined> {
  return {
    expects: `a URL (${protocols.join(", ")})`,
    url: true,
    parse: (raw) => {
      try {
        // `scheme://` required: `postgresql:/user:pw@host` parses as a URL with no host (and a password in its path).
        return protocols.includes(new URL(raw).protocol) && /^[a-z][a-z0-9+.-]*:\/\//i.test(raw.trim()) ? raw : undefined;
      } catch {
        return undefined;
      }
    },
  };
}

const list: Parser<string[]> = {
  expects: "a comma-separated list",
  parse: (raw) =>
    raw
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
};

const roleMap: Parser<Record<string, string[]>> = {
  expects: 'a JSON object of role → permission list, e.g. {"analyst":["scenarios:read"]}',
  parse: (raw) => {
    try {
      const value: unknown = JSON.parse(raw);
      if (!value || typeof value !== "object" || Array.isArray(value)) return undefined;
      const entries = Object.entries(value as Record<string, unknown>);
      if (!entries.every(([, v]) => Array.isArray(v) && v.every((p) => typeof p === "string"))) return undefined;
      return Object.fromEntries(entries) as Record<string, string[]>;
    } catch {
      return undefined;
    }
  },
};

/** A PEM public key (`\\n` escapes allowed, as one-line environment files need them). */
const pem: Parser<string | undefined> = {
  expects: "a PEM (SPKI) public key",
  parse: (raw) => {
    try {
      createPublicKey(raw.replace(/\\n/g, "\n"));
      return raw;
    } catch {
      return undefined;
    }
  },
};

type Setting<T> = { env: string; default: string | undefined; doc: string; parser: Parser<T> };

function setting<T>(env: string, def: string | undefined, parser: Parser<T>, doc: string): Setting<T> {
  return { env, default: def, doc, parser };
}

/** Every variable the service reads. Order here is the order of docs/configuration.md. */
export const SETTINGS = {
  port: setting("AURUM_API_PORT", "8095", int(0, 65535), "HTTP port of the API (0 picks a free port)."),
  host: setting(
    "AURUM_API_HOST",
    undefined,
    optionalText,
    "Bind address of the API. Unset: 127.0.0.1 (loopback only) in trusted local mode (AURUM_API_AUTH_DISABLED, or `start` without a token verifier), else 0.0.0.0.",
  ),
  reusePort: setting(
    "AURUM_API_REUSE_PORT",
    "0",
    flag,
    "Let several processes listen on the same port (SO_REUSEPORT), the kernel spreading connections over them. Off: a second process on a port in use stops with a message.",
  ),
  allowedOrigins: setting(
    "AURUM_API_ALLOWED_ORIGINS",
    "",
    list,
    "Origins (scheme://host[:port]) besides the API's own whose browser pages may send state-changing requests (POST/PUT/PATCH/DELETE carrying an `Origin` header); others get 403 (docs/scenarios.md).",
  ),
  corsOrigins: setting(
    "AURUM_API_CORS_ORIGINS",
    "",
    list,
    "Origins (scheme://host[:port]) whose browser pages may call the API cross-origin (CORS): their preflights are answered and their responses carry Access-Control-Allow-Origin; they may also send state-changing requests. None by default (docs/scenarios.md#cors).",
  ),
  logLevel: setting("AURUM_LOG_LEVEL", "info", oneOf("debug", "info", "warn", "error", "silent"), "Lowest level written to the JSON log on stdout."),
  maxBodyBytes: setting("AURUM_API_MAX_BODY_BYTES", "1048576", int(1024, 64 * 1024 * 1024), "Largest accepted request body; larger bodies get 413."),
  maxImportBytes: setting("AURUM_API_MAX_IMPORT_BYTES", "1073741824", int(1024, 16 * 1024 * 1024 * 1024), "Largest accepted body for streamed imports (`POST /v1/curves:import`)."),
  scenarioOutputsEnabled: setting(
    "AURUM_API_SCENARIO_OUTPUTS_ENABLED",
    "1",
    flag,
    "Default of the `scenario_outputs` feature flag (the guide's ScenarioOutputFeature): serve `GET /v1/scenarios/{id}/outputs` and `/metrics/latest`; 0 answers both with 503 FEATURE_DISABLED unless the runtime config turns them on (docs/runtime-config.md).",
  ),
  outputExportsMax: setting(
    "AURUM_API_OUTPUT_EXPORTS_MAX",
    "4",
    int(1, 1000),
    "CSV/NDJSON output downloads running at once in this process (each holds a database connection of its own while it streams); more get 429 with Retry-After.",
  ),
  outputExportsPerTenant: setting(
    "AURUM_API_OUTPUT_EXPORTS_PER_TENANT",
    undefined,
    int(1, 1000),
    "Of those, the most one tenant may hold at once; its next download gets 429 while the other slots stay free for other tenants. Unset: half of AURUM_API_OUTPUT_EXPORTS_MAX, rounded up (2 of 4). At most AURUM_API_OUTPUT_EXPORTS_MAX.",
  ),
  exportStallSeconds: setting(
    "AURUM_API_EXPORT_STALL_SECONDS",
    "30",
    int(0, 3600),
    "A download whose client reads nothing for this long (the server cannot write a byte) is closed, freeing its export slot and database connection; 0 never closes one. Progress counts once the client drains about a third of the socket's send buffer (up to about 1.5 MB), so clients slower than about 50 KB/s at 30 s count as stalled (docs/outputs.md).",
  ),
  loadSampleCurves: setting(
    "AURUM_LOAD_SAMPLE_CURVES",
    "start",
    oneOf("start", "embedded", "always", "never"),
    "When to load the bundled sample curves into an empty curve store: `start` (the all-in-one verb, on PGlite or a server Postgres alike, and any embedded start), `embedded` (embedded starts only), `always` (every verb), or `never`.",
  ),
  shutdownGraceMs: setting("AURUM_SHUTDOWN_GRACE_MS", "10000", int(0, 600_000), "On SIGTERM, how long in-flight requests may finish before connections are closed."),
  appDbDsn: setting(
    "AURUM_APP_DB_DSN",
    undefined,
    url("postgres:", "postgresql:"),
    "Postgres DSN for scenario metadata. Unset: falls back to AURUM_TIMESCALE_DSN, then to embedded PGlite.",
  ),
  timescaleDsn: setting("AURUM_TIMESCALE_DSN", undefined, url("postgres:", "postgresql:"), "Fallback Postgres DSN when AURUM_APP_DB_DSN is unset."),
  dbPoolMax: setting("AURUM_DB_POOL_MAX", "10", int(1, 200), "Connections in the postgres.js pool (server mode; embedded mode always uses 1)."),
  dataDir: setting("AURUM_DATA_DIR", "./.aurum", text, "Folder for embedded data (PGlite database files)."),
  workerConcurrency: setting("AURUM_WORKER_CONCURRENCY", undefined, int(1, 256), "Engine threads in the worker pool (Bun Workers). Default: the number of cores."),
  workerLeaseSeconds: setting(
    "AURUM_WORKER_LEASE_SECONDS",
    "30",
    int(3, 3600),
    "Lease of a running run; a worker heartbeats every third of it, and a run whose lease expired is reclaimed by another worker.",
  ),
  workerPollMs: setting("AURUM_WORKER_POLL_MS", "1000", int(10, 60_000), "How often the embedded dispatcher looks for queued runs and expired leases (it also wakes on new runs)."),
  workerRetryBaseMs: setting(
    "AURUM_WORKER_RETRY_BASE_MS",
    "2000",
    int(1, 3_600_000),
    "Base of the exponential retry backoff (doubles per attempt, ±50 % jitter, capped at 5 minutes).",
  ),
  kafkaBrokers: setting(
    "AURUM_KAFKA_BROKERS",
    undefined,
    list,
    "Kafka bootstrap servers (host:port,...). Set: runs travel through the outbox and Kafka to `npm run worker` processes. Unset: embedded mode, runs are claimed from the runs table.",
  ),
  kafkaClientId: setting("AURUM_KAFKA_CLIENT_ID", "aurum-scenarios", text, "Kafka client id prefix of this process."),
  scenarioRequestTopic: setting("AURUM_SCENARIO_REQUEST_TOPIC", "aurum.scenario.request.v1", text, "Topic of run requests (docs/events.md)."),
  scenarioDlqTopic: setting(
    "AURUM_SCENARIO_DLQ_TOPIC",
    "aurum.scenario.request.dlq.v1",
    text,
    "Dead-letter topic: runs that failed for good, and request messages that could not be decoded.",
  ),
  scenarioOutputTopic: setting(
    "AURUM_SCENARIO_OUTPUT_TOPIC",
    "aurum.scenario.output.v1",
    text,
    'Topic of "outputs ready" events: one per run whose outputs committed (docs/events.md); Kafka mode only.',
  ),
  workerGroupId: setting("AURUM_WORKER_GROUP_ID", "aurum-scenario-worker", text, "Kafka consumer group of the scenario workers."),
  relayPollMs: setting("AURUM_OUTBOX_RELAY_POLL_MS", "500", int(10, 60_000), "How often the outbox relay looks for unsent run requests (it also wakes on new runs)."),
  scenarioMetricsPort: setting("AURUM_SCENARIO_METRICS_PORT", "9500", int(0, 65535), "Port of the worker's /metrics, /healthz and /readyz (0 picks a free port)."),
  scenarioMetricsAddr: setting("AURUM_SCENARIO_METRICS_ADDR", "0.0.0.0", text, "Bind address of the worker's metrics and probe server."),
  outputStore: setting(
    "AURUM_OUTPUT_STORE",
    "postgres",
    oneOf("postgres", "trino"),
    "Where workers write run outputs: the metadata Postgres (`scenario_output`) or Iceberg through Trino (`<catalog>.<schema>.scenario_output`, needs AURUM_TRINO_URL and a server Postgres).",
  ),
  outputSortRows: setting(
    "AURUM_OUTPUT_SORT_ROWS",
    "500000",
    int(1_000, 100_000_000),
    'Rows of one run an output writer holds in memory to write them in export order (~120 bytes each). Postgres: a larger run streams through a staging table that Postgres sorts (bounded worker memory, slower ingest; docs/runs.md, "Memory"). Iceberg: each window of this many rows is sorted, so data files cover narrow key ranges (docs/outputs-trino.md, "Export order").',
  ),
  trinoUrl: setting("AURUM_TRINO_URL", undefined, url("http:", "https:"), "Trino coordinator (HTTP client protocol)."),
  trinoUser: setting("AURUM_TRINO_USER", "aurum", text, "X-Trino-User of every query."),
  trinoSource: setting("AURUM_TRINO_SOURCE", "aurum-scenarios", text, "X-Trino-Source of every query (shows in system.runtime.queries)."),
  trinoCatalog: setting("AURUM_TRINO_CATALOG", "iceberg", text, "Catalog of the output table and the session default."),
  trinoSchema: setting("AURUM_TRINO_SCHEMA", "market", text, "Schema of the output table and the session default."),
  trinoWriteConcurrency: setting("AURUM_TRINO_WRITE_CONCURRENCY", "2", int(1, 16), "INSERT statements of one run's outputs in flight at once."),
  trinoSpooling: setting(
    "AURUM_TRINO_SPOOLING",
    "json+zstd",
    oneOf("json+zstd", "json", "off"),
    'Exports ask Trino for its spooling protocol in this encoding: result segments that the workers write to object storage and the API downloads in parallel (docs/outputs-trino.md, "Spooled results"). A server without spooling answers with the direct protocol; `off` never asks.',
  ),
  trinoSegmentFetches: setting("AURUM_TRINO_SEGMENT_FETCHES", "3", int(1, 16), "Spooled result segments one export downloads at once, ahead of the rows it is writing."),
  trinoExportChunkRows: setting(
    "AURUM_TRINO_EXPORT_CHUNK_ROWS",
    "100000",
    int(1_000, 10_000_000),
    'Rows (about) of each key-range query an export on the Trino store reads and sorts; an export holds its chunk being sent and those read ahead. Larger chunks: fewer queries, more memory (docs/outputs-trino.md, "Export order").',
  ),
  trinoExportPrefetch: setting(
    "AURUM_TRINO_EXPORT_PREFETCH",
    "2",
    int(1, 16),
    "Chunks an export on the Trino store reads ahead of the one it is sending (queries in flight at once).",
  ),
  trinoMaxStatementChars: setting(
    "AURUM_TRINO_MAX_STATEMENT_CHARS",
    "8000000",
    int(20_000, 1_000_000_000),
    "Largest INSERT statement the output writer sends. Each statement is one Iceberg commit, so larger statements write faster: set the server's `query.max-length` (Trino's default: 1,000,000) to this. A server that allows less is asked once and kept to.",
  ),
  redisUrl: setting(
    "AURUM_REDIS_URL",
    undefined,
    url("redis:", "rediss:"),
    "Redis shared by API replicas and workers: the output cache (docs/cache.md) and rate-limit buckets (docs/rate-limits.md). Unset: `start` caches in process memory, `api` and `worker` do not cache.",
  ),
  redisCommandTimeoutMs: setting(
    "AURUM_REDIS_COMMAND_TIMEOUT_MS",
    "250",
    int(10, 60_000),
    "Longest wait for one Redis reply; a slower Redis is treated as down (reads go to the store).",
  ),
  scenarioOutputTtl: setting("AURUM_API_SCENARIO_OUTPUT_TTL", "60", int(0, 86_400), "Seconds a cached `/outputs` or `/compare` JSON page lives (0: not cached)."),
  scenarioMetricsTtl: setting("AURUM_API_SCENARIO_METRICS_TTL", "60", int(0, 86_400), "Seconds a cached `/metrics/latest` page lives (0: not cached)."),
  scenarioCacheNamespace: setting(
    "AURUM_SCENARIO_CACHE_NAMESPACE",
    "aurum:scenario-cache:v1",
    text,
    "Prefix of every cache key in Redis; deployments sharing one Redis need different prefixes.",
  ),
  scenarioCacheMaxEntryBytes: setting(
    "AURUM_SCENARIO_CACHE_MAX_ENTRY_BYTES",
    "2097152",
    int(1024, 512 * 1024 * 1024),
    "Largest cached value; larger results are served but not cached.",
  ),
  scenarioCacheMemoryBytes: setting(
    "AURUM_SCENARIO_CACHE_MEMORY_BYTES",
    "67108864",
    int(0, 64 * 1024 * 1024 * 1024),
    "Bound of the in-process cache of `start` without Redis; the least recently used entries go first.",
  ),
  scenarioCacheWaitMs: setting(
    "AURUM_SCENARIO_CACHE_WAIT_MS",
    "5000",
    int(0, 600_000),
    "How long a request waits for another replica that is already loading the same value before it queries the store itself.",
  ),
  scenarioCacheInvalidationTopic: setting(
    "AURUM_SCENARIO_CACHE_INVALIDATION_TOPIC",
    undefined,
    optionalText,
    "Kafka topic of cache invalidation events (docs/events.md), e.g. aurum.scenario.cache.invalidation.v1; needs AURUM_KAFKA_BROKERS. Unset: none are published.",
  ),
  rateLimitEnabled: setting("AURUM_API_RATE_LIMIT_ENABLED", "1", flag, "Limit request rates per tenant, API key or client address (docs/rate-limits.md); 0 turns the limiter off."),
  rateLimitRps: setting("AURUM_API_RATE_LIMIT_RPS", "50", int(1, 1_000_000), "Default sustained requests per second of one caller."),
  rateLimitBurst: setting("AURUM_API_RATE_LIMIT_BURST", "100", int(1, 1_000_000), "Default bucket size: requests one caller may send at once."),
  rateLimitOverrides: setting(
    "AURUM_API_RATE_LIMIT_OVERRIDES",
    "",
    { expects: "prefix=rps:burst entries separated by commas, e.g. /v1/scenarios/*/outputs=5:10", parse: parseOverrides },
    "Limits per route prefix, `prefix=rps:burst,...`; whole segments match, `*` matches one segment, the longest matching prefix wins.",
  ),
  rateLimitFailMode: setting(
    "AURUM_API_RATE_LIMIT_FAIL_MODE",
    "open",
    oneOf("open", "closed"),
    'When the limiter\'s store fails (Redis down, stalled past AURUM_REDIS_COMMAND_TIMEOUT_MS, or an error reply; it is then skipped for one second): let requests through (counted as `aurum_ratelimit_requests_total{outcome="fail_open"}`) or answer 503.',
  ),
  rateLimitKeyHeader: setting(
    "AURUM_API_RATE_LIMIT_KEY_HEADER",
    "x-api-key",
    text,
    "Ignored (kept so existing deployments still start): an unverified API key header no longer picks the rate-limit bucket; callers without a verified tenant are limited by client address (docs/rate-limits.md).",
  ),
  trustedProxyHops: setting(
    "AURUM_API_TRUSTED_PROXY_HOPS",
    "0",
    int(0, 10),
    "Proxies in front of the API that append to X-Forwarded-For; 0 ignores the header and limits by the socket's address.",
  ),
  runtimeConfigPollMs: setting(
    "AURUM_RUNTIME_CONFIG_POLL_MS",
    "1000",
    int(50, 60_000),
    "How often a replica serving traffic checks the runtime config version (docs/runtime-config.md).",
  ),
  authDisabled: setting("AURUM_API_AUTH_DISABLED", "0", flag, "Trusted local mode: no bearer token; X-Aurum-Tenant or tenant_id scopes a request, none acts as the operator."),
  jwksUrl: setting("AURUM_API_AUTH_JWKS_URL", undefined, url("http:", "https:"), "JWKS endpoint of the OIDC issuer (cached; refetched once for an unknown kid)."),
  jwksCooldownSeconds: setting("AURUM_API_AUTH_JWKS_COOLDOWN_SECONDS", "30", int(0, 3600), "Minimum time between two JWKS refetches triggered by unknown kids."),
  jwtPublicKey: setting("AURUM_API_AUTH_PUBLIC_KEY", undefined, pem, "A static PEM (SPKI) public key instead of a JWKS URL, for small deployments."),
  jwtIssuer: setting("AURUM_API_AUTH_ISSUER", undefined, optionalText, "Required `iss` of bearer tokens."),
  jwtAudience: setting("AURUM_API_AUTH_AUDIENCE", undefined, optionalText, "Required `aud` of bearer tokens."),
  jwtAlgorithms: setting("AURUM_API_AUTH_ALGORITHMS", "RS256,ES256", list, "Accepted signature algorithms (never `none`)."),
  jwtLeewaySeconds: setting(
    "AURUM_API_AUTH_LEEWAY_SECONDS",
    "30",
    int(0, 600),
    "Clock skew tolerated for exp/nbf/iat, in seconds: a token expired, not yet valid (`nbf`) or issued (`iat`) more than this in the future is refused.",
  ),
  jwtRequireExp: setting(
    "AURUM_API_AUTH_REQUIRE_EXP",
    "1",
    flag,
    "Refuse bearer tokens without an `exp` claim (401); 0 accepts tokens that never expire (only for issuers that cannot set one).",
  ),
  tenantClaim: setting("AURUM_API_AUTH_TENANT_CLAIM", "tenant_id", text, "Token claim that carries the tenant id."),
  rolesClaim: setting(
    "AURUM_API_AUTH_ROLES_CLAIM",
    "roles",
    text,
    "Token claim (a list or space-separated string) that carries roles or permissions; dotted paths such as realm_access.roles work.",
  ),
  rolePermissions: setting(
    "AURUM_API_AUTH_ROLE_PERMISSIONS",
    undefined,
    roleMap,
    "Extra role → permissions map (JSON), merged over the built-in viewer/analyst/operator/admin roles.",
  ),
} as const;

type Values = { [K in keyof typeof SETTINGS]: (typeof SETTINGS)[K] extends Setting<infer T> ? T : never };

export type Config = Readonly<
  Omit<Values, "appDbDsn" | "timescaleDsn" | "host"> & {
    /** The bind address after the local-mode default (127.0.0.1 with auth disabled, else 0.0.0.0). */
    host: string;
    /** Local mode on that default loopback address: requests must name a loopback host (src/platform/origin.ts). */
    loopbackOnly: boolean;
    /** The metadata DSN after the AURUM_APP_DB_DSN → AURUM_TIMESCALE_DSN fallback; undefined means embedded. */
    databaseUrl: string | undefined;
  }
>;

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Parses the environment into a frozen Config; throws ConfigError listing every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, s] of Object.entries(SETTINGS) as [string, Setting<unknown>][]) {
    const raw = env[s.env];
    const source = raw === undefined || raw === "" ? s.default : raw;
    if (source === undefined) {
      values[key] = undefined;
      continue;
    }
    const parsed = s.parser.parse(source);
    // The value is quoted with its credentials masked: a mistyped DSN must not print its password.
    if (parsed === undefined) problems.push(`${s.env}=${JSON.stringify(s.parser.url ? redactUrl(raw ?? "") : redact(raw ?? ""))} is invalid: expected ${s.parser.expects}`);
    values[key] = parsed;
  }
  const v = values as Values;
  if (v.jwksUrl && v.jwtPublicKey) problems.push("AURUM_API_AUTH_JWKS_URL and AURUM_API_AUTH_PUBLIC_KEY are exclusive: set one");
  // Local mode never silently replaces a configured verifier: both set is a mistake to fix, not to guess.
  if (v.authDisabled && (v.jwksUrl || v.jwtPublicKey))
    problems.push(
      `AURUM_API_AUTH_DISABLED turns authentication off, but ${v.jwksUrl ? "AURUM_API_AUTH_JWKS_URL" : "AURUM_API_AUTH_PUBLIC_KEY"} configures a token verifier: unset one of them`,
    );
  if (v.jwtAlgorithms.some((a) => a.toLowerCase() === "none")) problems.push("AURUM_API_AUTH_ALGORITHMS must not contain none");
  if (v.scenarioCacheInvalidationTopic && !v.kafkaBrokers?.length) problems.push("AURUM_SCENARIO_CACHE_INVALIDATION_TOPIC needs AURUM_KAFKA_BROKERS");
  if (v.outputExportsPerTenant !== undefined && v.outputExportsPerTenant > v.outputExportsMax) {
    problems.push(`AURUM_API_OUTPUT_EXPORTS_PER_TENANT (${v.outputExportsPerTenant}) must not exceed AURUM_API_OUTPUT_EXPORTS_MAX (${v.outputExportsMax})`);
  }
  if (v.outputStore === "trino" && !v.trinoUrl) problems.push("AURUM_OUTPUT_STORE=trino needs AURUM_TRINO_URL");
  // Each Iceberg write holds a pooled connection for its whole length; the embedded store has one.
  if (v.outputStore === "trino" && !v.appDbDsn && !v.timescaleDsn) problems.push("AURUM_OUTPUT_STORE=trino needs a server Postgres (AURUM_APP_DB_DSN)");
  if (problems.length) throw new ConfigError(`invalid configuration:\n  ${problems.join("\n  ")}`);
  const { appDbDsn, timescaleDsn, host, ...rest } = v;
  return Object.freeze({
    ...rest,
    host: host ?? (rest.authDisabled ? "127.0.0.1" : "0.0.0.0"),
    loopbackOnly: rest.authDisabled && host === undefined,
    jwtAlgorithms: Object.freeze([...rest.jwtAlgorithms]) as string[],
    databaseUrl: appDbDsn ?? timescaleDsn,
  });
}

/**
 * Names under the `AURUM_` prefix read outside SETTINGS: the CLI's (src/cli, docs/cli.md), and the
 * prefixes of test, bench and script helpers. Written without the prefix: src/ names only settings.
 */
const PREFIX = "AURUM_";
const OTHER_NAMES = new Set(["URL", "TOKEN", "TENANT"].map((n) => PREFIX + n));
const OTHER_PREFIXES = ["TEST_", "BENCH_", "SERVICES_"].map((n) => PREFIX + n);

/**
 * `AURUM_*` variables in the environment that no setting reads — most likely misspelled — each with
 * the closest known name when one is near. Reported at start so a typo is not silently a default.
 */
export function unknownVariables(env: Record<string, string | undefined>): { name: string; suggestion: string | undefined }[] {
  const known = Object.values(SETTINGS).map((s) => s.env as string);
  const all = new Set([...known, ...OTHER_NAMES]);
  const unknown: { name: string; suggestion: string | undefined }[] = [];
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith(PREFIX) || all.has(name) || OTHER_PREFIXES.some((p) => name.startsWith(p))) continue;
    let best: string | undefined;
    let bestDistance = Number.POSITIVE_INFINITY;
    for (const k of known) {
      const d = editDistance(name, k);
      if (d < bestDistance) [best, bestDistance] = [k, d];
    }
    unknown.push({ name, suggestion: best !== undefined && bestDistance <= Math.max(2, Math.floor(name.length / 4)) ? best : undefined });
  }
  return unknown;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length] as number;
}

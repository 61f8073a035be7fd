/**
 * Trino over its HTTP client protocol: POST /v1/statement, then follow `nextUri` one page at a
 * time. Pages are fetched only when the consumer pulls the next one (a slow reader slows the
 * query; Trino buffers the rest). An `error` in any page is thrown as a TrinoError (the npm client
 * returns it as a value); a consumer that stops early, or aborts, cancels the query with DELETE on
 * the current `nextUri`; only 502/503/504 are retried. Each query logs one `trino_query_metrics`.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../platform/logger";

export type TrinoConfig = {
  url: string;
  user: string;
  source: string;
  catalog?: string;
  schema?: string;
  /** Session properties sent with every query (X-Trino-Session), e.g. `{ query_max_run_time: "10m" }`. */
  session?: Record<string, string>;
  log?: Logger;
  /** Retries of a 502/503/504 answer, with backoff `retryBaseMs × 2^n` (defaults 5 and 50 ms). */
  retries?: number;
  retryBaseMs?: number;
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
  /** Told of each query's end: its final state and Trino's elapsed time (the aurum_trino_query_duration_seconds histogram). */
  onQueryEnd?: (q: { state: string; elapsedSeconds: number }) => void;
};

export type TrinoColumn = { name: string; type: string };
export type TrinoPage = { queryId: string; columns: TrinoColumn[]; rows: unknown[][] };
/** What a finished query reports: every row for `execute`; `updateCount` for INSERT/DELETE/CTAS. */
export type TrinoResult = { queryId: string; columns: TrinoColumn[]; rows: unknown[][]; updateType?: string; updateCount?: number };
/** `traceId` (W3C) goes to Trino as the query's trace token and a client tag, and into `trino_query_metrics`. */
export type QueryOptions = {
  signal?: AbortSignal;
  tenantId?: string;
  traceId?: string;
  /** Session properties for this query alone, over the client's own (`session` of TrinoConfig). */
  session?: Record<string, string>;
};

export interface TrinoClient {
  /** Pages of rows, pulled one at a time; leaving the loop early cancels the query. Returns the summary. */
  query(sql: string, opts?: QueryOptions): AsyncGenerator<TrinoPage, Omit<TrinoResult, "rows">>;
  /** Runs a statement to the end and returns all its rows (use `query` for large results). */
  execute(sql: string, opts?: QueryOptions): Promise<TrinoResult>;
}

type Stats = {
  state: string;
  queuedTimeMillis?: number;
  elapsedTimeMillis?: number;
  cpuTimeMillis?: number;
  processedRows?: number;
  processedBytes?: number;
  physicalWrittenBytes?: number;
  peakMemoryBytes?: number;
};
type ErrorBody = { message: string; errorName: string; errorCode: number; errorType: string };
type QueryResults = {
  id: string;
  nextUri?: string;
  columns?: TrinoColumn[];
  data?: unknown[][];
  stats?: Stats;
  error?: ErrorBody;
  updateType?: string;
  updateCount?: number;
};

const RETRY_STATUS = new Set([502, 503, 504]);

/** A failed query (errorName/errorCode/errorType from Trino) or an HTTP failure (errorName `HTTP_<status>`). */
export class TrinoError extends Error {
  override name = "TrinoError";
  constructor(
    message: string,
    readonly errorName: string,
    readonly errorType: string,
    readonly errorCode?: number,
    readonly queryId?: string,
  ) {
    super(message);
  }

  /** User errors (bad SQL, missing table, cancelled) never get better by retrying. */
  get retryable(): boolean {
    return this.errorType !== "USER_ERROR";
  }
}

export function createTrinoClient(config: TrinoConfig): TrinoClient {
  const base = config.url.replace(/\/$/, "");
  const fetchImpl = config.fetch ?? ((input, init) => fetch(input, init));
  const retries = config.retries ?? 5;
  const retryBaseMs = config.retryBaseMs ?? 50;
  // PARAMETRIC_DATETIME: timestamps come back with their own precision, not rounded to milliseconds.
  const headers: Record<string, string> = { "X-Trino-User": config.user, "X-Trino-Source": config.source, "X-Trino-Client-Capabilities": "PARAMETRIC_DATETIME" };
  if (config.catalog) headers["X-Trino-Catalog"] = config.catalog;
  if (config.schema) headers["X-Trino-Schema"] = config.schema;
  const sessionHeader = (session: Record<string, string>) =>
    Object.entries(session)
      .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
      .join(",");
  if (config.session && Object.keys(config.session).length) headers["X-Trino-Session"] = sessionHeader(config.session);

  /** Trino reads the trace token and the session from the POST that starts the query. */
  async function send(method: "POST" | "GET", uri: string, body?: string, signal?: AbortSignal, opts: QueryOptions = {}): Promise<QueryResults> {
    const { traceId, session } = opts;
    const sent = {
      ...headers,
      ...(traceId ? { "X-Trino-Trace-Token": traceId, "X-Trino-Client-Tags": `trace_id=${traceId}` } : {}),
      ...(session ? { "X-Trino-Session": sessionHeader({ ...config.session, ...session }) } : {}),
    };
    for (let attempt = 0; ; attempt++) {
      const res = await fetchImpl(uri, { method, headers: sent, ...(body !== undefined ? { body } : {}), ...(signal ? { signal } : {}) });
      if (RETRY_STATUS.has(res.status) && attempt < retries) {
        await res.body?.cancel();
        await sleep(retryBaseMs * 2 ** attempt, undefined, signal ? { signal } : {});
        continue;
      }
      if (!res.ok) {
        const text = (await res.text()).slice(0, 500);
        throw new TrinoError(`Trino answered HTTP ${res.status} to ${method} ${uri}: ${text}`, `HTTP_${res.status}`, res.status < 500 ? "USER_ERROR" : "EXTERNAL");
      }
      return (await res.json()) as QueryResults;
    }
  }

  /** Best effort: the query may have finished meanwhile, and a lost DELETE ends as "abandoned" anyway. */
  async function cancel(nextUri: string): Promise<void> {
    try {
      const res = await fetchImpl(nextUri, { method: "DELETE", headers, signal: AbortSignal.timeout(5_000) });
      await res.body?.cancel();
    } catch {}
  }

  async function* query(sql: string, opts: QueryOptions = {}): AsyncGenerator<TrinoPage, Omit<TrinoResult, "rows">> {
    const { signal, tenantId, traceId } = opts;
    signal?.throwIfAborted();
    // The POST is not aborted midway: its answer carries the nextUri that a cancel needs.
    let page = await send("POST", `${base}/v1/statement`, sql, undefined, opts);
    let columns: TrinoColumn[] = [];
    let rows = 0;
    let finished = false;
    let failure: unknown;
    try {
      for (;;) {
        if (page.error) throw queryError(page.id, page.error);
        if (page.columns) columns = page.columns.map(({ name, type }) => ({ name, type }));
        if (page.data?.length) {
          rows += page.data.length;
          yield { queryId: page.id, columns, rows: page.data };
        }
        if (!page.nextUri) {
          finished = true;
          return {
            queryId: page.id,
            columns,
            ...(page.updateType ? { updateType: page.updateType } : {}),
            ...(page.updateCount !== undefined ? { updateCount: page.updateCount } : {}),
          };
        }
        signal?.throwIfAborted();
        page = await send("GET", page.nextUri, undefined, signal);
      }
    } catch (err) {
      failure = err;
      throw err;
    } finally {
      // A consumer that stops after the last page has seen everything: nothing to cancel then.
      if (!finished && page.nextUri) await cancel(page.nextUri);
      const fields: Record<string, unknown> = {
        ...metricsFields(page, tenantId, rows, finished || (!page.nextUri && !failure), failure),
        ...(traceId ? { trace_id: traceId } : {}),
      };
      config.log?.info("trino_query_metrics", fields);
      config.onQueryEnd?.({ state: String(fields.state), elapsedSeconds: Number(fields.elapsed_ms) / 1000 });
    }
  }

  return {
    query,
    async execute(sql, opts) {
      const it = query(sql, opts);
      const rows: unknown[][] = [];
      for (;;) {
        const step = await it.next();
        if (step.done) return { ...step.value, rows };
        for (const row of step.value.rows) rows.push(row);
      }
    },
  };
}

function queryError(queryId: string, e: ErrorBody): TrinoError {
  return new TrinoError(`Trino query ${queryId} failed: ${e.errorName} (${e.errorCode}): ${e.message}`, e.errorName, e.errorType, e.errorCode, queryId);
}

function metricsFields(page: QueryResults, tenantId: string | undefined, rows: number, finished: boolean, failure: unknown): Record<string, unknown> {
  const s = page.stats;
  const state = finished ? (s?.state ?? "FINISHED") : failure instanceof TrinoError ? "FAILED" : "CANCELLED";
  return {
    query_id: page.id,
    ...(tenantId ? { tenant_id: tenantId } : {}),
    state,
    ...(failure instanceof TrinoError ? { error_name: failure.errorName } : failure ? { error: (failure as Error).message } : {}),
    ...(page.updateType ? { update_type: page.updateType } : {}),
    rows: page.updateCount ?? rows,
    processed_rows: s?.processedRows ?? 0,
    processed_bytes: s?.processedBytes ?? 0,
    written_bytes: s?.physicalWrittenBytes ?? 0,
    peak_memory_bytes: s?.peakMemoryBytes ?? 0,
    queued_ms: s?.queuedTimeMillis ?? 0,
    elapsed_ms: s?.elapsedTimeMillis ?? 0,
    cpu_ms: s?.cpuTimeMillis ?? 0,
  };
}

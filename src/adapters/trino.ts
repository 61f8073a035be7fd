/**
 * Trino over its HTTP client protocol: POST /v1/statement, then follow `nextUri` one page at a
 * time. Pages are fetched only when the consumer pulls the next one (a slow reader slows the
 * query; Trino buffers the rest). An `error` in any page is thrown as a TrinoError (the npm client
 * returns it as a value); a consumer that stops early, or aborts, cancels the query with DELETE on
 * the current `nextUri`; only 502/503/504 are retried. Each query logs one `trino_query_metrics`.
 *
 * A query run with `spooled` asks for the spooling protocol (Trino 466+, `X-Trino-Query-Data-Encoding`).
 * A server that offers it answers with segments instead of rows: inline ones (base64 in the page)
 * and spooled ones, which the workers wrote to object storage and the client GETs from the URI
 * given, with the headers given (the segment's encryption key), then acknowledges (GET `ackUri`,
 * which lets the server delete it). Up to `segmentFetches` spooled segments download at once, ahead
 * of the consumer; rows still come out in the query's order, one segment at a time. `json+zstd`
 * segments are decompressed off the main thread (Bun.zstdDecompress). A server without spooling
 * answers with rows as before (the direct protocol), so `spooled` is always safe to ask for.
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
  /** The encoding asked for by `spooled` queries ("json+zstd" or "json"); unset, every query uses the direct protocol. */
  spooling?: SpoolingEncoding;
  /** Spooled segments downloaded at once, ahead of the consumer (default 3). */
  segmentFetches?: number;
};

/** The spooled encodings this client decodes (Trino also offers json+lz4, which Bun has no decoder for). */
export const SPOOLING_ENCODINGS = ["json+zstd", "json"] as const;
export type SpoolingEncoding = (typeof SPOOLING_ENCODINGS)[number];

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
  /** Ask for the spooling protocol (large results: exports), when the client has an encoding configured. */
  spooled?: boolean;
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
type SegmentMetadata = { rowOffset?: number; rowsCount?: number; segmentSize?: number; uncompressedSize?: number };
/** One segment of a spooled result: `inline` carries its bytes (base64), `spooled` where to GET them. */
type Segment =
  | { type: "inline"; data: string; metadata: SegmentMetadata }
  | { type: "spooled"; uri: string; ackUri?: string; headers?: Record<string, string[]>; metadata: SegmentMetadata };
type QueryResults = {
  id: string;
  nextUri?: string;
  columns?: TrinoColumn[];
  /** Rows (the direct protocol) or encoded segments (the spooling protocol). */
  data?: unknown[][] | { encoding: string; segments: Segment[] };
  stats?: Stats;
  error?: ErrorBody;
  updateType?: string;
  updateCount?: number;
};

const RETRY_STATUS = new Set([502, 503, 504]);
const utf8 = new TextDecoder();

/** Rows a page contributes: ready (direct rows, inline segments) or downloaded on `start` (spooled segments). */
type Part = { spooled: boolean; start: () => void; rows: () => Promise<unknown[][]>; release: () => void };
/** A part with nothing to download or release. */
const ready = (rows: () => Promise<unknown[][]>): Part => ({ spooled: false, start() {}, rows, release() {} });

/** A segment's bytes as rows: JSON arrays, zstd-compressed when the segment says so (decompressed on Bun's thread pool). */
async function decodeSegment(bytes: Uint8Array, compressed: boolean): Promise<unknown[][]> {
  return JSON.parse(utf8.decode(compressed ? await Bun.zstdDecompress(bytes) : bytes)) as unknown[][];
}

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
  const segmentFetches = Math.max(1, config.segmentFetches ?? 3);
  // PARAMETRIC_DATETIME: timestamps come back with their own precision, not rounded to milliseconds.
  const headers: Record<string, string> = { "X-Trino-User": config.user, "X-Trino-Source": config.source, "X-Trino-Client-Capabilities": "PARAMETRIC_DATETIME" };
  if (config.catalog) headers["X-Trino-Catalog"] = config.catalog;
  if (config.schema) headers["X-Trino-Schema"] = config.schema;
  const sessionHeader = (session: Record<string, string>) =>
    Object.entries(session)
      .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
      .join(",");
  if (config.session && Object.keys(config.session).length) headers["X-Trino-Session"] = sessionHeader(config.session);
  const fetchRetrying = retrying(fetchImpl, retries, retryBaseMs);
  const partsOf = pageParts(fetchImpl, fetchRetrying, headers);

  /** Trino reads the trace token, the session and the data encoding from the POST that starts the query. */
  async function send(method: "POST" | "GET", uri: string, body?: string, signal?: AbortSignal, opts: QueryOptions = {}): Promise<QueryResults> {
    const { traceId, session } = opts;
    const sent = {
      ...headers,
      ...(traceId ? { "X-Trino-Trace-Token": traceId, "X-Trino-Client-Tags": `trace_id=${traceId}` } : {}),
      ...(session ? { "X-Trino-Session": sessionHeader({ ...config.session, ...session }) } : {}),
      ...(opts.spooled && config.spooling ? { "X-Trino-Query-Data-Encoding": config.spooling } : {}),
    };
    const res = await fetchRetrying(uri, { method, headers: sent, ...(body !== undefined ? { body } : {}) }, signal);
    if (!res.ok) {
      const text = (await res.text()).slice(0, 500);
      throw new TrinoError(`Trino answered HTTP ${res.status} to ${method} ${uri}: ${text}`, `HTTP_${res.status}`, res.status < 500 ? "USER_ERROR" : "EXTERNAL");
    }
    return (await res.json()) as QueryResults;
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
    let segments = 0;
    let finished = false;
    let failure: unknown;
    // Parts read from pages and not yet handed out, in the query's order; `read` is true once
    // `page` is taken apart, `last` once that page was the final one.
    const parts: Part[] = [];
    let read = false;
    let last = false;
    try {
      for (;;) {
        // Read on while the parts ahead are spooled segments, up to `segmentFetches` of them (their
        // downloads overlap); rows of the direct protocol are handed out a page at a time.
        while (!last && parts.length < segmentFetches && parts.every((p) => p.spooled)) {
          if (read) {
            signal?.throwIfAborted();
            page = await send("GET", page.nextUri as string, undefined, signal);
            read = false;
          }
          if (page.error) throw queryError(page.id, page.error);
          if (page.columns) columns = page.columns.map(({ name, type }) => ({ name, type }));
          const more = partsOf(page.data, signal);
          segments += Array.isArray(page.data) ? 0 : more.length;
          parts.push(...more);
          read = true;
          last = !page.nextUri;
        }
        for (const part of parts.slice(0, segmentFetches)) part.start();
        const part = parts.shift();
        if (!part) {
          finished = true;
          return summaryOf(page, columns);
        }
        const partRows = await part.rows().catch((err) => {
          part.release(); // a segment that failed to decode is not left for the TTL
          throw err;
        });
        if (partRows.length) {
          rows += partRows.length;
          yield { queryId: page.id, columns, rows: partRows };
        }
      }
    } catch (err) {
      failure = err;
      throw err;
    } finally {
      for (const part of parts) part.release();
      // A consumer that stops after the last page has seen everything: nothing to cancel then.
      if (!finished && page.nextUri) await cancel(page.nextUri);
      const fields: Record<string, unknown> = {
        ...metricsFields(page, tenantId, rows, finished || (!page.nextUri && !failure), failure),
        ...(segments ? { segments } : {}),
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

type Fetch = (input: string, init: RequestInit) => Promise<Response>;
type RetryingFetch = (uri: string, init: RequestInit, signal?: AbortSignal) => Promise<Response>;

/** `fetchImpl` that retries 502/503/504 answers, with backoff `baseMs × 2^n`, at most `retries` times. */
function retrying(fetchImpl: Fetch, retries: number, baseMs: number): RetryingFetch {
  return async (uri, init, signal) => {
    for (let attempt = 0; ; attempt++) {
      const res = await fetchImpl(uri, { ...init, ...(signal ? { signal } : {}) });
      if (!RETRY_STATUS.has(res.status) || attempt >= retries) return res;
      await res.body?.cancel();
      await sleep(baseMs * 2 ** attempt, undefined, signal ? { signal } : {});
    }
  };
}

/** Turns a page's `data` into parts; `trinoHeaders` go with acknowledgements (they are Trino requests). */
function pageParts(fetchImpl: Fetch, fetchRetrying: RetryingFetch, trinoHeaders: Record<string, string>) {
  /** A page's rows as parts: the rows themselves (direct protocol), or one part per segment (spooling). */
  function partsOf(data: QueryResults["data"], signal: AbortSignal | undefined): Part[] {
    if (!data) return [];
    if (Array.isArray(data)) return data.length ? [ready(async () => data)] : [];
    if (!(SPOOLING_ENCODINGS as readonly string[]).includes(data.encoding)) {
      throw new TrinoError(`Trino answered in the encoding ${data.encoding}, which this client does not decode`, "UNSUPPORTED_ENCODING", "EXTERNAL");
    }
    return data.segments.map((segment) => segmentPart(segment, signal));
  }

  /**
   * One segment. Compressed segments say so with `uncompressedSize` (small ones are sent
   * uncompressed whatever the encoding). A spooled segment is acknowledged once read, or when the
   * consumer leaves without it (the download is aborted): either way the server may delete it.
   */
  function segmentPart(segment: Segment, signal: AbortSignal | undefined): Part {
    const compressed = segment.metadata?.uncompressedSize !== undefined;
    if (segment.type === "inline") {
      return ready(() => decodeSegment(Buffer.from(segment.data, "base64"), compressed));
    }
    // The segment's own headers (its encryption key) go with its GET and with its acknowledgement.
    const segmentHeaders = Object.fromEntries(Object.entries(segment.headers ?? {}).map(([k, v]) => [k, v.join(", ")]));
    const abort = new AbortController();
    const downloadSignal = signal ? AbortSignal.any([signal, abort.signal]) : abort.signal;
    let bytes: Promise<Uint8Array> | undefined;
    let acknowledged = false;
    const acknowledge = () => {
      if (acknowledged || !segment.ackUri) return;
      acknowledged = true;
      void fetchImpl(segment.ackUri, { method: "GET", headers: { ...trinoHeaders, ...segmentHeaders }, signal: AbortSignal.timeout(5_000) })
        .then((res) => res.body?.cancel())
        .catch(() => {});
    };
    const start = () => {
      if (bytes) return;
      bytes = download(segment.uri, segmentHeaders, downloadSignal);
      bytes.catch(() => {}); // awaited by rows(), or never (released)
    };
    return {
      spooled: true,
      start,
      async rows() {
        start();
        const rows = await decodeSegment(await (bytes as Promise<Uint8Array>), compressed);
        acknowledge();
        return rows;
      },
      release() {
        abort.abort();
        acknowledge();
      },
    };
  }

  async function download(uri: string, segmentHeaders: Record<string, string>, signal: AbortSignal): Promise<Uint8Array> {
    const res = await fetchRetrying(uri, { method: "GET", headers: segmentHeaders }, signal);
    if (!res.ok) {
      const text = (await res.text()).slice(0, 300);
      throw new TrinoError(`spooled segment GET answered HTTP ${res.status}: ${text}`, `HTTP_${res.status}`, "EXTERNAL");
    }
    return new Uint8Array(await res.arrayBuffer());
  }

  return partsOf;
}

/** What a finished query reports besides its rows (the last page's counts, for INSERT/DELETE/CTAS). */
function summaryOf(page: QueryResults, columns: TrinoColumn[]): Omit<TrinoResult, "rows"> {
  return {
    queryId: page.id,
    columns,
    ...(page.updateType ? { updateType: page.updateType } : {}),
    ...(page.updateCount !== undefined ? { updateCount: page.updateCount } : {}),
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

/**
 * Iceberg table maintenance (`worker maintain`, docs/outputs-trino.md "Maintenance"): every run adds
 * small files to the output table and every commit a snapshot, so reads slow down and storage grows
 * until something compacts and expires them. Three of Trino's table procedures, in this order:
 *
 *   1. `optimize`: rewrites the files under `fileSizeThreshold` of each partition into few large ones;
 *   2. `expire_snapshots`: drops snapshots older than `retention` (and the files only they use);
 *   3. `remove_orphan_files`: deletes files no snapshot refers to, older than `retention`.
 *
 * Safe while workers write: each step is an Iceberg commit, and a commit that loses a race with a
 * writer's (`ICEBERG_COMMIT_ERROR`) is retried with backoff; the writers retry theirs
 * (src/outputs/trino-store.ts). `retention` protects what writers in flight have written but not
 * committed yet: Trino refuses less than its configured minimum (7 days by default); a shorter one
 * is set for this session only, when the operator asks for it.
 */
import { type TrinoClient, TrinoError } from "../adapters/trino";
import type { Logger } from "../platform/logger";

export type MaintainOptions = {
  trino: TrinoClient;
  log: Logger;
  /** Catalog, schema and table, e.g. `iceberg.market.scenario_output`. */
  table: string;
  /** Age below which snapshots and unreferenced files are kept, as Trino spells a duration (`7d`, `12h`, `0s`). */
  retention: string;
  /** Files smaller than this are rewritten (`128MB`). */
  fileSizeThreshold: string;
  /** Attempts of a step whose commit loses a race with a writer (default 5), backoff `backoffMs × 2^n` (default 500). */
  attempts?: number;
  backoffMs?: number;
  signal?: AbortSignal;
};

export type MaintainReport = {
  table: string;
  files: { before: number; after: number };
  snapshots: { before: number; after: number };
  /** Milliseconds per step. */
  ms: { optimize: number; expire_snapshots: number; remove_orphan_files: number };
};

/** A Trino duration: digits (optionally with a fraction) and a unit. */
const DURATION = /^\d+(\.\d+)?(ns|us|ms|s|m|h|d)$/;
/** A Trino data size: digits and a unit. */
const DATA_SIZE = /^\d+(\.\d+)?(B|kB|MB|GB|TB)$/;

/** What is wrong with a retention or a file size threshold, named as the command's options; undefined when both are well formed. */
export function maintainArgumentError(o: Pick<MaintainOptions, "retention" | "fileSizeThreshold">): string | undefined {
  if (!DURATION.test(o.retention)) return `retention ${o.retention} is not a duration such as 7d, 12h or 30m`;
  if (!DATA_SIZE.test(o.fileSizeThreshold)) return `file-size-threshold ${o.fileSizeThreshold} is not a size such as 128MB`;
  return undefined;
}

export async function maintainIceberg(o: MaintainOptions): Promise<MaintainReport> {
  // They go into the SQL as literals: checked here whoever calls.
  const wrong = maintainArgumentError(o);
  if (wrong) throw new Error(wrong);
  const parts = o.table.split(".");
  if (parts.length !== 3 || !parts.every((p) => /^[a-z_][a-z0-9_]*$/.test(p))) throw new Error(`table ${o.table} is not catalog.schema.table`);
  const [catalog, schema, name] = parts as [string, string, string];
  const meta = (suffix: string) => `${catalog}.${schema}."${name}$${suffix}"`;
  const count = async (suffix: string) => Number((await o.trino.execute(`SELECT count(*) FROM ${meta(suffix)}`, opts(o))).rows[0]?.[0] ?? 0);
  const before = { files: await count("files"), snapshots: await count("snapshots") };
  const ms = { optimize: 0, expire_snapshots: 0, remove_orphan_files: 0 };
  const steps: [keyof typeof ms, string][] = [
    ["optimize", `file_size_threshold => '${o.fileSizeThreshold}'`],
    ["expire_snapshots", `retention_threshold => '${o.retention}'`],
    ["remove_orphan_files", `retention_threshold => '${o.retention}'`],
  ];
  for (const [step, args] of steps) {
    const t0 = performance.now();
    await withCommitRetries(o, step, () => o.trino.execute(`ALTER TABLE ${o.table} EXECUTE ${step}(${args})`, opts(o)));
    ms[step] = Math.round(performance.now() - t0);
    o.log.info("iceberg_maintenance_step", { table: o.table, step, ms: ms[step] });
  }
  return { table: o.table, files: { before: before.files, after: await count("files") }, snapshots: { before: before.snapshots, after: await count("snapshots") }, ms };
}

const opts = (o: MaintainOptions) => (o.signal ? { signal: o.signal } : {});

/** Runs `step`, again after a backoff when its commit lost a race with a writer's. */
async function withCommitRetries(o: MaintainOptions, step: string, run: () => Promise<unknown>): Promise<void> {
  const attempts = o.attempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    try {
      await run();
      return;
    } catch (err) {
      const conflict = err instanceof TrinoError && err.errorName === "ICEBERG_COMMIT_ERROR";
      if (!conflict || attempt >= attempts || o.signal?.aborted) throw err;
      o.log.warn("iceberg_maintenance_conflict", { table: o.table, step, attempt, query_id: err.queryId });
      await Bun.sleep((o.backoffMs ?? 500) * 2 ** (attempt - 1));
    }
  }
}

/**
 * The session properties that let `retention` below Trino's configured minimum through, for the
 * catalog of the table (the operator asked for it by passing it; nothing else is lowered).
 */
export function retentionSession(catalog: string, retention: string): Record<string, string> {
  return { [`${catalog}.expire_snapshots_min_retention`]: retention, [`${catalog}.remove_orphan_files_min_retention`]: retention };
}

/**
 * Iceberg table maintenance (`worker maintain`, docs/outputs-trino.md "Maintenance"): every run adds
 * small files to the output table and every commit a snapshot, so reads slow down and storage grows
 * until something compacts and expires them. Four of Trino's table procedures, in this order:
 *
 *   1. `optimize`: rewrites the files under `fileSizeThreshold` of each partition into few large ones;
 *   2. `optimize_manifests`: rewrites the manifests (one or more per commit) into few;
 *   3. `expire_snapshots`: drops snapshots that stopped being current more than `snapshotRetention`
 *      ago (and the files only they use; see expiryThreshold);
 *   4. `remove_orphan_files`: deletes files no snapshot refers to, older than `orphanRetention`.
 *
 * Every query on the table reads its metadata file, which lists every snapshot kept: on the local
 * Trino each 1,000 snapshots cost every query about 18 ms (docs/outputs-trino.md, "Maintenance"),
 * so snapshots are kept only as long as a read may pin one (an export pins the current snapshot).
 * `orphanRetention` protects what writers in flight have written but not committed yet, so it is
 * longer. Safe while workers write: each step is an Iceberg commit, and a commit that loses a race
 * with a writer's (`ICEBERG_COMMIT_ERROR`) is retried with backoff; the writers retry theirs
 * (src/outputs/trino-store.ts). Trino refuses retentions below its configured minimum (7 days by
 * default); a shorter one is set for this session only, when the operator asks for it.
 */
import { type TrinoClient, TrinoError } from "../adapters/trino";
import { metadataTable } from "../adapters/trino-literals";
import type { Logger } from "../platform/logger";

export type MaintainOptions = {
  trino: TrinoClient;
  log: Logger;
  /** Catalog, schema and table, e.g. `iceberg.market.scenario_output`. */
  table: string;
  /** Age below which snapshots are kept, as Trino spells a duration (`1d`, `12h`, `0s`): longer than the longest export. */
  snapshotRetention: string;
  /** Age below which files no snapshot refers to are kept (`7d`): longer than the longest write. */
  orphanRetention: string;
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
  /** Manifests of the current snapshot. */
  manifests: { before: number; after: number };
  snapshots: { before: number; after: number };
  /** Milliseconds per step. */
  ms: { optimize: number; optimize_manifests: number; expire_snapshots: number; remove_orphan_files: number };
};

/** `worker maintain`'s retentions unless told otherwise (docs/outputs-trino.md, "Two retentions"). */
export const DEFAULT_RETENTION = { snapshotRetention: "1d", orphanRetention: "7d" } as const;

/** A Trino duration: digits (optionally with a fraction) and a unit. */
const DURATION = /^\d+(\.\d+)?(ns|us|ms|s|m|h|d)$/;
/** A Trino data size: digits and a unit. */
const DATA_SIZE = /^\d+(\.\d+)?(B|kB|MB|GB|TB)$/;

/** What is wrong with `value` as a duration, named as the command's `option`; undefined when it is one. */
export const durationError = (option: string, value: string): string | undefined =>
  DURATION.test(value) ? undefined : `${option} ${value} is not a duration such as 7d, 12h or 30m`;

/** What is wrong with a retention or the file size threshold, named as the command's options; undefined when all are well formed. */
export function maintainArgumentError(o: Pick<MaintainOptions, "snapshotRetention" | "orphanRetention" | "fileSizeThreshold">): string | undefined {
  const wrong = durationError("snapshot-retention", o.snapshotRetention) ?? durationError("orphan-retention", o.orphanRetention);
  if (wrong) return wrong;
  if (!DATA_SIZE.test(o.fileSizeThreshold)) return `file-size-threshold ${o.fileSizeThreshold} is not a size such as 128MB`;
  return undefined;
}

export async function maintainIceberg(o: MaintainOptions): Promise<MaintainReport> {
  // They go into the SQL as literals: checked here whoever calls.
  const wrong = maintainArgumentError(o);
  if (wrong) throw new Error(wrong);
  const parts = o.table.split(".");
  if (parts.length !== 3 || !parts.every((p) => /^[a-z_][a-z0-9_]*$/.test(p))) throw new Error(`table ${o.table} is not catalog.schema.table`);
  const state = async () => {
    const count = (suffix: string) => `(SELECT count(*) FROM ${metadataTable(o.table, suffix)})`;
    const [row] = (await o.trino.execute(`SELECT ${count("files")}, ${count("manifests")}, ${count("snapshots")}`, opts(o))).rows;
    return { files: Number(row?.[0] ?? 0), manifests: Number(row?.[1] ?? 0), snapshots: Number(row?.[2] ?? 0) };
  };
  const before = await state();
  const ms = { optimize: 0, optimize_manifests: 0, expire_snapshots: 0, remove_orphan_files: 0 };
  // Arguments are made when a step (or its retry) starts: the snapshots' ages change meanwhile.
  const steps: [keyof typeof ms, () => Promise<string>][] = [
    ["optimize", async () => `file_size_threshold => '${o.fileSizeThreshold}'`],
    ["optimize_manifests", async () => ""],
    ["expire_snapshots", async () => `retention_threshold => '${await expiryThreshold(o)}'`],
    ["remove_orphan_files", async () => `retention_threshold => '${o.orphanRetention}'`],
  ];
  for (const [step, args] of steps) {
    const t0 = performance.now();
    await withCommitRetries(o, step, async () => o.trino.execute(`ALTER TABLE ${o.table} EXECUTE ${step}(${await args()})`, opts(o)));
    ms[step] = Math.round(performance.now() - t0);
    o.log.info("iceberg_maintenance_step", { table: o.table, step, ms: ms[step] });
  }
  const after = await state();
  return {
    table: o.table,
    files: { before: before.files, after: after.files },
    manifests: { before: before.manifests, after: after.manifests },
    snapshots: { before: before.snapshots, after: after.snapshots },
    ms,
  };
}

const opts = (o: MaintainOptions) => (o.signal ? { signal: o.signal } : {});

/**
 * Slack on the age of the oldest snapshot that must stay: the threshold is read just before
 * `expire_snapshots` starts, and Trino takes its cutoff when the procedure starts, which is
 * milliseconds later on an idle Trino and as long as its queue holds the query on a busy one.
 * A snapshot that must stay is lost only if that wait exceeds the margin, so the margin is the
 * snapshot retention itself, at least EXPIRY_MARGIN_MIN_MS and at most EXPIRY_MARGIN_MAX_MS: an hour
 * under the default retention of a day. Snapshots committed up to the margin before that one stay
 * as well (at 1,000 runs a day an hour keeps ~40 more, under 1 ms a query).
 */
export const EXPIRY_MARGIN_MIN_MS = 10_000;
export const EXPIRY_MARGIN_MAX_MS = 3_600_000;
export const expiryMarginMs = (retentionMs: number): number => Math.min(Math.max(retentionMs, EXPIRY_MARGIN_MIN_MS), EXPIRY_MARGIN_MAX_MS);

/**
 * The `retention_threshold` for `expire_snapshots`. Trino expires every snapshot *committed* more
 * than the threshold ago, except the current one. But an export reads the snapshot that was
 * current when it started, and a snapshot can be old and still have been current a moment ago:
 * the table's last commit was days back, then this very command's `optimize` replaced it, and
 * `expire_snapshots` with the plain retention would delete the small files that export is still
 * reading. So the threshold reaches back to the oldest snapshot that stopped being current less
 * than `snapshotRetention` ago (by the table's `$history`), plus `expiryMarginMs`; it is
 * `snapshotRetention` itself when that reaches further.
 */
async function expiryThreshold(o: MaintainOptions): Promise<string> {
  const retention = `parse_duration('${o.snapshotRetention}')`;
  const [row] = (
    await o.trino.execute(
      `SELECT to_milliseconds(${retention}), to_milliseconds(max(current_timestamp - s.committed_at))
       FROM (SELECT snapshot_id, lead(made_current_at) OVER (ORDER BY made_current_at) AS superseded_at FROM ${metadataTable(o.table, "history")}) h
       JOIN ${metadataTable(o.table, "snapshots")} s ON s.snapshot_id = h.snapshot_id
       WHERE h.superseded_at > current_timestamp - ${retention}`,
      opts(o),
    )
  ).rows;
  const [retentionMs, keptAgeMs] = [Number(row?.[0]), row?.[1] == null ? undefined : Number(row[1])];
  const margin = expiryMarginMs(retentionMs);
  if (keptAgeMs === undefined || keptAgeMs + margin <= retentionMs) return o.snapshotRetention;
  const threshold = `${Math.ceil((keptAgeMs + margin) / 1000)}s`;
  o.log.info("iceberg_snapshot_retention_extended", { table: o.table, snapshot_retention: o.snapshotRetention, threshold });
  return threshold;
}

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
 * The session properties that let retentions below Trino's configured minimum through, for the
 * catalog of the table (the operator asked for them by passing them; nothing else is lowered).
 */
export function retentionSession(catalog: string, o: Pick<MaintainOptions, "snapshotRetention" | "orphanRetention">): Record<string, string> {
  return { [`${catalog}.expire_snapshots_min_retention`]: o.snapshotRetention, [`${catalog}.remove_orphan_files_min_retention`]: o.orphanRetention };
}

/**
 * The curve snapshots a run is built from: what a trigger reads from the curve store (the as-of
 * date, each curve's snapshot, the calibration history) and what a run records. The run feature
 * depends on this port; src/curves/repo.ts implements it.
 */
import { createHash } from "node:crypto";

/** One curve as of one date, as a run records it: the content hash covers every (month, mid) of it. */
export type CurveSnapshotRef = { curve_key: string; asof_date: string; content_hash: string };
export type SnapshotCurve = CurveSnapshotRef & { market: string; location: string; product: string };
/** A snapshot's rows read back for the engine, with their hash recomputed from them (contentHash). */
export type SnapshotRows = SnapshotCurve & { block: string; unit: string; months: number[]; mids: number[] };
/** One past snapshot's delivery months and mids, for the calibration. */
export type SnapshotHistoryRow = { curve_key: string; asof_date: string; months: number[]; mids: number[] };

export type CurveSnapshots = {
  /** The newest as-of date of any curve snapshot; undefined for an empty store. */
  latestAsof(): Promise<string | undefined>;
  /** For every curve, its newest snapshot on or before `asof` (curves with none are left out). */
  snapshotsAsOf(asof: string): Promise<SnapshotCurve[]>;
  /** Per curve, how many snapshots it has on or before `asof`. Without it (a test double) every curve takes the default calibration. */
  snapshotCounts?(asof: string): Promise<Map<string, number>>;
  /** The newest `max` snapshots on or before `asof` of each of these curves, oldest first, months up to `maxYears` after each. */
  snapshotHistory?(keys: string[], asof: string, max: number, maxYears: number): Promise<SnapshotHistoryRow[]>;
};

/**
 * A snapshot's content hash from its rows, byte for byte what Postgres computes when the snapshot
 * is recorded (CONTENT_HASH in repo.ts): sha256 over each (yyyymm as a big-endian int4, mid as a
 * big-endian float8, as int4send and float8send write them), in month order, as hex.
 */
export function contentHash(months: readonly number[], mids: readonly number[]): string {
  const bytes = new DataView(new ArrayBuffer(12 * months.length));
  for (let i = 0; i < months.length; i++) {
    bytes.setInt32(12 * i, months[i] as number);
    bytes.setFloat64(12 * i + 4, mids[i] as number);
  }
  return createHash("sha256").update(new Uint8Array(bytes.buffer)).digest("hex");
}

/**
 * The curve snapshots a run is built from: what a trigger reads from the curve store (the as-of
 * date, each curve's snapshot, the calibration history) and what a run records. The run feature
 * depends on this port; src/curves/repo.ts implements it.
 */

/** One curve as of one date, as a run records it: the content hash covers every (month, mid) of it. */
export type CurveSnapshotRef = { curve_key: string; asof_date: string; content_hash: string };
export type SnapshotCurve = CurveSnapshotRef & { market: string; location: string; product: string };
/** A snapshot's rows read back for the engine, with their hash recomputed from them (contentHash in repo.ts). */
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

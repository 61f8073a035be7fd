/**
 * The `retention_threshold` that `worker maintain` gives `expire_snapshots` (src/outputs/iceberg-maintenance.ts,
 * docs/outputs-trino.md "Two retentions"). Trino expires what was committed longer ago than the threshold
 * when the procedure *starts*, which may be long after the threshold was read when Trino queues the
 * query; the margin on the oldest snapshot that must stay is what covers that wait. A scripted Trino
 * answers the threshold query with the retention and that snapshot's age (the real Trino's side of it,
 * a pinned snapshot kept through optimize and expire, is in test/integration/iceberg-maintain.test.ts).
 */
import { describe, expect, test } from "bun:test";
import type { TrinoClient, TrinoResult } from "../../../src/adapters/trino";
import { EXPIRY_MARGIN_MAX_MS, EXPIRY_MARGIN_MIN_MS, expiryMarginMs, maintainIceberg } from "../../../src/outputs/iceberg-maintenance";
import { createLogger } from "../../../src/platform/logger";

const DAY = 86_400_000;

/** The threshold `expire_snapshots` was given, with the threshold query answering `retentionMs` and the kept snapshot's age. */
async function thresholdFor(snapshotRetention: string, retentionMs: number, keptAgeMs: number | null): Promise<string> {
  const statements: string[] = [];
  const result = (rows: unknown[][]): TrinoResult => ({ queryId: "q", columns: [], rows });
  const trino: TrinoClient = {
    async execute(sql) {
      statements.push(sql);
      if (sql.includes("parse_duration")) return result([[retentionMs, keptAgeMs]]);
      return result(sql.startsWith("SELECT") ? [[1, 1, 1]] : []);
    },
    query() {
      throw new Error("maintain pages no query");
    },
  };
  await maintainIceberg({ trino, log: createLogger("silent"), table: "iceberg.market.scenario_output", snapshotRetention, orphanRetention: "7d", fileSizeThreshold: "128MB" });
  const expire = statements.find((s) => s.includes("EXECUTE expire_snapshots"));
  return /retention_threshold => '([^']*)'/.exec(expire ?? "")?.[1] ?? "none";
}

describe("expire_snapshots' threshold: the snapshot current until maintain began stays, with a margin for Trino's queue", () => {
  test("the margin is the retention, between 10 s and an hour", () => {
    expect([0, 2_000, 60_000, DAY].map(expiryMarginMs)).toEqual([EXPIRY_MARGIN_MIN_MS, EXPIRY_MARGIN_MIN_MS, 60_000, EXPIRY_MARGIN_MAX_MS]);
  });

  test("under the default day: a snapshot committed three days ago and current a moment ago stays for an hour more than its age (a 10 s margin lost it to a queue of 11 s)", async () => {
    expect(await thresholdFor("1d", DAY, 3 * DAY)).toBe(`${(3 * DAY + 3_600_000) / 1000}s`);
  });

  test("a kept snapshot younger than the retention less the margin: the retention as given", async () => {
    expect(await thresholdFor("1d", DAY, DAY - 3_600_000)).toBe("1d");
    expect(await thresholdFor("1d", DAY, null)).toBe("1d");
  });

  test("short retentions keep the 10 s floor (the tests' 2s, the bench's 0s)", async () => {
    expect(await thresholdFor("2s", 2_000, 5_000)).toBe("15s");
    expect(await thresholdFor("0s", 0, 1_500)).toBe("12s");
  });
});

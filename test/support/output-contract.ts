/**
 * The output store's write-side contract, one suite for every OutputWriter: rows arrive exactly as
 * given (awkward text, every float bit, NaN and ±Infinity included; also as an engine thread hands
 * batches over, text columns coded and attribution joined), a second write replaces the
 * first, a failing commit leaves nothing of its write, deleteRun removes one run's rows only, and an
 * attribution with a non-finite entry is stored as JSON (the entry as the string "Infinity").
 * A store plugs in with a harness that creates runs and reads rows back in one common shape.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Transaction, Tx } from "../../src/adapters/postgres";
import type { OutputBatch } from "../../src/engine/types";
import { type OutputBatches, type OutputWriter, type RunOutputMeta, writeRun } from "../../src/outputs/store";
import { packBatch, unpackBatch } from "../../src/worker/messages";

/** A stored row; dates as YYYY-MM-DD, computed_ts as YYYY-MM-DDTHH:MM:SS.mmm (UTC), attribution parsed. */
export type StoredRow = {
  curve_key: string;
  tenor_type: string;
  contract_month: string;
  tenor_label: string;
  metric: string;
  value: number;
  band_lower: number | null;
  band_upper: number | null;
  attribution: unknown;
  tenant_id: string;
  version_hash: string;
  asof_date: string;
  computed_ts: string;
};

export type ContractHarness = {
  writer: OutputWriter;
  /** The metadata unit of work the worker publishes a run's rows in. */
  transaction: Transaction;
  /** A RUNNING run of one scenario; its meta. */
  newRun: () => Promise<RunOutputMeta>;
  /** The run's rows, in any order. */
  read: (runId: string) => Promise<StoredRow[]>;
  close: () => Promise<void>;
};

const AWKWARD = ["plain", "tab\there", "new\nline", "back\\slash", "cr\rret", "ünïcødé ⚡ 🚀", 'quote"s', "\\N", "it's", "'; drop table x; --"];
const SPECIAL = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 1e-300, -123456.789012345, 5e-324, 1.7976931348623157e308];

export function contractBatch(n: number, prefix = ""): OutputBatch {
  const b: OutputBatch = {
    length: n,
    curveKey: [],
    tenorType: [],
    contractMonth: new Int32Array(n),
    tenorLabel: [],
    metric: [],
    value: new Float64Array(n),
    bandLower: new Float64Array(n),
    bandUpper: new Float64Array(n),
    attribution: [],
  };
  for (let i = 0; i < n; i++) {
    b.curveKey.push(`${prefix}${AWKWARD[i % AWKWARD.length]}-${i}`);
    b.tenorType.push("MONTHLY");
    b.contractMonth[i] = 202601 + (i % 12);
    b.tenorLabel.push(`2026-${String((i % 12) + 1).padStart(2, "0")}`);
    b.metric.push(i % 2 ? "mid" : "NPV");
    b.value[i] = i < SPECIAL.length ? (SPECIAL[i] as number) : i / 7;
    b.bandLower[i] = b.value[i]! - 1;
    b.bandUpper[i] = b.value[i]! + 1;
    b.attribution.push(i % 3 === 0 ? null : JSON.stringify({ [`policy:${AWKWARD[i % AWKWARD.length]}`]: i / 3 }));
  }
  return b;
}

const byKey = (x: { curve_key: string; metric: string }, y: { curve_key: string; metric: string }) =>
  x.curve_key < y.curve_key ? -1 : x.curve_key > y.curve_key ? 1 : x.metric < y.metric ? -1 : x.metric > y.metric ? 1 : 0;

/** Rows in the order expectedRows gives them (by code unit, whatever the store's collation). */
export const sortRows = (rows: StoredRow[]): StoredRow[] => rows.sort(byKey);

/** How `meta` and `b` should read back. */
export function expectedRows(meta: RunOutputMeta, batches: OutputBatch[]): StoredRow[] {
  const rows: StoredRow[] = [];
  for (const b of batches) {
    for (let i = 0; i < b.length; i++) {
      const cm = b.contractMonth[i]!;
      rows.push({
        curve_key: b.curveKey[i]!,
        tenor_type: b.tenorType[i]!,
        contract_month: `${Math.floor(cm / 100)}-${String(cm % 100).padStart(2, "0")}-01`,
        tenor_label: b.tenorLabel[i]!,
        metric: b.metric[i]!,
        value: b.value[i]!,
        band_lower: b.bandLower[i]!,
        band_upper: b.bandUpper[i]!,
        attribution: b.attribution[i] == null ? null : JSON.parse(b.attribution[i]!),
        tenant_id: meta.tenantId,
        version_hash: meta.versionHash,
        asof_date: meta.asofDate,
        computed_ts: meta.computedTs.replace(/Z$/, ""),
      });
    }
  }
  return rows.sort(byKey);
}

export function describeOutputWriterContract(name: string, open: () => Promise<ContractHarness>, timeoutMs = 60_000): void {
  describe(`output writer contract: ${name}`, () => {
    let h: ContractHarness;
    const rowsOf = async (runId: string) => sortRows(await h.read(runId));
    const write = (meta: RunOutputMeta, batches: OutputBatches, checks?: (tx: Tx) => Promise<void>) => writeRun(h.writer, h.transaction, meta, batches, checks);

    beforeAll(async () => {
      h = await open();
    }, timeoutMs);
    afterAll(async () => {
      await h?.close();
    }, timeoutMs);

    test(
      "every row arrives exactly as given: awkward text, every float bit, NaN and ±Infinity",
      async () => {
        const meta = await h.newRun();
        const b = contractBatch(500);
        expect(await write(meta, [b])).toBe(500);
        const rows = await rowsOf(meta.runId);
        expect(rows).toEqual(expectedRows(meta, [b]));
        // the sign of -0 too (asserted on its own: not every matcher tells -0 from 0)
        expect(Object.is(rows.find((r) => r.curve_key === b.curveKey[3])?.value, -0)).toBe(true);
      },
      timeoutMs,
    );

    test(
      "batches as an engine thread hands them over (text columns coded, attribution joined) arrive as the same rows",
      async () => {
        const meta = await h.newRun();
        const given = () => [contractBatch(300, "a:"), contractBatch(200, "b:")];
        const across = given().map((b) => {
          const { packed, transfer } = packBatch(b);
          return unpackBatch(structuredClone(packed, { transfer }));
        });
        expect(across.every((b) => b.coded !== undefined && b.attributionText !== undefined && b.curveKey.length === 0 && b.attribution.length === 0)).toBe(true);
        expect(await write(meta, across)).toBe(500);
        expect(await rowsOf(meta.runId)).toEqual(expectedRows(meta, given()));
      },
      timeoutMs,
    );

    test(
      "an attribution with a non-finite entry is stored as valid JSON, the entry spelled as a string",
      async () => {
        const meta = await h.newRun();
        const b = contractBatch(3);
        // The engine's text before it refused non-finite values: `${number}` gives a bare Infinity, which is not JSON.
        b.attribution = ['{"policy:0":1.5,"load_growth:1":Infinity}', '{"fuel_curve:0":NaN,"policy:1":-Infinity}', null];
        await write(meta, [b]);
        const attributions = new Map((await h.read(meta.runId)).map((r) => [r.curve_key, r.attribution]));
        expect(b.curveKey.map((k) => attributions.get(k))).toEqual([{ "policy:0": 1.5, "load_growth:1": "Infinity" }, { "fuel_curve:0": "NaN", "policy:1": "-Infinity" }, null]);
      },
      timeoutMs,
    );

    test(
      "a second write of the same run replaces the first, never adds to it",
      async () => {
        const meta = await h.newRun();
        await write(meta, [contractBatch(300)]);
        const second = [contractBatch(120, "a:"), contractBatch(7, "b:")];
        await write(meta, second);
        expect(await rowsOf(meta.runId)).toEqual(expectedRows(meta, second));
      },
      timeoutMs,
    );

    test(
      "a commit that throws leaves no row of that write (and the earlier rows stay)",
      async () => {
        const meta = await h.newRun();
        const first = [contractBatch(50)];
        await write(meta, first);
        const failing = write(meta, [contractBatch(400, "x:")], async () => {
          throw new Error("lost the lease");
        });
        await expect(failing).rejects.toThrow("lost the lease");
        expect(await rowsOf(meta.runId)).toEqual(expectedRows(meta, first));
      },
      timeoutMs,
    );

    test(
      "staged rows that are discarded leave nothing; published and sealed, they replace the run's rows",
      async () => {
        const meta = await h.newRun();
        const first = [contractBatch(40)];
        await write(meta, first);
        const staged = await h.writer.stage(meta, [contractBatch(60, "s:")]);
        expect(staged.rows).toBe(60);
        await staged.discard();
        expect(await rowsOf(meta.runId)).toEqual(expectedRows(meta, first));
        // Published and sealed: the staged rows, and only they.
        const next = [contractBatch(25, "n:")];
        const again = await h.writer.stage(meta, next);
        await h.transaction(async (tx) => {
          await again.publish(tx);
          await again.seal(tx);
        });
        expect(await rowsOf(meta.runId)).toEqual(expectedRows(meta, next));
      },
      timeoutMs,
    );

    test(
      "deleteRun removes the run's rows only",
      async () => {
        const a = await h.newRun();
        const b = await h.newRun();
        await write(a, [contractBatch(10)]);
        await write(b, [contractBatch(20)]);
        await h.writer.deleteRun(a.runId);
        expect(await h.read(a.runId)).toHaveLength(0);
        expect(await h.read(b.runId)).toHaveLength(20);
      },
      timeoutMs,
    );
  });
}

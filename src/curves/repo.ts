/** Curve SQL: the all-or-nothing import through a staging table, lists and reads. */
import { type Sql, transactions } from "../adapters/postgres";
import { AppError } from "../platform/errors";
import type { CurveIdentity, ObservationBatch } from "./csv";
import type { CurveRecord } from "./model";
import type { CurveSnapshotRef, SnapshotCurve, SnapshotHistoryRow, SnapshotRows } from "./snapshots";

export type ImportResult = { rows: number; curves: number; inserted: number; updated: number };
export type ObservationRow = { asof_date: string; contract_month: string; mid: number };

/**
 * The content hash of a snapshot (the same expression as in ddl/postgres/010_run_inputs.sql, and
 * as contentHash below computes it from rows read back): sha256 over (yyyymm as int4, mid as
 * float8) in binary, ordered by month, so no text formatting setting can change it. `o` is
 * curve_observation.
 */
const CONTENT_HASH = `encode(sha256(string_agg(int4send((extract(year from o.contract_month) * 100 + extract(month from o.contract_month))::int) || float8send(o.mid), ''::bytea order by o.contract_month)), 'hex')`;

/**
 * CONTENT_HASH of rows read back, byte for byte: sha256 over each (yyyymm as a big-endian int4,
 * mid as a big-endian float8, as int4send and float8send write them), in month order, as hex.
 */
function contentHash(months: readonly number[], mids: readonly number[]): string {
  const bytes = new DataView(new ArrayBuffer(12 * months.length));
  for (let i = 0; i < months.length; i++) {
    bytes.setInt32(12 * i, months[i] as number);
    bytes.setFloat64(12 * i + 4, mids[i] as number);
  }
  return new Bun.CryptoHasher("sha256").update(bytes.buffer).digest("hex");
}

const COLUMNS = `curve_key, market, location, product, block, unit, first_month::text as first_month, last_month::text as last_month,
  latest_asof::text as latest_asof, observations::int as observations`;

export function createCurveRepo(sql: Sql) {
  const transaction = transactions(sql);
  const columns = sql.unsafe(COLUMNS);
  return {
    /**
     * One transaction: batches go to a temporary staging table, then duplicates and identity
     * clashes with stored curves are checked, then everything is upserted. Any error rolls back all of it.
     */
    async importBatches(batches: AsyncIterable<ObservationBatch>, identities: Map<string, CurveIdentity & { line: number }>): Promise<ImportResult> {
      return transaction(async (tx) => {
        await tx`create temporary table curve_import (line int not null, curve_key text not null, asof_date date not null, contract_month date not null, mid float8 not null) on commit drop`;
        let rows = 0;
        for await (const b of batches) {
          await tx`insert into curve_import select * from unnest(${b.line}::int[], ${b.curveKey}::text[], ${b.asofDate}::date[], ${b.contractMonth}::date[], ${b.mid}::float8[])`;
          rows += b.line.length;
        }
        const [dup] = await tx<{ line: number; first: number; curve_key: string }[]>`
          select max(line) as line, min(line) as first, curve_key from curve_import
          group by curve_key, asof_date, contract_month having count(*) > 1 order by max(line) limit 1`;
        if (dup) {
          throw new AppError("VALIDATION_ERROR", `line ${dup.line}: repeats the curve_key, asof_date and contract_month of line ${dup.first}; nothing was imported`, [
            { field: `line ${dup.line}`, location: "body", message: `duplicate of line ${dup.first}` },
          ]);
        }
        const incoming = [...identities].map(([key, id]) => ({ curve_key: key, ...id }));
        for (const existing of incoming.length
          ? await tx<(CurveIdentity & { curve_key: string })[]>`
          select curve_key, market, location, product, block, unit from curve where curve_key = any(${incoming.map((c) => c.curve_key)}::text[])`
          : []) {
          const mine = identities.get(existing.curve_key) as CurveIdentity & { line: number };
          if (
            mine.market !== existing.market ||
            mine.location !== existing.location ||
            mine.product !== existing.product ||
            mine.block !== existing.block ||
            mine.unit !== existing.unit
          ) {
            throw new AppError("CONFLICT", `line ${mine.line}: curve ${existing.curve_key} is stored with other market/location/product/block/unit; nothing was imported`, [
              { field: `line ${mine.line}`, location: "body", message: "identity differs from the stored curve" },
            ]);
          }
        }
        if (incoming.length) {
          // One array per column, not one parameter per value: a file of any number of curves stays
          // within Postgres's 65,535 bind parameters (7,000 curves × 10 columns did not).
          const column = <K extends keyof (typeof incoming)[number]>(k: K) => incoming.map((c) => c[k]);
          await tx`insert into curve (curve_key, market, location, product, block, unit, first_month, last_month, latest_asof, observations)
            select k, m, l, p, b, u, '1900-01-01', '1900-01-01', '1900-01-01', 0
            from unnest(${column("curve_key")}::text[], ${column("market")}::text[], ${column("location")}::text[], ${column("product")}::text[], ${column("block")}::text[], ${column("unit")}::text[]) as i(k, m, l, p, b, u)
            on conflict (curve_key) do nothing`;
        }
        const [counts] = await tx<{ inserted: number; updated: number }[]>`
          with upserted as (
            insert into curve_observation (curve_key, asof_date, contract_month, mid)
            select curve_key, asof_date, contract_month, mid from curve_import
            on conflict (curve_key, asof_date, contract_month) do update set mid = excluded.mid
            returning (xmax = 0) as inserted
          )
          select count(*) filter (where inserted)::int as inserted, count(*) filter (where not inserted)::int as updated from upserted`;
        // Snapshots the import touched get their row count and content hash again: a run triggered
        // before this import recorded the old hash and will refuse the changed rows.
        await tx`
          insert into curve_snapshot (curve_key, asof_date, months, content_hash)
          select o.curve_key, o.asof_date, count(*)::int, ${tx.unsafe(CONTENT_HASH)}
          from curve_observation o
          where (o.curve_key, o.asof_date) in (select distinct curve_key, asof_date from curve_import)
          group by o.curve_key, o.asof_date
          on conflict (curve_key, asof_date) do update set months = excluded.months, content_hash = excluded.content_hash`;
        await tx`
          update curve c set first_month = s.first_month, last_month = s.last_month, latest_asof = s.latest_asof,
                 observations = s.observations, updated_at = clock_timestamp()
          from (select curve_key, min(contract_month) as first_month, max(contract_month) as last_month,
                       max(asof_date) as latest_asof, count(*) as observations
                from curve_observation where curve_key in (select distinct curve_key from curve_import) group by curve_key) s
          where c.curve_key = s.curve_key`;
        return { rows, curves: identities.size, inserted: counts?.inserted ?? 0, updated: counts?.updated ?? 0 };
      });
    },

    async list(f: { market?: string; product?: string; block?: string }, limit: number, afterKey?: string): Promise<CurveRecord[]> {
      return sql<CurveRecord[]>`
        select ${columns} from curve where true
          ${f.market !== undefined ? sql`and lower(market) = lower(${f.market})` : sql``}
          ${f.product !== undefined ? sql`and product = ${f.product}` : sql``}
          ${f.block !== undefined ? sql`and block = ${f.block}` : sql``}
          ${afterKey !== undefined ? sql`and curve_key > ${afterKey}` : sql``}
        order by curve_key limit ${limit + 1}`;
    },

    async get(curveKey: string): Promise<CurveRecord | undefined> {
      const [row] = await sql<CurveRecord[]>`select ${columns} from curve where curve_key = ${curveKey}`;
      return row;
    },

    /** A page in month order. The ORDER BY names the table's month, not the text of it selected under that name: the index's order, where the text was sorted (EXPLAIN ANALYZE, 360 months: 9.6 ms → 1.3 ms). */
    async observations(curveKey: string, asofDate: string, limit: number, afterMonth?: string): Promise<ObservationRow[]> {
      return sql<ObservationRow[]>`
        select asof_date::text as asof_date, contract_month::text as contract_month, mid from curve_observation
        where curve_key = ${curveKey} and asof_date = ${asofDate}::date
          ${afterMonth !== undefined ? sql`and contract_month > ${afterMonth}::date` : sql``}
        order by curve_observation.contract_month limit ${limit + 1}`;
    },

    /** Which of these keys exist (for validating drivers that reference curves). */
    async existingKeys(keys: string[]): Promise<Set<string>> {
      if (!keys.length) return new Set();
      const rows = await sql<{ curve_key: string }[]>`select curve_key from curve where curve_key = any(${keys}::text[])`;
      return new Set(rows.map((r) => r.curve_key));
    },

    /** The newest as-of date of any curve snapshot; undefined for an empty store. */
    async latestAsof(): Promise<string | undefined> {
      const [row] = await sql<{ asof: string | null }[]>`select max(asof_date)::text as asof from curve_snapshot`;
      return row?.asof ?? undefined;
    },

    /** For every curve, its newest snapshot on or before `asof` (curves with none are left out). */
    async snapshotsAsOf(asof: string): Promise<SnapshotCurve[]> {
      return sql<SnapshotCurve[]>`
        select distinct on (s.curve_key) s.curve_key, s.asof_date::text as asof_date, s.content_hash, c.market, c.location, c.product
        from curve_snapshot s join curve c on c.curve_key = s.curve_key
        where s.asof_date <= ${asof}::date
        order by s.curve_key, s.asof_date desc`;
    },

    /** Per curve, how many snapshots it has on or before `asof` (curves with none are left out). */
    async snapshotCounts(asof: string): Promise<Map<string, number>> {
      const rows = await sql<{ curve_key: string; n: number }[]>`
        select curve_key, count(*)::int as n from curve_snapshot where asof_date <= ${asof}::date group by curve_key`;
      return new Map(rows.map((r) => [r.curve_key, r.n]));
    },

    /**
     * The newest `max` snapshots on or before `asof` of each of these curves, oldest first, with
     * their delivery months up to `maxYears` after each snapshot (the calibration's history, docs/model.md §7.2).
     */
    async snapshotHistory(keys: string[], asof: string, max: number, maxYears: number): Promise<SnapshotHistoryRow[]> {
      if (!keys.length) return [];
      return sql<SnapshotHistoryRow[]>`
        select s.curve_key, s.asof_date::text as asof_date,
               array_agg((extract(year from o.contract_month) * 100 + extract(month from o.contract_month))::int order by o.contract_month) as months,
               array_agg(o.mid order by o.contract_month) as mids
        from (select curve_key, asof_date, row_number() over (partition by curve_key order by asof_date desc) as rn
              from curve_snapshot where asof_date <= ${asof}::date and curve_key = any(${keys}::text[])) s
        join curve_observation o on o.curve_key = s.curve_key and o.asof_date = s.asof_date
          and o.contract_month <= s.asof_date + ${maxYears} * interval '1 year'
        where s.rn <= ${max}
        group by s.curve_key, s.asof_date
        order by s.curve_key, s.asof_date`;
    },

    /**
     * The rows of these snapshots, with each one's content hash recomputed from the rows read (in
     * JavaScript, over the very numbers the engine gets: contentHash). One small aggregate per
     * snapshot through the primary key. As one GROUP BY with the hash in SQL, as until stop 45, it
     * sorted every observation by curve key under the database's collation, then ran three ordered
     * aggregates and the bytea concatenation: 18-36 ms of a 40-curve run in the worker, now 9-19 ms
     * with the round trip (docs/performance.md).
     */
    async readSnapshots(refs: readonly CurveSnapshotRef[]): Promise<SnapshotRows[]> {
      if (!refs.length) return [];
      const rows = await sql<Omit<SnapshotRows, "content_hash">[]>`
        select c.curve_key, c.market, c.location, c.product, c.block, c.unit, s.asof_date::text as asof_date, o.months, o.mids
        from unnest(${refs.map((r) => r.curve_key)}::text[], ${refs.map((r) => r.asof_date)}::date[]) as s(curve_key, asof_date)
        join curve c on c.curve_key = s.curve_key
        cross join lateral (
          select array_agg((date_part('year', contract_month) * 100 + date_part('month', contract_month))::int order by contract_month) as months,
                 array_agg(mid order by contract_month) as mids
          from curve_observation where curve_key = s.curve_key and asof_date = s.asof_date
          having count(*) > 0) o`;
      return rows.map((r) => ({ ...r, content_hash: contentHash(r.months, r.mids) }));
    },

    /** Product, market and location of these keys (drivers that reference a curve are checked against them). */
    async identities(keys: string[]): Promise<Map<string, { product: string; market: string; location: string }>> {
      if (!keys.length) return new Map();
      const rows = await sql<{ curve_key: string; product: string; market: string; location: string }[]>`
        select curve_key, product, market, location from curve where curve_key = any(${keys}::text[])`;
      return new Map(rows.map(({ curve_key, ...id }) => [curve_key, id]));
    },

    /**
     * Distinct markets and locations of power curves, the regions a driver can apply to; with
     * `names`, only those equal to one of them (trimmed, case-insensitive, as the engine matches).
     */
    async powerRegions(names?: string[]): Promise<{ markets: string[]; locations: string[] }> {
      const lowered = names?.map((n) => n.trim().toLowerCase());
      const only = (column: string) => (lowered ? sql`and lower(trim(${sql(column)})) = any(${lowered.length ? lowered : [""]}::text[])` : sql``);
      const rows = await sql<{ kind: "market" | "location"; name: string }[]>`
        select distinct 'market' as kind, market as name from curve where product = 'power' ${only("market")}
        union select distinct 'location', location from curve where product = 'power' ${only("location")}
        order by 1, 2`;
      return { markets: rows.filter((r) => r.kind === "market").map((r) => r.name), locations: rows.filter((r) => r.kind === "location").map((r) => r.name) };
    },

    async isEmpty(): Promise<boolean> {
      const [row] = await sql`select not exists (select 1 from curve) as empty`;
      return Boolean(row?.empty);
    },
  };
}

export type CurveRepo = ReturnType<typeof createCurveRepo>;

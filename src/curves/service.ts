/** Curve use cases: import (admin), reads (any reader), and the sample set for a first start. */
import { authorize, type Principal } from "../platform/auth";
import { decodeCursor, encodeCursor, filterFingerprint } from "../platform/cursor";
import { badRequest, notFound } from "../platform/errors";
import { normalizeEnum } from "../platform/schema";
import { type CurveIdentity, parseCurveCsv } from "./csv";
import { BLOCKS, type CurveRecord, PRODUCTS } from "./model";
import type { CurveRepo, ImportResult, ObservationRow } from "./repo";
import { type CurveSpec, curveObservations, SAMPLE_ASOF, SAMPLE_CURVES, SAMPLE_MONTHS } from "./sample";

export function createCurveService(repo: CurveRepo) {
  return {
    /** Streams the CSV body into one transaction; a bad line rejects the whole file. */
    async importCsv(p: Principal, body: ReadableStream<Uint8Array> | null): Promise<ImportResult> {
      authorize(p, "admin:*");
      if (!body) throw badRequest("the request has no body; send a CSV file", [{ field: "/", location: "body", message: "missing CSV" }]);
      const identities = new Map<string, CurveIdentity & { line: number }>();
      return repo.importBatches(parseCurveCsv(body, identities), identities);
    },

    async list(p: Principal, q: { limit?: number; cursor?: string; market?: string; product?: string; block?: string }) {
      authorize(p, "scenarios:read");
      const filter = {
        ...(q.market !== undefined ? { market: q.market } : {}),
        ...(q.product !== undefined ? { product: normalizeEnum(PRODUCTS, q.product) } : {}),
        ...(q.block !== undefined ? { block: normalizeEnum(BLOCKS, q.block) } : {}),
      };
      const fingerprint = filterFingerprint(filter);
      const after = q.cursor ? decodeCursor(q.cursor, fingerprint, { k: /^.{1,128}$/ }).k : undefined;
      const limit = q.limit ?? 50;
      const rows = await repo.list(filter, limit, after);
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return { items: page, limit, nextCursor: rows.length > limit && last ? encodeCursor({ k: last.curve_key }, fingerprint) : null };
    },

    async get(p: Principal, curveKey: string, q: { asof_date?: string; limit?: number; cursor?: string }) {
      authorize(p, "scenarios:read");
      const curve = await repo.get(curveKey);
      if (!curve) throw notFound("curve");
      if (q.asof_date !== undefined && !isCalendarDay(q.asof_date)) {
        throw badRequest("asof_date must be a date YYYY-MM-DD", [{ field: "asof_date", location: "query", message: "expected YYYY-MM-DD" }]);
      }
      const asof = q.asof_date ?? curve.latest_asof;
      const fingerprint = filterFingerprint({ curveKey, asof });
      const after = q.cursor ? decodeCursor(q.cursor, fingerprint, { m: /^\d{4}-\d{2}-01$/ }).m : undefined;
      const limit = q.limit ?? 120;
      const rows: ObservationRow[] = await repo.observations(curveKey, asof, limit, after);
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        curve: curve as CurveRecord,
        asof,
        observations: page,
        limit,
        nextCursor: rows.length > limit && last ? encodeCursor({ m: last.contract_month }, fingerprint) : null,
      };
    },

    /** Loads the bundled sample curves into an empty store; returns whether it did. */
    async loadSampleIfEmpty(): Promise<boolean> {
      if (!(await repo.isEmpty())) return false;
      await this.loadSpecs(SAMPLE_CURVES, SAMPLE_ASOF, SAMPLE_MONTHS);
      return true;
    },

    /** Stores generated curves (the sample set, or a synthetic universe for tests and benchmarks). */
    async loadSpecs(specs: CurveSpec[], asofDate: string, months: number): Promise<ImportResult> {
      const identities = new Map(specs.map(({ curveKey, market, location, product, block, unit }) => [curveKey, { market, location, product, block, unit, line: 0 }]));
      return repo.importBatches(toAsync(curveObservations(specs, asofDate, months)), identities);
    },
  };
}

export type CurveService = ReturnType<typeof createCurveService>;

/** `YYYY-MM-DD` naming a real day (not 2024-02-30, not 0000-00-00) in years 1..9999. */
function isCalendarDay(value: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const day = new Date(Date.UTC(2000, mo - 1, d));
  day.setUTCFullYear(y);
  return y >= 1 && day.getUTCFullYear() === y && day.getUTCMonth() === mo - 1 && day.getUTCDate() === d;
}

async function* toAsync<T>(items: Iterable<T>): AsyncGenerator<T> {
  yield* items;
}

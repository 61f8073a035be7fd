/** Curve use cases: import (admin), reads (any reader), and the sample set for a first start. */
import { authorize, type Principal } from "../platform/auth";
import { keysetPage } from "../platform/cursor";
import { badRequest, notFound } from "../platform/errors";
import { normalizeEnum } from "../platform/schema";
import { isCalendarDay } from "../platform/time";
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
      const limit = q.limit ?? 50;
      const { items, nextCursor } = await keysetPage({
        cursor: q.cursor,
        limit,
        filters: filter,
        shape: { k: /^.{1,128}$/ },
        fetch: (after) => repo.list(filter, limit, after?.k),
        keyOf: (c) => ({ k: c.curve_key }),
      });
      return { items, limit, nextCursor };
    },

    async get(p: Principal, curveKey: string, q: { asof_date?: string; limit?: number; cursor?: string }) {
      authorize(p, "scenarios:read");
      const curve = await repo.get(curveKey);
      if (!curve) throw notFound("curve");
      if (q.asof_date !== undefined && !isCalendarDay(q.asof_date)) {
        throw badRequest("asof_date must be a date YYYY-MM-DD", [{ field: "asof_date", location: "query", message: "expected YYYY-MM-DD" }]);
      }
      const asof = q.asof_date ?? curve.latest_asof;
      const limit = q.limit ?? 120;
      const { items, nextCursor } = await keysetPage({
        cursor: q.cursor,
        limit,
        filters: { curveKey, asof },
        shape: { m: /^\d{4}-\d{2}-01$/ },
        fetch: (after): Promise<ObservationRow[]> => repo.observations(curveKey, asof, limit, after?.m),
        keyOf: (o) => ({ m: o.contract_month }),
      });
      return { curve: curve as CurveRecord, asof, observations: items, limit, nextCursor };
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

async function* toAsync<T>(items: Iterable<T>): AsyncGenerator<T> {
  yield* items;
}

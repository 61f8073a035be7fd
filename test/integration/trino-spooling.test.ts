// The spooling protocol against a real Trino (spooling on S3Mock, deploy/local/services.sh): rows
// and order as the direct protocol gives them, in json+zstd and json; every spooled segment
// acknowledged (deleted from storage) once read, or when the consumer leaves early; the direct
// protocol when the server does not spool this query. Needs `npm run services:up`; skips without
// it (fails with CI=true).
import { describe, expect, test } from "bun:test";
import { createTrinoClient, type TrinoConfig } from "../../src/adapters/trino";
import { eventually } from "../support/eventually";
import { requireService, serviceEnv } from "../support/services";

const service = await requireService("trino");
const env = serviceEnv();
const TRINO_URL = (env.AURUM_TRINO_URL ?? "http://127.0.0.1:8080").replace(/\/$/, "");

/**
 * A client whose HTTP calls are recorded: segment downloads (not to Trino), acknowledgements, and
 * (`told`) the spooled segment URIs the coordinator's pages named.
 */
function recorded(extra: Partial<TrinoConfig> = {}) {
  const segmentGets: { uri: string; status: number }[] = [];
  const acks: { uri: string; status: number }[] = [];
  const told: string[] = [];
  const logs: Record<string, unknown>[] = [];
  const c = createTrinoClient({
    url: TRINO_URL,
    user: env.AURUM_TRINO_USER ?? "aurum",
    source: "aurum-tests",
    log: { info: (_m: string, f: Record<string, unknown>) => logs.push(f) } as never,
    ...extra,
    fetch: async (input, init) => {
      const res = await fetch(input, init);
      if (input.includes("/v1/spooled/ack/")) acks.push({ uri: input, status: res.status });
      else if (!input.startsWith(TRINO_URL)) segmentGets.push({ uri: input, status: res.status });
      else if (input.startsWith(`${TRINO_URL}/v1/statement`) && init.method !== "DELETE" && extra.spooling) {
        const page = (await res.clone().json()) as { data?: { segments?: { type: string; uri?: string }[] } };
        for (const s of page.data?.segments ?? []) if (s.type === "spooled" && s.uri) told.push(s.uri);
      }
      return res;
    },
  });
  return { c, segmentGets, acks, told, logs };
}

/** 600,000 ordered rows of three columns: several segments of a few MB each. */
const ORDERED = `SELECT x, 'row-' || cast(x AS varchar) AS s, x * 0.25e0 AS d
  FROM (SELECT a * 1000 + b AS x FROM UNNEST(sequence(1, 600)) t(a) CROSS JOIN UNNEST(sequence(1, 1000)) u(b)) ORDER BY x`;

async function collect(c: ReturnType<typeof recorded>["c"], sql: string, opts: Parameters<typeof c.query>[1] = {}) {
  const rows: unknown[][] = [];
  for await (const page of c.query(sql, opts)) for (const r of page.rows) rows.push(r);
  return rows;
}

/** A segment URI fetched again: 404 once the server deleted it (acknowledged), 200 while it is kept. */
const statusNow = async (uri: string) => (await fetch(uri)).status;

describe.skipIf(!service.available)("trino spooling protocol (real server, S3Mock)", () => {
  test("json+zstd and json give the direct protocol's rows in its order; each segment is acknowledged, then gone from storage", async () => {
    const direct = await collect(recorded().c, ORDERED);
    expect(direct.length).toBe(600_000);
    for (const encoding of ["json+zstd", "json"] as const) {
      const r = recorded({ spooling: encoding });
      const rows = await collect(r.c, ORDERED, { spooled: true });
      expect(rows.length).toBe(direct.length);
      expect(rows).toEqual(direct);
      // spooled segments were downloaded from storage (not the coordinator) and all acknowledged
      expect(r.segmentGets.length).toBeGreaterThan(1);
      expect(r.segmentGets.every((g) => g.status === 200)).toBe(true);
      expect(r.logs.at(-1)).toMatchObject({ state: "FINISHED", rows: 600_000 });
      expect(Number(r.logs.at(-1)?.segments)).toBeGreaterThanOrEqual(r.segmentGets.length);
      // acknowledgements are sent without waiting for them
      await eventually(() => r.acks.length === r.segmentGets.length, { what: "an acknowledgement per segment", timeoutMs: 5_000 });
      expect(r.acks.map((a) => a.status)).toEqual(r.segmentGets.map(() => 200));
      for (const g of r.segmentGets) expect(await statusNow(g.uri)).toBe(404);
    }
  }, 120_000);

  test("without `spooled`, or when the server does not spool (session spooling_enabled=false), the same rows come by the direct protocol", async () => {
    const r = recorded({ spooling: "json+zstd" });
    const plain = await collect(r.c, "SELECT x FROM UNNEST(sequence(1, 5000)) t(x) ORDER BY x");
    const refused = await collect(r.c, "SELECT x FROM UNNEST(sequence(1, 5000)) t(x) ORDER BY x", { spooled: true, session: { spooling_enabled: "false" } });
    expect(plain.map((row) => row[0])).toEqual(Array.from({ length: 5000 }, (_, i) => i + 1));
    expect(refused).toEqual(plain);
    expect(r.segmentGets).toEqual([]);
    expect(r.logs.every((l) => l.segments === undefined)).toBe(true);
  });

  test("a consumer that leaves midway: the query is cancelled and the segments it did not read are acknowledged (deleted)", async () => {
    const r = recorded({ spooling: "json+zstd", segmentFetches: 2 });
    let seen = 0;
    for await (const page of r.c.query(ORDERED, { spooled: true })) {
      seen += page.rows.length;
      if (seen >= 100_000) break;
    }
    expect(seen).toBeGreaterThan(0);
    expect(seen).toBeLessThan(600_000);
    expect(r.logs.at(-1)?.state).toBe("CANCELLED");
    expect(r.told.length).toBeGreaterThan(0);
    await eventually(() => r.acks.length >= r.told.length, { what: "an acknowledgement per segment named", timeoutMs: 5_000 });
    expect(r.acks.length).toBe(r.told.length);
    for (const uri of r.told) expect(await statusNow(uri)).toBe(404);
  }, 60_000);
});

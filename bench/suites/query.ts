/**
 * query suite, the guide's harness (`--tenant-id --scenario-id --iterations --limit --use-cache
 * [--metric]`) over HTTP: `GET /v1/scenarios/{id}/outputs?limit=L[&metric=M]` at concurrency 1,
 * 10 and 50, cache hits (an API process with Redis) and misses (an API process with the cache off),
 * against the same app's static route (`/healthz`) and a Redis GET of the cached entry. Latency
 * p50/p95/p99/max and rows/s. With the cached process, a small page (`--small-limit`, 10 rows) is
 * also timed at concurrency 1, with a Redis GET of its entry. At concurrency 1 the parts of each
 * ratio take turns request by request (static, small page, its GETs; then the main page and its
 * GETs); misses and the higher concurrencies run in blocks.
 * Goal (issue 7, "cached small-page"): cached p50 ≤ static p50 + 2 × Redis GET p50, cached p99 ≤
 * static p99 + 5 × Redis GET p99, at concurrency 1; the same ratios are reported for the main page.
 * Redis GETs are timed with ioredis (the baseline) and with Bun's built-in client (what the
 * service's cache uses), both from this process.
 * Without --scenario-id it seeds its own scenario; with it, --db (the database) or --api-url (one
 * running API, measured as it is: hits with --use-cache, else as "uncached") says where.
 */
import { closeRedis, createNativeRedis, createRedis, redisReady } from "../../src/adapters/redis";
import { dropNamespace, TEST_REDIS_URL } from "../../test/support/redis";
import { load } from "../lib/load";
import { cachedApi, queryFixture, uncachedApi } from "../lib/query-fixture";
import { type Figure, Recorder, type SuiteContext, type SuiteResult } from "../lib/result";
import { percentile } from "../lib/stats";

export async function querySuite(ctx: SuiteContext): Promise<SuiteResult> {
  const rec = new Recorder("query");
  const f = ctx.flags;
  const iterations = Number(f.iterations ?? (ctx.quick ? 30 : 200));
  const limit = Number(f.limit ?? 100);
  const smallLimit = Number(f["small-limit"] ?? 10);
  const levels = String(f.concurrency ?? (ctx.quick ? "1,10" : "1,10,50"))
    .split(",")
    .map(Number);
  const rows = Number(f.rows ?? (ctx.quick ? 5_000 : 100_000));
  const scenarioFlag = f["scenario-id"] as string | undefined;
  const apiUrl = f["api-url"] as string | undefined;
  if (scenarioFlag && !f["tenant-id"]) throw new Error("--scenario-id needs --tenant-id");
  if (scenarioFlag && !apiUrl && !f.db) throw new Error("--scenario-id needs --db URL (the service's database) or --api-url URL (a running API)");
  const useCache = f["use-cache"] as boolean | undefined;
  const kinds = apiUrl ? [useCache ? "cached" : "uncached"] : useCache ? ["cached"] : ["cached", "uncached"];

  const fixture = apiUrl ? undefined : await queryFixture(rows, scenarioFlag ? { db: f.db as string, tenant: f["tenant-id"] as string, scenarioId: scenarioFlag } : undefined);
  const tenant = (f["tenant-id"] as string | undefined) ?? (fixture?.tenant as string);
  const scenarioId = scenarioFlag ?? (fixture?.scenarioId as string);
  const procs = fixture ? await Promise.all([cachedApi(fixture), ...(kinds.includes("uncached") ? [uncachedApi(fixture)] : [])]) : [];
  const base: Record<string, string> = apiUrl ? { [kinds[0] as string]: apiUrl } : { cached: procs[0]?.base as string, uncached: procs[1]?.base ?? "" };
  const redis = createRedis(TEST_REDIS_URL);
  const native = createNativeRedis(TEST_REDIS_URL);
  const haveRedis = (await redisReady(redis, 2_000)) && (await native.ready(2_000));
  try {
    const qs = (l: number) => `tenant_id=${encodeURIComponent(tenant)}&limit=${l}${f.metric ? `&metric=${encodeURIComponent(f.metric as string)}` : ""}`;
    const path = `/v1/scenarios/${scenarioId}/outputs?${qs(limit)}`;
    const smallPath = `/v1/scenarios/${scenarioId}/outputs?${qs(smallLimit)}`;
    const first = await fetch(`${base[kinds[0] as string]}${path}`);
    if (first.status !== 200) throw new Error(`${path}: HTTP ${first.status} ${await first.text()}`);
    const body = (await first.json()) as { data: unknown[] };
    const pageRows = body.data.length;
    rec.note(
      `GET ${path.replace(scenarioId, "{id}")}: ${pageRows} rows per page; ${iterations} requests per level per round; ${apiUrl ? `API at ${apiUrl}` : "API processes of this bench"}`,
    );
    const staticBase = base[kinds[0] as string] as string;
    // The Redis entries the hits read (when this bench runs the cached process): the main page's, then the small page's.
    const entries = async () => (fixture && kinds.includes("cached") ? (await redis.keys(`${fixture.namespace}:{${tenant}}:outputs:*`)).filter((k) => !k.endsWith(":lock")) : []);
    const [mainKey = "aurum-bench:none"] = await entries();
    const small = kinds.includes("cached") && fixture ? `${base.cached}${smallPath}` : undefined;
    if (small) await load(small, 1, 1);
    const smallKey = (await entries()).find((k) => k !== mainKey) ?? "aurum-bench:none";
    // Warm-up.
    for (const k of kinds) await load(`${base[k]}${path}`, 50, 4);
    if (small) await load(small, 50, 4);
    await load(`${staticBase}/healthz`, 50, 4);

    type Series = { p50: number[]; p99: number[]; rps: number[]; all: number[] };
    const series = new Map<string, Series>();
    const add = (name: string, lat: number[], seconds: number, rowsEach: number) => {
      const s = series.get(name) ?? { p50: [], p99: [], rps: [], all: [] };
      s.p50.push(percentile(lat, 50));
      s.p99.push(percentile(lat, 99));
      s.rps.push((lat.length * rowsEach) / seconds);
      s.all.push(...lat);
      series.set(name, s);
    };
    type Timed = [name: string, rowsEach: number, call: () => Promise<unknown>];
    /** One request; throws on a non-200 answer. */
    const fetchOnce = (url: string) => async () => {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}`);
    };
    const gets = (name: string, key: string): Timed[] =>
      haveRedis
        ? [
            [`Redis GET${name} c1`, 0, () => redis.getBuffer(key)],
            [`Redis GET${name} (Bun client) c1`, 0, () => native.send("GET", [key])],
          ]
        : [];
    // At concurrency 1 the parts of one ratio are timed a request at a time in turn (the order
    // rotating), so the baseline (static route, Redis GET) and the cached page see the same moments
    // of a shared machine; blocks of one kind after another let load drift between them. Misses go
    // in blocks of their own: a Postgres query and its aftermath in a third process, interleaved,
    // would slow whatever request comes next.
    const rotations: Timed[][] = [
      [["static c1", 0, fetchOnce(`${staticBase}/healthz`)], ...(small ? [["cached small c1", smallLimit, fetchOnce(small)] as Timed, ...gets(" small", smallKey)] : [])],
      kinds.includes("cached") ? [["cached c1", pageRows, fetchOnce(`${base.cached}${path}`)], ...gets("", mainKey)] : [],
    ];
    /** `iterations` rounds of one call of each, the order rotating; latencies go to `add`. */
    const rotate = async (timed: Timed[]) => {
      const lat = timed.map(() => [] as number[]);
      for (let i = 0; i < iterations; i++) {
        for (let j = 0; j < timed.length; j++) {
          const at = (i + j) % timed.length;
          const t = performance.now();
          await (timed[at] as Timed)[2]();
          (lat[at] as number[]).push(performance.now() - t);
        }
      }
      timed.forEach(([name, rowsEach], at) => {
        const l = lat[at] as number[];
        add(name, l, l.reduce((x, y) => x + y, 0) / 1000, rowsEach);
      });
    };
    for (let r = 0; r < ctx.repeats; r++) {
      if (levels.includes(1)) for (const timed of rotations) await rotate(timed);
      for (const c of levels) {
        if (c > 1) {
          const st = await load(`${staticBase}/healthz`, iterations, c);
          add(`static c${c}`, st.latencies, st.seconds, 0);
        }
        for (const k of kinds.filter((k) => c > 1 || k !== "cached")) {
          const res = await load(`${base[k]}${path}`, iterations, c);
          if (res.errors) throw new Error(`${k} c${c}: ${res.errors} non-200 answers`);
          add(`${k} c${c}`, res.latencies, res.seconds, pageRows);
        }
      }
      ctx.log(`query round ${r + 1}: ${[...series.entries()].map(([k, v]) => `${k} p50 ${v.p50.at(-1)?.toFixed(2)} ms`).join(", ")}`);
    }
    const figs = new Map<string, { p50: Figure; p99: Figure }>();
    for (const [name, s] of series) {
      const side = name.startsWith("cached") || name.startsWith("uncached") ? "project" : "baseline";
      const group = `concurrency ${name.replace(/^.* c/, "")}`;
      const label = name.replace(/ c\d+$/, "");
      figs.set(name, { p50: rec.figure(`${name} p50`, "ms", s.p50, side), p99: rec.figure(`${name} p99`, "ms", s.p99, side) });
      if (!name.startsWith("static") && !name.startsWith("Redis")) rec.figure(`${name} rows/s`, "rows/s", s.rps, side);
      rec.distribution(group, label, s.all, side);
    }
    /** The issue's two goals for one page, against the Redis GET of its entry through one client. */
    const goals = (page: string, cachedName: string, getName: string, client: string, goal: boolean) => {
      const cached = figs.get(cachedName);
      const stat = figs.get("static c1");
      const get = figs.get(getName);
      if (!cached || !stat || !get) return;
      const sum = (s: Figure, g: Figure, k: number, what: string) => ({
        name: `static ${what} + ${k} × Redis GET ${what}`,
        samples: s.samples.map((x, i) => x + k * (g.samples[i] as number)),
      });
      const target = goal ? { text: "≤ 1", meets: (x: number) => x <= 1 } : undefined;
      rec.ratio(`cached p50 / (static p50 + 2 × Redis GET p50), c1, ${page}, ${client}`, cached.p50, sum(stat.p50, get.p50, 2, "p50"), target);
      rec.ratio(`cached p99 / (static p99 + 5 × Redis GET p99), c1, ${page}, ${client}`, cached.p99, sum(stat.p99, get.p99, 5, "p99"), target);
    };
    goals(`${smallLimit}-row page`, "cached small c1", "Redis GET small c1", "ioredis GET", true);
    goals(`${smallLimit}-row page`, "cached small c1", "Redis GET small (Bun client) c1", "Bun client GET", false);
    goals(`${limit}-row page`, "cached c1", "Redis GET c1", "ioredis GET", false);
    goals(`${limit}-row page`, "cached c1", "Redis GET (Bun client) c1", "Bun client GET", false);
    for (const c of levels) {
      const cached = figs.get(`cached c${c}`);
      const uncached = figs.get(`uncached c${c}`);
      const stat = figs.get(`static c${c}`);
      if (!stat) continue;
      if (cached) rec.ratio(`cached p50 / static p50, c${c}`, cached.p50, stat.p50);
      if (uncached) rec.ratio(`uncached p50 / static p50, c${c}`, uncached.p50, stat.p50);
    }
  } finally {
    if (fixture && haveRedis) await dropNamespace(redis, fixture.namespace);
    await closeRedis(redis);
    native.close();
    await Promise.all(procs.map((p) => p.stop()));
    await fixture?.close();
  }
  return rec.result;
}

/**
 * Rate-limiter overhead: `bun bench/ratelimit.ts [--requests 5000] [--rounds 3] [--redis redis://127.0.0.1:6379]`.
 *
 * One trivial route served by a child process (`--serve <variant>`) four ways: without the
 * limiter, with the in-memory store, with the Redis store (one EVALSHA per request), and, for
 * scale, without the limiter but with one Redis GET in the handler. This process sends keep-alive
 * requests one at a time (latency, not throughput); the limit is high enough that all pass.
 * Reports p50/p99 per variant and the overhead against the bare route, median of `--rounds`.
 */
import { parseArgs } from "node:util";
import { Elysia } from "elysia";
import { createMetrics, createRateLimitMetrics } from "../src/adapters/metrics";
import { createRedis, redisReady } from "../src/adapters/redis";
import { loadConfig } from "../src/config";
import { createAuthenticator } from "../src/platform/auth";
import { createLogger } from "../src/platform/logger";
import { rateLimit } from "../src/ratelimit";
import { createMemoryRateLimitStore } from "../src/ratelimit/gcra";
import { createRedisRateLimitStore } from "../src/ratelimit/redis-store";

const VARIANTS = ["bare", "memory", "redis", "get"] as const;
const LABELS: Record<(typeof VARIANTS)[number], string> = { bare: "no limiter", memory: "memory store", redis: "redis store", get: "one Redis GET" };
const PREFIX = "aurum-bench:rl:";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "5000" },
    rounds: { type: "string", default: "3" },
    redis: { type: "string", default: "redis://127.0.0.1:6379" },
    serve: { type: "string" },
  },
});

if (values.serve) {
  const variant = values.serve as (typeof VARIANTS)[number];
  const redis = createRedis(values.redis, { commandTimeoutMs: 1_000 });
  if (!(await redisReady(redis, 2_000))) throw new Error(`no Redis at ${values.redis}`);
  const config = loadConfig({ AURUM_API_AUTH_DISABLED: "1" });
  const store = variant === "redis" ? createRedisRateLimitStore(redis, { prefix: PREFIX }) : variant === "memory" ? createMemoryRateLimitStore() : undefined;
  const limiter = store
    ? rateLimit({
        store,
        layers: async () => [{ enabled: true, rps: 1_000_000, burst: 1_000_000 }],
        authenticate: createAuthenticator(config),
        metrics: createRateLimitMetrics(createMetrics().registry),
        log: createLogger("silent"),
        failMode: "open",
        trustedProxyHops: 0,
      })
    : new Elysia();
  const app = new Elysia()
    .use(limiter)
    .get("/ping", async () => (variant === "get" ? ((await redis.get(`${PREFIX}none`)) ?? "ok") : "ok"))
    .listen({ port: 0, hostname: "127.0.0.1" });
  console.log(app.server?.port);
} else {
  const requests = Number(values.requests);
  const rounds = Number(values.rounds);
  const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

  async function measure(variant: string): Promise<number[]> {
    const child = Bun.spawn(["bun", import.meta.path, "--serve", variant, "--redis", values.redis], { stdout: "pipe", stderr: "inherit" });
    const port = Number(new TextDecoder().decode((await child.stdout.getReader().read()).value).trim());
    const url = `http://127.0.0.1:${port}/ping`;
    const headers = { "x-aurum-tenant": "bench" };
    try {
      for (let i = 0; i < 1_000; i++) await (await fetch(url, { headers })).text();
      const times: number[] = [];
      for (let i = 0; i < requests; i++) {
        const t = performance.now();
        const res = await fetch(url, { headers });
        await res.text();
        times.push(performance.now() - t);
        if (res.status !== 200) throw new Error(`unexpected ${res.status}`);
      }
      return times.sort((a, b) => a - b);
    } finally {
      child.kill();
      await child.exited;
    }
  }

  const results = new Map<string, { p50: number[]; p99: number[] }>();
  for (let round = 0; round < rounds; round++) {
    for (const variant of VARIANTS) {
      const sorted = await measure(variant);
      const r = results.get(variant) ?? { p50: [], p99: [] };
      r.p50.push(pct(sorted, 50));
      r.p99.push(pct(sorted, 99));
      results.set(variant, r);
    }
  }
  const us = (ms: number) => `${Math.round(ms * 1000)} µs`;
  const [base50, base99] = [median(results.get("bare")!.p50), median(results.get("bare")!.p99)];
  console.log(`rate limiter overhead: ${requests} sequential requests per variant, median of ${rounds} rounds (Bun ${Bun.version})`);
  for (const variant of VARIANTS) {
    const r = results.get(variant)!;
    const [p50, p99] = [median(r.p50), median(r.p99)];
    const extra = variant === "bare" ? "" : `  (+${us(p50 - base50)} p50, +${us(p99 - base99)} p99)`;
    console.log(`${LABELS[variant].padEnd(14)} p50 ${us(p50).padStart(7)}  p99 ${us(p99).padStart(8)}${extra}`);
  }
  const cleanup = createRedis(values.redis);
  if (await redisReady(cleanup, 2_000)) {
    const keys = await cleanup.keys(`${PREFIX}*`);
    if (keys.length) await cleanup.del(...keys);
  }
  cleanup.disconnect();
}

/** The limiter's pure parts: GCRA arithmetic on a controlled clock, limit resolution, override parsing, client addresses. */
import { describe, expect, test } from "bun:test";
import { createMemoryRateLimitStore } from "../../src/ratelimit/gcra";
import { clientAddress } from "../../src/ratelimit/identity";
import { type LimitLayer, parseOverrides, prefixMatches, resolveLimit } from "../../src/ratelimit/policy";

const T0 = 1_750_000_000_000;

describe("GCRA (memory store, controlled clock)", () => {
  test("a burst of N at one instant allows exactly `burst`, with remaining counting down", async () => {
    const store = createMemoryRateLimitStore();
    const decisions = [];
    for (let i = 0; i < 50; i++) decisions.push(await store.take("k", { rps: 10, burst: 20 }, T0));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(20);
    expect(decisions.slice(0, 20).map((d) => d.remaining)).toEqual(Array.from({ length: 20 }, (_, i) => 19 - i));
    const refused = decisions[20]!;
    expect(refused).toMatchObject({ allowed: false, remaining: 0, limit: 20 });
    expect(refused.retryAfterMs).toBeCloseTo(100, 6);
    expect(refused.resetMs).toBeCloseTo(2000, 6);
  });

  test("refills one token per interval: 100 ms later at 10/s exactly one more passes", async () => {
    const store = createMemoryRateLimitStore();
    for (let i = 0; i < 20; i++) await store.take("k", { rps: 10, burst: 20 }, T0);
    expect((await store.take("k", { rps: 10, burst: 20 }, T0 + 99)).allowed).toBe(false);
    expect((await store.take("k", { rps: 10, burst: 20 }, T0 + 100)).allowed).toBe(true);
    expect((await store.take("k", { rps: 10, burst: 20 }, T0 + 100)).allowed).toBe(false);
    // After the full reset time the whole burst is back.
    const later = [];
    for (let i = 0; i < 25; i++) later.push(await store.take("k", { rps: 10, burst: 20 }, T0 + 100 + 2000));
    expect(later.filter((d) => d.allowed)).toHaveLength(20);
  });

  test("awkward rates (3/s, burst 7) still allow exactly the burst, then one per interval", async () => {
    const store = createMemoryRateLimitStore();
    let allowed = 0;
    for (let i = 0; i < 30; i++) if ((await store.take("k", { rps: 3, burst: 7 }, T0)).allowed) allowed++;
    expect(allowed).toBe(7);
    let over10s = 0;
    for (let ms = 1; ms <= 10_000; ms += 1) if ((await store.take("k", { rps: 3, burst: 7 }, T0 + ms)).allowed) over10s++;
    expect(over10s).toBe(30);
  });

  test("stays bounded under a flood of distinct callers", async () => {
    const store = createMemoryRateLimitStore({ maxKeys: 100 });
    for (let i = 0; i < 1000; i++) await store.take(`caller-${i}`, { rps: 1, burst: 5 }, T0);
    // The newest callers keep their buckets; the oldest were forgotten to make room.
    expect((await store.take("caller-999", { rps: 1, burst: 1 }, T0)).allowed).toBe(false);
  });

  test("keys are independent", async () => {
    const store = createMemoryRateLimitStore();
    expect((await store.take("a", { rps: 1, burst: 1 }, T0)).allowed).toBe(true);
    expect((await store.take("a", { rps: 1, burst: 1 }, T0)).allowed).toBe(false);
    expect((await store.take("b", { rps: 1, burst: 1 }, T0)).allowed).toBe(true);
  });
});

describe("limit resolution", () => {
  const env: LimitLayer = { enabled: true, rps: 50, burst: 100, prefixes: [{ prefix: "/v1/scenarios", rps: 20, burst: 40 }] };

  test("prefixes match whole segments; * matches one segment", () => {
    expect(prefixMatches("/v1/curves", "/v1/curves")).toBe(true);
    expect(prefixMatches("/v1/curves", "/v1/curves/abc")).toBe(true);
    expect(prefixMatches("/v1/curves", "/v1/curvesX")).toBe(false);
    expect(prefixMatches("/v1/scenarios/*/outputs", "/v1/scenarios/123/outputs")).toBe(true);
    expect(prefixMatches("/v1/scenarios/*/outputs", "/v1/scenarios/123/runs")).toBe(false);
    expect(prefixMatches("/", "/anything")).toBe(true);
  });

  test("the longest matching prefix wins, across layers; the base limit otherwise", () => {
    const tenant: LimitLayer = { rps: 5, burst: 10, prefixes: [{ prefix: "/v1", rps: 1, burst: 1 }] };
    const global: LimitLayer = { prefixes: [{ prefix: "/v1/scenarios/*/outputs", rps: 2, burst: 3 }] };
    expect(resolveLimit("/v1/scenarios/x/outputs", [tenant, global, env])).toEqual({ bucket: "/v1/scenarios/*/outputs", rps: 2, burst: 3 });
    expect(resolveLimit("/v1/scenarios/x", [tenant, global, env])).toEqual({ bucket: "/v1/scenarios", rps: 20, burst: 40 });
    expect(resolveLimit("/v1/curves", [tenant, global, env])).toEqual({ bucket: "/v1", rps: 1, burst: 1 });
    expect(resolveLimit("/other", [tenant, global, env])).toEqual({ bucket: "*", rps: 5, burst: 10 });
    expect(resolveLimit("/other", [global, env])).toEqual({ bucket: "*", rps: 50, burst: 100 });
  });

  test("on equal length the literal beats the wildcard, and the nearer layer beats the farther", () => {
    const a: LimitLayer = { prefixes: [{ prefix: "/v1/*", rps: 1, burst: 1 }] };
    const b: LimitLayer = { prefixes: [{ prefix: "/v1/curves", rps: 2, burst: 2 }] };
    expect(resolveLimit("/v1/curves", [a, b, env])?.rps).toBe(2);
    const near: LimitLayer = { prefixes: [{ prefix: "/v1/scenarios", rps: 7, burst: 7 }] };
    expect(resolveLimit("/v1/scenarios", [near, env])?.rps).toBe(7);
  });

  test("enabled: the nearest layer that says decides", () => {
    expect(resolveLimit("/x", [{ enabled: false, rps: 1, burst: 1 }, env])).toBeNull();
    expect(resolveLimit("/x", [{ enabled: true }, { ...env, enabled: false }])).toEqual({ bucket: "*", rps: 50, burst: 100 });
  });
});

describe("AURUM_API_RATE_LIMIT_OVERRIDES", () => {
  test("parses prefix=rps:burst entries", () => {
    expect(parseOverrides("/v1/curves=5:10, /v1/scenarios/*/outputs=0.5:2")).toEqual([
      { prefix: "/v1/curves", rps: 5, burst: 10 },
      { prefix: "/v1/scenarios/*/outputs", rps: 0.5, burst: 2 },
    ]);
    expect(parseOverrides("")).toEqual([]);
  });

  test.each(["v1=1:1", "/v1=1", "/v1=0:1", "/v1=1:0", "/v1=a:b", "/v 1=1:1"])("rejects %p", (raw) => {
    expect(parseOverrides(raw)).toBeUndefined();
  });
});

describe("client address", () => {
  const server = { requestIP: () => ({ address: "10.0.0.9" }) };
  const req = (xff?: string) => new Request("http://x/", { headers: xff ? { "x-forwarded-for": xff } : {} });

  test("ignores X-Forwarded-For unless proxies are trusted", () => {
    expect(clientAddress(req("1.1.1.1"), server, 0)).toBe("10.0.0.9");
  });

  test("with n trusted proxies takes the n-th address from the right (a client cannot spoof past them)", () => {
    expect(clientAddress(req("6.6.6.6, 1.1.1.1"), server, 1)).toBe("1.1.1.1");
    expect(clientAddress(req("6.6.6.6, 1.1.1.1, 10.0.0.2"), server, 2)).toBe("1.1.1.1");
    expect(clientAddress(req(), server, 1)).toBe("10.0.0.9");
  });
});

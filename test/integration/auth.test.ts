/** Bearer-token auth with real signed JWTs and a JWKS served on loopback; tenancy and permissions. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { exportJWK, exportSPKI, generateKeyPair, type JWK, SignJWT } from "jose";
import { buildApp, call, createTestDb, GUIDE_SCENARIO, type TestDb } from "../support/app";

const ISSUER = "https://issuer.test/realms/aurum";
const AUDIENCE = "aurum-scenarios";

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;

describe("JWT auth", () => {
  let db: TestDb;
  let app: Awaited<ReturnType<typeof buildApp>>;
  let jwks: ReturnType<typeof Bun.serve>;
  let rsa: KeyPair;
  let ec: KeyPair;
  let rotated: KeyPair;
  const published: JWK[] = [];
  let jwksFetches = 0;

  beforeAll(async () => {
    rsa = await generateKeyPair("RS256");
    ec = await generateKeyPair("ES256");
    rotated = await generateKeyPair("RS256");
    published.push({ ...(await exportJWK(rsa.publicKey)), kid: "rsa-1", alg: "RS256", use: "sig" });
    published.push({ ...(await exportJWK(ec.publicKey)), kid: "ec-1", alg: "ES256", use: "sig" });
    jwks = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () => {
        jwksFetches++;
        return Response.json({ keys: published });
      },
    });
    db = await createTestDb("postgres");
    app = await buildApp(db, {
      AURUM_API_AUTH_JWKS_URL: `http://127.0.0.1:${jwks.port}/jwks.json`,
      AURUM_API_AUTH_ISSUER: ISSUER,
      AURUM_API_AUTH_AUDIENCE: AUDIENCE,
      AURUM_API_AUTH_LEEWAY_SECONDS: "5",
      // The unknown-kid test above would otherwise block the rotation test's refetch for 30 s.
      AURUM_API_AUTH_JWKS_COOLDOWN_SECONDS: "0",
    });
  });
  afterAll(async () => {
    jwks?.stop(true);
    await db?.drop();
  });

  type Claims = Record<string, unknown>;
  const now = () => Math.floor(Date.now() / 1000);
  async function token(claims: Claims = {}, opts: { key?: KeyPair; kid?: string; alg?: string } = {}) {
    const alg = opts.alg ?? "RS256";
    return new SignJWT({ tenant_id: "tenant-a", roles: ["analyst"], ...claims })
      .setProtectedHeader({ alg, kid: opts.kid ?? "rsa-1" })
      .setIssuer((claims.iss as string) ?? ISSUER)
      .setAudience((claims.aud as string) ?? AUDIENCE)
      .setSubject("user-1")
      .setIssuedAt()
      .setExpirationTime((claims.exp as number) ?? now() + 300)
      .sign((opts.key ?? rsa).privateKey);
  }
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  const list = (headers: Record<string, string>) => call(app, "GET", "/v1/scenarios", { headers });

  test("a valid RS256 token reads and creates within its tenant", async () => {
    const t = await token();
    expect((await list(bearer(t))).status).toBe(200);
    const created = await call(app, "POST", "/v1/scenarios", { body: { name: "Mine" }, headers: bearer(t) });
    expect(created.status).toBe(201);
    expect(created.json.data.tenant_id).toBe("tenant-a");
    expect(created.json.data.created_by).toBe("user-1");
  });

  test("a valid ES256 token is accepted", async () => {
    expect((await list(bearer(await token({}, { key: ec, kid: "ec-1", alg: "ES256" })))).status).toBe(200);
  });

  const rejected: [string, () => Promise<Record<string, string>>][] = [
    ["missing token", async () => ({})],
    ["a non-bearer scheme", async () => ({ authorization: `Basic ${btoa("a:b")}` })],
    ["an expired token", async () => bearer(await token({ exp: now() - 60 }))],
    ["a token not yet valid", async () => bearer(await token({ nbf: now() + 120 }))],
    ["the wrong audience", async () => bearer(await token({ aud: "someone-else" }))],
    ["the wrong issuer", async () => bearer(await token({ iss: "https://evil.test" }))],
    [
      "alg none",
      async () => {
        const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
        return bearer(`${enc({ alg: "none", typ: "JWT" })}.${enc({ iss: ISSUER, aud: AUDIENCE, tenant_id: "tenant-a", roles: ["admin"], exp: now() + 300 })}.`);
      },
    ],
    ["an unknown kid", async () => bearer(await token({}, { key: rotated, kid: "never-published" }))],
    [
      "a tampered signature",
      async () => {
        const [h, p, s] = (await token()).split(".") as [string, string, string];
        const flipped = `${s.slice(0, -2)}${s.endsWith("AA") ? "BB" : "AA"}`;
        return bearer(`${h}.${p}.${flipped}`);
      },
    ],
    [
      "a tampered payload",
      async () => {
        const [h, , s] = (await token()).split(".") as [string, string, string];
        const payload = Buffer.from(JSON.stringify({ iss: ISSUER, aud: AUDIENCE, tenant_id: "tenant-b", roles: ["admin"], exp: now() + 300 })).toString("base64url");
        return bearer(`${h}.${payload}.${s}`);
      },
    ],
    [
      "HS256 signed with the public key (algorithm confusion)",
      async () => {
        const secret = new TextEncoder().encode(await exportSPKI(rsa.publicKey));
        return bearer(
          await new SignJWT({ tenant_id: "tenant-a", roles: ["admin"] })
            .setProtectedHeader({ alg: "HS256", kid: "rsa-1" })
            .setIssuer(ISSUER)
            .setAudience(AUDIENCE)
            .setExpirationTime("5m")
            .sign(secret),
        );
      },
    ],
    ["garbage", async () => bearer("not.a.jwt")],
  ];
  for (const [what, headers] of rejected) {
    test(`${what} → 401 in the error envelope`, async () => {
      const res = await list(await headers());
      expect(res.status).toBe(401);
      expect(res.json.error.code).toBe("UNAUTHORIZED");
      expect(res.json.meta.request_id).toBeString();
    });
  }

  test("an expired token within the configured leeway is still accepted", async () => {
    expect((await list(bearer(await token({ exp: now() - 2 })))).status).toBe(200);
  });

  test("an unknown kid refetches the JWKS once, so a rotated key works at once", async () => {
    const before = jwksFetches;
    published.push({ ...(await exportJWK(rotated.publicKey)), kid: "rsa-2", alg: "RS256", use: "sig" });
    expect((await list(bearer(await token({}, { key: rotated, kid: "rsa-2" })))).status).toBe(200);
    expect(jwksFetches - before).toBeLessThanOrEqual(1);
    // Known keys are served from the cache: no further fetches.
    const after = jwksFetches;
    await list(bearer(await token()));
    await list(bearer(await token({}, { key: rotated, kid: "rsa-2" })));
    expect(jwksFetches).toBe(after);
  });

  test("missing permission → 403", async () => {
    const viewer = bearer(await token({ roles: ["viewer"] }));
    expect((await list(viewer)).status).toBe(200);
    const res = await call(app, "POST", "/v1/scenarios", { body: { name: "Nope" }, headers: viewer });
    expect(res.status).toBe(403);
    expect(res.json.error).toEqual({ code: "FORBIDDEN", message: "missing permission scenarios:write" });
    const analyst = bearer(await token());
    const s = (await call(app, "POST", "/v1/scenarios", { body: { name: "Analyst owned" }, headers: analyst })).json.data;
    expect((await call(app, "DELETE", `/v1/scenarios/${s.id}`, { headers: analyst })).status).toBe(403);
    expect((await call(app, "DELETE", `/v1/scenarios/${s.id}`, { headers: bearer(await token({ roles: "operator" })) })).status).toBe(204);
  });

  test("permissions may be named directly in the roles claim; admin:* grants everything", async () => {
    const direct = bearer(await token({ roles: ["scenarios:read", "scenarios:write"] }));
    const s = await call(app, "POST", "/v1/scenarios", { body: { name: "Direct perms" }, headers: direct });
    expect(s.status).toBe(201);
    expect((await call(app, "DELETE", `/v1/scenarios/${s.json.data.id}`, { headers: direct })).status).toBe(403);
    expect((await call(app, "DELETE", `/v1/scenarios/${s.json.data.id}`, { headers: bearer(await token({ roles: ["admin"] })) })).status).toBe(204);
  });

  test("another tenant's scenario is a 404, and naming another tenant is a 403", async () => {
    const a = bearer(await token());
    const b = bearer(await token({ tenant_id: "tenant-b" }));
    const s = (await call(app, "POST", "/v1/scenarios", { body: { name: "Secret plan" }, headers: a })).json.data;
    expect((await call(app, "GET", `/v1/scenarios/${s.id}`, { headers: b })).status).toBe(404);
    expect((await call(app, "PATCH", `/v1/scenarios/${s.id}`, { body: { description: "x" }, headers: b })).status).toBe(404);
    expect((await call(app, "DELETE", `/v1/scenarios/${s.id}`, { headers: bearer(await token({ tenant_id: "tenant-b", roles: ["admin"] })) })).status).toBe(404);
    expect((await list(b)).json.data.some((x: { id: string }) => x.id === s.id)).toBe(false);
    const spoof = await call(app, "POST", "/v1/scenarios", { body: { ...GUIDE_SCENARIO, tenant_id: "tenant-a" }, headers: b });
    expect(spoof.status).toBe(403);
    expect((await call(app, "GET", `/v1/scenarios?tenant_id=tenant-a`, { headers: b })).status).toBe(403);
  });

  test("a token without a tenant claim is a 403", async () => {
    const res = await list(bearer(await token({ tenant_id: undefined })));
    expect(res.status).toBe(403);
  });

  test("health, readiness, metrics and the OpenAPI document need no token", async () => {
    for (const path of ["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"]) expect((await call(app, "GET", path)).status).toBe(200);
  });
});

describe("JWT auth with a static public key", () => {
  test("verifies tokens against AURUM_API_AUTH_PUBLIC_KEY", async () => {
    const db = await createTestDb("postgres");
    try {
      const keys = await generateKeyPair("ES256");
      const app = await buildApp(db, { AURUM_API_AUTH_PUBLIC_KEY: await exportSPKI(keys.publicKey) });
      const good = await new SignJWT({ tenant_id: "t", roles: ["viewer"] }).setProtectedHeader({ alg: "ES256" }).setExpirationTime("5m").sign(keys.privateKey);
      expect((await call(app, "GET", "/v1/scenarios", { headers: { authorization: `Bearer ${good}` } })).status).toBe(200);
      const other = await generateKeyPair("ES256");
      const bad = await new SignJWT({ tenant_id: "t", roles: ["viewer"] }).setProtectedHeader({ alg: "ES256" }).setExpirationTime("5m").sign(other.privateKey);
      expect((await call(app, "GET", "/v1/scenarios", { headers: { authorization: `Bearer ${bad}` } })).status).toBe(401);
    } finally {
      await db.drop();
    }
  });
});

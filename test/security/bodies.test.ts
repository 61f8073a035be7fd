/**
 * Issue 18, part 3: request bodies are counted as they arrive (a chunked body has no Content-Length
 * to check) and refused at the limit with a 413, and the caller is authenticated before a byte of
 * the body is read. In-process checks count what was pulled from the body stream; the process
 * checks send 400 MB over a raw socket and watch the server's RSS.
 * @test-exclusive machine: beside three other files the streamed import consumed so slowly that
 *   Bun's own body backstop (8 x the import limit, counted as bytes arrive) tripped first and closed
 *   the connection with no answer the client could read (seen once: 66.7 MB sent, no status); not yet fixed.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { exportSPKI, generateKeyPair, SignJWT } from "jose";
import { buildApp, createTestDb, type TestDb } from "../support/app";
import { peakRss } from "../support/outputs";
import { postChunked, rawJson } from "../support/raw-http";
import { type ServiceProcess, startService } from "../support/service";

const MiB = 1024 * 1024;
const HEADER = "curve_key,market,location,product,block,unit,asof_date,contract_month,mid\n";

/** A body stream of `chunks` × `chunkBytes` that records how many bytes were pulled from it. */
function countedBody(chunks: number, chunkBytes: number, fill = 0x61, prefix = "") {
  const counter = { pulled: 0 };
  let sent = 0;
  const chunk = new Uint8Array(chunkBytes).fill(fill);
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (sent === 0 && prefix) {
          const p = new TextEncoder().encode(prefix);
          counter.pulled += p.byteLength;
          sent++;
          return controller.enqueue(p);
        }
        if (sent++ >= chunks) return controller.close();
        counter.pulled += chunk.byteLength;
        controller.enqueue(chunk);
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, counter };
}

const post = (app: Awaited<ReturnType<typeof buildApp>>, path: string, body: ReadableStream<Uint8Array>, headers: Record<string, string> = {}) =>
  app.handle(new Request(`http://localhost${path}`, { method: "POST", headers, body, duplex: "half" } as RequestInit));

async function signer() {
  const keys = await generateKeyPair("RS256");
  const token = (claims: Record<string, unknown> = {}) =>
    new SignJWT({ tenant_id: "tenant-a", roles: ["admin"], ...claims })
      .setProtectedHeader({ alg: "RS256" })
      .setSubject("user-1")
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + 300)
      .sign(keys.privateKey);
  return { publicKey: await exportSPKI(keys.publicKey), token };
}

describe("request bodies in process", () => {
  let db: TestDb;
  let local: Awaited<ReturnType<typeof buildApp>>;
  let authed: Awaited<ReturnType<typeof buildApp>>;
  let token: (claims?: Record<string, unknown>) => Promise<string>;

  beforeAll(async () => {
    db = await createTestDb("postgres");
    local = await buildApp(db, { AURUM_API_AUTH_DISABLED: "1", AURUM_API_MAX_IMPORT_BYTES: String(64 * 1024) });
    const s = await signer();
    token = s.token;
    authed = await buildApp(db, { AURUM_API_AUTH_PUBLIC_KEY: s.publicKey });
  });
  afterAll(async () => {
    await db?.drop();
  });

  test("a chunked JSON body over 1 MiB: 413, and no more than the limit plus one chunk is read", async () => {
    const { stream, counter } = countedBody(64, 64 * 1024, 0x61, '{"name":"');
    const res = await post(local, "/v1/scenarios", stream, { "content-type": "application/json" });
    expect(res.status).toBe(413);
    expect((await res.json()).error.code).toBe("PAYLOAD_TOO_LARGE");
    expect(counter.pulled).toBeLessThanOrEqual(MiB + 2 * 64 * 1024);
  });

  test("a chunked body under the limit is parsed as before", async () => {
    const body = new TextEncoder().encode(JSON.stringify({ name: "Chunked", tags: ["a"] }));
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(body.slice(0, 5));
        c.enqueue(body.slice(5));
        c.close();
      },
    });
    const res = await post(local, "/v1/scenarios", stream, { "content-type": "application/json", "x-aurum-tenant": "t-bodies" });
    expect(res.status).toBe(201);
    expect((await res.json()).data).toMatchObject({ name: "Chunked", tags: ["a"] });
  });

  test("a chunked import over AURUM_API_MAX_IMPORT_BYTES: 413, nothing imported", async () => {
    let rows = "";
    for (let i = 0; i < 2_000; i++) rows += `K_${i},ERCOT,HB_NORTH,power,ON_PEAK,USD/MWh,2026-01-02,2030-01,40\n`;
    // Valid CSV throughout, in 8 KiB chunks: the limit is what stops it, not a bad line.
    const bytes = new TextEncoder().encode(HEADER + rows);
    const real = new ReadableStream<Uint8Array>({
      start(c) {
        for (let at = 0; at < bytes.length; at += 8_192) c.enqueue(bytes.slice(at, at + 8_192));
        c.close();
      },
    });
    const res = await post(local, "/v1/curves:import", real, { "content-type": "text/csv" });
    expect(res.status).toBe(413);
    expect((await res.json()).error.message).toContain(`exceeds ${64 * 1024} bytes`);
    expect((await db.sql`select count(*)::int as n from curve`)[0]?.n).toBe(0);
  });

  test("auth on: an anonymous body gets 401 and not one byte of it is read", async () => {
    for (const path of ["/v1/scenarios", "/v1/curves:import", "/v1/scenarios/00000000-0000-4000-8000-000000000000/run"]) {
      const { stream, counter } = countedBody(400, MiB);
      const res = await post(authed, path, stream, { "content-type": path.endsWith(":import") ? "text/csv" : "application/json" });
      expect(res.status).toBe(401);
      expect(counter.pulled).toBe(0);
    }
  });

  test("auth on: a bad token is refused the same way, before the body", async () => {
    const { stream, counter } = countedBody(400, MiB);
    const res = await post(authed, "/v1/scenarios", stream, { "content-type": "application/json", authorization: "Bearer not.a.token" });
    expect(res.status).toBe(401);
    expect(counter.pulled).toBe(0);
  });

  test("auth on: a valid token still gets its 413 for a chunked body over the limit, and its 201 under it", async () => {
    const authorization = `Bearer ${await token()}`;
    const { stream, counter } = countedBody(400, 64 * 1024, 0x61, '{"name":"');
    const res = await post(authed, "/v1/scenarios", stream, { "content-type": "application/json", authorization });
    expect(res.status).toBe(413);
    expect(counter.pulled).toBeLessThanOrEqual(MiB + 2 * 64 * 1024);
    const ok = await authed.handle(
      new Request("http://localhost/v1/scenarios", { method: "POST", headers: { "content-type": "application/json", authorization }, body: JSON.stringify({ name: "Tokened" }) }),
    );
    expect(ok.status).toBe(201);
  });
});

describe("a 400 MB chunked body against the real process", () => {
  let db: TestDb;
  let local: ServiceProcess;
  let api: ServiceProcess;

  beforeAll(async () => {
    db = await createTestDb("postgres");
    const env = { PATH: process.env.PATH, AURUM_APP_DB_DSN: db.url, AURUM_LOAD_SAMPLE_CURVES: "never", AURUM_API_RATE_LIMIT_ENABLED: "0" };
    const s = await signer();
    [local, api] = await Promise.all([
      startService("start", { ...env, AURUM_API_MAX_IMPORT_BYTES: String(8 * MiB) }),
      startService("api", { ...env, AURUM_API_AUTH_PUBLIC_KEY: s.publicKey }),
    ]);
    // Warm both up, so the baseline includes what a first request allocates.
    for (const svc of [local, api]) {
      for (let i = 0; i < 20; i++) {
        await fetch(`${svc.base}/v1/scenarios`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ name: `warm ${i}`, tags: ["x".repeat(1_000)] }),
        });
        await fetch(`${svc.base}/healthz`);
      }
    }
  }, 180_000);
  afterAll(async () => {
    local?.proc.kill("SIGKILL");
    api?.proc.kill("SIGKILL");
    await db?.drop();
  });

  const chunk = new Uint8Array(MiB).fill(0x61);

  /** 400 MB streamed at `POST /v1/scenarios` over a socket: how it was answered, and the server's peak RSS growth meanwhile. */
  async function post400MB(server: ServiceProcess, label: string) {
    const before = server.rssBytes();
    const { result: outcome, peak } = await peakRss(server.rssBytes, async () => {
      const answered = await postChunked({
        base: server.base,
        path: "/v1/scenarios",
        headers: { "content-type": "application/json" },
        prefix: '{"name":"',
        chunk,
        totalBytes: 400 * MiB,
      });
      await Bun.sleep(200);
      return answered;
    });
    const growth = Math.max(peak, server.rssBytes()) - before;
    console.log(
      `${label} 400 MB: ${outcome.status} after ${outcome.bytesSent} bytes sent, ${outcome.answeredMs?.toFixed(0)} ms; RSS ${(before / MiB).toFixed(1)} MB, peak growth ${(growth / MiB).toFixed(1)} MB`,
    );
    return { outcome, growth };
  }

  test("local mode, anonymous: 413, and RSS grows by at most 16 MB", async () => {
    Bun.gc(true);
    const { outcome, growth } = await post400MB(local, "local");
    expect(outcome.status).toBe(413);
    expect((rawJson(outcome.response) as { error: { code: string } }).error.code).toBe("PAYLOAD_TOO_LARGE");
    expect(growth).toBeLessThanOrEqual(16 * MiB);
    expect((await fetch(`${local.base}/healthz`)).status).toBe(200);
  }, 120_000);

  test("a valid chunked CSV over AURUM_API_MAX_IMPORT_BYTES (8 MiB): 413 in the envelope, and nothing imported", async () => {
    let rows = "";
    for (let i = 0; i < 10_000; i++) rows += `BIG_${i},ERCOT,HB_NORTH,power,ON_PEAK,USD/MWh,2026-01-02,2030-01,40\n`;
    // 48 MiB and the body left unfinished: only an answer while the body streams counts, and the
    // client stays below Bun's own backstop (maxRequestBodySize, 8 × the larger limit: 64 MiB,
    // src/main.ts). Bun reads ahead of the import, which parses and stages as it reads: ~20 MB
    // had arrived by the import's 413 beside a CPU hog, and in one full suite 64.7 MB, where Bun
    // closed the connection first and the client saw no answer at all (stop 44).
    const outcome = await postChunked({
      base: local.base,
      path: "/v1/curves:import",
      headers: { "content-type": "text/csv" },
      prefix: HEADER,
      chunk: new TextEncoder().encode(rows),
      totalBytes: 48 * MiB,
      endBody: false,
      waitMs: 60_000,
    });
    console.log(`import over 8 MiB: ${outcome.status} after ${(outcome.bytesSent / MiB).toFixed(1)} MB sent, ${outcome.answeredMs?.toFixed(0)} ms`);
    expect(outcome.status).toBe(413);
    expect((rawJson(outcome.response) as { error: { message: string } }).error.message).toBe(`request body exceeds ${8 * MiB} bytes`);
    await Bun.sleep(200);
    expect((await db.sql`select count(*)::int as n from curve`)[0]?.n).toBe(0);
    expect((await fetch(`${local.base}/healthz`)).status).toBe(200);
  }, 120_000);

  test("a client that goes away halfway through a JSON body (7 times): the process lives", async () => {
    for (let attempt = 0; attempt < 7; attempt++) {
      const outcome = await postChunked({
        base: local.base,
        path: "/v1/scenarios",
        headers: { "content-type": "application/json", "x-aurum-tenant": "t-gone" },
        prefix: '{"name":"',
        chunk: new Uint8Array(64 * 1024).fill(0x61),
        totalBytes: 900 * 1024,
        abortAfterBytes: 512 * 1024,
      });
      expect(outcome.status).toBeUndefined();
    }
    await Bun.sleep(200);
    expect(local.proc.exitCode).toBeNull();
    expect((await fetch(`${local.base}/healthz`)).status).toBe(200);
    expect(local.output()).not.toContain("Unhandled error");
  }, 120_000);

  test("auth on, anonymous: 401 before the body is read (answered within the first 64 MB of 400, socket buffers included), RSS within 16 MB", async () => {
    const { outcome, growth } = await post400MB(api, "auth");
    expect(outcome.status).toBe(401);
    expect(outcome.bytesSent).toBeLessThan(64 * MiB);
    expect(growth).toBeLessThanOrEqual(16 * MiB);
    expect((await fetch(`${api.base}/healthz`)).status).toBe(200);
  }, 120_000);
});

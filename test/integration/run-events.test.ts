/**
 * `GET /v1/scenarios/{id}/runs/{run_id}/events`: the run's state as server-sent events, live
 * through admin state changes to the end; heartbeats; 404/401 like GET run; the loop stops when
 * the client goes away.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { exportSPKI, generateKeyPair, SignJWT } from "jose";
import { loadConfig } from "../../src/config";
import { runEventStream } from "../../src/runs/events";
import type { RunRecord } from "../../src/runs/model";
import { apiApp, call, createTestDb, STORES, type TestDb } from "../support/app";
import { checked } from "../support/contract";
import { eventually } from "../support/eventually";

type SseEvent = { event: string; data: unknown; id?: string } | { comment: string };

/** Reads server-sent events from a response body as they arrive. */
function sseReader(res: Response) {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let ended = false;
  const queue: SseEvent[] = [];
  async function fill(): Promise<boolean> {
    const { value, done } = await reader.read();
    if (done) {
      ended = true;
      return false;
    }
    buffer += decoder.decode(value, { stream: true });
    let cut = buffer.indexOf("\n\n");
    while (cut >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      cut = buffer.indexOf("\n\n");
      if (block.startsWith(":")) {
        queue.push({ comment: block.slice(1).trim() });
        continue;
      }
      const fields = Object.fromEntries(block.split("\n").map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trimStart()]));
      if (fields.event) queue.push({ event: fields.event, data: JSON.parse(fields.data ?? "null"), id: fields.id });
    }
    return true;
  }
  return {
    /** The next event or comment; undefined at the end of the stream. */
    async next(timeoutMs = 30_000): Promise<SseEvent | undefined> {
      const deadline = Date.now() + timeoutMs;
      while (queue.length === 0 && !ended) {
        const more = await Promise.race([fill(), Bun.sleep(Math.max(1, deadline - Date.now())).then(() => "timeout" as const)]);
        if (more === "timeout") throw new Error("no event in time");
      }
      return queue.shift();
    },
    /** The next `event:` (skipping heartbeats). */
    async nextEvent(timeoutMs = 30_000) {
      for (;;) {
        const e = await this.next(timeoutMs);
        if (e === undefined || "event" in e) return e as { event: string; data: RunRecord & { state: string; code?: string } } | undefined;
      }
    },
    cancel: () => reader.cancel(),
  };
}

async function appFor(db: TestDb, env: Record<string, string> = { AURUM_API_AUTH_DISABLED: "1" }) {
  const config = loadConfig({ AURUM_LOG_LEVEL: "silent", ...env });
  return checked(await apiApp(db, config, { runEvents: { pollMs: 40, heartbeatMs: 150 } }));
}

for (const store of STORES) {
  describe(`run events (SSE) on ${store}`, () => {
    let db: TestDb;
    let app: Awaited<ReturnType<typeof appFor>>;
    let scenarioId: string;
    const tenant = { "x-aurum-tenant": "t-events" };
    const open = (runId: string, headers: Record<string, string> = tenant, signal?: AbortSignal, id = scenarioId) =>
      app.handle(new Request(`http://localhost/v1/scenarios/${id}/runs/${runId}/events`, { headers, ...(signal ? { signal } : {}) }));
    const trigger = async (seed: number) => (await call(app, "POST", `/v1/scenarios/${scenarioId}/run`, { body: { seed }, headers: tenant })).json.data as RunRecord;
    const setState = (runId: string, state: string) => call(app, "POST", `/v1/scenarios/runs/${runId}/state`, { body: { state, reason: "test" }, headers: tenant });

    beforeAll(async () => {
      db = await createTestDb(store, { sampleCurves: true });
      app = await appFor(db);
      scenarioId = (await call(app, "POST", "/v1/scenarios", { body: { name: "Events", parameters: { shock_bp: 25 } }, headers: tenant })).json.data.id;
    });
    afterAll(async () => {
      await db?.drop();
    });

    test("sends the state at once and on every change, then `end` after a terminal state, and closes", async () => {
      const run = await trigger(1);
      const res = await open(run.id);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(res.headers.get("x-request-id")).toBeTruthy();
      const sse = sseReader(res);
      const first = await sse.nextEvent();
      expect(first?.event).toBe("run");
      // The same body as GET .../runs/{run_id}.
      expect(first?.data).toEqual((await call(app, "GET", `/v1/scenarios/${scenarioId}/runs/${run.id}`, { headers: tenant })).json.data);
      expect(first?.data.state).toBe("QUEUED");

      expect((await setState(run.id, "RUNNING")).status).toBe(200);
      const running = await sse.nextEvent();
      expect(running).toMatchObject({ event: "run", data: { id: run.id, state: "RUNNING" } });

      await db.sql`update scenario_run set progress = 0.5 where id = ${run.id}`;
      expect(await sse.nextEvent()).toMatchObject({ event: "run", data: { state: "RUNNING", progress: 0.5 } });

      expect((await setState(run.id, "SUCCEEDED")).status).toBe(200);
      expect(await sse.nextEvent()).toMatchObject({ event: "run", data: { state: "SUCCEEDED", progress: 1 } });
      expect(await sse.nextEvent()).toMatchObject({ event: "end", data: { state: "SUCCEEDED" } });
      expect(await sse.next()).toBeUndefined();
    });

    test("an already finished run gets its state and `end` at once", async () => {
      const run = await trigger(2);
      await call(app, "POST", `/v1/scenarios/runs/${run.id}/cancel`, { headers: tenant });
      const sse = sseReader(await open(run.id));
      expect(await sse.nextEvent()).toMatchObject({ event: "run", data: { state: "CANCELLED" } });
      expect(await sse.nextEvent()).toMatchObject({ event: "end", data: { state: "CANCELLED" } });
      expect(await sse.next()).toBeUndefined();
    });

    test("heartbeat comments keep a quiet stream alive; ids increase", async () => {
      const run = await trigger(3);
      const sse = sseReader(await open(run.id));
      const first = await sse.next();
      expect(first).toMatchObject({ event: "run" });
      const seen: SseEvent[] = [];
      for (let i = 0; i < 2; i++) seen.push((await sse.next()) as SseEvent);
      expect(seen).toEqual([{ comment: "ping" }, { comment: "ping" }]);
      await setState(run.id, "CANCELLED");
      const next = await sse.nextEvent();
      expect(next?.data.state).toBe("CANCELLED");
      expect(Number((next as { id?: string }).id)).toBeGreaterThan(Number((first as { id?: string }).id));
      await sse.cancel();
    });

    test("a deleted run ends the stream with an error event", async () => {
      const other = (await call(app, "POST", "/v1/scenarios", { body: { name: "Doomed" }, headers: tenant })).json.data.id;
      const run = (await call(app, "POST", `/v1/scenarios/${other}/run`, { body: {}, headers: tenant })).json.data as RunRecord;
      const sse = sseReader(await open(run.id, tenant, undefined, other));
      expect(await sse.nextEvent()).toMatchObject({ event: "run", data: { state: "QUEUED" } });
      expect((await call(app, "DELETE", `/v1/scenarios/${other}`, { headers: tenant })).status).toBe(204);
      expect(await sse.nextEvent()).toMatchObject({ event: "error", data: { code: "NOT_FOUND" } });
      expect(await sse.next()).toBeUndefined();
    });

    test("unknown, foreign and mismatched runs are a 404 envelope, like GET run; a bad id is a 400", async () => {
      const run = await trigger(4);
      const unknown = await open(crypto.randomUUID());
      expect(unknown.status).toBe(404);
      expect(unknown.headers.get("content-type")).toContain("application/json");
      expect((await unknown.json()).error.code).toBe("NOT_FOUND");
      expect((await open(run.id, { "x-aurum-tenant": "someone-else" })).status).toBe(404);
      expect((await open(run.id, tenant, undefined, crypto.randomUUID())).status).toBe(404);
      expect((await open("not-a-uuid")).status).toBe(400);
      await setState(run.id, "CANCELLED");
    });

    // That the loop then stops reading is checked on runEventStream below, where reads can be counted.
    test("a client that disconnects (abort, or cancel of the body) leaves the app serving", async () => {
      const run = await trigger(5);
      // Abort: the request's signal.
      const abort = new AbortController();
      const sse = sseReader(await open(run.id, tenant, abort.signal));
      expect(await sse.nextEvent()).toMatchObject({ event: "run" });
      abort.abort();
      // Cancel: the reader goes away.
      const sse2 = sseReader(await open(run.id));
      expect(await sse2.nextEvent()).toMatchObject({ event: "run" });
      await sse2.cancel();
      expect((await setState(run.id, "CANCELLED")).status).toBe(200);
      const sse3 = sseReader(await open(run.id));
      expect(await sse3.nextEvent()).toMatchObject({ event: "run", data: { state: "CANCELLED" } });
    });
  });
}

describe("run events with bearer tokens", () => {
  let db: TestDb;
  let app: Awaited<ReturnType<typeof appFor>>;
  let sign: (claims: Record<string, unknown>) => Promise<string>;
  beforeAll(async () => {
    db = await createTestDb("postgres", { sampleCurves: true });
    const keys = await generateKeyPair("ES256");
    app = await appFor(db, { AURUM_API_AUTH_PUBLIC_KEY: await exportSPKI(keys.publicKey) });
    sign = (claims) => new SignJWT(claims).setProtectedHeader({ alg: "ES256" }).setSubject("u").setExpirationTime("5m").sign(keys.privateKey);
  });
  afterAll(async () => {
    await db?.drop();
  });

  test("401 without a token; a viewer of the tenant streams; another tenant's token gets 404", async () => {
    const analyst = { authorization: `Bearer ${await sign({ tenant_id: "ta", roles: ["analyst"] })}` };
    const scenario = (await call(app, "POST", "/v1/scenarios", { body: { tenant_id: "ta", name: "Tok" }, headers: analyst })).json.data.id;
    const run = (await call(app, "POST", `/v1/scenarios/${scenario}/run`, { body: {}, headers: analyst })).json.data.id;
    const path = `http://localhost/v1/scenarios/${scenario}/runs/${run}/events`;
    expect((await app.handle(new Request(path))).status).toBe(401);
    const other = await app.handle(new Request(path, { headers: { authorization: `Bearer ${await sign({ tenant_id: "tb", roles: ["admin"] })}` } }));
    expect(other.status).toBe(404);
    const viewer = await app.handle(new Request(path, { headers: { authorization: `Bearer ${await sign({ tenant_id: "ta", roles: ["viewer"] })}` } }));
    expect(viewer.status).toBe(200);
    const sse = sseReader(viewer);
    expect(await sse.nextEvent()).toMatchObject({ event: "run", data: { id: run, state: "QUEUED" } });
    await sse.cancel();
  });
});

describe("runEventStream", () => {
  const base = { id: "r", state: "QUEUED", progress: 0, updated_at: "t0" } as unknown as RunRecord;

  test("stops polling once the signal aborts, and once the body is cancelled", async () => {
    for (const how of ["abort", "cancel"] as const) {
      let reads = 0;
      const abort = new AbortController();
      const stream = runEventStream({
        first: base,
        read: async () => {
          reads++;
          return { ...base, updated_at: `t${reads}` };
        },
        signal: abort.signal,
        options: { pollMs: 10, heartbeatMs: 60_000 },
      });
      const reader = stream.getReader();
      await reader.read();
      await eventually(() => reads > 1, { what: "a second poll" });
      if (how === "abort") abort.abort();
      else await reader.cancel();
      // A read already under way has counted itself; no new one may start: ten poll intervals show it.
      const after = reads;
      await Bun.sleep(100);
      expect(reads).toBe(after);
    }
  });

  test("a heartbeat bump of updated_at alone is not an event; a read failure ends the stream with UNAVAILABLE", async () => {
    let reads = 0;
    const stream = runEventStream({
      first: base,
      read: async () => {
        reads++;
        if (reads === 3) throw new Error("database gone");
        return { ...base, updated_at: `t${reads}` };
      },
      signal: new AbortController().signal,
      options: { pollMs: 5, heartbeatMs: 60_000 },
    });
    const text = await new Response(stream).text();
    expect(text.match(/^event: .*$/gm)).toEqual(["event: run", "event: error"]);
    expect(text).toContain('"code":"UNAVAILABLE"');
  });
});

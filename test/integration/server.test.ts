/** The real process: `bun src/main.ts start` on an empty data folder, the guide's curl example, graceful SIGTERM. */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GUIDE_SCENARIO } from "../support/app";

describe("the service process on embedded defaults", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "aurum-start-"));
  const port = 20000 + Math.floor(Math.random() * 20000);
  const base = `http://127.0.0.1:${port}`;
  const env = { ...process.env, AURUM_API_PORT: String(port), AURUM_API_HOST: "127.0.0.1", AURUM_DATA_DIR: dataDir, AURUM_LOG_LEVEL: "info" } as Record<string, string>;
  for (const k of ["AURUM_APP_DB_DSN", "AURUM_TIMESCALE_DSN", "AURUM_API_AUTH_DISABLED"]) delete env[k];
  const proc = Bun.spawn(["bun", "src/main.ts", "start"], { cwd: join(import.meta.dir, "../.."), env, stdout: "pipe", stderr: "pipe" });
  afterAll(() => {
    proc.kill("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("answers /healthz within 15 s of a first start", async () => {
    const started = performance.now();
    for (;;) {
      const ok = await fetch(`${base}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      expect(performance.now() - started).toBeLessThan(15_000);
      await Bun.sleep(100);
    }
    console.log(`first start answered /healthz after ${Math.round(performance.now() - started)} ms`);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  });

  test("the guide's create example, byte for byte, returns 201 with the stored scenario", async () => {
    const body = `{
        "tenant_id": "demo-tenant",
        "name": "RPS sensitivity",
        "assumptions": [
          {"driver_type": "policy", "payload": {"policy_name": "RPS", "start_year": 2030, "target": 0.6}}
        ],
        "parameters": {"shock_bp": 25},
        "tags": ["demo", "sensitivity"]
      }`;
    const res = await fetch(`${base}/v1/scenarios`, { method: "POST", headers: { "Content-Type": "application/json" }, body });
    expect(res.status).toBe(201);
    const json = await res.json();
    expect(json.data).toMatchObject({ ...GUIDE_SCENARIO, status: "active", version: 1 });
    const again = await (await fetch(`${base}/v1/scenarios/${json.data.id}`)).json();
    expect(again.data).toEqual(json.data);
  });

  test("/metrics exposes the request histogram by route template", async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toContain('aurum_http_request_duration_seconds_count{method="POST",route="/v1/scenarios",status="201"}');
    expect(text).toContain("aurum_process_resident_memory_bytes");
  });

  test("SIGTERM lets an in-flight request finish, then exits 0", async () => {
    // The request is surely in flight: its body is still arriving when the signal is sent.
    const json = JSON.stringify({ tenant_id: "demo-tenant", name: "In flight during shutdown" });
    let finish: () => void = () => {};
    const rest = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(new TextEncoder().encode(json.slice(0, 10)));
        await rest;
        controller.enqueue(new TextEncoder().encode(json.slice(10)));
        controller.close();
      },
    });
    const inflight = fetch(`${base}/v1/scenarios`, { method: "POST", headers: { "content-type": "application/json", "content-length": String(json.length) }, body });
    await Bun.sleep(200);
    proc.kill("SIGTERM");
    await Bun.sleep(200);
    finish();
    expect((await inflight).status).toBe(201);
    expect(await proc.exited).toBe(0);
    const out = await new Response(proc.stdout).text();
    expect(out).toContain('"event":"shutdown_complete"');
    expect(
      await fetch(`${base}/healthz`).then(
        () => "up",
        () => "down",
      ),
    ).toBe("down");
  });
});

/** The real process: `bun src/main.ts start` on an empty data folder, the guide's curl example, graceful SIGTERM. */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GUIDE_SCENARIO } from "../support/app";
import { checkedFetch } from "../support/contract";
import { type ServiceProcess, startService } from "../support/service";

/** Every response of the real process is checked against the OpenAPI document. */
const fetch = checkedFetch;

describe("the service process on embedded defaults", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "aurum-start-"));
  const env: Record<string, string | undefined> = { ...process.env, AURUM_DATA_DIR: dataDir };
  for (const k of ["AURUM_APP_DB_DSN", "AURUM_TIMESCALE_DSN", "AURUM_API_AUTH_DISABLED"]) delete env[k];
  let service: ServiceProcess | undefined;
  let base = "";
  afterAll(() => {
    service?.proc.kill("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  });

  // The time to listen is printed, not asserted: on a loaded machine it says nothing about the code.
  test("a first start listens; /healthz and /readyz answer 200", async () => {
    service = await startService("start", env);
    base = service.base;
    console.log(`first start listened after ${Math.round(service.startedMs)} ms`);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  }, 180_000);

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
    const exited = service?.stop("SIGTERM");
    await Bun.sleep(200);
    finish();
    expect((await inflight).status).toBe(201);
    expect(await exited).toBe(0);
    expect(service?.output()).toContain('"event":"shutdown_complete"');
    expect(
      await fetch(`${base}/healthz`).then(
        () => "up",
        () => "down",
      ),
    ).toBe("down");
  });
});

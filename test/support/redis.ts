/**
 * Redis for tests: the machine's server (AURUM_TEST_REDIS_URL, default 127.0.0.1:6379) with a
 * namespace per test file, and throwaway `redis-server` processes on random ports that a test may
 * kill and restart (never the machine's own server).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Redis } from "../../src/adapters/redis";
import { eventually } from "./eventually";

export const TEST_REDIS_URL = process.env.AURUM_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/** A namespace no other test run uses. */
export const testNamespace = (what: string) => `aurum-test:${what}:${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

/** Deletes every key under `namespace` (SCAN, never FLUSH). */
export async function dropNamespace(redis: Redis, namespace: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${namespace}:*`, "COUNT", 1000);
    if (keys.length) await redis.del(...keys);
    cursor = next;
  } while (cursor !== "0");
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

async function pingable(port: number): Promise<boolean> {
  const p = Bun.spawn(["redis-cli", "-p", String(port), "ping"], { stdout: "pipe", stderr: "ignore" });
  return (await new Response(p.stdout).text()).trim() === "PONG";
}

export type ThrowawayRedis = { port: number; url: string; start(): Promise<void>; kill(): Promise<void>; cleanup(): Promise<void> };

/** A `redis-server --save ''` of our own on a random port; `kill` is a SIGKILL (a crash), `start` brings it back on the same port. */
export async function throwawayRedis(): Promise<ThrowawayRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "aurum-redis-"));
  const pidFile = join(dir, "redis.pid");
  const pid = () => Number(readFileSync(pidFile, "utf8").trim());
  const self: ThrowawayRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "yes", "--pidfile", pidFile, "--dir", dir];
      const started = Bun.spawnSync(["redis-server", ...args, "--logfile", join(dir, "redis.log")]);
      if (started.exitCode !== 0) throw new Error(`redis-server failed: ${started.stderr.toString()}`);
      await eventually(() => pingable(port), { what: `redis-server on port ${port} to answer`, intervalMs: 10 });
    },
    async kill() {
      process.kill(pid(), "SIGKILL");
      await eventually(async () => !(await pingable(port)), { what: `redis-server on port ${port} to stop answering`, intervalMs: 10 });
      rmSync(pidFile, { force: true });
    },
    async cleanup() {
      try {
        process.kill(pid(), "SIGKILL");
      } catch {
        // not running
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await self.start();
  return self;
}

/** Machine facts stored with every --json result: CPU, cores, memory, load, versions of the stack. */
import os from "node:os";
import postgres from "postgres";
import { ADMIN_PG_URL } from "../../test/support/app";
import { serviceEnv } from "../../test/support/services";

export type MachineFacts = {
  host: string;
  cpu: string;
  cores: number;
  memory_gb: number;
  load_avg: number[];
  os: string;
  bun: string;
  postgres?: string;
  redis?: string;
  trino?: string;
  git_commit?: string;
};

async function text(cmd: string[]): Promise<string | undefined> {
  try {
    const p = Bun.spawn(cmd, { stdout: "pipe", stderr: "ignore" });
    const out = (await new Response(p.stdout).text()).trim();
    return (await p.exited) === 0 && out ? out : undefined;
  } catch {
    return undefined;
  }
}

export async function machineFacts(): Promise<MachineFacts> {
  const facts: MachineFacts = {
    host: os.hostname(),
    cpu: os.cpus()[0]?.model ?? "unknown",
    cores: os.cpus().length,
    memory_gb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    load_avg: os.loadavg().map((x) => Math.round(x * 100) / 100),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    bun: Bun.version,
  };
  facts.git_commit = await text(["git", "-C", `${import.meta.dir}/../..`, "rev-parse", "--short", "HEAD"]);
  try {
    const sql = postgres(ADMIN_PG_URL, { max: 1, onnotice: () => {}, connect_timeout: 3 });
    facts.postgres = (await sql<{ v: string }[]>`select current_setting('server_version') as v`)[0]?.v;
    await sql.end();
  } catch {}
  const redisInfo = await text(["redis-cli", "-u", process.env.AURUM_TEST_REDIS_URL ?? "redis://127.0.0.1:6379", "info", "server"]);
  facts.redis = redisInfo?.match(/redis_version:(\S+)/)?.[1];
  const trinoUrl = serviceEnv().AURUM_TRINO_URL;
  if (trinoUrl) {
    try {
      const info = (await (await fetch(`${trinoUrl}/v1/info`, { signal: AbortSignal.timeout(2000) })).json()) as { nodeVersion?: { version?: string } };
      facts.trino = info.nodeVersion?.version;
    } catch {}
  }
  return facts;
}

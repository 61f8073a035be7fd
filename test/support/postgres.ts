/**
 * A PostgreSQL server of a test's own (initdb in a temporary folder, a random port), for what the
 * machine's trust-auth server cannot show: password logins (SCRAM-SHA-256, md5, cleartext) and TLS
 * with a self-signed certificate. Roles: `postgres` (trust, also over the unix socket), `scram_user`,
 * `md5_user`, `clear_user` (one method each, over TCP without TLS) and `tls_user` (SCRAM, TLS only).
 * Undefined when the PostgreSQL server binaries are not installed.
 */
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./redis";

export const PASSWORDS = { scram_user: "scr@m pass é", md5_user: "md5-secret", clear_user: "clear-secret", tls_user: "tls-secret" } as const;

export type ThrowawayPostgres = { port: number; socketDir: string; database: string; certificate: string; stop(): Promise<void> };

function binDir(): string | undefined {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  return versions.map((v) => join(root, v, "bin")).find((dir) => existsSync(join(dir, "initdb")));
}

export async function throwawayPostgres(): Promise<ThrowawayPostgres | undefined> {
  const bin = binDir();
  if (!bin) return undefined;
  const dir = mkdtempSync(join(tmpdir(), "aurum-pg-"));
  const data = join(dir, "data");
  // initdb and postgres refuse to run as root: run them as the postgres account, which must own the folder.
  const asRoot = process.getuid?.() === 0;
  const run = (cmd: string[]) => {
    const r = Bun.spawnSync(asRoot ? ["runuser", "-u", "postgres", "--", ...cmd] : cmd, { stderr: "pipe", stdout: "pipe" });
    if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.toString()}${r.stdout.toString()}`);
    return r.stdout.toString();
  };
  if (asRoot) {
    const ids = Bun.spawnSync(["id", "-u", "postgres"]).stdout.toString().trim();
    const gid = Bun.spawnSync(["id", "-g", "postgres"]).stdout.toString().trim();
    chownSync(dir, Number(ids), Number(gid));
  }
  run([join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"]);
  const certificate = join(data, "server.crt");
  run(["openssl", "req", "-new", "-x509", "-days", "2", "-nodes", "-subj", "/CN=localhost", "-keyout", join(data, "server.key"), "-out", certificate]);
  chmodSync(join(data, "server.key"), 0o600);
  const port = await freePort();
  const conf = `port = ${port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '${dir}'\nssl = on\nfsync = off\n`;
  const hba = [
    "local all all trust",
    "hostssl all tls_user 127.0.0.1/32 scram-sha-256",
    "host all tls_user 127.0.0.1/32 reject",
    "host all scram_user 127.0.0.1/32 scram-sha-256",
    "host all md5_user 127.0.0.1/32 md5",
    "host all clear_user 127.0.0.1/32 password",
    "host all postgres 127.0.0.1/32 trust",
  ].join("\n");
  const write = (file: string, text: string, append = false) => {
    writeFileSync(join(data, file), text, { flag: append ? "a" : "w" });
  };
  write("postgresql.conf", conf, true);
  write("pg_hba.conf", `${hba}\n`);
  run([join(bin, "pg_ctl"), "-D", data, "-l", join(dir, "log"), "-w", "-t", "30", "start"]);
  const stop = async () => {
    Bun.spawnSync(
      asRoot ? ["runuser", "-u", "postgres", "--", join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "stop"] : [join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "stop"],
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const sql = (statement: string) => run(["psql", "-h", dir, "-p", String(port), "-U", "postgres", "-d", "postgres", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", statement]);
    const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;
    sql(
      `set password_encryption = 'scram-sha-256'; create role scram_user login password ${quote(PASSWORDS.scram_user)}; create role tls_user login password ${quote(PASSWORDS.tls_user)}; create role clear_user login password ${quote(PASSWORDS.clear_user)}`,
    );
    // md5 logins need an md5-stored password (with a SCRAM one the server answers with SCRAM instead).
    sql(`set password_encryption = 'md5'; create role md5_user login password ${quote(PASSWORDS.md5_user)}`);
    sql("create database aurum");
  } catch (err) {
    await stop();
    throw err;
  }
  return { port, socketDir: dir, database: "aurum", certificate, stop };
}

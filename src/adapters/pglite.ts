/** Embedded Postgres: PGlite persisted under the data folder, served on a loopback port. */
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

export async function startEmbeddedPostgres(dataDir: string): Promise<{ port: number; close: () => Promise<void> }> {
  const dir = join(resolve(dataDir), "pgdata");
  mkdirSync(dir, { recursive: true });
  const db = await PGlite.create(dir);
  const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 8 });
  await server.start();
  const port = Number(server.getServerConn().split(":").pop());
  return {
    port,
    close: async () => {
      await server.stop();
      await db.close();
    },
  };
}

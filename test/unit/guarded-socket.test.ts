/**
 * The metadata database's sockets keep an 'error' listener whatever postgres.js removes
 * (src/adapters/postgres.ts, GuardedSocket): a reset delivered after postgres.js let go of a
 * connection is dropped instead of ending the process.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import net from "node:net";
import { GuardedSocket } from "../../src/adapters/postgres";

describe("GuardedSocket", () => {
  let server: net.Server;
  let port: number;
  beforeAll(async () => {
    server = net.createServer((c) => c.on("error", () => {}));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as net.AddressInfo).port;
  });
  afterAll(() => server.close());

  const connected = async (socket: net.Socket) => {
    await new Promise<void>((resolve) => socket.connect(port, "127.0.0.1", resolve));
    return socket;
  };

  test("an error after every listener was removed (as postgres.js does on close) is dropped", async () => {
    const socket = await connected(new GuardedSocket());
    socket.on("error", () => {});
    socket.removeAllListeners();
    expect(() => socket.emit("error", Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }))).not.toThrow();
    socket.removeAllListeners("error");
    expect(socket.listenerCount("error")).toBe(1);
    socket.destroy();
  });

  test("listeners of other events are removed as asked, and errors still reach the listeners added later", async () => {
    const socket = await connected(new GuardedSocket());
    socket.on("data", () => {});
    socket.removeAllListeners("data");
    expect(socket.listenerCount("data")).toBe(0);
    const seen: string[] = [];
    socket.on("error", (e) => seen.push(e.message));
    socket.emit("error", new Error("boom"));
    expect(seen).toEqual(["boom"]);
    socket.destroy();
  });

  test("negative: a plain net.Socket in the same state throws the error (what ended a test process once)", async () => {
    const socket = await connected(new net.Socket());
    socket.removeAllListeners();
    expect(() => socket.emit("error", new Error("read ECONNRESET"))).toThrow("read ECONNRESET");
    socket.destroy();
  });
});

/**
 * The COPY client of src/adapters/pg-copy.ts against a scripted server on loopback (the test Postgres trusts
 * every connection, so password methods are exercised here): startup parameters, cleartext, md5
 * and SCRAM-SHA-256 (the server checks the client's proof as PostgreSQL does), errors, and CopyData
 * cut at arbitrary points across socket reads, reassembled into whole-row chunks.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import type { Socket, TCPSocketListener } from "bun";
import { CopyOut, type CopyTarget, md5Password, PostgresError, scramClientFinal, UnsupportedConnection } from "../../../src/adapters/pg-copy";
import { releaseChunk } from "../../../src/outputs/chunks";

describe("password hashing", () => {
  test("SCRAM-SHA-256: the RFC 7677 example exchange", () => {
    const nonce = "rOprNGfwEbeRWgbNEkqO";
    const serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const reply = scramClientFinal("pencil", nonce, `n=user,r=${nonce}`, serverFirst);
    expect(reply.message).toBe("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
    expect(reply.serverSignature.toString("base64")).toBe("6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    expect(() => scramClientFinal("pencil", "other-nonce", "n=*,r=other-nonce", serverFirst)).toThrow(/nonce/);
  });

  test("md5: as PostgreSQL computes it (select 'md5' || md5(md5('secret' || 'alice') || 'abcd'))", () => {
    expect(md5Password("alice", "secret", new TextEncoder().encode("abcd"))).toBe("md5c90bcafc0a2b54511742383e34d5dc9d");
  });
});

type Auth = "trust" | "cleartext" | "md5" | "scram" | "gss";
type Script = {
  auth: Auth;
  password: string;
  rows: Uint8Array[];
  /** Bytes per socket write of the COPY response (1 cuts every message everywhere). */
  slice: number;
  /** After this many rows, an ErrorResponse instead of the rest. */
  failAfter?: number;
  startupError?: boolean;
};

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const msg = (type: string, ...parts: (Uint8Array | string)[]) => {
  const body = Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p) : p)));
  return Buffer.concat([Buffer.from(type), u32(body.length + 4), body]);
};
const errorResponse = (text: string, code: string) => msg("E", `SERROR\0VERROR\0C${code}\0M${text}\0\0`);

/** A server that speaks just enough of the protocol: one connection, one COPY. */
function fakeServer(script: Script) {
  const seen: { params?: Record<string, string>; query?: string; authenticated?: boolean } = {};
  let inbox = Buffer.alloc(0);
  let started = false;
  let scram: { clientFirstBare: string; serverFirst: string; salt: Buffer } | undefined;
  const salt = randomBytes(4);
  const ready = () => Buffer.concat([msg("R", u32(0)), msg("S", "server_version\u000015.0\0"), msg("K", u32(4242), u32(7)), msg("Z", "I")]);

  async function reply(socket: Socket<undefined>, type: string, body: Buffer) {
    if (type === "p") {
      const text = body.toString("utf8");
      if (script.auth === "cleartext") return ok(socket, text === `${script.password}\0`);
      if (script.auth === "md5") return ok(socket, text === `${md5Password("alice", script.password, salt)}\0`);
      if (!scram) {
        // SASLInitialResponse: mechanism, int32 length, client-first-message
        const mech = body.toString("utf8", 0, body.indexOf(0));
        const first = body.subarray(mech.length + 5).toString("utf8");
        expect(mech).toBe("SCRAM-SHA-256");
        expect(first.startsWith("n,,")).toBe(true);
        const clientFirstBare = first.slice(3);
        const nonce = /r=([^,]*)/.exec(clientFirstBare)?.[1] as string;
        const s = randomBytes(16);
        scram = { clientFirstBare, serverFirst: `r=${nonce}server-part,s=${s.toString("base64")},i=4096`, salt: s };
        return void socket.write(msg("R", u32(11), scram.serverFirst));
      }
      // client-final-message: check the proof as the server does (it stores StoredKey and ServerKey only)
      const final = body.toString("utf8");
      const withoutProof = final.slice(0, final.lastIndexOf(",p="));
      const proof = Buffer.from(final.slice(final.lastIndexOf(",p=") + 3), "base64");
      const salted = pbkdf2Sync(script.password, scram.salt, 4096, 32, "sha256");
      const hmac = (key: Buffer, text: string) => createHmac("sha256", key).update(text).digest();
      const storedKey = createHash("sha256").update(hmac(salted, "Client Key")).digest();
      const authMessage = `${scram.clientFirstBare},${scram.serverFirst},${withoutProof}`;
      const signature = hmac(storedKey, authMessage);
      const clientKey = Buffer.from(proof.map((b, i) => b ^ (signature[i] as number)));
      if (!createHash("sha256").update(clientKey).digest().equals(storedKey)) return ok(socket, false);
      socket.write(msg("R", u32(12), `v=${hmac(hmac(salted, "Server Key"), authMessage).toString("base64")}`));
      return ok(socket, true);
    }
    if (type === "Q") {
      seen.query = body.toString("utf8", 0, body.length - 1);
      const rows = script.rows.slice(0, script.failAfter ?? script.rows.length);
      const out = Buffer.concat([
        msg("H", Buffer.from([0, 0, 0])),
        ...rows.map((r) => msg("d", r)),
        script.failAfter === undefined ? Buffer.concat([msg("c"), msg("C", "COPY 1\0")]) : errorResponse("canceling statement due to user request", "57014"),
        msg("Z", "I"),
      ]);
      for (let i = 0; i < out.length; i += script.slice) {
        const piece = out.subarray(i, i + script.slice);
        let written = 0;
        while (written < piece.length) {
          const n = socket.write(piece.subarray(written));
          if (n > 0) written += n;
          else await Bun.sleep(1);
        }
        if (script.slice < 64) await Bun.sleep(0); // separate reads on the client
      }
    }
  }

  function ok(socket: Socket<undefined>, good: boolean) {
    if (!good) return void socket.write(Buffer.concat([msg("E", "SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed\0\0")]));
    seen.authenticated = true;
    socket.write(ready());
  }

  const listener: TCPSocketListener<undefined> = Bun.listen<undefined>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(socket, data) {
        inbox = Buffer.concat([inbox, data]);
        if (!started) {
          if (inbox.length < 4 || inbox.length < inbox.readUInt32BE(0)) return;
          const length = inbox.readUInt32BE(0);
          const fields = inbox.toString("utf8", 8, length - 1).split("\0");
          seen.params = Object.fromEntries(Array.from({ length: fields.length / 2 }, (_, i) => [fields[2 * i], fields[2 * i + 1]]));
          inbox = inbox.subarray(length);
          started = true;
          if (script.startupError) return void socket.write(msg("E", 'SFATAL\0VFATAL\0C3D000\0Mdatabase "nope" does not exist\0\0'));
          if (script.auth === "trust") socket.write(ready());
          else if (script.auth === "cleartext") socket.write(msg("R", u32(3)));
          else if (script.auth === "md5") socket.write(msg("R", u32(5), salt));
          else if (script.auth === "scram") socket.write(msg("R", u32(10), "SCRAM-SHA-256\0\0"));
          else socket.write(msg("R", u32(7)));
        }
        while (inbox.length >= 5 && inbox.length >= 1 + inbox.readUInt32BE(1)) {
          const length = inbox.readUInt32BE(1);
          const type = String.fromCharCode(inbox[0] as number);
          const body = Buffer.from(inbox.subarray(5, 1 + length));
          inbox = inbox.subarray(1 + length);
          void reply(socket, type, body);
        }
      },
    },
  });
  return { listener, seen };
}

let server: ReturnType<typeof fakeServer> | undefined;
afterEach(() => {
  server?.listener.stop(true);
  server = undefined;
});

const rowsOf = (n: number, seed = 1) => Array.from({ length: n }, (_, i) => new TextEncoder().encode(`${i},${"x".repeat((i * 7919 + seed) % (i % 50 === 0 ? 90_000 : 300))}\n`));

function target(port: number, password?: string): CopyTarget {
  return {
    hosts: [{ host: "127.0.0.1", port }],
    user: "alice",
    database: "db",
    password,
    params: { client_encoding: "UTF8", application_name: "test", DateStyle: "ISO" },
    connectTimeoutMs: 2_000,
    tls: false,
  };
}

async function readAll(copy: CopyOut, release = false) {
  const chunks: Uint8Array[] = [];
  for (let c = await copy.read(); c !== null; c = await copy.read()) {
    chunks.push(Uint8Array.from(c));
    if (release) releaseChunk(c);
  }
  copy.close();
  return chunks;
}

describe("CopyOut against a scripted server", () => {
  for (const auth of ["trust", "cleartext", "md5", "scram"] as const) {
    test(`${auth}: logs in, sends the statement and the startup parameters, streams every row`, async () => {
      const rows = rowsOf(500);
      server = fakeServer({ auth, password: "s3cret é", rows, slice: 1 << 20 });
      const copy = await CopyOut.open(target(server.listener.port, auth === "trust" ? undefined : "s3cret é"), "copy (select 1) to stdout");
      expect(copy.pid).toBe(4242);
      const chunks = await readAll(copy);
      expect(server.seen.query).toBe("copy (select 1) to stdout");
      expect(server.seen.params).toEqual({ user: "alice", database: "db", client_encoding: "UTF8", application_name: "test", DateStyle: "ISO" });
      expect(Buffer.concat(chunks).equals(Buffer.concat(rows))).toBe(true);
      expect(copy.finished).toBe(true);
    });
  }

  test("a wrong password fails the open with the server's error", async () => {
    server = fakeServer({ auth: "scram", password: "right", rows: [], slice: 1 << 20 });
    const open = CopyOut.open(target(server.listener.port, "wrong"), "copy x to stdout");
    await expect(open).rejects.toThrow(/password authentication failed/);
    await expect(open).rejects.toBeInstanceOf(PostgresError);
  });

  test("an authentication method it does not speak is UnsupportedConnection (the caller falls back to postgres.js)", async () => {
    server = fakeServer({ auth: "gss", password: "", rows: [], slice: 1 << 20 });
    await expect(CopyOut.open(target(server.listener.port), "copy x to stdout")).rejects.toBeInstanceOf(UnsupportedConnection);
  });

  test("a startup error (unknown database) rejects the open", async () => {
    server = fakeServer({ auth: "trust", password: "", rows: [], slice: 1 << 20, startupError: true });
    await expect(CopyOut.open(target(server.listener.port), "copy x to stdout")).rejects.toThrow(/does not exist/);
  });

  test("messages cut at every byte: rows reassembled whole, the first row alone, later chunks ≤ 64 KB unless one row is larger", async () => {
    const rows = rowsOf(120, 3);
    server = fakeServer({ auth: "trust", password: "", rows, slice: 7 });
    const chunks = await readAll(await CopyOut.open(target(server.listener.port), "copy x to stdout"), true);
    expect(Buffer.concat(chunks).equals(Buffer.concat(rows))).toBe(true);
    expect(Buffer.from(chunks[0] as Uint8Array).equals(Buffer.from(rows[0] as Uint8Array))).toBe(true);
    // Every chunk ends at a row boundary, and is at most 64 KB unless it holds a single larger row.
    const ends = new Set<number>();
    let offset = 0;
    for (const r of rows) {
      offset += r.length;
      ends.add(offset);
    }
    offset = 0;
    for (const c of chunks) {
      offset += c.length;
      expect(ends.has(offset)).toBe(true);
      if (c.length > 64 * 1024) expect(rows.some((r) => r.length === c.length)).toBe(true);
    }
  });

  test("large volume through the pool: the same bytes whether chunks are released or kept", async () => {
    const rows = rowsOf(20_000, 5);
    for (const release of [true, false]) {
      server?.listener.stop(true);
      server = fakeServer({ auth: "trust", password: "", rows, slice: 50_000 });
      const chunks = await readAll(await CopyOut.open(target(server.listener.port), "copy x to stdout"), release);
      expect(Buffer.concat(chunks).equals(Buffer.concat(rows))).toBe(true);
    }
  });

  test("an error after some rows is thrown by read()", async () => {
    const rows = rowsOf(3_000);
    server = fakeServer({ auth: "trust", password: "", rows, slice: 1 << 20, failAfter: 2_000 });
    const copy = await CopyOut.open(target(server.listener.port), "copy x to stdout");
    let bytes = 0;
    const error = await (async () => {
      try {
        for (let c = await copy.read(); c !== null; c = await copy.read()) bytes += c.length;
      } catch (err) {
        return err;
      }
    })();
    copy.close();
    expect(error).toBeInstanceOf(PostgresError);
    expect((error as PostgresError).code).toBe("57014");
    expect(bytes).toBeLessThanOrEqual(Buffer.concat(rows.slice(0, 2_000)).length);
  });

  test("close() while a read waits ends it with null; nothing is left running", async () => {
    server = fakeServer({ auth: "trust", password: "", rows: rowsOf(10), slice: 1 << 20 });
    const copy = await CopyOut.open(target(server.listener.port), "copy x to stdout");
    expect(await copy.read()).not.toBeNull();
    copy.close();
    expect(await copy.read()).toBeNull();
  });

  test("a server that never answers the login: the open fails after the connect timeout", async () => {
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      // The error names the connect timeout: the open gave up at it, not at a socket timeout of the OS.
      await expect(CopyOut.open({ ...target(silent.port), connectTimeoutMs: 300 }, "copy x to stdout")).rejects.toThrow(/within 300 ms/);
    } finally {
      silent.stop(true);
    }
  });

  test("a host that refuses the connection: the next one is tried", async () => {
    server = fakeServer({ auth: "trust", password: "", rows: rowsOf(5), slice: 1 << 20 });
    const closed = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = closed.port;
    closed.stop(true);
    const t = {
      ...target(server.listener.port),
      hosts: [
        { host: "127.0.0.1", port },
        { host: "127.0.0.1", port: server.listener.port },
      ],
    };
    expect(Buffer.concat(await readAll(await CopyOut.open(t, "copy x to stdout"))).equals(Buffer.concat(rowsOf(5)))).toBe(true);
  });
});

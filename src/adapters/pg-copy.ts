/**
 * One `COPY ... TO STDOUT` on a connection of its own, speaking the PostgreSQL wire protocol (v3)
 * directly over `Bun.connect`: startup, authentication (trust, cleartext, md5, SCRAM-SHA-256),
 * TLS when the pool uses it, one simple Query, then the CopyData payloads copied straight from
 * each socket read into pooled ~64 KB chunks (whole rows each, see src/outputs/chunks.ts).
 *
 * Why not postgres.js's `.readable()`: it hands over one Buffer per row and copies most socket reads
 * once more to join the messages split across them, so every exported byte becomes garbage two or
 * three times over; in the API process (a heap of ~20-40 MB) Bun's collector let that pile up to
 * +50..90 MB during a 1 GB export, growing with its length. Here nothing is allocated per row, each
 * socket read is freed as soon as its bytes are copied out, and the chunks are reused once the HTTP
 * layer has written them: memory stays flat whatever the export's length.
 *
 * Backpressure: while two chunks wait for the consumer, the socket is paused; the kernel buffers
 * fill up and the server waits in ClientWrite. What this client does not do (the caller falls back
 * to postgres.js, see `UnsupportedConnection`): GSSAPI/SSPI/Kerberos, SCRAM channel binding
 * (SCRAM-SHA-256-PLUS only), direct TLS negotiation, multi-host session attributes, custom sockets.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";
import type { Socket, SocketHandler, TLSOptions } from "bun";
import { ChunkPool, freeNow } from "../outputs/chunks";

export type CopyTarget = {
  /** TCP endpoints tried in order; ignored when `unix` names a socket path. */
  hosts: { host: string; port: number }[];
  unix?: string | undefined;
  user: string;
  database: string;
  password?: string | (() => string | Promise<string>) | undefined;
  /** Startup parameters besides user and database (client_encoding, application_name, DateStyle, ...). */
  params: Record<string, string>;
  connectTimeoutMs: number;
  /** No TLS, or TLS after an SSLRequest: `prefer` goes on in plain text when the server declines it. */
  tls: false | { mode: "prefer" | "require"; options: TLSOptions };
};

/**
 * Whether work that failed with server error `sqlState` may succeed when tried again: not after a
 * data exception (class 22: a value out of range or not representable), which the same rows raise
 * again. The retry verdict of this client's and postgres.js's server errors (`retryable`, read by
 * src/worker/failure.ts; postgres.js's in src/adapters/postgres.ts).
 */
export const retryableSqlState = (sqlState: string): boolean => !sqlState.startsWith("22");

/** The server's ErrorResponse, with the fields postgres.js's PostgresError carries. */
export class PostgresError extends Error {
  override name = "PostgresError";
  severity: string;
  code: string;
  detail: string | undefined;
  hint: string | undefined;
  constructor(fields: Record<string, string>) {
    super(fields.M ?? "unknown server error");
    this.severity = fields.V ?? fields.S ?? "ERROR";
    this.code = fields.C ?? "XX000";
    this.detail = fields.D;
    this.hint = fields.H;
  }

  get retryable(): boolean {
    return retryableSqlState(this.code);
  }
}

/** This client cannot open the connection (an authentication method or TLS setup it does not speak). */
export class UnsupportedConnection extends Error {
  override name = "UnsupportedConnection";
}

const CHUNK_BYTES = 64 * 1024;
/** Chunks waiting for the consumer before the socket is paused. */
const MAX_READY = 2;
const PROTOCOL_3_0 = 196608;
const SSL_REQUEST = 80877103;
const D = 100; // 'd' CopyData
const encoder = new TextEncoder();

type Phase = "connecting" | "ssl" | "tls" | "startup" | "query" | "copy" | "done";

export class CopyOut {
  /** The backend's process id (from BackendKeyData), for pg_terminate_backend. */
  pid = 0;
  private socket: Socket<undefined> | undefined;
  /** The TCP host connected to (for TLS server name checks). */
  private host: string | undefined;
  private phase: Phase = "connecting";
  private failure: unknown;
  /** True once the server finished the statement (its ReadyForQuery, or an error after the login): nothing left to end. */
  private serverDone = false;
  private closed = false;
  private wake: (() => void) | undefined;
  private startup: { resolve: () => void; reject: (err: unknown) => void } | undefined;
  private pendingWrite: Uint8Array | undefined;
  private sasl: { nonce: string; clientFirstBare: string; serverSignature?: Buffer } | undefined;

  // Message parser state: a header (5 bytes, possibly split across reads), then `need` body bytes.
  private readonly header = Buffer.alloc(5);
  private headerLen = 0;
  private inBody = false;
  private type = 0;
  private need = 0;
  private msg = Buffer.alloc(256);
  private msgLen = 0;

  // Output: rows are copied into `cur`; full chunks wait in `ready` for the consumer.
  private readonly pool = new ChunkPool(CHUNK_BYTES);
  private cur: Uint8Array | undefined;
  private curLen = 0;
  private readonly ready: Uint8Array[] = [];
  private paused = false;
  private rows = 0;

  private constructor(
    private readonly target: CopyTarget,
    private readonly statement: string,
  ) {}

  /** Connects, authenticates and sends the statement; resolves once the server accepted the login. */
  static async open(target: CopyTarget, statement: string): Promise<CopyOut> {
    const copy = new CopyOut(target, statement);
    await copy.connect();
    return copy;
  }

  /**
   * The next chunk (whole rows, ~64 KB; the first one is the first row alone, for time to first
   * byte), or null at the end. Throws the server's error, or a lost connection's. A chunk stays
   * valid until the consumer passes it to `releaseChunk`, and for good if it never does.
   */
  async read(): Promise<Uint8Array | null> {
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      const chunk = this.ready.shift();
      if (chunk) {
        if (this.paused && this.ready.length === 0) {
          this.paused = false;
          this.socket?.resume();
        }
        return chunk;
      }
      if (this.phase === "done" || this.closed) return null;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  /** Whether the server has finished the statement (completed or failed): nothing runs on its side any more. */
  get finished(): boolean {
    return this.serverDone;
  }

  /** Closes the connection (politely after a finished statement, else at once) and wakes a pending read. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const socket = this.socket;
    if (socket) {
      if (this.serverDone) {
        socket.write(frame(88 /* X Terminate */));
        socket.end();
      } else socket.terminate();
    }
    this.pool.close();
    this.cur = undefined;
    this.ready.length = 0;
    this.poke();
  }

  private poke() {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private fail(err: unknown) {
    if (this.failure !== undefined || this.phase === "done" || this.closed) return;
    this.failure = err;
    this.startup?.reject(err);
    this.startup = undefined;
    this.poke();
  }

  private async connect(): Promise<void> {
    const { target } = this;
    const started = new Promise<void>((resolve, reject) => (this.startup = { resolve, reject }));
    started.catch(() => {});
    let abandon: (err: Error) => void = () => {};
    const abandoned = new Promise<never>((_, reject) => (abandon = reject));
    abandoned.catch(() => {});
    const timer = setTimeout(() => {
      const err = new Error(`could not connect to the database within ${target.connectTimeoutMs} ms`);
      this.fail(err);
      abandon(err);
      this.socket?.terminate();
    }, target.connectTimeoutMs);
    try {
      const endpoints: ({ unix: string } | { hostname: string; port: number })[] = target.unix
        ? [{ unix: target.unix }]
        : target.hosts.map((h) => ({ hostname: h.host, port: h.port }));
      let lastError: unknown;
      for (const endpoint of endpoints) {
        try {
          const connecting = Bun.connect({ ...endpoint, socket: this.handlers() } as Parameters<typeof Bun.connect>[0]) as Promise<Socket<undefined>>;
          // A connection that completes after the timeout gave up on it is closed at once.
          connecting.then(
            (s) => {
              if (this.closed && s !== this.socket) s.terminate();
            },
            () => {},
          );
          this.socket = await Promise.race([connecting, abandoned]);
          this.host = "hostname" in endpoint ? endpoint.hostname : undefined;
          break;
        } catch (err) {
          if (this.failure !== undefined) throw this.failure;
          lastError = err;
        }
      }
      if (!this.socket) throw lastError ?? new Error("no database host to connect to");
      if (this.failure !== undefined) throw this.failure;
      if (target.tls) {
        this.phase = "ssl";
        const request = Buffer.alloc(8);
        request.writeInt32BE(8, 0);
        request.writeInt32BE(SSL_REQUEST, 4);
        this.send(request);
      } else this.sendStartup();
      await started;
    } catch (err) {
      this.close();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  private handlers(): SocketHandler<undefined> {
    return {
      // Once upgraded to TLS, the raw socket still reports the encrypted bytes: only the current socket's count.
      data: (socket, data) => {
        if (socket === this.socket) this.onData(data as Buffer);
      },
      drain: (socket) => {
        const rest = this.pendingWrite;
        this.pendingWrite = undefined;
        if (rest) this.write(socket, rest);
      },
      close: (socket) => {
        if (socket === this.socket) this.fail(new Error("the database connection closed during the export"));
      },
      error: (socket, err) => {
        if (socket === this.socket) this.fail(err);
      },
      connectError: () => {}, // Bun.connect's promise rejects with it: the next host is tried
      handshake: (_socket, success, authorizationError) => {
        const tls = this.target.tls;
        const verify = tls && tls.options.rejectUnauthorized !== false;
        if (verify && (!success || authorizationError)) this.fail(authorizationError ?? new Error("TLS handshake with the database failed"));
        else if (this.phase === "tls") this.sendStartup(); // the login goes out encrypted, once the handshake is done
      },
    };
  }

  private send(bytes: Uint8Array) {
    if (this.socket) this.write(this.socket, bytes);
  }

  private write(socket: Socket<undefined>, bytes: Uint8Array) {
    if (this.pendingWrite) {
      this.pendingWrite = Buffer.concat([this.pendingWrite, bytes]);
      return;
    }
    const n = socket.write(bytes);
    if (n < 0) this.fail(new Error("the database connection closed"));
    else if (n < bytes.length) this.pendingWrite = bytes.subarray(n);
  }

  private sendStartup() {
    this.phase = "startup";
    const params = { user: this.target.user, database: this.target.database, ...this.target.params };
    const body = Buffer.from(
      `${Object.entries(params)
        .filter(([, v]) => v !== "")
        .map(([k, v]) => `${k}\0${v}\0`)
        .join("")}\0`,
    );
    const head = Buffer.alloc(8);
    head.writeInt32BE(8 + body.length, 0);
    head.writeInt32BE(PROTOCOL_3_0, 4);
    this.send(Buffer.concat([head, body]));
  }

  private onData(data: Buffer) {
    if (this.closed) return;
    if (this.phase === "ssl") return this.onSslAnswer(data);
    try {
      this.parse(data);
    } catch (err) {
      this.fail(err);
      this.socket?.terminate();
    }
    // Every byte of this read has been copied out: free it now rather than at a later GC.
    if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength) freeNow(data.buffer);
    if (this.ready.length >= MAX_READY && !this.paused && this.phase === "copy") {
      this.paused = true;
      this.socket?.pause();
    }
    if (this.ready.length > 0 || this.phase === "done") this.poke();
  }

  private onSslAnswer(data: Buffer) {
    const tls = this.target.tls;
    if (!tls || !this.socket) return;
    if (data.length !== 1) return this.fail(new Error("unexpected answer to SSLRequest"));
    if (data[0] === 78 /* N */) {
      if (tls.mode === "require") return this.fail(new Error("the database server does not accept TLS connections"));
      return this.sendStartup();
    }
    if (data[0] !== 83 /* S */) return this.fail(new Error("unexpected answer to SSLRequest"));
    this.phase = "tls";
    // The certificate names the host connected to, unless the options name one (as node:tls does).
    const host = this.host;
    const options = tls.options.serverName || !host || isIP(host) ? tls.options : { ...tls.options, serverName: host };
    const [, secure] = this.socket.upgradeTLS({ tls: options, socket: this.handlers() });
    this.socket = secure as Socket<undefined>;
  }

  /** Splits a socket read into messages; CopyData payloads go straight into the output chunk. */
  private parse(buf: Buffer) {
    const n = buf.length;
    let i = 0;
    while (i < n) {
      if (!this.inBody) {
        let length: number;
        if (this.headerLen === 0 && n - i >= 5) {
          this.type = buf[i] as number;
          length = buf.readUInt32BE(i + 1);
          i += 5;
        } else {
          const k = Math.min(5 - this.headerLen, n - i);
          buf.copy(this.header, this.headerLen, i, i + k);
          this.headerLen += k;
          i += k;
          if (this.headerLen < 5) return;
          this.headerLen = 0;
          this.type = this.header[0] as number;
          length = this.header.readUInt32BE(1);
        }
        if (length < 4) throw new Error(`malformed message from the database (type ${this.type}, length ${length})`);
        this.need = length - 4;
        this.inBody = true;
        if (this.type === D) this.beginRow(this.need);
        else {
          if (this.need > this.msg.length) this.msg = Buffer.alloc(this.need);
          this.msgLen = 0;
        }
        if (this.need === 0) this.endMessage();
        continue;
      }
      const k = Math.min(this.need, n - i);
      if (this.type === D) {
        buf.copy(this.cur as Uint8Array, this.curLen, i, i + k);
        this.curLen += k;
      } else {
        buf.copy(this.msg, this.msgLen, i, i + k);
        this.msgLen += k;
      }
      i += k;
      this.need -= k;
      if (this.need === 0) this.endMessage();
    }
  }

  /** Makes room for a row of `size` bytes: a row never straddles two chunks. */
  private beginRow(size: number) {
    if (this.phase !== "copy") throw new Error("CopyData outside of a COPY");
    if (this.cur && this.curLen + size > this.cur.length) this.flushChunk();
    if (!this.cur) {
      this.cur = this.pool.take(size);
      this.curLen = 0;
    }
  }

  private flushChunk() {
    if (this.cur && this.curLen > 0) {
      this.ready.push(this.pool.lend(this.cur, this.curLen));
      this.cur = undefined;
      this.curLen = 0;
    }
  }

  private endMessage() {
    this.inBody = false;
    const type = this.type;
    if (type === D) {
      if (++this.rows === 1) this.flushChunk(); // the first row (CSV: the header) goes at once
      return;
    }
    const body = this.msg.subarray(0, this.msgLen);
    switch (type) {
      case 82: // R Authentication*
        return void this.authenticate(body).catch((err) => {
          this.fail(err);
          this.socket?.terminate();
        });
      case 75: // K BackendKeyData
        this.pid = body.readUInt32BE(0);
        return;
      case 83: // S ParameterStatus
      case 78: // N NoticeResponse
      case 65: // A NotificationResponse
      case 118: // v NegotiateProtocolVersion
      case 67: // C CommandComplete
        return;
      case 72: // H CopyOutResponse
        this.phase = "copy";
        return;
      case 99: // c CopyDone
        this.flushChunk();
        return;
      case 69: // E ErrorResponse
        // After startup an error ends the statement (the server then only waits for the next one).
        this.serverDone = this.phase === "query" || this.phase === "copy" || fieldsOf(body).V === "FATAL";
        this.fail(new PostgresError(fieldsOf(body)));
        return;
      case 90: // Z ReadyForQuery
        if (this.phase === "startup") {
          this.phase = "query";
          this.send(frame(81 /* Q */, encoder.encode(`${this.statement}\0`)));
          this.startup?.resolve();
          this.startup = undefined;
          return;
        }
        this.serverDone = true;
        if (this.failure === undefined) {
          this.flushChunk();
          this.phase = "done";
        }
        return;
      default:
        throw new Error(`unexpected message ${String.fromCharCode(type)} from the database during a COPY`);
    }
  }

  private async authenticate(body: Buffer) {
    const code = body.readUInt32BE(0);
    const t = this.target;
    switch (code) {
      case 0: // AuthenticationOk
        return;
      case 3: // cleartext
        return this.send(frame(112 /* p */, encoder.encode(`${await password(t)}\0`)));
      case 5: // md5, salt in the next 4 bytes
        return this.send(frame(112, encoder.encode(`${md5Password(t.user, await password(t), body.subarray(4, 8))}\0`)));
      case 10: {
        // SASL: a list of mechanism names
        const mechanisms = body.subarray(4).toString("utf8").split("\0").filter(Boolean);
        if (!mechanisms.includes("SCRAM-SHA-256")) throw new UnsupportedConnection(`SASL mechanisms ${mechanisms.join(", ")} (only SCRAM-SHA-256 is spoken here)`);
        const nonce = randomBytes(18).toString("base64");
        const clientFirstBare = `n=*,r=${nonce}`;
        this.sasl = { nonce, clientFirstBare };
        const first = encoder.encode(`n,,${clientFirstBare}`);
        const mech = encoder.encode("SCRAM-SHA-256\0");
        const payload = Buffer.alloc(mech.length + 4 + first.length);
        payload.set(mech, 0);
        payload.writeInt32BE(first.length, mech.length);
        payload.set(first, mech.length + 4);
        return this.send(frame(112, payload));
      }
      case 11: {
        // SASLContinue: server-first-message
        if (!this.sasl) throw new Error("SASLContinue before SASL");
        const reply = scramClientFinal(await password(t), this.sasl.nonce, this.sasl.clientFirstBare, body.subarray(4).toString("utf8"));
        this.sasl.serverSignature = reply.serverSignature;
        return this.send(frame(112, encoder.encode(reply.message)));
      }
      case 12: {
        // SASLFinal: v=<server signature>
        const expected = this.sasl?.serverSignature;
        const got = Buffer.from(/(?:^|,)v=([^,]*)/.exec(body.subarray(4).toString("utf8"))?.[1] ?? "", "base64");
        if (!expected || got.length !== expected.length || !timingSafeEqual(got, expected)) throw new Error("the database server's SCRAM signature does not match");
        return;
      }
      default:
        throw new UnsupportedConnection(`authentication method ${code} (GSSAPI, SSPI or Kerberos) is not spoken here`);
    }
  }
}

async function password(t: CopyTarget): Promise<string> {
  const p = typeof t.password === "function" ? await t.password() : t.password;
  if (!p) throw new Error("the database asks for a password and none is configured");
  return p;
}

/** A protocol message: type byte, int32 length (itself included), body. */
function frame(type: number, body: Uint8Array = new Uint8Array(0)): Buffer {
  const out = Buffer.alloc(5 + body.length);
  out[0] = type;
  out.writeInt32BE(4 + body.length, 1);
  out.set(body, 5);
  return out;
}

/** ErrorResponse/NoticeResponse fields: a type byte and a C string each, then a zero byte. */
function fieldsOf(body: Buffer): Record<string, string> {
  const fields: Record<string, string> = {};
  let i = 0;
  while (i < body.length && body[i] !== 0) {
    const end = body.indexOf(0, i + 1);
    if (end < 0) break;
    fields[String.fromCharCode(body[i] as number)] = body.toString("utf8", i + 1, end);
    i = end + 1;
  }
  return fields;
}

/** The md5 password message: "md5" + md5(md5(password + user) + salt), in hex. */
export function md5Password(user: string, password: string, salt: Uint8Array): string {
  const inner = createHash("md5")
    .update(password + user)
    .digest("hex");
  return `md5${createHash("md5")
    .update(Buffer.concat([Buffer.from(inner), salt]))
    .digest("hex")}`;
}

/**
 * SCRAM-SHA-256 (RFC 5802/7677) without channel binding: from the server-first-message, the
 * client-final-message and the server signature to expect in the server-final-message.
 */
export function scramClientFinal(password: string, nonce: string, clientFirstBare: string, serverFirst: string): { message: string; serverSignature: Buffer } {
  const attrs = Object.fromEntries(serverFirst.split(",").map((kv) => [kv.slice(0, 1), kv.slice(2)]));
  const serverNonce = attrs.r ?? "";
  if (!serverNonce.startsWith(nonce)) throw new Error("the database server's SCRAM nonce does not extend ours");
  const iterations = Number(attrs.i);
  if (!attrs.s || !Number.isInteger(iterations) || iterations < 1) throw new Error("malformed SCRAM server-first-message");
  const salted = pbkdf2Sync(password, Buffer.from(attrs.s, "base64"), iterations, 32, "sha256");
  const hmac = (key: Buffer, text: string) => createHmac("sha256", key).update(text).digest();
  const clientKey = hmac(salted, "Client Key");
  const storedKey = createHash("sha256").update(clientKey).digest();
  const withoutProof = `c=biws,r=${serverNonce}`;
  const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
  const signature = hmac(storedKey, authMessage);
  const proof = Buffer.alloc(clientKey.length);
  for (let i = 0; i < proof.length; i++) proof[i] = (clientKey[i] as number) ^ (signature[i] as number);
  return { message: `${withoutProof},p=${proof.toString("base64")}`, serverSignature: hmac(hmac(salted, "Server Key"), authMessage) };
}

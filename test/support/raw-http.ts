/**
 * HTTP/1.1 over a raw TCP socket, for what fetch cannot do: a chunked body sent piece by piece that
 * stops as soon as the server answers (or is cut off mid-way), with a count of the bytes sent.
 */
import { connect, type Socket } from "node:net";

export type ChunkedOutcome = {
  /** The status of the answer, or undefined when none came before the socket closed. */
  status: number | undefined;
  /** The answer as received (head and whatever of the body arrived). */
  response: string;
  /** Body bytes written before the answer arrived (or before `abortAfterBytes` cut the connection). */
  bytesSent: number;
  /** Milliseconds from the first byte written to the status line. */
  answeredMs: number | undefined;
};

/**
 * POSTs a chunked body made of `chunk` repeated up to `totalBytes` (after `prefix`). Writing stops
 * when the answer's status line arrives, when the socket closes, or after `abortAfterBytes` (the
 * socket is then destroyed without the final chunk, like a client that went away).
 */
export async function postChunked(o: {
  base: string;
  path: string;
  headers?: Record<string, string>;
  prefix?: string;
  chunk: Uint8Array;
  totalBytes: number;
  abortAfterBytes?: number;
  /** false: after `totalBytes` the body is left unfinished (no final chunk), so only a server that answers mid-body answers at all. */
  endBody?: boolean;
  /** How long to wait for an answer after the last byte (ms). */
  waitMs?: number;
}): Promise<ChunkedOutcome> {
  const url = new URL(o.base);
  const socket: Socket = connect({ host: url.hostname, port: Number(url.port) });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  let response = "";
  let status: number | undefined;
  let answeredAt: number | undefined;
  let closed = false;
  socket.on("data", (d: Buffer) => {
    response += d.toString("latin1");
    if (status === undefined) {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(response);
      if (m) {
        status = Number(m[1]);
        answeredAt = performance.now();
      }
    }
  });
  socket.on("error", () => {});
  socket.on("close", () => {
    closed = true;
  });
  const head = [`POST ${o.path} HTTP/1.1`, `Host: ${url.host}`, "Transfer-Encoding: chunked", ...Object.entries(o.headers ?? {}).map(([k, v]) => `${k}: ${v}`), "", ""].join(
    "\r\n",
  );
  const started = performance.now();
  const write = (data: string | Uint8Array) =>
    new Promise<void>((resolve) => {
      if (closed) return resolve();
      if (socket.write(data)) resolve();
      else {
        const done = () => {
          socket.off("drain", done);
          socket.off("close", done);
          resolve();
        };
        socket.on("drain", done);
        socket.on("close", done);
      }
    });
  const frame = (data: Uint8Array) => Buffer.concat([Buffer.from(`${data.byteLength.toString(16)}\r\n`), data, Buffer.from("\r\n")]);
  await write(head);
  let bytesSent = 0;
  if (o.prefix) {
    const p = new TextEncoder().encode(o.prefix);
    await write(frame(p));
    bytesSent += p.byteLength;
  }
  const framed = frame(o.chunk);
  while (bytesSent < o.totalBytes && status === undefined && !closed) {
    if (o.abortAfterBytes !== undefined && bytesSent >= o.abortAfterBytes) {
      socket.destroy();
      return { status, response, bytesSent, answeredMs: undefined };
    }
    await write(framed);
    bytesSent += o.chunk.byteLength;
  }
  if (status === undefined && !closed && o.endBody !== false) await write("0\r\n\r\n");
  const deadline = performance.now() + (o.waitMs ?? 10_000);
  while (status === undefined && !closed && performance.now() < deadline) await Bun.sleep(5);
  // Let the rest of a short answer arrive.
  const settle = performance.now() + 200;
  while (!closed && performance.now() < settle && !/\r\n\r\n[\s\S]*\}\s*$/.test(response)) await Bun.sleep(5);
  socket.destroy();
  return { status, response, bytesSent, answeredMs: answeredAt === undefined ? undefined : answeredAt - started };
}

/** The JSON body of a raw answer (chunked or not), if it has one. */
export function rawJson(response: string): unknown {
  const body = response.slice(response.indexOf("\r\n\r\n") + 4);
  const start = body.indexOf("{");
  const end = body.lastIndexOf("}");
  if (start < 0 || end < start) return undefined;
  try {
    return JSON.parse(body.slice(start, end + 1));
  } catch {
    return undefined;
  }
}

/** Polls `url` every `everyMs` until stopped; returns every latency (ms), a failure counting as Infinity. */
export function pollLatency(url: string, everyMs = 20): { stop: () => Promise<number[]>; answeredBetween: (from: number, to: number) => number } {
  const latencies: number[] = [];
  /** performance.now() of every 200 answer. */
  const answeredAt: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      const ok = await fetch(url, { signal: AbortSignal.timeout(5_000) }).then(
        (r) => r.status === 200,
        () => false,
      );
      const t1 = performance.now();
      latencies.push(ok ? t1 - t0 : Number.POSITIVE_INFINITY);
      if (ok) answeredAt.push(t1);
      await Bun.sleep(everyMs);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return latencies;
    },
    /** How many polls were answered 200 within [from, to] (performance.now() times): a count, not a speed. */
    answeredBetween: (from, to) => answeredAt.filter((t) => t >= from && t <= to).length,
  };
}

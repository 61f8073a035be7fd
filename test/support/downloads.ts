/**
 * Download clients that fetch cannot be (it buffers ahead): raw HTTP/1.1 GETs that stall after the
 * status line or read at a set pace, and the count of the COPY backends serving downloads, for the
 * export-slot, stall and stream tests; and a proxy that trickles a download, so a CLI can be stopped
 * mid-download (the resume tests).
 */
import net from "node:net";
import type { Sql } from "../../src/adapters/postgres";

function rawGet(base: string, path: string, headers: Record<string, string>): net.Socket {
  const url = new URL(base);
  const socket = net.connect(Number(url.port), url.hostname);
  const head = Object.entries({ host: url.host, connection: "close", ...headers }).map(([k, v]) => `${k}: ${v}\r\n`);
  socket.write(`GET ${path} HTTP/1.1\r\n${head.join("")}\r\n`);
  socket.on("error", () => {});
  return socket;
}

export type Stalled = { status: Promise<number>; bytes: () => number; resume: () => void; ended: Promise<number>; close: () => void };

/**
 * A GET that takes the status line and then stops reading: the kernel buffers fill and the server
 * cannot write. `resume` reads again; `ended` resolves with the bytes read when the server closes
 * or resets the connection.
 */
export function stalledGet(base: string, path: string, headers: Record<string, string>): Stalled {
  const socket = rawGet(base, path, headers);
  const status = Promise.withResolvers<number>();
  const ended = Promise.withResolvers<number>();
  let bytes = 0;
  let paused = true;
  socket.on("data", (b: Buffer) => {
    if (bytes === 0) status.resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(b.toString("latin1"))?.[1] ?? 0));
    bytes += b.length;
    if (paused) socket.pause();
  });
  socket.on("close", () => ended.resolve(bytes));
  return {
    status: status.promise,
    bytes: () => bytes,
    resume: () => {
      paused = false;
      socket.resume();
    },
    ended: ended.promise,
    close: () => socket.destroy(),
  };
}

/** A GET that reads at `bytesPerSecond` by pausing its socket after each chunk: slow, but always progressing. */
export function slowGet(base: string, path: string, headers: Record<string, string>, bytesPerSecond: number) {
  const socket = rawGet(base, path, headers);
  const state = { bytes: 0, closed: false };
  socket.on("data", (b: Buffer) => {
    state.bytes += b.length;
    socket.pause();
    setTimeout(() => socket.resume(), (b.length / bytesPerSecond) * 1000);
  });
  socket.on("close", () => (state.closed = true));
  return { state, close: () => socket.destroy() };
}

/**
 * mawk where there is one (Debian installs it with the base system), else `awk`: summing a
 * 2,000,000-line export took gawk 2.5 s of CPU and mawk 0.5 s, with the same result; the
 * 5,000,000-row export of run-memory.test.ts is read three times over.
 */
const AWK = Bun.which("mawk") ? "mawk" : "awk";

/**
 * A CSV download through curl into awk, a client that reads as data comes: `awk` (run with `-F,`
 * on every line) prints what it sums up; returns its numbers and the pipeline's exit status.
 */
export async function curlAwk(url: string, tenant: string, awk: string): Promise<{ exit: number; numbers: number[] }> {
  const sh = Bun.spawn(["bash", "-o", "pipefail", "-c", `curl -sf -H "x-aurum-tenant: ${tenant}" "$0" | ${AWK} -F, '${awk}'`, url], { stdout: "pipe" });
  const numbers = (await new Response(sh.stdout).text()).split(" ").map(Number);
  return { exit: await sh.exited, numbers };
}

/** The COPY statements serving downloads from this test's database (its own connection excluded). */
export const copyBackends = (sql: Sql) =>
  sql<{ pid: number; wait_event: string | null }[]>`select pid, wait_event from pg_stat_activity
    where datname = current_database() and query like 'copy (%' and pid <> pg_backend_pid()`;

/** A proxy to `target` that passes `fastBytes` of a download at once, then 1 KB every 50 ms. */
export function trickleProxy(target: string, fastBytes: number) {
  return Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const url = new URL(req.url);
      const headers: Record<string, string> = { "accept-encoding": "identity" };
      for (const name of ["accept", "content-type", "authorization", "x-aurum-tenant"]) {
        const v = req.headers.get(name);
        if (v) headers[name] = v;
      }
      const upstream = await fetch(`${target}${url.pathname}${url.search}`, { method: req.method, headers, body: req.body });
      const out = new Headers(upstream.headers);
      out.delete("content-encoding");
      out.delete("content-length");
      if (!/csv|ndjson/.test(upstream.headers.get("content-type") ?? "")) return new Response(await upstream.arrayBuffer(), { status: upstream.status, headers: out });
      const reader = (upstream.body as ReadableStream<Uint8Array>).getReader();
      let held: Uint8Array = new Uint8Array(0);
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (held.length === 0) {
            const next = await reader.read();
            if (next.done) return controller.close();
            held = next.value;
          }
          const size = sent < fastBytes ? Math.min(held.length, fastBytes - sent) : Math.min(held.length, 1024);
          if (sent >= fastBytes) await Bun.sleep(50);
          controller.enqueue(held.slice(0, size) as Uint8Array<ArrayBuffer>);
          held = held.subarray(size);
          sent += size;
        },
        cancel() {
          void reader.cancel().catch(() => {});
        },
      });
      return new Response(body, { status: upstream.status, headers: out });
    },
  });
}

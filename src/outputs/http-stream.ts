/**
 * Byte chunks → a streamed HTTP response. The first chunk is read before the response is built,
 * so a failure before any byte is an ordinary error envelope. After that the status is sent, and
 * a failure must not look like a complete file: the stream is errored, which makes Bun reset the
 * connection instead of writing the chunked terminator (clients report a truncated transfer,
 * and a compressed body also lacks its end frame). For NDJSON an error line
 * `{"error":{...}}` goes out first (best effort: a compressor may still hold it).
 */
import { Duplex } from "node:stream";
import zlib from "node:zlib";
import { AppError } from "../platform/errors";
import { withTimeout } from "../platform/timers";
import { releaseChunk } from "./chunks";
import type { ExportFormat } from "./reader";

export const CONTENT_TYPES: Record<ExportFormat, string> = { csv: "text/csv; charset=utf-8; header=present", ndjson: "application/x-ndjson" };

/**
 * The compression to use for an Accept-Encoding header (RFC 9110 §12.5.3): the offered coding with
 * the highest q-value, zstd before gzip on a tie; q=0 refuses and `*` stands for any coding not
 * named. Undefined: send the body uncompressed.
 */
export function pickEncoding(acceptEncoding: string | null): "zstd" | "gzip" | undefined {
  const offered = new Map<string, number>();
  for (const part of (acceptEncoding ?? "").toLowerCase().split(",")) {
    const [name, ...params] = part.trim().split(";");
    const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    const weight = q ? Number(q.slice(2)) : 1;
    if (name) offered.set(name.trim(), Number.isFinite(weight) ? Math.min(Math.max(weight, 0), 1) : 0);
  }
  const weight = (name: string) => offered.get(name) ?? offered.get("*") ?? 0;
  const zstd = weight("zstd");
  const gzip = weight("gzip");
  if (zstd <= 0 && gzip <= 0) return undefined;
  return zstd >= gzip ? "zstd" : "gzip";
}

export type StreamOptions = {
  format: ExportFormat;
  headers: Record<string, string>;
  acceptEncoding: string | null;
  requestId: string;
  /** Aborted when the client goes away or the stream fails: tells the producer to end its upstream query. */
  abort: AbortController;
  onError: (err: unknown) => void;
  /**
   * How long the client may take nothing (no byte can be written to it) before the download is
   * closed: the producer is returned (its export slot and database connection freed) and the
   * connection is reset. 0 or absent: never. Time spent waiting for the producer does not count.
   */
  stallMs?: number;
  /** Told once when a stalled download is closed. */
  onStall?: () => void;
};

/** What a stalled download fails with (docs/outputs.md "Stalled downloads"). */
export class ExportStalledError extends Error {
  override name = "ExportStalledError";
  constructor(ms: number) {
    super(`the client read nothing for ${Math.round(ms / 1000)} s; the download was closed`);
  }
}

export async function streamResponse(chunks: AsyncIterable<Uint8Array>, opts: StreamOptions): Promise<Response> {
  const iterator = chunks[Symbol.asyncIterator]();
  const first: IteratorResult<Uint8Array> = await iterator.next();
  const encoding = pickEncoding(opts.acceptEncoding);
  const headers: Record<string, string> = { ...opts.headers, "content-type": CONTENT_TYPES[opts.format], vary: "Accept-Encoding", "cache-control": "no-store" };
  if (encoding) headers["content-encoding"] = encoding;
  const body = encoding ? queuedBody(iterator, first, opts).pipeThrough(compressor(encoding)) : directBody(iterator, first, opts);
  return new Response(body, { status: 200, headers });
}

/**
 * The encoders, at the levels chosen by measurement (docs/performance.md, "Compressed exports"):
 * on export CSV, zstd at level 1 takes about 0.7 CPU-seconds per million rows and compresses 6.9×,
 * where CompressionStream's zstd (level 3) took 1.25 s for 6.0×; gzip at level 3 takes 1.5 s for
 * 6.2×, where CompressionStream's gzip (level 6) took 2.0 s for 6.4×.
 */
const ZSTD_LEVEL = 1;
const GZIP_LEVEL = 3;
function compressor(encoding: "zstd" | "gzip"): TransformStream<Uint8Array, Uint8Array> {
  const z = encoding === "zstd" ? zlib.createZstdCompress({ params: { [zlib.constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL } }) : zlib.createGzip({ level: GZIP_LEVEL });
  return Duplex.toWeb(z) as unknown as TransformStream<Uint8Array, Uint8Array>;
}

/** Bun's direct ReadableStream (lib.dom's constructor type, which wins here, does not list it). */
const DirectStream = ReadableStream as unknown as new (source: Bun.DirectUnderlyingSource<Uint8Array>) => ReadableStream<Uint8Array>;

/**
 * Whether a direct stream's controller is one of Bun's native sinks (`[object
 * ReadableHTTPResponseSinkController]`, `...HTTPSResponseSink...`, `...FileSink...`), which copy what
 * they are given; a JavaScript consumer's controller is a plain object. test/unit/outputs/http-stream.test.ts
 * checks that Bun.serve's is recognised, so a Bun release that renames it fails there, not in production.
 */
export function copiesChunks(controller: ReadableStreamDirectController): boolean {
  return /^\[object Readable\w*SinkController\]$/.test(Object.prototype.toString.call(controller));
}

/** What a failure after the first byte does to the body: the NDJSON error line first, then the stream errors. */
function failed(err: unknown, opts: StreamOptions): unknown {
  opts.onError(err);
  opts.abort.abort();
  return err ?? new Error("export failed");
}

/**
 * Uncompressed: a direct stream. Bun.serve calls `pull` once and the loop writes the whole body;
 * awaiting `write` holds the producer back to the client's pace. Bun.serve's sink copies each
 * chunk into the response's own native buffer (or onto the socket), so the chunk is done with once
 * `write` returns (or its promise, when the socket pushes back, settles) and goes back to its
 * producer's pool (chunks.ts): the body allocates nothing per chunk, where a queued stream makes
 * every chunk garbage. A JavaScript consumer (`app.handle(...)` then `.text()`, a reader) gets a
 * controller that keeps the chunks it is given: those are never recycled.
 */
function directBody(iterator: AsyncIterator<Uint8Array>, first: IteratorResult<Uint8Array>, opts: StreamOptions): ReadableStream<Uint8Array> {
  const { signal } = opts.abort;
  const leave = () => {
    opts.abort.abort();
    void iterator.return?.()?.catch(() => {});
  };
  /** A write the socket holds back: settles when the client takes data, else the stall closes the download. */
  const drained = (written: Promise<number>): Promise<number> => {
    const ms = opts.stallMs ?? 0;
    if (ms <= 0) return written;
    return withTimeout(written, ms, () => {
      throw new ExportStalledError(ms);
    });
  };
  return new DirectStream({
    type: "direct",
    async pull(controller: ReadableStreamDirectController) {
      const recycle = copiesChunks(controller);
      let next: IteratorResult<Uint8Array> = first;
      try {
        while (!next.done && !signal.aborted) {
          const chunk = next.value;
          const written = controller.write(chunk);
          // Bun.serve does not cancel a direct stream whose client left: its sink takes nothing more (0).
          if ((typeof written === "number" ? written : await drained(written)) === 0 && chunk.length > 0) return leave();
          if (recycle) releaseChunk(chunk);
          next = await iterator.next();
        }
      } catch (err) {
        if (signal.aborted) return; // the client left: nothing to tell it
        if (err instanceof ExportStalledError) {
          // Nothing can reach this client: free the slot and the query now, then reset the connection.
          opts.onStall?.();
          leave();
          throw err;
        }
        const error = failed(err, opts);
        if (opts.format === "ndjson") {
          controller.write(errorLine(err, opts.requestId));
          await controller.flush();
        }
        // A rejected pull errors the response: Bun resets the connection instead of ending the body.
        throw error;
      }
      if (!signal.aborted) controller.close();
    },
    cancel: leave,
  });
}

/** Compressed: a queued stream feeding the compressor, one chunk per pull (chunks are not recycled: the compressor may hold them). */
function queuedBody(iterator: AsyncIterator<Uint8Array>, first: IteratorResult<Uint8Array>, opts: StreamOptions): ReadableStream<Uint8Array> {
  let pending: IteratorResult<Uint8Array> | undefined = first;
  let error: unknown;
  // Armed after each chunk handed over, disarmed by the next pull: no pull for `stallMs` means the
  // compressor's output is not being taken, i.e. the client reads nothing.
  let watchdog: ReturnType<typeof setTimeout> | undefined;
  const ms = opts.stallMs ?? 0;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        clearTimeout(watchdog);
        // Deferred by one pull so the NDJSON error line is written before the stream errors.
        if (error !== undefined) return controller.error(error);
        try {
          const next = pending ?? (await iterator.next());
          pending = undefined;
          if (opts.abort.signal.aborted) return; // cancelled meanwhile (the client left): the stream is closed
          if (next.done) controller.close();
          else {
            controller.enqueue(next.value);
            if (ms > 0) {
              watchdog = setTimeout(() => {
                if (opts.abort.signal.aborted) return;
                opts.onStall?.();
                opts.abort.abort();
                void iterator.return?.()?.catch(() => {});
                controller.error(new ExportStalledError(ms));
              }, ms);
            }
          }
        } catch (err) {
          if (opts.abort.signal.aborted) return;
          error = failed(err, opts);
          if (opts.format === "ndjson") controller.enqueue(errorLine(err, opts.requestId));
          else controller.error(error);
        }
      },
      cancel() {
        clearTimeout(watchdog);
        opts.abort.abort();
        void iterator.return?.()?.catch(() => {});
      },
    },
    { highWaterMark: 0 },
  );
}

function errorLine(err: unknown, requestId: string): Uint8Array {
  const code = err instanceof AppError ? err.code : "INTERNAL";
  const error = { code, message: "the export failed before its end; this file is incomplete", request_id: requestId };
  return new TextEncoder().encode(`${JSON.stringify({ error })}\n`);
}

/**
 * Byte chunks → a streamed HTTP response. The first chunk is read before the response is built,
 * so a failure before any byte is an ordinary error envelope. After that the status is sent, and
 * a failure must not look like a complete file: the stream is errored, which makes Bun reset the
 * connection instead of writing the chunked terminator (clients report a truncated transfer,
 * and a compressed body also lacks its end frame). For NDJSON an error line
 * `{"error":{...}}` goes out first (best effort: a compressor may still hold it).
 */
import { AppError } from "../platform/errors";
import type { ExportFormat } from "./reader";

export const CONTENT_TYPES: Record<ExportFormat, string> = { csv: "text/csv; charset=utf-8; header=present", ndjson: "application/x-ndjson" };

/** The compression to use for an Accept-Encoding header: zstd, else gzip, else none (q=0 refuses). */
export function pickEncoding(acceptEncoding: string | null): "zstd" | "gzip" | undefined {
  const offered = new Map<string, number>();
  for (const part of (acceptEncoding ?? "").toLowerCase().split(",")) {
    const [name, ...params] = part.trim().split(";");
    const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    if (name) offered.set(name.trim(), q ? Number(q.slice(2)) || 0 : 1);
  }
  const accepts = (name: string) => (offered.get(name) ?? offered.get("*") ?? 0) > 0;
  return accepts("zstd") ? "zstd" : accepts("gzip") ? "gzip" : undefined;
}

export type StreamOptions = {
  format: ExportFormat;
  headers: Record<string, string>;
  acceptEncoding: string | null;
  requestId: string;
  /** Aborted when the client goes away or the stream fails: tells the producer to end its upstream query. */
  abort: AbortController;
  onError: (err: unknown) => void;
};

export async function streamResponse(chunks: AsyncIterable<Uint8Array>, opts: StreamOptions): Promise<Response> {
  const iterator = chunks[Symbol.asyncIterator]();
  let pending: IteratorResult<Uint8Array> | undefined = await iterator.next();
  let failed: unknown;
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        // Deferred by one pull so the NDJSON error line is written before the connection is reset.
        if (failed !== undefined) return controller.error(failed);
        try {
          const next = pending ?? (await iterator.next());
          pending = undefined;
          if (next.done) controller.close();
          else controller.enqueue(next.value);
        } catch (err) {
          opts.onError(err);
          opts.abort.abort();
          failed = err ?? new Error("export failed");
          if (opts.format === "ndjson") controller.enqueue(errorLine(err, opts.requestId));
          else controller.error(failed);
        }
      },
      cancel() {
        opts.abort.abort();
        void iterator.return?.()?.catch(() => {});
      },
    },
    { highWaterMark: 0 },
  );
  const encoding = pickEncoding(opts.acceptEncoding);
  const headers: Record<string, string> = { ...opts.headers, "content-type": CONTENT_TYPES[opts.format], vary: "Accept-Encoding", "cache-control": "no-store" };
  if (encoding) headers["content-encoding"] = encoding;
  // Bun's CompressionStream also takes "zstd" (lib.dom's type lists only gzip/deflate).
  const compressed = encoding ? body.pipeThrough(new CompressionStream(encoding as CompressionFormat) as unknown as TransformStream<Uint8Array, Uint8Array>) : body;
  return new Response(compressed, { status: 200, headers });
}

function errorLine(err: unknown, requestId: string): Uint8Array {
  const code = err instanceof AppError ? err.code : "INTERNAL";
  const error = { code, message: "the export failed before its end; this file is incomplete", request_id: requestId };
  return new TextEncoder().encode(`${JSON.stringify({ error })}\n`);
}

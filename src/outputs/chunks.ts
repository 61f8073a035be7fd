/**
 * Reusable export chunks. An export yields ~64 KB byte chunks; allocating a fresh one per chunk
 * makes every exported byte garbage, and Bun's garbage collector lets that garbage pile up in
 * proportion to the process's heap. In the API process (a ~20-40 MB heap), before this: +45..65 MB
 * over idle at 1 M rows (210 MB of CSV), +50..90 MB at 5 M rows; a bare Bun.serve streaming fresh
 * 64 KB chunks showed +15 MB, and +120 MB once given a 60 MB heap of live objects. With the
 * chunks recycled (and src/adapters/pg-copy.ts freeing its socket reads): +2..3 MB at either length.
 *
 * A producer takes its buffers from a `ChunkPool` and yields views of them. A consumer that has
 * finished with a chunk's bytes — it copied them out (the HTTP layer writes them into the
 * response's native buffer) and keeps no reference — hands it back with `releaseChunk`; the pool
 * then fills it again. A consumer that keeps chunks (collects them, queues them in a stream)
 * simply never releases them, and the pool allocates new buffers: reuse is opt-in on both sides.
 */

const owners = new WeakMap<ArrayBufferLike, ChunkPool>();

/** Gives a chunk's buffer back to the pool it came from; a chunk of no pool (or released twice) is ignored. */
export function releaseChunk(chunk: Uint8Array): void {
  const pool = owners.get(chunk.buffer);
  if (!pool) return;
  owners.delete(chunk.buffer);
  pool.giveBack(chunk.buffer as ArrayBuffer);
}

/** Frees an ArrayBuffer's memory now instead of at some later garbage collection (detaches it). */
export function freeNow(buffer: ArrayBufferLike): void {
  const ab = buffer as ArrayBuffer & { transfer?: (length?: number) => ArrayBuffer; detached?: boolean };
  if (typeof ab.transfer === "function" && !ab.detached) ab.transfer(0);
}

export class ChunkPool {
  private readonly free: ArrayBuffer[] = [];
  private closed = false;

  /** `size`: the byte size of a pooled buffer; `keep`: how many idle buffers the pool holds on to. */
  constructor(
    readonly size: number,
    private readonly keep = 4,
  ) {}

  /** A buffer of at least `min` bytes: a pooled one when it fits, else a new one of its own size. */
  take(min = this.size): Uint8Array {
    if (min > this.size) return new Uint8Array(min);
    const buffer = this.free.pop();
    return buffer ? new Uint8Array(buffer) : new Uint8Array(this.size);
  }

  /** `bytes[0, length)` as a chunk to hand out; its buffer comes back here if the consumer releases it. */
  lend(bytes: Uint8Array, length: number): Uint8Array {
    if (bytes.buffer.byteLength === this.size && !this.closed) owners.set(bytes.buffer, this);
    return bytes.subarray(0, length);
  }

  /** Returns a buffer this pool handed out. */
  giveBack(buffer: ArrayBuffer): void {
    if (this.closed || this.free.length >= this.keep) freeNow(buffer);
    else this.free.push(buffer);
  }

  /** Frees the idle buffers; chunks still lent out are freed when they come back (or by the GC). */
  close(): void {
    this.closed = true;
    for (const buffer of this.free.splice(0)) freeNow(buffer);
  }
}

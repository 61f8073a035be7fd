/**
 * FNV-1a hashes (pure TS, no node:crypto). 64-bit FNV-1a is computed on four 16-bit limbs.
 * Strings are hashed as UTF-8; numbers as their IEEE-754 binary64 little-endian bytes.
 */

export class Fnv1a64 {
  private h0 = 0x2325;
  private h1 = 0x8422;
  private h2 = 0x9ce4;
  private h3 = 0xcbf2;
  private readonly f64 = new DataView(new ArrayBuffer(8));

  byte(b: number): this {
    const h0x = this.h0 ^ (b & 0xff);
    // multiply by the FNV prime 2^40 + 0x1b3 (mod 2^64)
    const t0 = h0x * 0x1b3;
    let t1 = this.h1 * 0x1b3;
    let t2 = this.h2 * 0x1b3 + (h0x << 8);
    const t3 = this.h3 * 0x1b3 + (this.h1 << 8);
    t1 += t0 >>> 16;
    t2 += t1 >>> 16;
    this.h0 = t0 & 0xffff;
    this.h1 = t1 & 0xffff;
    this.h2 = t2 & 0xffff;
    this.h3 = (t3 + (t2 >>> 16)) & 0xffff;
    return this;
  }

  string(s: string): this {
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
        }
      }
      if (c < 0x80) this.byte(c);
      else if (c < 0x800) this.byte(0xc0 | (c >> 6)).byte(0x80 | (c & 63));
      else if (c < 0x10000)
        this.byte(0xe0 | (c >> 12))
          .byte(0x80 | ((c >> 6) & 63))
          .byte(0x80 | (c & 63));
      else
        this.byte(0xf0 | (c >> 18))
          .byte(0x80 | ((c >> 12) & 63))
          .byte(0x80 | ((c >> 6) & 63))
          .byte(0x80 | (c & 63));
    }
    return this;
  }

  float64(x: number): this {
    this.f64.setFloat64(0, x, true);
    for (let i = 0; i < 8; i++) this.byte(this.f64.getUint8(i));
    return this;
  }

  hex(): string {
    const h = (x: number) => x.toString(16).padStart(4, "0");
    return h(this.h3) + h(this.h2) + h(this.h1) + h(this.h0);
  }
}

export function fnv1a64Hex(s: string): string {
  return new Fnv1a64().string(s).hex();
}

/** 32-bit FNV-1a over UTF-16 code units (used only to derive per-curve random streams). */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

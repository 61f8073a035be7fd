/**
 * Deterministic randomness: xoshiro128** (Blackman & Vigna) seeded through splitmix32,
 * standard normals by Box-Muller (both outputs used). Integer-only state, so identical on every platform.
 */

function splitmix32(state: Uint32Array): number {
  state[0] = (state[0]! + 0x9e3779b9) >>> 0;
  let z = state[0]!;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

export class Xoshiro128 {
  private readonly s = new Uint32Array(4);
  /** Seeds from two 32-bit words (e.g. run seed and a stream id such as a curve-key hash). */
  constructor(seedLo: number, seedHi = 0) {
    const sm = new Uint32Array([(seedLo ^ Math.imul(seedHi >>> 0, 0x27d4eb2d)) >>> 0]);
    for (let i = 0; i < 4; i++) this.s[i] = splitmix32(sm);
    if ((this.s[0]! | this.s[1]! | this.s[2]! | this.s[3]!) === 0) this.s[0] = 1;
  }

  nextU32(): number {
    const s = this.s;
    const s0 = s[0]!;
    const s1 = s[1]!;
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s[2] = s[2]! ^ s0;
    s[3] = s[3]! ^ s1;
    s[1] = s1 ^ s[2]!;
    s[0] = s0 ^ s[3]!;
    s[2] = s[2]! ^ t;
    s[3] = rotl(s[3]!, 11);
    return r;
  }

  /** Uniform in the open interval (0, 1). */
  nextOpen01(): number {
    return (this.nextU32() + 0.5) * 2.3283064365386963e-10;
  }

  /** Fills out[0..n) with independent standard normals (Box-Muller, both outputs used). */
  fillNormals(out: Float64Array, n: number): void {
    let i = 0;
    for (; i + 1 < n; i += 2) {
      const r = Math.sqrt(-2 * Math.log(this.nextOpen01()));
      const a = 6.283185307179586 * this.nextOpen01();
      out[i] = r * Math.cos(a);
      out[i + 1] = r * Math.sin(a);
    }
    if (i < n) {
      const r = Math.sqrt(-2 * Math.log(this.nextOpen01()));
      out[i] = r * Math.cos(6.283185307179586 * this.nextOpen01());
    }
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

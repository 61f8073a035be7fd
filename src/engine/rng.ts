/**
 * Deterministic randomness: xoshiro128** (Blackman & Vigna) seeded through splitmix32,
 * standard normals by the Marsaglia-Tsang (2000) ziggurat with 128 layers (exact normal; the
 * tail and wedges are sampled by rejection). Integer-only generator state; the floating-point
 * tables are computed with Math.exp/log/sqrt at load, identical on every IEEE-754 platform running
 * the same JS engine.
 */

const ZK = new Uint32Array(128);
const ZW = new Float64Array(128);
const ZF = new Float64Array(128);
const ZR = 3.442619855899;
{
  const m1 = 2147483648.0;
  const vn = 9.91256303526217e-3;
  let dn = ZR;
  let tn = dn;
  const q = vn / Math.exp(-0.5 * dn * dn);
  ZK[0] = Math.floor((dn / q) * m1);
  ZK[1] = 0;
  ZW[0] = q / m1;
  ZW[127] = dn / m1;
  ZF[0] = 1.0;
  ZF[127] = Math.exp(-0.5 * dn * dn);
  for (let i = 126; i >= 1; i--) {
    dn = Math.sqrt(-2.0 * Math.log(vn / dn + Math.exp(-0.5 * dn * dn)));
    ZK[i + 1] = Math.floor((dn / tn) * m1);
    tn = dn;
    ZF[i] = Math.exp(-0.5 * dn * dn);
    ZW[i] = dn / m1;
  }
}

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

  /** One standard normal (ziggurat). */
  nextNormal(): number {
    return this.normalFrom(this.nextU32() | 0);
  }

  /** The ziggurat from a first 32-bit draw `hz` (signed): the fast path, else wedges and tail by rejection. */
  private normalFrom(hz: number): number {
    let iz = hz & 127;
    if (Math.abs(hz) < ZK[iz]!) return hz * ZW[iz]!;
    for (;;) {
      if (iz === 0) {
        // tail beyond ZR: Marsaglia's exponential rejection
        let x: number;
        let y: number;
        do {
          x = -Math.log(this.nextOpen01()) / ZR;
          y = -Math.log(this.nextOpen01());
        } while (y + y < x * x);
        return hz > 0 ? ZR + x : -ZR - x;
      }
      const x = hz * ZW[iz]!;
      if (ZF[iz]! + this.nextOpen01() * (ZF[iz - 1]! - ZF[iz]!) < Math.exp(-0.5 * x * x)) return x;
      hz = this.nextU32() | 0;
      iz = hz & 127;
      if (Math.abs(hz) < ZK[iz]!) return hz * ZW[iz]!;
    }
  }

  /**
   * Fills out[0..n) with independent standard normals: the same numbers as n calls of nextNormal,
   * with the generator state in locals on the fast path (about 98.8 % of draws).
   */
  fillNormals(out: Float64Array, n: number): void {
    const st = this.s;
    let s0 = st[0]! | 0;
    let s1 = st[1]! | 0;
    let s2 = st[2]! | 0;
    let s3 = st[3]! | 0;
    for (let i = 0; i < n; i++) {
      const hz = Math.imul(rotl(Math.imul(s1, 5), 7), 9) | 0;
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      const iz = hz & 127;
      if (Math.abs(hz) < ZK[iz]!) {
        out[i] = hz * ZW[iz]!;
        continue;
      }
      st[0] = s0;
      st[1] = s1;
      st[2] = s2;
      st[3] = s3;
      out[i] = this.normalFrom(hz);
      s0 = st[0]! | 0;
      s1 = st[1]! | 0;
      s2 = st[2]! | 0;
      s3 = st[3]! | 0;
    }
    st[0] = s0;
    st[1] = s1;
    st[2] = s2;
    st[3] = s3;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

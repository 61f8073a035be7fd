/**
 * Type-7 (linear interpolation) quantile pairs on Float64Array, deterministic.
 * Tail quantiles (the usual 5%/95% bands) use two bounded heaps in one pass over the data
 * (few mispredicted branches); central quantiles fall back to in-place quickselect.
 */

let heapLo = new Float64Array(64);
let heapHi = new Float64Array(64);

/** Rearranges a[left..right] so that a[k] is the k-th smallest, everything before ≤ it, after ≥ it. */
export function select(a: Float64Array, left: number, right: number, k: number): void {
  while (right > left) {
    const mid = (left + right) >>> 1;
    const x = a[left]!;
    const y = a[mid]!;
    const z = a[right]!;
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = left;
    let j = right;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else return;
  }
}

/**
 * Type-7 quantiles qLo ≤ qHi of a[0..n): h = (n-1)q, j = floor(h), Q = a(j) + (h-j)(a(j+1) - a(j)),
 * a(i) the i-th order statistic. Writes [Q(qLo), Q(qHi)] into out. May reorder a.
 */
export function quantilePair(a: Float64Array, n: number, qLo: number, qHi: number, out: Float64Array): void {
  const hl = (n - 1) * qLo;
  const jl = Math.floor(hl);
  const hh = (n - 1) * qHi;
  const jh = Math.floor(hh);
  const kl = jl + 2; // the kl smallest hold a(jl), a(jl+1)
  const kh = n - jh; // the kh largest hold a(jh), a(jh+1)
  if (n >= 16 && kl * 8 <= n && kh * 8 <= n) {
    heapPair(a, n, kl, kh, hl - jl, hh - jh, out);
    return;
  }
  out[0] = quantileFrom(a, n, 0, hl, jl);
  out[1] = quantileFrom(a, n, jl, hh, jh);
}

function quantileFrom(a: Float64Array, n: number, left: number, h: number, j: number): number {
  select(a, left, n - 1, j);
  const v = a[j]!;
  const frac = h - j;
  if (frac === 0 || j + 1 >= n) return v;
  let next = a[j + 1]!;
  for (let i = j + 2; i < n; i++) if (a[i]! < next) next = a[i]!;
  return v + frac * (next - v);
}

function heapPair(a: Float64Array, n: number, kl: number, kh: number, fl: number, fh: number, out: Float64Array): void {
  if (heapLo.length < kl) heapLo = new Float64Array(kl * 2);
  if (heapHi.length < kh) heapHi = new Float64Array(kh * 2);
  const lo = heapLo; // max-heap of the kl smallest
  const hi = heapHi; // min-heap of the kh largest
  for (let i = 0; i < kl; i++) siftUpMax(lo, i, a[i]!);
  for (let i = 0; i < kh; i++) siftUpMin(hi, i, a[i]!);
  let topLo = lo[0]!;
  let topHi = hi[0]!;
  for (let i = Math.min(kl, kh); i < n; i++) {
    const v = a[i]!;
    if (i >= kl && v < topLo) {
      siftDownMax(lo, kl, v);
      topLo = lo[0]!;
    }
    if (i >= kh && v > topHi) {
      siftDownMin(hi, kh, v);
      topHi = hi[0]!;
    }
  }
  // lower: a(jl+1) = root, a(jl) = larger child of the root
  const aJl1 = topLo;
  const aJl = kl >= 3 ? Math.max(lo[1]!, lo[2]!) : lo[1]!;
  out[0] = fl === 0 ? aJl : aJl + fl * (aJl1 - aJl);
  // upper: a(jh) = root, a(jh+1) = smaller child of the root
  const aJh = topHi;
  if (fh === 0 || kh < 2) out[1] = aJh;
  else {
    const aJh1 = kh >= 3 ? Math.min(hi[1]!, hi[2]!) : hi[1]!;
    out[1] = aJh + fh * (aJh1 - aJh);
  }
}

function siftUpMax(h: Float64Array, i: number, v: number): void {
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (h[p]! >= v) break;
    h[i] = h[p]!;
    i = p;
  }
  h[i] = v;
}
function siftUpMin(h: Float64Array, i: number, v: number): void {
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (h[p]! <= v) break;
    h[i] = h[p]!;
    i = p;
  }
  h[i] = v;
}
/** Replaces the root of a max-heap of size k with v. */
function siftDownMax(h: Float64Array, k: number, v: number): void {
  let i = 0;
  for (;;) {
    let c = 2 * i + 1;
    if (c >= k) break;
    if (c + 1 < k && h[c + 1]! > h[c]!) c++;
    if (h[c]! <= v) break;
    h[i] = h[c]!;
    i = c;
  }
  h[i] = v;
}
function siftDownMin(h: Float64Array, k: number, v: number): void {
  let i = 0;
  for (;;) {
    let c = 2 * i + 1;
    if (c >= k) break;
    if (c + 1 < k && h[c + 1]! < h[c]!) c++;
    if (h[c]! >= v) break;
    h[i] = h[c]!;
    i = c;
  }
  h[i] = v;
}

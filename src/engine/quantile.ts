/** In-place selection on Float64Array and type-7 (linear interpolation) quantile pairs. Deterministic. */

/** Rearranges a[left..right] so that a[k] is the k-th smallest, everything before ≤ it, after ≥ it. */
export function select(a: Float64Array, left: number, right: number, k: number): void {
  while (right > left) {
    // median of three pivot
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
 * Type-7 quantiles qLo ≤ qHi of a[0..n) (destroys order). Writes [lo, hi] into out.
 * h = (n-1)q, j = floor(h): Q = a(j) + (h-j)(a(j+1) - a(j)).
 */
export function quantilePair(a: Float64Array, n: number, qLo: number, qHi: number, out: Float64Array): void {
  out[0] = quantileFrom(a, n, 0, qLo);
  const jLo = Math.floor((n - 1) * qLo);
  out[1] = quantileFrom(a, n, jLo, qHi);
}

function quantileFrom(a: Float64Array, n: number, left: number, q: number): number {
  const h = (n - 1) * q;
  const j = Math.floor(h);
  select(a, left, n - 1, j);
  const v = a[j]!;
  const frac = h - j;
  if (frac === 0 || j + 1 >= n) return v;
  let next = a[j + 1]!;
  for (let i = j + 2; i < n; i++) if (a[i]! < next) next = a[i]!;
  return v + frac * (next - v);
}

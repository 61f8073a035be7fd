/**
 * Type-7 (linear interpolation) quantile pairs on Float64Array, deterministic.
 * quantilePair: in-place quickselect. quantilePairGuided: the same numbers, faster for tail
 * quantiles, by pre-filtering with a distribution hint (falls back to quickselect when the hint is poor).
 */

/** Rearranges a[left..right] so that a[k] is the k-th smallest, everything before ≤ it, after ≥ it. */
export function select(a: Float64Array, left: number, right: number, k: number): void {
  while (right > left) {
    const mid = (left + right) >>> 1;
    const x = a[left]!;
    const y = a[mid]!;
    const z = a[right]!;
    const pivot = Math.max(Math.min(x, y), Math.min(Math.max(x, y), z)); // median of three
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
  out[0] = quantileFrom(a, n, 0, hl, jl);
  out[1] = quantileFrom(a, n, jl, hh, jh);
}

function quantileFrom(a: Float64Array, n: number, left: number, h: number, j: number): number {
  select(a, left, n - 1, j);
  return interpolate(a, j, n, h - j);
}

/** a(j) + frac·(a(j+1) − a(j)) once a[j] holds order statistic j of a[0..n) and a[j+1..n) ≥ a[j]. */
function interpolate(a: Float64Array, j: number, n: number, frac: number): number {
  const v = a[j]!;
  if (frac === 0 || j + 1 >= n) return v;
  let next = a[j + 1]!;
  for (let i = j + 2; i < n; i++) if (a[i]! < next) next = a[i]!;
  return v + frac * (next - v);
}

let candLo = new Float64Array(1024);
let candHi = new Float64Array(1024);

/**
 * Same result as quantilePair (exactly), faster for tail quantiles when the data are roughly
 * centred on `center` with spread `scale`: one pass keeps only the values beyond the normal-theory
 * thresholds center + scale·Φ⁻¹(min(½, 2q + 8/n)) (and the mirror for qHi), then selects among those.
 * If too few values pass a threshold (a bad hint), it falls back to quickselect on the whole array.
 * Does not modify a.
 */
export function quantilePairGuided(a: Float64Array, n: number, qLo: number, qHi: number, center: number, scale: number, out: Float64Array): void {
  const hl = (n - 1) * qLo;
  const jl = Math.floor(hl);
  const hh = (n - 1) * qHi;
  const jh = Math.floor(hh);
  if (!(scale > 0) || n < 16) {
    fallback(a, n, qLo, qHi, out);
    return;
  }
  if (candLo.length < n) {
    candLo = new Float64Array(n);
    candHi = new Float64Array(n);
  }
  const L = candLo;
  const U = candHi;
  const tl = center + scale * invNormalCdf(Math.min(0.5, 2 * qLo + 8 / n));
  const th = center - scale * invNormalCdf(Math.min(0.5, 2 * (1 - qHi) + 8 / n));
  let nl = 0;
  let nh = 0;
  for (let i = 0; i < n; i++) {
    const v = a[i]!;
    if (v <= tl) L[nl++] = v;
    if (v >= th) U[nh++] = v;
  }
  const needLo = Math.min(n, jl + 2);
  const off = n - nh; // values below th, all smaller than every candidate in U
  if (nl < needLo || jh < off) {
    fallback(a, n, qLo, qHi, out);
    return;
  }
  select(L, 0, nl - 1, jl);
  out[0] = interpolate(L, jl, nl, hl - jl);
  const jj = jh - off;
  select(U, 0, nh - 1, jj);
  out[1] = interpolate(U, jj, nh, hh - jh);
}

let fb = new Float64Array(1024);
function fallback(a: Float64Array, n: number, qLo: number, qHi: number, out: Float64Array): void {
  if (fb.length < n) fb = new Float64Array(n);
  fb.set(a.subarray(0, n));
  quantilePair(fb, n, qLo, qHi, out);
}

/** Inverse standard normal CDF (Acklam's rational approximation, |rel. error| < 1.2e-9); used only for thresholds. */
export function invNormalCdf(p: number): number {
  if (p <= 0) return Number.NEGATIVE_INFINITY;
  if (p >= 1) return Number.POSITIVE_INFINITY;
  if (p < 0.02425) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (
      (((((-7.784894002430293e-3 * q - 3.223964580411365e-1) * q - 2.400758277161838) * q - 2.549732539343734) * q + 4.374664141464968) * q + 2.938163982698783) /
      ((((7.784695709041462e-3 * q + 3.224671290700398e-1) * q + 2.445134137142996) * q + 3.754408661907416) * q + 1)
    );
  }
  if (p > 1 - 0.02425) return -invNormalCdf(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((-3.969683028665376e1 * r + 2.209460984245205e2) * r - 2.759285104469687e2) * r + 1.38357751867269e2) * r - 3.066479806614716e1) * r + 2.506628277459239) * q) /
    (((((-5.447609879822406e1 * r + 1.615858368580409e2) * r - 1.556989798598866e2) * r + 6.680131188771972e1) * r - 1.328068155288572e1) * r + 1)
  );
}

//! Vectorisable elementary functions for the simulator's hot loop.
//!
//! The reference workload (100-d Rastrigin, 10⁹ coordinate-steps) spends its time in
//! sin/cos of 2πx and in normal draws. libm's scalar `sin_cos` costs ~15 ns a call and does not
//! vectorise; these polynomial versions are branch-free, so LLVM vectorises the loops that call
//! them, and are accurate to a few ulp (tested against `f64::sin_cos` and `f64::ln` below).
//!
//! - [`sincos_turns`]: (sin 2πx, cos 2πx), with exact argument reduction in turns
//!   (x − n/4 is exact in floating point), then Taylor polynomials on |θ| ≤ π/4.
//! - [`ln`]: natural logarithm of a positive normal number via exponent extraction and the
//!   atanh series on [√½, √2].
//! - [`fill_standard_normal`]: N(0, 1) draws by the Box–Muller transform, each pair from two
//!   52-bit uniforms taken from one bulk fill of the generator (one u64 per normal). Box–Muller
//!   is exact in distribution; with 52-bit uniforms in (0, 1] the largest |z| is
//!   √(2·52 ln 2) ≈ 8.49, a truncation of probability ~10⁻¹⁷ per draw.

use rand::Rng;

const TWO_PI: f64 = std::f64::consts::TAU;

/// Taylor coefficients of sin θ / θ in powers of θ² (to θ¹⁶).
const SIN_COEFFS: [f64; 9] = [
    1.0,
    -1.0 / 6.0,
    1.0 / 120.0,
    -1.0 / 5040.0,
    1.0 / 362_880.0,
    -1.0 / 39_916_800.0,
    1.0 / 6_227_020_800.0,
    -1.0 / 1_307_674_368_000.0,
    1.0 / 355_687_428_096_000.0,
];

/// Taylor coefficients of cos θ in powers of θ² (to θ¹⁶).
const COS_COEFFS: [f64; 9] = [
    1.0,
    -0.5,
    1.0 / 24.0,
    -1.0 / 720.0,
    1.0 / 40_320.0,
    -1.0 / 3_628_800.0,
    1.0 / 479_001_600.0,
    -1.0 / 87_178_291_200.0,
    1.0 / 20_922_789_888_000.0,
];

/// Coefficients of atanh(s) / s in powers of s² (1/(2k+1), to s²²).
const ATANH_COEFFS: [f64; 12] = [
    1.0,
    1.0 / 3.0,
    1.0 / 5.0,
    1.0 / 7.0,
    1.0 / 9.0,
    1.0 / 11.0,
    1.0 / 13.0,
    1.0 / 15.0,
    1.0 / 17.0,
    1.0 / 19.0,
    1.0 / 21.0,
    1.0 / 23.0,
];

/// c₀ + x(c₁ + x(c₂ + …)) by Horner's rule, innermost first: the same operations, in the same
/// order, as the nested expression (so the same bits); the constant trip count unrolls.
#[inline(always)]
fn horner<const N: usize>(coeffs: &[f64; N], x: f64) -> f64 {
    let mut acc = coeffs[N - 1];
    for &c in coeffs[..N - 1].iter().rev() {
        acc = c + x * acc;
    }
    acc
}

/// (sin 2πx, cos 2πx) for finite x with |x| < 2⁵⁰.
#[inline(always)]
pub fn sincos_turns(x: f64) -> (f64, f64) {
    // n = round(4x) by the 1.5·2⁵² trick (round-half-even, branch-free, no SSE4.1 needed;
    // exact for |4x| < 2⁵¹): the low mantissa bits of `shifted` hold n in two's complement.
    // r = x − n/4 ∈ [−1/8, 1/8] exactly; θ = 2πr ∈ [−π/4, π/4].
    const MAGIC: f64 = 6_755_399_441_055_744.0; // 1.5 · 2⁵²
    let shifted = 4.0 * x + MAGIC;
    let n = shifted - MAGIC;
    let q = shifted.to_bits() & 3;
    let r = x - 0.25 * n;
    let t = TWO_PI * r;
    let t2 = t * t;
    // Taylor series to θ¹⁷ / θ¹⁶: truncation error < (π/4)¹⁹/19! ≈ 1.6e-18.
    let s = t * horner(&SIN_COEFFS, t2);
    let c = horner(&COS_COEFFS, t2);
    // Quadrant q = n mod 4: sin(θ + qπ/2), cos(θ + qπ/2). Selections and sign flips are bit
    // operations (no branches, so the callers' loops vectorise): odd q swaps sin and cos,
    // q ∈ {2, 3} negates the sine, q ∈ {1, 2} negates the cosine.
    let swap = 0u64.wrapping_sub(q & 1);
    let (sb, cb) = (s.to_bits(), c.to_bits());
    let sa = (sb & !swap) | (cb & swap);
    let ca = (cb & !swap) | (sb & swap);
    let sin_sign = (q >> 1) << 63;
    let cos_sign = ((q ^ (q >> 1)) & 1) << 63;
    (f64::from_bits(sa ^ sin_sign), f64::from_bits(ca ^ cos_sign))
}

/// Natural logarithm of a positive, normal, finite x.
#[inline(always)]
pub fn ln(x: f64) -> f64 {
    const LN2: f64 = std::f64::consts::LN_2;
    let bits = x.to_bits();
    // Biased exponent as a float by the 2⁵² trick (no integer-to-float instruction needed).
    let e_biased = f64::from_bits(0x4330_0000_0000_0000 | (bits >> 52)) - 4_503_599_627_370_496.0;
    let m1 = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000); // [1, 2)
    let big = m1 > std::f64::consts::SQRT_2;
    let m = if big { 0.5 * m1 } else { m1 };
    let e = e_biased - 1023.0 + if big { 1.0 } else { 0.0 };
    // ln m = 2 atanh(s), s = (m−1)/(m+1) ∈ [−0.1716, 0.1716]; series to s²³: error < 1e-19.
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let p = horner(&ATANH_COEFFS, s2);
    2.0 * s * p + e * LN2
}

/// A uniform in [1, 2) from the top 52 bits of `b` (bit pattern only: vectorises without
/// integer-to-float conversion instructions).
#[inline(always)]
fn one_to_two(b: u64) -> f64 {
    f64::from_bits((b >> 12) | 0x3ff0_0000_0000_0000)
}

/// Radius √(−2 ln u1) and (sin 2πu2, cos 2πu2) of one Box–Muller pair.
#[inline(always)]
fn box_muller(b1: u64, b2: u64) -> (f64, f64, f64) {
    let u1 = 2.0 - one_to_two(b1);
    let u2 = one_to_two(b2) - 1.0;
    let (s, c) = sincos_turns(u2);
    ((-2.0 * ln(u1)).sqrt(), s, c)
}

/// Fill `out` with i.i.d. N(0, 1) draws from `rng` (Box–Muller; one u64 per draw).
/// `bits` is scratch space of at least `out.len() + 1` words, so that the generator is read in
/// one bulk call. Uniforms have 52 random bits: u1 = 2 − [1, 2) ∈ (0, 1] (so ln u1 is finite),
/// u2 ∈ [0, 1); the largest |z| is √(2·52 ln 2) ≈ 8.49 (a tail of probability ~10⁻¹⁷).
pub fn fill_standard_normal<R: Rng + ?Sized>(rng: &mut R, bits: &mut [u64], out: &mut [f64]) {
    let h = out.len().div_ceil(2);
    let bits = &mut bits[..2 * h];
    fill_u64(rng, bits);
    let (b1, b2) = bits.split_at(h);
    let (lo, hi) = out.split_at_mut(h);
    #[cfg(target_arch = "x86_64")]
    if has_avx512() {
        // SAFETY: the CPU has AVX-512 F/DQ/VL (checked just above).
        unsafe { box_muller_avx512(b1, b2, lo, hi) };
        return;
    }
    box_muller_all(b1, b2, lo, hi);
}

/// `rng.fill(bits)` (rand's `Fill` for `[u64]`: the generator's bytes, read little-endian),
/// without the no-op `to_le` pass that `Fill` runs on little-endian machines.
#[inline(always)]
fn fill_u64<R: Rng + ?Sized>(rng: &mut R, bits: &mut [u64]) {
    #[cfg(target_endian = "little")]
    {
        let len = std::mem::size_of_val(bits);
        // SAFETY: the bytes of a live, exclusively borrowed [u64]; u8 has no alignment or
        // validity requirements, and every byte pattern is a valid u64.
        let bytes = unsafe { std::slice::from_raw_parts_mut(bits.as_mut_ptr().cast::<u8>(), len) };
        rng.fill_bytes(bytes);
    }
    #[cfg(not(target_endian = "little"))]
    rng.fill(bits);
}

/// Pair i gives lo[i] = r cos φ and hi[i] = r sin φ (hi is one shorter for odd n): one plain
/// loop with two output streams, which LLVM vectorises. The last (up to eight) pairs go through
/// the same loop on zero-padded copies of eight pairs, so that they run as one vector iteration
/// instead of scalar code (each output depends only on its own pair: the same bits).
#[inline(always)]
fn box_muller_all(b1: &[u64], b2: &[u64], lo: &mut [f64], hi: &mut [f64]) {
    const TAIL: usize = 8;
    let h = lo.len();
    let m = hi.len();
    let (b1, b2) = (&b1[..h], &b2[..h]);
    let body = m - m % TAIL;
    box_muller_pairs(&b1[..body], &b2[..body], &mut lo[..body], &mut hi[..body]);
    let (mut t1, mut t2) = ([0u64; TAIL], [0u64; TAIL]);
    let (mut tlo, mut thi) = ([0.0f64; TAIL], [0.0f64; TAIL]);
    let rest = h - body; // m − body ≤ 7 full pairs, plus the unpaired last draw when n is odd
    for start in (0..rest).step_by(TAIL) {
        let k = (rest - start).min(TAIL);
        let at = body + start;
        t1[..k].copy_from_slice(&b1[at..at + k]);
        t2[..k].copy_from_slice(&b2[at..at + k]);
        t1[k..].fill(0);
        t2[k..].fill(0);
        box_muller_pairs(&t1, &t2, &mut tlo, &mut thi);
        lo[at..at + k].copy_from_slice(&tlo[..k]);
        let k_hi = m.saturating_sub(at).min(k);
        hi[at..at + k_hi].copy_from_slice(&thi[..k_hi]);
    }
}

/// lo[i] = r cos φ, hi[i] = r sin φ of pair (b1[i], b2[i]) for every i (equal lengths).
#[inline(always)]
fn box_muller_pairs(b1: &[u64], b2: &[u64], lo: &mut [f64], hi: &mut [f64]) {
    let n = lo.len().min(hi.len()).min(b1.len()).min(b2.len());
    let (b1, b2, lo, hi) = (&b1[..n], &b2[..n], &mut lo[..n], &mut hi[..n]);
    for i in 0..n {
        let (r, s, c) = box_muller(b1[i], b2[i]);
        lo[i] = r * c;
        hi[i] = r * s;
    }
}

/// [`box_muller_all`] compiled for AVX-512 (eight lanes: the same operations on each number, so
/// the same bits as the AVX2 build).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl")]
fn box_muller_avx512(b1: &[u64], b2: &[u64], lo: &mut [f64], hi: &mut [f64]) {
    box_muller_all(b1, b2, lo, hi)
}

/// Whether this CPU runs the AVX-512 (F, DQ, VL) versions of the hot loops (detected once, then
/// cached by the standard library). They compute the same operations on each number as the
/// AVX2 versions, eight numbers per instruction instead of four, so results are the same bits.
/// `MSLAB_NO_AVX512=1` in the environment forces the AVX2 versions (for comparisons).
#[inline]
pub fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static HAS: OnceLock<bool> = OnceLock::new();
        *HAS.get_or_init(|| {
            std::env::var_os("MSLAB_NO_AVX512").is_none_or(|v| v.is_empty() || v == "0")
                && std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512dq")
                && std::arch::is_x86_feature_detected!("avx512vl")
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Arithmetic on one number or on a few lanes of numbers, element-wise and IEEE-exact (the same
/// bits lane by lane as the scalar operations): lets one generic formula (an optimizer's update
/// rule) run on `f64` and on [`F4`].
pub(crate) trait Lanes:
    Copy + std::ops::Add<Output = Self> + std::ops::Sub<Output = Self> + std::ops::Mul<Output = Self>
{
    /// Every lane `v`.
    fn splat(v: f64) -> Self;
}

impl Lanes for f64 {
    #[inline(always)]
    fn splat(v: f64) -> f64 {
        v
    }
}

#[cfg(all(target_arch = "x86_64", target_feature = "avx"))]
mod f4 {
    use std::arch::x86_64::{
        __m256d, _mm256_add_pd, _mm256_loadu_pd, _mm256_mul_pd, _mm256_set1_pd, _mm256_storeu_pd,
        _mm256_sub_pd,
    };

    /// Four f64 lanes in one AVX register (the build enables AVX: x86-64-v3). Written with
    /// intrinsics because LLVM's SLP vectoriser splits the equivalent array code into 2-lane
    /// and scalar pieces with spills. Every operation is the IEEE operation lane by lane.
    #[derive(Clone, Copy)]
    pub(crate) struct F4(__m256d);

    impl F4 {
        /// Four lanes from `s`.
        #[inline(always)]
        pub(crate) fn load(s: &[f64; 4]) -> F4 {
            // SAFETY: `s` is four readable f64; AVX is enabled for the whole build (cfg above).
            F4(unsafe { _mm256_loadu_pd(s.as_ptr()) })
        }

        /// Store the four lanes into `s`.
        #[inline(always)]
        pub(crate) fn store(self, s: &mut [f64; 4]) {
            // SAFETY: `s` is four writable f64; AVX is enabled for the whole build.
            unsafe { _mm256_storeu_pd(s.as_mut_ptr(), self.0) }
        }

        /// The lanes as an array.
        #[inline(always)]
        pub(crate) fn to_array(self) -> [f64; 4] {
            let mut a = [0.0; 4];
            self.store(&mut a);
            a
        }
    }

    impl super::Lanes for F4 {
        #[inline(always)]
        fn splat(v: f64) -> F4 {
            // SAFETY: AVX is enabled for the whole build.
            F4(unsafe { _mm256_set1_pd(v) })
        }
    }

    impl std::ops::Add for F4 {
        type Output = F4;
        #[inline(always)]
        fn add(self, o: F4) -> F4 {
            // SAFETY: AVX is enabled for the whole build.
            F4(unsafe { _mm256_add_pd(self.0, o.0) })
        }
    }

    impl std::ops::Sub for F4 {
        type Output = F4;
        #[inline(always)]
        fn sub(self, o: F4) -> F4 {
            // SAFETY: AVX is enabled for the whole build.
            F4(unsafe { _mm256_sub_pd(self.0, o.0) })
        }
    }

    impl std::ops::Mul for F4 {
        type Output = F4;
        #[inline(always)]
        fn mul(self, o: F4) -> F4 {
            // SAFETY: AVX is enabled for the whole build.
            F4(unsafe { _mm256_mul_pd(self.0, o.0) })
        }
    }
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "avx")))]
mod f4 {
    /// Four f64 lanes (portable version; the x86-64-v3 build uses one AVX register).
    #[derive(Clone, Copy)]
    pub(crate) struct F4([f64; 4]);

    impl F4 {
        /// Four lanes from `s`.
        #[inline(always)]
        pub(crate) fn load(s: &[f64; 4]) -> F4 {
            F4(*s)
        }

        /// Store the four lanes into `s`.
        #[inline(always)]
        pub(crate) fn store(self, s: &mut [f64; 4]) {
            *s = self.0;
        }

        /// The lanes as an array.
        #[inline(always)]
        pub(crate) fn to_array(self) -> [f64; 4] {
            self.0
        }
    }

    impl super::Lanes for F4 {
        #[inline(always)]
        fn splat(v: f64) -> F4 {
            F4([v; 4])
        }
    }

    macro_rules! lanewise {
        ($tr:ident, $f:ident, $op:tt) => {
            impl std::ops::$tr for F4 {
                type Output = F4;
                #[inline(always)]
                fn $f(self, o: F4) -> F4 {
                    let (a, b) = (self.0, o.0);
                    F4([a[0] $op b[0], a[1] $op b[1], a[2] $op b[2], a[3] $op b[3]])
                }
            }
        };
    }
    lanewise!(Add, add, +);
    lanewise!(Sub, sub, -);
    lanewise!(Mul, mul, *);
}

pub(crate) use f4::F4;

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use statrs::distribution::{ContinuousCDF, Normal};

    #[test]
    fn sincos_matches_libm() {
        let mut worst: f64 = 0.0;
        for i in -200_000..200_000 {
            let x = i as f64 * 1.37e-4 + 0.3e-7 * (i % 7) as f64;
            let (s, c) = sincos_turns(x);
            let (s0, c0) = (TWO_PI * x).sin_cos();
            // libm's own argument 2πx carries a rounding error of |2πx|·2⁻⁵³; allow it.
            let tol = 4.0 * f64::EPSILON * (1.0 + (TWO_PI * x).abs());
            worst = worst.max((s - s0).abs() / tol).max((c - c0).abs() / tol);
        }
        assert!(worst <= 1.0, "worst error {worst} tolerance units");
    }

    #[test]
    fn ln_matches_libm() {
        for i in 1..100_000 {
            let x = i as f64 * 0.0137 + 1e-300 * i as f64;
            let (a, b) = (ln(x), x.ln());
            assert!(
                (a - b).abs() <= 4.0 * f64::EPSILON * b.abs().max(1.0),
                "{x}: {a} vs {b}"
            );
        }
        assert!((ln(f64::MIN_POSITIVE) - f64::MIN_POSITIVE.ln()).abs() < 1e-12);
        assert!((ln(1.0 / (1u64 << 53) as f64) - (1.0 / (1u64 << 53) as f64).ln()).abs() < 1e-13);
    }

    /// Kolmogorov–Smirnov against N(0,1) at n = 200,000: the critical value at level 10⁻⁴ is
    /// √(ln(2/10⁻⁴)/2)/√n ≈ 0.00498; moments within 5 standard errors.
    #[test]
    fn normals_pass_ks_and_moments() {
        let n = 200_000;
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut bits = vec![0u64; n + 1];
        let mut z = vec![0.0; n];
        fill_standard_normal(&mut rng, &mut bits, &mut z);
        let mean = z.iter().sum::<f64>() / n as f64;
        let var = z.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let kurt = z.iter().map(|v| (v - mean).powi(4)).sum::<f64>() / n as f64 / (var * var) - 3.0;
        let nf = n as f64;
        assert!(mean.abs() < 5.0 / nf.sqrt());
        assert!((var - 1.0).abs() < 5.0 * (2.0 / nf).sqrt());
        assert!(kurt.abs() < 5.0 * (24.0 / nf).sqrt());
        z.sort_by(|a, b| a.total_cmp(b));
        let norm = Normal::new(0.0, 1.0).unwrap();
        let ks = z
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let f = norm.cdf(*v);
                (f - i as f64 / nf)
                    .abs()
                    .max(((i + 1) as f64 / nf - f).abs())
            })
            .fold(0.0, f64::max);
        let crit = ((2.0f64 / 1e-4).ln() / 2.0).sqrt() / nf.sqrt();
        assert!(ks < crit, "KS {ks} >= {crit}");
    }

    #[test]
    fn odd_lengths_and_determinism() {
        let mut a = vec![0.0; 7];
        let mut b = vec![0.0; 7];
        let mut bits = vec![0u64; 8];
        fill_standard_normal(&mut ChaCha8Rng::seed_from_u64(9), &mut bits, &mut a);
        fill_standard_normal(&mut ChaCha8Rng::seed_from_u64(9), &mut bits, &mut b);
        assert_eq!(a, b);
        assert!(a.iter().all(|v| v.is_finite()));
    }

    /// The AVX-512 build of the Box–Muller loop gives the same bits as the AVX2 build.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn box_muller_avx512_same_bits() {
        if !has_avx512() {
            return;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for n in [1usize, 2, 7, 8, 15, 16, 17, 100, 101, 1000] {
            let h = n.div_ceil(2);
            let mut bits = vec![0u64; 2 * h];
            rng.fill(&mut bits[..]);
            let (b1, b2) = bits.split_at(h);
            let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
            let (alo, ahi) = a.split_at_mut(h);
            box_muller_all(b1, b2, alo, ahi);
            let (blo, bhi) = b.split_at_mut(h);
            // SAFETY: has_avx512() checked above.
            unsafe { box_muller_avx512(b1, b2, blo, bhi) };
            let bits_of = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits_of(&a), bits_of(&b), "n = {n}");
        }
    }

    /// The vector loop with its padded tail gives, for every length, the bits of the pair-by-pair
    /// definition (pair i from words i and h + i of `rng.fill`, h = ⌈n/2⌉).
    #[test]
    fn normals_match_pairwise_definition() {
        for n in 0..70usize {
            let h = n.div_ceil(2);
            let mut words = vec![0u64; 2 * h];
            ChaCha8Rng::seed_from_u64(n as u64).fill(&mut words[..]);
            let mut expect = vec![0.0; n];
            for i in 0..h {
                let (r, s, c) = box_muller(words[i], words[h + i]);
                expect[i] = r * c;
                if h + i < n {
                    expect[h + i] = r * s;
                }
            }
            let mut bits = vec![0u64; n + 1];
            let mut z = vec![0.0; n];
            fill_standard_normal(&mut ChaCha8Rng::seed_from_u64(n as u64), &mut bits, &mut z);
            let bits_of = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits_of(&z), bits_of(&expect), "n = {n}");
        }
    }
}

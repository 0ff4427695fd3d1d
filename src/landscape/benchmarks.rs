//! Standard global-optimisation test functions (definitions and domains as in the Virtual
//! Library of Simulation Experiments, Surjanovic & Bingham), plus a tilted multi-well.
//!
//! Every function has an analytic gradient and Hessian, its usual domain box, its known global
//! minimum and, where one can be given cleanly, a rigorous bound K ≥ sup ‖∇f‖ over the box.
//! Throughout, d is the dimension and x_i (1-based in formulas) the coordinates.

use crate::fastmath::{sincos_turns, Lanes, F4};
use std::f64::consts::{E, PI, TAU};

use super::Landscape;
use crate::{Error, Result};

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

fn check_dim(dim: usize, min: usize) -> Result<()> {
    if dim < min {
        return Err(Error::invalid("dim", dim, format!("an integer >= {min}")));
    }
    Ok(())
}

fn check_positive(field: &str, v: f64) -> Result<()> {
    if !(v.is_finite() && v > 0.0) {
        return Err(Error::invalid(field, v, "a finite number > 0"));
    }
    Ok(())
}

/// The root of a continuous f on [a, b] with f(a) < 0 ≤ f(b), by bisection down to adjacent
/// floating-point numbers (then the end with the smaller |f|).
fn bisect(f: impl Fn(f64) -> f64, mut a: f64, mut b: f64) -> f64 {
    loop {
        let m = 0.5 * (a + b);
        if m <= a || m >= b {
            break;
        }
        if f(m) < 0.0 {
            a = m;
        } else {
            b = m;
        }
    }
    if f(a).abs() < f(b).abs() {
        a
    } else {
        b
    }
}

/// max |p(t)| over t ∈ [lo, hi] for a differentiable p whose critical points are `crit`: the
/// maximum of |p| over a compact interval is attained at an end or at a critical point inside.
fn sup_abs(p: impl Fn(f64) -> f64, lo: f64, hi: f64, crit: &[f64]) -> f64 {
    crit.iter()
        .copied()
        .filter(|c| (lo..=hi).contains(c))
        .chain([lo, hi])
        .map(|t| p(t).abs())
        .fold(0.0, f64::max)
}

/// Write a diagonal Hessian diag(h_1, …, h_d) into the row-major buffer `h`.
fn write_diag(h: &mut [f64], d: usize, diag: impl Fn(usize) -> f64) {
    h.fill(0.0);
    for i in 0..d {
        h[i * d + i] = diag(i);
    }
}

// ---------------------------------------------------------------------------------------------
// Rastrigin
// ---------------------------------------------------------------------------------------------

/// Rastrigin: f(x) = A d + Σ_i (x_i² − A cos 2πx_i), amplitude A > 0 (A = 10 is standard).
///
/// * ∂_i f = 2x_i + 2πA sin 2πx_i; ∇²f = diag(2 + 4π²A cos 2πx_i).
/// * Domain [−5.12, 5.12]^d; global minimum f(0) = 0.
/// * K = (2·5.12 + 2πA) √d (per-coordinate |∂_i f| ≤ 2|x_i| + 2πA).
///
/// The gradient is the simulator's hot path: one tight, allocation-free loop over the slices.
#[derive(Debug, Clone)]
pub struct Rastrigin {
    dim: usize,
    amplitude: f64,
}

impl Rastrigin {
    const R: f64 = 5.12;

    /// Rastrigin in dimension `dim` ≥ 1 with amplitude A = `amplitude` (finite, > 0).
    ///
    /// # Errors
    /// `dim` when 0; `params.amplitude` unless finite and > 0.
    pub fn new(dim: usize, amplitude: f64) -> Result<Self> {
        check_dim(dim, 1)?;
        check_positive("params.amplitude", amplitude)?;
        Ok(Rastrigin { dim, amplitude })
    }
}

/// Coordinates per padded tail: the last `len % TAIL` coordinates of a loop are copied into
/// zero-padded arrays of `TAIL` and run as one more vector iteration instead of scalar code
/// (each output depends only on its own coordinate: the same bits).
const TAIL: usize = 8;

/// gs = 2x + 2πA sin 2πx and (when `cs` is not empty) cs = cos 2πx, element-wise.
#[inline(always)]
fn rastrigin_terms(c: f64, xs: &[f64], gs: &mut [f64], cs: &mut [f64]) {
    let n = xs.len().min(gs.len());
    let (xs, gs) = (&xs[..n], &mut gs[..n]);
    if cs.is_empty() {
        for (gi, &xi) in gs.iter_mut().zip(xs) {
            *gi = 2.0 * xi + c * sincos_turns(xi).0;
        }
    } else {
        let cs = &mut cs[..n];
        for ((gi, &xi), ci) in gs.iter_mut().zip(xs).zip(cs.iter_mut()) {
            let (si, co) = sincos_turns(xi);
            *gi = 2.0 * xi + c * si;
            *ci = co;
        }
    }
}

/// [`rastrigin_terms`] over any length: the body in whole vector iterations, the rest padded
/// to [`TAIL`].
#[inline(always)]
fn rastrigin_terms_padded(c: f64, xs: &[f64], gs: &mut [f64], cs: &mut [f64]) {
    let n = xs.len();
    let body = n - n % TAIL;
    let with_cos = !cs.is_empty();
    let cs_body: &mut [f64] = if with_cos { &mut cs[..body] } else { &mut [] };
    rastrigin_terms(c, &xs[..body], &mut gs[..body], cs_body);
    if body < n {
        let k = n - body;
        let mut tx = [0.0f64; TAIL];
        let (mut tg, mut tc) = ([0.0f64; TAIL], [0.0f64; TAIL]);
        tx[..k].copy_from_slice(&xs[body..]);
        rastrigin_terms(c, &tx, &mut tg, if with_cos { &mut tc } else { &mut [] });
        gs[body..n].copy_from_slice(&tg[..k]);
        if with_cos {
            cs[body..n].copy_from_slice(&tc[..k]);
        }
    }
}

/// ∇f of Rastrigin with amplitude `a`: 2x + 2πA sin 2πx.
#[inline(always)]
fn rastrigin_gradient(a: f64, x: &[f64], g: &mut [f64]) {
    rastrigin_terms_padded(TAU * a, x, g, &mut []);
}

/// f and ∇f of Rastrigin with amplitude `a` (see [`Landscape::value_gradient`] on
/// [`Rastrigin`]).
#[inline(always)]
fn rastrigin_value_gradient(a: f64, x: &[f64], g: &mut [f64]) -> f64 {
    const BLOCK: usize = 64;
    let c = TAU * a;
    let mut lanes = [0.0f64; 4];
    let mut cos = [0.0f64; BLOCK];
    for (xb, gb) in x.chunks(BLOCK).zip(g.chunks_mut(BLOCK)) {
        let n = xb.len();
        rastrigin_terms_padded(c, xb, gb, &mut cos[..n]);
        let (x4, x_rest) = xb.as_chunks::<4>();
        let (c4, c_rest) = cos[..n].as_chunks::<4>();
        let mut acc = F4::load(&lanes);
        let (one, amp) = (F4::splat(1.0), F4::splat(a));
        for (xc, cc) in x4.iter().zip(c4) {
            let xv = F4::load(xc);
            acc = acc + (xv * xv + amp * (one - F4::load(cc)));
        }
        lanes = acc.to_array();
        for (xi, ci) in x_rest.iter().zip(c_rest) {
            lanes[0] += xi * xi + a * (1.0 - ci);
        }
    }
    (lanes[0] + lanes[1]) + (lanes[2] + lanes[3])
}

/// [`rastrigin_gradient`] compiled for AVX-512 (same operations per number, so the same bits).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl")]
fn rastrigin_gradient_avx512(a: f64, x: &[f64], g: &mut [f64]) {
    rastrigin_gradient(a, x, g)
}

/// [`rastrigin_value_gradient`] compiled for AVX-512 (same operations per number and the same
/// four-lane order of the sum, so the same bits).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl")]
fn rastrigin_value_gradient_avx512(a: f64, x: &[f64], g: &mut [f64]) -> f64 {
    rastrigin_value_gradient(a, x, g)
}

impl Landscape for Rastrigin {
    fn kind(&self) -> &'static str {
        "rastrigin"
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn value(&self, x: &[f64]) -> f64 {
        let a = self.amplitude;
        x.iter()
            .map(|&xi| xi * xi + a * (1.0 - sincos_turns(xi).1))
            .sum()
    }

    /// The hot path of the reference workload: (sin 2πx, cos 2πx) from
    /// [`sincos_turns`] (branch-free, so this loop vectorises; eight lanes where the CPU has
    /// AVX-512, see [`crate::fastmath::has_avx512`]).
    #[inline]
    fn gradient(&self, x: &[f64], g: &mut [f64]) {
        #[cfg(target_arch = "x86_64")]
        if crate::fastmath::has_avx512() {
            // SAFETY: the CPU has AVX-512 F/DQ/VL (checked just above).
            unsafe { rastrigin_gradient_avx512(self.amplitude, x, g) };
            return;
        }
        rastrigin_gradient(self.amplitude, x, g)
    }

    /// f and ∇f together, in blocks of 64 coordinates: (sin 2πx, cos 2πx), ∇f and cos 2πx into
    /// a stack buffer (a plain loop that LLVM vectorises), then f summed in four fixed lanes
    /// (same bits on every run and on every vector width).
    #[inline]
    fn value_gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
        #[cfg(target_arch = "x86_64")]
        if crate::fastmath::has_avx512() {
            // SAFETY: the CPU has AVX-512 F/DQ/VL (checked just above).
            return unsafe { rastrigin_value_gradient_avx512(self.amplitude, x, g) };
        }
        rastrigin_value_gradient(self.amplitude, x, g)
    }

    fn hessian(&self, x: &[f64], h: &mut [f64]) {
        let c = TAU * TAU * self.amplitude;
        write_diag(h, self.dim, |i| 2.0 + c * sincos_turns(x[i]).1);
    }

    fn domain(&self) -> (f64, f64) {
        (-Self::R, Self::R)
    }

    fn global_minimum(&self) -> Option<(Vec<f64>, f64)> {
        Some((vec![0.0; self.dim], 0.0))
    }

    fn grad_norm_bound(&self) -> Option<f64> {
        Some((2.0 * Self::R + TAU * self.amplitude) * (self.dim as f64).sqrt())
    }
}

// ---------------------------------------------------------------------------------------------
// Ackley
// ---------------------------------------------------------------------------------------------

/// Ackley: f(x) = −a exp(−b ρ) − exp((1/d) Σ_i cos c x_i) + a + e with ρ = ‖x‖/√d and
/// a = 20, b = 0.2, c = 2π.
///
/// * ∂_i f = a b e^{−bρ} x_i/(√d ‖x‖) + (c/d) e^{C} sin c x_i, where C = (1/d) Σ_j cos c x_j.
/// * ∇²f = (a b e^{−bρ}/(√d‖x‖)) (I − (1 + bρ) u uᵀ) + (c²/d) e^{C} diag(cos c x_i)
///   − (c²/d²) e^{C} s sᵀ, with u = x/‖x‖ and s_i = sin c x_i.
/// * The cone term −a e^{−bρ} has a kink at x = 0, where ∇f and ∇²f do not exist. There the
///   gradient is reported as 0 (the minimal-norm element of the Clarke subdifferential) and
///   the Hessian as the smooth cosine part alone (the cone part's second derivative blows up like
///   1/‖x‖ near 0). Neither is ever NaN.
/// * Domain [−32.768, 32.768]^d; global minimum f(0) = 0.
/// * K = (a b + c e)/√d: the cone part has norm a b e^{−bρ}/√d ≤ a b/√d and the cosine part
///   norm ≤ (c/d) e √d.
#[derive(Debug, Clone)]
pub struct Ackley {
    dim: usize,
}

impl Ackley {
    const A: f64 = 20.0;
    const B: f64 = 0.2;
    const C: f64 = TAU;
    const R: f64 = 32.768;

    /// Ackley in dimension `dim` ≥ 1 with the standard a = 20, b = 0.2, c = 2π.
    ///
    /// # Errors
    /// `dim` when 0.
    pub fn new(dim: usize) -> Result<Self> {
        check_dim(dim, 1)?;
        Ok(Ackley { dim })
    }

    /// ‖x‖ without overflow or underflow (scaled by max |x_i|).
    fn norm(x: &[f64]) -> f64 {
        let m = x.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        if m == 0.0 || !m.is_finite() {
            return m;
        }
        m * x.iter().map(|v| (v / m) * (v / m)).sum::<f64>().sqrt()
    }
}

impl Landscape for Ackley {
    fn kind(&self) -> &'static str {
        "ackley"
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn value(&self, x: &[f64]) -> f64 {
        let d = self.dim as f64;
        let rho = Self::norm(x) / d.sqrt();
        let cbar = x.iter().map(|&xi| (Self::C * xi).cos()).sum::<f64>() / d;
        -Self::A * (-Self::B * rho).exp() - cbar.exp() + Self::A + E
    }

    fn gradient(&self, x: &[f64], g: &mut [f64]) {
        self.value_gradient(x, g);
    }

    fn value_gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
        let d = self.dim as f64;
        let norm = Self::norm(x);
        let rho = norm / d.sqrt();
        let cbar = x.iter().map(|&xi| (Self::C * xi).cos()).sum::<f64>() / d;
        let ecos = cbar.exp();
        let econe = (-Self::B * rho).exp();
        // Cone factor a b e^{−bρ}/(√d ‖x‖), taken as 0 at the kink x = 0.
        let k1 = if norm > 0.0 {
            Self::A * Self::B * econe / (d.sqrt() * norm)
        } else {
            0.0
        };
        let k2 = Self::C / d * ecos;
        for (gi, &xi) in g.iter_mut().zip(x) {
            *gi = k1 * xi + k2 * (Self::C * xi).sin();
        }
        -Self::A * econe - ecos + Self::A + E
    }

    fn hessian(&self, x: &[f64], h: &mut [f64]) {
        let n = self.dim;
        let d = n as f64;
        let norm = Self::norm(x);
        let rho = norm / d.sqrt();
        let cbar = x.iter().map(|&xi| (Self::C * xi).cos()).sum::<f64>() / d;
        let ecos = cbar.exp();
        let c2 = Self::C * Self::C;
        // Cone part φ (I − (1 + bρ) u uᵀ), φ = a b e^{−bρ}/(√d ‖x‖); left out at x = 0.
        let (phi, psi) = if norm > 0.0 {
            let phi = Self::A * Self::B * (-Self::B * rho).exp() / (d.sqrt() * norm);
            (phi, phi * (1.0 + Self::B * rho))
        } else {
            (0.0, 0.0)
        };
        let u = |i: usize| if norm > 0.0 { x[i] / norm } else { 0.0 };
        let kss = c2 / (d * d) * ecos;
        // Upper triangle, mirrored so that the result is exactly symmetric.
        for i in 0..n {
            let (si, ci) = (Self::C * x[i]).sin_cos();
            h[i * n + i] = phi - psi * u(i) * u(i) + c2 / d * ecos * ci - kss * si * si;
            for j in i + 1..n {
                let sj = (Self::C * x[j]).sin();
                let v = -psi * u(i) * u(j) - kss * si * sj;
                h[i * n + j] = v;
                h[j * n + i] = v;
            }
        }
    }

    fn domain(&self) -> (f64, f64) {
        (-Self::R, Self::R)
    }

    fn global_minimum(&self) -> Option<(Vec<f64>, f64)> {
        Some((vec![0.0; self.dim], 0.0))
    }

    fn grad_norm_bound(&self) -> Option<f64> {
        Some((Self::A * Self::B + Self::C * E) / (self.dim as f64).sqrt())
    }
}

// ---------------------------------------------------------------------------------------------
// Styblinski–Tang
// ---------------------------------------------------------------------------------------------

/// Styblinski–Tang: f(x) = ½ Σ_i (x_i⁴ − 16x_i² + 5x_i).
///
/// * ∂_i f = 2x_i³ − 16x_i + 5/2; ∇²f = diag(6x_i² − 16).
/// * Domain [−5, 5]^d; global minimizer x*_i = m ≈ −2.903534, the most negative root of
///   4m³ − 32m + 5 = 0 (computed by bisection to full precision), minimum f* = d f₁(m) with
///   f₁(m) = ½(m⁴ − 16m² + 5m) ≈ −39.16617.
/// * K = 172.5 √d, the supremum of |2t³ − 16t + 5/2| over t ∈ [−5, 5] (attained at t = 5).
#[derive(Debug, Clone)]
pub struct StyblinskiTang {
    dim: usize,
    xstar: f64,
}

impl StyblinskiTang {
    const R: f64 = 5.0;

    /// Styblinski–Tang in dimension `dim` ≥ 1.
    ///
    /// # Errors
    /// `dim` when 0.
    pub fn new(dim: usize) -> Result<Self> {
        check_dim(dim, 1)?;
        // 4m³ − 32m + 5 is < 0 at −5 and > 0 at its local maximum −√(8/3).
        let xstar = bisect(
            |t| 4.0 * t * t * t - 32.0 * t + 5.0,
            -Self::R,
            -(8.0_f64 / 3.0).sqrt(),
        );
        Ok(StyblinskiTang { dim, xstar })
    }

    fn f1(t: f64) -> f64 {
        let t2 = t * t;
        0.5 * (t2 * t2 - 16.0 * t2 + 5.0 * t)
    }

    fn df1(t: f64) -> f64 {
        2.0 * t * t * t - 16.0 * t + 2.5
    }
}

impl Landscape for StyblinskiTang {
    fn kind(&self) -> &'static str {
        "styblinski_tang"
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn value(&self, x: &[f64]) -> f64 {
        x.iter().map(|&t| Self::f1(t)).sum()
    }

    fn gradient(&self, x: &[f64], g: &mut [f64]) {
        for (gi, &t) in g.iter_mut().zip(x) {
            *gi = Self::df1(t);
        }
    }

    fn value_gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
        self.gradient(x, g);
        self.value(x)
    }

    fn hessian(&self, x: &[f64], h: &mut [f64]) {
        write_diag(h, self.dim, |i| 6.0 * x[i] * x[i] - 16.0);
    }

    fn domain(&self) -> (f64, f64) {
        (-Self::R, Self::R)
    }

    fn global_minimum(&self) -> Option<(Vec<f64>, f64)> {
        Some((
            vec![self.xstar; self.dim],
            self.dim as f64 * Self::f1(self.xstar),
        ))
    }

    fn grad_norm_bound(&self) -> Option<f64> {
        let c = (8.0_f64 / 3.0).sqrt();
        Some(sup_abs(Self::df1, -Self::R, Self::R, &[-c, c]) * (self.dim as f64).sqrt())
    }
}

// ---------------------------------------------------------------------------------------------
// Levy
// ---------------------------------------------------------------------------------------------

/// Levy: with w_i = 1 + (x_i − 1)/4,
/// f(x) = sin²(πw_1) + Σ_{i<d} (w_i − 1)² [1 + 10 sin²(πw_i + 1)] + (w_d − 1)² [1 + sin²(2πw_d)].
///
/// * f is separable, f = Σ_i h_i(w_i), so ∇²f is diagonal: ∂_i f = h_i'(w_i)/4 and
///   ∂_i² f = h_i''(w_i)/16, with the derivatives of the three term types
///   sin²(πw), (w−1)²[1+10 sin²(πw+1)] and (w−1)²[1+sin²(2πw)] written out in the code.
///   For d = 1, h_1 holds the first and the last term.
/// * Domain [−10, 10]^d; global minimum f(1, …, 1) = 0.
/// * K = ¼ (Σ_i k_i²)^{1/2} with k_i the sum of per-term bounds |A'| ≤ π,
///   |B'| ≤ 2m·11 + 10m²π, |C'| ≤ 2m·2 + 2πm², m = max |w − 1| = 2.75 on the box.
#[derive(Debug, Clone)]
pub struct Levy {
    dim: usize,
}

impl Levy {
    const R: f64 = 10.0;

    /// Levy in dimension `dim` ≥ 1.
    ///
    /// # Errors
    /// `dim` when 0.
    pub fn new(dim: usize) -> Result<Self> {
        check_dim(dim, 1)?;
        Ok(Levy { dim })
    }

    /// sin²(πw) and its first two derivatives in w.
    fn term_a(w: f64) -> (f64, f64, f64) {
        let s = (PI * w).sin();
        let (s2, c2) = (TAU * w).sin_cos();
        (s * s, PI * s2, 2.0 * PI * PI * c2)
    }

    /// (w−1)² [1 + 10 sin²(πw+1)] and its first two derivatives in w.
    fn term_b(w: f64) -> (f64, f64, f64) {
        let u = w - 1.0;
        let arg = PI * w + 1.0;
        let s = arg.sin();
        let (s2, c2) = (2.0 * arg).sin_cos();
        let q = 1.0 + 10.0 * s * s;
        let dq = 10.0 * PI * s2;
        let ddq = 20.0 * PI * PI * c2;
        (
            u * u * q,
            2.0 * u * q + u * u * dq,
            2.0 * q + 4.0 * u * dq + u * u * ddq,
        )
    }

    /// (w−1)² [1 + sin²(2πw)] and its first two derivatives in w.
    fn term_c(w: f64) -> (f64, f64, f64) {
        let u = w - 1.0;
        let s = (TAU * w).sin();
        let (s2, c2) = (2.0 * TAU * w).sin_cos();
        let q = 1.0 + s * s;
        let dq = TAU * s2;
        let ddq = 2.0 * TAU * TAU * c2;
        (
            u * u * q,
            2.0 * u * q + u * u * dq,
            2.0 * q + 4.0 * u * dq + u * u * ddq,
        )
    }

    /// h_i(w) and its first two derivatives for coordinate i (0-based).
    fn term(&self, i: usize, w: f64) -> (f64, f64, f64) {
        let mut t = (0.0, 0.0, 0.0);
        let mut add = |(a, b, c): (f64, f64, f64)| {
            t.0 += a;
            t.1 += b;
            t.2 += c;
        };
        if i == 0 {
            add(Self::term_a(w));
        }
        if i + 1 < self.dim {
            add(Self::term_b(w));
        } else {
            add(Self::term_c(w));
        }
        t
    }

    fn w(x: f64) -> f64 {
        1.0 + 0.25 * (x - 1.0)
    }
}

impl Landscape for Levy {
    fn kind(&self) -> &'static str {
        "levy"
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn value(&self, x: &[f64]) -> f64 {
        x.iter()
            .enumerate()
            .map(|(i, &xi)| self.term(i, Self::w(xi)).0)
            .sum()
    }

    fn gradient(&self, x: &[f64], g: &mut [f64]) {
        self.value_gradient(x, g);
    }

    fn value_gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
        let mut f = 0.0;
        for (i, (gi, &xi)) in g.iter_mut().zip(x).enumerate() {
            let (v, dv, _) = self.term(i, Self::w(xi));
            f += v;
            *gi = 0.25 * dv;
        }
        f
    }

    fn hessian(&self, x: &[f64], h: &mut [f64]) {
        write_diag(h, self.dim, |i| self.term(i, Self::w(x[i])).2 / 16.0);
    }

    fn domain(&self) -> (f64, f64) {
        (-Self::R, Self::R)
    }

    fn global_minimum(&self) -> Option<(Vec<f64>, f64)> {
        Some((vec![1.0; self.dim], 0.0))
    }

    fn grad_norm_bound(&self) -> Option<f64> {
        // m = max |w − 1| = max |x − 1|/4 over the box.
        let m = (Self::R + 1.0) / 4.0;
        let ka = PI;
        let kb = 2.0 * m * 11.0 + 10.0 * m * m * PI;
        let kc = 2.0 * m * 2.0 + TAU * m * m;
        let sum_sq: f64 = (0..self.dim)
            .map(|i| {
                let mut k = if i == 0 { ka } else { 0.0 };
                k += if i + 1 < self.dim { kb } else { kc };
                k * k
            })
            .sum();
        Some(0.25 * sum_sq.sqrt())
    }
}

// ---------------------------------------------------------------------------------------------
// Griewank
// ---------------------------------------------------------------------------------------------

/// Griewank: f(x) = 1 + Σ_i x_i²/4000 − Π_i cos(x_i/√i).
///
/// * With c_i = cos(x_i/√i), s_i = sin(x_i/√i):
///   ∂_i f = x_i/2000 + (s_i/√i) Π_{j≠i} c_j;
///   ∂_i² f = 1/2000 + (c_i/i) Π_{j≠i} c_j;
///   ∂_i∂_j f = −(s_i s_j/√(ij)) Π_{k≠i,j} c_k (i ≠ j).
///   Products that leave factors out are built from prefix/suffix products (no division, so
///   exact zeros of a cosine are harmless).
/// * Domain [−600, 600]^d; global minimum f(0) = 0.
/// * K = (Σ_i (600/2000 + 1/√i)²)^{1/2}.
#[derive(Debug, Clone)]
pub struct Griewank {
    dim: usize,
    /// 1/√i for i = 1..d.
    inv_sqrt: Vec<f64>,
}

impl Griewank {
    const R: f64 = 600.0;

    /// Griewank in dimension `dim` ≥ 1.
    ///
    /// # Errors
    /// `dim` when 0.
    pub fn new(dim: usize) -> Result<Self> {
        check_dim(dim, 1)?;
        let inv_sqrt = (1..=dim).map(|i| 1.0 / (i as f64).sqrt()).collect();
        Ok(Griewank { dim, inv_sqrt })
    }

    /// out_i = Π_{j≠i} v_j, from prefix and suffix products.
    fn products_except(v: &[f64], out: &mut [f64]) {
        let mut acc = 1.0;
        for (o, &vi) in out.iter_mut().zip(v) {
            *o = acc;
            acc *= vi;
        }
        acc = 1.0;
        for (o, &vi) in out.iter_mut().zip(v).rev() {
            *o *= acc;
            acc *= vi;
        }
    }
}

impl Landscape for Griewank {
    fn kind(&self) -> &'static str {
        "griewank"
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn value(&self, x: &[f64]) -> f64 {
        let mut sq = 0.0;
        let mut prod = 1.0;
        for (&xi, &k) in x.iter().zip(&self.inv_sqrt) {
            sq += xi * xi;
            prod *= (xi * k).cos();
        }
        1.0 + sq / 4000.0 - prod
    }

    fn gradient(&self, x: &[f64], g: &mut [f64]) {
        self.value_gradient(x, g);
    }

    fn value_gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
        // Forward pass: g_i = Π_{j<i} c_j (prefix), no scratch buffer needed.
        let mut sq = 0.0;
        let mut acc = 1.0;
        for ((gi, &xi), &k) in g.iter_mut().zip(x).zip(&self.inv_sqrt) {
            *gi = acc;
            acc *= (xi * k).cos();
            sq += xi * xi;
        }
        let prod = acc;
        // Backward pass with the suffix product.
        let mut suffix = 1.0;
        for ((gi, &xi), &k) in g.iter_mut().zip(x).zip(&self.inv_sqrt).rev() {
            let (s, c) = (xi * k).sin_cos();
            *gi = xi / 2000.0 + s * k * (*gi * suffix);
            suffix *= c;
        }
        1.0 + sq / 4000.0 - prod
    }

    fn hessian(&self, x: &[f64], h: &mut [f64]) {
        let n = self.dim;
        let (s, c): (Vec<f64>, Vec<f64>) = x
            .iter()
            .zip(&self.inv_sqrt)
            .map(|(&xi, &k)| (xi * k).sin_cos())
            .unzip();
        let mut except_i = vec![0.0; n];
        Self::products_except(&c, &mut except_i);
        let mut ci = c.clone();
        let mut except_ij = vec![0.0; n];
        for i in 0..n {
            // Π_{k≠i,j} c_k = products_except(c with c_i := 1)_j for j ≠ i.
            ci[i] = 1.0;
            Self::products_except(&ci, &mut except_ij);
            ci[i] = c[i];
            let ki = self.inv_sqrt[i];
            h[i * n + i] = 1.0 / 2000.0 + c[i] * ki * ki * except_i[i];
            // Upper triangle, mirrored so that the result is exactly symmetric.
            for j in i + 1..n {
                let v = -s[i] * s[j] * ki * self.inv_sqrt[j] * except_ij[j];
                h[i * n + j] = v;
                h[j * n + i] = v;
            }
        }
    }

    fn domain(&self) -> (f64, f64) {
        (-Self::R, Self::R)
    }

    fn global_minimum(&self) -> Option<(Vec<f64>, f64)> {
        Some((vec![0.0; self.dim], 0.0))
    }

    fn grad_norm_bound(&self) -> Option<f64> {
        let a = Self::R / 2000.0;
        Some(
            self.inv_sqrt
                .iter()
                .map(|k| (a + k) * (a + k))
                .sum::<f64>()
                .sqrt(),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Rosenbrock
// ---------------------------------------------------------------------------------------------

/// Rosenbrock (sum form): f(x) = Σ_{i<d} [b (x_{i+1} − x_i²)² + (a − x_i)²], a = 1, b = 100.
///
/// * ∂_i f = 𝟙{i < d} (−4b x_i (x_{i+1} − x_i²) − 2(a − x_i)) + 𝟙{i > 1} 2b (x_i − x_{i−1}²).
/// * ∇²f is tridiagonal: ∂_i² f = 𝟙{i < d} (12b x_i² − 4b x_{i+1} + 2) + 𝟙{i > 1} 2b,
///   ∂_i∂_{i+1} f = −4b x_i.
/// * Domain [−5, 10]^d; global minimum f(1, …, 1) = 0.
/// * K = (Σ_i k_i²)^{1/2} with k_i the sum of the sup of each term's modulus on the box:
///   |4b x_i (x_{i+1} − x_i²)| ≤ 4b·10·105, |2(a − x_i)| ≤ 18, |2b(x_i − x_{i−1}²)| ≤ 2b·105.
///   (Valid but loose: the box is large and the valley steep.)
#[derive(Debug, Clone)]
pub struct Rosenbrock {
    dim: usize,
}

impl Rosenbrock {
    const A: f64 = 1.0;
    const B: f64 = 100.0;
    const LO: f64 = -5.0;
    const HI: f64 = 10.0;

    /// Rosenbrock in dimension `dim` ≥ 2.
    ///
    /// # Errors
    /// `dim` when below 2.
    pub fn new(dim: usize) -> Result<Self> {
        check_dim(dim, 2)?;
        Ok(Rosenbrock { dim })
    }
}

impl Landscape for Rosenbrock {
    fn kind(&self) -> &'static str {
        "rosenbrock"
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn value(&self, x: &[f64]) -> f64 {
        x.windows(2)
            .map(|w| {
                let u = w[1] - w[0] * w[0];
                let v = Self::A - w[0];
                Self::B * u * u + v * v
            })
            .sum()
    }

    fn gradient(&self, x: &[f64], g: &mut [f64]) {
        self.value_gradient(x, g);
    }

    fn value_gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
        g.fill(0.0);
        let mut f = 0.0;
        for i in 0..self.dim - 1 {
            let u = x[i + 1] - x[i] * x[i];
            let v = Self::A - x[i];
            f += Self::B * u * u + v * v;
            g[i] += -4.0 * Self::B * x[i] * u - 2.0 * v;
            g[i + 1] += 2.0 * Self::B * u;
        }
        f
    }

    fn hessian(&self, x: &[f64], h: &mut [f64]) {
        let n = self.dim;
        h.fill(0.0);
        for i in 0..n - 1 {
            h[i * n + i] += 12.0 * Self::B * x[i] * x[i] - 4.0 * Self::B * x[i + 1] + 2.0;
            h[(i + 1) * n + i + 1] += 2.0 * Self::B;
            let off = -4.0 * Self::B * x[i];
            h[i * n + i + 1] = off;
            h[(i + 1) * n + i] = off;
        }
    }

    fn domain(&self) -> (f64, f64) {
        (Self::LO, Self::HI)
    }

    fn global_minimum(&self) -> Option<(Vec<f64>, f64)> {
        Some((vec![Self::A; self.dim], 0.0))
    }

    fn grad_norm_bound(&self) -> Option<f64> {
        let m = Self::LO.abs().max(Self::HI.abs());
        let min_sq = if Self::LO <= 0.0 && Self::HI >= 0.0 {
            0.0
        } else {
            (Self::LO * Self::LO).min(Self::HI * Self::HI)
        };
        // |x_{i+1} − x_i²| over the box.
        let u = (Self::LO - m * m).abs().max((Self::HI - min_sq).abs());
        let t1 = 4.0 * Self::B * m * u;
        let t2 = 2.0 * (Self::A - Self::LO).abs().max((Self::A - Self::HI).abs());
        let t3 = 2.0 * Self::B * u;
        let n = self.dim;
        let sum_sq: f64 = (0..n)
            .map(|i| {
                let mut k = 0.0;
                if i + 1 < n {
                    k += t1 + t2;
                }
                if i > 0 {
                    k += t3;
                }
                k * k
            })
            .sum();
        Some(sum_sq.sqrt())
    }
}

// ---------------------------------------------------------------------------------------------
// Drop-Wave
// ---------------------------------------------------------------------------------------------

/// Drop-Wave (2-D): f(x) = −(1 + cos 12r)/(r²/2 + 2) with r = ‖x‖.
///
/// f is a smooth function of ρ = r² (cos 12√ρ is an entire function of ρ): f = F(ρ) = −N/D with
/// N(ρ) = 1 + cos 12√ρ, D(ρ) = ρ/2 + 2. Then
/// * ∇f = 2F'(ρ) x, ∇²f = 2F'(ρ) I + 4F''(ρ) x xᵀ,
/// * F' = −N'/D + N/(2D²), F'' = −N''/D + N'/D² − N/(2D³),
/// * N' = −72 sin(z)/z and N'' = −5184 (z cos z − sin z)/z³ with z = 12r, both evaluated by
///   their Taylor series near z = 0 so that the origin (∇f = 0, ∇²f = 72.5 I) is exact.
/// * Domain [−5.12, 5.12]²; global minimum f(0) = −1.
/// * K = 6 + 9/(16√3): ‖∇f‖ = |f'(r)| = |12 sin(12r) D + N r|/D² ≤ 12/D + 2r/D², with D ≥ 2
///   and max_r r/D² = 9/(32√3) at r² = 4/3.
#[derive(Debug, Clone)]
pub struct DropWave;

impl DropWave {
    const R: f64 = 5.12;

    /// Drop-Wave, which is defined in d = 2 only.
    ///
    /// # Errors
    /// None at present; returns `Result` like every other constructor.
    pub fn new() -> Result<Self> {
        Ok(DropWave)
    }

    /// (N, N', N'') at ρ = r².
    fn n_derivs(rho: f64) -> (f64, f64, f64) {
        let z = 12.0 * rho.sqrt();
        let (s, c) = z.sin_cos();
        let (sinc, k) = if z < 0.1 {
            let z2 = z * z;
            (
                1.0 - z2 / 6.0 * (1.0 - z2 / 20.0 * (1.0 - z2 / 42.0 * (1.0 - z2 / 72.0))),
                -1.0 / 3.0
                    + z2 * (1.0 / 30.0
                        + z2 * (-1.0 / 840.0 + z2 * (1.0 / 45360.0 - z2 / 3_991_680.0))),
            )
        } else {
            (s / z, (z * c - s) / (z * z * z))
        };
        (1.0 + c, -72.0 * sinc, -5184.0 * k)
    }

    /// (F, F', F'') at ρ.
    fn f_derivs(rho: f64) -> (f64, f64, f64) {
        let (n, n1, n2) = Self::n_derivs(rho);
        let d = 0.5 * rho + 2.0;
        let f = -n / d;
        let f1 = -n1 / d + n / (2.0 * d * d);
        let f2 = -n2 / d + n1 / (d * d) - n / (2.0 * d * d * d);
        (f, f1, f2)
    }
}

impl Landscape for DropWave {
    fn kind(&self) -> &'static str {
        "drop_wave"
    }

    fn dim(&self) -> usize {
        2
    }

    fn value(&self, x: &[f64]) -> f64 {
        let r = x[0].hypot(x[1]);
        -(1.0 + (12.0 * r).cos()) / (0.5 * r * r + 2.0)
    }

    fn gradient(&self, x: &[f64], g: &mut [f64]) {
        self.value_gradient(x, g);
    }

    fn value_gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
        let rho = x[0] * x[0] + x[1] * x[1];
        let (f, f1, _) = Self::f_derivs(rho);
        g[0] = 2.0 * f1 * x[0];
        g[1] = 2.0 * f1 * x[1];
        f
    }

    fn hessian(&self, x: &[f64], h: &mut [f64]) {
        let rho = x[0] * x[0] + x[1] * x[1];
        let (_, f1, f2) = Self::f_derivs(rho);
        let off = 4.0 * f2 * x[0] * x[1];
        h[0] = 4.0 * f2 * x[0] * x[0] + 2.0 * f1;
        h[1] = off;
        h[2] = off;
        h[3] = 4.0 * f2 * x[1] * x[1] + 2.0 * f1;
    }

    fn domain(&self) -> (f64, f64) {
        (-Self::R, Self::R)
    }

    fn global_minimum(&self) -> Option<(Vec<f64>, f64)> {
        Some((vec![0.0; 2], -1.0))
    }

    fn grad_norm_bound(&self) -> Option<f64> {
        Some(6.0 + 9.0 / (16.0 * 3.0_f64.sqrt()))
    }
}

// ---------------------------------------------------------------------------------------------
// Tilted multi-well
// ---------------------------------------------------------------------------------------------

/// Tilted double well in every coordinate: f(x) = Σ_i [D (x_i² − 1)² + t x_i], depth D > 0,
/// tilt t, with |t| < 8D/(3√3) so that each coordinate keeps two wells (2^d local minima).
///
/// * ∂_i f = 4D x_i³ − 4D x_i + t; ∇²f = diag(12D x_i² − 4D).
/// * Global minimizer x*_i = m: for t > 0 the most negative real root of 4Dm³ − 4Dm + t = 0
///   (in [−2, −1], by bisection), for t < 0 the most positive one (−m(|t|)), and for t = 0
///   m = −1, one of the 2^d minimizers (the minimizer is then not unique). f* = d [D(m²−1)² + tm].
/// * Domain [−2, 2]^d; K = (24D + |t|) √d, the supremum of |4Ds³ − 4Ds + t| on [−2, 2].
#[derive(Debug, Clone)]
pub struct MultiWell {
    dim: usize,
    depth: f64,
    tilt: f64,
    xstar: f64,
}

impl MultiWell {
    const R: f64 = 2.0;

    /// The tilted multi-well in dimension `dim` ≥ 1 with well depth D = `depth` > 0 and linear
    /// tilt t = `tilt`, |t| < 8D/(3√3).
    ///
    /// # Errors
    /// `dim` when 0; `params.depth` unless finite and > 0; `params.tilt` unless finite with
    /// |t| < 8D/(3√3).
    pub fn new(dim: usize, depth: f64, tilt: f64) -> Result<Self> {
        check_dim(dim, 1)?;
        check_positive("params.depth", depth)?;
        let tmax = 8.0 * depth / (3.0 * 3.0_f64.sqrt());
        if !(tilt.is_finite() && tilt.abs() < tmax) {
            return Err(Error::invalid(
                "params.tilt",
                tilt,
                format!("a finite number with |tilt| < 8·depth/(3√3) = {tmax} (two wells per coordinate)"),
            ));
        }
        // For t ≥ 0: p(s) = 4Ds³ − 4Ds + t has p(−2) = t − 24D < 0 and p(−1) = t ≥ 0.
        let a = tilt.abs();
        let m = bisect(|s| 4.0 * depth * s * (s * s - 1.0) + a, -Self::R, -1.0);
        let xstar = if tilt < 0.0 { -m } else { m };
        Ok(MultiWell {
            dim,
            depth,
            tilt,
            xstar,
        })
    }

    fn f1(&self, s: f64) -> f64 {
        let u = s * s - 1.0;
        self.depth * u * u + self.tilt * s
    }

    fn df1(&self, s: f64) -> f64 {
        4.0 * self.depth * s * (s * s - 1.0) + self.tilt
    }
}

impl Landscape for MultiWell {
    fn kind(&self) -> &'static str {
        "multi_well"
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn value(&self, x: &[f64]) -> f64 {
        x.iter().map(|&s| self.f1(s)).sum()
    }

    fn gradient(&self, x: &[f64], g: &mut [f64]) {
        for (gi, &s) in g.iter_mut().zip(x) {
            *gi = self.df1(s);
        }
    }

    fn value_gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
        let mut f = 0.0;
        for (gi, &s) in g.iter_mut().zip(x) {
            let u = s * s - 1.0;
            f += self.depth * u * u + self.tilt * s;
            *gi = 4.0 * self.depth * s * u + self.tilt;
        }
        f
    }

    fn hessian(&self, x: &[f64], h: &mut [f64]) {
        let d4 = 4.0 * self.depth;
        write_diag(h, self.dim, |i| 3.0 * d4 * x[i] * x[i] - d4);
    }

    fn domain(&self) -> (f64, f64) {
        (-Self::R, Self::R)
    }

    fn global_minimum(&self) -> Option<(Vec<f64>, f64)> {
        Some((
            vec![self.xstar; self.dim],
            self.dim as f64 * self.f1(self.xstar),
        ))
    }

    fn grad_norm_bound(&self) -> Option<f64> {
        let c = 1.0 / 3.0_f64.sqrt();
        Some(sup_abs(|s| self.df1(s), -Self::R, Self::R, &[-c, c]) * (self.dim as f64).sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AVX-512 builds of Rastrigin's ∇f and (f, ∇f) give the same bits as the AVX2 builds,
    /// at every length (vector body, vector epilogue and scalar tail).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn rastrigin_avx512_same_bits() {
        if !crate::fastmath::has_avx512() {
            return;
        }
        let bits_of = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for d in [1usize, 3, 4, 7, 8, 9, 63, 64, 65, 100, 129] {
            let x: Vec<f64> = (0..d)
                .map(|i| ((i * 37 % 101) as f64 - 50.0) * 0.1013)
                .collect();
            let (mut g1, mut g2) = (vec![0.0; d], vec![0.0; d]);
            let f1 = rastrigin_value_gradient(10.0, &x, &mut g1);
            // SAFETY: has_avx512() checked above.
            let f2 = unsafe { rastrigin_value_gradient_avx512(10.0, &x, &mut g2) };
            assert_eq!(f1.to_bits(), f2.to_bits(), "f, d = {d}");
            assert_eq!(bits_of(&g1), bits_of(&g2), "value_gradient, d = {d}");
            rastrigin_gradient(10.0, &x, &mut g1);
            // SAFETY: has_avx512() checked above.
            unsafe { rastrigin_gradient_avx512(10.0, &x, &mut g2) };
            assert_eq!(bits_of(&g1), bits_of(&g2), "gradient, d = {d}");
        }
    }

    #[test]
    fn constructors_validate() {
        assert!(Rastrigin::new(0, 10.0).is_err());
        assert!(Rastrigin::new(3, 0.0).is_err());
        assert!(Rastrigin::new(3, f64::NAN).is_err());
        assert!(Ackley::new(0).is_err());
        assert!(StyblinskiTang::new(0).is_err());
        assert!(Levy::new(0).is_err());
        assert!(Griewank::new(0).is_err());
        assert!(Rosenbrock::new(1).is_err());
        assert!(Rosenbrock::new(2).is_ok());
        assert!(MultiWell::new(2, 0.0, 0.1).is_err());
        assert!(MultiWell::new(2, 1.0, 1.6).is_err());
        assert!(MultiWell::new(2, 1.0, -1.6).is_err());
        assert!(MultiWell::new(2, 1.0, 1.5).is_ok());
        let e = Rastrigin::new(3, -1.0).unwrap_err().to_string();
        assert!(e.contains("params.amplitude"), "{e}");
    }

    #[test]
    fn styblinski_tang_minimum_is_the_known_one() {
        let st = StyblinskiTang::new(1).unwrap();
        let (x, f) = st.global_minimum().unwrap();
        assert!((x[0] + 2.903534).abs() < 1e-6);
        assert!((f + 39.16617).abs() < 1e-5);
        assert!(StyblinskiTang::df1(x[0]).abs() < 1e-12);
        assert_eq!(st.grad_norm_bound(), Some(172.5));
    }

    #[test]
    fn multi_well_minimizer_is_the_deeper_well() {
        for &t in &[0.3, -0.3, 0.0, 1.5] {
            let mw = MultiWell::new(1, 1.0, t).unwrap();
            let (x, f) = mw.global_minimum().unwrap();
            assert!(mw.df1(x[0]).abs() < 1e-12);
            // Brute force over a fine grid of the domain.
            let best = (0..=40_000)
                .map(|k| mw.f1(-2.0 + 1e-4 * k as f64))
                .fold(f64::INFINITY, f64::min);
            assert!(f <= best + 1e-12, "t = {t}: {f} vs grid {best}");
        }
    }

    #[test]
    fn drop_wave_origin_is_smooth() {
        let dw = DropWave::new().unwrap();
        let mut g = [1.0; 2];
        let mut h = [0.0; 4];
        assert_eq!(dw.value_gradient(&[0.0, 0.0], &mut g), -1.0);
        assert_eq!(g, [0.0, 0.0]);
        dw.hessian(&[0.0, 0.0], &mut h);
        assert!((h[0] - 72.5).abs() < 1e-12 && h[1] == 0.0 && (h[3] - 72.5).abs() < 1e-12);
    }

    #[test]
    fn ackley_kink_is_finite() {
        let a = Ackley::new(3).unwrap();
        let mut g = [1.0; 3];
        let mut h = [0.0; 9];
        let f = a.value_gradient(&[0.0; 3], &mut g);
        assert!(f.abs() < 1e-14);
        assert_eq!(g, [0.0; 3]);
        a.hessian(&[0.0; 3], &mut h);
        assert!(h.iter().all(|v| v.is_finite()));
    }
}

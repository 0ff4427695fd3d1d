//! Exact stationary second moments of the search-direction noise ω_t = d_t − ∇f(x_t) on a
//! quadratic with additive noise — ground truth for the simulators and for the bounds ψ of
//! [`crate::theory`]. Derivation: `proofs/quadratic-stationary-moments.md`.
//!
//! Model: f(x) = ½ Σ_i λ_i y_i² in the eigenbasis, mini-batch gradient g_t = ∇f(x_t) + ε_t with
//! ε_t ~ N(0, diag(s_i²)/b) independent over t (only the second moments matter, so any
//! zero-mean i.i.d. noise with that covariance gives the same numbers). With the rule in linear
//! form ([`crate::optimizer::Coefficients`]) d_t = c_g g_t + c_m m_{t−1},
//! m_t = a_g g_t + a_m m_{t−1}, each eigen-coordinate is an independent linear recursion in the
//! state z_t = (x_t, m_{t−1}):
//!
//! z_{t+1} = A z_t + B ε_t,  A = \[\[1 − η c_g λ, −η c_m\], \[a_g λ, a_m\]\],  B = (−η c_g, a_g)ᵀ.
//!
//! When the spectral radius ρ(A) < 1 the state has a unique stationary covariance P, the
//! solution of the discrete Lyapunov equation P = A P Aᵀ + (s²/b) B Bᵀ (three unknowns, solved
//! exactly). Then ω = (c_g − 1)λx + c_m m + c_g ε, so E ω² = hᵀ P h + c_g² s²/b with
//! h = ((c_g − 1)λ, c_m).

use serde::Serialize;

use crate::error::{Error, Result};
use crate::optimizer::{Coefficients, Optimizer};

/// Stationary moments of one eigen-coordinate (eigenvalue λ, per-sample noise variance s²).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoordMoments {
    /// λ, the curvature of this coordinate.
    pub lambda: f64,
    /// s², the per-sample gradient-noise variance of this coordinate (ε has variance s²/b).
    pub noise_var: f64,
    /// ρ(A), the spectral radius of the coordinate's transition matrix (< 1).
    pub spectral_radius: f64,
    /// P_xx = E x².
    pub p_xx: f64,
    /// P_xm = E\[x_t m_{t−1}\].
    pub p_xm: f64,
    /// P_mm = E m_{t−1}².
    pub p_mm: f64,
    /// E ω² = hᵀPh + c_g² s²/b.
    pub omega_sq: f64,
    /// E (E\[ω | past\])² = hᵀPh, h = ((c_g − 1)λ, c_m).
    pub omega_bias_sq: f64,
    /// c_g² s²/b, the part of E ω² from the fresh mini-batch noise.
    pub omega_random_sq: f64,
    /// E (∂f)² = λ² P_xx.
    pub grad_sq: f64,
}

/// Stationary moments summed over the eigen-coordinates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StationaryMoments {
    /// E‖ω‖², ω = d − ∇f(x), the search-direction noise.
    pub omega_sq: f64,
    /// E‖E\[ω | past\]‖² = E‖(c_g − 1)∇f(x_t) + c_m m_{t−1}‖², the bias part.
    pub omega_bias_sq: f64,
    /// c_g² Σ s_i²/b, the fresh-noise part; omega_sq = omega_bias_sq + omega_random_sq.
    pub omega_random_sq: f64,
    /// E‖∇f(x)‖² = Σ λ_i² P_xx,i (the K² of the bounds, in the stationary regime).
    pub grad_sq: f64,
    /// E f(x) = ½ Σ λ_i P_xx,i.
    pub loss: f64,
    /// E‖d‖², d the search direction.
    pub dir_sq: f64,
    /// E⟨d, ∇f(x)⟩.
    pub dir_grad: f64,
    /// E‖m_{t−1}‖², the momentum buffer before the step (0 for SGD).
    pub mom_sq: f64,
    /// Per-coordinate breakdown, in the order of the eigenvalues.
    pub coords: Vec<CoordMoments>,
}

/// The state matrix A and noise column B of one coordinate (see the module docs).
pub fn transition(c: &Coefficients, lr: f64, lambda: f64) -> ([[f64; 2]; 2], [f64; 2]) {
    (
        [
            [1.0 - lr * c.c_g * lambda, -lr * c.c_m],
            [c.a_g * lambda, c.a_m],
        ],
        [-lr * c.c_g, c.a_g],
    )
}

/// ρ(A) of a 2×2 matrix: the larger modulus of the roots of μ² − tr(A) μ + det(A).
pub fn spectral_radius(a: &[[f64; 2]; 2]) -> f64 {
    let tr = a[0][0] + a[1][1];
    let det = a[0][0] * a[1][1] - a[0][1] * a[1][0];
    let disc = tr * tr - 4.0 * det;
    if disc >= 0.0 {
        let s = disc.sqrt();
        ((tr + s).abs()).max((tr - s).abs()) / 2.0
    } else {
        det.max(0.0).sqrt()
    }
}

/// Whether ρ(A) < 1, by the Jury (Schur–Cohn) conditions on χ(μ) = det(μI − A):
/// χ(1) > 0, χ(−1) > 0 and |det A| < 1, with χ(±1) computed as (1 ∓ a11)(1 ∓ a22) − a12 a21
/// to avoid the cancellation in 1 − tr A + det A (exact at λ = 0, where χ(1) = 0).
pub fn is_stable(a: &[[f64; 2]; 2]) -> bool {
    let chi_p1 = (1.0 - a[0][0]) * (1.0 - a[1][1]) - a[0][1] * a[1][0];
    let chi_m1 = (1.0 + a[0][0]) * (1.0 + a[1][1]) - a[0][1] * a[1][0];
    let det = a[0][0] * a[1][1] - a[0][1] * a[1][0];
    chi_p1 > 0.0 && chi_m1 > 0.0 && det.abs() < 1.0
}

/// The stationary covariance P = \[\[p_xx, p_xm\], \[p_xm, p_mm\]\] solving P = A P Aᵀ + q B Bᵀ
/// (q = s²/b), as the 3×3 linear system in (p_xx, p_xm, p_mm) solved by Gaussian elimination
/// with partial pivoting. Requires ρ(A) < 1 (then the system is nonsingular: its eigenvalues
/// are 1 − μ_i μ_j ≠ 0).
pub fn lyapunov_2x2(a: &[[f64; 2]; 2], b: &[f64; 2], q: f64) -> [[f64; 2]; 2] {
    let (a11, a12, a21, a22) = (a[0][0], a[0][1], a[1][0], a[1][1]);
    // (A P Aᵀ)_11 = a11² p + 2 a11 a12 r + a12² s, with P = [[p, r], [r, s]], etc.
    let mut m = [
        [
            1.0 - a11 * a11,
            -2.0 * a11 * a12,
            -a12 * a12,
            q * b[0] * b[0],
        ],
        [
            -a11 * a21,
            1.0 - (a11 * a22 + a12 * a21),
            -a12 * a22,
            q * b[0] * b[1],
        ],
        [
            -a21 * a21,
            -2.0 * a21 * a22,
            1.0 - a22 * a22,
            q * b[1] * b[1],
        ],
    ];
    for col in 0..3 {
        let piv = (col..3)
            .max_by(|&i, &j| m[i][col].abs().total_cmp(&m[j][col].abs()))
            .unwrap_or(col);
        m.swap(col, piv);
        let d = m[col][col];
        if d == 0.0 {
            continue;
        }
        let pivot_row = m[col];
        for row in m.iter_mut().skip(col + 1) {
            let f = row[col] / d;
            for (r, p) in row.iter_mut().zip(pivot_row.iter()).skip(col) {
                *r -= f * p;
            }
        }
    }
    let mut sol = [0.0; 3];
    for row in (0..3).rev() {
        let mut acc = m[row][3];
        for (mk, sk) in m[row][(row + 1)..3].iter().zip(&sol[(row + 1)..3]) {
            acc -= mk * sk;
        }
        sol[row] = if m[row][row] == 0.0 {
            0.0
        } else {
            acc / m[row][row]
        };
    }
    [[sol[0], sol[1]], [sol[1], sol[2]]]
}

/// The stability condition of one coordinate in words, for error messages.
fn stability_condition(opt: &Optimizer) -> String {
    use crate::optimizer::OptimizerKind as K;
    let rule = match opt.kind {
        K::Sgd => "0 < eta*lambda < 2",
        K::Shb => "0 < eta*lambda < 2(1+beta)",
        K::Nshb => "0 < eta*lambda*(1-beta) < 2(1+beta)",
        K::Qhm => "0 < eta*lambda*(1+beta-2*nu*beta) < 2(1+beta)",
        K::Nesterov => "0 < eta*lambda*(1+2*beta) < 2(1+beta)",
    };
    format!("a step size with spectral radius of A < 1 for every eigenvalue ({rule})")
}

/// Exact stationary moments of ω = d − ∇f and of f on the quadratic f = ½ Σ λ_i y_i² with
/// per-sample gradient-noise variances s_i² (`noise_var_per_coord`) and batch size b.
///
/// Errors: invalid optimizer (fields `lr`, `beta`, `nu`); empty or non-finite `eigenvalues`;
/// `noise_var` of another length, negative or non-finite; `batch` < 1 or non-finite; field
/// `lr` when the iteration is unstable (ρ(A) ≥ 1 for some λ — including λ ≤ 0, where no
/// stationary law exists), with the stability condition in the message.
pub fn stationary_moments(
    opt: &Optimizer,
    eigenvalues: &[f64],
    noise_var_per_coord: &[f64],
    batch: f64,
) -> Result<StationaryMoments> {
    let opt = Optimizer::new(opt.kind, opt.lr, opt.beta, opt.nu)?;
    if eigenvalues.is_empty() {
        return Err(Error::invalid(
            "eigenvalues",
            "[]",
            "at least one eigenvalue",
        ));
    }
    if let Some(l) = eigenvalues.iter().find(|l| !l.is_finite()) {
        return Err(Error::invalid("eigenvalues", l, "finite numbers"));
    }
    if noise_var_per_coord.len() != eigenvalues.len() {
        return Err(Error::invalid(
            "noise_var",
            format!("{} values", noise_var_per_coord.len()),
            format!("one variance per eigenvalue ({})", eigenvalues.len()),
        ));
    }
    if let Some(s) = noise_var_per_coord
        .iter()
        .find(|s| !(s.is_finite() && **s >= 0.0))
    {
        return Err(Error::invalid("noise_var", s, "finite numbers >= 0"));
    }
    if !(batch.is_finite() && batch >= 1.0) {
        return Err(Error::invalid("batch", batch, "a finite number >= 1"));
    }
    let c = opt.coefficients();
    let mut out = StationaryMoments {
        omega_sq: 0.0,
        omega_bias_sq: 0.0,
        omega_random_sq: 0.0,
        grad_sq: 0.0,
        loss: 0.0,
        dir_sq: 0.0,
        dir_grad: 0.0,
        mom_sq: 0.0,
        coords: Vec::with_capacity(eigenvalues.len()),
    };
    for (&lambda, &s2) in eigenvalues.iter().zip(noise_var_per_coord) {
        let (a, bcol) = transition(&c, opt.lr, lambda);
        let rho = spectral_radius(&a);
        let unstable = || {
            Error::invalid(
                "lr",
                opt.lr,
                format!(
                    "{} (the {} iteration is unstable: rho(A) = {rho:.6} at lambda = {lambda}, beta = {}, nu = {})",
                    stability_condition(&opt),
                    opt.kind,
                    opt.beta,
                    opt.nu
                ),
            )
        };
        if !is_stable(&a) {
            return Err(unstable());
        }
        let q = s2 / batch;
        let p = lyapunov_2x2(&a, &bcol, q);
        // Numerically at the edge of stability the solution can lose positivity; refuse it.
        let psd = p.iter().flatten().all(|v| v.is_finite())
            && p[0][0] >= 0.0
            && p[1][1] >= 0.0
            && p[0][1] * p[0][1] <= p[0][0] * p[1][1] * (1.0 + 1e-9) + f64::MIN_POSITIVE;
        if !psd {
            return Err(unstable());
        }
        let quad = |h: [f64; 2]| {
            h[0] * h[0] * p[0][0] + 2.0 * h[0] * h[1] * p[0][1] + h[1] * h[1] * p[1][1]
        };
        let rnd = c.c_g * c.c_g * q;
        let bias = quad([(c.c_g - 1.0) * lambda, c.c_m]);
        let grad_sq = lambda * lambda * p[0][0];
        out.omega_sq += bias + rnd;
        out.omega_bias_sq += bias;
        out.omega_random_sq += rnd;
        out.grad_sq += grad_sq;
        out.loss += 0.5 * lambda * p[0][0];
        out.dir_sq += quad([c.c_g * lambda, c.c_m]) + rnd;
        out.dir_grad += lambda * (c.c_g * lambda * p[0][0] + c.c_m * p[0][1]);
        out.mom_sq += p[1][1];
        out.coords.push(CoordMoments {
            lambda,
            noise_var: s2,
            spectral_radius: rho,
            p_xx: p[0][0],
            p_xm: p[0][1],
            p_mm: p[1][1],
            omega_sq: bias + rnd,
            omega_bias_sq: bias,
            omega_random_sq: rnd,
            grad_sq,
        });
    }
    Ok(out)
}

/// [`stationary_moments`] with isotropic noise, s_i² = σ² for every coordinate.
pub fn stationary_moments_isotropic(
    opt: &Optimizer,
    eigenvalues: &[f64],
    sigma2: f64,
    batch: f64,
) -> Result<StationaryMoments> {
    let s = vec![sigma2; eigenvalues.len()];
    stationary_moments(opt, eigenvalues, &s, batch)
}

/// The eigenvalues λ_i and per-sample noise variances s_i² in the eigenbasis of a problem, where
/// [`stationary_moments`] applies: a diagonal quadratic with additive, unrotated noise (isotropic
/// or anisotropic Gaussian, or Student-t, whose σ is its standard deviation). An error naming
/// `landscape` or `noise.law` says why otherwise.
pub fn problem_spectrum(problem: &crate::runner::Problem) -> Result<(Vec<f64>, Vec<f64>)> {
    use crate::noise::NoiseLaw;
    let land = problem.landscape.as_ref();
    if land.kind() != "quadratic" {
        return Err(Error::invalid(
            "landscape",
            land.kind(),
            "a quadratic (the exact stationary moments need one)",
        ));
    }
    let d = land.dim();
    let mut h = vec![0.0; d * d];
    land.hessian(&vec![0.0; d], &mut h);
    if !(0..d).all(|i| (0..d).all(|j| i == j || h[i * d + j] == 0.0)) {
        return Err(Error::invalid(
            "landscape",
            "a rotated quadratic",
            "a diagonal quadratic",
        ));
    }
    let eig = (0..d).map(|i| h[i * d + i]).collect();
    let var = match &problem.noise {
        NoiseLaw::Gaussian { sigma } | NoiseLaw::StudentT { sigma, .. } => vec![sigma * sigma; d],
        NoiseLaw::Anisotropic {
            std_devs,
            rotation: None,
            ..
        } => std_devs.iter().map(|s| s * s).collect(),
        other => {
            return Err(Error::invalid(
                "noise.law",
                other.name(),
                "additive, unrotated noise (gaussian, anisotropic without rotation, student_t)",
            ))
        }
    };
    Ok((eig, var))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optimizer::OptimizerKind;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::StandardNormal;

    fn opt(kind: OptimizerKind, lr: f64, beta: f64, nu: f64) -> Optimizer {
        Optimizer::new(kind, lr, beta, nu).expect("valid optimizer")
    }

    fn rel(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs().max(1e-300)
    }

    /// SGD: E x² = η s²/(b λ (2 − ηλ)) per coordinate; ω = ε exactly.
    #[test]
    fn sgd_closed_form() {
        let lams = [0.1, 1.0, 4.0, 10.0, 39.0];
        let s2 = [1.0, 2.0, 0.5, 3.0, 1.0];
        let (lr, b) = (0.05, 8.0);
        let o = opt(OptimizerKind::Sgd, lr, 0.9, 0.0);
        let st = stationary_moments(&o, &lams, &s2, b).expect("stable");
        for (cm, (&l, &s)) in st.coords.iter().zip(lams.iter().zip(&s2)) {
            let exact = lr * s / (b * l * (2.0 - lr * l));
            assert!(rel(cm.p_xx, exact) < 1e-13, "λ={l}");
            assert_eq!(cm.p_mm, 0.0);
            assert!(rel(cm.omega_sq, s / b) < 1e-15);
        }
        assert_eq!(st.omega_bias_sq, 0.0);
        assert!(rel(st.omega_sq, s2.iter().sum::<f64>() / b) < 1e-14);
    }

    /// SHB: the AR(2) closed forms E x² = (1+β)η s²/(b λ (1−β)(2(1+β) − ηλ)) and
    /// E ω² = (s²/b)(1 + 2β²/((1−β)(2(1+β) − ηλ))) (proofs/quadratic-stationary-moments.md).
    #[test]
    fn shb_closed_form() {
        let (lr, beta, b, s2) = (0.02, 0.9, 4.0, 1.5);
        let o = opt(OptimizerKind::Shb, lr, beta, 0.0);
        for &l in &[0.5, 1.0, 4.0, 10.0, 100.0, 180.0] {
            let st = stationary_moments(&o, &[l], &[s2], b).expect("stable");
            let v = s2 / b;
            let gap = 2.0 * (1.0 + beta) - lr * l;
            let xx = (1.0 + beta) * lr * v / (l * (1.0 - beta) * gap);
            let ww = v * (1.0 + 2.0 * beta * beta / ((1.0 - beta) * gap));
            assert!(rel(st.coords[0].p_xx, xx) < 1e-9, "λ={l}");
            assert!(rel(st.omega_sq, ww) < 1e-9, "λ={l}");
        }
    }

    /// NSHB(η, β) = SHB(η' = η(1−β), β): with the AR(2) autocovariances γ0 = E x², γ1 =
    /// E\[x_t x_{t−1}\] = (1 + β − η'λ) γ0/(1 + β) and m_{t−1} = (x_{t−1} − x_t)/η,
    /// E ω² = (β/η)² \[(1 + (1 + ηλ)²) γ0 − 2(1 + ηλ) γ1\] + (1 − β)² s²/b.
    #[test]
    fn nshb_closed_form() {
        let (beta, b, s2) = (0.9, 4.0, 1.5);
        for &(lr, l) in &[
            (0.02, 1.0),
            (0.02, 10.0),
            (0.1, 4.0),
            (1.0, 1.0),
            (20.0, 1.0),
        ] {
            let o = opt(OptimizerKind::Nshb, lr, beta, 0.0);
            let st = stationary_moments(&o, &[l], &[s2], b).expect("stable");
            let v = s2 / b;
            let e = lr * (1.0 - beta);
            let g0 = (1.0 + beta) * e * v / ((1.0 - beta) * l * (2.0 * (1.0 + beta) - e * l));
            let g1 = (1.0 + beta - e * l) * g0 / (1.0 + beta);
            let r = 1.0 + lr * l;
            let ww = (beta / lr).powi(2) * ((1.0 + r * r) * g0 - 2.0 * r * g1)
                + (1.0 - beta).powi(2) * v;
            assert!(rel(st.coords[0].p_xx, g0) < 1e-9, "lr={lr} λ={l}");
            assert!(rel(st.omega_sq, ww) < 1e-9, "lr={lr} λ={l}");
        }
    }

    /// The NSHB v3 hypothesis ψ² = C²/((1−β)b) is not a bound even in the stationary regime:
    /// β = 0.9, λ = 1, s² = 1, b = 1, η = 20 (ηλ(1−β) = 2 < 2(1+β), stable) gives E ω² = 19
    /// exactly, above ψ² = 10. The valid bounds hold (K² = E (∂f)² = 190/9).
    #[test]
    fn nshb_v3_hypothesis_fails_stationary() {
        use crate::theory::{psi_nshb_tight, psi_nshb_v1, psi_nshb_v3_hypothesis};
        let o = opt(OptimizerKind::Nshb, 20.0, 0.9, 0.0);
        let st = stationary_moments(&o, &[1.0], &[1.0], 1.0).expect("stable");
        assert!((st.omega_sq - 19.0).abs() < 1e-9, "{}", st.omega_sq);
        assert!((st.grad_sq - 190.0 / 9.0).abs() < 1e-9, "{}", st.grad_sq);
        let k = st.grad_sq.sqrt();
        assert!(st.omega_sq > psi_nshb_v3_hypothesis(0.9, 1.0, 1.0).powi(2) * 1.8);
        assert!(st.omega_sq < psi_nshb_tight(0.9, 1.0, 1.0, k).powi(2));
        assert!(st.omega_sq < psi_nshb_v1(0.9, 1.0, 1.0, k).powi(2));
    }

    /// The Lyapunov solution satisfies P = A P Aᵀ + q B Bᵀ to 1e-12 for every rule.
    #[test]
    fn lyapunov_residual() {
        for kind in OptimizerKind::ALL {
            for &(lr, beta, nu) in &[(0.02, 0.9, 0.7), (0.1, 0.5, 0.3), (0.01, 0.99, 1.0)] {
                let o = opt(kind, lr, beta, nu);
                let c = o.coefficients();
                for &l in &[0.01, 1.0, 4.0, 10.0] {
                    let (a, b) = transition(&c, lr, l);
                    if !is_stable(&a) {
                        continue;
                    }
                    let q = 0.37;
                    let p = lyapunov_2x2(&a, &b, q);
                    let scale = p[0][0].abs().max(p[1][1].abs()).max(1e-300);
                    for i in 0..2 {
                        for j in 0..2 {
                            let mut apa = 0.0;
                            for k in 0..2 {
                                for l2 in 0..2 {
                                    apa += a[i][k] * p[k][l2] * a[j][l2];
                                }
                            }
                            let r = p[i][j] - apa - q * b[i] * b[j];
                            assert!(r.abs() <= 1e-12 * scale, "{kind} λ={l} r={r}");
                        }
                    }
                }
            }
        }
    }

    /// NSHB(η, β) ≡ SHB(η(1−β), β) with m^NSHB = (1−β) m^SHB; QHM(ν=0) ≡ SGD; QHM(ν=1) ≡ NSHB;
    /// Nesterov(η) ≡ QHM(η/(1−β), ν = β) with m^QHM = (1−β) m^Nesterov (theory.md §2).
    #[test]
    fn equivalences() {
        let lams = [0.3, 1.0, 4.0, 10.0];
        let (lr, beta, b) = (0.02, 0.9, 4.0);
        let s2 = [1.0; 4];
        let st = |k, lr, nu| stationary_moments(&opt(k, lr, beta, nu), &lams, &s2, b).expect("ok");
        let n = st(OptimizerKind::Nshb, lr, 0.0);
        let s = st(OptimizerKind::Shb, lr * (1.0 - beta), 0.0);
        assert!(rel(n.loss, s.loss) < 1e-10);
        assert!(rel(n.mom_sq, (1.0 - beta) * (1.0 - beta) * s.mom_sq) < 1e-10);
        let q0 = st(OptimizerKind::Qhm, lr, 0.0);
        let sg = st(OptimizerKind::Sgd, lr, 0.0);
        assert!(rel(q0.loss, sg.loss) < 1e-10 && rel(q0.omega_sq, sg.omega_sq) < 1e-10);
        let q1 = st(OptimizerKind::Qhm, lr, 1.0);
        assert!(rel(q1.loss, n.loss) < 1e-10 && rel(q1.omega_sq, n.omega_sq) < 1e-10);
        let ne = st(OptimizerKind::Nesterov, lr, 0.0);
        let qn = st(OptimizerKind::Qhm, lr / (1.0 - beta), beta);
        assert!(rel(ne.loss, qn.loss) < 1e-10);
        // d^Nesterov = d^QHM/(1−β), so ω differ; but E‖d‖² scales exactly.
        assert!(rel(ne.dir_sq, qn.dir_sq / ((1.0 - beta) * (1.0 - beta))) < 1e-10);
    }

    /// The stability regions of proofs/quadratic-stationary-moments.md §3: the iteration is
    /// stable iff 0 < ηλ < T with T = 2 (SGD), 2(1+β) (SHB), 2(1+β)/(1−β) (NSHB),
    /// 2(1+β)/(1+β−2νβ) (QHM), 2(1+β)/(1+2β) (Nesterov).
    #[test]
    fn stability_regions() {
        for &beta in &[0.0, 0.3, 0.9, 0.99] {
            for &nu in &[0.0, 0.5, 1.0] {
                for kind in OptimizerKind::ALL {
                    let t = match kind {
                        OptimizerKind::Sgd => 2.0,
                        OptimizerKind::Shb => 2.0 * (1.0 + beta),
                        OptimizerKind::Nshb => 2.0 * (1.0 + beta) / (1.0 - beta),
                        OptimizerKind::Qhm => 2.0 * (1.0 + beta) / (1.0 + beta - 2.0 * nu * beta),
                        OptimizerKind::Nesterov => 2.0 * (1.0 + beta) / (1.0 + 2.0 * beta),
                    };
                    let c = opt(kind, 1.0, beta, nu).coefficients();
                    for &(f, want) in &[(1e-6, true), (0.5, true), (0.999, true), (1.001, false)] {
                        let (a, _) = transition(&c, 1.0, f * t);
                        assert_eq!(is_stable(&a), want, "{kind} β={beta} ν={nu} f={f}");
                        assert_eq!(spectral_radius(&a) < 1.0, want, "{kind} ρ");
                    }
                    let (a, _) = transition(&c, 1.0, 0.0);
                    assert!(!is_stable(&a), "{kind} λ=0");
                    let (a, _) = transition(&c, 1.0, -0.1);
                    assert!(!is_stable(&a), "{kind} λ<0");
                }
            }
        }
    }

    #[test]
    fn unstable_and_invalid_inputs() {
        let o = opt(OptimizerKind::Shb, 0.1, 0.9, 0.0);
        // ηλ = 3.9 < 2(1+β) = 3.8 is false → unstable.
        let e = stationary_moments(&o, &[39.0], &[1.0], 1.0).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("invalid lr") && msg.contains("2(1+beta)"),
            "{msg}"
        );
        assert!(stationary_moments(&o, &[37.9], &[1.0], 1.0).is_ok());
        let e = stationary_moments(&o, &[0.0], &[1.0], 1.0).unwrap_err();
        assert!(e.to_string().contains("invalid lr"));
        let e = stationary_moments(&o, &[1.0], &[1.0, 2.0], 1.0).unwrap_err();
        assert!(e.to_string().contains("noise_var"));
        let e = stationary_moments(&o, &[1.0], &[-1.0], 1.0).unwrap_err();
        assert!(e.to_string().contains("noise_var"));
        let e = stationary_moments(&o, &[], &[], 1.0).unwrap_err();
        assert!(e.to_string().contains("eigenvalues"));
        let e = stationary_moments(&o, &[f64::NAN], &[1.0], 1.0).unwrap_err();
        assert!(e.to_string().contains("eigenvalues"));
        let e = stationary_moments(&o, &[1.0], &[1.0], 0.0).unwrap_err();
        assert!(e.to_string().contains("batch"));
    }

    /// The derived bounds of `theory` hold in the stationary regime, with C² = Σ s_i² and
    /// K² = E‖∇f‖² (stationary, hence valid for every t); the paper's forms too, being looser.
    #[test]
    fn derived_bounds_hold_stationary() {
        use crate::theory::psi_linear_derived;
        let lams = [0.01, 0.3, 1.0, 4.0, 10.0, 30.0];
        let s2 = [1.0, 0.2, 3.0, 1.0, 0.7, 1.0];
        let c2: f64 = s2.iter().sum();
        for kind in OptimizerKind::ALL {
            for &lr in &[0.001, 0.01, 0.03, 0.06] {
                for &beta in &[0.0, 0.5, 0.9, 0.99] {
                    for &nu in &[0.0, 0.5, 0.7, 1.0] {
                        let o = opt(kind, lr, beta, nu);
                        for &b in &[1.0, 8.0, 128.0] {
                            let Ok(st) = stationary_moments(&o, &lams, &s2, b) else {
                                continue;
                            };
                            let k = st.grad_sq.sqrt();
                            let psi = psi_linear_derived(&o.coefficients(), b, c2, k);
                            assert!(
                                st.omega_sq <= psi * psi * (1.0 + 1e-12),
                                "{kind} lr={lr} β={beta} ν={nu} b={b}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// Monte Carlo check of E‖ω‖² and E‖∇f‖² against the Lyapunov solution, running the real
    /// update rules (`Optimizer::direction`/`apply`) on a 3-coordinate diagonal quadratic.
    ///
    /// Tolerance: the post-burn-in run is cut into `NB` consecutive batches of `LB` steps, each
    /// much longer than the slowest correlation time (ρ(A) ≤ 0.976 here ⇒ a few hundred steps
    /// at most for the squares), so the batch means are nearly independent and their sample
    /// standard deviation / √NB estimates the standard error of the overall mean. We accept
    /// |mean − exact| < 4 SE (a false alarm for a Gaussian mean has probability ≈ 6e-5; the seed
    /// is fixed so the test is deterministic) and require SE < 2% of the exact value so the
    /// check cannot pass vacuously.
    #[test]
    fn monte_carlo_agrees() {
        const BURN: usize = 5_000;
        const NB: usize = 100;
        const LB: usize = 8_000;
        let lams = [1.0, 4.0, 10.0];
        let (lr, beta, b, sigma) = (0.02, 0.9, 4.0, 1.0);
        let sd = sigma / f64::sqrt(b);
        let cases = [
            (OptimizerKind::Sgd, 0.0),
            (OptimizerKind::Shb, 0.0),
            (OptimizerKind::Nshb, 0.0),
            (OptimizerKind::Qhm, 0.7),
            (OptimizerKind::Nesterov, 0.0),
        ];
        let mut rng = ChaCha8Rng::seed_from_u64(20240205);
        for (kind, nu) in cases {
            let o = opt(kind, lr, beta, nu);
            let exact = stationary_moments_isotropic(&o, &lams, sigma * sigma, b).expect("stable");
            let (mut x, mut m, mut g, mut d) = ([0.0; 3], [0.0; 3], [0.0; 3], [0.0; 3]);
            let mut in_batch = 0usize;
            let mut w_means = Vec::with_capacity(NB);
            let mut g_means = Vec::with_capacity(NB);
            let (mut w_acc, mut g_acc) = (0.0, 0.0);
            for t in 0..BURN + NB * LB {
                for i in 0..3 {
                    let z: f64 = rng.sample(StandardNormal);
                    g[i] = lams[i] * x[i] + sd * z;
                }
                o.direction(&g, &mut m, &mut d);
                if t >= BURN {
                    for i in 0..3 {
                        let grad = lams[i] * x[i];
                        let w = d[i] - grad;
                        w_acc += w * w;
                        g_acc += grad * grad;
                    }
                    in_batch += 1;
                    if in_batch == LB {
                        in_batch = 0;
                        w_means.push(w_acc / LB as f64);
                        g_means.push(g_acc / LB as f64);
                        w_acc = 0.0;
                        g_acc = 0.0;
                    }
                }
                o.apply(&mut x, &d);
            }
            for (name, means, truth) in [
                ("omega_sq", &w_means, exact.omega_sq),
                ("grad_sq", &g_means, exact.grad_sq),
            ] {
                let n = means.len() as f64;
                let mean = means.iter().sum::<f64>() / n;
                let var = means.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
                let se = (var / n).sqrt();
                assert!(
                    se < 0.02 * truth,
                    "{kind} {name}: se {se} too large vs {truth}"
                );
                assert!(
                    (mean - truth).abs() < 4.0 * se,
                    "{kind} {name}: MC {mean} ± {se} vs exact {truth}"
                );
            }
        }
    }
}

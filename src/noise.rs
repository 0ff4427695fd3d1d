//! Noise laws: the variance dial.
//!
//! A noise law turns the exact gradient ∇f(x) into the per-sample stochastic gradient
//! G_ξ(x) = ∇f(x) + ξ with E ξ = 0, and a mini-batch of size b into
//! g = (1/b) Σ_{i≤b} G_{ξ_i}(x). Every law reports its exact per-sample variance
//! C²(x) = E‖G_ξ(x) − ∇f(x)‖² (theory.md §1), so E‖g − ∇f(x)‖² = C²(x)/b.
//!
//! | law | ξ | C²(x) |
//! |---|---|---|
//! | `gaussian` (isotropic) | N(0, σ² I) | d σ² |
//! | `gaussian`, anisotropic | Q diag(s) z, z ~ N(0, I) | Σ s_i² |
//! | `student_t` | σ √((ν−2)/ν) t_ν per coordinate | d σ² |
//! | `multiplicative` | N(0, (σ² + α²‖∇f‖²/d) I) | d σ² + α² ‖∇f(x)‖² |
//! | `finite_sum` | ∇f_i(x) − ∇f(x), i uniform in {1..n} | (1/n) Σ_i ‖∇f_i(x) − ∇f(x)‖² |
//!
//! Normal draws come from [`fill_standard_normal`] (Box–Muller on bulk ChaCha output).
//!
//! Sampling the mini-batch: for the Gaussian laws the mean of b i.i.d. N(0, Σ) draws is
//! N(0, Σ/b) *in distribution*, so it is sampled directly with one draw (exact, and b times
//! cheaper). Student-t is not closed under averaging, so b per-sample draws are averaged. The
//! finite-sum law draws b indices uniformly *with replacement* (i.i.d. samples, as the theory
//! assumes) and averages their exact per-sample gradients.

use rand::Rng;
use rand_distr::{Distribution, StudentT};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::fastmath::fill_standard_normal;
use crate::landscape::Landscape;
use crate::linalg::{mat_vec, norm_sq};

/// A per-sample gradient noise law.
#[derive(Debug, Clone)]
pub enum NoiseLaw {
    /// Isotropic Gaussian, per-coordinate standard deviation σ.
    Gaussian {
        /// σ ≥ 0.
        sigma: f64,
    },
    /// Anisotropic Gaussian: ξ = Q diag(s) z with per-direction standard deviations s and an
    /// optional rotation Q (row-major d×d orthogonal; identity when `None`).
    Anisotropic {
        /// Per-direction standard deviations s_i ≥ 0 (length d).
        std_devs: Vec<f64>,
        /// Rotation Q, or `None` for the identity.
        rotation: Option<Vec<f64>>,
        /// The seed Q was drawn from (for provenance).
        rotation_seed: Option<u64>,
    },
    /// Heavy tails: Student-t with ν > 2 degrees of freedom per coordinate, scaled so each
    /// coordinate has variance σ².
    StudentT {
        /// Per-coordinate standard deviation σ ≥ 0.
        sigma: f64,
        /// Degrees of freedom ν > 2.
        dof: f64,
    },
    /// Gaussian with variance that grows with the gradient:
    /// per-coordinate variance σ² + α²‖∇f(x)‖²/d. Breaks the constant-C² assumption on purpose.
    Multiplicative {
        /// σ ≥ 0.
        sigma: f64,
        /// α ≥ 0.
        alpha: f64,
    },
    /// Mini-batches of sample indices of a finite-sum landscape.
    FiniteSum,
}

/// Scratch space for sampling, sized once per seed so that the hot loop allocates nothing.
#[derive(Debug, Clone)]
pub struct NoiseScratch {
    z: Vec<f64>,
    y: Vec<f64>,
    bits: Vec<u64>,
}

impl NoiseScratch {
    /// Scratch for dimension d.
    pub fn new(d: usize) -> Self {
        Self {
            z: vec![0.0; d],
            y: vec![0.0; d],
            bits: vec![0; d + 1],
        }
    }
}

impl NoiseLaw {
    /// Law name as written in landscape files.
    pub fn name(&self) -> &'static str {
        match self {
            NoiseLaw::Gaussian { .. } => "gaussian",
            NoiseLaw::Anisotropic { .. } => "anisotropic",
            NoiseLaw::StudentT { .. } => "student_t",
            NoiseLaw::Multiplicative { .. } => "multiplicative",
            NoiseLaw::FiniteSum => "finite_sum",
        }
    }

    /// Check the law against a landscape (dimensions, finite-sum support, parameter ranges).
    pub fn validate(&self, landscape: &dyn Landscape) -> Result<()> {
        let d = landscape.dim();
        let nonneg = |field: &str, v: f64| -> Result<()> {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(Error::invalid(field, v, "a finite number >= 0"))
            }
        };
        match self {
            NoiseLaw::Gaussian { sigma } => nonneg("noise.sigma", *sigma),
            NoiseLaw::Anisotropic {
                std_devs, rotation, ..
            } => {
                if std_devs.len() != d {
                    return Err(Error::invalid(
                        "noise.variances",
                        format!("{} entries", std_devs.len()),
                        format!("exactly dim = {d} entries"),
                    ));
                }
                for s in std_devs {
                    nonneg("noise.variances", *s)?;
                }
                if let Some(q) = rotation {
                    if q.len() != d * d {
                        return Err(Error::invalid(
                            "noise.rotation",
                            q.len(),
                            format!("{} entries", d * d),
                        ));
                    }
                }
                Ok(())
            }
            NoiseLaw::StudentT { sigma, dof } => {
                nonneg("noise.sigma", *sigma)?;
                if !(dof.is_finite() && *dof > 2.0) {
                    return Err(Error::invalid(
                        "noise.dof",
                        dof,
                        "a finite number > 2 (finite variance)",
                    ));
                }
                Ok(())
            }
            NoiseLaw::Multiplicative { sigma, alpha } => {
                nonneg("noise.sigma", *sigma)?;
                nonneg("noise.alpha", *alpha)
            }
            NoiseLaw::FiniteSum => {
                if landscape.finite_sum().is_none() {
                    return Err(Error::invalid(
                        "noise.law",
                        "finite_sum",
                        format!(
                            "a finite-sum landscape (teacher_student); kind {} is not one — use gaussian, student_t or multiplicative",
                            landscape.kind()
                        ),
                    ));
                }
                Ok(())
            }
        }
    }

    /// Whether C²(x) is the same at every x (assumption (A2) of the paper).
    pub fn constant_c2(&self) -> bool {
        !matches!(self, NoiseLaw::Multiplicative { .. } | NoiseLaw::FiniteSum)
    }

    /// C²(x) = E‖G_ξ(x) − ∇f(x)‖², exact. `grad` must hold ∇f(x).
    pub fn c2(&self, landscape: &dyn Landscape, x: &[f64], grad: &[f64]) -> f64 {
        let d = x.len() as f64;
        match self {
            NoiseLaw::Gaussian { sigma } | NoiseLaw::StudentT { sigma, .. } => d * sigma * sigma,
            NoiseLaw::Anisotropic { std_devs, .. } => norm_sq(std_devs),
            NoiseLaw::Multiplicative { sigma, alpha } => {
                d * sigma * sigma + alpha * alpha * norm_sq(grad)
            }
            NoiseLaw::FiniteSum => {
                let Some(fs) = landscape.finite_sum() else {
                    return f64::NAN;
                };
                let n = fs.n_samples();
                let mut gi = vec![0.0; x.len()];
                let mut acc = 0.0;
                for i in 0..n {
                    gi.iter_mut().for_each(|v| *v = 0.0);
                    fs.add_sample_gradient(i, x, &mut gi);
                    acc += gi
                        .iter()
                        .zip(grad)
                        .map(|(a, b)| (a - b) * (a - b))
                        .sum::<f64>();
                }
                acc / n as f64
            }
        }
    }

    /// Write the mini-batch gradient g = ∇f(x) + (mean of b noise draws) into `g`.
    /// `grad` must hold ∇f(x).
    #[inline]
    #[allow(clippy::too_many_arguments)] // the hot path takes plain slices; bundling costs clarity
    pub fn sample_minibatch<R: Rng + ?Sized>(
        &self,
        landscape: &dyn Landscape,
        x: &[f64],
        grad: &[f64],
        batch: usize,
        rng: &mut R,
        scratch: &mut NoiseScratch,
        g: &mut [f64],
    ) {
        let inv_sqrt_b = 1.0 / (batch as f64).sqrt();
        match self {
            NoiseLaw::Gaussian { sigma } => {
                // Mean of b i.i.d. N(0, σ²) = N(0, σ²/b) in distribution: one draw.
                let s = sigma * inv_sqrt_b;
                fill_standard_normal(rng, &mut scratch.bits, &mut scratch.z);
                for ((gi, di), zi) in g.iter_mut().zip(grad).zip(&scratch.z) {
                    *gi = di + s * zi;
                }
            }
            NoiseLaw::Anisotropic {
                std_devs, rotation, ..
            } => {
                // Mean of b i.i.d. N(0, Q S² Qᵀ) = N(0, Q S² Qᵀ / b): one draw.
                fill_standard_normal(rng, &mut scratch.bits, &mut scratch.z);
                for (zi, si) in scratch.z.iter_mut().zip(std_devs) {
                    *zi *= si * inv_sqrt_b;
                }
                match rotation {
                    Some(q) => {
                        mat_vec(q, &scratch.z, &mut scratch.y);
                        for ((gi, di), yi) in g.iter_mut().zip(grad).zip(&scratch.y) {
                            *gi = di + yi;
                        }
                    }
                    None => {
                        for ((gi, di), zi) in g.iter_mut().zip(grad).zip(&scratch.z) {
                            *gi = di + zi;
                        }
                    }
                }
            }
            NoiseLaw::StudentT { sigma, dof } => {
                // Not closed under averaging: average b per-sample draws.
                let scale = sigma * ((dof - 2.0) / dof).sqrt() / batch as f64;
                // `validate` guarantees dof > 2, for which StudentT::new cannot fail.
                let t = StudentT::new(*dof).unwrap_or_else(|_| unreachable!("dof > 2 validated"));
                for (gi, di) in g.iter_mut().zip(grad) {
                    let mut acc = 0.0;
                    for _ in 0..batch {
                        acc += t.sample(rng);
                    }
                    *gi = di + scale * acc;
                }
            }
            NoiseLaw::Multiplicative { sigma, alpha } => {
                let d = grad.len() as f64;
                let var = sigma * sigma + alpha * alpha * norm_sq(grad) / d;
                let s = var.sqrt() * inv_sqrt_b;
                fill_standard_normal(rng, &mut scratch.bits, &mut scratch.z);
                for ((gi, di), zi) in g.iter_mut().zip(grad).zip(&scratch.z) {
                    *gi = di + s * zi;
                }
            }
            NoiseLaw::FiniteSum => {
                let Some(fs) = landscape.finite_sum() else {
                    g.copy_from_slice(grad);
                    return;
                };
                let n = fs.n_samples();
                g.iter_mut().for_each(|v| *v = 0.0);
                for _ in 0..batch {
                    let i = rng.random_range(0..n);
                    fs.add_sample_gradient(i, x, g);
                }
                let inv_b = 1.0 / batch as f64;
                g.iter_mut().for_each(|v| *v *= inv_b);
            }
        }
    }

    /// A description for results files.
    pub fn describe(&self) -> NoiseDescription {
        match self {
            NoiseLaw::Gaussian { sigma } => NoiseDescription {
                law: "gaussian",
                sigma: Some(*sigma),
                ..Default::default()
            },
            NoiseLaw::Anisotropic {
                std_devs,
                rotation_seed,
                ..
            } => NoiseDescription {
                law: "anisotropic",
                variances: Some(std_devs.iter().map(|s| s * s).collect()),
                rotation_seed: *rotation_seed,
                ..Default::default()
            },
            NoiseLaw::StudentT { sigma, dof } => NoiseDescription {
                law: "student_t",
                sigma: Some(*sigma),
                dof: Some(*dof),
                ..Default::default()
            },
            NoiseLaw::Multiplicative { sigma, alpha } => NoiseDescription {
                law: "multiplicative",
                sigma: Some(*sigma),
                alpha: Some(*alpha),
                ..Default::default()
            },
            NoiseLaw::FiniteSum => NoiseDescription {
                law: "finite_sum",
                ..Default::default()
            },
        }
    }
}

/// A serialisable description of a noise law.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NoiseDescription {
    /// Law name.
    pub law: &'static str,
    /// σ where the law has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sigma: Option<f64>,
    /// Per-direction variances (anisotropic).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variances: Option<Vec<f64>>,
    /// Rotation seed (anisotropic).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation_seed: Option<u64>,
    /// Degrees of freedom (Student-t).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dof: Option<f64>,
    /// α (multiplicative).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
}

//! Claim C4 (claims.md): "the search-direction noise ω_t = d_t − ∇f(x_t) is Gaussian (and
//! isotropic)" — v3 §3 and App. D.2, whose evidence is histograms of the entries of ω.
//!
//! This module has two halves.
//!
//! **Normality statistics** (reusable, each with the null distribution it is calibrated against):
//!
//! | statistic | function | null distribution / p-value |
//! |---|---|---|
//! | Lilliefors–Kolmogorov–Smirnov D_n, mean and variance estimated | [`ks_statistic`] | seeded Monte Carlo calibration [`LillieforsNull`]; beyond the simulated range the Dallal–Wilkinson (1986) tail formula [`lilliefors_p_dallal_wilkinson`] |
//! | Anderson–Darling A², mean and variance estimated (Stephens' case 3) | [`anderson_darling`] | adjusted A*² = A²(1 + 0.75/n + 2.25/n²) and the D'Agostino–Stephens (1986, Table 4.9) piecewise p-value [`ad_p_value`] |
//! | sample excess kurtosis G₂ and skewness G₁ | [`excess_kurtosis`], [`skewness`] | normal-theory standard errors (exact finite-n formulas) |
//! | sample covariance spectrum, participation ratio (tr Σ)²/tr Σ², entropy effective rank | [`covariance_spectrum`], [`effective_rank`], [`entropy_effective_rank`] | faer's self-adjoint eigendecomposition |
//! | John's sphericity test U = d tr S²/(tr S)² − 1 | in [`CovarianceSpectrum`] | (n−1) d U/2 ~ χ²_{d(d+1)/2−1} under Gaussian Σ ∝ I; divided by Mardia's normalised kurtosis (Muirhead–Waternaux correction) |
//! | Mardia's multivariate kurtosis b_{2,d} | in [`CovarianceSpectrum`] | z = (b₂ − d(d+2)(n−1)/(n+1)) / √(8d(d+2)/n) |
//!
//! **The experiment** [`c4_gaussianity`]: for each optimizer (SGD, SHB, NSHB, QHM ν = 0.7,
//! Nesterov) and each noise law (isotropic Gaussian, anisotropic Gaussian with a power-law spectrum
//! and a Haar rotation, Student-t ν = 3 and ν = 5, multiplicative, and the finite-sum
//! teacher–student), S independent seeds are run to a fixed step t and ω_t is recorded once per
//! seed at the pre-update iterate x_t ([`sample_omega`], which reproduces `runner::run` draw for
//! draw). One sample per seed makes the samples i.i.d., so every test above is valid as stated
//! (a covariance over time within one run would need thinning by the mixing time; across seeds
//! no such argument is needed). ω_t is split, as in the runner, into its conditional mean given
//! the past (the bias, E[ω_t | past] = (c_g − 1)∇f(x_t) + c_m m_{t−1}; β m_{t−1} for SHB) and
//! the random rest c_g (g_t − ∇f(x_t)).
//!
//! Normality of the random vector ω_t is tested on single coordinates and on random unit
//! projections ⟨ω_t, u⟩ (Cramér–Wold), u uniform on the sphere from a fixed seed, with the
//! Anderson–Darling test; a row rejects normality when the Bonferroni-adjusted smallest p-value
//! over the family is below [`ALPHA`] = 0.01 (family-wise false-alarm ≤ 1% per row, whatever the
//! dependence between coordinates). Isotropy is tested with the kurtosis-corrected John test at
//! the same level. The Student-t laws are also swept over the batch size b to find the smallest
//! b at which ω passes at the sample size used ([`StudentSweep`]).

use std::sync::Arc;

use faer::{Mat, Side};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use serde::Serialize;
use serde_json::json;
use statrs::distribution::{ChiSquared, ContinuousCDF};
use statrs::function::erf::erfc;

use crate::error::{Error, Result};
use crate::experiments::{ClaimReport, Scale, Verdict};
use crate::landscape::{Landscape, MultiWell, Quadratic, Rastrigin, TeacherStudent};
use crate::linalg::{norm_sq, random_orthogonal};
use crate::noise::{NoiseLaw, NoiseScratch};
use crate::optimizer::{Optimizer, OptimizerKind};
use crate::runner::{InitBox, Problem, RunConfig};
use crate::stationary::{spectral_radius, stationary_moments, transition};
use crate::stats::Welford;

/// Level of every test in the C4 verdicts (after Bonferroni over a row's family).
pub const ALPHA: f64 = 0.01;
/// Base seed of the runs of this module.
pub const SEED: u64 = 4_040_404;
/// Seed of the random projection directions u.
pub const PROJECTION_SEED: u64 = 0xC4;
/// Seed of the Lilliefors Monte Carlo null tables.
pub const LILLIEFORS_SEED: u64 = 0x1111_EF0E;

// =============================================================================================
// Univariate normality statistics
// =============================================================================================

/// Φ(z), the standard normal CDF, as ½ erfc(−z/√2) (accurate in both tails).
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// ln Φ(z), clamped at ln of the smallest positive double so that far tails stay finite.
fn ln_normal_cdf(z: f64) -> f64 {
    normal_cdf(z).max(f64::MIN_POSITIVE).ln()
}

/// Sample mean x̄ and standard deviation s (divisor n − 1).
pub fn mean_sd(x: &[f64]) -> (f64, f64) {
    let mut w = Welford::new();
    x.iter().for_each(|&v| w.push(v));
    (w.mean(), w.std_dev())
}

/// The standardised order statistics z_(i) = (x_(i) − x̄)/s, or an error when fewer than
/// `min_n` samples, a non-finite value, or s = 0.
fn standardized_sorted(x: &[f64], min_n: usize, what: &str) -> Result<Vec<f64>> {
    if x.len() < min_n {
        return Err(Error::invalid(
            format!("{what} sample size"),
            x.len(),
            format!("at least {min_n} observations"),
        ));
    }
    if let Some(v) = x.iter().find(|v| !v.is_finite()) {
        return Err(Error::invalid(
            format!("{what} sample"),
            v,
            "finite numbers",
        ));
    }
    let (m, s) = mean_sd(x);
    if s.is_nan() || s <= 0.0 {
        return Err(Error::invalid(
            format!("{what} sample"),
            "constant",
            "a sample with s > 0",
        ));
    }
    let mut z: Vec<f64> = x.iter().map(|v| (v - m) / s).collect();
    z.sort_by(f64::total_cmp);
    Ok(z)
}

/// The Lilliefors (Kolmogorov–Smirnov with estimated mean and variance) statistic
/// D_n = sup_x |F_n(x) − Φ((x − x̄)/s)| = max_i max(i/n − Φ(z_(i)), Φ(z_(i)) − (i−1)/n).
///
/// Its null distribution does not depend on the true mean and variance but is *not* the
/// Kolmogorov distribution (estimating the parameters shrinks D): use [`LillieforsNull`] or
/// [`lilliefors_p_dallal_wilkinson`]. Needs n ≥ 5.
pub fn ks_statistic(x: &[f64]) -> Result<f64> {
    let z = standardized_sorted(x, 5, "ks")?;
    Ok(ks_from_sorted(&z))
}

fn ks_from_sorted(z: &[f64]) -> f64 {
    let n = z.len() as f64;
    z.iter().enumerate().fold(0.0, |d, (i, &zi)| {
        let f = normal_cdf(zi);
        d.max((i as f64 + 1.0) / n - f).max(f - i as f64 / n)
    })
}

/// Dallal & Wilkinson's (1986) analytic approximation of the Lilliefors p-value, in the form R's
/// `nortest::lillie.test` uses: for n > 100 the statistic is rescaled to n = 100 by (n/100)^0.49;
/// where the tail formula gives p > 0.1, Stephens' (1974) modified statistic
/// (√n − 0.01 + 0.85/√n) D and its quartic fit are used instead. Accurate to a few percent of p
/// in the tail p < 0.1, which is where it is used here.
pub fn lilliefors_p_dallal_wilkinson(d: f64, n: usize) -> f64 {
    let nf = n as f64;
    let (kd, nd) = if n <= 100 {
        (d, nf)
    } else {
        (d * (nf / 100.0).powf(0.49), 100.0)
    };
    let p = (-7.01256 * kd * kd * (nd + 2.78019) + 2.99587 * kd * (nd + 2.78019).sqrt() - 0.122119
        + 0.974598 / nd.sqrt()
        + 1.67997 / nd)
        .exp();
    if p <= 0.1 {
        return p;
    }
    let kk = (nf.sqrt() - 0.01 + 0.85 / nf.sqrt()) * d;
    let p = if kk <= 0.302 {
        1.0
    } else if kk <= 0.5 {
        2.76773 - 19.828315 * kk + 80.709644 * kk.powi(2) - 138.55152 * kk.powi(3)
            + 81.218052 * kk.powi(4)
    } else if kk <= 0.9 {
        -4.901232 + 40.662806 * kk - 97.490286 * kk.powi(2) + 94.029866 * kk.powi(3)
            - 32.355711 * kk.powi(4)
    } else if kk <= 1.31 {
        6.198765 - 19.39217 * kk + 23.376181 * kk.powi(2) - 16.187713 * kk.powi(3)
            + 5.012162 * kk.powi(4)
    } else {
        0.0
    };
    p.clamp(0.0, 1.0)
}

/// The null distribution of the Lilliefors statistic D_n for one sample size n, by seeded Monte
/// Carlo: R samples of n i.i.d. N(0, 1) (ChaCha8, base seed [`LILLIEFORS_SEED`] or the caller's,
/// stream r for replicate r), each standardised with its own x̄ and s as the test does.
///
/// p-value of an observed D: (1 + #{D_r ≥ D})/(R + 1) (the exact Monte Carlo p-value, valid at
/// every R). When D exceeds every simulated D_r, that estimate is only an upper bound, and the
/// Dallal–Wilkinson tail approximation (smaller, and accurate there) is returned instead.
#[derive(Debug, Clone)]
pub struct LillieforsNull {
    n: usize,
    sorted: Vec<f64>,
}

impl LillieforsNull {
    /// Simulate R = `reps` null statistics at sample size n (n ≥ 5, R ≥ 19).
    pub fn calibrate(n: usize, reps: usize, seed: u64) -> Result<Self> {
        if n < 5 {
            return Err(Error::invalid("lilliefors n", n, "an integer >= 5"));
        }
        if reps < 19 {
            return Err(Error::invalid("lilliefors reps", reps, "an integer >= 19"));
        }
        let mut sorted: Vec<f64> = (0..reps)
            .into_par_iter()
            .map(|r| {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                rng.set_stream(r as u64);
                let x: Vec<f64> = (0..n).map(|_| StandardNormal.sample(&mut rng)).collect();
                standardized_sorted(&x, 5, "ks")
                    .map(|z| ks_from_sorted(&z))
                    .unwrap_or(f64::NAN)
            })
            .collect();
        sorted.retain(|v| v.is_finite());
        sorted.sort_by(f64::total_cmp);
        Ok(Self { n, sorted })
    }

    /// Sample size n of the table.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Number of simulated null statistics R.
    pub fn reps(&self) -> usize {
        self.sorted.len()
    }

    /// The Monte Carlo (1 − α) quantile of D_n: the critical value at level α.
    pub fn critical_value(&self, alpha: f64) -> f64 {
        let r = self.sorted.len();
        let k = (((1.0 - alpha) * r as f64).ceil() as usize).clamp(1, r);
        self.sorted[k - 1]
    }

    /// p-value of an observed D (see the type's docs).
    pub fn p_value(&self, d: f64) -> f64 {
        let r = self.sorted.len();
        let below = self.sorted.partition_point(|&v| v < d);
        let exceed = r - below;
        if exceed == 0 {
            lilliefors_p_dallal_wilkinson(d, self.n).min(1.0 / (r as f64 + 1.0))
        } else {
            (1.0 + exceed as f64) / (r as f64 + 1.0)
        }
    }
}

/// The Anderson–Darling test of normality with estimated mean and variance.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct AdResult {
    /// A² = −n − (1/n) Σ_i (2i − 1)[ln Φ(z_(i)) + ln(1 − Φ(z_(n+1−i)))].
    pub a2: f64,
    /// Stephens' adjusted statistic A*² = A²(1 + 0.75/n + 2.25/n²).
    pub a2_star: f64,
    /// p-value from [`ad_p_value`].
    pub p_value: f64,
}

/// Anderson–Darling A² with x̄ and s estimated (Stephens' case 3), with the D'Agostino–Stephens
/// p-value. Needs n ≥ 8 (as R's `nortest::ad.test`). The critical values of A*² are 0.752 at 5%
/// and 1.035 at 1% (D'Agostino & Stephens 1986, Table 4.7).
pub fn anderson_darling(x: &[f64]) -> Result<AdResult> {
    let z = standardized_sorted(x, 8, "anderson-darling")?;
    let n = z.len();
    let nf = n as f64;
    let s: f64 = (0..n)
        .map(|i| (2.0 * i as f64 + 1.0) * (ln_normal_cdf(z[i]) + ln_normal_cdf(-z[n - 1 - i])))
        .sum();
    let a2 = -nf - s / nf;
    let a2_star = a2 * (1.0 + 0.75 / nf + 2.25 / (nf * nf));
    Ok(AdResult {
        a2,
        a2_star,
        p_value: ad_p_value(a2_star),
    })
}

/// The p-value of the adjusted Anderson–Darling statistic A*² for the composite normal null
/// (mean and variance estimated): D'Agostino & Stephens (1986, Table 4.9), piecewise in A*²:
///
/// | A*² | p |
/// |---|---|
/// | < 0.2 | 1 − exp(−13.436 + 101.14 a − 223.73 a²) |
/// | [0.2, 0.34) | 1 − exp(−8.318 + 42.796 a − 59.938 a²) |
/// | [0.34, 0.6) | exp(0.9177 − 4.279 a − 1.38 a²) |
/// | ≥ 0.6 | exp(1.2937 − 5.709 a + 0.0186 a²) |
///
/// (The Marsaglia–Marsaglia (2004) algorithm is for the *fully specified* null and would be
/// anti-conservative here.) The last branch turns upward past a ≈ 153, where p < 10⁻¹⁸⁹: it is
/// returned as 0 there.
pub fn ad_p_value(a: f64) -> f64 {
    if !a.is_finite() {
        return if a.is_nan() { f64::NAN } else { 0.0 };
    }
    let p = if a < 0.2 {
        1.0 - (-13.436 + 101.14 * a - 223.73 * a * a).exp()
    } else if a < 0.34 {
        1.0 - (-8.318 + 42.796 * a - 59.938 * a * a).exp()
    } else if a < 0.6 {
        (0.9177 - 4.279 * a - 1.38 * a * a).exp()
    } else if a < 153.0 {
        (1.2937 - 5.709 * a + 0.0186 * a * a).exp()
    } else {
        0.0
    };
    p.clamp(0.0, 1.0)
}

/// A shape statistic with its normal-theory standard error and z = value/SE.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Shape {
    /// The statistic (G₁ or G₂).
    pub value: f64,
    /// Its standard error under normality (exact finite-n formula).
    pub std_err: f64,
    /// value / std_err.
    pub z: f64,
}

fn central_moments(x: &[f64]) -> (f64, f64, f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let (mut m2, mut m3, mut m4) = (0.0, 0.0, 0.0);
    for &v in x {
        let c = v - mean;
        let c2 = c * c;
        m2 += c2;
        m3 += c2 * c;
        m4 += c2 * c2;
    }
    (n, m2 / n, m3 / n, m4 / n)
}

/// Sample excess kurtosis G₂ = ((n+1) g₂ + 6)(n−1)/((n−2)(n−3)), g₂ = m₄/m₂² − 3 (the
/// estimator of SAS/SPSS/Excel, unbiased under normality), with its standard error under
/// normality SE = √(24 n (n−1)² / ((n−3)(n−2)(n+3)(n+5))).
///
/// The SE is that of the *null*: for a heavy-tailed law the sampling variance of G₂ involves the
/// eighth moment, which is infinite for Student-t with ν ≤ 8 — there z = G₂/SE is a test
/// statistic, not a confidence interval. Needs n ≥ 4.
pub fn excess_kurtosis(x: &[f64]) -> Result<Shape> {
    if x.len() < 4 {
        return Err(Error::invalid(
            "kurtosis sample size",
            x.len(),
            "at least 4 observations",
        ));
    }
    let (n, m2, _, m4) = central_moments(x);
    let g2 = m4 / (m2 * m2) - 3.0;
    let value = ((n + 1.0) * g2 + 6.0) * (n - 1.0) / ((n - 2.0) * (n - 3.0));
    let std_err =
        (24.0 * n * (n - 1.0).powi(2) / ((n - 3.0) * (n - 2.0) * (n + 3.0) * (n + 5.0))).sqrt();
    Ok(Shape {
        value,
        std_err,
        z: value / std_err,
    })
}

/// Sample skewness G₁ = g₁ √(n(n−1))/(n−2), g₁ = m₃/m₂^{3/2}, with its standard error under
/// normality √(6n(n−1)/((n−2)(n+1)(n+3))). Needs n ≥ 3.
pub fn skewness(x: &[f64]) -> Result<Shape> {
    if x.len() < 3 {
        return Err(Error::invalid(
            "skewness sample size",
            x.len(),
            "at least 3 observations",
        ));
    }
    let (n, m2, m3, _) = central_moments(x);
    let g1 = m3 / m2.powf(1.5);
    let value = g1 * (n * (n - 1.0)).sqrt() / (n - 2.0);
    let std_err = (6.0 * n * (n - 1.0) / ((n - 2.0) * (n + 1.0) * (n + 3.0))).sqrt();
    Ok(Shape {
        value,
        std_err,
        z: value / std_err,
    })
}

// =============================================================================================
// Covariance spectrum, effective rank, sphericity
// =============================================================================================

/// The participation ratio (tr Σ)²/tr(Σ²) = (Σ λ_k)²/Σ λ_k² of a spectrum λ ≥ 0: d for
/// Σ ∝ I_d, 1 for rank one. Negative round-off eigenvalues are clamped at 0.
pub fn effective_rank(eigenvalues: &[f64]) -> f64 {
    let (s, s2) = eigenvalues
        .iter()
        .map(|l| l.max(0.0))
        .fold((0.0, 0.0), |(s, s2), l| (s + l, s2 + l * l));
    s * s / s2
}

/// The entropy effective rank exp(−Σ p_k ln p_k), p_k = λ_k/Σλ (Roy & Vetterli 2007): d for
/// Σ ∝ I_d, 1 for rank one.
pub fn entropy_effective_rank(eigenvalues: &[f64]) -> f64 {
    let total: f64 = eigenvalues.iter().map(|l| l.max(0.0)).sum();
    let h: f64 = eigenvalues
        .iter()
        .map(|l| l.max(0.0) / total)
        .filter(|p| *p > 0.0)
        .map(|p| -p * p.ln())
        .sum();
    h.exp()
}

/// What the sample covariance of n i.i.d. vectors in R^d says about their law.
#[derive(Debug, Clone, Serialize)]
pub struct CovarianceSpectrum {
    /// Dimension d.
    pub dim: usize,
    /// Number of samples n.
    pub samples: usize,
    /// Eigenvalues of S = (1/(n−1)) Σ (x − x̄)(x − x̄)ᵀ, descending.
    pub eigenvalues: Vec<f64>,
    /// tr S.
    pub trace: f64,
    /// Participation ratio of S, (tr S)²/tr(S²) (biased low by sampling: ≈ d/(1 + (d+1)/n) at
    /// Σ ∝ I).
    pub participation_ratio: f64,
    /// The participation ratio from the unbiased (under Gaussianity) estimators of tr Σ² and
    /// (tr Σ)² (Srivastava 2005): with m = n − 1,
    /// tr Σ² ≈ m²/((m−1)(m+2)) (tr S² − (tr S)²/m), (tr Σ)² ≈ (tr S)² − 2 tr Σ²/m.
    pub participation_ratio_corrected: f64,
    /// Entropy effective rank of S.
    pub entropy_rank: f64,
    /// λ_max/λ_min of S.
    pub condition_number: f64,
    /// John's statistic U = d tr(S²)/(tr S)² − 1 = d/PR − 1 (0 iff S ∝ I).
    pub john_u: f64,
    /// p-value of John's test of Σ ∝ I under Gaussianity: (n−1) d U/2 ~ χ²_{d(d+1)/2 − 1}.
    pub john_p: f64,
    /// John's test with the statistic divided by max(1, κ̂), κ̂ = b₂/(d(d+2)) the normalised
    /// Mardia kurtosis: for elliptical laws the statistic is asymptotically (1+κ)χ²
    /// (Muirhead & Waternaux 1980), and for other heavy-tailed laws the division is
    /// conservative. This is the p-value the C4 isotropy verdict uses.
    pub john_p_corrected: f64,
    /// Mardia's b_{2,d} = (1/n) Σ_s [(x_s − x̄)ᵀ S_n⁻¹ (x_s − x̄)]², S_n the ML covariance
    /// (NaN when S is singular).
    pub mardia_b2: f64,
    /// (b₂ − d(d+2)(n−1)/(n+1)) / √(8 d(d+2)/n): N(0, 1) under Gaussianity (n ≫ d).
    pub mardia_z: f64,
}

/// The sample mean and covariance S (divisor n − 1) of n vectors stored row-major (n × d).
pub fn sample_covariance(samples: &[f64], d: usize) -> Result<(Vec<f64>, Mat<f64>)> {
    if d == 0 || !samples.len().is_multiple_of(d) {
        return Err(Error::invalid(
            "samples",
            format!("{} numbers", samples.len()),
            format!("n rows of d = {d} numbers"),
        ));
    }
    let n = samples.len() / d;
    if n < 2 {
        return Err(Error::invalid("samples", n, "at least 2 rows"));
    }
    let mut mean = vec![0.0; d];
    for row in samples.chunks_exact(d) {
        mean.iter_mut().zip(row).for_each(|(m, v)| *m += v);
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let mut acc = vec![0.0; d * d];
    let mut c = vec![0.0; d];
    for row in samples.chunks_exact(d) {
        c.iter_mut()
            .zip(row.iter().zip(&mean))
            .for_each(|(ci, (v, m))| *ci = v - m);
        for i in 0..d {
            let ci = c[i];
            for j in 0..=i {
                acc[i * d + j] += ci * c[j];
            }
        }
    }
    let inv = 1.0 / (n as f64 - 1.0);
    let s = Mat::from_fn(d, d, |i, j| {
        let (a, b) = if i >= j { (i, j) } else { (j, i) };
        acc[a * d + b] * inv
    });
    Ok((mean, s))
}

/// The covariance spectrum of n i.i.d. vectors (row-major n × d, n > d) and the statistics built
/// on it (see [`CovarianceSpectrum`]); eigenvalues by `faer::Mat::self_adjoint_eigen`.
pub fn covariance_spectrum(samples: &[f64], d: usize) -> Result<CovarianceSpectrum> {
    let (mean, s) = sample_covariance(samples, d)?;
    let n = samples.len() / d;
    if n <= d + 1 {
        return Err(Error::invalid(
            "samples",
            n,
            format!("more than d + 1 = {} rows", d + 1),
        ));
    }
    let evd = s.self_adjoint_eigen(Side::Lower).map_err(|e| {
        Error::Open(format!(
            "eigendecomposition of the covariance failed: {e:?}"
        ))
    })?;
    let lam_col = evd.S().column_vector();
    let u = evd.U();
    // faer sorts ascending; keep both orders at hand.
    let asc: Vec<f64> = (0..d).map(|k| lam_col[k]).collect();
    let eigenvalues: Vec<f64> = asc.iter().rev().copied().collect();
    let trace: f64 = asc.iter().sum();
    let trace_sq: f64 = asc.iter().map(|l| l * l).sum();
    let m = n as f64 - 1.0;
    let df = d as f64;
    let tr2_hat = m * m / ((m - 1.0) * (m + 2.0)) * (trace_sq - trace * trace / m);
    let trsq_hat = trace * trace - 2.0 * tr2_hat / m;
    let lmax = eigenvalues[0];
    let lmin = eigenvalues[d - 1];

    // Mardia's b2 from the whitened samples y = Λ^{-1/2} Uᵀ (x − x̄), ML scaling.
    let singular = lmin.is_nan() || lmin <= 1e-12 * lmax;
    let (mardia_b2, mardia_z) = if singular {
        (f64::NAN, f64::NAN)
    } else {
        let scale: Vec<f64> = asc.iter().map(|l| 1.0 / (l * (m / n as f64))).collect();
        let mut c = vec![0.0; d];
        let mut b2 = 0.0;
        for row in samples.chunks_exact(d) {
            c.iter_mut()
                .zip(row.iter().zip(&mean))
                .for_each(|(ci, (v, mu))| *ci = v - mu);
            let mut q = 0.0;
            for k in 0..d {
                let proj: f64 = (0..d).map(|i| u[(i, k)] * c[i]).sum();
                q += proj * proj * scale[k];
            }
            b2 += q * q;
        }
        b2 /= n as f64;
        let nf = n as f64;
        let e = df * (df + 2.0) * (nf - 1.0) / (nf + 1.0);
        let z = (b2 - e) / (8.0 * df * (df + 2.0) / nf).sqrt();
        (b2, z)
    };

    let john_u = df * trace_sq / (trace * trace) - 1.0;
    let dof = df * (df + 1.0) / 2.0 - 1.0;
    let chi = ChiSquared::new(dof).map_err(|e| Error::Open(format!("chi-square({dof}): {e}")))?;
    let t = m * df * john_u / 2.0;
    let kappa = if mardia_b2.is_finite() {
        (mardia_b2 / (df * (df + 2.0))).max(1.0)
    } else {
        1.0
    };
    Ok(CovarianceSpectrum {
        dim: d,
        samples: n,
        trace,
        participation_ratio: trace * trace / trace_sq,
        participation_ratio_corrected: trsq_hat / tr2_hat,
        entropy_rank: entropy_effective_rank(&eigenvalues),
        condition_number: lmax / lmin,
        eigenvalues,
        john_u,
        john_p: chi.sf(t),
        john_p_corrected: chi.sf(t / kappa),
        mardia_b2,
        mardia_z,
    })
}

/// A unit vector uniform on the sphere S^{d−1}: a N(0, I_d) draw normalised.
pub fn random_unit_vector<R: Rng + ?Sized>(d: usize, rng: &mut R) -> Vec<f64> {
    loop {
        let v: Vec<f64> = (0..d).map(|_| StandardNormal.sample(rng)).collect();
        let n = norm_sq(&v).sqrt();
        if n > 1e-300 {
            return v.into_iter().map(|x| x / n).collect();
        }
    }
}

/// k directions uniform on S^{d−1}, reproducible from [`PROJECTION_SEED`] (stream d).
pub fn projection_directions(d: usize, k: usize) -> Vec<Vec<f64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(PROJECTION_SEED);
    rng.set_stream(d as u64);
    (0..k).map(|_| random_unit_vector(d, &mut rng)).collect()
}

// =============================================================================================
// Families of tests on samples of a random vector
// =============================================================================================

/// The tests on one univariate series (a coordinate or a projection of the samples).
#[derive(Debug, Clone, Serialize)]
pub struct SeriesTest {
    /// `"coord j"` or `"proj k"`.
    pub label: String,
    /// Anderson–Darling.
    pub ad: AdResult,
    /// Lilliefors D.
    pub ks_d: f64,
    /// Lilliefors p-value.
    pub ks_p: f64,
    /// Excess kurtosis G₂.
    pub kurtosis: Shape,
    /// Skewness G₁.
    pub skewness: Shape,
}

impl SeriesTest {
    /// All tests on one series.
    pub fn run(label: String, x: &[f64], null: &LillieforsNull) -> Result<Self> {
        let ks_d = ks_statistic(x)?;
        Ok(Self {
            label,
            ad: anderson_darling(x)?,
            ks_d,
            ks_p: if null.n() == x.len() {
                null.p_value(ks_d)
            } else {
                lilliefors_p_dallal_wilkinson(ks_d, x.len())
            },
            kurtosis: excess_kurtosis(x)?,
            skewness: skewness(x)?,
        })
    }
}

/// A family of normality tests on coordinates and random projections of n samples of a random
/// vector, with Bonferroni-adjusted smallest p-values (valid under any dependence).
#[derive(Debug, Clone, Serialize)]
pub struct FamilyResult {
    /// The individual tests (not serialised: the summaries below are).
    #[serde(skip_serializing)]
    pub tests: Vec<SeriesTest>,
    /// min(1, m · min_k p_k^AD) over the m tests.
    pub ad_bonferroni_p: f64,
    /// min(1, m · min_k p_k^KS).
    pub ks_bonferroni_p: f64,
    /// Mean G₂ over the coordinates tested.
    pub kurtosis_coord_mean: f64,
    /// Mean G₂ over the projections.
    pub kurtosis_proj_mean: f64,
    /// The largest |G₂/SE| in the family.
    pub kurtosis_max_abs_z: f64,
    /// The largest |G₁/SE| in the family.
    pub skewness_max_abs_z: f64,
    /// Normal-theory SE of one G₂ at this n.
    pub kurtosis_se: f64,
}

/// Run the family on `samples` (row-major n × d): the coordinates `coords` and the projections
/// ⟨x, u⟩ for u in `dirs`.
pub fn normality_family(
    samples: &[f64],
    d: usize,
    coords: &[usize],
    dirs: &[Vec<f64>],
    null: &LillieforsNull,
) -> Result<FamilyResult> {
    if d == 0 || !samples.len().is_multiple_of(d) {
        return Err(Error::invalid(
            "samples",
            samples.len(),
            format!("n rows of d = {d} numbers"),
        ));
    }
    let mut tests = Vec::with_capacity(coords.len() + dirs.len());
    for &j in coords {
        if j >= d {
            return Err(Error::invalid(
                "coordinate",
                j,
                format!("an index < d = {d}"),
            ));
        }
        let x: Vec<f64> = samples.chunks_exact(d).map(|r| r[j]).collect();
        tests.push(SeriesTest::run(format!("coord {j}"), &x, null)?);
    }
    for (k, u) in dirs.iter().enumerate() {
        if u.len() != d {
            return Err(Error::invalid(
                "direction",
                u.len(),
                format!("d = {d} entries"),
            ));
        }
        let x: Vec<f64> = samples
            .chunks_exact(d)
            .map(|r| crate::linalg::dot(r, u))
            .collect();
        tests.push(SeriesTest::run(format!("proj {k}"), &x, null)?);
    }
    let m = tests.len() as f64;
    let min_p = |f: &dyn Fn(&SeriesTest) -> f64| tests.iter().map(f).fold(1.0_f64, f64::min);
    let mean_of = |it: &[SeriesTest]| {
        if it.is_empty() {
            f64::NAN
        } else {
            it.iter().map(|t| t.kurtosis.value).sum::<f64>() / it.len() as f64
        }
    };
    Ok(FamilyResult {
        ad_bonferroni_p: (m * min_p(&|t| t.ad.p_value)).min(1.0),
        ks_bonferroni_p: (m * min_p(&|t| t.ks_p)).min(1.0),
        kurtosis_coord_mean: mean_of(&tests[..coords.len()]),
        kurtosis_proj_mean: mean_of(&tests[coords.len()..]),
        kurtosis_max_abs_z: tests.iter().map(|t| t.kurtosis.z.abs()).fold(0.0, f64::max),
        skewness_max_abs_z: tests.iter().map(|t| t.skewness.z.abs()).fold(0.0, f64::max),
        kurtosis_se: tests.first().map_or(f64::NAN, |t| t.kurtosis.std_err),
        tests,
    })
}

/// Up to `k` coordinate indices spread evenly over 0..d.
pub fn spread_coords(d: usize, k: usize) -> Vec<usize> {
    if d <= k {
        (0..d).collect()
    } else {
        (0..k).map(|i| i * d / k).collect()
    }
}

// =============================================================================================
// Samples of ω_t, one per seed
// =============================================================================================

/// ω_t at one fixed step t, one sample per seed (i.i.d. across seeds), split as in the runner.
#[derive(Debug, Clone)]
pub struct OmegaSamples {
    /// Dimension d.
    pub dim: usize,
    /// The step t at which ω was recorded (the last step of the run, pre-update).
    pub step: usize,
    /// Seeds run.
    pub seeds: usize,
    /// Seeds whose iterate became non-finite (dropped).
    pub diverged: usize,
    /// ω_t = d_t − ∇f(x_t), row-major n × d over the kept seeds, in seed order.
    pub omega: Vec<f64>,
    /// The bias E[ω_t | past] = (c_g − 1)∇f(x_t) + c_m m_{t−1}, same layout.
    pub bias: Vec<f64>,
    /// The random rest ω_t − E[ω_t | past] = c_g (g_t − ∇f(x_t)), same layout.
    pub random: Vec<f64>,
}

impl OmegaSamples {
    /// Number of kept samples n.
    pub fn n(&self) -> usize {
        self.omega.len() / self.dim.max(1)
    }

    /// Over-seed mean of ‖row‖² of one of the three parts.
    pub fn mean_sq_norm(part: &[f64], d: usize) -> f64 {
        let mut w = Welford::new();
        part.chunks_exact(d).for_each(|r| w.push(norm_sq(r)));
        w.mean()
    }
}

/// Run every seed of (`problem`, `cfg`) for `cfg.steps` steps and record ω_t, its bias and its
/// random part at the last step t = steps − 1, at the pre-update iterate x_t.
///
/// The loop is `runner::run`'s, draw for draw: seed i draws from `ChaCha8Rng::seed_from_u64(seed)`
/// on stream i, x_0 ~ U([low, high]^d) coordinate by coordinate, then per step ∇f(x_t) from the
/// landscape, g_t from [`NoiseLaw::sample_minibatch`], d_t and m_t from
/// [`Optimizer::direction`], x_{t+1} = x_t − η d_t. So `runner::run` with burn-in = steps − 1
/// measures exactly these ω_t (its bias and random parts are the over-seed means of the squared
/// norms here). `cfg.burn_in` and `cfg.every` are ignored. Seeds are run in parallel and
/// collected in seed order: the result does not depend on the thread count.
pub fn sample_omega(problem: &Problem, cfg: &RunConfig) -> Result<OmegaSamples> {
    let cfg_check = RunConfig {
        burn_in: cfg.steps.saturating_sub(1),
        every: 1,
        ..*cfg
    };
    cfg_check.validate(problem)?;
    let d = problem.landscape.dim();
    let per_seed: Vec<Option<Vec<f64>>> = (0..cfg.seeds)
        .into_par_iter()
        .map(|i| omega_one_seed(problem, cfg, i))
        .collect();
    let mut out = OmegaSamples {
        dim: d,
        step: cfg.steps - 1,
        seeds: cfg.seeds,
        diverged: 0,
        omega: Vec::with_capacity(cfg.seeds * d),
        bias: Vec::with_capacity(cfg.seeds * d),
        random: Vec::with_capacity(cfg.seeds * d),
    };
    for r in per_seed {
        match r {
            Some(v) => {
                out.omega.extend_from_slice(&v[..d]);
                out.bias.extend_from_slice(&v[d..2 * d]);
                out.random.extend_from_slice(&v[2 * d..]);
            }
            None => out.diverged += 1,
        }
    }
    Ok(out)
}

/// One seed: `Some([ω, bias, random])` (3d numbers) or `None` when the iterate diverged.
fn omega_one_seed(problem: &Problem, cfg: &RunConfig, index: usize) -> Option<Vec<f64>> {
    let land = problem.landscape.as_ref();
    let d = land.dim();
    let opt = &cfg.optimizer;
    let coef = opt.coefficients();
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    rng.set_stream(index as u64);
    let mut x: Vec<f64> = problem.init.sample(d, &mut rng);
    let (mut grad, mut g, mut m, mut dir) =
        (vec![0.0; d], vec![0.0; d], vec![0.0; d], vec![0.0; d]);
    let mut scratch = NoiseScratch::new(d);
    let mut out = vec![0.0; 3 * d];
    let last = cfg.steps - 1;
    // The finite-sum law builds g_t from per-sample gradients alone: ∇f(x_t) (n per-sample
    // gradients) is only needed where ω_t is recorded. Skipping it elsewhere changes no draw.
    let grad_every_step =
        !matches!(problem.noise, NoiseLaw::FiniteSum) || land.finite_sum().is_none();
    for t in 0..cfg.steps {
        if t == last {
            land.value_gradient(&x, &mut grad);
        } else if grad_every_step {
            land.gradient(&x, &mut grad);
        }
        problem
            .noise
            .sample_minibatch(land, &x, &grad, cfg.batch, &mut rng, &mut scratch, &mut g);
        if t == last {
            // E[ω_t | past] needs m_{t−1}: record it before the update.
            for i in 0..d {
                out[d + i] = (coef.c_g - 1.0) * grad[i] + coef.c_m * m[i];
            }
        }
        opt.direction(&g, &mut m, &mut dir);
        if t == last {
            for i in 0..d {
                let w = dir[i] - grad[i];
                out[i] = w;
                out[2 * d + i] = w - out[d + i];
            }
        }
        opt.apply(&mut x, &dir);
        if !x.iter().all(|v| v.is_finite()) {
            return None;
        }
    }
    Some(out)
}

/// Steps after which the linear iteration of `opt` on a quadratic with curvatures `eigenvalues`
/// has forgotten its start to a factor `tol`: ⌈ln tol / ln ρ_max⌉, ρ_max the largest spectral
/// radius of the per-eigenvalue transition matrix (`stationary::transition`). 1 for SGD, whose
/// ω_t = g_t − ∇f(x_t) does not depend on the state for state-independent noise laws.
pub fn memory_steps(opt: &Optimizer, eigenvalues: &[f64], tol: f64) -> Result<usize> {
    if opt.kind == OptimizerKind::Sgd {
        return Ok(1);
    }
    let c = opt.coefficients();
    let rho = eigenvalues
        .iter()
        .map(|&l| spectral_radius(&transition(&c, opt.lr, l).0))
        .fold(0.0, f64::max);
    if rho.is_nan() || rho >= 1.0 {
        return Err(Error::invalid(
            "lr",
            opt.lr,
            format!("a stable step for {} (rho = {rho})", opt.kind),
        ));
    }
    Ok(((tol.ln() / rho.ln()).ceil() as usize).max(1))
}

/// The weights w_k of ω_t = Σ_{k=0}^{t} w_k ε_{t−k} + (deterministic) on the 1-d quadratic
/// f = ½λx² with additive noise ε (t = `steps` − 1): w_0 = c_g and w_k = hᵀ A^{k−1} B for
/// k ≥ 1, with A, B the state transition of `stationary::transition` and
/// h = ((c_g − 1)λ, c_m) (`proofs/quadratic-stationary-moments.md` §2).
pub fn noise_weights(opt: &Optimizer, lambda: f64, steps: usize) -> Vec<f64> {
    let c = opt.coefficients();
    let (a, b) = transition(&c, opt.lr, lambda);
    let h = [(c.c_g - 1.0) * lambda, c.c_m];
    let mut w = Vec::with_capacity(steps);
    w.push(c.c_g);
    let mut v = b; // A^{k−1} B
    for _ in 1..steps {
        w.push(h[0] * v[0] + h[1] * v[1]);
        v = [
            a[0][0] * v[0] + a[0][1] * v[1],
            a[1][0] * v[0] + a[1][1] * v[1],
        ];
    }
    w
}

/// The kurtosis dilution N_eff = (Σ w_k²)²/Σ w_k⁴ of a weighted sum of i.i.d. variables: its
/// excess kurtosis is that of one term divided by N_eff (1 for SGD).
pub fn kurtosis_dilution(w: &[f64]) -> f64 {
    let (s2, s4) = w
        .iter()
        .fold((0.0, 0.0), |(s2, s4), v| (s2 + v * v, s4 + v.powi(4)));
    s2 * s2 / s4
}

/// The cubic tail factor Σ|w_k|³/(Σ w_k²)^{3/2} of a weighted sum of i.i.d. variables with a
/// power tail P(|ε| > x) ~ c x^{−3} (Student-t, ν = 3): in units of its standard deviation the
/// sum has the tail c' x^{−3} with c' = c × this factor (1 for SGD).
pub fn tail_factor_nu3(w: &[f64]) -> f64 {
    let (s2, s3) = w
        .iter()
        .fold((0.0, 0.0), |(s2, s3), v| (s2 + v * v, s3 + v.abs().powi(3)));
    s3 / s2.powf(1.5)
}

// =============================================================================================
// The C4 experiment
// =============================================================================================

/// Sizes of the C4 experiment at each [`Scale`].
#[derive(Debug, Clone, Copy, Serialize)]
pub struct C4Sizes {
    /// Seeds S = sample size n of every test.
    pub seeds: usize,
    /// Dimension d of the quadratic and the multi-well.
    pub dim: usize,
    /// Mini-batch size b of the main table (the paper's sampling mode uses b = 8).
    pub batch: usize,
    /// Coordinates tested per row (at most).
    pub coords: usize,
    /// Random projections tested per row.
    pub projections: usize,
    /// Monte Carlo replicates of the Lilliefors null.
    pub lilliefors_reps: usize,
    /// Steps on the multi-well and the teacher–student landscapes.
    pub nonlinear_steps: usize,
    /// Independent replicates R per b in the Student-t batch sweep (coordinates of an
    /// isotropic quadratic).
    pub sweep_replicates: usize,
    /// Largest b of the sweep.
    pub sweep_max_batch: usize,
}

impl C4Sizes {
    /// The sizes used at `scale`.
    pub fn at(scale: Scale) -> Self {
        match scale {
            Scale::Quick => C4Sizes {
                seeds: 400,
                dim: 8,
                batch: 8,
                coords: 8,
                projections: 8,
                lilliefors_reps: 499,
                nonlinear_steps: 150,
                sweep_replicates: 8,
                sweep_max_batch: 256,
            },
            Scale::Full => C4Sizes {
                seeds: 2000,
                dim: 16,
                batch: 8,
                coords: 16,
                projections: 16,
                lilliefors_reps: 1999,
                nonlinear_steps: 300,
                sweep_replicates: 8,
                sweep_max_batch: 1024,
            },
        }
    }
}

/// Momentum β of every momentum optimizer here (the paper's value).
pub const BETA: f64 = 0.9;
/// QHM's immediate discount ν.
pub const QHM_NU: f64 = 0.7;
/// η on the quadratic and the teacher–student landscape.
pub const LR: f64 = 0.05;
/// η on the multi-well (curvature up to 44 on its domain) and Rastrigin (up to 2 + 4π²).
pub const LR_MULTIWELL: f64 = 0.02;
/// Transient tolerance: runs on the quadratic last until ρ_max^t ≤ this ([`memory_steps`]).
pub const MEMORY_TOL: f64 = 1e-2;

/// The optimizers of the C4 table with η = `lr`, β = [`BETA`], QHM ν = [`QHM_NU`].
pub fn c4_optimizers(lr: f64) -> Result<Vec<Optimizer>> {
    OptimizerKind::ALL
        .iter()
        .map(|&k| c4_optimizer(k, lr))
        .collect()
}

/// One optimizer of the C4 table (β = 0 for SGD).
pub fn c4_optimizer(kind: OptimizerKind, lr: f64) -> Result<Optimizer> {
    let beta = if kind == OptimizerKind::Sgd {
        0.0
    } else {
        BETA
    };
    Optimizer::new(kind, lr, beta, QHM_NU)
}

/// The curvatures of the C4 quadratic: λ_k log-spaced in [0.5, 5] (condition number 10).
pub fn quadratic_eigenvalues(d: usize) -> Vec<f64> {
    if d == 1 {
        return vec![1.0];
    }
    (0..d)
        .map(|k| 0.5 * 10f64.powf(k as f64 / (d - 1) as f64))
        .collect()
}

/// The anisotropic law of C4: per-direction variances s_k² ∝ 1/k (a power-law spectrum),
/// normalised so that Σ s_k² = d σ² (the same C² as the isotropic law), rotated by the Haar
/// matrix of `rotation_seed`.
pub fn anisotropic_law(d: usize, sigma: f64, rotation_seed: u64) -> NoiseLaw {
    let raw: Vec<f64> = (1..=d).map(|k| 1.0 / k as f64).collect();
    let total: f64 = raw.iter().sum();
    let std_devs = raw
        .iter()
        .map(|v| (v * d as f64 * sigma * sigma / total).sqrt())
        .collect();
    NoiseLaw::Anisotropic {
        std_devs,
        rotation: Some(random_orthogonal(d, rotation_seed)),
        rotation_seed: Some(rotation_seed),
    }
}

/// One landscape × noise-law case of the C4 table.
#[derive(Clone)]
pub struct C4Case {
    /// Landscape label.
    pub landscape: &'static str,
    /// Noise-law label.
    pub law: String,
    /// The problem (landscape, law, x_0 box).
    pub problem: Problem,
    /// η.
    pub lr: f64,
    /// Steps per seed; ω is recorded at t = steps − 1.
    pub steps: usize,
}

/// The cases of the C4 table at `sizes.dim`:
///
/// | landscape | law | x_0 | η | steps |
/// |---|---|---|---|---|
/// | diagonal quadratic, λ log-spaced in [0.5, 5] | Gaussian σ = 1 | 𝟙 (fixed) | 0.05 | [`quadratic_steps`] |
/// | same | anisotropic (s_k² ∝ 1/k, Haar rotation, C² = d) | 𝟙 | 0.05 | same |
/// | same | Student-t ν = 3, σ = 1 | 𝟙 | 0.05 | same |
/// | same | Student-t ν = 5, σ = 1 | 𝟙 | 0.05 | same |
/// | same | multiplicative σ = 1, α = 3 | 𝟙 | 0.05 | same |
/// | multi-well D = 1, tilt 0.5 ("cold": the iterates stay in their wells) | Gaussian σ = 5 | U[−2, 2]^d | 0.02 | `nonlinear_steps` |
/// | Rastrigin A = 1 ("hot": the iterates roam over many basins) | Gaussian σ = 20 | U[−2, 2]^d | 0.02 | `nonlinear_steps` |
/// | teacher–student p = 8, h = 4 (d = 36), n = 512, label noise 0.5 | finite-sum | U[−1, 1]^d | 0.05 | `nonlinear_steps` |
pub fn c4_cases(sizes: &C4Sizes) -> Result<Vec<C4Case>> {
    let d = sizes.dim;
    let quad: Arc<dyn Landscape> = Arc::new(Quadratic::new(quadratic_eigenvalues(d), None, 5.0)?);
    let qsteps = quadratic_steps(d)?;
    let q = |law: &str, noise: NoiseLaw| C4Case {
        landscape: "quadratic",
        law: law.to_string(),
        problem: Problem {
            landscape: quad.clone(),
            noise,
            init: InitBox {
                low: 1.0,
                high: 1.0,
            },
        },
        lr: LR,
        steps: qsteps,
    };
    let mw: Arc<dyn Landscape> = Arc::new(MultiWell::new(d, 1.0, 0.5)?);
    let ras: Arc<dyn Landscape> = Arc::new(Rastrigin::new(d, 1.0)?);
    let ts: Arc<dyn Landscape> = Arc::new(TeacherStudent::new(8, 4, 512, 0.5, 11)?);
    Ok(vec![
        q("gaussian", NoiseLaw::Gaussian { sigma: 1.0 }),
        q("anisotropic", anisotropic_law(d, 1.0, 7)),
        q(
            "student_t3",
            NoiseLaw::StudentT {
                sigma: 1.0,
                dof: 3.0,
            },
        ),
        q(
            "student_t5",
            NoiseLaw::StudentT {
                sigma: 1.0,
                dof: 5.0,
            },
        ),
        q(
            "multiplicative",
            NoiseLaw::Multiplicative {
                sigma: 1.0,
                alpha: 3.0,
            },
        ),
        C4Case {
            landscape: "multi_well",
            law: "gaussian".to_string(),
            problem: Problem {
                landscape: mw,
                noise: NoiseLaw::Gaussian { sigma: 5.0 },
                init: InitBox {
                    low: -2.0,
                    high: 2.0,
                },
            },
            lr: LR_MULTIWELL,
            steps: sizes.nonlinear_steps,
        },
        C4Case {
            landscape: "rastrigin",
            law: "gaussian".to_string(),
            problem: Problem {
                landscape: ras,
                noise: NoiseLaw::Gaussian { sigma: 20.0 },
                init: InitBox {
                    low: -2.0,
                    high: 2.0,
                },
            },
            lr: LR_MULTIWELL,
            steps: sizes.nonlinear_steps,
        },
        C4Case {
            landscape: "teacher_student",
            law: "finite_sum".to_string(),
            problem: Problem {
                landscape: ts,
                noise: NoiseLaw::FiniteSum,
                init: InitBox {
                    low: -1.0,
                    high: 1.0,
                },
            },
            lr: LR,
            steps: sizes.nonlinear_steps,
        },
    ])
}

/// Whether ω_t is *exactly* Gaussian for this case and optimizer (`proofs/C4-gaussianity.md`
/// §2): `Some(true)` for linear dynamics from a fixed x_0 driven by Gaussian noise (quadratic
/// with the Gaussian or anisotropic law), and for SGD whenever the noise is Gaussian and
/// state-independent (then ω^SGD_t = ξ_t); `Some(false)` where the law of ω_t is provably not
/// Gaussian (Student-t, multiplicative scale mixtures, finite sums, nonlinear ∇f in the momentum
/// buffer); `None` where this module claims nothing.
pub fn exactly_gaussian(case: &C4Case, kind: OptimizerKind) -> Option<bool> {
    match (&case.problem.noise, case.landscape) {
        (NoiseLaw::Gaussian { .. } | NoiseLaw::Anisotropic { .. }, "quadratic") => Some(true),
        (NoiseLaw::Gaussian { .. } | NoiseLaw::Anisotropic { .. }, _) => {
            Some(kind == OptimizerKind::Sgd)
        }
        (NoiseLaw::StudentT { .. } | NoiseLaw::Multiplicative { .. } | NoiseLaw::FiniteSum, _) => {
            Some(false)
        }
    }
}

/// The exact participation ratio of Cov(ω_t) at stationarity, and whether Cov(ω_t) ∝ I exactly,
/// where known:
///
/// * diagonal quadratic, per-coordinate noise variance σ² (Gaussian, Student-t): Cov(ω) is
///   diagonal with the entries `stationary_moments(...).coords[k].omega_sq` (the Lyapunov
///   solution uses second moments only, so it holds for Student-t too);
/// * SGD with the anisotropic law: Cov(ω) = Q S² Qᵀ/b, participation ratio (Σ s²)²/Σ s⁴;
/// * SGD with the multiplicative law: Cov(ω | x) = s²(x) I/b, so Cov(ω) ∝ I;
/// * the multi-well and Rastrigin: separable, with i.i.d. coordinates of x_0 and of the noise,
///   so the coordinates of ω are i.i.d.: Cov(ω) ∝ I.
pub fn exact_isotropy(
    case: &C4Case,
    opt: &Optimizer,
    batch: usize,
) -> Result<(Option<f64>, Option<bool>)> {
    let d = case.problem.landscape.dim();
    let sgd = opt.kind == OptimizerKind::Sgd;
    Ok(match (&case.problem.noise, case.landscape) {
        (NoiseLaw::Gaussian { sigma } | NoiseLaw::StudentT { sigma, .. }, "quadratic") => {
            let m = stationary_moments(
                opt,
                &quadratic_eigenvalues(d),
                &vec![sigma * sigma; d],
                batch as f64,
            )?;
            let v: Vec<f64> = m.coords.iter().map(|c| c.omega_sq).collect();
            let (lo, hi) = v.iter().fold((f64::INFINITY, 0.0_f64), |(lo, hi), &x| {
                (lo.min(x), hi.max(x))
            });
            (Some(effective_rank(&v)), Some(hi / lo - 1.0 < 1e-9))
        }
        (NoiseLaw::Anisotropic { std_devs, .. }, "quadratic") if sgd => {
            let v: Vec<f64> = std_devs.iter().map(|s| s * s).collect();
            let pr = effective_rank(&v);
            (Some(pr), Some((pr - d as f64).abs() < 1e-9))
        }
        (NoiseLaw::Multiplicative { .. }, "quadratic") if sgd => (None, Some(true)),
        (_, "multi_well" | "rastrigin") => (None, Some(true)),
        _ => (None, None),
    })
}

/// What one optimizer × case row of the C4 table found.
#[derive(Debug, Clone, Serialize)]
pub struct C4Row {
    /// Landscape.
    pub landscape: &'static str,
    /// Noise law.
    pub law: String,
    /// Optimizer.
    pub optimizer: OptimizerKind,
    /// η.
    pub lr: f64,
    /// b.
    pub batch: usize,
    /// Step t of the samples.
    pub step: usize,
    /// Dimension d.
    pub dim: usize,
    /// Samples n (kept seeds).
    pub n: usize,
    /// Diverged seeds (dropped).
    pub diverged: usize,
    /// Normality family on ω_t.
    pub omega: FamilyResult,
    /// Normality family on the random part c_g (g_t − ∇f(x_t)).
    pub random_part: FamilyResult,
    /// Normality family on the bias part E[ω_t | past] (None for SGD, whose bias is 0).
    pub bias_part: Option<FamilyResult>,
    /// Covariance spectrum of ω_t over seeds.
    pub spectrum: CovarianceSpectrum,
    /// The exact stationary participation ratio of Cov(ω), where known ([`exact_isotropy`]).
    pub pr_exact: Option<f64>,
    /// Theory: ω_t exactly Gaussian here ([`exactly_gaussian`]).
    pub exactly_gaussian: Option<bool>,
    /// Theory: Cov(ω_t) exactly ∝ I here ([`exact_isotropy`]).
    pub exactly_isotropic: Option<bool>,
    /// E‖ω_t‖² over seeds.
    pub omega_sq: f64,
    /// E‖E[ω_t | past]‖².
    pub bias_sq: f64,
    /// E‖ω_t − E[ω_t | past]‖².
    pub random_sq: f64,
    /// Anderson–Darling p on all n·d entries of ω pooled (what a histogram of the entries
    /// shows; descriptive only: the entries of one seed are not independent in general).
    pub pooled_ad_p: f64,
    /// G₂ of the pooled entries.
    pub pooled_kurtosis: f64,
    /// The AD family rejects normality of ω_t at [`ALPHA`] (Bonferroni).
    pub normality_rejected: bool,
    /// The kurtosis-corrected John test rejects Cov(ω_t) ∝ I at [`ALPHA`].
    pub isotropy_rejected: bool,
}

/// The run behind a C4 row: S seeds of `opt` on `case`, ω measured at t = steps − 1 only.
pub fn c4_config(case: &C4Case, opt: Optimizer, sizes: &C4Sizes) -> RunConfig {
    RunConfig {
        optimizer: opt,
        batch: sizes.batch,
        steps: case.steps,
        burn_in: case.steps - 1,
        seeds: sizes.seeds,
        seed: SEED,
        every: 1,
    }
}

/// Run one optimizer on one case: S seeds, ω_t at t = steps − 1, and every statistic.
/// `null` is the Lilliefors table for n = `sizes.seeds` (other n fall back on Dallal–Wilkinson).
pub fn c4_row(
    case: &C4Case,
    opt: Optimizer,
    sizes: &C4Sizes,
    null: &LillieforsNull,
) -> Result<C4Row> {
    let s = sample_omega(&case.problem, &c4_config(case, opt, sizes))?;
    let d = s.dim;
    let coords = spread_coords(d, sizes.coords);
    let dirs = projection_directions(d, sizes.projections);
    let omega = normality_family(&s.omega, d, &coords, &dirs, null)?;
    let random_part = normality_family(&s.random, d, &coords, &dirs, null)?;
    let bias_part = if opt.kind == OptimizerKind::Sgd {
        None
    } else {
        Some(normality_family(&s.bias, d, &coords, &dirs, null)?)
    };
    let spectrum = covariance_spectrum(&s.omega, d)?;
    let (pr_exact, exactly_isotropic) = exact_isotropy(case, &opt, sizes.batch)?;
    let pooled_ad = anderson_darling(&s.omega)?;
    let pooled_k = excess_kurtosis(&s.omega)?;
    Ok(C4Row {
        landscape: case.landscape,
        law: case.law.clone(),
        optimizer: opt.kind,
        lr: opt.lr,
        batch: sizes.batch,
        step: s.step,
        dim: d,
        n: s.n(),
        diverged: s.diverged,
        normality_rejected: omega.ad_bonferroni_p < ALPHA,
        isotropy_rejected: spectrum.john_p_corrected < ALPHA,
        omega,
        random_part,
        bias_part,
        pr_exact,
        exactly_gaussian: exactly_gaussian(case, opt.kind),
        exactly_isotropic,
        omega_sq: OmegaSamples::mean_sq_norm(&s.omega, d),
        bias_sq: OmegaSamples::mean_sq_norm(&s.bias, d),
        random_sq: OmegaSamples::mean_sq_norm(&s.random, d),
        pooled_ad_p: pooled_ad.p_value,
        pooled_kurtosis: pooled_k.value,
        spectrum,
    })
}

/// The number of steps run on the C4 quadratic: the longest [`memory_steps`] over the
/// optimizers at tolerance [`MEMORY_TOL`] (the transient from x_0 has decayed below 1% in
/// amplitude, the covariance is within 10⁻⁴ of stationary).
pub fn quadratic_steps(d: usize) -> Result<usize> {
    let eig = quadratic_eigenvalues(d);
    let mut steps = 1;
    for opt in c4_optimizers(LR)? {
        steps = steps.max(memory_steps(&opt, &eig, MEMORY_TOL)?);
    }
    Ok(steps)
}

/// Run the C4 table: every optimizer × every case of [`c4_cases`].
pub fn c4_table(scale: Scale) -> Result<Vec<C4Row>> {
    let sizes = C4Sizes::at(scale);
    let null = LillieforsNull::calibrate(sizes.seeds, sizes.lilliefors_reps, LILLIEFORS_SEED)?;
    let mut rows = Vec::new();
    for case in c4_cases(&sizes)? {
        for opt in c4_optimizers(case.lr)? {
            rows.push(c4_row(&case, opt, &sizes, &null)?);
        }
    }
    Ok(rows)
}

/// One b of the Student-t batch sweep.
#[derive(Debug, Clone, Serialize)]
pub struct SweepPoint {
    /// b.
    pub batch: usize,
    /// Independent replicates R (coordinates).
    pub replicates: usize,
    /// Replicates in which AD rejects normality at [`ALPHA`].
    pub rejections: usize,
    /// Median AD p-value over the replicates.
    pub median_p: f64,
    /// Mean G₂ over the replicates.
    pub kurtosis_mean: f64,
    /// Normal-theory SE of that mean, SE(G₂)/√R (a null reference: for ν ≤ 8 the sampling
    /// variance of G₂ is infinite).
    pub kurtosis_mean_se: f64,
    /// The exact excess kurtosis of ω_t for this b: 6/((ν − 4) b N_eff) for ν > 4 (the excess
    /// kurtosis of t_ν is 6/(ν − 4), a mean of b divides it by b, the optimizer's weighted sum
    /// by N_eff = [`kurtosis_dilution`]); ∞ for ν ≤ 4.
    pub kurtosis_theory: f64,
    /// Median p ≥ [`ALPHA`]: AD at level α rejects in at most half of the replicates.
    pub passes: bool,
}

/// The Student-t batch sweep for one optimizer and ν.
#[derive(Debug, Clone, Serialize)]
pub struct StudentSweep {
    /// Optimizer.
    pub optimizer: OptimizerKind,
    /// Degrees of freedom ν.
    pub dof: f64,
    /// Steps per seed (one for SGD; [`memory_steps`] at [`MEMORY_TOL`] otherwise).
    pub steps: usize,
    /// Samples n per replicate.
    pub n: usize,
    /// N_eff = (Σ w_k²)²/Σ w_k⁴ of the optimizer's noise weights ([`noise_weights`], λ = 1).
    pub kurtosis_dilution: f64,
    /// Σ|w_k|³/(Σ w_k²)^{3/2} ([`tail_factor_nu3`]).
    pub tail_factor_nu3: f64,
    /// The points b = 1, 2, 4, … run (stopping after two consecutive passes).
    pub points: Vec<SweepPoint>,
    /// The smallest b of the grid that passes together with 2b; None when none did up to the
    /// largest b.
    pub min_batch: Option<usize>,
}

/// Sweep b = 1, 2, 4, … for the Student-t law with ν = `dof`, σ = 1: S = `sizes.seeds` seeds on
/// the isotropic quadratic f = ½‖x‖² in dimension R = `sizes.sweep_replicates`, x_0 = 𝟙, η =
/// [`LR`]. The coordinates are independent and identically distributed (A = I, i.i.d. noise
/// coordinates, separable update), so the R coordinates of ω_t are R independent replicates of
/// the same univariate law, each tested by Anderson–Darling on its n = S samples. A batch size
/// *passes* when the median of the R p-values is ≥ [`ALPHA`]; the sweep stops after two
/// consecutive passes or past `sizes.sweep_max_batch`.
pub fn student_sweep(kind: OptimizerKind, dof: f64, sizes: &C4Sizes) -> Result<StudentSweep> {
    let r = sizes.sweep_replicates;
    let eig = vec![1.0; r];
    let problem = Problem {
        landscape: Arc::new(Quadratic::new(eig.clone(), None, 5.0)?),
        noise: NoiseLaw::StudentT { sigma: 1.0, dof },
        init: InitBox {
            low: 1.0,
            high: 1.0,
        },
    };
    let opt = c4_optimizer(kind, LR)?;
    let steps = memory_steps(&opt, &eig, MEMORY_TOL)?;
    let w = noise_weights(&opt, 1.0, steps);
    let n_eff = kurtosis_dilution(&w);
    let mut points: Vec<SweepPoint> = Vec::new();
    let mut min_batch = None;
    let mut n = 0;
    let mut b = 1;
    while b <= sizes.sweep_max_batch {
        let cfg = RunConfig {
            optimizer: opt,
            batch: b,
            steps,
            burn_in: steps - 1,
            seeds: sizes.seeds,
            seed: SEED ^ ((b as u64) << 20),
            every: 1,
        };
        let s = sample_omega(&problem, &cfg)?;
        n = s.n();
        let mut ps = Vec::with_capacity(r);
        let mut kurt = Welford::new();
        let mut se = f64::NAN;
        for j in 0..r {
            let x: Vec<f64> = s.omega.chunks_exact(r).map(|row| row[j]).collect();
            ps.push(anderson_darling(&x)?.p_value);
            let k = excess_kurtosis(&x)?;
            kurt.push(k.value);
            se = k.std_err;
        }
        ps.sort_by(f64::total_cmp);
        let median_p = if r % 2 == 1 {
            ps[r / 2]
        } else {
            0.5 * (ps[r / 2 - 1] + ps[r / 2])
        };
        let theory = if dof > 4.0 {
            6.0 / ((dof - 4.0) * b as f64 * n_eff)
        } else {
            f64::INFINITY
        };
        points.push(SweepPoint {
            batch: b,
            replicates: r,
            rejections: ps.iter().filter(|p| **p < ALPHA).count(),
            median_p,
            kurtosis_mean: kurt.mean(),
            kurtosis_mean_se: se / (r as f64).sqrt(),
            kurtosis_theory: theory,
            passes: median_p >= ALPHA,
        });
        let k = points.len();
        if k >= 2 && points[k - 1].passes && points[k - 2].passes {
            min_batch = Some(points[k - 2].batch);
            break;
        }
        b *= 2;
    }
    Ok(StudentSweep {
        optimizer: kind,
        dof,
        steps,
        n,
        kurtosis_dilution: n_eff,
        tail_factor_nu3: tail_factor_nu3(&w),
        points,
        min_batch,
    })
}

/// All Student-t sweeps: ν ∈ {3, 5} × the five optimizers.
pub fn student_sweeps(scale: Scale) -> Result<Vec<StudentSweep>> {
    let sizes = C4Sizes::at(scale);
    let mut out = Vec::new();
    for dof in [3.0, 5.0] {
        for kind in OptimizerKind::ALL {
            out.push(student_sweep(kind, dof, &sizes)?);
        }
    }
    Ok(out)
}

/// Claim C4: ω_t is Gaussian and isotropic. See the module docs for the protocol. The verdict
/// is `Holds` if no row rejects normality or isotropy, `Fails` if every row rejects one of them,
/// `Mixed` otherwise (with the clearest counter-examples in the report).
pub fn c4_gaussianity(scale: Scale) -> Result<ClaimReport> {
    let table = c4_table(scale)?;
    let sweeps = student_sweeps(scale)?;
    Ok(c4_report(scale, &table, &sweeps))
}

/// The report of C4 from its table and sweeps.
pub fn c4_report(scale: Scale, table: &[C4Row], sweeps: &[StudentSweep]) -> ClaimReport {
    let sizes = C4Sizes::at(scale);
    let n_rows = table.len();
    let normal_rej = table.iter().filter(|r| r.normality_rejected).count();
    let iso_rej = table.iter().filter(|r| r.isotropy_rejected).count();
    let both_ok = table
        .iter()
        .filter(|r| !r.normality_rejected && !r.isotropy_rejected)
        .count();
    let verdict = if both_ok == n_rows {
        Verdict::Holds
    } else if both_ok == 0 {
        Verdict::Fails
    } else {
        Verdict::Mixed
    };
    let label = |r: &C4Row| {
        format!(
            "{} on {}/{} (b = {}, d = {}, n = {})",
            r.optimizer, r.landscape, r.law, r.batch, r.dim, r.n
        )
    };
    // The simplest counter-examples first: the quadratic before the nonlinear landscapes, SGD
    // before the momentum methods; then the strongest evidence.
    let simplicity = |r: &C4Row| {
        (
            r.landscape != "quadratic",
            r.optimizer != OptimizerKind::Sgd,
        )
    };
    let worst_normal = table
        .iter()
        .filter(|r| r.normality_rejected)
        .min_by(|a, b| {
            simplicity(a)
                .cmp(&simplicity(b))
                .then(a.omega.ad_bonferroni_p.total_cmp(&b.omega.ad_bonferroni_p))
        });
    let pr_ratio = |r: &C4Row| r.spectrum.participation_ratio_corrected / r.dim as f64;
    let worst_iso = table.iter().filter(|r| r.isotropy_rejected).min_by(|a, b| {
        simplicity(a)
            .cmp(&simplicity(b))
            .then(pr_ratio(a).total_cmp(&pr_ratio(b)))
    });
    let mut ce = Vec::new();
    if let Some(r) = worst_normal {
        ce.push(format!(
            "{}: Anderson–Darling rejects normality of ω (Bonferroni p = {:.2e}; mean excess kurtosis of the coordinates {:.2}, null SE {:.2})",
            label(r),
            r.omega.ad_bonferroni_p,
            r.omega.kurtosis_coord_mean,
            r.omega.kurtosis_se
        ));
    }
    if let Some(r) = worst_iso {
        ce.push(format!(
            "{}: Cov(ω) is not isotropic (participation ratio {:.2} of d = {}; John p = {:.2e})",
            label(r),
            r.spectrum.participation_ratio_corrected,
            r.dim,
            r.spectrum.john_p_corrected
        ));
    }
    let sweep_text: Vec<String> = sweeps
        .iter()
        .map(|s| {
            format!(
                "{} t{}: {}",
                s.optimizer,
                s.dof,
                s.min_batch
                    .map_or(format!("> {}", sizes.sweep_max_batch), |b| b.to_string())
            )
        })
        .collect();
    let evidence = format!(
        "n = {} seeds per row, one ω_t per seed; normality rejected (AD, Bonferroni, level {}) in {}/{} rows, \
         isotropy rejected (John, kurtosis-corrected) in {}/{}; Gaussian and isotropic in {}/{}; \
         smallest b at which Student-t ω passes AD (median p over replicates): {}",
        sizes.seeds,
        ALPHA,
        normal_rej,
        n_rows,
        iso_rej,
        n_rows,
        both_ok,
        n_rows,
        sweep_text.join(", ")
    );
    let mut rows: Vec<serde_json::Value> = table
        .iter()
        .map(|r| serde_json::to_value(r).unwrap_or_else(|e| json!({ "error": e.to_string() })))
        .collect();
    rows.extend(sweeps.iter().map(|s| {
        json!({ "student_t_sweep": serde_json::to_value(s).unwrap_or_else(|e| json!(e.to_string())) })
    }));
    ClaimReport {
        claim: "C4",
        verdict,
        evidence,
        counter_example: if ce.is_empty() {
            None
        } else {
            Some(ce.join("; "))
        },
        rows,
    }
}

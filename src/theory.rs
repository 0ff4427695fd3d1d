//! The formulas of theory.md §4–§6: bounds ψ on the search-direction noise
//! ω_t = d_t − ∇f(x_t), the degree of smoothing δ = η ψ, the critical-batch-size back-solve of
//! C², and the implicit-graduated-optimization (IGO) schedules.
//!
//! Every formula carries a provenance tag:
//!
//! - **\[code\]** exact from the authors' released code,
//! - **\[derived\]** derived here (proofs in `proofs/noise-bounds-derivations.md`),
//! - **\[open\]** not known,
//! - **hypothesis** a guess that is *not* a valid bound in general.
//!
//! Symbols: η learning rate, β momentum factor, ν QHM immediate discount, b batch size,
//! C² bound on the per-sample gradient variance (E‖G_ξ(x) − ∇f(x)‖² ≤ C²), K bound on the
//! gradient norm (E‖∇f(x_t)‖² ≤ K²).
//!
//! The raw formula functions (`psi_*`, [`beta_hat`], [`delta`]) do not validate their inputs;
//! [`predictions`] and the solvers do, and name the offending field.
//!
//! ## Which bounds are valid
//!
//! All the bounds below rest on one identity. For a rule in linear form
//! d_t = c_g g_t + c_m m_{t−1}, m_t = a_g g_t + a_m m_{t−1} and ξ_t = g_t − ∇f(x_t),
//! ω_t = (c_g − 1)∇f(x_t) + c_m m_{t−1} + c_g ξ_t, and because E\[ξ_t | past\] = 0,
//! E‖ω_t‖² = E‖(c_g − 1)∇f(x_t) + c_m m_{t−1}‖² + c_g² E‖ξ_t‖². With Minkowski's inequality and
//! E‖m_{t−1}‖² ≤ (a_g/(1 − a_m))² (C²/b + K²) this gives the derived bound
//! ψ² = c_g² C²/b + (|c_g − 1| K + |c_m| a_g/(1 − a_m) √(C²/b + K²))² ([`psi_linear_derived`]).
//! The paper's SHB (β̂) and NSHB (v1) forms are valid but looser; the NSHB v3 hypothesis
//! C/√((1−β)b) is **not** a valid bound (it has no K term: with C = 0 it claims ω = 0, while
//! ω_0 = −β ∇f(x_0) ≠ 0).

use serde::Serialize;

use crate::error::{Error, Result};
use crate::optimizer::{Coefficients, Optimizer, OptimizerKind};

// ---------------------------------------------------------------------------------------------
// Formulas
// ---------------------------------------------------------------------------------------------

/// β̂ = β(β² − β + 1)/(1 − β)² = β + β²/(1 − β)², the SHB noise amplification of the paper
/// (β̂ = 81.9 at β = 0.9). \[code\] Increasing on \[0, 1): dβ̂/dβ = 1 + 2β/(1 − β)³ > 0.
pub fn beta_hat(beta: f64) -> f64 {
    beta * (beta * beta - beta + 1.0) / ((1.0 - beta) * (1.0 - beta))
}

/// δ = η ψ, the degree of smoothing (theory.md §4). \[review\]
pub fn delta(lr: f64, psi: f64) -> f64 {
    lr * psi
}

/// ψ^SGD = C/√b. \[code\] A valid bound, with equality when E‖ξ‖² = C²/b: ω^SGD = g − ∇f.
pub fn psi_sgd(batch: f64, c2: f64) -> f64 {
    (c2 / batch).sqrt()
}

/// ψ^SHB (paper) = √( C²/b + β̂ (C²/b + K²) ) = √((1 + β̂)C²/b + β̂K²). \[code\]
/// A valid bound, looser than [`psi_shb_tight`] by β(C²/b + K²) under the root.
pub fn psi_shb_paper(beta: f64, batch: f64, c2: f64, k: f64) -> f64 {
    let bh = beta_hat(beta);
    let v = c2 / batch;
    (v + bh * (v + k * k)).sqrt()
}

/// ψ^SHB (tight) = √( C²/b + β²/(1 − β)² (C²/b + K²) ). \[derived\] A valid bound, sharp for
/// C = 0 (a linear f with ‖∇f‖ = K attains it as t → ∞).
pub fn psi_shb_tight(beta: f64, batch: f64, c2: f64, k: f64) -> f64 {
    let v = c2 / batch;
    let r = beta / (1.0 - beta);
    (v + r * r * (v + k * k)).sqrt()
}

/// ψ^NSHB (v1/AAAI form) = √( C²/b + 4β² (C²/b + K²) ). \[code\] A valid bound, looser than
/// [`psi_nshb_tight`].
pub fn psi_nshb_v1(beta: f64, batch: f64, c2: f64, k: f64) -> f64 {
    let v = c2 / batch;
    (v + 4.0 * beta * beta * (v + k * k)).sqrt()
}

/// ψ^NSHB (tight) = √( (1 − β)² C²/b + β² (K + √(C²/b + K²))² ). \[derived\] A valid bound;
/// [`psi_linear_derived`] with NSHB's coefficients (= QHM with ν = 1).
pub fn psi_nshb_tight(beta: f64, batch: f64, c2: f64, k: f64) -> f64 {
    let v = c2 / batch;
    let s = k + (v + k * k).sqrt();
    ((1.0 - beta) * (1.0 - beta) * v + beta * beta * s * s).sqrt()
}

/// ψ^NSHB (v3 hypothesis) = C/√((1 − β) b). **Hypothesis**, medium confidence as the v3 form
/// of the paper (the authors' `igo-aaai25` β-schedule for NSHB inverts exactly this form). It
/// makes δ^NSHB = δ^SGD when C²_NSHB = (1 − β) C²_SGD. **Not a valid bound in general**: it has
/// no K term, so with C = 0 it claims ω = 0 while ω_0 = −β∇f(x_0).
pub fn psi_nshb_v3_hypothesis(beta: f64, batch: f64, c2: f64) -> f64 {
    (c2 / ((1.0 - beta) * batch)).sqrt()
}

/// ψ^QHM(ν) = √( (1 − νβ)² C²/b + ν²β² (K + √(C²/b + K²))² ). \[derived\] here, beyond the
/// paper: [`psi_linear_derived`] with c_g = 1 − νβ, c_m = νβ, a_g = 1 − β, a_m = β. ν = 0 gives
/// C/√b (SGD), ν = 1 gives [`psi_nshb_tight`].
pub fn psi_qhm_derived(beta: f64, nu: f64, batch: f64, c2: f64, k: f64) -> f64 {
    let v = c2 / batch;
    let s = k + (v + k * k).sqrt();
    let cg = 1.0 - nu * beta;
    (cg * cg * v + nu * nu * beta * beta * s * s).sqrt()
}

/// ψ^Nesterov = √( (1 + β)² C²/b + (β/(1 − β))² (K(1 − β) + β√(C²/b + K²))² ). \[derived\] here,
/// beyond the paper: [`psi_linear_derived`] with c_g = 1 + β, c_m = β², a_g = 1, a_m = β, i.e.
/// the bias part βK + β²/(1 − β)·√(C²/b + K²). Sharp for C = 0 (linear f).
pub fn psi_nesterov_derived(beta: f64, batch: f64, c2: f64, k: f64) -> f64 {
    let v = c2 / batch;
    let bias = beta * k + beta * beta / (1.0 - beta) * (v + k * k).sqrt();
    ((1.0 + beta) * (1.0 + beta) * v + bias * bias).sqrt()
}

/// The general derived bound for any rule in linear form (d_t = c_g g_t + c_m m_{t−1},
/// m_t = a_g g_t + a_m m_{t−1}, m_{−1} = 0, 0 ≤ a_m < 1):
/// ψ² = c_g² C²/b + ( |c_g − 1| K + |c_m| |a_g|/(1 − a_m) · √(C²/b + K²) )². \[derived\]
///
/// Proof sketch (full text in `proofs/noise-bounds-derivations.md`): ω = h + c_g ξ with
/// h = (c_g − 1)∇f + c_m m_{t−1} known given the past and E\[ξ | past\] = 0, so
/// E‖ω‖² = E‖h‖² + c_g² E‖ξ‖²; Minkowski: √E‖h‖² ≤ |c_g − 1|K + |c_m|√E‖m_{t−1}‖²;
/// Cauchy–Schwarz on m_{t−1} = a_g Σ_j a_m^j g_{t−1−j}:
/// E‖m_{t−1}‖² ≤ (a_g/(1 − a_m))² max_k E‖g_k‖² ≤ (a_g/(1 − a_m))² (C²/b + K²).
/// For SGD (c_m = 0) the momentum term vanishes whatever a_g, a_m.
pub fn psi_linear_derived(c: &Coefficients, batch: f64, c2: f64, k: f64) -> f64 {
    let v = c2 / batch;
    let m_gain = if c.c_m == 0.0 {
        0.0
    } else {
        c.a_g.abs() / (1.0 - c.a_m)
    };
    let bias = (c.c_g - 1.0).abs() * k + c.c_m.abs() * m_gain * (v + k * k).sqrt();
    (c.c_g * c.c_g * v + bias * bias).sqrt()
}

// ---------------------------------------------------------------------------------------------
// Predictions
// ---------------------------------------------------------------------------------------------

/// One named noise bound ψ (theory.md §4). Each optimizer has a list ([`formulas`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Formula {
    /// SGD: ψ = C/√b. \[code\] Paper; valid.
    Sgd,
    /// SHB: ψ = √((1 + β̂)C²/b + β̂K²). \[code\] Paper; valid, loose.
    ShbPaper,
    /// SHB: ψ = √(C²/b + β²/(1 − β)² (C²/b + K²)). \[derived\] Valid; sharp for C = 0.
    ShbTight,
    /// NSHB v1/AAAI: ψ = √(C²/b + 4β²(C²/b + K²)). \[code\] Paper; valid, loose.
    NshbV1,
    /// NSHB: ψ = √((1 − β)²C²/b + β²(K + √(C²/b + K²))²). \[derived\] here; valid.
    NshbTight,
    /// NSHB v3: ψ = C/√((1 − β)b). Hypothesis; not a valid bound in general.
    NshbV3Hypothesis,
    /// QHM(ν): ψ = √((1 − νβ)²C²/b + ν²β²(K + √(C²/b + K²))²). \[derived\] here; valid.
    QhmDerived,
    /// Nesterov: ψ = √((1 + β)²C²/b + (βK + β²/(1 − β) √(C²/b + K²))²). \[derived\] here; valid.
    NesterovDerived,
}

impl Formula {
    /// Stable machine key, used in files (`"sgd"`, `"shb_paper"`, …).
    pub fn key(self) -> &'static str {
        match self {
            Formula::Sgd => "sgd",
            Formula::ShbPaper => "shb_paper",
            Formula::ShbTight => "shb_tight",
            Formula::NshbV1 => "nshb_v1",
            Formula::NshbTight => "nshb_tight",
            Formula::NshbV3Hypothesis => "nshb_v3_hypothesis",
            Formula::QhmDerived => "qhm_derived",
            Formula::NesterovDerived => "nesterov_derived",
        }
    }

    /// Human-readable label with the formula and its status.
    pub fn label(self) -> &'static str {
        match self {
            Formula::Sgd => "SGD (paper): psi = C/sqrt(b)",
            Formula::ShbPaper => {
                "SHB (paper, beta-hat form): psi = sqrt((1+bh) C^2/b + bh K^2)"
            }
            Formula::ShbTight => {
                "SHB (tight, derived here): psi = sqrt(C^2/b + (beta/(1-beta))^2 (C^2/b + K^2))"
            }
            Formula::NshbV1 => "NSHB (paper v1/AAAI): psi = sqrt(C^2/b + 4 beta^2 (C^2/b + K^2))",
            Formula::NshbTight => {
                "NSHB (tight, derived here): psi = sqrt((1-beta)^2 C^2/b + beta^2 (K + sqrt(C^2/b + K^2))^2)"
            }
            Formula::NshbV3Hypothesis => {
                "NSHB (v3 hypothesis, NOT a valid bound): psi = C/sqrt((1-beta) b)"
            }
            Formula::QhmDerived => {
                "QHM (derived here, beyond the paper): psi = sqrt((1-nu beta)^2 C^2/b + (nu beta)^2 (K + sqrt(C^2/b + K^2))^2)"
            }
            Formula::NesterovDerived => {
                "Nesterov (derived here, beyond the paper): psi = sqrt((1+beta)^2 C^2/b + (beta K + beta^2/(1-beta) sqrt(C^2/b + K^2))^2)"
            }
        }
    }

    /// Provenance of the formula.
    pub fn source(self) -> &'static str {
        match self {
            Formula::Sgd => "[code] Sato & Iiduka; theory.md §4",
            Formula::ShbPaper => "[code] Sato & Iiduka next_delta_SHB; theory.md §4",
            Formula::ShbTight => "[derived] proofs/noise-bounds-derivations.md §3",
            Formula::NshbV1 => "[code] Sato & Iiduka next_delta_NSHB (v1/AAAI); theory.md §4",
            Formula::NshbTight => "[derived] proofs/noise-bounds-derivations.md §4",
            Formula::NshbV3Hypothesis => {
                "hypothesis (theory.md §4; igo-aaai25 beta-poly NSHB schedule); not a valid bound, proofs/noise-bounds-derivations.md §5"
            }
            Formula::QhmDerived => "[derived] beyond the paper; proofs/noise-bounds-derivations.md §6",
            Formula::NesterovDerived => {
                "[derived] beyond the paper; proofs/noise-bounds-derivations.md §7"
            }
        }
    }

    /// Whether this is the paper's own formula (SGD ηC/√b, SHB β̂ form, NSHB v1 form).
    pub fn is_paper(self) -> bool {
        matches!(self, Formula::Sgd | Formula::ShbPaper | Formula::NshbV1)
    }

    /// Whether the formula is a proven upper bound on √E‖ω_t‖² for every t under the
    /// assumptions E‖ξ_t‖² ≤ C²/b, E\[ξ_t | past\] = 0, E‖∇f(x_t)‖² ≤ K².
    pub fn is_valid_bound(self) -> bool {
        !matches!(self, Formula::NshbV3Hypothesis)
    }

    /// Whether the formula needs K.
    pub fn needs_k(self) -> bool {
        !matches!(self, Formula::Sgd | Formula::NshbV3Hypothesis)
    }

    /// ψ for this formula. Inputs are not validated (see [`predictions`]); `k` is ignored by
    /// formulas that do not need it.
    pub fn psi(self, opt: &Optimizer, batch: f64, c2: f64, k: f64) -> f64 {
        let beta = opt.beta;
        match self {
            Formula::Sgd => psi_sgd(batch, c2),
            Formula::ShbPaper => psi_shb_paper(beta, batch, c2, k),
            Formula::ShbTight => psi_shb_tight(beta, batch, c2, k),
            Formula::NshbV1 => psi_nshb_v1(beta, batch, c2, k),
            Formula::NshbTight => psi_nshb_tight(beta, batch, c2, k),
            Formula::NshbV3Hypothesis => psi_nshb_v3_hypothesis(beta, batch, c2),
            Formula::QhmDerived => psi_qhm_derived(beta, opt.nu, batch, c2, k),
            Formula::NesterovDerived => psi_nesterov_derived(beta, batch, c2, k),
        }
    }
}

/// The formulas that apply to an optimizer, the paper's first. QHM and Nesterov have no paper
/// bound ([`open_reason`]); they get only the bound derived here.
pub fn formulas(kind: OptimizerKind) -> &'static [Formula] {
    match kind {
        OptimizerKind::Sgd => &[Formula::Sgd],
        OptimizerKind::Shb => &[Formula::ShbPaper, Formula::ShbTight],
        OptimizerKind::Nshb => &[
            Formula::NshbV1,
            Formula::NshbTight,
            Formula::NshbV3Hypothesis,
        ],
        OptimizerKind::Qhm => &[Formula::QhmDerived],
        OptimizerKind::Nesterov => &[Formula::NesterovDerived],
    }
}

/// Why the paper gives no ψ for this optimizer, or `None` if it does (SGD, SHB, NSHB).
pub fn open_reason(kind: OptimizerKind) -> Option<&'static str> {
    match kind {
        OptimizerKind::Sgd | OptimizerKind::Shb | OptimizerKind::Nshb => None,
        OptimizerKind::Qhm => Some(
            "[open] the paper gives no noise bound for QHM with general nu (its v3 NSHB/QHM form \
             is unknown); the 'qhm_derived' bound is derived here, beyond the paper",
        ),
        OptimizerKind::Nesterov => Some(
            "[open] the paper gives no noise bound for Nesterov momentum; the \
             'nesterov_derived' bound is derived here, beyond the paper",
        ),
    }
}

/// One prediction of ψ and δ = η ψ for an optimizer at batch size b.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// Stable key ([`Formula::key`]).
    pub key: &'static str,
    /// Human-readable label with the formula and its status.
    pub label: String,
    /// ψ, the bound on √E‖ω_t‖².
    pub psi: f64,
    /// δ = η ψ, the degree of smoothing.
    pub delta: f64,
    /// Whether this is the paper's formula (SGD ηC/√b, SHB β̂ form, NSHB v1 form).
    pub is_paper: bool,
    /// Whether ψ is a proven upper bound (false for the NSHB v3 hypothesis).
    pub is_valid_bound: bool,
    /// Provenance tag and reference.
    pub source: &'static str,
}

/// ψ and δ = η ψ of every formula for this optimizer ([`formulas`]) at batch size b with the
/// constants C² and K.
///
/// Validates the optimizer (η > 0, β ∈ \[0,1), ν ∈ \[0,1\]), b ≥ 1, C² ≥ 0, K ≥ 0 (all finite);
/// errors name the field (`lr`, `beta`, `nu`, `batch`, `c2`, `k`). K is required by every
/// formula except SGD's (error on field `k` if absent).
pub fn predictions(
    opt: &Optimizer,
    batch: f64,
    c2: f64,
    k: Option<f64>,
) -> Result<Vec<Prediction>> {
    let opt = Optimizer::new(opt.kind, opt.lr, opt.beta, opt.nu)?;
    check_batch(batch)?;
    check_c2(c2)?;
    if let Some(k) = k {
        check_k(k)?;
    }
    let list = formulas(opt.kind);
    let k = if list.iter().any(|f| f.needs_k()) {
        match k {
            Some(k) => k,
            None => {
                return Err(Error::invalid(
                    "k",
                    "none",
                    format!(
                        "a finite number >= 0 (the bound on E|grad f|^2 <= K^2 is needed by the {} bounds)",
                        opt.kind
                    ),
                ))
            }
        }
    } else {
        k.unwrap_or(0.0)
    };
    Ok(list
        .iter()
        .map(|&f| {
            let psi = f.psi(&opt, batch, c2, k);
            Prediction {
                key: f.key(),
                label: f.label().to_string(),
                psi,
                delta: delta(opt.lr, psi),
                is_paper: f.is_paper(),
                is_valid_bound: f.is_valid_bound(),
                source: f.source(),
            }
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Validation helpers
// ---------------------------------------------------------------------------------------------

fn check_batch(b: f64) -> Result<()> {
    if b.is_finite() && b >= 1.0 {
        Ok(())
    } else {
        Err(Error::invalid("batch", b, "a finite number >= 1"))
    }
}

fn check_c2(c2: f64) -> Result<()> {
    if c2.is_finite() && c2 >= 0.0 {
        Ok(())
    } else {
        Err(Error::invalid("c2", c2, "a finite number >= 0"))
    }
}

fn check_k(k: f64) -> Result<()> {
    if k.is_finite() && k >= 0.0 {
        Ok(())
    } else {
        Err(Error::invalid("k", k, "a finite number >= 0"))
    }
}

fn check_positive(field: &str, x: f64) -> Result<()> {
    if x.is_finite() && x > 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(field, x, "a finite number > 0"))
    }
}

fn check_nonneg(field: &str, x: f64) -> Result<()> {
    if x.is_finite() && x >= 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(field, x, "a finite number >= 0"))
    }
}

fn check_beta(field: &str, beta: f64) -> Result<()> {
    if beta.is_finite() && (0.0..1.0).contains(&beta) {
        Ok(())
    } else {
        Err(Error::invalid(field, beta, "a number in [0, 1)"))
    }
}

// ---------------------------------------------------------------------------------------------
// Critical batch size (§5)
// ---------------------------------------------------------------------------------------------

/// The factor in the critical-batch lower bound b* > η·factor·C²/ε² \[derived, back-solved from
/// the code's constants\]: SGD 1, NSHB 1/(1 − β), SHB β̂/β² = 1/(1 − β)² + 1/β.
///
/// QHM and Nesterov: \[open\], an [`Error::Open`]. SHB needs β ∈ (0, 1) (β̂/β² diverges at
/// β = 0; error on field `beta`).
pub fn sfo_factor(kind: OptimizerKind, beta: f64) -> Result<f64> {
    check_beta("beta", beta)?;
    match kind {
        OptimizerKind::Sgd => Ok(1.0),
        OptimizerKind::Nshb => Ok(1.0 / (1.0 - beta)),
        OptimizerKind::Shb => {
            if beta > 0.0 {
                Ok(beta_hat(beta) / (beta * beta))
            } else {
                Err(Error::invalid(
                    "beta",
                    beta,
                    "a number in (0, 1) for SHB's critical-batch factor beta_hat/beta^2 (singular at 0)",
                ))
            }
        }
        OptimizerKind::Qhm | OptimizerKind::Nesterov => Err(Error::Open(format!(
            "[open] no critical-batch-size factor is known for {kind}; the paper treats SGD, SHB and NSHB only"
        ))),
    }
}

/// The C² estimate from an observed critical batch size: C² < b*ε²/(η·factor) (theory.md §5).
/// \[review\] With ε = 0.5, η = 0.1, β = 0.9 it gives the code's 1280 (SGD, b* = 512),
/// 128 (NSHB, b* = 512) and 25.318 (SHB, b* = 1024).
pub fn c2_backsolve(b_star: f64, eps: f64, lr: f64, factor: f64) -> Result<f64> {
    check_batch(b_star).map_err(|_| Error::invalid("b_star", b_star, "a finite number >= 1"))?;
    check_positive("eps", eps)?;
    check_positive("lr", lr)?;
    check_positive("factor", factor)?;
    Ok(b_star * eps * eps / (lr * factor))
}

/// The lower bound on the critical batch size: b* > η·factor·C²/ε² (theory.md §5). \[review\]
pub fn critical_batch_lower_bound(c2: f64, eps: f64, lr: f64, factor: f64) -> Result<f64> {
    check_c2(c2)?;
    check_positive("eps", eps)?;
    check_positive("lr", lr)?;
    check_positive("factor", factor)?;
    Ok(lr * factor * c2 / (eps * eps))
}

// ---------------------------------------------------------------------------------------------
// Implicit graduated optimization (§6)
// ---------------------------------------------------------------------------------------------

/// γ_m = ((M − m)/(M − m + 1))^p, the factor δ_{m+1} = γ_m δ_m applied after stage (epoch)
/// m = 0, …, M − 1 of M. \[code: `next_gamma(power, M, m)` called with the 0-based epoch\]
///
/// Validates M ≥ 1 (`stages`), m < M (`stage`), p ∈ (0, 1\] (`power`).
pub fn igo_gamma(m: usize, big_m: usize, p: f64) -> Result<f64> {
    if big_m == 0 {
        return Err(Error::invalid("stages", big_m, "an integer >= 1"));
    }
    if m >= big_m {
        return Err(Error::invalid(
            "stage",
            m,
            format!(
                "an integer in [0, {}] (0-based stage below stages = {big_m})",
                big_m - 1
            ),
        ));
    }
    check_power(p)?;
    let (mf, bigf) = (m as f64, big_m as f64);
    Ok(((bigf - mf) / (bigf - mf + 1.0)).powf(p))
}

fn check_power(p: f64) -> Result<()> {
    if p.is_finite() && p > 0.0 && p <= 1.0 {
        Ok(())
    } else {
        Err(Error::invalid("power", p, "a number in (0, 1]"))
    }
}

/// The δ of each of the M stages: δ_0 = δ0, δ_{m+1} = γ_m δ_m ([`igo_gamma`]). The product
/// telescopes to δ_m = δ0 ((M + 1 − m)/(M + 1))^p, i.e. δ_m ∝ (1 − m/(M + 1))^p — theory.md's
/// "(1 − m/M)^p" up to the code's off-by-one (the last stage keeps δ0 (2/(M + 1))^p, not 0).
/// \[code\]
pub fn igo_delta_schedule(delta0: f64, big_m: usize, p: f64) -> Result<Vec<f64>> {
    check_nonneg("delta0", delta0)?;
    if big_m == 0 {
        return Err(Error::invalid("stages", big_m, "an integer >= 1"));
    }
    check_power(p)?;
    let mut out = Vec::with_capacity(big_m);
    let mut d = delta0;
    for m in 0..big_m {
        out.push(d);
        d *= igo_gamma(m, big_m, p)?;
    }
    Ok(out)
}

/// SHB's β for a target δ (theory.md §6, \[code\] `solve_3eq`): with
/// u = (δ² − η²C²/b)/(η²(K² + C²/b)), solve β̂(β) = u, i.e.
/// β³ − (1 + u)β² + (1 + 2u)β − u = 0, and take the largest real root ≤ the current β, floored
/// at 0.
///
/// β̂ is strictly increasing on \[0, 1) from 0 to ∞ and the cubic has no negative root when
/// u ≥ 0, so: u ≤ 0 → 0 (the cubic's roots ≤ β_current are then negative, floored);
/// 0 < u ≤ β̂(β_current) → the unique root in \[0, β_current\], found by bisection to machine
/// precision; u > β̂(β_current) → no root ≤ β_current (the authors' code would crash on an
/// empty list); this returns β_current (δ cannot be raised by lowering β).
///
/// Validation: δ ≥ 0, η > 0, b ≥ 1, C² ≥ 0, K ≥ 0, β_current ∈ \[0, 1), K² + C²/b > 0 (else δ
/// does not depend on β; error on field `k`).
pub fn shb_beta_for_delta(
    delta_target: f64,
    lr: f64,
    batch: f64,
    c2: f64,
    k: f64,
    beta_current: f64,
) -> Result<f64> {
    let u = beta_solve_ratio(delta_target, lr, batch, c2, k, beta_current)?;
    if u <= 0.0 {
        return Ok(0.0);
    }
    if u >= beta_hat(beta_current) {
        return Ok(beta_current);
    }
    // Bisection on [0, β_current]: β̂(lo) < u ≤ β̂(hi).
    let (mut lo, mut hi) = (0.0_f64, beta_current);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if beta_hat(mid) < u {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(0.5 * (lo + hi))
}

/// NSHB's β for a target δ with the v1 form (theory.md §6, \[code\]):
/// β = √max(0, (δ² − η²C²/b)/(4η²(K² + C²/b))), capped at the current β (the authors' code does
/// not cap; the cap keeps a δ-decreasing schedule from raising β).
///
/// Validation as [`shb_beta_for_delta`].
pub fn nshb_beta_for_delta(
    delta_target: f64,
    lr: f64,
    batch: f64,
    c2: f64,
    k: f64,
    beta_current: f64,
) -> Result<f64> {
    let u = beta_solve_ratio(delta_target, lr, batch, c2, k, beta_current)?;
    Ok((u.max(0.0) / 4.0).sqrt().min(beta_current))
}

/// NSHB's β for a target δ with the v3 hypothesis δ = ηC/√((1 − β)b):
/// β = 1 − η²C²/(bδ²), clamped to \[0, β_current\]. This is what the authors' `igo-aaai25`
/// β-poly NSHB schedule computes (`next_beta = 1 − η_new²(1 − β)b_old/(γ²η_old²b_new)`, the same
/// after substituting δ_target = γ δ_old). Hypothesis, see [`psi_nshb_v3_hypothesis`].
///
/// Validation: δ ≥ 0, η > 0, b ≥ 1, C² ≥ 0, β_current ∈ \[0, 1).
pub fn nshb_beta_for_delta_v3(
    delta_target: f64,
    lr: f64,
    batch: f64,
    c2: f64,
    beta_current: f64,
) -> Result<f64> {
    check_nonneg("delta", delta_target)?;
    check_positive("lr", lr)?;
    check_batch(batch)?;
    check_c2(c2)?;
    check_beta("beta", beta_current)?;
    if delta_target == 0.0 {
        return Ok(0.0);
    }
    let beta = 1.0 - lr * lr * c2 / (batch * delta_target * delta_target);
    Ok(beta.clamp(0.0, beta_current))
}

/// u = (δ² − η²C²/b)/(η²(K² + C²/b)), the value of β̂ (SHB) or 4β² (NSHB v1) that gives δ.
fn beta_solve_ratio(
    delta_target: f64,
    lr: f64,
    batch: f64,
    c2: f64,
    k: f64,
    beta_current: f64,
) -> Result<f64> {
    check_nonneg("delta", delta_target)?;
    check_positive("lr", lr)?;
    check_batch(batch)?;
    check_c2(c2)?;
    check_k(k)?;
    check_beta("beta", beta_current)?;
    let v = c2 / batch;
    let denom = lr * lr * (k * k + v);
    if denom <= 0.0 {
        return Err(Error::invalid(
            "k",
            k,
            "K > 0 or C^2 > 0: with K^2 + C^2/b = 0 delta does not depend on beta",
        ));
    }
    Ok((delta_target * delta_target - lr * lr * v) / denom)
}

/// SGD's η for a target δ: δ = ηC/√b ⇒ η = δ√b/C. \[code\] Needs δ > 0, b ≥ 1, C² > 0.
pub fn sgd_lr_for_delta(delta_target: f64, batch: f64, c2: f64) -> Result<f64> {
    check_positive("delta", delta_target)?;
    check_batch(batch)?;
    check_positive("c2", c2)?;
    Ok(delta_target * batch.sqrt() / c2.sqrt())
}

/// SGD's b for a target δ: δ = ηC/√b ⇒ b = (ηC/δ)² = η²C²/δ². \[code\] Not rounded or clamped: a
/// result below 1 means δ is out of reach by the batch size alone. Needs δ > 0, η > 0, C² ≥ 0.
pub fn sgd_batch_for_delta(delta_target: f64, lr: f64, c2: f64) -> Result<f64> {
    check_positive("delta", delta_target)?;
    check_positive("lr", lr)?;
    check_c2(c2)?;
    Ok(lr * lr * c2 / (delta_target * delta_target))
}

/// SHB's b for a target δ with the paper's β̂ form, δ² = η²((1 + β̂)C²/b + β̂K²):
/// b = (1 + β̂)C²/(δ²/η² − β̂K²). \[derived\] by inverting the \[code\] formula. `None` when the
/// target is at or below the floor η√β̂ K that no batch size can cross (claim C6: SHB keeps
/// smoothing as b → ∞), or when C² = 0 (δ does not depend on b). Not rounded or clamped.
///
/// Validation: δ > 0, η > 0, β ∈ \[0, 1), C² ≥ 0, K ≥ 0.
pub fn shb_batch_for_delta(
    delta_target: f64,
    lr: f64,
    beta: f64,
    c2: f64,
    k: f64,
) -> Result<Option<f64>> {
    batch_for_delta_linear(
        delta_target,
        lr,
        beta,
        c2,
        k,
        1.0 + beta_hat(beta),
        beta_hat(beta),
    )
}

/// NSHB's b for a target δ with the v1 form, δ² = η²((1 + 4β²)C²/b + 4β²K²):
/// b = (1 + 4β²)C²/(δ²/η² − 4β²K²). \[derived\] by inverting the \[code\] formula; `None` below
/// the floor 2ηβK or when C² = 0. Validation as [`shb_batch_for_delta`].
pub fn nshb_batch_for_delta(
    delta_target: f64,
    lr: f64,
    beta: f64,
    c2: f64,
    k: f64,
) -> Result<Option<f64>> {
    let q = 4.0 * beta * beta;
    batch_for_delta_linear(delta_target, lr, beta, c2, k, 1.0 + q, q)
}

/// b = a C²/(δ²/η² − q K²) for δ² = η²(a C²/b + q K²).
fn batch_for_delta_linear(
    delta_target: f64,
    lr: f64,
    beta: f64,
    c2: f64,
    k: f64,
    a: f64,
    q: f64,
) -> Result<Option<f64>> {
    check_positive("delta", delta_target)?;
    check_positive("lr", lr)?;
    check_beta("beta", beta)?;
    check_c2(c2)?;
    check_k(k)?;
    let room = (delta_target / lr).powi(2) - q * k * k;
    if room <= 0.0 || c2 == 0.0 {
        return Ok(None);
    }
    Ok(Some(a * c2 / room))
}

/// The cosine IGO shape: δ_m = δ0 (r + (1 − r)(1 + cos(π m/(M − 1)))/2) for m = 0, …, M − 1,
/// from δ0 down to r δ0 (M = 1: δ0). \[derived\] here (the AAAI paper lists cosine decay but its
/// code is not public). Validation: δ0 ≥ 0, M ≥ 1, r ∈ (0, 1\] (`end_ratio`).
pub fn igo_cosine_schedule(delta0: f64, big_m: usize, r: f64) -> Result<Vec<f64>> {
    check_shape(delta0, big_m, r)?;
    let last = (big_m.max(2) - 1) as f64;
    Ok((0..big_m)
        .map(|m| {
            let c = (std::f64::consts::PI * m as f64 / last).cos();
            delta0 * (r + (1.0 - r) * (1.0 + c) / 2.0)
        })
        .collect())
}

/// The exponential IGO shape: δ_m = δ0 r^{m/(M − 1)}, from δ0 down to r δ0. \[derived\] here.
/// Validation as [`igo_cosine_schedule`].
pub fn igo_exponential_schedule(delta0: f64, big_m: usize, r: f64) -> Result<Vec<f64>> {
    check_shape(delta0, big_m, r)?;
    let last = (big_m.max(2) - 1) as f64;
    Ok((0..big_m)
        .map(|m| delta0 * r.powf(m as f64 / last))
        .collect())
}

/// The predecessor's step shape: δ × 1/√2 every `every` stages, δ_m = δ0 2^{−⌊m/every⌋/2}
/// (theory.md §6: every 40 of 200 epochs, by η × 0.7071, b × 2 or η × 0.866 and b × 1.5).
/// \[code\] Validation: δ0 ≥ 0, M ≥ 1, every ≥ 1.
pub fn igo_step_schedule(delta0: f64, big_m: usize, every: usize) -> Result<Vec<f64>> {
    check_nonneg("delta0", delta0)?;
    if big_m == 0 {
        return Err(Error::invalid("stages", big_m, "an integer >= 1"));
    }
    if every == 0 {
        return Err(Error::invalid("every", every, "an integer >= 1"));
    }
    Ok((0..big_m)
        .map(|m| delta0 * std::f64::consts::FRAC_1_SQRT_2.powi((m / every) as i32))
        .collect())
}

fn check_shape(delta0: f64, big_m: usize, r: f64) -> Result<()> {
    check_nonneg("delta0", delta0)?;
    if big_m == 0 {
        return Err(Error::invalid("stages", big_m, "an integer >= 1"));
    }
    if !(r.is_finite() && r > 0.0 && r <= 1.0) {
        return Err(Error::invalid("end_ratio", r, "a number in (0, 1]"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opt(kind: OptimizerKind, lr: f64, beta: f64, nu: f64) -> Optimizer {
        Optimizer::new(kind, lr, beta, nu).expect("valid optimizer")
    }

    fn find(p: &[Prediction], key: &str) -> f64 {
        p.iter()
            .find(|x| x.key == key)
            .map(|x| x.delta)
            .expect("key present")
    }

    /// theory.md §4's table, η = 0.1, β = 0.9, to three decimals.
    #[test]
    fn reproduces_delta_table() {
        let rows = [
            (8.0, 1.265, 2.278, 1.155),
            (64.0, 0.447, 1.701, 0.861),
            (1024.0, 0.112, 1.608, 0.813),
        ];
        let sgd = opt(OptimizerKind::Sgd, 0.1, 0.9, 0.0);
        let shb = opt(OptimizerKind::Shb, 0.1, 0.9, 0.0);
        let nshb = opt(OptimizerKind::Nshb, 0.1, 0.9, 0.0);
        for (b, d_sgd, d_shb, d_nshb) in rows {
            let p = predictions(&sgd, b, 1280.0, None).expect("sgd");
            assert!((find(&p, "sgd") - d_sgd).abs() < 5e-4, "sgd b={b}");
            let p = predictions(&shb, b, 25.318, Some(1.77)).expect("shb");
            assert!((find(&p, "shb_paper") - d_shb).abs() < 5e-4, "shb b={b}");
            let p = predictions(&nshb, b, 128.0, Some(4.5)).expect("nshb");
            assert!((find(&p, "nshb_v1") - d_nshb).abs() < 5e-4, "nshb b={b}");
        }
    }

    #[test]
    fn beta_hat_values() {
        assert!((beta_hat(0.9) - 81.9).abs() < 1e-10);
        assert_eq!(beta_hat(0.0), 0.0);
        // β̂ = β + β²/(1−β)² and increasing on [0,1).
        let mut prev = -1.0;
        for i in 0..1000 {
            let b = i as f64 / 1000.0;
            let bh = beta_hat(b);
            let alt = b + b * b / ((1.0 - b) * (1.0 - b));
            assert!((bh - alt).abs() <= 1e-9 * alt.max(1.0));
            assert!(bh > prev);
            prev = bh;
        }
    }

    #[test]
    fn c2_backsolve_reproduces_code_constants() {
        let (eps, lr, beta) = (0.5, 0.1, 0.9);
        let f = sfo_factor(OptimizerKind::Sgd, beta).expect("sgd");
        assert!((c2_backsolve(512.0, eps, lr, f).expect("sgd") - 1280.0).abs() < 1e-9);
        let f = sfo_factor(OptimizerKind::Nshb, beta).expect("nshb");
        assert!((c2_backsolve(512.0, eps, lr, f).expect("nshb") - 128.0).abs() < 1e-9);
        let f = sfo_factor(OptimizerKind::Shb, beta).expect("shb");
        assert!((f - (1.0 / 0.01 + 1.0 / 0.9)).abs() < 1e-9);
        let c2 = c2_backsolve(1024.0, eps, lr, f).expect("shb");
        // The code's 25.318 is 25.31868… truncated to three decimals.
        assert_eq!((c2 * 1000.0).floor() / 1000.0, 25.318, "{c2}");
        // And the lower bound inverts it.
        let b = critical_batch_lower_bound(c2, eps, lr, f).expect("lb");
        assert!((b - 1024.0).abs() < 1e-9);
    }

    #[test]
    fn sfo_factor_open_and_invalid() {
        assert!(matches!(
            sfo_factor(OptimizerKind::Qhm, 0.9),
            Err(Error::Open(_))
        ));
        assert!(matches!(
            sfo_factor(OptimizerKind::Nesterov, 0.9),
            Err(Error::Open(_))
        ));
        let e = sfo_factor(OptimizerKind::Shb, 0.0).unwrap_err();
        assert!(e.to_string().contains("beta"));
        let e = sfo_factor(OptimizerKind::Sgd, 1.0).unwrap_err();
        assert!(e.to_string().contains("beta"));
    }

    #[test]
    fn errors_name_fields() {
        let shb = opt(OptimizerKind::Shb, 0.1, 0.9, 0.0);
        let e = predictions(&shb, 64.0, 1.0, None).unwrap_err();
        assert!(e.to_string().contains("invalid k"), "{e}");
        let e = predictions(&shb, 0.5, 1.0, Some(1.0)).unwrap_err();
        assert!(e.to_string().contains("invalid batch"), "{e}");
        let e = predictions(&shb, f64::INFINITY, 1.0, Some(1.0)).unwrap_err();
        assert!(e.to_string().contains("invalid batch"), "{e}");
        let e = predictions(&shb, 8.0, -1.0, Some(1.0)).unwrap_err();
        assert!(e.to_string().contains("invalid c2"), "{e}");
        let e = predictions(&shb, 8.0, f64::NAN, Some(1.0)).unwrap_err();
        assert!(e.to_string().contains("invalid c2"), "{e}");
        let e = predictions(&shb, 8.0, 1.0, Some(-0.1)).unwrap_err();
        assert!(e.to_string().contains("invalid k"), "{e}");
        // SGD does not need K; a bad K is still rejected.
        let sgd = opt(OptimizerKind::Sgd, 0.1, 0.0, 0.0);
        assert!(predictions(&sgd, 8.0, 1.0, None).is_ok());
        assert!(predictions(&sgd, 8.0, 1.0, Some(f64::NAN)).is_err());
        // An optimizer built by hand with a bad β.
        let bad = Optimizer { beta: 1.0, ..shb };
        let e = predictions(&bad, 8.0, 1.0, Some(1.0)).unwrap_err();
        assert!(e.to_string().contains("invalid beta"), "{e}");
        let e = shb_beta_for_delta(1.0, 0.1, 8.0, 1.0, 1.0, 1.2).unwrap_err();
        assert!(e.to_string().contains("beta"), "{e}");
        let e = shb_beta_for_delta(1.0, 0.1, 8.0, 0.0, 0.0, 0.9).unwrap_err();
        assert!(e.to_string().contains("invalid k"), "{e}");
        let e = nshb_beta_for_delta(-1.0, 0.1, 8.0, 1.0, 1.0, 0.9).unwrap_err();
        assert!(e.to_string().contains("delta"), "{e}");
        let e = sgd_lr_for_delta(1.0, 8.0, 0.0).unwrap_err();
        assert!(e.to_string().contains("c2"), "{e}");
        let e = sgd_batch_for_delta(1.0, 0.0, 1.0).unwrap_err();
        assert!(e.to_string().contains("lr"), "{e}");
        let e = c2_backsolve(0.0, 0.5, 0.1, 1.0).unwrap_err();
        assert!(e.to_string().contains("b_star"), "{e}");
        let e = igo_gamma(5, 5, 0.9).unwrap_err();
        assert!(e.to_string().contains("stage"), "{e}");
        let e = igo_delta_schedule(1.0, 10, 1.5).unwrap_err();
        assert!(e.to_string().contains("power"), "{e}");
    }

    #[test]
    fn keys_and_flags() {
        let k = Some(1.0);
        let keys = |o: Optimizer| -> Vec<(&'static str, bool)> {
            predictions(&o, 8.0, 2.0, k)
                .expect("ok")
                .iter()
                .map(|p| (p.key, p.is_paper))
                .collect()
        };
        assert_eq!(
            keys(opt(OptimizerKind::Sgd, 0.1, 0.9, 0.0)),
            vec![("sgd", true)]
        );
        assert_eq!(
            keys(opt(OptimizerKind::Shb, 0.1, 0.9, 0.0)),
            vec![("shb_paper", true), ("shb_tight", false)]
        );
        assert_eq!(
            keys(opt(OptimizerKind::Nshb, 0.1, 0.9, 0.0)),
            vec![
                ("nshb_v1", true),
                ("nshb_tight", false),
                ("nshb_v3_hypothesis", false)
            ]
        );
        assert_eq!(
            keys(opt(OptimizerKind::Qhm, 0.1, 0.9, 0.5)),
            vec![("qhm_derived", false)]
        );
        assert_eq!(
            keys(opt(OptimizerKind::Nesterov, 0.1, 0.9, 0.0)),
            vec![("nesterov_derived", false)]
        );
        for kind in OptimizerKind::ALL {
            let open = open_reason(kind).is_some();
            assert_eq!(
                open,
                matches!(kind, OptimizerKind::Qhm | OptimizerKind::Nesterov)
            );
        }
        let p = predictions(&opt(OptimizerKind::Nshb, 0.1, 0.9, 0.0), 8.0, 2.0, k).expect("ok");
        assert!(!p[2].is_valid_bound && p[0].is_valid_bound && p[1].is_valid_bound);
    }

    /// The named bounds are the general linear-form bound; the tight bounds are below the
    /// paper's; QHM reduces to SGD (ν = 0) and NSHB (ν = 1).
    #[test]
    fn derived_bounds_consistent() {
        for &beta in &[0.0, 0.3, 0.9, 0.99] {
            for &(b, c2, k) in &[(1.0, 3.0, 0.0), (8.0, 25.0, 1.7), (1024.0, 0.0, 2.0)] {
                let psi_lin = |kind, nu| {
                    let c = opt(kind, 0.1, beta, nu).coefficients();
                    psi_linear_derived(&c, b, c2, k)
                };
                let close = |a: f64, e: f64| (a - e).abs() <= 1e-12 * e.max(1.0);
                assert!(close(psi_lin(OptimizerKind::Sgd, 0.0), psi_sgd(b, c2)));
                assert!(close(
                    psi_lin(OptimizerKind::Shb, 0.0),
                    psi_shb_tight(beta, b, c2, k)
                ));
                assert!(close(
                    psi_lin(OptimizerKind::Nshb, 0.0),
                    psi_nshb_tight(beta, b, c2, k)
                ));
                assert!(close(
                    psi_lin(OptimizerKind::Nesterov, 0.0),
                    psi_nesterov_derived(beta, b, c2, k)
                ));
                for &nu in &[0.0, 0.4, 1.0] {
                    assert!(close(
                        psi_lin(OptimizerKind::Qhm, nu),
                        psi_qhm_derived(beta, nu, b, c2, k)
                    ));
                }
                assert!(close(psi_qhm_derived(beta, 0.0, b, c2, k), psi_sgd(b, c2)));
                assert!(close(
                    psi_qhm_derived(beta, 1.0, b, c2, k),
                    psi_nshb_tight(beta, b, c2, k)
                ));
                assert!(psi_shb_tight(beta, b, c2, k) <= psi_shb_paper(beta, b, c2, k) + 1e-12);
                assert!(psi_nshb_tight(beta, b, c2, k) <= psi_nshb_v1(beta, b, c2, k) + 1e-12);
            }
        }
    }

    /// A deterministic check of the bounds along a transient: noise-free (C = 0) linear f with
    /// ‖∇f‖ = K, where the iterates give ω in closed form. The derived bounds hold at every t
    /// and SHB's/Nesterov's are attained as t → ∞; the NSHB v3 hypothesis (ψ = 0) fails at t = 0.
    #[test]
    fn linear_noise_free_transient() {
        let (beta, k) = (0.9, 2.0);
        for kind in OptimizerKind::ALL {
            let o = opt(kind, 0.1, beta, 0.7);
            let grad = [k];
            let mut m = [0.0];
            let mut d = [0.0];
            let bound = psi_linear_derived(&o.coefficients(), 1.0, 0.0, k);
            let mut last = 0.0;
            for t in 0..2000 {
                o.direction(&grad, &mut m, &mut d);
                let w = (d[0] - grad[0]).abs();
                assert!(w <= bound + 1e-12, "{kind} t={t} |w|={w} bound={bound}");
                if kind == OptimizerKind::Nshb && t == 0 {
                    assert!(w > psi_nshb_v3_hypothesis(beta, 1.0, 0.0));
                }
                last = w;
            }
            if matches!(kind, OptimizerKind::Shb | OptimizerKind::Nesterov) {
                assert!((last - bound).abs() < 1e-9 * bound, "{kind} sharp");
            }
        }
    }

    #[test]
    fn igo_schedule_closed_form() {
        let (big_m, p) = (200usize, 0.9);
        assert!((igo_gamma(0, big_m, p).expect("g") - (200.0f64 / 201.0).powf(0.9)).abs() < 1e-15);
        assert_eq!(igo_gamma(199, big_m, 1.0).expect("g"), 0.5);
        let s = igo_delta_schedule(1.0, big_m, p).expect("s");
        assert_eq!(s.len(), big_m);
        for (m, d) in s.iter().enumerate() {
            let closed = ((big_m + 1 - m) as f64 / (big_m + 1) as f64).powf(p);
            assert!((d - closed).abs() < 1e-12, "m={m}");
        }
        assert!(s.windows(2).all(|w| w[1] < w[0]));
    }

    #[test]
    fn igo_batch_solvers_and_shapes() {
        let (lr, beta, c2, k) = (0.1, 0.9, 25.318, 1.77);
        for &b in &[1.0, 8.0, 1024.0] {
            let d = delta(lr, psi_shb_paper(beta, b, c2, k));
            let got = shb_batch_for_delta(d, lr, beta, c2, k)
                .expect("shb")
                .expect("reach");
            assert!((got - b).abs() < 1e-9 * b, "shb b={b} got={got}");
            let d = delta(lr, psi_nshb_v1(beta, b, 128.0, 4.5));
            let got = nshb_batch_for_delta(d, lr, beta, 128.0, 4.5)
                .expect("n")
                .expect("r");
            assert!((got - b).abs() < 1e-9 * b, "nshb b={b} got={got}");
        }
        // Below the K floor no batch size reaches the target (C6).
        let floor = lr * beta_hat(beta).sqrt() * k;
        assert_eq!(
            shb_batch_for_delta(floor, lr, beta, c2, k).expect("f"),
            None
        );
        let c = igo_cosine_schedule(2.0, 5, 0.01).expect("c");
        assert_eq!(c[0], 2.0);
        assert!((c[4] - 0.02).abs() < 1e-15);
        assert!(c.windows(2).all(|w| w[1] < w[0]));
        let e = igo_exponential_schedule(1.0, 3, 0.01).expect("e");
        assert!((e[1] - 0.1).abs() < 1e-15 && (e[2] - 0.01).abs() < 1e-15);
        let s = igo_step_schedule(1.0, 9, 4).expect("s");
        assert_eq!(s[3], 1.0);
        assert!((s[4] - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-15);
        assert!((s[8] - 0.5).abs() < 1e-15);
        assert!(igo_cosine_schedule(1.0, 3, 0.0).is_err());
        assert!(igo_step_schedule(1.0, 3, 0).is_err());
    }

    /// The β solvers invert the δ formulas.
    #[test]
    fn beta_solvers_round_trip() {
        let (lr, c2, k) = (0.1, 25.318, 1.77);
        for &b in &[8.0, 64.0, 1024.0] {
            for &beta in &[0.05, 0.3, 0.5, 0.8, 0.9, 0.95] {
                let d = delta(lr, psi_shb_paper(beta, b, c2, k));
                let got = shb_beta_for_delta(d, lr, b, c2, k, 0.99).expect("shb");
                assert!(
                    (got - beta).abs() < 1e-12,
                    "shb b={b} beta={beta} got={got}"
                );
                // Also the cubic is satisfied.
                let u = beta_hat(beta);
                let cubic = got.powi(3) - (1.0 + u) * got * got + (1.0 + 2.0 * u) * got - u;
                assert!(cubic.abs() < 1e-9 * u.max(1.0));
                let d = delta(lr, psi_nshb_v1(beta, b, 128.0, 4.5));
                let got = nshb_beta_for_delta(d, lr, b, 128.0, 4.5, 0.99).expect("nshb");
                assert!((got - beta).abs() < 1e-12, "nshb b={b} beta={beta}");
                let d = delta(lr, psi_nshb_v3_hypothesis(beta, b, 128.0));
                let got = nshb_beta_for_delta_v3(d, lr, b, 128.0, 0.99).expect("v3");
                assert!((got - beta).abs() < 1e-12, "nshb v3 b={b} beta={beta}");
            }
            // Floors and caps.
            let tiny = delta(lr, psi_sgd(b, c2)) * 0.5;
            assert_eq!(shb_beta_for_delta(tiny, lr, b, c2, k, 0.9).expect("f"), 0.0);
            assert_eq!(
                nshb_beta_for_delta(tiny, lr, b, c2, k, 0.9).expect("f"),
                0.0
            );
            assert_eq!(shb_beta_for_delta(1e6, lr, b, c2, k, 0.9).expect("c"), 0.9);
            assert_eq!(nshb_beta_for_delta(1e6, lr, b, c2, k, 0.9).expect("c"), 0.9);
            // SGD.
            let d = delta(lr, psi_sgd(b, 1280.0));
            let l = sgd_lr_for_delta(d, b, 1280.0).expect("lr");
            assert!((l - lr).abs() < 1e-14);
            let bb = sgd_batch_for_delta(d, lr, 1280.0).expect("b");
            assert!((bb - b).abs() < 1e-9 * b);
        }
        // One IGO step as the authors' code runs it: δ_new = γ δ_old, same η and b.
        let (b, beta0) = (128.0, 0.9);
        let d_old = delta(lr, psi_shb_paper(beta0, b, c2, k));
        let g = igo_gamma(0, 200, 0.9).expect("g");
        let beta1 = shb_beta_for_delta(g * d_old, lr, b, c2, k, beta0).expect("b1");
        assert!(beta1 < beta0);
        let d_new = delta(lr, psi_shb_paper(beta1, b, c2, k));
        assert!((d_new - g * d_old).abs() < 1e-12);
    }
}

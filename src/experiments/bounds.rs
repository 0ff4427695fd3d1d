//! Claims C1, C2, C3 and C6 (claims.md): the bounds ψ on the search-direction noise
//! ω_t = d_t − ∇f(x_t) of SGD, SHB and NSHB, and what happens to ω as the batch size b grows.
//!
//! | claim | statement | function |
//! |---|---|---|
//! | C1 | E‖ω^SGD_t‖ ≤ C/√b | [`c1_sgd_bound`] |
//! | C2 | E‖ω^SHB_t‖ ≤ √((1 + β̂)C²/b + β̂K²), and ≤ √(C²/b + β²/(1−β)² (C²/b + K²)) | [`c2_shb_bound`] |
//! | C3 | E‖ω^NSHB_t‖ ≤ √(C²/b + 4β²(C²/b + K²)) (v1); the v3 hypothesis C/√((1−β)b) | [`c3_nshb_bound`] |
//! | C6 | SHB keeps smoothing as b → ∞ (the β̂K² term), SGD and NSHB do not | [`c6_large_batch`] |
//!
//! The bounds are stated for E‖ω_t‖ at *every* t, with C² the per-sample variance bound and K²
//! the bound on E‖∇f(x_t)‖² along the iterates (theory.md §1, §4). Each configuration is
//! therefore checked twice:
//!
//! * **stationary** — after a burn-in, the time average of ‖ω_t‖ per seed, a Student-t interval
//!   over seeds ([`measure_stationary`]), with K² the largest over-seed mean of ‖∇f(x_t)‖² over
//!   the measured steps (the stationary value: the transient's weight in the momentum buffer has
//!   decayed as β^burn-in);
//! * **trajectory** — from x_0, every step t: the over-seed mean of ‖ω_t‖ with its standard error
//!   against ψ with K² = sup_t E‖∇f(x_t)‖² over the same steps ([`measure_trajectory`]).
//!
//! C² is the exact constant for the constant-variance laws (Gaussian, anisotropic, Student-t).
//! For the laws whose C²(x) varies (multiplicative, finite-sum) the paper's constant is a sup:
//! we use the largest C²(x_t) the runner evaluated over the seeds and the measured steps
//! ([`Summary::c2`]). For the multiplicative law the theorem of
//! `proofs/noise-bounds-derivations.md` also holds with the smaller expectation-form constant
//! sup_t E C²(x_t) = dσ² + α²K², which is checked as well (a stricter test).
//!
//! Statistics. A bound is *violated* in a configuration when the measured mean exceeds ψ by more
//! than [`Z_STATIONARY`] = 4 standard errors over seeds (one-sided false alarm 3·10⁻⁵), or, in
//! the per-step check, by more than [`Z_TRAJECTORY`] = 4.5 standard errors at some step (3.4·10⁻⁶
//! per step, under 7·10⁻³ over ≤ 2000 steps, Bonferroni). For the violation test ψ uses K at
//! its upper confidence end (the largest over-seed mean of ‖∇f‖² plus z standard errors), so that
//! a violation cannot come from an underestimated K. The tightness ratio E‖ω‖/ψ uses the point
//! estimate of K.

use std::sync::Arc;

use serde::Serialize;
use serde_json::json;

use crate::error::{Error, Result};
use crate::experiments::{ClaimReport, Scale, Verdict};
use crate::landscape::{
    Landscape, MultiWell, Quadratic, Rastrigin, StyblinskiTang, TeacherStudent,
};
use crate::linalg::random_orthogonal;
use crate::noise::NoiseLaw;
use crate::optimizer::{Optimizer, OptimizerKind};
use crate::runner::{run, InitBox, Problem, RunConfig, Summary};
use crate::stationary::stationary_moments;
use crate::stats::{Estimate, Welford};
use crate::theory::{self, Formula};

/// Standard errors by which a stationary mean must exceed ψ to count as a violation
/// (one-sided normal tail 3.2·10⁻⁵).
pub const Z_STATIONARY: f64 = 4.0;
/// Standard errors by which a per-step mean must exceed ψ at some step to count as a violation
/// (one-sided 3.4·10⁻⁶ per step; ≤ 2000 steps gives a family-wise false alarm under 7·10⁻³).
pub const Z_TRAJECTORY: f64 = 4.5;
/// Base seed of every run in this module.
pub const SEED: u64 = 20_240_203;

// ---------------------------------------------------------------------------------------------
// Cases and sizes
// ---------------------------------------------------------------------------------------------

/// One landscape with its noise law, initial box and learning rate η.
#[derive(Clone)]
pub struct Case {
    /// Short label, e.g. `"quadratic_diag/gaussian"`.
    pub name: String,
    /// Landscape f, noise law and x_0 ~ U([low, high]^d).
    pub problem: Problem,
    /// η used for every optimizer on this case (small enough for SHB with β = 0.9 to be stable).
    pub lr: f64,
    /// Seed divisor for costly cases (a step of the finite-sum case costs n per-sample
    /// gradients for ∇f(x_t), a Student-t mini-batch b·d draws): their runs use
    /// 1/`effort` of the seeds of [`Sizes`] (at least 8).
    pub effort: usize,
}

impl Case {
    fn new(
        name: &str,
        landscape: Arc<dyn Landscape>,
        noise: NoiseLaw,
        init: (f64, f64),
        lr: f64,
    ) -> Self {
        Case {
            name: name.to_string(),
            problem: Problem {
                landscape,
                noise,
                init: InitBox {
                    low: init.0,
                    high: init.1,
                },
            },
            lr,
            effort: 1,
        }
    }

    fn with_effort(mut self, effort: usize) -> Self {
        self.effort = effort.max(1);
        self
    }

    /// The run sizes for this case: [`Sizes`] with the seeds divided by `effort`.
    pub fn sizes(&self, sizes: &Sizes) -> Sizes {
        let div = |s: usize| (s / self.effort).max(8.min(s));
        Sizes {
            stat_seeds: div(sizes.stat_seeds),
            traj_seeds: div(sizes.traj_seeds),
            ..*sizes
        }
    }
}

/// Eigenvalues of the quadratic cases: geometric from 0.5 to 4 in dimension d.
pub fn quadratic_eigenvalues(d: usize) -> Vec<f64> {
    if d <= 1 {
        return vec![1.0];
    }
    (0..d)
        .map(|i| 0.5 * 8f64.powf(i as f64 / (d - 1) as f64))
        .collect()
}

/// The landscapes × noise laws of the bound checks: diagonal quadratic with Gaussian noise,
/// rotated quadratic with rotated anisotropic noise, Rastrigin with Student-t noise (ν = 5),
/// Styblinski–Tang with multiplicative noise, the tilted multi-well with Gaussian noise and
/// the teacher–student finite sum with mini-batch (finite-sum) noise.
pub fn bound_cases(scale: Scale) -> Result<Vec<Case>> {
    let d = match scale {
        Scale::Quick => 4,
        Scale::Full => 8,
    };
    let eig = quadratic_eigenvalues(d);
    let aniso: Vec<f64> = (0..d)
        .map(|i| 0.3 + 1.7 * i as f64 / (d - 1) as f64)
        .collect();
    let (ts_p, ts_h, ts_n) = match scale {
        Scale::Quick => (3, 4, 128),
        Scale::Full => (4, 4, 128),
    };
    // Seed divisors of the costly cases at Full scale (see `Case::effort`).
    let (t_effort, ts_effort) = match scale {
        Scale::Quick => (1, 1),
        Scale::Full => (3, 4),
    };
    Ok(vec![
        Case::new(
            "quadratic_diag/gaussian",
            Arc::new(Quadratic::new(eig.clone(), None, 5.0)?),
            NoiseLaw::Gaussian { sigma: 1.0 },
            (-3.0, 3.0),
            0.05,
        ),
        Case::new(
            "quadratic_rotated/anisotropic",
            Arc::new(Quadratic::new(eig, Some(11), 5.0)?),
            NoiseLaw::Anisotropic {
                std_devs: aniso,
                rotation: Some(random_orthogonal(d, 12)),
                rotation_seed: Some(12),
            },
            (-3.0, 3.0),
            0.05,
        ),
        Case::new(
            "rastrigin/student_t",
            Arc::new(Rastrigin::new(d, 10.0)?),
            NoiseLaw::StudentT {
                sigma: 2.0,
                dof: 5.0,
            },
            (-5.12, 5.12),
            0.002,
        )
        .with_effort(t_effort),
        Case::new(
            "styblinski_tang/multiplicative",
            Arc::new(StyblinskiTang::new(d)?),
            NoiseLaw::Multiplicative {
                sigma: 1.0,
                alpha: 0.5,
            },
            (-5.0, 5.0),
            0.001,
        ),
        Case::new(
            "multi_well/gaussian",
            Arc::new(MultiWell::new(d, 1.0, 0.3)?),
            NoiseLaw::Gaussian { sigma: 1.0 },
            (-2.0, 2.0),
            0.01,
        ),
        Case::new(
            "teacher_student/finite_sum",
            Arc::new(TeacherStudent::new(ts_p, ts_h, ts_n, 0.1, 3)?),
            NoiseLaw::FiniteSum,
            (-1.0, 1.0),
            0.05,
        )
        .with_effort(ts_effort),
    ])
}

/// Run sizes of one scale.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Sizes {
    /// Seeds of a stationary run.
    pub stat_seeds: usize,
    /// Burn-in of a stationary run.
    pub stat_burn_in: usize,
    /// Total steps of a stationary run.
    pub stat_steps: usize,
    /// Seeds of a trajectory run.
    pub traj_seeds: usize,
    /// Steps of a trajectory run (≤ 2000 so that the series keeps every step).
    pub traj_steps: usize,
    /// Batch sizes b of the bound checks.
    pub batches: &'static [usize],
    /// Momentum factors β of the bound checks.
    pub betas: &'static [f64],
}

impl Sizes {
    /// The sizes of a scale.
    pub fn of(scale: Scale) -> Self {
        match scale {
            Scale::Quick => Sizes {
                stat_seeds: 16,
                stat_burn_in: 600,
                stat_steps: 1400,
                traj_seeds: 48,
                traj_steps: 600,
                batches: &[1, 16],
                betas: &[0.5, 0.9],
            },
            Scale::Full => Sizes {
                stat_seeds: 48,
                stat_burn_in: 1000,
                stat_steps: 3000,
                traj_seeds: 128,
                traj_steps: 2000,
                batches: &[1, 8, 64],
                betas: &[0.5, 0.9, 0.95],
            },
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Measurements
// ---------------------------------------------------------------------------------------------

/// The constant C² of a run: the paper's sup and, where known, the expectation form.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct C2Constant {
    /// C² used for the verdict: exact for constant-variance laws, else the largest C²(x_t)
    /// evaluated over the seeds and measured steps (the paper's sup).
    pub sup: f64,
    /// sup_t E C²(x_t) where it is known exactly (constant laws: = `sup`; multiplicative:
    /// dσ² + α²K²); the theorem also holds with it.
    pub expect: Option<f64>,
    /// How `sup` was obtained.
    pub kind: &'static str,
}

fn c2_constant(problem: &Problem, summary: &Summary, k: f64) -> C2Constant {
    let d = problem.landscape.dim() as f64;
    match &problem.noise {
        NoiseLaw::Multiplicative { sigma, alpha } => C2Constant {
            sup: summary.c2,
            expect: Some(d * sigma * sigma + alpha * alpha * k * k),
            kind: "sup over the trajectory (max over seeds and evaluated steps of C^2(x_t))",
        },
        NoiseLaw::FiniteSum => C2Constant {
            sup: summary.c2,
            expect: None,
            kind: "sup over the trajectory (max over seeds and evaluated steps of C^2(x_t))",
        },
        _ => C2Constant {
            sup: summary.c2,
            expect: Some(summary.c2),
            kind: "exact (constant-variance law)",
        },
    }
}

/// A stationary measurement: time averages after a burn-in, intervals over seeds.
#[derive(Debug, Clone, Serialize)]
pub struct Stationary {
    /// The runner's summary (E‖ω‖, E‖ω‖², bias and random parts, …).
    pub summary: Summary,
    /// K = √(max over measured steps of the over-seed mean of ‖∇f(x_t)‖²).
    pub k: f64,
    /// K at its upper confidence end (over-seed mean plus z standard errors, maximized over t).
    pub k_upper: f64,
    /// C².
    pub c2: C2Constant,
}

/// Run `opt` at batch size `batch` with a burn-in and summarize the stationary regime.
pub fn measure_stationary(
    problem: &Problem,
    opt: Optimizer,
    batch: usize,
    sizes: &Sizes,
) -> Result<Stationary> {
    let cfg = RunConfig {
        optimizer: opt,
        batch,
        steps: sizes.stat_steps,
        burn_in: sizes.stat_burn_in,
        seeds: sizes.stat_seeds,
        seed: SEED,
        every: 1,
    };
    let res = run(problem, &cfg, None)?;
    let summary = res.summarize(problem);
    let k = summary.k;
    let k_upper = res
        .series
        .iter()
        .map(|r| upper(&r.stats[7], Z_STATIONARY))
        .fold(0.0, f64::max)
        .sqrt();
    let c2 = c2_constant(problem, &summary, k);
    Ok(Stationary {
        summary,
        k,
        k_upper: k_upper.max(k),
        c2,
    })
}

fn upper(w: &Welford, z: f64) -> f64 {
    let se = w.std_err();
    w.mean() + if se.is_finite() { z * se } else { 0.0 }
}

/// A per-step measurement from x_0 (no burn-in): over-seed means and standard errors per step.
#[derive(Debug, Clone, Serialize)]
pub struct Trajectory {
    /// Step t of each entry.
    pub steps: Vec<usize>,
    /// Over-seed mean of ‖ω_t‖.
    pub omega: Vec<f64>,
    /// Its standard error.
    pub omega_se: Vec<f64>,
    /// Over-seed mean of ‖ω_t‖².
    pub omega_sq: Vec<f64>,
    /// Its standard error.
    pub omega_sq_se: Vec<f64>,
    /// Over-seed mean of the bias part ‖E[ω_t | past]‖².
    pub bias_sq: Vec<f64>,
    /// Over-seed mean of the random part ‖ω_t − E[ω_t | past]‖².
    pub random_sq: Vec<f64>,
    /// Over-seed mean of ‖∇f(x_t)‖².
    pub grad_sq: Vec<f64>,
    /// K = sup_t √(over-seed mean of ‖∇f(x_t)‖²).
    pub k: f64,
    /// K with each step's mean raised by [`Z_TRAJECTORY`] standard errors.
    pub k_upper: f64,
    /// C².
    pub c2: C2Constant,
    /// Seeds run.
    pub seeds: usize,
    /// Seeds whose iterate became non-finite (excluded).
    pub diverged: usize,
}

/// Run `opt` from x_0 for `sizes.traj_steps` steps, measuring every step.
pub fn measure_trajectory(
    problem: &Problem,
    opt: Optimizer,
    batch: usize,
    sizes: &Sizes,
) -> Result<Trajectory> {
    measure_trajectory_with(problem, opt, batch, sizes.traj_steps, sizes.traj_seeds)
}

/// [`measure_trajectory`] with explicit steps (≤ 2000, so that no step is subsampled) and seeds.
pub fn measure_trajectory_with(
    problem: &Problem,
    opt: Optimizer,
    batch: usize,
    steps: usize,
    seeds: usize,
) -> Result<Trajectory> {
    if steps > crate::runner::MAX_SERIES_ROWS {
        return Err(Error::invalid(
            "steps",
            steps,
            format!(
                "at most {} so that every step is kept",
                crate::runner::MAX_SERIES_ROWS
            ),
        ));
    }
    let cfg = RunConfig {
        optimizer: opt,
        batch,
        steps,
        burn_in: 0,
        seeds,
        seed: SEED,
        every: 1,
    };
    let res = run(problem, &cfg, None)?;
    let summary = res.summarize(problem);
    let col = |j: usize| {
        res.series
            .iter()
            .map(|r| r.stats[j].mean())
            .collect::<Vec<f64>>()
    };
    let col_se = |j: usize| {
        res.series
            .iter()
            .map(|r| r.stats[j].std_err())
            .collect::<Vec<f64>>()
    };
    let grad_sq = col(7);
    let k = grad_sq
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max)
        .sqrt();
    let k_upper = res
        .series
        .iter()
        .map(|r| upper(&r.stats[7], Z_TRAJECTORY))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max)
        .sqrt()
        .max(k);
    let c2 = c2_constant(problem, &summary, k);
    Ok(Trajectory {
        steps: res.series.iter().map(|r| r.step).collect(),
        omega: col(0),
        omega_se: col_se(0),
        omega_sq: col(1),
        omega_sq_se: col_se(1),
        bias_sq: col(4),
        random_sq: col(5),
        grad_sq,
        k,
        k_upper,
        c2,
        seeds: summary.seeds,
        diverged: summary.diverged,
    })
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

/// One bound ψ checked against one measurement.
#[derive(Debug, Clone, Serialize)]
pub struct BoundCheck {
    /// Formula key ([`Formula::key`]).
    pub key: &'static str,
    /// ψ with the point estimates of C² and K.
    pub psi: f64,
    /// ψ with K at its upper confidence end (used for the violation test).
    pub psi_upper: f64,
    /// Tightness ratio E‖ω‖/ψ (trajectory: the largest over steps of the over-seed mean, which
    /// the maximum over many noisy steps biases upward; see `ratio_ci`).
    pub ratio: f64,
    /// Interval for the ratio: stationary, mean ± z standard errors over seeds; trajectory, the
    /// simultaneous interval for sup_t E‖ω_t‖/ψ, (max_t (mean_t − z se_t), max_t (mean_t + z se_t))/ψ
    /// (it covers whenever every per-step interval does: Bonferroni).
    pub ratio_ci: (f64, f64),
    /// The step of the largest ratio (trajectory) or `None` (stationary).
    pub at_step: Option<usize>,
    /// Largest (E‖ω_t‖ − ψ_upper)/se over the measured steps: > z means violated.
    pub excess_z: f64,
    /// E‖ω‖ exceeds ψ by more than z standard errors.
    pub violated: bool,
    /// √E‖ω‖² exceeds ψ by more than z standard errors (the L² form the derivations bound).
    pub violated_rms: bool,
    /// Whether the bound also holds with the expectation-form C² (where known).
    pub holds_with_c2_expect: Option<bool>,
}

fn excess(mean: f64, se: f64, psi: f64) -> f64 {
    if se > 0.0 && se.is_finite() {
        (mean - psi) / se
    } else if mean > psi * (1.0 + 1e-9) + 1e-300 {
        f64::INFINITY
    } else {
        f64::NEG_INFINITY
    }
}

/// Check formula `f` against a stationary measurement.
pub fn check_stationary(f: Formula, opt: &Optimizer, batch: usize, m: &Stationary) -> BoundCheck {
    let b = batch as f64;
    let psi = f.psi(opt, b, m.c2.sup, m.k);
    let psi_upper = f.psi(opt, b, m.c2.sup, m.k_upper);
    let e = &m.summary.omega_norm;
    let se = se_of(e);
    let esq = &m.summary.omega_norm_sq;
    let se_sq = se_of(esq);
    let z = Z_STATIONARY;
    let excess_z = excess(e.mean, se, psi_upper);
    let violated = excess_z > z;
    let violated_rms = excess(esq.mean, se_sq, psi_upper * psi_upper) > z;
    let holds_with_c2_expect = m.c2.expect.map(|c2e| {
        let p = f.psi(opt, b, c2e, m.k_upper);
        excess(e.mean, se, p) <= z
    });
    BoundCheck {
        key: f.key(),
        psi,
        psi_upper,
        ratio: e.mean / psi,
        ratio_ci: ((e.mean - z * se) / psi, (e.mean + z * se) / psi),
        at_step: None,
        excess_z,
        violated,
        violated_rms,
        holds_with_c2_expect,
    }
}

/// Check formula `f` at every step of a trajectory.
pub fn check_trajectory(f: Formula, opt: &Optimizer, batch: usize, m: &Trajectory) -> BoundCheck {
    let b = batch as f64;
    let psi = f.psi(opt, b, m.c2.sup, m.k);
    let psi_upper = f.psi(opt, b, m.c2.sup, m.k_upper);
    let psi_expect = m.c2.expect.map(|c2e| f.psi(opt, b, c2e, m.k_upper));
    let z = Z_TRAJECTORY;
    let (mut best_ratio, mut best_t) = (f64::NEG_INFINITY, 0usize);
    let (mut lo, mut hi) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    let (mut excess_z, mut excess_rms, mut excess_expect) =
        (f64::NEG_INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY);
    for i in 0..m.steps.len() {
        let (w, se) = (m.omega[i], m.omega_se[i]);
        if !w.is_finite() {
            continue;
        }
        let se0 = if se.is_finite() { se } else { 0.0 };
        let r = w / psi;
        if r > best_ratio {
            best_ratio = r;
            best_t = m.steps[i];
        }
        lo = lo.max((w - z * se0) / psi);
        hi = hi.max((w + z * se0) / psi);
        excess_z = excess_z.max(excess(w, se, psi_upper));
        excess_rms = excess_rms.max(excess(
            m.omega_sq[i],
            m.omega_sq_se[i],
            psi_upper * psi_upper,
        ));
        if let Some(p) = psi_expect {
            excess_expect = excess_expect.max(excess(w, se, p));
        }
    }
    BoundCheck {
        key: f.key(),
        psi,
        psi_upper,
        ratio: best_ratio,
        ratio_ci: (lo, hi),
        at_step: Some(best_t),
        excess_z,
        violated: excess_z > z,
        violated_rms: excess_rms > z,
        holds_with_c2_expect: psi_expect.map(|_| excess_expect <= z),
    }
}

fn se_of(e: &Estimate) -> f64 {
    if e.n >= 2 {
        e.std_dev / (e.n as f64).sqrt()
    } else {
        f64::NAN
    }
}

fn est_json(e: &Estimate) -> serde_json::Value {
    json!({"mean": e.mean, "ci_low": e.ci_low, "ci_high": e.ci_high, "n": e.n})
}

fn make_opt(kind: OptimizerKind, lr: f64, beta: f64) -> Result<Optimizer> {
    Optimizer::new(kind, lr, beta, 0.0)
}

/// The stationary and trajectory rows of one (case, optimizer, b), with the checks of `formulas`.
fn bound_rows(
    claim: &str,
    case: &Case,
    opt: Optimizer,
    batch: usize,
    formulas: &[Formula],
    sizes: &Sizes,
) -> Result<Vec<(serde_json::Value, Vec<BoundCheck>)>> {
    let sizes = &case.sizes(sizes);
    let st = measure_stationary(&case.problem, opt, batch, sizes)?;
    let tr = measure_trajectory(&case.problem, opt, batch, sizes)?;
    let st_checks: Vec<BoundCheck> = formulas
        .iter()
        .map(|&f| check_stationary(f, &opt, batch, &st))
        .collect();
    let tr_checks: Vec<BoundCheck> = formulas
        .iter()
        .map(|&f| check_trajectory(f, &opt, batch, &tr))
        .collect();
    let s = &st.summary;
    let peak = tr
        .omega
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let st_row = json!({
        "claim": claim, "case": case.name, "regime": "stationary", "optimizer": opt.kind.name(),
        "lr": opt.lr, "beta": opt.beta, "batch": batch, "c2": st.c2.sup, "c2_expect": st.c2.expect,
        "c2_kind": st.c2.kind, "k": st.k, "k_upper": st.k_upper,
        "seeds": s.seeds, "diverged": s.diverged,
        "omega_norm": est_json(&s.omega_norm), "omega_norm_sq": est_json(&s.omega_norm_sq),
        "omega_bias_sq": est_json(&s.omega_bias_sq), "omega_random_sq": est_json(&s.omega_random_sq),
        "checks": st_checks,
    });
    let tr_row = json!({
        "claim": claim, "case": case.name, "regime": "trajectory", "optimizer": opt.kind.name(),
        "lr": opt.lr, "beta": opt.beta, "batch": batch, "c2": tr.c2.sup, "c2_expect": tr.c2.expect,
        "c2_kind": tr.c2.kind, "k": tr.k, "k_upper": tr.k_upper,
        "seeds": tr.seeds, "diverged": tr.diverged, "steps": tr.steps.len(),
        "omega_norm_t0": tr.omega.first(), "omega_norm_peak": peak,
        "checks": tr_checks,
    });
    if s.diverged > 0 || tr.diverged > 0 {
        return Err(Error::Open(format!(
            "{claim}: {} diverged on {} at b = {batch} (eta = {}, beta = {}); the case's eta is too large",
            opt.kind, case.name, opt.lr, opt.beta
        )));
    }
    Ok(vec![(st_row, st_checks), (tr_row, tr_checks)])
}

/// Tally of one formula over all rows.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tally {
    /// Rows checked.
    pub rows: usize,
    /// Rows with a violation of E‖ω‖ ≤ ψ.
    pub violated: usize,
    /// Rows with a violation of √E‖ω‖² ≤ ψ.
    pub violated_rms: usize,
    /// Largest tightness ratio E‖ω‖/ψ seen, with its row label.
    pub max_ratio: f64,
    /// Label of the row with the largest ratio.
    pub max_ratio_at: String,
    /// Smallest tightness ratio seen.
    pub min_ratio: f64,
    /// Largest lower confidence end of the ratio (a guaranteed tightness, at the family-wise level).
    pub max_ratio_lower: f64,
    /// Largest upper confidence end of the ratio.
    pub max_ratio_upper: f64,
    /// Largest (E‖ω‖ − ψ_upper)/se seen (> z in a violating row).
    pub max_excess_z: f64,
    /// Labels of the violating rows.
    pub violations: Vec<String>,
}

fn tally(rows: &[(serde_json::Value, Vec<BoundCheck>)], key: &str, regime: Option<&str>) -> Tally {
    let mut t = Tally {
        min_ratio: f64::INFINITY,
        max_ratio: f64::NEG_INFINITY,
        max_ratio_lower: f64::NEG_INFINITY,
        max_ratio_upper: f64::NEG_INFINITY,
        max_excess_z: f64::NEG_INFINITY,
        ..Default::default()
    };
    for (row, checks) in rows {
        if let Some(r) = regime {
            if row["regime"] != r {
                continue;
            }
        }
        for c in checks.iter().filter(|c| c.key == key) {
            let label = row_label(row);
            t.rows += 1;
            if c.violated {
                t.violated += 1;
                t.violations.push(format!(
                    "{label} (E|w| / psi = {:.3}, z = {:.1})",
                    c.ratio, c.excess_z
                ));
            }
            if c.violated_rms {
                t.violated_rms += 1;
            }
            if c.ratio > t.max_ratio {
                t.max_ratio = c.ratio;
                t.max_ratio_at = match c.at_step {
                    Some(s) => format!("{label} at t = {s}"),
                    None => label,
                };
            }
            t.min_ratio = t.min_ratio.min(c.ratio);
            t.max_ratio_lower = t.max_ratio_lower.max(c.ratio_ci.0);
            t.max_ratio_upper = t.max_ratio_upper.max(c.ratio_ci.1);
            t.max_excess_z = t.max_excess_z.max(c.excess_z);
        }
    }
    t
}

fn row_label(row: &serde_json::Value) -> String {
    format!(
        "{} {} {} eta={} beta={} b={}",
        row["case"].as_str().unwrap_or("?"),
        row["regime"].as_str().unwrap_or("?"),
        row["optimizer"].as_str().unwrap_or("?"),
        row["lr"],
        row["beta"],
        row["batch"]
    )
}

// ---------------------------------------------------------------------------------------------
// C1
// ---------------------------------------------------------------------------------------------

/// C1: E‖ω^SGD_t‖ ≤ C/√b, at every t and in the stationary regime, on every case of
/// [`bound_cases`] and every b of [`Sizes`]. Also checks the identity behind it for the
/// constant-variance laws: E‖ω^SGD‖² = C²/b within [`Z_STATIONARY`] standard errors.
pub fn c1_sgd_bound(scale: Scale) -> Result<ClaimReport> {
    let sizes = Sizes::of(scale);
    let mut all = Vec::new();
    let mut identity_fail = Vec::new();
    for case in bound_cases(scale)? {
        for &b in sizes.batches {
            let opt = make_opt(OptimizerKind::Sgd, case.lr, 0.0)?;
            let rows = bound_rows("C1", &case, opt, b, &[Formula::Sgd], &sizes)?;
            if case.problem.noise.constant_c2() {
                let s = &rows[0].0;
                let c2 = s["c2"].as_f64().unwrap_or(f64::NAN);
                let m = s["omega_norm_sq"]["mean"].as_f64().unwrap_or(f64::NAN);
                let hw = s["omega_norm_sq"]["ci_high"].as_f64().unwrap_or(f64::NAN) - m;
                // 95% half-width → standard error: divide by the t quantile (≈ 2.1 for 16 seeds).
                let n = s["omega_norm_sq"]["n"].as_f64().unwrap_or(2.0);
                let se = hw / crate::stats::t_quantile(0.975, n - 1.0);
                if (m - c2 / b as f64).abs() > Z_STATIONARY * se {
                    identity_fail.push(format!(
                        "{} b={b}: E|w|^2 = {m} vs C^2/b = {}",
                        case.name,
                        c2 / b as f64
                    ));
                }
            }
            all.extend(rows);
        }
    }
    let t = tally(&all, "sgd", None);
    let t_st = tally(&all, "sgd", Some("stationary"));
    let t_tr = tally(&all, "sgd", Some("trajectory"));
    let verdict = if t.violated == 0 {
        Verdict::Holds
    } else {
        Verdict::Fails
    };
    let evidence = format!(
        "E|w^SGD| <= C/sqrt(b) in {}/{} rows (6 landscapes x noise laws, b in {:?}, stationary and every step from x_0); \
         tightness E|w|/psi stationary {:.3}-{:.3}; whole trajectory: largest per-step over-seed mean / psi {:.3} \
         (a max over up to 2000 noisy steps; largest excess {:.2} s.e. < {Z_TRAJECTORY}; simultaneous upper end {:.3}); the gap is Jensen's (E|w|^2 = C^2/b {} for the constant-variance laws) plus, for the \
         multiplicative and finite-sum laws, C^2(x_t) below its sup",
        t.rows - t.violated,
        t.rows,
        sizes.batches,
        t_st.min_ratio,
        t_st.max_ratio,
        t_tr.max_ratio,
        t_tr.max_excess_z,
        t_tr.max_ratio_upper,
        if identity_fail.is_empty() { "within 4 s.e." } else { "FAILED" }
    );
    let counter_example = if t.violated > 0 || !identity_fail.is_empty() {
        Some(format!("{:?} {:?}", t.violations, identity_fail))
    } else {
        None
    };
    Ok(ClaimReport {
        claim: "C1",
        verdict,
        evidence,
        counter_example,
        rows: all.into_iter().map(|(r, _)| r).collect(),
    })
}

// ---------------------------------------------------------------------------------------------
// C2
// ---------------------------------------------------------------------------------------------

/// Exact stationary tightness √E‖ω‖²/ψ on the diagonal quadratic with Gaussian noise
/// (`stationary::stationary_moments`, no Monte Carlo), with K² the exact stationary E‖∇f‖².
pub fn exact_stationary_ratios(
    kind: OptimizerKind,
    formulas: &[Formula],
    scale: Scale,
) -> Result<Vec<serde_json::Value>> {
    let sizes = Sizes::of(scale);
    let d = match scale {
        Scale::Quick => 4,
        Scale::Full => 8,
    };
    let eig = quadratic_eigenvalues(d);
    let mut rows = Vec::new();
    for &beta in sizes.betas {
        for &b in sizes.batches {
            let opt = make_opt(kind, 0.05, beta)?;
            let st = stationary_moments(&opt, &eig, &vec![1.0; d], b as f64)?;
            let c2 = d as f64;
            let k = st.grad_sq.sqrt();
            let ratios: Vec<serde_json::Value> = formulas
                .iter()
                .map(|f| {
                    let psi = f.psi(&opt, b as f64, c2, k);
                    json!({"key": f.key(), "psi": psi, "rms_ratio": st.omega_sq.sqrt() / psi})
                })
                .collect();
            rows.push(json!({
                "case": "quadratic_diag/gaussian", "regime": "stationary_exact", "optimizer": kind.name(),
                "lr": 0.05, "beta": beta, "batch": b, "c2": c2, "k": k,
                "omega_sq": st.omega_sq, "omega_bias_sq": st.omega_bias_sq,
                "omega_random_sq": st.omega_random_sq, "ratios": ratios,
            }));
        }
    }
    Ok(rows)
}

/// C2: E‖ω^SHB_t‖ ≤ ψ^SHB in the paper's β̂ form and in the tight β²/(1 − β)² form, with the
/// tightness ratio E‖ω‖/ψ, on every case × β × b, stationary and at every step from x_0.
pub fn c2_shb_bound(scale: Scale) -> Result<ClaimReport> {
    let sizes = Sizes::of(scale);
    let formulas = [Formula::ShbPaper, Formula::ShbTight];
    let mut all = Vec::new();
    for case in bound_cases(scale)? {
        for &beta in sizes.betas {
            for &b in sizes.batches {
                let opt = make_opt(OptimizerKind::Shb, case.lr, beta)?;
                all.extend(bound_rows("C2", &case, opt, b, &formulas, &sizes)?);
            }
        }
    }
    let paper = tally(&all, "shb_paper", None);
    let tight = tally(&all, "shb_tight", None);
    let tight_st = tally(&all, "shb_tight", Some("stationary"));
    let tight_tr = tally(&all, "shb_tight", Some("trajectory"));
    let exact = exact_stationary_ratios(OptimizerKind::Shb, &formulas, scale)?;
    let exact_tight: Vec<f64> = exact
        .iter()
        .filter_map(|r| r["ratios"][1]["rms_ratio"].as_f64())
        .collect();
    let exact_min = exact_tight.iter().copied().fold(f64::INFINITY, f64::min);
    let exact_max = exact_tight
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let ok = paper.violated == 0 && tight.violated == 0;
    let evidence = format!(
        "violations in {} rows (stationary and every step from x_0, 6 landscapes x noise laws, beta in {:?}, b in {:?}): \
         paper beta-hat form {}, tight form {}; tightness E|w|/psi_tight stationary {:.3}-{:.3}, \
         whole trajectory sup_t {:.3}-{:.3} (largest at {}); paper form at most {:.3}; exact stationary \
         sqrt(E|w|^2)/psi_tight on the diagonal quadratic {:.3}-{:.3}",
        paper.rows,
        sizes.betas,
        sizes.batches,
        paper.violated,
        tight.violated,
        tight_st.min_ratio,
        tight_st.max_ratio,
        tight_tr.min_ratio,
        tight_tr.max_ratio,
        tight_tr.max_ratio_at,
        paper.max_ratio,
        exact_min,
        exact_max
    );
    let mut rows: Vec<serde_json::Value> = all.into_iter().map(|(r, _)| r).collect();
    rows.extend(exact);
    Ok(ClaimReport {
        claim: "C2",
        verdict: if ok { Verdict::Holds } else { Verdict::Fails },
        evidence,
        counter_example: if ok {
            None
        } else {
            Some(format!("{:?} {:?}", paper.violations, tight.violations))
        },
        rows,
    })
}

// ---------------------------------------------------------------------------------------------
// C3
// ---------------------------------------------------------------------------------------------

/// A measured counter-example to the NSHB v3 hypothesis E‖ω‖ ≤ C/√((1 − β)b).
#[derive(Debug, Clone, Serialize)]
pub struct V3CounterExample {
    /// `"stationary"` or `"transient"`.
    pub regime: &'static str,
    /// What was scanned and where it first failed, in words.
    pub description: String,
    /// η.
    pub lr: f64,
    /// β.
    pub beta: f64,
    /// b.
    pub batch: usize,
    /// C² (= σ², d = 1).
    pub c2: f64,
    /// x_0 (fixed) for the transient example; `None` for the stationary one.
    pub x0: Option<f64>,
    /// The step at which E|ω_t| is measured (`None`: time average after burn-in).
    pub step: Option<usize>,
    /// The v3 value C/√((1 − β)b).
    pub psi_v3: f64,
    /// Measured E|ω| with its standard error over seeds.
    pub measured: f64,
    /// Standard error of `measured`.
    pub se: f64,
    /// (measured − ψ_v3)/se.
    pub z: f64,
    /// The exact value of E|ω| (Gaussian ω): √(2/π)·√(E ω²) stationary, folded normal at t = 0.
    pub exact: f64,
    /// The exact threshold of the scanned parameter above which the hypothesis fails.
    pub exact_threshold: f64,
    /// ψ^NSHB v1 at the same point with the exact K (the valid bound, for comparison).
    pub psi_v1: f64,
}

/// E|N(μ, s²)| (folded normal mean).
fn folded_normal_mean(mu: f64, s: f64) -> f64 {
    if s <= 0.0 {
        return mu.abs();
    }
    let a = mu / s;
    s * (2.0 / std::f64::consts::PI).sqrt() * (-0.5 * a * a).exp()
        + mu * erf(a / std::f64::consts::SQRT_2)
}

fn erf(x: f64) -> f64 {
    statrs::function::erf::erf(x)
}

fn bisect(mut lo: f64, mut hi: f64, f: impl Fn(f64) -> f64) -> f64 {
    let flo = f(lo);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if (f(mid) > 0.0) == (flo > 0.0) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The exact stationary threshold of the v3 hypothesis on a one-dimensional quadratic
/// f(x) = λx²/2 with additive Gaussian noise: the effective step s* = η(1 − β)λ above which the
/// stationary E|ω^NSHB| exceeds C/√((1 − β)b). ω is then Gaussian (a linear function of the
/// Gaussian state and noise), so E|ω| = √(2/π)·√(E ω²) with E ω² from
/// [`stationary_moments`]. Since E ω² ∝ C²/b and depends on η and λ only through ηλ, s* does
/// not depend on b, C or λ. `None` when E|ω| stays below the hypothesis over the whole
/// stability range 0 < s < 2(1 + β) (β = 0, where NSHB is SGD).
pub fn nshb_v3_stationary_threshold(beta: f64) -> Result<Option<f64>> {
    let opt0 = Optimizer::new(OptimizerKind::Nshb, 1.0, beta, 0.0)?;
    let v3 = theory::psi_nshb_v3_hypothesis(beta, 1.0, 1.0);
    let gap = |s: f64| -> f64 {
        let lr = s / (1.0 - beta);
        Optimizer::new(OptimizerKind::Nshb, lr, opt0.beta, 0.0)
            .and_then(|o| stationary_moments(&o, &[1.0], &[1.0], 1.0))
            .map(|m| (2.0 / std::f64::consts::PI).sqrt() * m.omega_sq.sqrt() - v3)
            .unwrap_or(f64::INFINITY)
    };
    let edge = 2.0 * (1.0 + beta);
    let n = 4000;
    let mut prev = 1e-9;
    for i in 1..n {
        let s = edge * i as f64 / n as f64;
        if gap(s) > 0.0 {
            return Ok(Some(bisect(prev, s, gap)));
        }
        prev = s;
    }
    Ok(None)
}

/// The smallest counter-examples to the v3 hypothesis the toolkit finds, in d = 1 with
/// f(x) = x²/2, Gaussian noise σ = 1, b = 1, β = 0.9 (v3 value √10 = 3.162):
///
/// * **stationary**: the smallest η on the grid 10, 11, …, 37 (stable up to η(1 − β) < 3.8)
///   at which the measured stationary E|ω| exceeds √10 by more than [`Z_STATIONARY`] standard
///   errors (found: η = 19); the exact threshold (from the exact stationary E ω² and the
///   Gaussianity of ω, [`nshb_v3_stationary_threshold`]) is η* = 18.19;
/// * **transient**: t = 0 from a fixed x_0, η = 0.1: ω_0 = −β x_0 + (1 − β)ξ_0, the smallest x_0
///   on the grid 3.0, 3.1, … at which the measured E|ω_0| exceeds √10 by more than
///   [`Z_TRAJECTORY`] standard errors (found: x_0 = 3.6; exact threshold x_0* = 3.514).
pub fn nshb_v3_counter_examples(scale: Scale) -> Result<Vec<V3CounterExample>> {
    let (beta, b, sigma) = (0.9, 1usize, 1.0);
    let c2 = sigma * sigma;
    let psi_v3 = theory::psi_nshb_v3_hypothesis(beta, b as f64, c2);
    let quad = Arc::new(Quadratic::new(vec![1.0], None, 1e3)?);
    let (seeds, burn, steps) = match scale {
        Scale::Quick => (32, 300, 3300),
        Scale::Full => (64, 500, 10_500),
    };
    let mut out = Vec::new();

    // Stationary: exact E|ω| = √(2/π) √(E ω²) (ω is a linear function of the Gaussian state).
    let exact_abs = |lr: f64| -> f64 {
        Optimizer::new(OptimizerKind::Nshb, lr, beta, 0.0)
            .and_then(|o| stationary_moments(&o, &[1.0], &[c2], b as f64))
            .map(|s| (2.0 / std::f64::consts::PI).sqrt() * s.omega_sq.sqrt())
            .unwrap_or(f64::NAN)
    };
    let lr_star = bisect(1.0, 37.9, |lr| exact_abs(lr) - psi_v3);
    let problem = Problem {
        landscape: quad.clone(),
        noise: NoiseLaw::Gaussian { sigma },
        init: InitBox {
            low: 0.0,
            high: 0.0,
        },
    };
    let sizes = Sizes {
        stat_seeds: seeds,
        stat_burn_in: burn,
        stat_steps: steps,
        traj_seeds: seeds,
        traj_steps: 1,
        batches: &[1],
        betas: &[0.9],
    };
    let mut found = None;
    for lr in (10..=37).map(|v| v as f64) {
        let opt = Optimizer::new(OptimizerKind::Nshb, lr, beta, 0.0)?;
        let st = measure_stationary(&problem, opt, b, &sizes)?;
        let e = st.summary.omega_norm;
        let se = se_of(&e);
        let z = (e.mean - psi_v3) / se;
        if st.summary.diverged == 0 && z > Z_STATIONARY {
            let sm = stationary_moments(&opt, &[1.0], &[c2], b as f64)?;
            found = Some(V3CounterExample {
                regime: "stationary",
                description: format!(
                    "d = 1, f = x^2/2, Gaussian sigma = 1, b = 1, beta = 0.9: smallest eta on the grid 10..37 \
                     with measured stationary E|w| > C/sqrt((1-beta) b) by more than {Z_STATIONARY} s.e. \
                     ({seeds} seeds x {} steps after {burn} burn-in)",
                    steps - burn
                ),
                lr,
                beta,
                batch: b,
                c2,
                x0: None,
                step: None,
                psi_v3,
                measured: e.mean,
                se,
                z,
                exact: exact_abs(lr),
                exact_threshold: lr_star,
                psi_v1: theory::psi_nshb_v1(beta, b as f64, c2, sm.grad_sq.sqrt()),
            });
            break;
        }
    }
    out.extend(found);

    // Transient: t = 0 from a fixed x_0; ω_0 = −β x_0 + (1 − β) ξ_0 exactly.
    let exact0 = |x0: f64| folded_normal_mean(-beta * x0, (1.0 - beta) * sigma / (b as f64).sqrt());
    let x_star = bisect(0.0, 10.0, |x0| exact0(x0) - psi_v3);
    let lr = 0.1;
    let mut found = None;
    for i in 0..=40 {
        let x0 = 3.0 + 0.1 * i as f64;
        let problem = Problem {
            landscape: quad.clone(),
            noise: NoiseLaw::Gaussian { sigma },
            init: InitBox { low: x0, high: x0 },
        };
        let opt = Optimizer::new(OptimizerKind::Nshb, lr, beta, 0.0)?;
        let tr = measure_trajectory_with(&problem, opt, b, 1, seeds * 8)?;
        let (m, se) = (tr.omega[0], tr.omega_se[0]);
        let z = (m - psi_v3) / se;
        if z > Z_TRAJECTORY {
            found = Some(V3CounterExample {
                regime: "transient",
                description: format!(
                    "d = 1, f = x^2/2, Gaussian sigma = 1, b = 1, beta = 0.9, eta = 0.1, fixed x_0: smallest x_0 on the \
                     grid 3.0, 3.1, ... with measured E|w_0| > C/sqrt((1-beta) b) by more than {Z_TRAJECTORY} s.e. ({} seeds)",
                    seeds * 8
                ),
                lr,
                beta,
                batch: b,
                c2,
                x0: Some(x0),
                step: Some(0),
                psi_v3,
                measured: m,
                se,
                z,
                exact: exact0(x0),
                exact_threshold: x_star,
                psi_v1: theory::psi_nshb_v1(beta, b as f64, c2, x0),
            });
            break;
        }
    }
    out.extend(found);
    Ok(out)
}

/// C3: E‖ω^NSHB_t‖ ≤ ψ^NSHB in the v1 form (and the tight derived form), and where the v3
/// hypothesis C/√((1 − β)b) holds, on every case × β × b, stationary and at every step; plus the
/// smallest counter-examples to v3 ([`nshb_v3_counter_examples`]).
pub fn c3_nshb_bound(scale: Scale) -> Result<ClaimReport> {
    let sizes = Sizes::of(scale);
    let formulas = [
        Formula::NshbV1,
        Formula::NshbTight,
        Formula::NshbV3Hypothesis,
    ];
    let mut all = Vec::new();
    for case in bound_cases(scale)? {
        for &beta in sizes.betas {
            for &b in sizes.batches {
                let opt = make_opt(OptimizerKind::Nshb, case.lr, beta)?;
                all.extend(bound_rows("C3", &case, opt, b, &formulas, &sizes)?);
            }
        }
    }
    let v1 = tally(&all, "nshb_v1", None);
    let tight = tally(&all, "nshb_tight", None);
    let v1_st = tally(&all, "nshb_v1", Some("stationary"));
    let v1_tr = tally(&all, "nshb_v1", Some("trajectory"));
    let v3_st = tally(&all, "nshb_v3_hypothesis", Some("stationary"));
    let v3_tr = tally(&all, "nshb_v3_hypothesis", Some("trajectory"));
    let ces = nshb_v3_counter_examples(scale)?;
    let thresholds: Vec<(f64, Option<f64>)> = [0.0, 0.5, 0.9, 0.95, 0.99]
        .iter()
        .map(|&beta| nshb_v3_stationary_threshold(beta).map(|s| (beta, s)))
        .collect::<Result<_>>()?;
    let v1_ok = v1.violated == 0 && tight.violated == 0;
    let v3_fails = v3_st.violated + v3_tr.violated > 0 || !ces.is_empty();
    let verdict = match (v1_ok, v3_fails) {
        (true, true) => Verdict::Mixed,
        (true, false) => Verdict::Holds,
        (false, _) => Verdict::Fails,
    };
    let evidence = format!(
        "v1 form holds in {}/{} rows (tightness stationary {:.3}-{:.3}, trajectory max over t {:.3}-{:.3}); \
         v3 hypothesis C/sqrt((1-beta)b) fails in {}/{} stationary rows and {}/{} whole-trajectory rows \
         (transient bias -beta grad f(x_0)), stationary ratio up to {:.3}; smallest counter-examples: {}; \
         exact stationary thresholds on a 1-d quadratic, effective step eta(1-beta)lambda above which v3 fails \
         (any b, C): {}",
        v1.rows - v1.violated,
        v1.rows,
        v1_st.min_ratio,
        v1_st.max_ratio,
        v1_tr.min_ratio,
        v1_tr.max_ratio,
        v3_st.violated,
        v3_st.rows,
        v3_tr.violated,
        v3_tr.rows,
        v3_st.max_ratio,
        ces.iter()
            .map(|c| format!(
                "{} (eta = {}, x0 = {:?}: E|w| = {:.3} +- {:.3} > {:.3}, z = {:.1})",
                c.regime, c.lr, c.x0, c.measured, c.se, c.psi_v3, c.z
            ))
            .collect::<Vec<_>>()
            .join("; "),
        thresholds
            .iter()
            .map(|(b, s)| match s {
                Some(s) => format!("beta {b}: {s:.3} (stable < {:.2})", 2.0 * (1.0 + b)),
                None => format!("beta {b}: never"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    );
    let counter_example = Some(format!(
        "v3 hypothesis: {}{}",
        serde_json::to_string(&ces).unwrap_or_default(),
        if v1_ok {
            String::new()
        } else {
            format!(
                "; v1 violations: {:?} {:?}",
                v1.violations, tight.violations
            )
        }
    ));
    let mut rows: Vec<serde_json::Value> = all.into_iter().map(|(r, _)| r).collect();
    rows.extend(exact_stationary_ratios(
        OptimizerKind::Nshb,
        &formulas,
        scale,
    )?);
    rows.extend(
        ces.iter()
            .map(|c| json!({"regime": "v3_counter_example", "example": c})),
    );
    rows.extend(thresholds.iter().map(
        |(b, s)| json!({"regime": "v3_stationary_threshold", "beta": b, "effective_step": s}),
    ));
    Ok(ClaimReport {
        claim: "C3",
        verdict,
        evidence,
        counter_example,
        rows,
    })
}

// ---------------------------------------------------------------------------------------------
// C6
// ---------------------------------------------------------------------------------------------

/// One (case, optimizer, b) point of the large-batch sweep.
#[derive(Debug, Clone, Serialize)]
pub struct LargeBatchPoint {
    /// Case label.
    pub case: String,
    /// Optimizer name.
    pub optimizer: &'static str,
    /// b.
    pub batch: usize,
    /// Stationary E‖ω‖ (interval over seeds).
    pub stat_omega: Estimate,
    /// Stationary bias part E‖E[ω | past]‖².
    pub stat_bias_sq: Estimate,
    /// Stationary random part E‖ω − E[ω | past]‖².
    pub stat_random_sq: Estimate,
    /// Exact stationary E‖ω‖², bias and random parts (diagonal quadratic with Gaussian noise).
    pub exact: Option<(f64, f64, f64)>,
    /// Trajectory: sup over t of the over-seed mean of ‖ω_t‖.
    pub traj_peak_omega: f64,
    /// The step of that peak.
    pub traj_peak_step: usize,
    /// Bias part / E‖ω_t‖² at the peak step (share of the noise that is bias).
    pub traj_peak_bias_share: f64,
    /// Time average over the trajectory of the over-seed mean of ‖ω_t‖.
    pub traj_mean_omega: f64,
    /// K over the trajectory.
    pub k_traj: f64,
    /// C² (paper's constant).
    pub c2: f64,
    /// The optimizer's ψ formulas at this b with the trajectory's K.
    pub psi: Vec<(&'static str, f64)>,
}

/// The b grid of the large-batch sweep.
pub fn large_batches(scale: Scale) -> Vec<usize> {
    match scale {
        Scale::Quick => vec![1, 16, 256, 4096],
        Scale::Full => (0..=12).map(|i| 1usize << i).collect(),
    }
}

/// Cases of the large-batch sweep (laws whose cost does not grow with b).
pub fn large_batch_cases(scale: Scale) -> Result<Vec<Case>> {
    let all = bound_cases(scale)?;
    Ok(all
        .into_iter()
        .filter(|c| {
            matches!(
                c.name.as_str(),
                "quadratic_diag/gaussian"
                    | "rastrigin/student_t"
                    | "multi_well/gaussian"
                    | "styblinski_tang/multiplicative"
            )
        })
        .map(|mut c| {
            if let NoiseLaw::StudentT { sigma, .. } = c.problem.noise {
                // Student-t mini-batches cost b draws per coordinate; at b up to 4096 use the
                // Gaussian law of the same variance instead.
                c.problem.noise = NoiseLaw::Gaussian { sigma };
                c.name = "rastrigin/gaussian".to_string();
                c.effort = 1;
            }
            c
        })
        .collect())
}

/// Measure one point of the sweep.
pub fn large_batch_point(
    case: &Case,
    opt: Optimizer,
    batch: usize,
    sizes: &Sizes,
) -> Result<LargeBatchPoint> {
    let sizes = &case.sizes(sizes);
    let st = measure_stationary(&case.problem, opt, batch, sizes)?;
    let tr = measure_trajectory(&case.problem, opt, batch, sizes)?;
    if st.summary.diverged > 0 || tr.diverged > 0 {
        return Err(Error::Open(format!(
            "C6: {} diverged on {} at b = {batch}",
            opt.kind, case.name
        )));
    }
    let (mut peak, mut at) = (f64::NEG_INFINITY, 0usize);
    for (i, &w) in tr.omega.iter().enumerate() {
        if w > peak {
            peak = w;
            at = i;
        }
    }
    let share = tr.bias_sq[at] / tr.omega_sq[at];
    let exact = if case.name == "quadratic_diag/gaussian" {
        let eig = quadratic_eigenvalues(case.problem.landscape.dim());
        let s2 = match case.problem.noise {
            NoiseLaw::Gaussian { sigma } => sigma * sigma,
            _ => f64::NAN,
        };
        let sm = stationary_moments(&opt, &eig, &vec![s2; eig.len()], batch as f64)?;
        Some((sm.omega_sq, sm.omega_bias_sq, sm.omega_random_sq))
    } else {
        None
    };
    let psi = theory::formulas(opt.kind)
        .iter()
        .map(|f| (f.key(), f.psi(&opt, batch as f64, tr.c2.sup, tr.k)))
        .collect();
    let n = tr.omega.len().max(1) as f64;
    Ok(LargeBatchPoint {
        case: case.name.clone(),
        optimizer: opt.kind.name(),
        batch,
        stat_omega: st.summary.omega_norm,
        stat_bias_sq: st.summary.omega_bias_sq,
        stat_random_sq: st.summary.omega_random_sq,
        exact,
        traj_peak_omega: peak,
        traj_peak_step: tr.steps[at],
        traj_peak_bias_share: share,
        traj_mean_omega: tr.omega.iter().sum::<f64>() / n,
        k_traj: tr.k,
        c2: tr.c2.sup,
        psi,
    })
}

/// Least-squares slope of log y on log x.
pub fn log_log_slope(x: &[f64], y: &[f64]) -> f64 {
    let pts: Vec<(f64, f64)> = x
        .iter()
        .zip(y)
        .filter(|(a, b)| **a > 0.0 && **b > 0.0)
        .map(|(a, b)| (a.ln(), b.ln()))
        .collect();
    let n = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    sxy / sxx
}

/// C6: measured E‖ω‖ against b = 1 … 4096 for SGD, SHB and NSHB (η of the case, β = 0.9), split
/// into the bias part ‖E[ω_t | past]‖² and the random part, in the stationary regime and along
/// the whole trajectory from x_0, beside the theory's ψ(b) curves.
pub fn c6_large_batch(scale: Scale) -> Result<ClaimReport> {
    let sizes = Sizes::of(scale);
    let bs = large_batches(scale);
    let beta = 0.9;
    let mut points = Vec::new();
    for case in large_batch_cases(scale)? {
        for kind in [OptimizerKind::Sgd, OptimizerKind::Shb, OptimizerKind::Nshb] {
            let opt = make_opt(
                kind,
                case.lr,
                if kind == OptimizerKind::Sgd {
                    0.0
                } else {
                    beta
                },
            )?;
            for &b in &bs {
                points.push(large_batch_point(&case, opt, b, &sizes)?);
            }
        }
    }
    // Per (case, optimizer): slopes and large-b behaviour.
    let mut summaries = Vec::new();
    let mut groups: Vec<(String, &'static str)> = Vec::new();
    for p in &points {
        if !groups.iter().any(|g| g.0 == p.case && g.1 == p.optimizer) {
            groups.push((p.case.clone(), p.optimizer));
        }
    }
    let (bmin, bmax) = (bs[0], bs[bs.len() - 1]);
    let mut shb_stat_vanishes = true;
    let mut nshb_traj_persists = true;
    let mut shb_traj_persists = true;
    let mut sgd_vanishes = true;
    for (case, optn) in &groups {
        let ps: Vec<&LargeBatchPoint> = points
            .iter()
            .filter(|p| &p.case == case && p.optimizer == *optn)
            .collect();
        let x: Vec<f64> = ps.iter().map(|p| p.batch as f64).collect();
        let stat: Vec<f64> = ps.iter().map(|p| p.stat_omega.mean).collect();
        let peak: Vec<f64> = ps.iter().map(|p| p.traj_peak_omega).collect();
        let slope_stat = log_log_slope(&x, &stat);
        let slope_peak = log_log_slope(&x, &peak);
        let first = ps.iter().find(|p| p.batch == bmin);
        let last = ps.iter().find(|p| p.batch == bmax);
        let (stat_ratio, peak_ratio, bias_share_last, random_last) = match (first, last) {
            (Some(a), Some(z)) => (
                z.stat_omega.mean / a.stat_omega.mean,
                z.traj_peak_omega / a.traj_peak_omega,
                z.stat_bias_sq.mean / (z.stat_bias_sq.mean + z.stat_random_sq.mean),
                z.stat_random_sq.mean,
            ),
            _ => (f64::NAN, f64::NAN, f64::NAN, f64::NAN),
        };
        let psi_last: Vec<(&str, f64)> = last.map(|p| p.psi.clone()).unwrap_or_default();
        // "Vanishes": the stationary E|w| at b_max is below 10% of its b = 1 value (the 1/sqrt(b)
        // law gives 1/64 = 0.016 over 1 .. 4096).
        let vanishes = stat_ratio < 0.1;
        // "Persists": the peak over the trajectory at b_max is at least half its b = 1 value.
        let persists = peak_ratio > 0.5;
        match *optn {
            "sgd" => sgd_vanishes &= vanishes && peak_ratio < 0.1,
            "shb" => {
                shb_stat_vanishes &= vanishes;
                shb_traj_persists &= persists;
            }
            "nshb" => nshb_traj_persists &= persists,
            _ => {}
        }
        summaries.push(json!({
            "case": case, "optimizer": optn, "slope_stationary": slope_stat, "slope_traj_peak": slope_peak,
            "stationary_ratio_bmax_over_b1": stat_ratio, "traj_peak_ratio_bmax_over_b1": peak_ratio,
            "stationary_bias_share_at_bmax": bias_share_last, "stationary_random_sq_at_bmax": random_last,
            "psi_at_bmax": psi_last,
        }));
    }
    // The claim: SHB keeps smoothing as b -> infinity, SGD and NSHB do not.
    let verdict = if shb_stat_vanishes && nshb_traj_persists {
        Verdict::Fails
    } else if shb_traj_persists && sgd_vanishes && !nshb_traj_persists {
        Verdict::Holds
    } else {
        Verdict::Mixed
    };
    let evidence = format!(
        "over b = {bmin}..{bmax} (beta = 0.9): stationary E|w| falls like b^-1/2 for SGD, SHB and NSHB alike \
         (SHB stationary vanishes: {shb_stat_vanishes}); what stays at large b is the bias part E[w|past] \
         along the transient from x_0, for SHB (persists: {shb_traj_persists}) and for NSHB too \
         (persists: {nshb_traj_persists}), never the random part (= c_g^2 C^2/b exactly); SGD vanishes \
         everywhere: {sgd_vanishes}. The b-independent floors are the bounds' K terms: sqrt(bh) K (SHB paper) \
         and 2 beta K (NSHB v1); only the v3 NSHB hypothesis goes to 0"
    );
    let mut rows: Vec<serde_json::Value> = summaries;
    rows.extend(
        points
            .iter()
            .map(|p| serde_json::to_value(p).unwrap_or_default()),
    );
    Ok(ClaimReport {
        claim: "C6",
        verdict,
        evidence,
        counter_example: if verdict == Verdict::Holds {
            None
        } else {
            Some(
                "SHB's stationary noise vanishes like 1/sqrt(b) (e.g. the diagonal quadratic: exactly E|w|^2 ∝ 1/b); \
                 the large-b noise of both SHB and NSHB is the deterministic transient bias, not random noise"
                    .to_string(),
            )
        },
        rows,
    })
}

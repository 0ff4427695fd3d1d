//! Claims C9, C10 and C13 (claims.md): exact equivalences between the update rules, what
//! momentum does to the search-direction noise ω_t = d_t − ∇f(x_t), and the shape A/T + B of
//! the convergence measure (1/T) Σ_t E⟨x_t − x*, ∇f(x_t)⟩.
//!
//! **C9 — equivalences.** Every rule of theory.md §2 is linear, d_t = c_g g_t + c_m m_{t−1},
//! m_t = a_g g_t + a_m m_{t−1}, m_{−1} = 0 ([`crate::optimizer::Coefficients`]). Unrolling,
//! the displacement is a convolution of the mini-batch gradients,
//! x_{t+1} − x_t = −Σ_{k≥0} h_k g_{t−k}, with the *step response*
//! h_0 = η c_g, h_k = η c_m a_g a_m^{k−1} (k ≥ 1) ([`StepResponse`]). Two rules fed the same
//! gradients therefore produce the same iterates iff their step responses agree; this gives
//! NSHB(η, β) ≡ SHB(η(1−β), β), Nesterov(η, β) ≡ QHM(η/(1−β), ν = β, β), QHM(ν = 0) ≡ SGD and
//! QHM(ν = 1) ≡ NSHB. [`trace_pair`] checks each identity numerically: both optimizers start
//! from the same x_0, each evaluates ∇f at its *own* iterate, and both draw their mini-batch
//! noise from identically seeded generators (the same noise vectors ξ_t, the same finite-sum
//! indices), in float64, as qhoptim does (max_t ‖x_t − x'_t‖ ≤ 10⁻⁷ (1 + ‖x_t‖)).
//!
//! **C10 — does momentum reduce the noise?** Measured E‖ω‖, its bias part E‖E[ω | past]‖²
//! and random part c_g² E‖ξ‖² (the runner's instruments) per optimizer at matched η and at
//! matched effective learning rate η_eff = η (c_g + c_m a_g/(1 − a_m))
//! ([`Optimizer::effective_lr`]); exact on quadratics ([`crate::stationary`]); and the
//! *window noise* V(W) = E‖Σ_{t∈window} ω_t‖²/W, which tends to the same C²/b for every rule
//! (the window sum of ω equals the window sum of ξ up to a boundary term,
//! [`window_boundary_term`]).
//!
//! **C13 — A/T + B.** With z_t = x_t − η c_m/(1 − a_m) m_{t−1} every rule obeys
//! z_{t+1} = z_t − η_eff g_t exactly, whence the identity
//! Φ_T := (1/T) Σ_{t<T} ⟨x_t − x*, ∇f(x_t)⟩
//!      = (‖x_0 − x*‖² − ‖z_T − x*‖²)/(2 η_eff T) + (η_eff/2) avg ‖g_t‖²
//!        + η c_m/(1 − a_m) avg ⟨m_{t−1}, ∇f(x_t)⟩ − avg ⟨z_t − x*, ξ_t⟩
//! ([`convergence_curve`] checks it path by path), the bound A/T + B of [`derived_bound`], and
//! the least-squares fit of Φ_T = A/T + B with confidence intervals over seeds ([`fit_shape`]).
//! Derivations: proofs/C9-equivalences.md, proofs/C10-momentum-noise.md,
//! proofs/C13-convergence-bound.md.

use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;
use serde_json::json;

use crate::error::{Error, Result};
use crate::experiments::{ClaimReport, Scale, Verdict};
use crate::landscape::{
    Landscape, Quadratic, Rastrigin, Rosenbrock, StyblinskiTang, TeacherStudent,
};
use crate::linalg::{dot, norm_sq};
use crate::noise::{NoiseLaw, NoiseScratch};
use crate::optimizer::{Optimizer, OptimizerKind};
use crate::runner::{self, InitBox, Problem, RunConfig};
use crate::stationary::{is_stable, lyapunov_2x2, stationary_moments, transition};
use crate::stats::{Estimate, Welford};

// =============================================================================================
// Shared: one seed of one optimizer, stepped by hand.
// =============================================================================================

/// One seed: the iterate x_t, ∇f(x_t), the mini-batch gradient g_t, the buffer m_t (and
/// m_{t−1}), the direction d_t, and the seed's generator. x_0 ~ U([low, high]^d) is drawn first
/// from ChaCha8 stream `stream` of `seed`, then every mini-batch, exactly as the runner does.
struct Walker<'a> {
    land: &'a dyn Landscape,
    noise: &'a NoiseLaw,
    batch: usize,
    rng: ChaCha8Rng,
    scratch: NoiseScratch,
    x: Vec<f64>,
    grad: Vec<f64>,
    g: Vec<f64>,
    m: Vec<f64>,
    m_prev: Vec<f64>,
    d: Vec<f64>,
}

impl<'a> Walker<'a> {
    fn new(problem: &'a Problem, batch: usize, seed: u64, stream: u64) -> Self {
        let land = problem.landscape.as_ref();
        let dim = land.dim();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        let x = problem.init.sample(dim, &mut rng);
        Walker {
            land,
            noise: &problem.noise,
            batch,
            rng,
            scratch: NoiseScratch::new(dim),
            x,
            grad: vec![0.0; dim],
            g: vec![0.0; dim],
            m: vec![0.0; dim],
            m_prev: vec![0.0; dim],
            d: vec![0.0; dim],
        }
    }

    /// ∇f(x_t) and the mini-batch gradient g_t at the current iterate.
    fn sample(&mut self) {
        self.land.gradient(&self.x, &mut self.grad);
        self.noise.sample_minibatch(
            self.land,
            &self.x,
            &self.grad,
            self.batch,
            &mut self.rng,
            &mut self.scratch,
            &mut self.g,
        );
    }

    /// d_t and m_t from g_t (m_{t−1} kept in `m_prev`).
    fn direct(&mut self, opt: &Optimizer) {
        self.m_prev.copy_from_slice(&self.m);
        opt.direction(&self.g, &mut self.m, &mut self.d);
    }

    fn finite(&self) -> bool {
        self.x.iter().all(|v| v.is_finite())
    }
}

fn check_sim(batch: usize, steps: usize, seeds: usize) -> Result<()> {
    if batch == 0 {
        return Err(Error::invalid("batch", 0, "an integer >= 1"));
    }
    if steps == 0 {
        return Err(Error::invalid("steps", 0, "an integer >= 1"));
    }
    if seeds == 0 {
        return Err(Error::invalid("seeds", 0, "an integer >= 1"));
    }
    Ok(())
}

fn est(values: impl IntoIterator<Item = f64>) -> Estimate {
    let mut w = Welford::new();
    values.into_iter().for_each(|v| w.push(v));
    w.estimate(0.95)
}

/// Standard error of an estimate's mean, s/√n.
fn std_err(e: &Estimate) -> f64 {
    e.std_dev / (e.n as f64).sqrt()
}

// =============================================================================================
// C9: equivalences
// =============================================================================================

/// qhoptim's equivalence standard: max_t ‖x_t − x'_t‖ ≤ 10⁻⁷ (1 + ‖x_t‖).
pub const EQUIV_TOL: f64 = 1e-7;

/// The step response of a linear rule: x_{t+1} = x_t − Σ_{k≥0} h_k g_{t−k} with
/// h_0 = η c_g and h_k = η c_m a_g a_m^{k−1} for k ≥ 1 (m_{−1} = 0). Two rules fed the same
/// gradient sequence give the same iterates iff their responses agree.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StepResponse {
    /// h_0 = η c_g, the weight of the fresh gradient.
    pub h0: f64,
    /// h_1 = η c_m a_g, the weight of the previous gradient.
    pub h1: f64,
    /// a_m, the geometric decay of h_k for k ≥ 1 (irrelevant when h_1 = 0).
    pub decay: f64,
}

impl StepResponse {
    /// The response of an optimizer.
    pub fn of(opt: &Optimizer) -> Self {
        let c = opt.coefficients();
        StepResponse {
            h0: opt.lr * c.c_g,
            h1: opt.lr * c.c_m * c.a_g,
            decay: c.a_m,
        }
    }

    /// h_k.
    pub fn h(&self, k: usize) -> f64 {
        if k == 0 {
            self.h0
        } else {
            self.h1 * self.decay.powi(k as i32 - 1)
        }
    }

    /// Largest relative difference of (h_0, h_1, h_1 a_m) between two responses — zero iff the
    /// responses coincide (h_1 a_m fixes the decay whenever h_1 ≠ 0).
    pub fn distance(&self, other: &StepResponse) -> f64 {
        let rel = |a: f64, b: f64| (a - b).abs() / a.abs().max(b.abs()).max(f64::MIN_POSITIVE);
        let z = |a: f64, b: f64| if a == 0.0 && b == 0.0 { 0.0 } else { rel(a, b) };
        z(self.h0, other.h0)
            .max(z(self.h1, other.h1))
            .max(z(self.h1 * self.decay, other.h1 * other.decay))
    }
}

/// One side of an equivalence: a rule of theory.md §2 run through [`Optimizer::direction`], or
/// the reference integrator of a step response, x_{t+1} = x_t − h_0 g_t − s_t,
/// s_{t+1} = a_m s_t + h_1 g_t (no momentum buffer, no direction).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum Rule {
    /// An optimizer.
    Update(Optimizer),
    /// The step-response integrator.
    Response(StepResponse),
}

impl Rule {
    fn describe(&self) -> String {
        match self {
            Rule::Update(o) => {
                format!("{}(eta={:.4e}, beta={}, nu={})", o.kind, o.lr, o.beta, o.nu)
            }
            Rule::Response(r) => {
                format!("response(h0={:.4e}, h1={:.4e}, a={})", r.h0, r.h1, r.decay)
            }
        }
    }
}

/// The identities of C9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Identity {
    /// NSHB(η, β) ≡ SHB(η(1−β), β); m^SHB = m^NSHB/(1−β), d^SHB = d^NSHB/(1−β).
    NshbShb,
    /// Nesterov(η, β) ≡ QHM(η/(1−β), ν = β, β); m^QHM = (1−β) m^Nes, d^QHM = (1−β) d^Nes.
    NesterovQhm,
    /// QHM(η, β, ν = 0) ≡ SGD(η); d^QHM = d^SGD = g (QHM's buffer is kept but unused).
    QhmSgd,
    /// QHM(η, β, ν = 1) ≡ NSHB(η, β); m and d equal.
    QhmNshb,
    /// QHM(η, β, ν) ≡ the integrator of its step response (any ν).
    QhmResponse,
}

impl Identity {
    /// All identities, in report order.
    pub const ALL: [Identity; 5] = [
        Identity::NshbShb,
        Identity::NesterovQhm,
        Identity::QhmSgd,
        Identity::QhmNshb,
        Identity::QhmResponse,
    ];

    /// Short name.
    pub fn name(self) -> &'static str {
        match self {
            Identity::NshbShb => "NSHB(eta,beta) = SHB(eta(1-beta),beta)",
            Identity::NesterovQhm => "Nesterov(eta,beta) = QHM(eta/(1-beta),nu=beta,beta)",
            Identity::QhmSgd => "QHM(nu=0) = SGD",
            Identity::QhmNshb => "QHM(nu=1) = NSHB",
            Identity::QhmResponse => "QHM(nu) = step-response integrator",
        }
    }

    /// The pair for a common effective step h = η_eff (the long-run gain of a constant
    /// gradient, the same on both sides), momentum β and, for [`Identity::QhmResponse`], ν.
    ///
    /// # Errors
    /// `lr`, `beta`, `nu` out of range (see [`Optimizer::new`]).
    pub fn case(self, h: f64, beta: f64, nu: f64) -> Result<EquivalenceCase> {
        use OptimizerKind as K;
        let o = Optimizer::new;
        let (left, right, buffer_scale, direction_scale) = match self {
            Identity::NshbShb => (
                Rule::Update(o(K::Nshb, h, beta, 0.0)?),
                Rule::Update(o(K::Shb, h * (1.0 - beta), beta, 0.0)?),
                Some(1.0 / (1.0 - beta)),
                Some(1.0 / (1.0 - beta)),
            ),
            Identity::NesterovQhm => (
                Rule::Update(o(K::Nesterov, h * (1.0 - beta), beta, 0.0)?),
                Rule::Update(o(K::Qhm, h, beta, beta)?),
                Some(1.0 - beta),
                Some(1.0 - beta),
            ),
            Identity::QhmSgd => (
                Rule::Update(o(K::Qhm, h, beta, 0.0)?),
                Rule::Update(o(K::Sgd, h, beta, 0.0)?),
                None,
                Some(1.0),
            ),
            Identity::QhmNshb => (
                Rule::Update(o(K::Qhm, h, beta, 1.0)?),
                Rule::Update(o(K::Nshb, h, beta, 0.0)?),
                Some(1.0),
                Some(1.0),
            ),
            Identity::QhmResponse => {
                let q = o(K::Qhm, h, beta, nu)?;
                (
                    Rule::Update(q),
                    Rule::Response(StepResponse::of(&q)),
                    None,
                    None,
                )
            }
        };
        Ok(EquivalenceCase {
            identity: self,
            left,
            right,
            buffer_scale,
            direction_scale,
        })
    }
}

/// Two rules claimed to give the same iterates, with the claimed maps between their buffers
/// (m^right_t = κ_m m^left_t) and directions (d^right_t = κ_d d^left_t).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EquivalenceCase {
    /// Which identity.
    pub identity: Identity,
    /// Left rule.
    pub left: Rule,
    /// Right rule.
    pub right: Rule,
    /// κ_m, where the buffers correspond.
    pub buffer_scale: Option<f64>,
    /// κ_d, where the directions correspond.
    pub direction_scale: Option<f64>,
}

impl EquivalenceCase {
    /// Distance between the two step responses (0 in exact arithmetic for every identity).
    pub fn response_distance(&self) -> f64 {
        let r = |rule: &Rule| match rule {
            Rule::Update(o) => StepResponse::of(o),
            Rule::Response(r) => *r,
        };
        r(&self.left).distance(&r(&self.right))
    }
}

/// What [`trace_pair`] measured.
#[derive(Debug, Clone, Serialize)]
pub struct PairTrace {
    /// max_t ‖x_t − x'_t‖/(1 + ‖x_t‖).
    pub max_rel_gap: f64,
    /// max_t ‖κ_m m_t − m'_t‖/(1 + ‖κ_m m_t‖), where the buffers correspond.
    pub max_buffer_gap: Option<f64>,
    /// max_t ‖κ_d d_t − d'_t‖/(1 + ‖κ_d d_t‖), where the directions correspond.
    pub max_direction_gap: Option<f64>,
    /// First step t with ‖x_t − x'_t‖ > 10⁻⁷ (1 + ‖x_t‖).
    pub first_exceed: Option<usize>,
    /// Both iterates finite at every step.
    pub finite: bool,
    /// max_t ‖x_t‖ (left).
    pub max_norm: f64,
    /// ‖x_t − x'_t‖/(1 + ‖x_t‖) for t = 0..=steps, when asked for.
    pub series: Option<Vec<f64>>,
}

/// The step-response integrator's state.
struct ResponseState {
    s: Vec<f64>,
}

/// Run both sides of `case` for `steps` steps on `problem` from the same x_0, with identically
/// seeded noise generators (ChaCha8 `seed`, stream `stream`): each side computes ∇f at its own
/// iterate and draws its mini-batch with [`NoiseLaw::sample_minibatch`]; the draws coincide
/// because every law consumes the generator independently of x.
///
/// # Errors
/// `batch`, `steps` when 0; `init` not a finite box; the noise law's own validation.
pub fn trace_pair(
    problem: &Problem,
    case: &EquivalenceCase,
    batch: usize,
    steps: usize,
    seed: u64,
    stream: u64,
    keep_series: bool,
) -> Result<PairTrace> {
    check_sim(batch, steps, 1)?;
    problem.validate()?;
    let mut a = Walker::new(problem, batch, seed, stream);
    let mut b = Walker::new(problem, batch, seed, stream);
    let dim = a.x.len();
    let mut resp = ResponseState { s: vec![0.0; dim] };
    let mut out = PairTrace {
        max_rel_gap: 0.0,
        max_buffer_gap: case.buffer_scale.map(|_| 0.0),
        max_direction_gap: case.direction_scale.map(|_| 0.0),
        first_exceed: None,
        finite: true,
        max_norm: norm_sq(&a.x).sqrt(),
        series: keep_series.then(|| Vec::with_capacity(steps + 1)),
    };
    let gap = |u: &[f64], v: &[f64], k: f64| {
        let mut diff = 0.0;
        let mut nu = 0.0;
        for (ui, vi) in u.iter().zip(v) {
            let s = k * ui;
            diff += (s - vi) * (s - vi);
            nu += s * s;
        }
        diff.sqrt() / (1.0 + nu.sqrt())
    };
    let record = |t: usize, a: &Walker, b: &Walker, out: &mut PairTrace| {
        let r = gap(&a.x, &b.x, 1.0);
        out.max_rel_gap = out.max_rel_gap.max(r);
        if r > EQUIV_TOL && out.first_exceed.is_none() {
            out.first_exceed = Some(t);
        }
        out.max_norm = out.max_norm.max(norm_sq(&a.x).sqrt());
        if let Some(s) = out.series.as_mut() {
            s.push(r);
        }
    };
    record(0, &a, &b, &mut out);
    for t in 0..steps {
        for (w, rule) in [(&mut a, &case.left), (&mut b, &case.right)] {
            w.sample();
            match rule {
                Rule::Update(o) => {
                    w.direct(o);
                    o.apply(&mut w.x, &w.d);
                }
                Rule::Response(r) => {
                    for ((xi, si), gi) in w.x.iter_mut().zip(resp.s.iter_mut()).zip(&w.g) {
                        *xi -= r.h0 * gi + *si;
                        *si = r.decay * *si + r.h1 * gi;
                    }
                }
            }
        }
        if let (Some(k), Some(mx)) = (case.buffer_scale, out.max_buffer_gap.as_mut()) {
            *mx = mx.max(gap(&a.m, &b.m, k));
        }
        if let (Some(k), Some(mx)) = (case.direction_scale, out.max_direction_gap.as_mut()) {
            *mx = mx.max(gap(&a.d, &b.d, k));
        }
        record(t + 1, &a, &b, &mut out);
        if !(a.finite() && b.finite()) {
            out.finite = false;
            break;
        }
    }
    Ok(out)
}

/// The landscapes of the C9 checks, each with a curvature scale L so that steps h = s/L with
/// s ≤ 0.3 keep the trajectories in their stable (contracting) regime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EquivLandscape {
    /// Rotated quadratic, eigenvalues geometric in [1, 10], Gaussian noise σ = 1, x_0 ∈ [−2, 2]^d.
    Quadratic,
    /// Rastrigin (A = 10), Gaussian noise σ = 1, x_0 ∈ [−5.12, 5.12]^d; L = 2 + 4π²A.
    Rastrigin,
    /// Rosenbrock, Gaussian noise σ = 1, x_0 ∈ [−1.2, 1.2]^d; L = 4000 (the Hessian norm on the box).
    Rosenbrock,
    /// Teacher–student tanh network, p = d inputs, h = 3 hidden units (parameter dimension
    /// 3(d + 1)), n = 128 samples, finite-sum noise (the same sample indices on both
    /// sides), x_0 ∈ [−1, 1]^{3(d+1)}; L = 4.
    TeacherStudent,
}

impl EquivLandscape {
    /// All four.
    pub const ALL: [EquivLandscape; 4] = [
        EquivLandscape::Quadratic,
        EquivLandscape::Rastrigin,
        EquivLandscape::Rosenbrock,
        EquivLandscape::TeacherStudent,
    ];

    /// Name.
    pub fn name(self) -> &'static str {
        match self {
            EquivLandscape::Quadratic => "quadratic",
            EquivLandscape::Rastrigin => "rastrigin",
            EquivLandscape::Rosenbrock => "rosenbrock",
            EquivLandscape::TeacherStudent => "teacher_student",
        }
    }

    /// The problem in size `d` (≥ 2) and its curvature scale L.
    ///
    /// # Errors
    /// `dim` below 2; the landscapes' own validation.
    pub fn problem(self, d: usize) -> Result<(Problem, f64)> {
        if d < 2 {
            return Err(Error::invalid("dim", d, "an integer >= 2"));
        }
        let gauss = NoiseLaw::Gaussian { sigma: 1.0 };
        Ok(match self {
            EquivLandscape::Quadratic => {
                let eig = geometric(1.0, 10.0, d);
                (
                    Problem {
                        landscape: Arc::new(Quadratic::new(eig, Some(7), 10.0)?),
                        noise: gauss,
                        init: InitBox {
                            low: -2.0,
                            high: 2.0,
                        },
                    },
                    10.0,
                )
            }
            EquivLandscape::Rastrigin => (
                Problem {
                    landscape: Arc::new(Rastrigin::new(d, 10.0)?),
                    noise: gauss,
                    init: InitBox {
                        low: -5.12,
                        high: 5.12,
                    },
                },
                2.0 + 4.0 * std::f64::consts::PI.powi(2) * 10.0,
            ),
            EquivLandscape::Rosenbrock => (
                Problem {
                    landscape: Arc::new(Rosenbrock::new(d)?),
                    noise: gauss,
                    init: InitBox {
                        low: -1.2,
                        high: 1.2,
                    },
                },
                4000.0,
            ),
            EquivLandscape::TeacherStudent => (
                Problem {
                    landscape: Arc::new(TeacherStudent::new(d, 3, 128, 0.1, 11)?),
                    noise: NoiseLaw::FiniteSum,
                    init: InitBox {
                        low: -1.0,
                        high: 1.0,
                    },
                },
                4.0,
            ),
        })
    }
}

/// n numbers geometric from lo to hi (n ≥ 1).
fn geometric(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![lo];
    }
    (0..n)
        .map(|i| lo * (hi / lo).powf(i as f64 / (n - 1) as f64))
        .collect()
}

/// Effective step of the chaotic trace reported by [`c9_equivalences`]: h (2 + 4π²·10)(1 − β)
/// = 4.8 > 2(1 + β) = 3.4, so NSHB's minima on Rastrigin are unstable.
pub const CHAOS_H: f64 = 0.04;
/// β of the chaotic trace (not 0.5: with 1 − β = 2⁻¹ every product is exact and the two rules
/// agree bit for bit).
pub const CHAOS_BETA: f64 = 0.7;

/// The finite-time growth of the gap between two equivalent rules on a chaotic trajectory,
/// set beside the finite-time Lyapunov exponent of the same trajectory.
#[derive(Debug, Clone, Serialize)]
pub struct ChaosTrace {
    /// The identity traced.
    pub identity: Identity,
    /// Effective step h and β.
    pub h: f64,
    /// β.
    pub beta: f64,
    /// ‖x_t − x'_t‖/(1 + ‖x_t‖) per step.
    pub gap: Vec<f64>,
    /// Cumulative log growth Σ_{s<t} ln(‖v_{s+1}‖/‖v_s‖) of a tangent vector v = (δx, δm)
    /// propagated by the Jacobian of the left rule along the left trajectory.
    pub log_growth: Vec<f64>,
    /// First step with a nonzero gap, and the gap there.
    pub first_gap: Option<(usize, f64)>,
    /// The window [t0, t1] over which the gap climbs from 10⁻¹³ to 10⁻⁵ (the linear regime).
    pub window: Option<(usize, usize)>,
    /// ln(gap(t1)/gap(t0))/(t1 − t0): the growth rate of the gap over the window, per step.
    pub gap_rate: f64,
    /// (L(t1) − L(t0))/(t1 − t0) with L = `log_growth`: the finite-time Lyapunov exponent there.
    pub lyapunov_rate: f64,
}

/// Trace an identity on a chaotic trajectory: Rastrigin (A = 10, d = `dim`, Gaussian noise
/// σ = 1, b = 1) with an effective step h large enough that its minima are unstable
/// (h (2 + 4π²A) > 2(1+β)/(1−β) for NSHB ≡ SHB), so that rounding differences of order
/// 10⁻¹⁶ grow at the Lyapunov rate until they are of the order of the trajectory. The tangent
/// map of the left rule is, with H = ∇²f(x_t): δm_t = a_g H δx_t + a_m δm_{t−1},
/// δd_t = c_g H δx_t + c_m δm_{t−1}, δx_{t+1} = δx_t − η δd_t.
///
/// # Errors
/// As [`Identity::case`] and [`trace_pair`]; `identity` must be one of the optimizer pairs.
pub fn chaotic_gap_growth(
    identity: Identity,
    dim: usize,
    h: f64,
    beta: f64,
    steps: usize,
    seed: u64,
) -> Result<ChaosTrace> {
    let case = identity.case(h, beta, 0.5)?;
    let Rule::Update(left) = case.left else {
        return Err(Error::invalid(
            "identity",
            identity.name(),
            "an identity between two optimizers",
        ));
    };
    let problem = Problem {
        landscape: Arc::new(Rastrigin::new(dim, 10.0)?),
        noise: NoiseLaw::Gaussian { sigma: 1.0 },
        init: InitBox {
            low: -5.12,
            high: 5.12,
        },
    };
    let tr = trace_pair(&problem, &case, 1, steps, seed, 0, true)?;
    let gap = tr.series.unwrap_or_default();
    // Tangent dynamics along the left trajectory (same seed, so the same path).
    let mut w = Walker::new(&problem, 1, seed, 0);
    let c = left.coefficients();
    let mut hess = vec![0.0; dim * dim];
    let mut dx: Vec<f64> = (0..dim).map(|i| 1.0 + 0.1 * i as f64).collect();
    let mut dm = vec![0.0; dim];
    let n0 = (norm_sq(&dx) + norm_sq(&dm)).sqrt();
    dx.iter_mut().for_each(|v| *v /= n0);
    let mut hdx = vec![0.0; dim];
    let mut log_growth = Vec::with_capacity(steps + 1);
    let mut acc = 0.0;
    log_growth.push(0.0);
    for _ in 0..steps.min(gap.len().saturating_sub(1)) {
        problem.landscape.hessian(&w.x, &mut hess);
        for (i, hi) in hdx.iter_mut().enumerate() {
            *hi = dot(&hess[i * dim..(i + 1) * dim], &dx);
        }
        for i in 0..dim {
            let ddi = c.c_g * hdx[i] + c.c_m * dm[i];
            dm[i] = c.a_g * hdx[i] + c.a_m * dm[i];
            dx[i] -= left.lr * ddi;
        }
        let n = (norm_sq(&dx) + norm_sq(&dm)).sqrt();
        acc += n.ln();
        dx.iter_mut().for_each(|v| *v /= n);
        dm.iter_mut().for_each(|v| *v /= n);
        log_growth.push(acc);
        w.sample();
        w.direct(&left);
        left.apply(&mut w.x, &w.d);
    }
    let first_gap = gap
        .iter()
        .enumerate()
        .find(|(_, g)| **g > 0.0)
        .map(|(t, g)| (t, *g));
    let t0 = gap.iter().position(|g| *g >= 1e-13);
    let window = t0.and_then(|t0| {
        gap[t0..]
            .iter()
            .position(|g| *g >= 1e-5)
            .map(|k| (t0, t0 + k))
            .filter(|(a, b)| b > a && *b < log_growth.len())
    });
    let (gap_rate, lyapunov_rate) = match window {
        Some((a, b)) => (
            (gap[b] / gap[a]).ln() / (b - a) as f64,
            (log_growth[b] - log_growth[a]) / (b - a) as f64,
        ),
        None => (f64::NAN, f64::NAN),
    };
    Ok(ChaosTrace {
        identity,
        h,
        beta,
        gap,
        log_growth,
        first_gap,
        window,
        gap_rate,
        lyapunov_rate,
    })
}

/// C9: the four identities (and QHM(ν) ≡ its step response) over 4 landscapes × β × step
/// sizes × seeds, asserting qhoptim's standard max_t ‖x_t − x'_t‖ ≤ 10⁻⁷ (1 + ‖x_t‖) and the
/// buffer and direction maps; plus a chaotic trajectory on which the rounding gap grows at the
/// Lyapunov rate (reported, not hidden).
///
/// # Errors
/// Propagates configuration errors (none for the built-in grid).
pub fn c9_equivalences(scale: Scale) -> Result<ClaimReport> {
    let (steps, seeds, dims): (usize, u64, &[usize]) = match scale {
        Scale::Quick => (1200, 2, &[4]),
        Scale::Full => (5000, 4, &[2, 5, 12]),
    };
    let betas = [0.5, 0.9, 0.99];
    let ss = [0.03, 0.3];
    let nus = [0.3, 0.7];
    let mut rows = Vec::new();
    let mut worst: (f64, String) = (0.0, String::new());
    let mut failures = Vec::new();
    let mut n_runs = 0usize;
    for land in EquivLandscape::ALL {
        for &d in dims {
            let (problem, l) = land.problem(d)?;
            for identity in Identity::ALL {
                for &beta in &betas {
                    for &s in &ss {
                        let nu_list: &[f64] = if identity == Identity::QhmResponse {
                            &nus
                        } else {
                            &[0.0]
                        };
                        for &nu in nu_list {
                            let case = identity.case(s / l, beta, nu)?;
                            let traces = (0..seeds)
                                .into_par_iter()
                                .map(|sd| trace_pair(&problem, &case, 4, steps, 2024, sd, false))
                                .collect::<Result<Vec<_>>>()?;
                            n_runs += traces.len();
                            let max = |f: &dyn Fn(&PairTrace) -> f64| {
                                traces.iter().map(f).fold(0.0, f64::max)
                            };
                            let gx = max(&|t| t.max_rel_gap);
                            let gm = max(&|t| t.max_buffer_gap.unwrap_or(0.0));
                            let gd = max(&|t| t.max_direction_gap.unwrap_or(0.0));
                            let finite = traces.iter().all(|t| t.finite);
                            let label = format!(
                                "{} on {} d={d} beta={beta} s={s} nu={nu}",
                                identity.name(),
                                land.name()
                            );
                            if gx.max(gm).max(gd) > worst.0 {
                                worst = (gx.max(gm).max(gd), label.clone());
                            }
                            if !finite || gx > EQUIV_TOL || gm > EQUIV_TOL || gd > EQUIV_TOL {
                                failures.push(format!("{label}: gap {gx:.2e} (finite={finite})"));
                            }
                            rows.push(json!({
                                "kind": "equivalence",
                                "identity": identity.name(),
                                "landscape": land.name(),
                                "dim": problem.landscape.dim(),
                                "beta": beta,
                                "nu": nu,
                                "step_scale_s": s,
                                "left": case.left.describe(),
                                "right": case.right.describe(),
                                "steps": steps,
                                "seeds": seeds,
                                "response_distance": case.response_distance(),
                                "max_rel_gap_x": gx,
                                "max_rel_gap_m": gm,
                                "max_rel_gap_d": gd,
                                "finite": finite,
                            }));
                        }
                    }
                }
            }
        }
    }
    // The chaotic counterpart: NSHB ≡ SHB at an effective step where Rastrigin's minima are
    // unstable.
    let chaos = chaotic_gap_growth(Identity::NshbShb, 4, CHAOS_H, CHAOS_BETA, 3000, 7)?;
    rows.push(json!({
        "kind": "chaotic_gap_growth",
        "identity": chaos.identity,
        "landscape": "rastrigin d=4, sigma=1, b=1",
        "h": chaos.h,
        "beta": chaos.beta,
        "first_gap": chaos.first_gap,
        "window": chaos.window,
        "gap_rate_per_step": chaos.gap_rate,
        "lyapunov_rate_per_step": chaos.lyapunov_rate,
        "max_gap": chaos.gap.iter().cloned().fold(0.0, f64::max),
    }));
    let verdict = if failures.is_empty() {
        Verdict::Holds
    } else {
        Verdict::Fails
    };
    let evidence = format!(
        "{n_runs} paired runs ({steps} steps, float64, same noise stream, 4 landscapes incl. \
         finite-sum indices): largest relative gap {:.1e} ({}) vs tolerance 1e-7; buffer maps \
         m^SHB = m^NSHB/(1-beta), m^QHM = (1-beta) m^Nes hold to the same tolerance. On a \
         chaotic Rastrigin trajectory (h = 0.04, beta = 0.7) the gap starts at {:.1e} and grows \
         at {:.3}/step vs finite-time Lyapunov exponent {:.3}/step: rounding, not algebra.",
        worst.0,
        worst.1,
        chaos.first_gap.map(|g| g.1).unwrap_or(f64::NAN),
        chaos.gap_rate,
        chaos.lyapunov_rate
    );
    Ok(ClaimReport {
        claim: "C9",
        verdict,
        evidence,
        counter_example: failures.first().cloned(),
        rows,
    })
}

// =============================================================================================
// Shared run specification
// =============================================================================================

/// How long and how many seeds (seed i runs on ChaCha8 stream i of `seed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SimSpec {
    /// Mini-batch size b.
    pub batch: usize,
    /// Steps per seed.
    pub steps: usize,
    /// Steps excluded from the statistics.
    pub burn_in: usize,
    /// Seeds S.
    pub seeds: usize,
    /// Base seed.
    pub seed: u64,
}

// =============================================================================================
// C10: does momentum reduce the search-direction noise?
// =============================================================================================

/// How the five optimizers are put side by side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Matching {
    /// The same η for every rule.
    Eta,
    /// The same effective learning rate η_eff = η (c_g + c_m a_g/(1 − a_m)): η/(1−β) for SHB
    /// and Nesterov, η for SGD, NSHB and QHM ([`Optimizer::effective_lr`]).
    EffectiveEta,
}

impl Matching {
    /// Name.
    pub fn name(self) -> &'static str {
        match self {
            Matching::Eta => "matched eta",
            Matching::EffectiveEta => "matched eta_eff",
        }
    }
}

/// SGD, SHB, NSHB, QHM(ν), Nesterov with η = `lr` (matched η) or with η chosen so that every
/// η_eff equals `lr` (matched effective learning rate).
///
/// # Errors
/// `lr`, `beta`, `nu` out of range.
pub fn matched_optimizers(
    matching: Matching,
    lr: f64,
    beta: f64,
    nu: f64,
) -> Result<Vec<Optimizer>> {
    OptimizerKind::ALL
        .into_iter()
        .map(|kind| {
            let unit = Optimizer::new(kind, 1.0, beta, nu)?;
            let eta = match matching {
                Matching::Eta => lr,
                Matching::EffectiveEta => lr / unit.effective_lr(),
            };
            Optimizer::new(kind, eta, beta, nu)
        })
        .collect()
}

/// Exact window noise of the stationary process on the diagonal quadratic f = ½ Σ λ_i x_i² with
/// per-sample noise variances s_i² and batch b: for each W,
/// V(W) = E‖Σ_{t<W} ω_t‖²/W = Σ_i [γ_0 + 2 Σ_{k=1}^{W−1} (1 − k/W) γ_k], with the
/// autocovariances γ_0 = hᵀPh + c_g² v, γ_k = hᵀA^kPh + c_g v hᵀA^{k−1}B (A, B, P, h of
/// [`crate::stationary`], v = s_i²/b), and the limit V(∞) = Σ_i v_i (c_g + hᵀ(I − A)⁻¹B)².
/// Returns (V(W) per W, V(∞)). With `normalized`, the same for ω̃ = d/κ − ∇f (κ = η_eff/η):
/// c_g and c_m divided by κ in ω (not in the dynamics).
///
/// # Errors
/// As [`stationary_moments`] (including an unstable step); `windows` containing 0.
pub fn exact_window_noise(
    opt: &Optimizer,
    eigenvalues: &[f64],
    noise_var: &[f64],
    batch: f64,
    windows: &[usize],
    normalized: bool,
) -> Result<(Vec<f64>, f64)> {
    stationary_moments(opt, eigenvalues, noise_var, batch)?;
    if windows.contains(&0) {
        return Err(Error::invalid("windows", 0, "window lengths >= 1"));
    }
    let c = opt.coefficients();
    let inv_kappa = if normalized {
        opt.lr / opt.effective_lr()
    } else {
        1.0
    };
    let (cg, cm) = (c.c_g * inv_kappa, c.c_m * inv_kappa);
    let mut vw = vec![0.0; windows.len()];
    let mut v_inf = 0.0;
    let wmax = windows.iter().copied().max().unwrap_or(1);
    for (&lambda, &s2) in eigenvalues.iter().zip(noise_var) {
        let v = s2 / batch;
        let (a, bcol) = transition(&c, opt.lr, lambda);
        if !is_stable(&a) {
            return Err(Error::invalid("lr", opt.lr, "a stable step"));
        }
        let p = lyapunov_2x2(&a, &bcol, v);
        let h = [(cg - 1.0) * lambda, cm];
        let mv = |m: &[[f64; 2]; 2], u: [f64; 2]| {
            [
                m[0][0] * u[0] + m[0][1] * u[1],
                m[1][0] * u[0] + m[1][1] * u[1],
            ]
        };
        let dot2 = |u: [f64; 2], w: [f64; 2]| u[0] * w[0] + u[1] * w[1];
        let ph = mv(&p, h);
        let gamma0 = dot2(h, ph) + cg * cg * v;
        // γ_k for k = 1..wmax−1: q_k = A^k P h, e_k = A^{k−1} B.
        let mut gammas = Vec::with_capacity(wmax);
        gammas.push(gamma0);
        let mut q = ph;
        let mut e = bcol;
        for _ in 1..wmax {
            q = mv(&a, q);
            gammas.push(dot2(h, q) + cg * v * dot2(h, e));
            e = mv(&a, e);
        }
        for (out, &w) in vw.iter_mut().zip(windows) {
            let wf = w as f64;
            let tail: f64 = (1..w).map(|k| (1.0 - k as f64 / wf) * gammas[k]).sum();
            *out += gamma0 + 2.0 * tail;
        }
        // (I − A)⁻¹ B.
        let det = (1.0 - a[0][0]) * (1.0 - a[1][1]) - a[0][1] * a[1][0];
        let inv_b = [
            ((1.0 - a[1][1]) * bcol[0] + a[0][1] * bcol[1]) / det,
            (a[1][0] * bcol[0] + (1.0 - a[0][0]) * bcol[1]) / det,
        ];
        let gain = cg + dot2(h, inv_b);
        v_inf += v * gain * gain;
    }
    Ok((vw, v_inf))
}

/// The boundary term of the window identity Σ_{t∈[s, s+W)} ω_t = Σ_{t∈[s, s+W)} ξ_t + R_W,
/// R_W = (1 − 1/κ)(x_s − x_{s+W})/η − c_m (m_{s+W−1} − m_{s−1})/(κ(1 − a_m)), κ = η_eff/η,
/// written into `r`. It depends only on the iterates and buffers at the window's ends, so
/// V(W) → E‖ξ‖² as W → ∞ whenever they stay bounded (R_W = 0 for SGD).
pub fn window_boundary_term(
    opt: &Optimizer,
    x_start: &[f64],
    x_end: &[f64],
    m_before: &[f64],
    m_last: &[f64],
    r: &mut [f64],
) {
    let c = opt.coefficients();
    let kappa = opt.effective_lr() / opt.lr;
    let fx = (1.0 - 1.0 / kappa) / opt.lr;
    let fm = if c.c_m == 0.0 {
        0.0
    } else {
        c.c_m / (kappa * (1.0 - c.a_m))
    };
    for i in 0..r.len() {
        r[i] = fx * (x_start[i] - x_end[i]) - fm * (m_last[i] - m_before[i]);
    }
}

/// The measured window noise of one optimizer.
#[derive(Debug, Clone, Serialize)]
pub struct WindowNoise {
    /// Window lengths W.
    pub windows: Vec<usize>,
    /// V(W) = E‖Σ_{window} ω_t‖²/W, 95% CI over seeds (each seed averages its disjoint windows).
    pub v: Vec<Estimate>,
    /// E‖ξ_t‖² = E‖g_t − ∇f(x_t)‖², the mini-batch noise (C²/b for constant-variance laws).
    pub xi_sq: Estimate,
    /// V(W)/E‖ξ‖², the per-seed ratio with its 95% CI over seeds.
    pub ratio: Vec<Estimate>,
    /// Ṽ(W) = E‖Σ_{window} ω̃_t‖²/W for the normalized direction, ω̃_t = d_t/κ − ∇f(x_t),
    /// κ = η_eff/η (d/κ has unit long-run gain: SHB's d/κ is NSHB's d, Nesterov's is QHM(ν=β)'s).
    pub v_normalized: Vec<Estimate>,
    /// Ṽ(W)/E‖ξ‖², per-seed ratio with its 95% CI over seeds.
    pub ratio_normalized: Vec<Estimate>,
    /// Largest ‖Σω − Σξ − R_W‖/(1 + ‖Σξ‖ + ‖R_W‖) over all windows and seeds.
    pub max_identity_residual: f64,
    /// Seeds whose iterate became non-finite (excluded).
    pub diverged: usize,
}

/// Measure V(W) for each W after `spec.burn_in` steps.
///
/// # Errors
/// `batch`, `steps`, `seeds` zero; `burn_in` ≥ `steps`; `windows` empty or containing 0; `init`
/// not a finite box; the noise law's validation.
pub fn measure_window_noise(
    problem: &Problem,
    opt: &Optimizer,
    spec: &SimSpec,
    windows: &[usize],
) -> Result<WindowNoise> {
    check_sim(spec.batch, spec.steps, spec.seeds)?;
    if spec.burn_in >= spec.steps {
        return Err(Error::invalid(
            "burn_in",
            spec.burn_in,
            format!("an integer in [0, steps = {})", spec.steps),
        ));
    }
    if windows.is_empty() || windows.contains(&0) {
        return Err(Error::invalid(
            "windows",
            format!("{windows:?}"),
            "lengths >= 1",
        ));
    }
    problem.validate()?;
    struct SeedOut {
        v: Vec<f64>,
        vn: Vec<f64>,
        xi: f64,
        resid: f64,
        ok: bool,
    }
    let inv_kappa = opt.lr / opt.effective_lr();
    let per_seed: Vec<SeedOut> = (0..spec.seeds)
        .into_par_iter()
        .map(|s| {
            let mut w = Walker::new(problem, spec.batch, spec.seed, s as u64);
            let dim = w.x.len();
            let nw = windows.len();
            let mut sum_w = vec![vec![0.0; dim]; nw];
            let mut sum_n = vec![vec![0.0; dim]; nw];
            let mut sum_x = vec![vec![0.0; dim]; nw];
            let mut x_start = vec![vec![0.0; dim]; nw];
            let mut m_before = vec![vec![0.0; dim]; nw];
            let mut fill = vec![0usize; nw];
            let mut acc = vec![0.0; nw];
            let mut acc_n = vec![0.0; nw];
            let mut cnt = vec![0usize; nw];
            let mut r = vec![0.0; dim];
            let (mut xi_acc, mut xi_n) = (0.0, 0usize);
            let mut resid: f64 = 0.0;
            for t in 0..spec.steps {
                w.sample();
                let measure = t >= spec.burn_in;
                if measure {
                    for k in 0..nw {
                        if fill[k] == 0 {
                            x_start[k].copy_from_slice(&w.x);
                            m_before[k].copy_from_slice(&w.m);
                        }
                    }
                }
                w.direct(opt);
                if measure {
                    let mut xi2 = 0.0;
                    for i in 0..dim {
                        let om = w.d[i] - w.grad[i];
                        let omn = inv_kappa * w.d[i] - w.grad[i];
                        let xi = w.g[i] - w.grad[i];
                        xi2 += xi * xi;
                        for k in 0..nw {
                            sum_w[k][i] += om;
                            sum_n[k][i] += omn;
                            sum_x[k][i] += xi;
                        }
                    }
                    xi_acc += xi2;
                    xi_n += 1;
                }
                opt.apply(&mut w.x, &w.d);
                if !w.finite() {
                    return SeedOut {
                        v: vec![f64::NAN; nw],
                        vn: vec![f64::NAN; nw],
                        xi: f64::NAN,
                        resid: 0.0,
                        ok: false,
                    };
                }
                if measure {
                    for k in 0..nw {
                        fill[k] += 1;
                        if fill[k] == windows[k] {
                            window_boundary_term(
                                opt,
                                &x_start[k],
                                &w.x,
                                &m_before[k],
                                &w.m,
                                &mut r,
                            );
                            let mut e2 = 0.0;
                            for i in 0..dim {
                                let e = sum_w[k][i] - sum_x[k][i] - r[i];
                                e2 += e * e;
                            }
                            let scale = 1.0 + norm_sq(&sum_x[k]).sqrt() + norm_sq(&r).sqrt();
                            resid = resid.max(e2.sqrt() / scale);
                            acc[k] += norm_sq(&sum_w[k]) / windows[k] as f64;
                            acc_n[k] += norm_sq(&sum_n[k]) / windows[k] as f64;
                            cnt[k] += 1;
                            sum_w[k].iter_mut().for_each(|v| *v = 0.0);
                            sum_n[k].iter_mut().for_each(|v| *v = 0.0);
                            sum_x[k].iter_mut().for_each(|v| *v = 0.0);
                            fill[k] = 0;
                        }
                    }
                }
            }
            let per = |acc: &[f64]| -> Vec<f64> {
                acc.iter()
                    .zip(&cnt)
                    .map(|(a, n)| if *n > 0 { a / *n as f64 } else { f64::NAN })
                    .collect()
            };
            SeedOut {
                v: per(&acc),
                vn: per(&acc_n),
                xi: xi_acc / xi_n.max(1) as f64,
                resid,
                ok: true,
            }
        })
        .collect();
    let ok: Vec<&SeedOut> = per_seed.iter().filter(|s| s.ok).collect();
    let v = (0..windows.len())
        .map(|k| est(ok.iter().map(|s| s.v[k])))
        .collect();
    let ratio = (0..windows.len())
        .map(|k| est(ok.iter().map(|s| s.v[k] / s.xi)))
        .collect();
    let v_normalized = (0..windows.len())
        .map(|k| est(ok.iter().map(|s| s.vn[k])))
        .collect();
    let ratio_normalized = (0..windows.len())
        .map(|k| est(ok.iter().map(|s| s.vn[k] / s.xi)))
        .collect();
    Ok(WindowNoise {
        windows: windows.to_vec(),
        v,
        xi_sq: est(ok.iter().map(|s| s.xi)),
        ratio,
        v_normalized,
        ratio_normalized,
        max_identity_residual: ok.iter().map(|s| s.resid).fold(0.0, f64::max),
        diverged: per_seed.len() - ok.len(),
    })
}

/// One C10 setting: a problem, its batch size and the common η (or η_eff), and — on diagonal
/// quadratics with Gaussian noise — the eigenvalues and per-coordinate noise variances for the
/// exact values.
#[derive(Clone)]
pub struct NoiseSetting {
    /// Name for the report.
    pub name: String,
    /// The problem.
    pub problem: Problem,
    /// b.
    pub batch: usize,
    /// η (matched η) or η_eff (matched effective learning rate).
    pub lr: f64,
    /// (λ_i, s_i²) where the exact stationary values exist.
    pub exact: Option<(Vec<f64>, Vec<f64>)>,
}

/// The C10 settings at a scale: quadratic (exact), Rastrigin (Gaussian; Student-t at full
/// scale), Styblinski–Tang (multiplicative noise), teacher–student (finite-sum noise).
///
/// # Errors
/// None for the built-in settings (landscape constructors are validated).
pub fn c10_settings(scale: Scale) -> Result<Vec<NoiseSetting>> {
    let d = 10;
    let eig = geometric(1.0, 10.0, d);
    let mut out = vec![
        NoiseSetting {
            name: "quadratic d=10, lambda in [1,10], gaussian sigma=1".into(),
            problem: Problem {
                landscape: Arc::new(Quadratic::new(eig.clone(), None, 10.0)?),
                noise: NoiseLaw::Gaussian { sigma: 1.0 },
                init: InitBox {
                    low: -0.5,
                    high: 0.5,
                },
            },
            batch: 4,
            lr: 0.01,
            exact: Some((eig.clone(), vec![1.0; d])),
        },
        NoiseSetting {
            name: "rastrigin d=10 A=10, gaussian sigma=2".into(),
            problem: Problem {
                landscape: Arc::new(Rastrigin::new(d, 10.0)?),
                noise: NoiseLaw::Gaussian { sigma: 2.0 },
                init: InitBox {
                    low: -5.12,
                    high: 5.12,
                },
            },
            batch: 4,
            lr: 0.002,
            exact: None,
        },
        NoiseSetting {
            name: "styblinski_tang d=10, multiplicative sigma=1 alpha=0.5".into(),
            problem: Problem {
                landscape: Arc::new(StyblinskiTang::new(d)?),
                noise: NoiseLaw::Multiplicative {
                    sigma: 1.0,
                    alpha: 0.5,
                },
                init: InitBox {
                    low: -4.0,
                    high: 4.0,
                },
            },
            batch: 4,
            lr: 0.002,
            exact: None,
        },
        NoiseSetting {
            name: "teacher_student p=5 h=3 n=64, finite-sum".into(),
            problem: Problem {
                landscape: Arc::new(TeacherStudent::new(5, 3, 64, 0.3, 5)?),
                noise: NoiseLaw::FiniteSum,
                init: InitBox {
                    low: -1.0,
                    high: 1.0,
                },
            },
            batch: 4,
            lr: 0.05,
            exact: None,
        },
    ];
    if scale == Scale::Full {
        let s: Vec<f64> = (0..d).map(|i| 0.5 + 0.15 * i as f64).collect();
        out.push(NoiseSetting {
            name: "quadratic d=10, lambda in [1,10], anisotropic gaussian, eta=0.05".into(),
            problem: Problem {
                landscape: Arc::new(Quadratic::new(eig.clone(), None, 10.0)?),
                noise: NoiseLaw::Anisotropic {
                    std_devs: s.clone(),
                    rotation: None,
                    rotation_seed: None,
                },
                init: InitBox {
                    low: -0.5,
                    high: 0.5,
                },
            },
            batch: 4,
            lr: 0.05,
            exact: Some((eig, s.iter().map(|v| v * v).collect())),
        });
        out.push(NoiseSetting {
            name: "rastrigin d=10 A=10, student_t sigma=2 dof=4".into(),
            problem: Problem {
                landscape: Arc::new(Rastrigin::new(d, 10.0)?),
                noise: NoiseLaw::StudentT {
                    sigma: 2.0,
                    dof: 4.0,
                },
                init: InitBox {
                    low: -5.12,
                    high: 5.12,
                },
            },
            batch: 4,
            lr: 0.002,
            exact: None,
        });
    }
    Ok(out)
}

/// One optimizer in one C10 setting.
#[derive(Debug, Clone, Serialize)]
pub struct NoiseRow {
    /// Setting name.
    pub setting: String,
    /// How the optimizers were matched.
    pub matching: Matching,
    /// The optimizer (with its η).
    pub optimizer: Optimizer,
    /// η_eff.
    pub effective_lr: f64,
    /// E‖ω‖, 95% CI over seeds.
    pub omega_norm: Estimate,
    /// E‖ω‖².
    pub omega_sq: Estimate,
    /// E‖E[ω | past]‖², the bias part.
    pub bias_sq: Estimate,
    /// E‖ω − E[ω | past]‖² = c_g² E‖ξ‖², the random part.
    pub random_sq: Estimate,
    /// E f(x_t) (stationary level of the loss).
    pub loss: Estimate,
    /// η E‖ω‖, the noise of the step itself.
    pub step_noise: Estimate,
    /// E‖ω‖ relative to SGD's in the same setting and matching, with a delta-method 95% CI.
    pub ratio_to_sgd: Option<Estimate>,
    /// Exact stationary (E‖ω‖², bias, random, E f) where known.
    pub exact: Option<[f64; 4]>,
    /// The window noise, where measured.
    pub window: Option<WindowNoise>,
    /// Exact V(W) per window and V(∞), where known.
    pub exact_window: Option<(Vec<f64>, f64)>,
    /// Exact Ṽ(W) and Ṽ(∞) of the normalized direction, where known.
    pub exact_window_normalized: Option<(Vec<f64>, f64)>,
    /// Diverged seeds.
    pub diverged: usize,
}

/// Measure every optimizer of one setting at one matching.
///
/// # Errors
/// As [`runner::run`], [`measure_window_noise`], [`stationary_moments`].
pub fn measure_setting(
    setting: &NoiseSetting,
    matching: Matching,
    beta: f64,
    nu: f64,
    spec: &SimSpec,
    window: Option<(&SimSpec, &[usize])>,
) -> Result<Vec<NoiseRow>> {
    let opts = matched_optimizers(matching, setting.lr, beta, nu)?;
    let mut rows: Vec<NoiseRow> = Vec::with_capacity(opts.len());
    for opt in opts {
        let cfg = RunConfig {
            optimizer: opt,
            batch: spec.batch,
            steps: spec.steps,
            burn_in: spec.burn_in,
            seeds: spec.seeds,
            seed: spec.seed,
            every: 1,
        };
        let s = runner::run(&setting.problem, &cfg, None)?.summarize(&setting.problem);
        let exact = match &setting.exact {
            Some((eig, s2)) => {
                let st = stationary_moments(&opt, eig, s2, spec.batch as f64)?;
                Some([st.omega_sq, st.omega_bias_sq, st.omega_random_sq, st.loss])
            }
            None => None,
        };
        let (win, exact_window, exact_window_normalized) = match window {
            Some((wspec, ws)) => {
                let wn = measure_window_noise(&setting.problem, &opt, wspec, ws)?;
                let (ex, exn) = match &setting.exact {
                    Some((eig, s2)) => (
                        Some(exact_window_noise(
                            &opt,
                            eig,
                            s2,
                            spec.batch as f64,
                            ws,
                            false,
                        )?),
                        Some(exact_window_noise(
                            &opt,
                            eig,
                            s2,
                            spec.batch as f64,
                            ws,
                            true,
                        )?),
                    ),
                    None => (None, None),
                };
                (Some(wn), ex, exn)
            }
            None => (None, None, None),
        };
        rows.push(NoiseRow {
            setting: setting.name.clone(),
            matching,
            optimizer: opt,
            effective_lr: opt.effective_lr(),
            omega_norm: s.omega_norm,
            omega_sq: s.omega_norm_sq,
            bias_sq: s.omega_bias_sq,
            random_sq: s.omega_random_sq,
            loss: s.loss,
            step_noise: s.omega_norm.map(|v| opt.lr * v),
            ratio_to_sgd: None,
            exact,
            window: win,
            exact_window,
            exact_window_normalized,
            diverged: s.diverged,
        });
    }
    if let Some(sgd) = rows
        .iter()
        .find(|r| r.optimizer.kind == OptimizerKind::Sgd)
        .cloned()
    {
        for r in rows.iter_mut() {
            r.ratio_to_sgd = Some(ratio_estimate(&r.omega_norm, &sgd.omega_norm));
        }
    }
    Ok(rows)
}

/// a/b for two independent estimates, with the delta-method 95% interval
/// r (1 ± 1.96 √((se_a/a)² + (se_b/b)²)); std_dev holds the standard error of r.
pub fn ratio_estimate(a: &Estimate, b: &Estimate) -> Estimate {
    let r = a.mean / b.mean;
    let rel = ((std_err(a) / a.mean).powi(2) + (std_err(b) / b.mean).powi(2)).sqrt();
    let se = r.abs() * rel;
    Estimate {
        mean: r,
        ci_low: r - 1.96 * se,
        ci_high: r + 1.96 * se,
        std_dev: se,
        n: a.n.min(b.n),
    }
}

/// The C10 measurements at a scale: every setting of [`c10_settings`] × {matched η, matched
/// η_eff} × the five optimizers (β = 0.9, ν = 0.7), with the window noise where measured.
///
/// # Errors
/// Propagates configuration errors (none for the built-in settings).
pub fn c10_rows(scale: Scale) -> Result<Vec<NoiseRow>> {
    let (beta, nu) = (0.9, 0.7);
    let (spec, wspec, windows) = c10_specs(scale);
    let mut all = Vec::new();
    for setting in c10_settings(scale)? {
        let spec = SimSpec {
            batch: setting.batch,
            ..spec
        };
        let wspec = SimSpec {
            batch: setting.batch,
            ..wspec
        };
        // ∇f of the finite sum costs n per-sample gradients per step (and Student-t noise b·d
        // draws): these settings run a quarter of the steps, and their window runs (which need
        // ∇f(x_t) at every step) only at full scale and matched η.
        let heavy = matches!(
            setting.problem.noise,
            NoiseLaw::FiniteSum | NoiseLaw::StudentT { .. }
        );
        let (spec, wspec) = if heavy {
            let cut = |s: SimSpec| SimSpec {
                steps: s.steps / 4,
                burn_in: s.burn_in / 4,
                ..s
            };
            (cut(spec), cut(wspec))
        } else {
            (spec, wspec)
        };
        let ws: Vec<usize> = windows
            .iter()
            .copied()
            .filter(|&w| 5 * w <= wspec.steps - wspec.burn_in)
            .collect();
        for matching in [Matching::Eta, Matching::EffectiveEta] {
            let win = matches!(
                (scale, matching, heavy),
                (Scale::Full, Matching::Eta, _)
                    | (Scale::Full, _, false)
                    | (Scale::Quick, Matching::Eta, false)
            )
            .then_some((&wspec, ws.as_slice()));
            all.extend(measure_setting(&setting, matching, beta, nu, &spec, win)?);
        }
    }
    Ok(all)
}

/// Run sizes of C10: (runner spec, window spec, window lengths).
fn c10_specs(scale: Scale) -> (SimSpec, SimSpec, Vec<usize>) {
    match scale {
        Scale::Quick => (
            SimSpec {
                batch: 4,
                steps: 2000,
                burn_in: 500,
                seeds: 12,
                seed: 10,
            },
            SimSpec {
                batch: 4,
                steps: 6000,
                burn_in: 1000,
                seeds: 12,
                seed: 11,
            },
            vec![1, 10, 100, 500],
        ),
        Scale::Full => (
            SimSpec {
                batch: 4,
                steps: 10_000,
                burn_in: 2000,
                seeds: 48,
                seed: 10,
            },
            SimSpec {
                batch: 4,
                steps: 32_000,
                burn_in: 2000,
                seeds: 24,
                seed: 11,
            },
            vec![1, 10, 100, 1000, 3000],
        ),
    }
}

/// C10: E‖ω‖ (bias and random parts) per optimizer at matched η and matched η_eff across the
/// settings of [`c10_settings`], the exact stationary values on the quadratic, and the window
/// noise V(W). Verdict: mixed — per-step ‖ω‖ is reduced by the normalized rules (NSHB, QHM) and
/// increased by SHB and Nesterov; the long-window noise V(∞) = E‖ξ‖² is the same for every rule.
///
/// # Errors
/// Propagates configuration errors (none for the built-in settings).
pub fn c10_momentum_noise(scale: Scale) -> Result<ClaimReport> {
    Ok(c10_report(&c10_rows(scale)?))
}

/// The C10 verdict and evidence from its rows ([`c10_rows`]).
pub fn c10_report(all: &[NoiseRow]) -> ClaimReport {
    // Classify each momentum rule against SGD: reduces / increases / indistinguishable (95%).
    let mut reduces = Vec::new();
    let mut increases = Vec::new();
    for r in all {
        if r.optimizer.kind == OptimizerKind::Sgd {
            continue;
        }
        if let Some(q) = &r.ratio_to_sgd {
            let tag = format!("{} {} ({})", r.optimizer.kind, r.matching.name(), r.setting);
            if q.ci_high < 1.0 {
                reduces.push(tag);
            } else if q.ci_low > 1.0 {
                increases.push(tag);
            }
        }
    }
    let range = |vals: &mut dyn Iterator<Item = f64>| {
        vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        })
    };
    let ratio_range = |kind: OptimizerKind, m: Matching| {
        range(
            &mut all
                .iter()
                .filter(|r| r.optimizer.kind == kind && r.matching == m)
                .filter_map(|r| r.ratio_to_sgd.map(|q| q.mean)),
        )
    };
    let last_window = |normalized: bool| {
        range(
            &mut all
                .iter()
                .filter_map(|r| r.window.as_ref())
                .filter_map(|w| {
                    if normalized {
                        w.ratio_normalized.last()
                    } else {
                        w.ratio.last()
                    }
                    .map(|e| e.mean)
                }),
        )
    };
    // |V(∞)/(C²/b) − 1| over the exact rows, raw and normalized; C²/b = random part / c_g².
    let mut n_exact = 0usize;
    let v_inf_dev = all
        .iter()
        .filter_map(|r| {
            let c2b = r.exact?[2] / r.optimizer.coefficients().c_g.powi(2);
            let raw = r.exact_window.as_ref()?.1;
            let norm = r.exact_window_normalized.as_ref()?.1;
            n_exact += 1;
            Some(((raw / c2b - 1.0).abs()).max((norm / c2b - 1.0).abs()))
        })
        .fold(0.0, f64::max);
    let verdict = if !reduces.is_empty() && !increases.is_empty() {
        Verdict::Mixed
    } else if reduces.is_empty() {
        Verdict::Fails
    } else {
        Verdict::Holds
    };
    let f = |r: (f64, f64)| format!("{:.2}-{:.2}", r.0, r.1);
    let wmax = all
        .iter()
        .filter_map(|r| r.window.as_ref().and_then(|w| w.windows.last().copied()))
        .max()
        .unwrap_or(1);
    let evidence = format!(
        "Per-step E||omega||/E||omega^SGD|| (beta=0.9, nu=0.7) over quadratic, Rastrigin, \
         Styblinski-Tang, teacher-student: matched eta NSHB {}, QHM {}, SHB {}, Nesterov {}; \
         matched eta_eff NSHB {}, SHB {}, Nesterov {} -- v1's 'reduces' holds for the normalized \
         rules (NSHB, QHM) and fails for SHB and Nesterov, whose bias part beta*m dominates. But \
         the window noise E||sum_W omega~||^2/W of the unit-gain direction d/kappa at the longest \
         window (W <= {wmax}) is {} x E||xi||^2 for every rule (raw omega: {}; -> 1 once the \
         iterates are stationary), and V(inf) = C^2/b exactly for all five on the quadratics \
         ({n_exact} rows, largest relative deviation {:.1e}): momentum does not reduce the noise \
         that moves the iterates (v4).",
        f(ratio_range(OptimizerKind::Nshb, Matching::Eta)),
        f(ratio_range(OptimizerKind::Qhm, Matching::Eta)),
        f(ratio_range(OptimizerKind::Shb, Matching::Eta)),
        f(ratio_range(OptimizerKind::Nesterov, Matching::Eta)),
        f(ratio_range(OptimizerKind::Nshb, Matching::EffectiveEta)),
        f(ratio_range(OptimizerKind::Shb, Matching::EffectiveEta)),
        f(ratio_range(OptimizerKind::Nesterov, Matching::EffectiveEta)),
        f(last_window(true)),
        f(last_window(false)),
        v_inf_dev,
    );
    let counter_example = increases
        .first()
        .map(|s| format!("momentum increases E||omega|| over SGD: {s}"));
    let rows = all
        .iter()
        .map(|r| serde_json::to_value(r).unwrap_or(serde_json::Value::Null))
        .collect();
    ClaimReport {
        claim: "C10",
        verdict,
        evidence,
        counter_example,
        rows,
    }
}

// =============================================================================================
// C13: the shape A/T + B of (1/T) Σ E⟨x_t − x*, ∇f(x_t)⟩
// =============================================================================================

/// Per-seed running averages at the checkpoints T of a grid.
#[derive(Debug, Clone, Serialize)]
pub struct ConvergenceCurve {
    /// The optimizer.
    pub optimizer: Optimizer,
    /// Checkpoints T (increasing).
    pub t_grid: Vec<usize>,
    /// Φ_T = (1/T) Σ_{t<T} ⟨x_t − x*, ∇f(x_t)⟩, one row per non-diverged seed.
    pub phi: Vec<Vec<f64>>,
    /// (1/T) Σ_{t<T} ‖g_t‖².
    pub g_sq: Vec<Vec<f64>>,
    /// (1/T) Σ_{t<T} ‖∇f(x_t)‖².
    pub grad_sq: Vec<Vec<f64>>,
    /// (1/T) Σ_{t<T} ⟨m_{t−1}, ∇f(x_t)⟩.
    pub cross: Vec<Vec<f64>>,
    /// (1/T) Σ_{t<T} ⟨z_t − x*, ξ_t⟩, a martingale average: E[⟨z_t − x*, ξ_t⟩ | F_t] = 0.
    pub martingale: Vec<Vec<f64>>,
    /// ‖x_0 − x*‖² per seed.
    pub dist0_sq: Vec<f64>,
    /// max_t ‖∇f(x_t)‖² per seed.
    pub max_grad_sq: Vec<f64>,
    /// Fraction of the steps with x_t outside the landscape's domain box, per seed.
    pub out_of_domain: Vec<f64>,
    /// Largest residual of the path identity for Φ_T (module docs), relative to
    /// 1 + the sum of the absolute values of its terms, over seeds and checkpoints.
    pub max_identity_residual: f64,
    /// Seeds whose iterate became non-finite (excluded).
    pub diverged: usize,
    /// η_eff.
    pub eta_eff: f64,
    /// η c_m/(1 − a_m), the weight of avg ⟨m_{t−1}, ∇f⟩ in the identity.
    pub momentum_coef: f64,
}

/// Run `seeds` seeds of `opt` for max(t_grid) steps and record the running averages of
/// ⟨x_t − x*, ∇f(x_t)⟩, ‖g_t‖², ‖∇f(x_t)‖², ⟨m_{t−1}, ∇f(x_t)⟩ at each checkpoint, and check
/// the path identity
/// Φ_T = (‖x_0 − x*‖² − ‖z_T − x*‖²)/(2η_eff T) + (η_eff/2) avg‖g‖² + η c_m/(1−a_m) avg⟨m, ∇f⟩
///       − avg⟨z_t − x*, ξ_t⟩,  z_t = x_t − η c_m/(1 − a_m) m_{t−1}.
///
/// # Errors
/// `t_grid` empty or not increasing from ≥ 1; `x_star` of the wrong length; `batch`, `seeds`
/// zero; `init` not a finite box; the noise law's validation.
pub fn convergence_curve(
    problem: &Problem,
    opt: &Optimizer,
    batch: usize,
    t_grid: &[usize],
    seeds: usize,
    seed: u64,
    x_star: &[f64],
) -> Result<ConvergenceCurve> {
    let dim = problem.landscape.dim();
    if t_grid.is_empty() || t_grid[0] == 0 || t_grid.windows(2).any(|w| w[1] <= w[0]) {
        return Err(Error::invalid(
            "t_grid",
            format!("{t_grid:?}"),
            "a non-empty increasing list of step counts >= 1",
        ));
    }
    if x_star.len() != dim {
        return Err(Error::invalid(
            "x_star",
            format!("{} entries", x_star.len()),
            format!("dim = {dim} entries"),
        ));
    }
    let steps = *t_grid.last().unwrap_or(&1);
    check_sim(batch, steps, seeds)?;
    problem.validate()?;
    let c = opt.coefficients();
    let eta_eff = opt.effective_lr();
    let zc = if c.c_m == 0.0 {
        0.0
    } else {
        opt.lr * c.c_m / (1.0 - c.a_m)
    };
    let (lo, hi) = problem.landscape.domain();
    struct SeedOut {
        phi: Vec<f64>,
        g_sq: Vec<f64>,
        grad_sq: Vec<f64>,
        cross: Vec<f64>,
        mart: Vec<f64>,
        dist0: f64,
        max_grad: f64,
        out: f64,
        resid: f64,
        ok: bool,
    }
    let nk = t_grid.len();
    let per_seed: Vec<SeedOut> = (0..seeds)
        .into_par_iter()
        .map(|s| {
            let mut w = Walker::new(problem, batch, seed, s as u64);
            let mut o = SeedOut {
                phi: Vec::with_capacity(nk),
                g_sq: Vec::with_capacity(nk),
                grad_sq: Vec::with_capacity(nk),
                cross: Vec::with_capacity(nk),
                mart: Vec::with_capacity(nk),
                dist0: w.x.iter().zip(x_star).map(|(a, b)| (a - b) * (a - b)).sum(),
                max_grad: 0.0,
                out: 0.0,
                resid: 0.0,
                ok: true,
            };
            let (mut s_phi, mut s_g, mut s_grad, mut s_cross, mut s_mart) =
                (0.0, 0.0, 0.0, 0.0, 0.0);
            let mut n_out = 0usize;
            let mut k = 0;
            for t in 0..steps {
                w.sample();
                let (mut ip, mut g2, mut gr2, mut cr, mut mart) = (0.0, 0.0, 0.0, 0.0, 0.0);
                let mut outside = false;
                for ((((&xi, &xs), &gi), &bi), &mi) in
                    w.x.iter().zip(x_star).zip(&w.grad).zip(&w.g).zip(&w.m)
                {
                    let dx = xi - xs;
                    ip += dx * gi;
                    g2 += bi * bi;
                    gr2 += gi * gi;
                    cr += mi * gi;
                    mart += (dx - zc * mi) * (bi - gi);
                    outside |= xi < lo || xi > hi;
                }
                s_phi += ip;
                s_g += g2;
                s_grad += gr2;
                s_cross += cr;
                s_mart += mart;
                n_out += outside as usize;
                o.max_grad = o.max_grad.max(gr2);
                w.direct(opt);
                opt.apply(&mut w.x, &w.d);
                if !w.finite() {
                    o.ok = false;
                    return o;
                }
                if t + 1 == t_grid[k] {
                    let tf = (t + 1) as f64;
                    let zt: f64 =
                        w.x.iter()
                            .zip(&w.m)
                            .zip(x_star)
                            .map(|((x, m), xs)| {
                                let z = x - zc * m - xs;
                                z * z
                            })
                            .sum();
                    let terms = [
                        (o.dist0 - zt) / (2.0 * eta_eff * tf),
                        0.5 * eta_eff * s_g / tf,
                        zc * s_cross / tf,
                        -s_mart / tf,
                    ];
                    let rhs: f64 = terms.iter().sum();
                    let scale = 1.0 + terms.iter().map(|v| v.abs()).sum::<f64>();
                    o.resid = o.resid.max((s_phi / tf - rhs).abs() / scale);
                    o.phi.push(s_phi / tf);
                    o.g_sq.push(s_g / tf);
                    o.grad_sq.push(s_grad / tf);
                    o.cross.push(s_cross / tf);
                    o.mart.push(s_mart / tf);
                    k += 1;
                }
            }
            o.out = n_out as f64 / steps as f64;
            o
        })
        .collect();
    let ok: Vec<&SeedOut> = per_seed.iter().filter(|s| s.ok).collect();
    Ok(ConvergenceCurve {
        optimizer: *opt,
        t_grid: t_grid.to_vec(),
        phi: ok.iter().map(|s| s.phi.clone()).collect(),
        g_sq: ok.iter().map(|s| s.g_sq.clone()).collect(),
        grad_sq: ok.iter().map(|s| s.grad_sq.clone()).collect(),
        cross: ok.iter().map(|s| s.cross.clone()).collect(),
        martingale: ok.iter().map(|s| s.mart.clone()).collect(),
        dist0_sq: ok.iter().map(|s| s.dist0).collect(),
        max_grad_sq: ok.iter().map(|s| s.max_grad).collect(),
        out_of_domain: ok.iter().map(|s| s.out).collect(),
        max_identity_residual: ok.iter().map(|s| s.resid).fold(0.0, f64::max),
        diverged: per_seed.len() - ok.len(),
        eta_eff,
        momentum_coef: zc,
    })
}

/// The fit Φ_T ≈ A/T + B.
#[derive(Debug, Clone, Serialize)]
pub struct ShapeFit {
    /// A, 95% CI over seeds.
    pub a: Estimate,
    /// B, 95% CI over seeds.
    pub b: Estimate,
    /// Φ_T over seeds at each checkpoint.
    pub phi: Vec<Estimate>,
    /// max_T |Φ̄_T − Â/T − B̂| / SE(Φ̄_T): how far the mean curve strays from the fitted form,
    /// in standard errors.
    pub max_std_residual: f64,
}

/// Weighted least squares of Φ_T = A/T + B with weights 1/SE(Φ̄_T)² (the per-T standard errors
/// over seeds). With `control_variate`, the fit is of Φ̃_T = Φ_T + (1/T) Σ ⟨z_t − x*, ξ_t⟩,
/// which has the same expectation (each added term has conditional mean 0 given F_t) and far
/// less variance where the iterates sit far from x* (then ⟨x_t − x*, ξ_t⟩ dominates Φ_T). The estimate is linear in the data, so it equals the mean over seeds of the
/// same weighted fit applied to each seed's curve; the 95% intervals are Student-t intervals
/// over those per-seed fits (seeds are independent; the checkpoints of one seed are not, which
/// is why the interval is not taken from the regression's own residuals).
///
/// # Errors
/// Fewer than 2 seeds or 2 checkpoints.
pub fn fit_shape(curve: &ConvergenceCurve, control_variate: bool) -> Result<ShapeFit> {
    let ns = curve.phi.len();
    let nk = curve.t_grid.len();
    if ns < 2 || nk < 2 {
        return Err(Error::invalid(
            "curve",
            format!("{ns} seeds, {nk} checkpoints"),
            "at least 2 seeds and 2 checkpoints",
        ));
    }
    let y: Vec<Vec<f64>> = curve
        .phi
        .iter()
        .zip(&curve.martingale)
        .map(|(p, m)| {
            p.iter()
                .zip(m)
                .map(|(p, m)| if control_variate { p + m } else { *p })
                .collect()
        })
        .collect();
    let phi: Vec<Estimate> = (0..nk).map(|k| est(y.iter().map(|row| row[k]))).collect();
    let floor = phi.iter().map(|e| e.mean.abs()).fold(0.0, f64::max) * 1e-12 + f64::MIN_POSITIVE;
    let wts: Vec<f64> = phi
        .iter()
        .map(|e| 1.0 / std_err(e).max(floor).powi(2))
        .collect();
    let u: Vec<f64> = curve.t_grid.iter().map(|&t| 1.0 / t as f64).collect();
    let (mut suu, mut su, mut sw) = (0.0, 0.0, 0.0);
    for k in 0..nk {
        suu += wts[k] * u[k] * u[k];
        su += wts[k] * u[k];
        sw += wts[k];
    }
    let det = suu * sw - su * su;
    let fit = |y: &dyn Fn(usize) -> f64| {
        let (mut suy, mut sy) = (0.0, 0.0);
        for k in 0..nk {
            suy += wts[k] * u[k] * y(k);
            sy += wts[k] * y(k);
        }
        ((sw * suy - su * sy) / det, (suu * sy - su * suy) / det)
    };
    let per: Vec<(f64, f64)> = y.iter().map(|row| fit(&|k| row[k])).collect();
    let a = est(per.iter().map(|p| p.0));
    let b = est(per.iter().map(|p| p.1));
    let max_std_residual = (0..nk)
        .map(|k| (phi[k].mean - a.mean * u[k] - b.mean).abs() / std_err(&phi[k]).max(floor))
        .fold(0.0, f64::max);
    Ok(ShapeFit {
        a,
        b,
        phi,
        max_std_residual,
    })
}

/// The constants of the bound: per-sample C², b, K with E‖∇f(x_t)‖² ≤ K², and
/// D² = E‖x_0 − x*‖².
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BoundConstants {
    /// C² (per sample).
    pub c2: f64,
    /// b.
    pub batch: f64,
    /// K.
    pub k: f64,
    /// E‖x_0 − x*‖².
    pub dist0_sq: f64,
}

/// The bound Φ_T ≤ A/T + B derived in proofs/C13-convergence-bound.md for every linear rule:
/// A = D²/(2η_eff), B = (η_eff/2)(C²/b + K²) + |η c_m/(1 − a_m)| K |a_g|/(1 − a_m) √(C²/b + K²).
/// SGD: B = (η/2)(C²/b + K²); SHB: B = η/(1−β) [(C²/b + K²)/2 + βK√(C²/b + K²)/(1−β)];
/// NSHB(η) = SHB(η(1−β)).
pub fn derived_bound(opt: &Optimizer, k: &BoundConstants) -> (f64, f64) {
    let c = opt.coefficients();
    let eta_eff = opt.effective_lr();
    let v = k.c2 / k.batch + k.k * k.k;
    let cross = if c.c_m == 0.0 {
        0.0
    } else {
        (opt.lr * c.c_m / (1.0 - c.a_m)).abs() * k.k * c.a_g.abs() / (1.0 - c.a_m) * v.sqrt()
    };
    (k.dist0_sq / (2.0 * eta_eff), 0.5 * eta_eff * v + cross)
}

/// The exact limit B = lim_T Φ_T on the diagonal quadratic f = ½ Σ λ_i x_i² (x* = 0), from the
/// stationary moments: (2 E f, (η_eff/2)(C²/b + E‖∇f‖²), η c_m/(1−a_m) Σ λ_i E[x_i m_i]) — the
/// first equals the sum of the other two (the identity of the module docs in stationarity).
///
/// # Errors
/// As [`stationary_moments`].
pub fn exact_stationary_b(
    opt: &Optimizer,
    eigenvalues: &[f64],
    noise_var: &[f64],
    batch: f64,
) -> Result<(f64, f64, f64)> {
    let st = stationary_moments(opt, eigenvalues, noise_var, batch)?;
    let c = opt.coefficients();
    let c2b: f64 = noise_var.iter().sum::<f64>() / batch;
    let zc = if c.c_m == 0.0 {
        0.0
    } else {
        opt.lr * c.c_m / (1.0 - c.a_m)
    };
    let cross: f64 = st.coords.iter().map(|cm| cm.lambda * cm.p_xm).sum();
    Ok((
        2.0 * st.loss,
        0.5 * opt.effective_lr() * (c2b + st.grad_sq),
        zc * cross,
    ))
}

/// A checkpoint grid: `n` points geometric from t_min to t_max (rounded, strictly increasing).
pub fn t_grid(t_min: usize, t_max: usize, n: usize) -> Vec<usize> {
    let mut out: Vec<usize> = geometric(
        t_min.max(1) as f64,
        t_max.max(t_min.max(1)) as f64,
        n.max(1),
    )
    .into_iter()
    .map(|v| v.round() as usize)
    .collect();
    out.dedup();
    out
}

/// One C13 configuration's result.
#[derive(Debug, Clone, Serialize)]
pub struct ShapeRow {
    /// Landscape and noise.
    pub setting: String,
    /// The optimizer.
    pub optimizer: Optimizer,
    /// b.
    pub batch: usize,
    /// C² per sample.
    pub c2: f64,
    /// η_eff C²/b.
    pub scale_eta_c2_b: f64,
    /// The fit of Φ̃_T (with the martingale control variate; same expectation as Φ_T).
    pub fit: ShapeFit,
    /// The fit of the raw Φ_T.
    pub fit_raw: ShapeFit,
    /// Checkpoints.
    pub t_grid: Vec<usize>,
    /// Exact (2E f, variance part, momentum part) where known.
    pub exact_b: Option<(f64, f64, f64)>,
    /// The stationary identity's right side measured at T_max:
    /// (η_eff/2) avg‖g‖² + η c_m/(1−a_m) avg⟨m, ∇f⟩, CI over seeds.
    pub virial: Estimate,
    /// K used in the bound, and whether it is the domain's (A1) bound or the measured
    /// max over seeds of max_t ‖∇f(x_t)‖² (quadratics, where (A1) fails).
    pub k: f64,
    /// Source of K.
    pub k_source: &'static str,
    /// The derived bound (A, B).
    pub bound: (f64, f64),
    /// min over T (raw and control-variate curves) of bound(T) − (Φ̄_T − 4 SE): negative
    /// means a violation by more than 4 standard errors.
    pub bound_margin: f64,
    /// Largest fraction of steps outside the domain over seeds.
    pub out_of_domain: f64,
    /// Largest path-identity residual.
    pub identity_residual: f64,
    /// Diverged seeds.
    pub diverged: usize,
}

/// Run one C13 configuration.
///
/// # Errors
/// As [`convergence_curve`], [`fit_shape`]; `x*` unknown for the landscape.
#[allow(clippy::too_many_arguments)] // a configuration row: each argument is one column
pub fn shape_row(
    setting: &str,
    problem: &Problem,
    opt: &Optimizer,
    batch: usize,
    grid: &[usize],
    seeds: usize,
    seed: u64,
    exact: Option<(&[f64], &[f64])>,
) -> Result<ShapeRow> {
    let (x_star, _) = problem.landscape.global_minimum().ok_or_else(|| {
        Error::invalid(
            "landscape",
            problem.landscape.kind(),
            "a landscape with a known minimizer",
        )
    })?;
    let curve = convergence_curve(problem, opt, batch, grid, seeds, seed, &x_star)?;
    let fit = fit_shape(&curve, true)?;
    let fit_raw = fit_shape(&curve, false)?;
    let d = problem.landscape.dim();
    let c2 = match &problem.noise {
        NoiseLaw::Gaussian { sigma } | NoiseLaw::StudentT { sigma, .. } => d as f64 * sigma * sigma,
        NoiseLaw::Anisotropic { std_devs, .. } => norm_sq(std_devs),
        _ => f64::NAN,
    };
    let exact_b = match exact {
        Some((eig, s2)) => Some(exact_stationary_b(opt, eig, s2, batch as f64)?),
        None => None,
    };
    let last = grid.len() - 1;
    let virial = est((0..curve.phi.len()).map(|s| {
        0.5 * curve.eta_eff * curve.g_sq[s][last] + curve.momentum_coef * curve.cross[s][last]
    }));
    let (k, k_source) = match (
        problem.landscape.kind(),
        problem.landscape.grad_norm_bound(),
    ) {
        ("quadratic", _) | (_, None) => (
            curve.max_grad_sq.iter().cloned().fold(0.0, f64::max).sqrt(),
            "measured max_t ||grad f(x_t)|| over seeds ((A1) fails on R^d)",
        ),
        (_, Some(k)) => (k, "domain bound grad_norm_bound() (A1)"),
    };
    let dist0_sq = est(curve.dist0_sq.iter().copied()).mean;
    let consts = BoundConstants {
        c2,
        batch: batch as f64,
        k,
        dist0_sq,
    };
    let bound = derived_bound(opt, &consts);
    let bound_margin = fit
        .phi
        .iter()
        .chain(&fit_raw.phi)
        .zip(grid.iter().chain(grid))
        .map(|(e, &t)| bound.0 / t as f64 + bound.1 - (e.mean - 4.0 * std_err(e)))
        .fold(f64::INFINITY, f64::min);
    Ok(ShapeRow {
        setting: setting.to_string(),
        optimizer: *opt,
        batch,
        c2,
        scale_eta_c2_b: opt.effective_lr() * c2 / batch as f64,
        fit,
        fit_raw,
        t_grid: grid.to_vec(),
        exact_b,
        virial,
        k,
        k_source,
        bound,
        bound_margin,
        out_of_domain: curve.out_of_domain.iter().cloned().fold(0.0, f64::max),
        identity_residual: curve.max_identity_residual,
        diverged: curve.diverged,
    })
}

/// The three optimizers of C13 at η and β.
fn sgd_shb_nshb(lr: f64, beta: f64) -> Result<[Optimizer; 3]> {
    Ok([
        Optimizer::new(OptimizerKind::Sgd, lr, beta, 0.0)?,
        Optimizer::new(OptimizerKind::Shb, lr, beta, 0.0)?,
        Optimizer::new(OptimizerKind::Nshb, lr, beta, 0.0)?,
    ])
}

/// All C13 rows at a scale: quadratics over a grid of (η, σ, b) (with the exact B), one
/// noise-free quadratic (B = 0 exactly, the bound's B = η_eff K²/2 + … does not vanish), and
/// Rastrigin and Styblinski–Tang started inside their domains.
///
/// # Errors
/// Propagates configuration errors.
pub fn c13_rows(scale: Scale) -> Result<Vec<ShapeRow>> {
    let beta = 0.9;
    let (seeds, span, npts, configs): (usize, usize, usize, Vec<(f64, f64, usize)>) = match scale {
        Scale::Quick => (
            24,
            32,
            10,
            vec![(0.005, 1.0, 4), (0.01, 1.0, 1), (0.02, 2.0, 4)],
        ),
        Scale::Full => (
            64,
            128,
            14,
            vec![
                (0.005, 1.0, 4),
                (0.02, 0.5, 1),
                (0.01, 1.0, 1),
                (0.005, 2.0, 1),
                (0.02, 2.0, 4),
                (0.04, 1.0, 1),
            ],
        ),
    };
    let d = 8;
    let eig = geometric(1.0, 10.0, d);
    let mut rows = Vec::new();
    let quad = |sigma: f64| -> Result<Problem> {
        Ok(Problem {
            landscape: Arc::new(Quadratic::new(eig.clone(), None, 10.0)?),
            noise: NoiseLaw::Gaussian { sigma },
            init: InitBox {
                low: -1.0,
                high: 1.0,
            },
        })
    };
    let grid_for = |opt: &Optimizer, lambda_min: f64| {
        // ≥ 10 relaxation times 1/(η_eff λ_min) (and ≥ 10/(1 − √β) for the momentum
        // oscillation) before the first checkpoint, so the geometric transient is negligible.
        let tau = 1.0 / (opt.effective_lr() * lambda_min) + 1.0 / (1.0 - opt.beta.sqrt());
        let t_min = ((10.0 * tau).ceil() as usize).max(200);
        t_grid(t_min, t_min * span, npts)
    };
    for (i, &(lr, sigma, b)) in configs.iter().enumerate() {
        let problem = quad(sigma)?;
        let s2 = vec![sigma * sigma; d];
        for opt in sgd_shb_nshb(lr, beta)? {
            let grid = grid_for(&opt, eig[0]);
            rows.push(shape_row(
                &format!("quadratic d=8 lambda in [1,10], gaussian sigma={sigma}"),
                &problem,
                &opt,
                b,
                &grid,
                seeds,
                100 + i as u64,
                Some((&eig, &s2)),
            )?);
        }
    }
    // Noise-free: gradient descent converges, B = 0.
    let problem = quad(0.0)?;
    for opt in sgd_shb_nshb(0.01, beta)? {
        let grid = grid_for(&opt, eig[0]);
        rows.push(shape_row(
            "quadratic d=8, no noise (sigma=0)",
            &problem,
            &opt,
            1,
            &grid,
            seeds.min(8),
            200,
            Some((&eig, &[0.0; 8])),
        )?);
    }
    let t_max = 200 * span;
    let grid = t_grid(200, t_max, npts);
    let rastrigin = Problem {
        landscape: Arc::new(Rastrigin::new(4, 10.0)?),
        noise: NoiseLaw::Gaussian { sigma: 2.0 },
        // Inside the basins of the integer points −4..4, so the iterates stay in the domain
        // [−5.12, 5.12]^4 where K bounds ‖∇f‖ ((A1) holds along the path).
        init: InitBox {
            low: -4.4,
            high: 4.4,
        },
    };
    for opt in sgd_shb_nshb(0.001, beta)? {
        rows.push(shape_row(
            "rastrigin d=4 A=10 on [-5.12,5.12]^4 (x_0 in [-4.4,4.4]^4), gaussian sigma=2",
            &rastrigin,
            &opt,
            1,
            &grid,
            seeds,
            300,
            None,
        )?);
    }
    let st = Problem {
        landscape: Arc::new(StyblinskiTang::new(4)?),
        noise: NoiseLaw::Gaussian { sigma: 2.0 },
        init: InitBox {
            low: -4.0,
            high: 4.0,
        },
    };
    for opt in sgd_shb_nshb(0.002, beta)? {
        rows.push(shape_row(
            "styblinski_tang d=4 on [-5,5]^4 (x_0 in [-4,4]^4), gaussian sigma=2",
            &st,
            &opt,
            1,
            &grid,
            seeds,
            400,
            None,
        )?);
    }
    Ok(rows)
}

/// C13: Φ_T = (1/T) Σ E⟨x_t − x*, ∇f(x_t)⟩ against T for SGD, SHB, NSHB; fit A/T + B with 95%
/// CIs over seeds; B compared with its exact value on quadratics (2 E f), with η_eff C²/b, and
/// with the derived bound.
///
/// # Errors
/// Propagates configuration errors.
pub fn c13_convergence_shape(scale: Scale) -> Result<ClaimReport> {
    Ok(c13_report(&c13_rows(scale)?))
}

/// The C13 verdict and evidence from its rows ([`c13_rows`]).
pub fn c13_report(rows: &[ShapeRow]) -> ClaimReport {
    let noisy: Vec<&ShapeRow> = rows.iter().filter(|r| r.c2 > 0.0).collect();
    let b_positive = noisy.iter().all(|r| r.fit.b.ci_low > 0.0);
    let bound_ok = rows.iter().all(|r| r.bound_margin >= 0.0);
    let mut problems = Vec::new();
    for r in &noisy {
        if r.fit.b.ci_low <= 0.0 {
            problems.push(format!(
                "B not significantly > 0: {} {} B = {:.3e} [{:.3e}, {:.3e}]",
                r.setting, r.optimizer.kind, r.fit.b.mean, r.fit.b.ci_low, r.fit.b.ci_high
            ));
        }
    }
    for r in rows {
        if r.bound_margin < 0.0 {
            problems.push(format!(
                "derived bound violated: {} {} margin {:.3e}",
                r.setting, r.optimizer.kind, r.bound_margin
            ));
        }
    }
    let quad_ratio: Vec<f64> = noisy
        .iter()
        .filter(|r| r.exact_b.is_some())
        .map(|r| r.fit.b.mean / r.scale_eta_c2_b)
        .collect();
    let rmin = quad_ratio.iter().cloned().fold(f64::INFINITY, f64::min);
    let rmax = quad_ratio.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let slack: Vec<f64> = noisy
        .iter()
        .filter(|r| r.fit.b.ci_low > 0.0)
        .map(|r| r.bound.1 / r.fit.b.mean)
        .collect();
    let smin = slack.iter().cloned().fold(f64::INFINITY, f64::min);
    let smax = slack.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let zero_noise_b = rows
        .iter()
        .filter(|r| r.c2 == 0.0)
        .map(|r| r.fit.b.mean.abs())
        .fold(0.0, f64::max);
    let verdict = if b_positive && bound_ok {
        Verdict::Holds
    } else {
        Verdict::Mixed
    };
    let evidence = format!(
        "Phi_T = A/T + B fits every run; B > 0 at 95% in all {} noisy configs (SGD, SHB, NSHB; \
         quadratics, Rastrigin, Styblinski-Tang); on quadratics B = 2 E f_stationary = \
         ({:.2}–{:.2}) eta_eff C^2/b (theory: 1/2 + O(eta lambda)); with no noise B = {:.1e} (GD \
         converges), while the derived bound's B keeps eta K^2/2. The bound holds, loose by \
         a factor {:.0} to {:.1e} in B.",
        noisy.len(),
        rmin,
        rmax,
        zero_noise_b,
        smin,
        smax
    );
    let json_rows = rows
        .iter()
        .map(|r| serde_json::to_value(r).unwrap_or(serde_json::Value::Null))
        .collect();
    ClaimReport {
        claim: "C13",
        verdict,
        evidence,
        counter_example: problems.first().cloned(),
        rows: json_rows,
    }
}

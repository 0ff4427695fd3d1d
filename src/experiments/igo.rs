//! Implicit graduated optimization (claim C12, theory.md §6): schedules that decrease the degree
//! of smoothing δ stage by stage, explicit graduated optimization, and argmin's global solvers
//! as baselines at equal evaluation budgets.
//!
//! ## Schedules
//!
//! A schedule is a *shape* (how δ_m/δ_0 falls over the M stages) and a *quantity* (which
//! hyperparameter realizes it). Shapes: `constant`; `poly` (the authors' code,
//! δ_m = δ_0((M + 1 − m)/(M + 1))^p, [`theory::igo_delta_schedule`]); `cosine` and `exp` (down
//! to δ_0·r, r = [`IgoSetup::end_ratio`]); `step` (the predecessor's ×1/√2 every k stages).
//! Quantities: `lr`, `batch`, `beta` and the pairs `lr+batch`, `lr+beta`, `batch+beta`. Each
//! stage's target δ_m is realized by solving the optimizer's δ formula (the paper's: SGD ηC/√b,
//! SHB η√((1 + β̂)C²/b + β̂K²), NSHB v1 η√(C²/b + 4β²(C²/b + K²))) for the scheduled quantity:
//! η by proportion, b by [`theory::sgd_batch_for_delta`] / [`theory::shb_batch_for_delta`] /
//! [`theory::nshb_batch_for_delta`] (rounded up, capped at b_max), β by SHB's cubic
//! ([`theory::shb_beta_for_delta`]) or NSHB's square root ([`theory::nshb_beta_for_delta`]).
//! A pair splits the log-decrease equally: the first quantity is solved for δ_0 (δ_m/δ_0)^{1/2},
//! the second for δ_m; a saturated first solve leaves the rest to the second. The δ each stage
//! really has (after rounding and caps) is recorded as `delta_realized`.
//!
//! The momentum buffer is **never reset** between stages (theory.md §6: rebuilding the
//! optimizer was a bug in the authors' code); `tests/c12_igo.rs` checks this bit for bit.
//!
//! ## Budget
//!
//! Budgets are in gradient evaluations: a mini-batch step of size b costs b per-sample
//! stochastic gradients (SFO); explicit GO costs n exact gradients per step; the baselines pay
//! one unit per exact f or ∇f evaluation. Stage m of a schedule gets the budget slice
//! \[mB/M, (m + 1)B/M) (unspent units carry over), so b_max = ⌊B/(10M)⌋ keeps ≥ 10 steps a stage.
//!
//! ## Success (the global-basin test)
//!
//! The final point x_T (the last iterate for the schedules and GO, the best evaluated point for
//! the baselines) is *polished* by noise-free descent that follows the gradient flow: steps
//! x ← x − s∇f(x) with s ≤ 0.05/‖∇f(x)‖_∞ (no coordinate moves more than 0.05 per step, far below
//! the spacing ≥ 1 of the local minima of every landscape here), s doubled after each accepted
//! step and halved until the Armijo condition f(x − s∇f) ≤ f(x) − s‖∇f‖²/2 holds; at most
//! [`POLISH_STEPS`] steps. The run *succeeds* when the polished point comes within
//! ‖x − x*‖_∞ ≤ [`BASIN_RADIUS`] = 0.25 of the global minimizer x*, a box that lies inside x*'s
//! basin of attraction on all five landscapes (the nearest other local minima are at
//! ‖·‖_∞ ≈ 1 (Rastrigin, Ackley), ≥ 2 (Levy), ≥ 2π (Griewank), ≈ 5.65 (Styblinski–Tang)).
//! The polish is the measuring instrument and is not charged to the budget. Runs whose iterate
//! becomes non-finite fail. Success rates carry Wilson 95% intervals over seeds; differences
//! of success rates carry Newcombe's hybrid-score interval (built from the two Wilson intervals).
//! The final gap f(x_T) − f* (before polishing) is summarized by its median over seeds with a
//! distribution-free 95% interval from order statistics (diverged runs count as +∞).
//!
//! ## Calibration
//!
//! Per landscape and dimension ([`calibrate`]): along ±e_1 from x*, the first local maximum of
//! f gives the barrier ΔE (the smaller of the two directions) and the largest ∂²f/∂x_1² on the
//! outer 90% of the way there gives a curvature L. The effective step is η_eff = 0.5/L
//! (SGD and NSHB η = η_eff, SHB η = η_eff(1 − β_0)), and σ is set so that the Langevin
//! temperature η_eff σ²/(2b_0) is ΔE/2 at the start (hot: barriers are crossed freely).
//! The constant references are run at δ_0, 0.1·δ_0 and 0.01·δ_0 (by η), so that a decreasing
//! schedule is compared with the best constant δ, not only with the hot start.

use std::sync::{Arc, Mutex};

use argmin::core::{CostFunction, Error as ArgminError, Executor, Gradient};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::neldermead::NelderMead;
use argmin::solver::particleswarm::ParticleSwarm;
use argmin::solver::quasinewton::LBFGS;
use argmin::solver::simulatedannealing::{Anneal, SimulatedAnnealing};
use ndarray::Array1;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;
use serde_json::json;
use statrs::distribution::{Binomial, DiscreteCDF};

use crate::error::{Error, Result};
use crate::experiments::{ClaimReport, Scale, Verdict};
use crate::fastmath::fill_standard_normal;
use crate::landscape::{Ackley, Griewank, Landscape, Levy, Rastrigin, StyblinskiTang};
use crate::noise::{NoiseLaw, NoiseScratch};
use crate::optimizer::{Optimizer, OptimizerKind};
use crate::runner::{seed_rng, InitBox};
use crate::theory;

/// ‖x_polished − x*‖_∞ at or below which a run is in the global basin.
pub const BASIN_RADIUS: f64 = 0.25;
/// Most polishing steps of the basin test.
pub const POLISH_STEPS: usize = 2_000;
/// Largest coordinate move of one polishing step.
pub const POLISH_MOVE: f64 = 0.05;
/// Seeds per parallel work unit (fixed: results do not depend on the thread count).
const CHUNK: usize = 4;
/// Stream offset of the baselines' generators (so they do not share draws with the schedules).
const BASELINE_STREAM: u64 = 1 << 32;

// ---------------------------------------------------------------------------------------------
// Schedules
// ---------------------------------------------------------------------------------------------

/// How δ_m/δ_0 falls over the stages.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// δ_m = c·δ_0 for all m (c = 1 is the start).
    Constant(f64),
    /// δ_m = δ_0((M + 1 − m)/(M + 1))^p \[code\].
    Poly(f64),
    /// Cosine from δ_0 to r δ_0.
    Cosine,
    /// Exponential from δ_0 to r δ_0.
    Exp,
    /// ×1/√2 every k stages (the predecessor's).
    Step,
}

/// Which hyperparameter realizes the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Quantity {
    /// Learning rate η.
    Lr,
    /// Batch size b.
    Batch,
    /// Momentum β.
    Beta,
    /// η and b.
    LrBatch,
    /// η and β.
    LrBeta,
    /// b and β.
    BatchBeta,
}

impl Quantity {
    const ALL: [Quantity; 6] = [
        Quantity::Lr,
        Quantity::Batch,
        Quantity::Beta,
        Quantity::LrBatch,
        Quantity::LrBeta,
        Quantity::BatchBeta,
    ];

    fn name(self) -> &'static str {
        match self {
            Quantity::Lr => "lr",
            Quantity::Batch => "batch",
            Quantity::Beta => "beta",
            Quantity::LrBatch => "lr+batch",
            Quantity::LrBeta => "lr+beta",
            Quantity::BatchBeta => "batch+beta",
        }
    }

    /// The optimizer a quantity runs with by default: momentum schedules need a momentum
    /// optimizer (SHB); batch schedules run on SGD, whose δ a batch size can lower without
    /// limit (SHB's cannot go below η√β̂K, claim C6).
    fn default_optimizer(self) -> OptimizerKind {
        match self {
            Quantity::Batch | Quantity::LrBatch => OptimizerKind::Sgd,
            _ => OptimizerKind::Shb,
        }
    }

    /// (first, second) parts of a pair; a single quantity is its own first part.
    fn parts(self) -> (Part, Option<Part>) {
        match self {
            Quantity::Lr => (Part::Lr, None),
            Quantity::Batch => (Part::Batch, None),
            Quantity::Beta => (Part::Beta, None),
            Quantity::LrBatch => (Part::Lr, Some(Part::Batch)),
            Quantity::LrBeta => (Part::Lr, Some(Part::Beta)),
            Quantity::BatchBeta => (Part::Batch, Some(Part::Beta)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Lr,
    Batch,
    Beta,
}

/// A δ schedule: shape × quantity on one optimizer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Schedule {
    /// Shape of δ_m/δ_0.
    pub shape: Shape,
    /// Quantity that realizes it.
    pub quantity: Quantity,
    /// Optimizer (SGD, SHB or NSHB).
    pub optimizer: OptimizerKind,
}

/// A method compared in C12.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// A δ schedule (implicit graduated optimization, or a constant reference).
    Igo(Schedule),
    /// Explicit graduated optimization: GD on f̂_δ with Monte Carlo gradients.
    ExplicitGo,
    /// argmin's particle swarm.
    ParticleSwarm,
    /// argmin's simulated annealing.
    Annealing,
    /// Multi-start argmin L-BFGS.
    MultiLbfgs,
    /// Multi-start argmin Nelder–Mead.
    MultiNelderMead,
}

impl Method {
    /// Stable name, as parsed by [`Method::parse`]: `constant`, `constant:0.1`, `poly:beta`,
    /// `cosine:lr+batch@sgd`, `go`, `pso`, `sa`, `lbfgs`, `nelder-mead`.
    pub fn name(&self) -> String {
        match self {
            Method::Igo(s) => {
                let shape = match s.shape {
                    Shape::Constant(1.0) => return format!("constant@{}", s.optimizer),
                    Shape::Constant(c) => return format!("constant:{c}@{}", s.optimizer),
                    Shape::Poly(0.9) => "poly".to_string(),
                    Shape::Poly(p) => format!("poly{p}"),
                    Shape::Cosine => "cosine".into(),
                    Shape::Exp => "exp".into(),
                    Shape::Step => "step".into(),
                };
                format!("{shape}:{}@{}", s.quantity.name(), s.optimizer)
            }
            Method::ExplicitGo => "go".into(),
            Method::ParticleSwarm => "pso".into(),
            Method::Annealing => "sa".into(),
            Method::MultiLbfgs => "lbfgs".into(),
            Method::MultiNelderMead => "nelder-mead".into(),
        }
    }

    /// Whether the method is one of argmin's global solvers.
    pub fn is_baseline(&self) -> bool {
        matches!(
            self,
            Method::ParticleSwarm
                | Method::Annealing
                | Method::MultiLbfgs
                | Method::MultiNelderMead
        )
    }

    /// Whether the method decreases δ (a non-constant schedule or explicit GO).
    pub fn is_decreasing(&self) -> bool {
        match self {
            Method::Igo(s) => !matches!(s.shape, Shape::Constant(_)),
            Method::ExplicitGo => true,
            _ => false,
        }
    }

    /// Parse a method name (see [`Method::name`]). Shapes: constant\[:c\], poly\[p\], cosine,
    /// exp, step; quantities: lr, batch, beta, lr+batch, lr+beta, batch+beta; optimizer
    /// suffix @sgd, @shb, @nshb (default: SGD for batch and lr+batch, SHB otherwise).
    pub fn parse(s: &str) -> Result<Method> {
        let allowed = "constant[:c][@opt], {poly[p],cosine,exp,step}:{lr,batch,beta,lr+batch,lr+beta,batch+beta}[@sgd|@shb|@nshb], go, pso, sa, lbfgs, nelder-mead";
        let bad = || Error::invalid("schedule", s, allowed);
        match s {
            "go" => return Ok(Method::ExplicitGo),
            "pso" => return Ok(Method::ParticleSwarm),
            "sa" => return Ok(Method::Annealing),
            "lbfgs" => return Ok(Method::MultiLbfgs),
            "nelder-mead" => return Ok(Method::MultiNelderMead),
            _ => {}
        }
        let (body, opt) = match s.split_once('@') {
            Some((b, o)) => (b, Some(o)),
            None => (s, None),
        };
        let opt = match opt {
            None => None,
            Some("sgd") => Some(OptimizerKind::Sgd),
            Some("shb") => Some(OptimizerKind::Shb),
            Some("nshb") => Some(OptimizerKind::Nshb),
            Some(_) => return Err(bad()),
        };
        if let Some(rest) = body.strip_prefix("constant") {
            let c = match rest.strip_prefix(':') {
                None if rest.is_empty() => 1.0,
                Some(c) => c.parse::<f64>().map_err(|_| bad())?,
                None => return Err(bad()),
            };
            if !(c.is_finite() && c > 0.0 && c <= 1.0) {
                return Err(Error::invalid("schedule", s, "constant:c with c in (0, 1]"));
            }
            return Ok(Method::Igo(Schedule {
                shape: Shape::Constant(c),
                quantity: Quantity::Lr,
                optimizer: opt.unwrap_or(OptimizerKind::Shb),
            }));
        }
        let (shape, q) = body.split_once(':').ok_or_else(bad)?;
        let shape = match shape {
            "cosine" => Shape::Cosine,
            "exp" => Shape::Exp,
            "step" => Shape::Step,
            p if p.starts_with("poly") => {
                let v = &p[4..];
                let pw = if v.is_empty() {
                    0.9
                } else {
                    v.parse::<f64>().map_err(|_| bad())?
                };
                if !(pw > 0.0 && pw <= 1.0) {
                    return Err(Error::invalid("schedule", s, "poly power p in (0, 1]"));
                }
                Shape::Poly(pw)
            }
            _ => return Err(bad()),
        };
        let quantity = Quantity::ALL
            .into_iter()
            .find(|x| x.name() == q)
            .ok_or_else(bad)?;
        let optimizer = opt.unwrap_or(quantity.default_optimizer());
        let uses_beta = matches!(
            quantity,
            Quantity::Beta | Quantity::LrBeta | Quantity::BatchBeta
        );
        if uses_beta && optimizer == OptimizerKind::Sgd {
            return Err(Error::invalid(
                "schedule",
                s,
                "a beta schedule needs a momentum optimizer (@shb or @nshb)",
            ));
        }
        Ok(Method::Igo(Schedule {
            shape,
            quantity,
            optimizer,
        }))
    }
}

/// Every method of the full study: three constant references (δ_0, 0.1δ_0, 0.01δ_0), the four
/// decreasing shapes × six quantities, NSHB's β schedule, explicit GO and the four baselines.
pub fn all_methods() -> Vec<Method> {
    let mut v = vec![];
    for name in ["constant", "constant:0.1", "constant:0.01", "constant@sgd"] {
        v.extend(Method::parse(name));
    }
    for shape in ["poly", "cosine", "exp", "step"] {
        for q in Quantity::ALL {
            v.extend(Method::parse(&format!("{shape}:{}", q.name())));
        }
    }
    v.extend(Method::parse("poly:beta@nshb"));
    v.extend([
        Method::ExplicitGo,
        Method::ParticleSwarm,
        Method::Annealing,
        Method::MultiLbfgs,
        Method::MultiNelderMead,
    ]);
    v
}

/// The methods of the quick study (what `cargo test` runs).
pub fn quick_methods() -> Vec<Method> {
    [
        "constant",
        "constant:0.1",
        "constant:0.01",
        "poly:lr",
        "poly:beta",
        "exp:batch",
        "step:lr",
        "cosine:lr+beta",
        "go",
        "pso",
        "sa",
        "lbfgs",
        "nelder-mead",
    ]
    .iter()
    .filter_map(|s| Method::parse(s).ok())
    .collect()
}

// ---------------------------------------------------------------------------------------------
// Setup and calibration
// ---------------------------------------------------------------------------------------------

/// One landscape with its calibrated hyperparameters and the study's knobs.
#[derive(Clone)]
pub struct IgoSetup {
    /// The landscape (must know its global minimizer).
    pub landscape: Arc<dyn Landscape>,
    /// Per-sample, per-coordinate noise σ (isotropic Gaussian law, C² = dσ²).
    pub sigma: f64,
    /// Effective step η_eff (SGD/NSHB η; SHB η = η_eff(1 − β_0)).
    pub lr_eff: f64,
    /// Starting momentum β_0.
    pub beta0: f64,
    /// Starting batch size b_0.
    pub batch0: usize,
    /// Stages M.
    pub stages: usize,
    /// Budget B in gradient evaluations.
    pub budget: usize,
    /// End ratio r of the cosine and exponential shapes.
    pub end_ratio: f64,
    /// The step shape decays every this many stages.
    pub step_every: usize,
    /// K used in the δ solves (the landscape's bound on ‖∇f‖ over its domain).
    pub k: f64,
    /// Barrier ΔE from the calibration (sets σ and the annealing temperature).
    pub barrier: f64,
    /// Explicit GO: Monte Carlo samples per gradient estimate.
    pub go_samples: usize,
    /// Explicit GO: number of δ stages (δ from 1 to 0.01, times the domain scale).
    pub go_stages: usize,
    /// Initial box (the landscape's domain).
    pub init: InitBox,
}

/// Barrier ΔE and curvature L along ±e_1 from x* (see the module docs).
pub fn calibrate(landscape: &dyn Landscape) -> Result<(f64, f64)> {
    let (xs, fs) = landscape.global_minimum().ok_or_else(|| {
        Error::invalid(
            "landscape",
            landscape.kind(),
            "a landscape with a known global minimizer",
        )
    })?;
    let d = landscape.dim();
    let (lo, hi) = landscape.domain();
    let h = (hi - lo) * 1e-4;
    let mut best: Option<(f64, f64)> = None;
    let mut hess = vec![0.0; d * d];
    for dir in [1.0, -1.0] {
        let mut x = xs.clone();
        let mut prev = fs;
        let mut t_max = None;
        let mut k = 1;
        while (k as f64) * h < 0.5 * (hi - lo) {
            x[0] = xs[0] + dir * k as f64 * h;
            let f = landscape.value(&x);
            if f < prev {
                t_max = Some((k - 1) as f64 * h);
                break;
            }
            prev = f;
            k += 1;
        }
        let Some(t_max) = t_max else { continue };
        let barrier = prev - fs;
        let mut curv: f64 = 0.0;
        for j in 1..=200 {
            let t = t_max * (0.1 + 0.9 * j as f64 / 200.0);
            x[0] = xs[0] + dir * t;
            landscape.hessian(&x, &mut hess);
            curv = curv.max(hess[0].abs());
        }
        if best.is_none_or(|(b, _)| barrier < b) {
            best = Some((barrier, curv));
        }
    }
    best.filter(|(b, l)| *b > 0.0 && *l > 0.0 && b.is_finite() && l.is_finite())
        .ok_or_else(|| {
            Error::invalid(
                "landscape",
                landscape.kind(),
                "a landscape with a barrier around x* along e_1 (multimodal)",
            )
        })
}

impl IgoSetup {
    /// The calibrated setup for a landscape with budget B and M stages.
    pub fn new(landscape: Arc<dyn Landscape>, budget: usize, stages: usize) -> Result<Self> {
        if budget == 0 {
            return Err(Error::invalid("budget", budget, "an integer >= 1"));
        }
        if stages == 0 || stages > budget {
            return Err(Error::invalid(
                "stages",
                stages,
                format!("an integer in [1, budget = {budget}]"),
            ));
        }
        let (barrier, curv) = calibrate(landscape.as_ref())?;
        let lr_eff = 0.5 / curv;
        let batch0 = 1usize;
        // Temperature η_eff σ²/(2 b_0) = ΔE/2.
        let sigma = (barrier * batch0 as f64 / lr_eff).sqrt();
        let k = landscape.grad_norm_bound().unwrap_or(0.0);
        let (lo, hi) = landscape.domain();
        Ok(IgoSetup {
            landscape,
            sigma,
            lr_eff,
            beta0: 0.9,
            batch0,
            stages,
            budget,
            end_ratio: 0.01,
            step_every: stages.div_ceil(5).max(1),
            k,
            barrier,
            go_samples: 4,
            go_stages: 50.min(budget / 4).max(1),
            init: InitBox { low: lo, high: hi },
        })
    }

    /// C² = dσ².
    pub fn c2(&self) -> f64 {
        self.landscape.dim() as f64 * self.sigma * self.sigma
    }

    /// b_max = max(b_0, ⌊B/(10M)⌋).
    pub fn batch_max(&self) -> usize {
        (self.budget / (10 * self.stages)).max(self.batch0)
    }

    /// Starting (η, β) of an optimizer.
    fn start(&self, kind: OptimizerKind) -> (f64, f64) {
        match kind {
            OptimizerKind::Shb => (self.lr_eff * (1.0 - self.beta0), self.beta0),
            OptimizerKind::Sgd => (self.lr_eff, 0.0),
            _ => (self.lr_eff, self.beta0),
        }
    }

    /// The paper's δ of an optimizer at (η, b, β) with this setup's C² and K.
    pub fn delta(&self, kind: OptimizerKind, lr: f64, batch: f64, beta: f64) -> f64 {
        let c2 = self.c2();
        let psi = match kind {
            OptimizerKind::Shb => theory::psi_shb_paper(beta, batch, c2, self.k),
            OptimizerKind::Nshb => theory::psi_nshb_v1(beta, batch, c2, self.k),
            _ => theory::psi_sgd(batch, c2),
        };
        theory::delta(lr, psi)
    }
}

// ---------------------------------------------------------------------------------------------
// Plans: the hyperparameters of every stage
// ---------------------------------------------------------------------------------------------

/// One stage of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stage {
    /// η_m.
    pub lr: f64,
    /// β_m.
    pub beta: f64,
    /// b_m.
    pub batch: usize,
    /// Target δ_m.
    pub delta_target: f64,
    /// δ of (η_m, b_m, β_m) by the optimizer's formula.
    pub delta_realized: f64,
}

/// The stages of a schedule on a setup.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Optimizer.
    pub optimizer: OptimizerKind,
    /// Stages in order.
    pub stages: Vec<Stage>,
}

/// The target δ_m/δ_0 of a shape.
fn shape_ratios(setup: &IgoSetup, shape: Shape) -> Result<Vec<f64>> {
    let m = setup.stages;
    match shape {
        Shape::Constant(c) => Ok(vec![c; m]),
        Shape::Poly(p) => theory::igo_delta_schedule(1.0, m, p),
        Shape::Cosine => theory::igo_cosine_schedule(1.0, m, setup.end_ratio),
        Shape::Exp => theory::igo_exponential_schedule(1.0, m, setup.end_ratio),
        Shape::Step => theory::igo_step_schedule(1.0, m, setup.step_every),
    }
}

/// Solve one part (η, b or β) so that δ(η, b, β) = target, others fixed. Returns whether the
/// target was reached (false: saturated at a cap or floor).
fn solve_part(
    setup: &IgoSetup,
    kind: OptimizerKind,
    part: Part,
    target: f64,
    st: &mut Stage,
    beta_cap: f64,
) -> Result<bool> {
    let c2 = setup.c2();
    let k = setup.k;
    match part {
        Part::Lr => {
            let now = setup.delta(kind, st.lr, st.batch as f64, st.beta);
            if now > 0.0 {
                st.lr *= target / now;
            }
            Ok(true)
        }
        Part::Batch => {
            let b = match kind {
                OptimizerKind::Shb => theory::shb_batch_for_delta(target, st.lr, st.beta, c2, k)?,
                OptimizerKind::Nshb => theory::nshb_batch_for_delta(target, st.lr, st.beta, c2, k)?,
                _ => Some(theory::sgd_batch_for_delta(target, st.lr, c2)?),
            };
            let bmax = setup.batch_max();
            let (b, reached) = match b {
                Some(b) if b.ceil() <= bmax as f64 => (b.ceil().max(1.0) as usize, true),
                _ => (bmax, false),
            };
            st.batch = b;
            Ok(reached)
        }
        Part::Beta => {
            let beta = match kind {
                OptimizerKind::Shb => {
                    theory::shb_beta_for_delta(target, st.lr, st.batch as f64, c2, k, beta_cap)?
                }
                _ => theory::nshb_beta_for_delta(target, st.lr, st.batch as f64, c2, k, beta_cap)?,
            };
            st.beta = beta;
            let got = setup.delta(kind, st.lr, st.batch as f64, beta);
            Ok((got - target).abs() <= 1e-9 * target.max(1e-300))
        }
    }
}

/// The plan of a schedule: each stage's (η, b, β) from the solves, starting at (η_0, b_0, β_0).
pub fn plan(setup: &IgoSetup, s: &Schedule) -> Result<Plan> {
    let (lr0, beta0) = setup.start(s.optimizer);
    let b0 = setup.batch0;
    let d0 = setup.delta(s.optimizer, lr0, b0 as f64, beta0);
    let ratios = shape_ratios(setup, s.shape)?;
    let mut stages = Vec::with_capacity(ratios.len());
    let (first, second) = if matches!(s.shape, Shape::Constant(_)) {
        (Part::Lr, None)
    } else {
        s.quantity.parts()
    };
    for r in ratios {
        let target = d0 * r;
        // Each stage solves from the base values (η_0, b_0, β_0): the targets fall, so the
        // solved β falls and the solved b rises from stage to stage.
        let mut st = Stage {
            lr: lr0,
            beta: beta0,
            batch: b0,
            delta_target: target,
            delta_realized: 0.0,
        };
        match second {
            None => {
                solve_part(setup, s.optimizer, first, target, &mut st, beta0)?;
            }
            Some(second) => {
                let half = d0 * r.sqrt();
                solve_part(setup, s.optimizer, first, half, &mut st, beta0)?;
                solve_part(setup, s.optimizer, second, target, &mut st, beta0)?;
            }
        }
        st.delta_realized = setup.delta(s.optimizer, st.lr, st.batch as f64, st.beta);
        stages.push(st);
    }
    Ok(Plan {
        optimizer: s.optimizer,
        stages,
    })
}

// ---------------------------------------------------------------------------------------------
// Runs
// ---------------------------------------------------------------------------------------------

/// What one seed of one method ended with.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The final point (last iterate, or best evaluated point for the baselines).
    pub x: Vec<f64>,
    /// f(x) − f*.
    pub gap: f64,
    /// Whether the polished point is in the global basin.
    pub success: bool,
    /// Budget units spent.
    pub spent: usize,
    /// Whether the iterate became non-finite.
    pub diverged: bool,
}

/// Run a plan for one seed: the simulator's update rule (`Optimizer::direction`), one momentum
/// buffer for the whole run (never reset), stage m spending the budget slice \[mB/M, (m+1)B/M).
/// Returns the final iterate, the budget spent, and whether it diverged.
pub fn run_plan(setup: &IgoSetup, plan: &Plan, seed: u64, index: u64) -> (Vec<f64>, usize, bool) {
    let land = setup.landscape.as_ref();
    let d = land.dim();
    let mut rng = seed_rng(seed, index);
    let mut x = setup.init.sample(d, &mut rng);
    let noise = NoiseLaw::Gaussian { sigma: setup.sigma };
    let mut scratch = NoiseScratch::new(d);
    let (mut grad, mut g, mut m, mut dir) =
        (vec![0.0; d], vec![0.0; d], vec![0.0; d], vec![0.0; d]);
    let n = plan.stages.len();
    let mut spent = 0usize;
    for (i, st) in plan.stages.iter().enumerate() {
        let end = (i + 1) * setup.budget / n;
        let opt = Optimizer {
            kind: plan.optimizer,
            lr: st.lr,
            beta: st.beta,
            nu: 0.0,
        };
        while spent + st.batch <= end {
            land.gradient(&x, &mut grad);
            noise.sample_minibatch(land, &x, &grad, st.batch, &mut rng, &mut scratch, &mut g);
            opt.direction(&g, &mut m, &mut dir);
            let mut finite = true;
            for (xi, di) in x.iter_mut().zip(&dir) {
                *xi -= st.lr * di;
                finite &= xi.is_finite();
            }
            spent += st.batch;
            if !finite {
                return (x, spent, true);
            }
        }
    }
    (x, spent, false)
}

/// Explicit graduated optimization for one seed: gradient descent x ← x − η_eff ĝ on f̂_δ with
/// ĝ = (1/n) Σ_j ∇f(x + δu_j), u_j ~ N(0, I), δ geometric from s to 0.01 s over the GO stages
/// (s = (hi − lo)/10.24, the domain scale: exactly 1 → 0.01 on Rastrigin's box). Each step
/// costs n gradient evaluations; stages share the budget equally.
pub fn run_go(setup: &IgoSetup, seed: u64, index: u64) -> (Vec<f64>, usize, bool) {
    let land = setup.landscape.as_ref();
    let d = land.dim();
    let mut rng = seed_rng(seed, index);
    let mut x = setup.init.sample(d, &mut rng);
    let (lo, hi) = land.domain();
    let scale = (hi - lo) / 10.24;
    let n = setup.go_samples.max(1);
    let stages = setup.go_stages.max(1);
    let (mut gsum, mut gi, mut xp) = (vec![0.0; d], vec![0.0; d], vec![0.0; d]);
    let mut z = vec![0.0; d];
    let mut bits = vec![0u64; d + 1];
    let mut spent = 0usize;
    for s in 0..stages {
        let frac = if stages > 1 {
            s as f64 / (stages - 1) as f64
        } else {
            0.0
        };
        let delta = scale * 0.01f64.powf(frac);
        let end = (s + 1) * setup.budget / stages;
        while spent + n <= end {
            gsum.iter_mut().for_each(|v| *v = 0.0);
            for _ in 0..n {
                fill_standard_normal(&mut rng, &mut bits, &mut z);
                for ((p, xi), zi) in xp.iter_mut().zip(&x).zip(&z) {
                    *p = xi + delta * zi;
                }
                land.gradient(&xp, &mut gi);
                for (a, b) in gsum.iter_mut().zip(&gi) {
                    *a += b;
                }
            }
            let mut finite = true;
            for (xi, gs) in x.iter_mut().zip(&gsum) {
                *xi -= setup.lr_eff * gs / n as f64;
                finite &= xi.is_finite();
            }
            spent += n;
            if !finite {
                return (x, spent, true);
            }
        }
    }
    (x, spent, false)
}

/// The basin test: polish x by bounded-move Armijo descent (module docs) and check
/// ‖x − x*‖_∞ ≤ [`BASIN_RADIUS`]. Returns false for non-finite x.
pub fn in_global_basin(land: &dyn Landscape, x0: &[f64]) -> bool {
    let Some((xs, _)) = land.global_minimum() else {
        return false;
    };
    if x0.iter().any(|v| !v.is_finite()) {
        return false;
    }
    let near = |x: &[f64]| {
        x.iter()
            .zip(&xs)
            .all(|(a, b)| (a - b).abs() <= BASIN_RADIUS)
    };
    let d = x0.len();
    let mut x = x0.to_vec();
    let mut g = vec![0.0; d];
    let mut trial = vec![0.0; d];
    let mut f = land.value_gradient(&x, &mut g);
    let mut s = f64::INFINITY;
    for _ in 0..POLISH_STEPS {
        if near(&x) {
            return true;
        }
        let gmax = g.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        if gmax == 0.0 || !gmax.is_finite() {
            break;
        }
        let gsq: f64 = g.iter().map(|v| v * v).sum();
        s = (2.0 * s).min(POLISH_MOVE / gmax);
        let mut accepted = false;
        for _ in 0..60 {
            for ((t, xi), gi) in trial.iter_mut().zip(&x).zip(&g) {
                *t = xi - s * gi;
            }
            let ft = land.value(&trial);
            if ft <= f - 0.5 * s * gsq {
                accepted = true;
                break;
            }
            s *= 0.5;
        }
        if !accepted {
            break;
        }
        let moved = trial
            .iter()
            .zip(&x)
            .fold(0.0f64, |a, (t, xi)| a.max((t - xi).abs()));
        x.copy_from_slice(&trial);
        f = land.value_gradient(&x, &mut g);
        if moved < 1e-13 {
            break;
        }
    }
    near(&x)
}

// ---------------------------------------------------------------------------------------------
// Baselines (argmin), with an exact evaluation budget
// ---------------------------------------------------------------------------------------------

struct Track {
    evals: usize,
    best_f: f64,
    best_x: Vec<f64>,
}

/// A landscape as an argmin problem that counts every f and ∇f evaluation, remembers the best
/// point evaluated, and refuses (argmin error) once the budget is spent. Also implements
/// argmin's `Anneal` (simulated annealing's move): a Gaussian step of scale
/// 0.1·(hi − lo)·√(T/T_0) on max(1, d/10) random coordinates, clamped to the domain.
pub struct Budgeted<'a> {
    land: &'a dyn Landscape,
    budget: usize,
    track: Mutex<Track>,
    anneal_rng: Mutex<ChaCha8Rng>,
    t0: f64,
}

impl<'a> Budgeted<'a> {
    /// Wrap a landscape with a budget; `rng` drives the annealing moves, `t0` is SA's initial
    /// temperature.
    pub fn new(land: &'a dyn Landscape, budget: usize, rng: ChaCha8Rng, t0: f64) -> Self {
        Budgeted {
            land,
            budget,
            track: Mutex::new(Track {
                evals: 0,
                best_f: f64::INFINITY,
                best_x: vec![],
            }),
            anneal_rng: Mutex::new(rng),
            t0,
        }
    }

    fn charge(&self, x: &[f64], f: f64) -> std::result::Result<(), ArgminError> {
        let mut t = self
            .track
            .lock()
            .map_err(|_| ArgminError::msg("budget tracker poisoned"))?;
        if t.evals >= self.budget {
            return Err(ArgminError::msg("evaluation budget exhausted"));
        }
        t.evals += 1;
        if f < t.best_f {
            t.best_f = f;
            t.best_x = x.to_vec();
        }
        Ok(())
    }

    /// (evaluations spent, best point, best value).
    pub fn result(&self) -> (usize, Vec<f64>, f64) {
        match self.track.lock() {
            Ok(t) => (t.evals, t.best_x.clone(), t.best_f),
            Err(_) => (self.budget, vec![], f64::INFINITY),
        }
    }

    /// Whether budget remains.
    pub fn left(&self) -> usize {
        self.track
            .lock()
            .map(|t| self.budget.saturating_sub(t.evals))
            .unwrap_or(0)
    }
}

fn as_slice(p: &Array1<f64>) -> Vec<f64> {
    p.iter().copied().collect()
}

impl CostFunction for &Budgeted<'_> {
    type Param = Array1<f64>;
    type Output = f64;
    fn cost(&self, p: &Array1<f64>) -> std::result::Result<f64, ArgminError> {
        let x = as_slice(p);
        let f = self.land.value(&x);
        self.charge(&x, f)?;
        Ok(f)
    }
}

impl Gradient for &Budgeted<'_> {
    type Param = Array1<f64>;
    type Gradient = Array1<f64>;
    fn gradient(&self, p: &Array1<f64>) -> std::result::Result<Array1<f64>, ArgminError> {
        let x = as_slice(p);
        let mut g = vec![0.0; x.len()];
        let f = self.land.value_gradient(&x, &mut g);
        self.charge(&x, f)?;
        Ok(Array1::from(g))
    }
}

impl Anneal for &Budgeted<'_> {
    type Param = Array1<f64>;
    type Output = Array1<f64>;
    type Float = f64;
    fn anneal(&self, p: &Array1<f64>, temp: f64) -> std::result::Result<Array1<f64>, ArgminError> {
        let mut rng = self
            .anneal_rng
            .lock()
            .map_err(|_| ArgminError::msg("annealing rng poisoned"))?;
        let (lo, hi) = self.land.domain();
        let d = p.len();
        let scale = 0.1 * (hi - lo) * (temp / self.t0).max(0.0).sqrt();
        let mut out = p.clone();
        let mut z = [0.0; 1];
        let mut bits = [0u64; 2];
        for _ in 0..(d / 10).max(1) {
            let i = rng.random_range(0..d);
            fill_standard_normal(&mut *rng, &mut bits, &mut z);
            out[i] = (out[i] + scale * z[0]).clamp(lo, hi);
        }
        Ok(out)
    }
}

fn random_point(land: &dyn Landscape, rng: &mut ChaCha8Rng) -> Array1<f64> {
    let (lo, hi) = land.domain();
    Array1::from(InitBox { low: lo, high: hi }.sample(land.dim(), rng))
}

/// Run one baseline for one seed with an exact budget; returns (best point, spent).
pub fn run_baseline(setup: &IgoSetup, method: Method, seed: u64, index: u64) -> (Vec<f64>, usize) {
    let land = setup.landscape.as_ref();
    let d = land.dim();
    let mut rng = seed_rng(seed, BASELINE_STREAM + index);
    let solver_rng = seed_rng(seed ^ 0x5eed_ba5e, BASELINE_STREAM + index);
    let problem = Budgeted::new(land, setup.budget, solver_rng.clone(), setup.barrier);
    let (lo, hi) = land.domain();
    match method {
        Method::ParticleSwarm => {
            let n = (10 + 2 * d).min(setup.budget.max(1));
            let bounds = (Array1::from_elem(d, lo), Array1::from_elem(d, hi));
            let solver = ParticleSwarm::new(bounds, n).with_rng_generator(solver_rng);
            let _ = Executor::new(&problem, solver)
                .configure(|s| s.max_iters(setup.budget as u64))
                .run();
        }
        Method::Annealing => {
            let x0 = random_point(land, &mut rng);
            if let Ok(solver) = SimulatedAnnealing::new_with_rng(setup.barrier, solver_rng) {
                let _ = Executor::new(&problem, solver)
                    .configure(|s| s.param(x0).max_iters(setup.budget as u64))
                    .run();
            }
        }
        Method::MultiLbfgs => {
            while problem.left() > 0 {
                let x0 = random_point(land, &mut rng);
                let Ok(solver) = LBFGS::new(MoreThuenteLineSearch::new(), 7)
                    .with_tolerance_grad(1e-8)
                    .and_then(|s| s.with_tolerance_cost(1e-12))
                else {
                    break;
                };
                let _ = Executor::new(&problem, solver)
                    .configure(|s| s.param(x0).max_iters(setup.budget as u64))
                    .run();
            }
        }
        Method::MultiNelderMead => {
            // argmin's Nelder–Mead unwraps the d + 1 costs of its initial simplex: start a run
            // only while they fit in the budget (the rest of the budget is then left unspent).
            while problem.left() > d + 1 {
                let x0 = random_point(land, &mut rng);
                let step = 0.05 * (hi - lo);
                let mut simplex = vec![x0.clone()];
                for i in 0..d {
                    let mut v = x0.clone();
                    v[i] = if v[i] + step <= hi {
                        v[i] + step
                    } else {
                        v[i] - step
                    };
                    simplex.push(v);
                }
                let Ok(solver) = NelderMead::new(simplex).with_sd_tolerance(1e-10) else {
                    break;
                };
                let _ = Executor::new(&problem, solver)
                    .configure(|s| s.max_iters(setup.budget as u64))
                    .run();
            }
        }
        _ => {}
    }
    let (spent, x, _) = problem.result();
    (x, spent)
}

/// One seed of any method, with the basin test.
pub fn run_seed(setup: &IgoSetup, method: &Method, seed: u64, index: u64) -> Result<Outcome> {
    let land = setup.landscape.as_ref();
    let fstar = land.global_minimum().map(|(_, f)| f).unwrap_or(0.0);
    let (x, spent, diverged) = match method {
        Method::Igo(s) => {
            let p = plan(setup, s)?;
            run_plan(setup, &p, seed, index)
        }
        Method::ExplicitGo => run_go(setup, seed, index),
        m => {
            let (x, spent) = run_baseline(setup, *m, seed, index);
            (x, spent, false)
        }
    };
    let finite = !diverged && x.len() == land.dim() && x.iter().all(|v| v.is_finite());
    let gap = if finite {
        land.value(&x) - fstar
    } else {
        f64::INFINITY
    };
    let success = finite && in_global_basin(land, &x);
    Ok(Outcome {
        x,
        gap,
        success,
        spent,
        diverged: !finite,
    })
}

// ---------------------------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------------------------

/// Wilson score interval for k successes in n trials at 95% (z = 1.959964): (low, high).
pub fn wilson(k: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let z = 1.959_963_984_540_054_f64;
    let nf = n as f64;
    let p = k as f64 / nf;
    let den = 1.0 + z * z / nf;
    let center = (p + z * z / (2.0 * nf)) / den;
    let half = z * (p * (1.0 - p) / nf + z * z / (4.0 * nf * nf)).sqrt() / den;
    ((center - half).max(0.0), (center + half).min(1.0))
}

/// Newcombe's hybrid-score 95% interval for p_a − p_b (method 10), from the Wilson intervals.
pub fn newcombe_diff(ka: usize, na: usize, kb: usize, nb: usize) -> (f64, f64, f64) {
    let (pa, pb) = (ka as f64 / na as f64, kb as f64 / nb as f64);
    let (la, ua) = wilson(ka, na);
    let (lb, ub) = wilson(kb, nb);
    let diff = pa - pb;
    let low = diff - ((pa - la).powi(2) + (ub - pb).powi(2)).sqrt();
    let high = diff + ((ua - pa).powi(2) + (pb - lb).powi(2)).sqrt();
    (diff, low, high)
}

/// Median of `v` (NaN-free; +∞ allowed) with a distribution-free 95% interval from order
/// statistics: \[v_(l), v_(u)\] with l, u the binomial(n, 1/2) 2.5% and 97.5% points.
pub fn median_ci(v: &[f64]) -> (f64, f64, f64) {
    let mut s: Vec<f64> = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    if n == 0 {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let med = if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    };
    let Ok(b) = Binomial::new(0.5, n as u64) else {
        return (med, s[0], s[n - 1]);
    };
    // Largest l with P(X < l) ≤ 0.025 (0-based index l − 1 ... ) and symmetric u.
    let mut l = 0usize;
    while l + 1 < n && b.cdf(l as u64) <= 0.025 {
        l += 1;
    }
    let u = n - 1 - l;
    (med, s[l], s[u.max(l)])
}

/// Results of one method on one setup.
#[derive(Debug, Clone, Serialize)]
pub struct MethodResult {
    /// Method name.
    pub method: String,
    /// Kind: "schedule", "constant", "explicit_go" or "baseline".
    pub family: &'static str,
    /// Budget B.
    pub budget: usize,
    /// Seeds.
    pub seeds: usize,
    /// Seeds in the global basin.
    pub successes: usize,
    /// Success rate.
    pub success_rate: f64,
    /// Wilson 95% interval of the success rate.
    pub success_ci: [f64; 2],
    /// Median final gap f(x_T) − f*.
    pub gap_median: f64,
    /// 95% interval of the median gap.
    pub gap_median_ci: [f64; 2],
    /// Diverged seeds.
    pub diverged: usize,
    /// Mean budget units spent.
    pub spent_mean: f64,
    /// Per-seed success flags (seed order), for paired comparisons.
    #[serde(skip)]
    pub flags: Vec<bool>,
}

/// Family label of a method.
pub fn family(m: &Method) -> &'static str {
    match m {
        Method::Igo(s) if matches!(s.shape, Shape::Constant(_)) => "constant",
        Method::Igo(_) => "schedule",
        Method::ExplicitGo => "explicit_go",
        _ => "baseline",
    }
}

/// Run `seeds` seeds of a method (rayon over fixed chunks, merged in seed order).
pub fn run_method(
    setup: &IgoSetup,
    method: &Method,
    seeds: usize,
    seed: u64,
) -> Result<MethodResult> {
    if seeds == 0 {
        return Err(Error::invalid("seeds", 0, "an integer >= 1"));
    }
    if let Method::Igo(s) = method {
        plan(setup, s)?;
    }
    let chunks: Vec<Result<Vec<Outcome>>> = (0..seeds.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            (c * CHUNK..((c + 1) * CHUNK).min(seeds))
                .map(|i| run_seed(setup, method, seed, i as u64))
                .collect()
        })
        .collect();
    let mut outs = Vec::with_capacity(seeds);
    for c in chunks {
        outs.extend(c?);
    }
    let successes = outs.iter().filter(|o| o.success).count();
    let (lo, hi) = wilson(successes, seeds);
    let gaps: Vec<f64> = outs.iter().map(|o| o.gap).collect();
    let (med, mlo, mhi) = median_ci(&gaps);
    Ok(MethodResult {
        method: method.name(),
        family: family(method),
        budget: setup.budget,
        seeds,
        successes,
        success_rate: successes as f64 / seeds as f64,
        success_ci: [lo, hi],
        gap_median: med,
        gap_median_ci: [mlo, mhi],
        diverged: outs.iter().filter(|o| o.diverged).count(),
        spent_mean: outs.iter().map(|o| o.spent as f64).sum::<f64>() / seeds as f64,
        flags: outs.iter().map(|o| o.success).collect(),
    })
}

// ---------------------------------------------------------------------------------------------
// The C12 study
// ---------------------------------------------------------------------------------------------

/// The landscapes of C12 in dimension d.
pub fn landscapes(d: usize) -> Result<Vec<Arc<dyn Landscape>>> {
    Ok(vec![
        Arc::new(Rastrigin::new(d, 10.0)?),
        Arc::new(Ackley::new(d)?),
        Arc::new(Levy::new(d)?),
        Arc::new(Griewank::new(d)?),
        Arc::new(StyblinskiTang::new(d)?),
    ])
}

/// The grid of a study.
#[derive(Debug, Clone, Serialize)]
pub struct StudyConfig {
    /// Landscape kinds (as in landscape files).
    pub kinds: Vec<String>,
    /// Dimensions.
    pub dims: Vec<usize>,
    /// Budgets B.
    pub budgets: Vec<usize>,
    /// Stages M.
    pub stages: usize,
    /// Seeds per (landscape, d, budget, method).
    pub seeds: usize,
    /// Base seed.
    pub seed: u64,
    /// Methods (names).
    pub methods: Vec<String>,
}

impl StudyConfig {
    /// The grid of a scale.
    pub fn for_scale(scale: Scale) -> Self {
        match scale {
            Scale::Quick => StudyConfig {
                kinds: vec!["rastrigin".into(), "ackley".into()],
                dims: vec![2, 10],
                budgets: vec![2000],
                stages: 20,
                seeds: 32,
                seed: 12,
                methods: quick_methods().iter().map(Method::name).collect(),
            },
            Scale::Full => StudyConfig {
                kinds: ["rastrigin", "ackley", "levy", "griewank", "styblinski_tang"]
                    .map(String::from)
                    .to_vec(),
                dims: vec![2, 10, 50],
                budgets: vec![1000, 4000, 16000],
                stages: 20,
                seeds: 40,
                seed: 12,
                methods: all_methods().iter().map(Method::name).collect(),
            },
        }
    }
}

/// One (landscape, d, budget) cell of the study.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    /// Landscape kind.
    pub landscape: String,
    /// Dimension.
    pub dim: usize,
    /// Budget.
    pub budget: usize,
    /// Calibrated σ, η_eff, ΔE, K, C².
    pub sigma: f64,
    /// η_eff.
    pub lr_eff: f64,
    /// ΔE.
    pub barrier: f64,
    /// K used in the solves.
    pub k: f64,
    /// Results per method.
    pub results: Vec<MethodResult>,
}

/// Run the study grid.
pub fn run_study(cfg: &StudyConfig) -> Result<Vec<Cell>> {
    let methods: Vec<Method> = cfg
        .methods
        .iter()
        .map(|m| Method::parse(m))
        .collect::<Result<_>>()?;
    let mut cells = vec![];
    for &d in &cfg.dims {
        for land in landscapes(d)? {
            if !cfg.kinds.iter().any(|k| k == land.kind()) {
                continue;
            }
            for &b in &cfg.budgets {
                let setup = IgoSetup::new(land.clone(), b, cfg.stages)?;
                let results = methods
                    .iter()
                    .map(|m| run_method(&setup, m, cfg.seeds, cfg.seed))
                    .collect::<Result<Vec<_>>>()?;
                cells.push(Cell {
                    landscape: land.kind().to_string(),
                    dim: d,
                    budget: b,
                    sigma: setup.sigma,
                    lr_eff: setup.lr_eff,
                    barrier: setup.barrier,
                    k: setup.k,
                    results,
                });
            }
        }
    }
    Ok(cells)
}

/// The comparison of one cell: best decreasing schedule against the best constant δ.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// Best decreasing method (highest success rate; ties: lower median gap).
    pub best_decreasing: String,
    /// Its success rate.
    pub decreasing_rate: f64,
    /// Best constant-δ reference.
    pub best_constant: String,
    /// Its success rate.
    pub constant_rate: f64,
    /// Newcombe 95% interval of the difference (decreasing − constant).
    pub diff_ci: [f64; 2],
    /// Decreasing minus constant for the hot start alone (constant@shb at δ_0).
    pub vs_hot_start_ci: [f64; 2],
    /// "decreasing", "constant" or "tie" (interval contains 0).
    pub winner: &'static str,
    /// Best implicit schedule (decreasing δ through η, b or β; explicit GO excluded): the claim.
    pub best_implicit: String,
    /// Its success rate.
    pub implicit_rate: f64,
    /// Newcombe 95% interval of (best implicit − best constant).
    pub implicit_diff_ci: [f64; 2],
    /// "decreasing", "constant" or "tie" for the implicit schedules alone.
    pub implicit_winner: &'static str,
    /// The pre-specified primary comparison: the paper's IGO (`poly:beta@shb`, β decayed by
    /// SHB's cubic, p = 0.9) minus the paper's constant hyperparameters (`constant@shb`):
    /// (successes, successes, Newcombe 95% interval of the difference).
    pub primary: Option<(usize, usize, [f64; 2])>,
    /// Best baseline and its rate.
    pub best_baseline: String,
    /// Its success rate.
    pub baseline_rate: f64,
}

fn best_of(rs: &[MethodResult], pred: impl Fn(&MethodResult) -> bool) -> Option<&MethodResult> {
    rs.iter().filter(|r| pred(r)).min_by(|a, b| {
        b.successes
            .cmp(&a.successes)
            .then(a.gap_median.total_cmp(&b.gap_median))
    })
}

fn winner(lo: f64, hi: f64) -> &'static str {
    if lo > 0.0 {
        "decreasing"
    } else if hi < 0.0 {
        "constant"
    } else {
        "tie"
    }
}

/// Compare the cell. Note: picking the best of each family is a selection; the interval is the
/// plain Newcombe interval of the two selected rates (a descriptive comparison).
pub fn compare(cell: &Cell) -> Option<Comparison> {
    let dec = best_of(&cell.results, |r| {
        r.family == "schedule" || r.family == "explicit_go"
    })?;
    let con = best_of(&cell.results, |r| r.family == "constant")?;
    let base = best_of(&cell.results, |r| r.family == "baseline");
    let imp = best_of(&cell.results, |r| r.family == "schedule")?;
    let (_, ilo, ihi) = newcombe_diff(imp.successes, imp.seeds, con.successes, con.seeds);
    let hot = cell.results.iter().find(|r| r.method == "constant@shb")?;
    let (_, lo, hi) = newcombe_diff(dec.successes, dec.seeds, con.successes, con.seeds);
    let (_, hlo, hhi) = newcombe_diff(dec.successes, dec.seeds, hot.successes, hot.seeds);
    let primary = cell
        .results
        .iter()
        .find(|r| r.method == "poly:beta@shb")
        .map(|p| {
            let (_, a, b) = newcombe_diff(p.successes, p.seeds, hot.successes, hot.seeds);
            (p.successes, hot.successes, [a, b])
        });
    Some(Comparison {
        best_decreasing: dec.method.clone(),
        decreasing_rate: dec.success_rate,
        best_constant: con.method.clone(),
        constant_rate: con.success_rate,
        diff_ci: [lo, hi],
        vs_hot_start_ci: [hlo, hhi],
        winner: winner(lo, hi),
        best_implicit: imp.method.clone(),
        implicit_rate: imp.success_rate,
        implicit_diff_ci: [ilo, ihi],
        implicit_winner: winner(ilo, ihi),
        primary,
        best_baseline: base.map(|b| b.method.clone()).unwrap_or_default(),
        baseline_rate: base.map(|b| b.success_rate).unwrap_or(f64::NAN),
    })
}

/// Verdict from the comparisons of the *implicit* schedules (the claim; explicit GO is
/// reported beside it). Only informative cells count: those where the best implicit schedule or
/// the best constant δ succeeded at least once (0 of S against 0 of S says nothing). Holds: the
/// best implicit schedule beats the best constant δ (Newcombe interval above 0) in at least half
/// of the informative cells and loses in none; fails: it beats it in none; mixed otherwise.
/// Open when no cell is informative.
pub fn verdict(comps: &[Comparison]) -> Verdict {
    let informative: Vec<&Comparison> = comps
        .iter()
        .filter(|c| c.implicit_rate > 0.0 || c.constant_rate > 0.0)
        .collect();
    let dec = informative
        .iter()
        .filter(|c| c.implicit_winner == "decreasing")
        .count();
    let con = informative
        .iter()
        .filter(|c| c.implicit_winner == "constant")
        .count();
    if informative.is_empty() {
        Verdict::Open
    } else if dec == 0 {
        Verdict::Fails
    } else if con == 0 && dec * 2 >= informative.len() {
        Verdict::Holds
    } else {
        Verdict::Mixed
    }
}

/// C12 claim experiment.
pub fn c12_igo(scale: Scale) -> Result<ClaimReport> {
    let cfg = StudyConfig::for_scale(scale);
    let cells = run_study(&cfg)?;
    Ok(report(&cfg, &cells))
}

/// The claim report of a finished study.
pub fn report(cfg: &StudyConfig, cells: &[Cell]) -> ClaimReport {
    let mut rows = vec![];
    let mut comps = vec![];
    for c in cells {
        let cmp = compare(c);
        if let Some(cm) = &cmp {
            comps.push(cm.clone());
        }
        rows.push(json!({
            "landscape": c.landscape, "dim": c.dim, "budget": c.budget,
            "sigma": c.sigma, "lr_eff": c.lr_eff, "barrier": c.barrier, "k": c.k,
            "comparison": cmp,
            "results": c.results,
        }));
    }
    let n = comps.len();
    let count = |f: &dyn Fn(&Comparison) -> bool| comps.iter().filter(|c| f(c)).count();
    let inf = count(&|c| c.implicit_rate > 0.0 || c.constant_rate > 0.0);
    let iwin = count(&|c| c.implicit_winner == "decreasing");
    let iloss = count(&|c| c.implicit_winner == "constant");
    let win = count(&|c| c.winner == "decreasing");
    let loss = count(&|c| c.winner == "constant");
    let go_best = count(&|c| c.winner == "decreasing" && c.best_decreasing == "go");
    let prim: Vec<_> = comps.iter().filter_map(|c| c.primary).collect();
    let prim_win = prim.iter().filter(|p| p.2[0] > 0.0).count();
    let prim_loss = prim.iter().filter(|p| p.2[1] < 0.0).count();
    let prim_inf = prim.iter().filter(|p| p.0 + p.1 > 0).count();
    let base_better = count(&|c| c.baseline_rate > c.implicit_rate.max(c.decreasing_rate));
    let evidence = format!(
        "{n} cells (5 landscapes × d ∈ {{{}}} × B ∈ {{{}}}, {} seeds): the best implicit schedule beats the best constant δ (Newcombe 95% CI of the success-rate difference > 0) in {iwin} of {inf} informative cells, loses in {iloss}; pre-specified pair poly:beta@shb vs constant@shb: {prim_win} wins, {prim_loss} losses of {prim_inf} informative; with explicit GO included: {win} wins ({go_best} by GO), {loss} losses; an argmin baseline beats every decreasing method in {base_better} cells",
        cfg.dims
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        cfg.budgets
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        cfg.seeds,
    );
    let v = verdict(&comps);
    let counter = comps
        .iter()
        .zip(cells)
        .find(|(c, _)| {
            c.implicit_winner != "decreasing" && (c.implicit_rate > 0.0 || c.constant_rate > 0.0)
        })
        .map(|(c, cell)| {
            format!(
                "{} d={} B={}: best implicit {} {:.2} vs best constant {} {:.2} (diff CI [{:.2}, {:.2}])",
                cell.landscape,
                cell.dim,
                cell.budget,
                c.best_implicit,
                c.implicit_rate,
                c.best_constant,
                c.constant_rate,
                c.implicit_diff_ci[0],
                c.implicit_diff_ci[1]
            )
        });
    ClaimReport {
        claim: "C12",
        verdict: v,
        evidence,
        counter_example: if v == Verdict::Holds { None } else { counter },
        rows,
    }
}

/// Flat CSV rows for the figures (header [`CSV_HEADER`]).
pub fn csv_rows(cells: &[Cell]) -> Vec<Vec<String>> {
    let mut out = vec![];
    for c in cells {
        for r in &c.results {
            out.push(vec![
                c.landscape.clone(),
                c.dim.to_string(),
                r.budget.to_string(),
                r.method.clone(),
                r.family.to_string(),
                r.seeds.to_string(),
                r.successes.to_string(),
                r.success_rate.to_string(),
                r.success_ci[0].to_string(),
                r.success_ci[1].to_string(),
                r.gap_median.to_string(),
                r.gap_median_ci[0].to_string(),
                r.gap_median_ci[1].to_string(),
                r.diverged.to_string(),
                r.spent_mean.to_string(),
            ]);
        }
    }
    out
}

/// Header of [`csv_rows`].
pub const CSV_HEADER: [&str; 15] = [
    "landscape",
    "dim",
    "budget",
    "method",
    "family",
    "seeds",
    "successes",
    "success_rate",
    "success_ci_low",
    "success_ci_high",
    "gap_median",
    "gap_median_ci_low",
    "gap_median_ci_high",
    "diverged",
    "spent_mean",
];

/// Write the figure data of a finished `mslab claims --only c12` run (the JSON file `src`,
/// as `mslab claims` writes it) into `dir`: `results.csv` (one row per landscape × d × budget ×
/// method, header [`CSV_HEADER`]), `comparisons.csv` (one row per cell: best decreasing vs best
/// constant, the primary pair, the best baseline) and `summary.json` (the source's provenance,
/// scale, verdict and evidence). All written atomically; nothing is recomputed.
pub fn export_figure_data(src: &std::path::Path, dir: &std::path::Path) -> Result<()> {
    use crate::output::{write_csv, write_json};
    let text = std::fs::read_to_string(src).map_err(|source| Error::Io {
        path: src.display().to_string(),
        source,
    })?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::File {
        path: src.display().to_string(),
        message: format!("not a claims file: {e}"),
    })?;
    let rows = v["report"]["rows"].as_array().cloned().unwrap_or_default();
    let s = |x: &serde_json::Value| match x {
        serde_json::Value::String(t) => t.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    // Gaps are finite or +∞ (diverged runs); JSON writes +∞ as null.
    let gap = |x: &serde_json::Value| match x {
        serde_json::Value::Null => "inf".to_string(),
        other => s(other),
    };
    let mut res = vec![];
    let mut cmp = vec![];
    for row in &rows {
        let (l, d, b) = (s(&row["landscape"]), s(&row["dim"]), s(&row["budget"]));
        for r in row["results"].as_array().into_iter().flatten() {
            res.push(vec![
                l.clone(),
                d.clone(),
                b.clone(),
                s(&r["method"]),
                s(&r["family"]),
                s(&r["seeds"]),
                s(&r["successes"]),
                s(&r["success_rate"]),
                s(&r["success_ci"][0]),
                s(&r["success_ci"][1]),
                gap(&r["gap_median"]),
                gap(&r["gap_median_ci"][0]),
                gap(&r["gap_median_ci"][1]),
                s(&r["diverged"]),
                s(&r["spent_mean"]),
            ]);
        }
        let c = &row["comparison"];
        cmp.push(vec![
            l,
            d,
            b,
            s(&c["best_decreasing"]),
            s(&c["decreasing_rate"]),
            s(&c["best_constant"]),
            s(&c["constant_rate"]),
            s(&c["diff_ci"][0]),
            s(&c["diff_ci"][1]),
            s(&c["winner"]),
            s(&c["best_implicit"]),
            s(&c["implicit_rate"]),
            s(&c["implicit_diff_ci"][0]),
            s(&c["implicit_diff_ci"][1]),
            s(&c["implicit_winner"]),
            s(&c["primary"][0]),
            s(&c["primary"][1]),
            s(&c["primary"][2][0]),
            s(&c["primary"][2][1]),
            s(&c["best_baseline"]),
            s(&c["baseline_rate"]),
        ]);
    }
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.display().to_string(),
        source,
    })?;
    write_csv(&dir.join("results.csv"), &CSV_HEADER, res)?;
    write_csv(
        &dir.join("comparisons.csv"),
        &[
            "landscape",
            "dim",
            "budget",
            "best_decreasing",
            "decreasing_rate",
            "best_constant",
            "constant_rate",
            "diff_ci_low",
            "diff_ci_high",
            "winner",
            "best_implicit",
            "implicit_rate",
            "implicit_diff_ci_low",
            "implicit_diff_ci_high",
            "implicit_winner",
            "primary_igo_successes",
            "primary_constant_successes",
            "primary_diff_ci_low",
            "primary_diff_ci_high",
            "best_baseline",
            "baseline_rate",
        ],
        cmp,
    )?;
    write_json(
        &dir.join("summary.json"),
        &json!({
            "source": src.display().to_string(),
            "provenance": v["provenance"],
            "scale": v["scale"],
            "verdict": v["report"]["verdict"],
            "evidence": v["report"]["evidence"],
            "basin_radius_inf": BASIN_RADIUS,
            "files": {
                "results.csv": "one row per landscape x dim x budget x method: success rate with Wilson 95% CI, median final gap f(x_T)-f* with order-statistics 95% CI",
                "comparisons.csv": "one row per landscape x dim x budget: best decreasing vs best constant (Newcombe 95% CI of the difference), primary pair poly:beta@shb vs constant@shb, best baseline"
            }
        }),
    )
}

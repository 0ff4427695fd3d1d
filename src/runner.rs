//! The runner: many seeds of one (landscape, noise law, optimizer, η, b, β, ν) in parallel, with
//! the instruments of the search-direction noise measured at the pre-update iterate x_t.
//!
//! Per step t (all seeds independent):
//! 1. ∇f(x_t) (and f(x_t) at measured steps) from the landscape;
//! 2. the mini-batch gradient g_t from the noise law;
//! 3. d_t and m_t from the optimizer's update rule (`Optimizer::with_rule`, the one
//!    implementation of each rule, which [`Optimizer::direction`] also uses);
//! 4. at measured steps (t ≥ burn-in, every k-th step — argmin-observer style), the instruments:
//!    ‖ω_t‖, ‖ω_t‖², cos∠(d_t, ∇f(x_t)), the conditional mean of ω_t given the past,
//!    E[ω_t | past] = (c_g − 1)∇f(x_t) + c_m m_{t−1} (exact for every unbiased law) and the
//!    random rest ω_t − E[ω_t | past] = c_g (g_t − ∇f(x_t)), f(x_t), ‖∇f(x_t)‖², C²(x_t);
//! 5. x_{t+1} = x_t − η d_t; a non-finite iterate marks the seed diverged at that step.
//!
//! Steps 3–5 run as one fused pass over the coordinates (`MeasuredStep`, `PlainStep`: four AVX
//! lanes, each sum in fixed lane order), with C²(x_t) evaluated before the pass overwrites x_t.
//!
//! Statistics: each seed contributes one time-average per instrument (over its measured steps);
//! seeds are independent, so the 95% confidence intervals are Student-t intervals over seeds.
//! Diverged seeds are counted and excluded, never averaged in.
//!
//! Determinism: seed i draws from `ChaCha8Rng::seed_from_u64(seed)` on stream i, seeds are
//! grouped in fixed chunks, and chunk results are merged in seed order, so the output is the
//! same bits whatever the number of rayon threads.

use std::sync::Arc;

use indicatif::ProgressBar;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::fastmath::{Lanes, F4};
use crate::landscape::Landscape;
use crate::noise::{NoiseLaw, NoiseScratch};
use crate::optimizer::{Optimizer, Rule, RuleVisitor};
use crate::stats::{Estimate, Welford};

/// Seeds per parallel work unit (fixed, so results do not depend on the thread count).
const CHUNK: usize = 8;
/// Most rows kept in the per-step series (measured steps are subsampled evenly beyond this).
pub const MAX_SERIES_ROWS: usize = 2000;
/// Most C²(x_t) evaluations per seed for laws whose C² varies with x (each can cost n gradients).
const MAX_C2_EVALS: usize = 64;

/// The per-step instruments, in series order.
pub const INSTRUMENTS: [&str; 8] = [
    "omega_norm",
    "omega_norm_sq",
    "cos_angle",
    "angle_deg",
    "omega_bias_sq",
    "omega_random_sq",
    "loss",
    "grad_norm_sq",
];
const N_INST: usize = INSTRUMENTS.len();

/// The uniform box the initial point x_0 is drawn from: x_0 ~ U([low, high]^d).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct InitBox {
    /// Lower end.
    pub low: f64,
    /// Upper end.
    pub high: f64,
}

impl InitBox {
    /// Draw x_0 ~ U([low, high]^d) from `rng` (the point mass `low` when low = high). Every
    /// simulation in the crate draws its start this way, so that seed i of any experiment
    /// starts where seed i of the runner starts.
    pub fn sample<R: Rng + ?Sized>(&self, d: usize, rng: &mut R) -> Vec<f64> {
        let (low, high) = (self.low, self.high);
        (0..d)
            .map(|_| {
                if high > low {
                    rng.random_range(low..high)
                } else {
                    low
                }
            })
            .collect()
    }
}

/// The generator of seed `index` of a run with base seed `seed`: ChaCha8 seeded with `seed`, on
/// stream `index`.
pub fn seed_rng(seed: u64, index: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index);
    rng
}

/// What is being optimized: a landscape, its noise law and the initial distribution.
#[derive(Clone)]
pub struct Problem {
    /// f.
    pub landscape: Arc<dyn Landscape>,
    /// The per-sample noise law.
    pub noise: NoiseLaw,
    /// x_0 ~ U([low, high]^d).
    pub init: InitBox,
}

impl Problem {
    /// The initial box is finite with low <= high, and the noise law fits the landscape.
    pub fn validate(&self) -> Result<()> {
        let InitBox { low, high } = self.init;
        if !(low.is_finite() && high.is_finite() && low <= high) {
            return Err(Error::invalid(
                "init",
                format!("[{low}, {high}]"),
                "finite low <= high",
            ));
        }
        self.noise.validate(self.landscape.as_ref())
    }
}

/// How to run it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RunConfig {
    /// Optimizer with η, β, ν.
    pub optimizer: Optimizer,
    /// Mini-batch size b ≥ 1.
    pub batch: usize,
    /// Steps T per seed.
    pub steps: usize,
    /// Steps excluded from the statistics at the start.
    pub burn_in: usize,
    /// Number of seeds S.
    pub seeds: usize,
    /// Base seed: seed i uses ChaCha8 stream i of this seed.
    pub seed: u64,
    /// Measure every k-th step after the burn-in.
    pub every: usize,
}

impl RunConfig {
    /// Validate against a problem; errors name the field and the allowed range.
    pub fn validate(&self, problem: &Problem) -> Result<()> {
        if self.batch == 0 {
            return Err(Error::invalid("batch", 0, "an integer >= 1"));
        }
        if let Some(fs) = problem.landscape.finite_sum() {
            if matches!(problem.noise, NoiseLaw::FiniteSum) && self.batch > fs.n_samples() {
                return Err(Error::invalid(
                    "batch",
                    self.batch,
                    format!(
                        "an integer in [1, n = {}] for this finite-sum landscape",
                        fs.n_samples()
                    ),
                ));
            }
        }
        if self.steps == 0 {
            return Err(Error::invalid("steps", 0, "an integer >= 1"));
        }
        if self.burn_in >= self.steps {
            return Err(Error::invalid(
                "burn-in",
                self.burn_in,
                format!(
                    "an integer in [0, steps = {}) so that some steps are measured",
                    self.steps
                ),
            ));
        }
        if self.seeds == 0 {
            return Err(Error::invalid("seeds", 0, "an integer >= 1"));
        }
        if self.every == 0 {
            return Err(Error::invalid("every", 0, "an integer >= 1"));
        }
        problem.validate()?;
        self.check_memory(problem.landscape.dim(), available_memory())
    }

    /// Bytes [`run`] allocates, estimated before anything is allocated: per worker thread the
    /// seed buffers (x, ∇f, g, m, m_{t−1}, d, x*, noise scratch: ≈ 10 d numbers) and one seed's
    /// series; per chunk of 8 seeds the per-step statistics (rows × instruments Welford
    /// accumulators) and the seed results; then the merged copies.
    pub fn memory_estimate(&self, dim: usize) -> u128 {
        let n_meas = (self.steps.saturating_sub(self.burn_in)).div_ceil(self.every.max(1));
        let stride = n_meas.div_ceil(MAX_SERIES_ROWS).max(1);
        let n_rows = n_meas.div_ceil(stride) as u128;
        let n_chunks = self.seeds.div_ceil(CHUNK) as u128;
        let workers = (rayon::current_num_threads() as u128).min(n_chunks).max(1);
        let f = std::mem::size_of::<f64>() as u128;
        let welford = std::mem::size_of::<Welford>() as u128;
        let seed_result = std::mem::size_of::<SeedResult>() as u128;
        let per_worker = 11 * dim as u128 * f + n_rows * N_INST as u128 * f;
        let rows = n_rows * N_INST as u128 * welford;
        workers * per_worker + (n_chunks + 1) * rows + 2 * self.seeds as u128 * seed_result
    }

    /// Refuse a run whose [`memory_estimate`](Self::memory_estimate) exceeds `available` bytes,
    /// naming the field to lower: `seeds` when the seeds dominate, else `dim`.
    pub fn check_memory(&self, dim: usize, available: Option<u64>) -> Result<()> {
        let Some(avail) = available else {
            return Ok(());
        };
        let need = self.memory_estimate(dim);
        if need <= avail as u128 {
            return Ok(());
        }
        let gib = |b: u128| b as f64 / (1u128 << 30) as f64;
        let one_seed = RunConfig { seeds: 1, ..*self }.memory_estimate(dim);
        if one_seed > avail as u128 {
            return Err(Error::invalid(
                "dim",
                dim,
                format!(
                    "a dimension whose run fits in the available memory ({:.1} GiB; this one needs about {:.1} GiB per thread)",
                    gib(avail as u128),
                    gib(one_seed)
                ),
            ));
        }
        // The estimate grows with the seeds: the largest count that fits, by bisection.
        let (mut lo, mut hi) = (1usize, self.seeds);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if (RunConfig {
                seeds: mid,
                ..*self
            })
            .memory_estimate(dim)
                <= avail as u128
            {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Err(Error::invalid(
            "seeds",
            self.seeds,
            format!(
                "an integer in [1, {lo}]: the run would need about {:.1} GiB, {:.1} GiB are available",
                gib(need),
                gib(avail as u128)
            ),
        ))
    }

    /// Number of measured steps per seed.
    pub fn measured_steps(&self) -> usize {
        (self.steps - self.burn_in).div_ceil(self.every)
    }
}

/// Memory the operating system can give this process now (`MemAvailable` of /proc/meminfo;
/// None where unknown, and then no run is refused for its size).
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// What one seed produced.
#[derive(Debug, Clone, Serialize)]
pub struct SeedResult {
    /// Seed index i (stream of the base seed).
    pub seed_index: usize,
    /// Step at which the iterate became non-finite, if it did.
    pub diverged_at: Option<usize>,
    /// Time-average of each instrument over the measured steps (order of [`INSTRUMENTS`]).
    pub means: [f64; N_INST],
    /// f(x_T).
    pub final_loss: f64,
    /// ‖∇f(x_T)‖.
    pub final_grad_norm: f64,
    /// ‖x_T − x*‖ where x* is known.
    pub final_dist: Option<f64>,
    /// Time-average of C²(x_t) over the steps where it was evaluated.
    pub c2_mean: f64,
    /// Largest C²(x_t) seen.
    pub c2_max: f64,
}

/// One row of the per-step series: statistics over seeds at step t.
#[derive(Debug, Clone)]
pub struct SeriesRow {
    /// Step t.
    pub step: usize,
    /// Over-seed statistics of each instrument (order of [`INSTRUMENTS`]).
    pub stats: [Welford; N_INST],
}

/// Everything a run measured.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// Per-seed results, in seed order (diverged seeds included, flagged).
    pub seeds: Vec<SeedResult>,
    /// Per-step series over the non-diverged seeds.
    pub series: Vec<SeriesRow>,
}

/// Summary statistics of a run, over the non-diverged seeds.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Seeds run.
    pub seeds: usize,
    /// Seeds whose iterate became non-finite (excluded from every statistic).
    pub diverged: usize,
    /// First divergence step among the diverged seeds.
    pub first_divergence_step: Option<usize>,
    /// E‖ω‖ over seeds and measured steps, with 95% CI over seeds.
    pub omega_norm: Estimate,
    /// E‖ω‖².
    pub omega_norm_sq: Estimate,
    /// E cos∠(d_t, ∇f(x_t)).
    pub cos_angle: Estimate,
    /// E ∠(d_t, ∇f(x_t)) in degrees.
    pub angle_deg: Estimate,
    /// E‖E[ω | past]‖², the bias part.
    pub omega_bias_sq: Estimate,
    /// E‖ω − E[ω | past]‖², the random part.
    pub omega_random_sq: Estimate,
    /// E f(x_t) over the measured steps.
    pub loss: Estimate,
    /// E‖∇f(x_t)‖² over the measured steps.
    pub grad_norm_sq: Estimate,
    /// f(x_T).
    pub final_loss: Estimate,
    /// ‖x_T − x*‖ where x* is known.
    pub final_dist: Option<Estimate>,
    /// K measured: √(max over measured steps t of the over-seed mean of ‖∇f(x_t)‖²).
    pub k: f64,
    /// C² used for predictions: the exact constant for constant-variance laws, else the largest
    /// C²(x_t) seen on any seed at the evaluated steps (at most 64 per seed, evenly spaced): a
    /// sup over the trajectories, as the paper's constant is.
    pub c2: f64,
    /// Over-seed mean of the time-averaged C²(x_t).
    pub c2_mean: f64,
}

/// Run every seed.
pub fn run(
    problem: &Problem,
    cfg: &RunConfig,
    progress: Option<&ProgressBar>,
) -> Result<RunResult> {
    cfg.validate(problem)?;
    let n_meas = cfg.measured_steps();
    let series_stride = n_meas.div_ceil(MAX_SERIES_ROWS).max(1);
    let n_rows = n_meas.div_ceil(series_stride);
    let n_chunks = cfg.seeds.div_ceil(CHUNK);
    let chunks: Vec<(Vec<SeedResult>, Vec<[Welford; N_INST]>)> = (0..n_chunks)
        .into_par_iter()
        .map(|c| {
            let mut sim = SeedSim::new(problem, cfg, series_stride, n_rows);
            let mut rows = vec![[Welford::new(); N_INST]; n_rows];
            let mut results = Vec::with_capacity(CHUNK);
            for i in c * CHUNK..((c + 1) * CHUNK).min(cfg.seeds) {
                let r = sim.run_seed(i);
                if r.diverged_at.is_none() {
                    for (row, vals) in rows.iter_mut().zip(sim.series.chunks_exact(N_INST)) {
                        for (w, v) in row.iter_mut().zip(vals) {
                            w.push(*v);
                        }
                    }
                }
                results.push(r);
                if let Some(p) = progress {
                    p.inc(1);
                }
            }
            (results, rows)
        })
        .collect();
    let mut seeds = Vec::with_capacity(cfg.seeds);
    let mut rows = vec![[Welford::new(); N_INST]; n_rows];
    for (res, chunk_rows) in chunks {
        seeds.extend(res);
        for (acc, r) in rows.iter_mut().zip(&chunk_rows) {
            for (a, w) in acc.iter_mut().zip(r) {
                a.merge(w);
            }
        }
    }
    let series = rows
        .into_iter()
        .enumerate()
        .map(|(j, stats)| SeriesRow {
            step: cfg.burn_in + j * series_stride * cfg.every,
            stats,
        })
        .collect();
    Ok(RunResult { seeds, series })
}

impl RunResult {
    /// Summaries over the non-diverged seeds.
    pub fn summarize(&self, problem: &Problem) -> Summary {
        let ok: Vec<&SeedResult> = self
            .seeds
            .iter()
            .filter(|s| s.diverged_at.is_none())
            .collect();
        let est = |f: &dyn Fn(&SeedResult) -> f64| {
            let mut w = Welford::new();
            ok.iter().for_each(|s| w.push(f(s)));
            w.estimate(0.95)
        };
        let inst = |j: usize| est(&|s: &SeedResult| s.means[j]);
        let k = self
            .series
            .iter()
            .map(|r| r.stats[7].mean())
            .filter(|v| v.is_finite())
            .fold(f64::NAN, f64::max)
            .sqrt();
        let c2_mean = est(&|s: &SeedResult| s.c2_mean).mean;
        let c2 = if problem.noise.constant_c2() {
            c2_mean
        } else {
            ok.iter().map(|s| s.c2_max).fold(f64::NAN, f64::max)
        };
        let final_dist = if ok.iter().all(|s| s.final_dist.is_some()) && !ok.is_empty() {
            Some(est(&|s: &SeedResult| s.final_dist.unwrap_or(f64::NAN)))
        } else {
            None
        };
        Summary {
            seeds: self.seeds.len(),
            diverged: self.seeds.len() - ok.len(),
            first_divergence_step: self.seeds.iter().filter_map(|s| s.diverged_at).min(),
            omega_norm: inst(0),
            omega_norm_sq: inst(1),
            cos_angle: inst(2),
            angle_deg: inst(3),
            omega_bias_sq: inst(4),
            omega_random_sq: inst(5),
            loss: inst(6),
            grad_norm_sq: inst(7),
            final_loss: est(&|s: &SeedResult| s.final_loss),
            final_dist,
            k,
            c2,
            c2_mean,
        }
    }
}

/// The fused step at a measured step t, one pass over the coordinates i: the update rule
/// (m_{t−1}, g_t) ↦ (m_t, d_t), the six instrument sums ‖ω‖², ⟨d, ∇f⟩, ‖d‖², ‖∇f‖²,
/// ‖E[ω|past]‖², ‖ω − E[ω|past]‖² (ω = d − ∇f, E[ω|past] = (c_g − 1)∇f + c_m m_{t−1}) and
/// x ← x − η d. Each sum is kept in four fixed lanes (coordinates i ≡ 0..3 mod 4, then the lanes
/// added pairwise), so the loop vectorises and the result is the same bits on every run. The
/// last value is the divergence probe Σ 0·x_{t+1} (0 for a finite iterate, NaN otherwise).
struct MeasuredStep<'a> {
    lr: f64,
    c_g: f64,
    c_m: f64,
    g: &'a [f64],
    grad: &'a [f64],
    m: &'a mut [f64],
    x: &'a mut [f64],
}

impl RuleVisitor for MeasuredStep<'_> {
    type Output = ([f64; 6], bool);

    #[inline(always)]
    fn visit<R: Rule>(self, rule: R) -> ([f64; 6], bool) {
        let MeasuredStep {
            lr,
            c_g,
            c_m,
            g,
            grad,
            m,
            x,
        } = self;
        let (g4, g_rest) = g.as_chunks::<4>();
        let (f4, f_rest) = grad.as_chunks::<4>();
        let (m4, m_rest) = m.as_chunks_mut::<4>();
        let (x4, x_rest) = x.as_chunks_mut::<4>();
        let zero = F4::splat(0.0);
        let (mut w2, mut dg, mut dd, mut gg, mut b2, mut r2) = (zero, zero, zero, zero, zero, zero);
        let mut probe = zero;
        let (cg1, cm, lr4) = (F4::splat(c_g - 1.0), F4::splat(c_m), F4::splat(lr));
        for (((gc, fc), mc), xc) in g4.iter().zip(f4).zip(m4.iter_mut()).zip(x4.iter_mut()) {
            let fi = F4::load(fc);
            let m_old = F4::load(mc);
            let (m_new, d) = rule.step(F4::load(gc), m_old);
            m_new.store(mc);
            let w = d - fi;
            let bias = cg1 * fi + cm * m_old;
            let r = w - bias;
            w2 = w2 + w * w;
            dg = dg + d * fi;
            dd = dd + d * d;
            gg = gg + fi * fi;
            b2 = b2 + bias * bias;
            r2 = r2 + r * r;
            let x_new = F4::load(xc) - lr4 * d;
            x_new.store(xc);
            probe = probe + zero * x_new;
        }
        let mut sums = [w2, dg, dd, gg, b2, r2].map(F4::to_array);
        let mut probe = probe.to_array();
        for (((gi, fi), mi), xi) in g_rest.iter().zip(f_rest).zip(m_rest).zip(x_rest) {
            let (m_new, di) = rule.step(*gi, *mi);
            let w = di - fi;
            let bias = (c_g - 1.0) * fi + c_m * *mi;
            let r = w - bias;
            *mi = m_new;
            for (a, v) in
                sums.iter_mut()
                    .zip([w * w, di * fi, di * di, fi * fi, bias * bias, r * r])
            {
                a[0] += v;
            }
            *xi -= lr * di;
            probe[0] += 0.0 * *xi;
        }
        let reduce = |l: [f64; 4]| (l[0] + l[1]) + (l[2] + l[3]);
        (sums.map(reduce), reduce(probe) == 0.0)
    }
}

/// The fused step between measured steps: (m_{t−1}, g_t) ↦ (m_t, d_t) and x ← x − η d in one
/// pass; returns whether every coordinate of x_{t+1} is finite (probe Σ 0·x in four lanes).
struct PlainStep<'a> {
    lr: f64,
    g: &'a [f64],
    m: &'a mut [f64],
    x: &'a mut [f64],
}

impl RuleVisitor for PlainStep<'_> {
    type Output = bool;

    #[inline(always)]
    fn visit<R: Rule>(self, rule: R) -> bool {
        let PlainStep { lr, g, m, x } = self;
        let (g4, g_rest) = g.as_chunks::<4>();
        let (m4, m_rest) = m.as_chunks_mut::<4>();
        let (x4, x_rest) = x.as_chunks_mut::<4>();
        let zero = F4::splat(0.0);
        let lr4 = F4::splat(lr);
        let mut probe = zero;
        for ((gc, mc), xc) in g4.iter().zip(m4.iter_mut()).zip(x4.iter_mut()) {
            let (m_new, d) = rule.step(F4::load(gc), F4::load(mc));
            m_new.store(mc);
            let x_new = F4::load(xc) - lr4 * d;
            x_new.store(xc);
            probe = probe + zero * x_new;
        }
        let mut probe = probe.to_array();
        for ((gi, mi), xi) in g_rest.iter().zip(m_rest).zip(x_rest) {
            let (m_new, di) = rule.step(*gi, *mi);
            *mi = m_new;
            *xi -= lr * di;
            probe[0] += 0.0 * *xi;
        }
        (probe[0] + probe[1]) + (probe[2] + probe[3]) == 0.0
    }
}

/// Buffers for simulating one seed at a time (reused across the seeds of a chunk).
struct SeedSim<'a> {
    problem: &'a Problem,
    cfg: &'a RunConfig,
    x: Vec<f64>,
    grad: Vec<f64>,
    g: Vec<f64>,
    m: Vec<f64>,
    scratch: NoiseScratch,
    series_stride: usize,
    /// Row-major n_rows × N_INST values of the current seed.
    series: Vec<f64>,
    minimizer: Option<Vec<f64>>,
}

impl<'a> SeedSim<'a> {
    fn new(problem: &'a Problem, cfg: &'a RunConfig, series_stride: usize, n_rows: usize) -> Self {
        let d = problem.landscape.dim();
        Self {
            problem,
            cfg,
            x: vec![0.0; d],
            grad: vec![0.0; d],
            g: vec![0.0; d],
            m: vec![0.0; d],
            scratch: NoiseScratch::new(d),
            series_stride,
            series: vec![f64::NAN; n_rows * N_INST],
            minimizer: problem.landscape.global_minimum().map(|(x, _)| x),
        }
    }

    fn run_seed(&mut self, index: usize) -> SeedResult {
        let (problem, cfg) = (self.problem, self.cfg);
        let land = problem.landscape.as_ref();
        let opt = &cfg.optimizer;
        let coef = opt.coefficients();
        let mut rng = seed_rng(cfg.seed, index as u64);
        self.x = problem.init.sample(self.x.len(), &mut rng);
        self.m.iter_mut().for_each(|v| *v = 0.0);
        let n_meas = cfg.measured_steps();
        let c2_stride = n_meas.div_ceil(MAX_C2_EVALS).max(1);
        let constant_c2 = problem.noise.constant_c2();
        let finite_sum = matches!(problem.noise, NoiseLaw::FiniteSum);
        let mut sums = [0.0; N_INST];
        let mut c2_sum = 0.0;
        let mut c2_n = 0usize;
        let mut c2_max = f64::NEG_INFINITY;
        let mut diverged_at = None;
        for t in 0..cfg.steps {
            let measure = t >= cfg.burn_in && (t - cfg.burn_in) % cfg.every == 0;
            let loss = if measure {
                land.value_gradient(&self.x, &mut self.grad)
            } else {
                // The finite-sum law builds g_t from per-sample gradients and never reads ∇f:
                // between measured steps the full gradient (n per-sample gradients) is skipped.
                if !finite_sum {
                    land.gradient(&self.x, &mut self.grad);
                }
                0.0
            };
            problem.noise.sample_minibatch(
                land,
                &self.x,
                &self.grad,
                cfg.batch,
                &mut rng,
                &mut self.scratch,
                &mut self.g,
            );
            if !measure {
                let finite = opt.with_rule(PlainStep {
                    lr: opt.lr,
                    g: &self.g,
                    m: &mut self.m,
                    x: &mut self.x,
                });
                if !finite {
                    diverged_at = Some(t);
                    break;
                }
                continue;
            }
            let j = (t - cfg.burn_in) / cfg.every;
            // C²(x_t) reads x_t, which the fused step below overwrites: evaluated first, counted
            // only if the step's instruments are finite.
            let c2 = if !constant_c2 && j % c2_stride != 0 {
                // C²(x) of this law varies with x and may cost n gradients: evaluated on a
                // coarser schedule.
                None
            } else if !constant_c2 || c2_n == 0 {
                Some(problem.noise.c2(land, &self.x, &self.grad))
            } else {
                None
            };
            let ([w2, dg, dd, gg, b2, r2], finite) = opt.with_rule(MeasuredStep {
                lr: opt.lr,
                c_g: coef.c_g,
                c_m: coef.c_m,
                g: &self.g,
                grad: &self.grad,
                m: &mut self.m,
                x: &mut self.x,
            });
            if !(loss.is_finite() && w2.is_finite() && gg.is_finite()) {
                // A non-finite loss, gradient or direction at a finite iterate (overflow):
                // the seed diverged at this step.
                diverged_at = Some(t);
                break;
            }
            let cos = dg / (dd.sqrt() * gg.sqrt());
            let vals = [
                w2.sqrt(),
                w2,
                cos,
                cos.clamp(-1.0, 1.0).acos().to_degrees(),
                b2,
                r2,
                loss,
                gg,
            ];
            for (s, v) in sums.iter_mut().zip(&vals) {
                *s += v;
            }
            if j % self.series_stride == 0 {
                let row = j / self.series_stride;
                self.series[row * N_INST..(row + 1) * N_INST].copy_from_slice(&vals);
            }
            if let Some(c2) = c2 {
                c2_sum += c2;
                c2_n += 1;
                c2_max = c2_max.max(c2);
            }
            if !finite {
                diverged_at = Some(t);
                break;
            }
        }
        let final_loss = if diverged_at.is_none() {
            land.value_gradient(&self.x, &mut self.grad)
        } else {
            f64::NAN
        };
        if diverged_at.is_none() && !final_loss.is_finite() {
            // f(x_T) overflows at a finite x_T: diverged after the last step.
            diverged_at = Some(cfg.steps);
        }
        let (final_loss, final_grad_norm, final_dist) = if diverged_at.is_none() {
            let dist = self.minimizer.as_ref().map(|xs| {
                xs.iter()
                    .zip(&self.x)
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f64>()
                    .sqrt()
            });
            (
                final_loss,
                self.grad.iter().map(|v| v * v).sum::<f64>().sqrt(),
                dist,
            )
        } else {
            (f64::NAN, f64::NAN, None)
        };
        let nm = n_meas as f64;
        SeedResult {
            seed_index: index,
            diverged_at,
            means: sums.map(|s| s / nm),
            final_loss,
            final_grad_norm,
            final_dist,
            c2_mean: c2_sum / c2_n.max(1) as f64,
            c2_max,
        }
    }
}

//! Critical batch size (claims C7, C8): SFO sweeps N(b) = b·T(b), the critical batch size b*
//! with a bootstrap interval over seeds, and the per-sample gradient variance C² three ways —
//! the paper's back-solve C² < b*ε²/(η·factor), direct measurement at fixed x along the
//! trajectory, and the gradient noise scale of McCandlish et al. from two batch sizes — against
//! the exact C² of the landscape's noise law (theory.md §5).
//!
//! | piece | function |
//! |---|---|
//! | hitting times T(b) of ε under a stopping rule, every (ε, b, seed) | [`sweep`] |
//! | median SFO per b, censoring, b* (grid argmin refined by a parabola in log b) | [`analyze`], [`critical_batch`] |
//! | bootstrap over seeds: b* intervals, exponent of b* ∝ ε^k | [`bootstrap`], [`fit_exponent`] |
//! | C² direct, B_simple, (A2) along trajectories | [`probe`] |
//! | claim experiments | [`c7_variance_backsolve`], [`c8_eps_scaling`] |
//!
//! **Stopping rules.** `running-mean` is the authors': the running mean, since step 0 (never
//! reset), of the mini-batch gradient norms ‖g_s‖, checked from step `warmup` on; it fires at
//! step t when (1/(t+1)) Σ_{s≤t} ‖g_s‖ ≤ ε, and T = t + 1 mini-batch gradients were used.
//! `full-gradient` fires at the first t ≥ warmup with t ≡ 0 (mod k) and ‖∇f(x_t)‖ ≤ ε;
//! T = t (x_t is reached after t updates). A run that has not fired after `max_steps` steps is
//! **censored** (its T is only known to exceed `max_steps`); a run whose iterate becomes
//! non-finite is censored too and flagged as diverged. Neither is dropped: the median over seeds
//! treats them as +∞, which is exact for the median as long as fewer than half are censored, and
//! makes N(b) = +∞ (reported, never plotted as a number) otherwise.
//!
//! **One trajectory serves every ε.** The stopping time of each ε is a function of the same
//! trajectory, so a run continues until the smallest ε has fired (or `max_steps`) and records
//! the first hitting step of every ε on the way.
//!
//! **Seeds.** Seed i of every batch size draws from `runner::seed_rng(seed, i)` and starts from
//! `InitBox::sample` on it (common random numbers across b). Work units are (b, chunk of 8
//! seeds), collected in order: the same bits for any number of threads.

use std::sync::Arc;

use rand::Rng;
use rayon::prelude::*;
use serde::Serialize;
use serde_json::json;

use crate::error::{Error, Result};
use crate::experiments::{ClaimReport, Scale, Verdict};
use crate::landscape::{Quadratic, TeacherStudent};
use crate::noise::{NoiseLaw, NoiseScratch};
use crate::optimizer::{Optimizer, OptimizerKind};
use crate::runner::{seed_rng, InitBox, Problem};
use crate::stats::{t_quantile, Estimate, Welford};
use crate::theory;

/// Base seed of every run in this module.
pub const SEED: u64 = 20_240_705;
/// Seeds per parallel work unit.
const CHUNK: usize = 8;
/// Stream offset of the probe's measurement draws (kept apart from the trajectory's streams).
const PROBE_STREAM: u64 = 1 << 40;
/// Stream offset of the bootstrap's resampling generator.
const BOOT_STREAM: u64 = 1 << 41;

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

/// When a run counts as having reached ε.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopRule {
    /// The authors': running mean since step 0 of ‖g_t‖ ≤ ε, after the warm-up.
    RunningMean,
    /// The true one: ‖∇f(x_t)‖ ≤ ε, evaluated every k steps after the warm-up.
    FullGradient,
}

impl StopRule {
    /// Both rules.
    pub const ALL: [StopRule; 2] = [StopRule::RunningMean, StopRule::FullGradient];

    /// Name as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            StopRule::RunningMean => "running-mean",
            StopRule::FullGradient => "full-gradient",
        }
    }

    /// Parse a name; the error names the allowed values.
    pub fn parse(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| Error::invalid("rule", s, "one of running-mean, full-gradient"))
    }
}

/// An SFO sweep: one optimizer, several batch sizes and thresholds, many seeds.
#[derive(Debug, Clone, Serialize)]
pub struct SweepConfig {
    /// Optimizer with η, β, ν.
    pub optimizer: Optimizer,
    /// Batch sizes b (increasing).
    pub batches: Vec<usize>,
    /// Thresholds ε (any order).
    pub eps: Vec<f64>,
    /// Stopping rule.
    pub rule: StopRule,
    /// The rule is checked from this step on.
    pub warmup: usize,
    /// The full-gradient rule is checked every k-th step.
    pub check_every: usize,
    /// Steps after which a run that has not fired is censored.
    pub max_steps: usize,
    /// Seeds S per batch size.
    pub seeds: usize,
    /// Base seed.
    pub seed: u64,
}

/// The default batch sizes: 2^0, …, 2^12.
pub fn default_batches() -> Vec<usize> {
    (0..13).map(|k| 1usize << k).collect()
}

impl SweepConfig {
    /// Validate against a problem; errors name the field and the allowed values.
    pub fn validate(&self, problem: &Problem) -> Result<()> {
        if self.batches.len() < 2 {
            return Err(Error::invalid(
                "batches",
                format!("{:?}", self.batches),
                "at least two batch sizes",
            ));
        }
        if self.batches.contains(&0) || self.batches.windows(2).any(|w| w[0] >= w[1]) {
            return Err(Error::invalid(
                "batches",
                format!("{:?}", self.batches),
                "strictly increasing integers >= 1",
            ));
        }
        if let Some(fs) = problem.landscape.finite_sum() {
            let n = fs.n_samples();
            if let Some(b) = self.batches.iter().find(|&&b| b > n) {
                return Err(Error::invalid(
                    "batches",
                    b,
                    format!("integers in [1, n = {n}] for this finite-sum landscape"),
                ));
            }
        }
        if self.eps.is_empty() {
            return Err(Error::invalid("eps", "[]", "one or more numbers > 0"));
        }
        if let Some(e) = self.eps.iter().find(|e| !(e.is_finite() && **e > 0.0)) {
            return Err(Error::invalid("eps", e, "finite numbers > 0"));
        }
        if self.seeds < 2 {
            return Err(Error::invalid("seeds", self.seeds, "an integer >= 2"));
        }
        if self.max_steps == 0 {
            return Err(Error::invalid("max-steps", 0, "an integer >= 1"));
        }
        if self.warmup >= self.max_steps {
            return Err(Error::invalid(
                "warmup",
                self.warmup,
                format!("an integer in [0, max-steps = {})", self.max_steps),
            ));
        }
        if self.check_every == 0 {
            return Err(Error::invalid("check-every", 0, "an integer >= 1"));
        }
        problem.validate()
    }
}

// ---------------------------------------------------------------------------------------------
// The sweep
// ---------------------------------------------------------------------------------------------

/// Hitting times of one sweep.
#[derive(Debug, Clone, Serialize)]
pub struct SweepRuns {
    /// Batch sizes, as configured.
    pub batches: Vec<usize>,
    /// Thresholds, as configured.
    pub eps: Vec<f64>,
    /// `times[e][j][i]`: steps T of seed i at batch `batches[j]` to reach `eps[e]`;
    /// `None` = censored (not reached within `max_steps`, or diverged).
    pub times: Vec<Vec<Vec<Option<usize>>>>,
    /// `diverged[j][i]`: the iterate of seed i at batch j became non-finite.
    pub diverged: Vec<Vec<bool>>,
    /// Steps simulated in all, over every run (for throughput).
    pub steps_simulated: u64,
    /// The censoring horizon.
    pub max_steps: usize,
}

/// Scratch buffers for one seed at a time.
struct Buffers {
    x: Vec<f64>,
    grad: Vec<f64>,
    g: Vec<f64>,
    m: Vec<f64>,
    d: Vec<f64>,
    scratch: NoiseScratch,
}

impl Buffers {
    fn new(d: usize) -> Self {
        Self {
            x: vec![0.0; d],
            grad: vec![0.0; d],
            g: vec![0.0; d],
            m: vec![0.0; d],
            d: vec![0.0; d],
            scratch: NoiseScratch::new(d),
        }
    }
}

fn norm(v: &[f64]) -> f64 {
    let mut lanes = [0.0f64; 4];
    let (c4, rest) = v.as_chunks::<4>();
    for c in c4 {
        for k in 0..4 {
            lanes[k] += c[k] * c[k];
        }
    }
    let mut s = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    for x in rest {
        s += x * x;
    }
    s.sqrt()
}

/// One seed at one batch size: the first hitting step of every ε (`order` lists the ε indices
/// from the largest ε to the smallest), whether it diverged, and the steps simulated.
#[allow(clippy::too_many_arguments)] // plain values of one sweep; bundling costs clarity
fn run_one(
    problem: &Problem,
    cfg: &SweepConfig,
    batch: usize,
    order: &[usize],
    index: usize,
    buf: &mut Buffers,
) -> (Vec<Option<usize>>, bool, u64) {
    let land = problem.landscape.as_ref();
    let opt = &cfg.optimizer;
    let mut rng = seed_rng(cfg.seed, index as u64);
    buf.x = problem.init.sample(land.dim(), &mut rng);
    buf.m.iter_mut().for_each(|v| *v = 0.0);
    let mut hit = vec![None; cfg.eps.len()];
    let mut next = 0usize; // position in `order` of the largest ε not yet reached
    let finite_sum = matches!(problem.noise, NoiseLaw::FiniteSum);
    let full_rule = cfg.rule == StopRule::FullGradient;
    let mut sum_norm = 0.0;
    let mut t = 0usize;
    while t < cfg.max_steps {
        let check = t >= cfg.warmup && (!full_rule || t.is_multiple_of(cfg.check_every));
        // ∇f(x_t): needed by every law but the finite-sum one (which builds g_t from per-sample
        // gradients), and by the full-gradient rule at its check steps.
        if !finite_sum || (full_rule && check) {
            land.gradient(&buf.x, &mut buf.grad);
        }
        if full_rule && check {
            let gn = norm(&buf.grad);
            while next < order.len() && gn <= cfg.eps[order[next]] {
                hit[order[next]] = Some(t);
                next += 1;
            }
            if next == order.len() {
                return (hit, false, t as u64);
            }
        }
        problem.noise.sample_minibatch(
            land,
            &buf.x,
            &buf.grad,
            batch,
            &mut rng,
            &mut buf.scratch,
            &mut buf.g,
        );
        if !full_rule {
            sum_norm += norm(&buf.g);
            if check {
                let mean = sum_norm / (t + 1) as f64;
                while next < order.len() && mean <= cfg.eps[order[next]] {
                    hit[order[next]] = Some(t + 1);
                    next += 1;
                }
                if next == order.len() {
                    return (hit, false, (t + 1) as u64);
                }
            }
        }
        opt.direction(&buf.g, &mut buf.m, &mut buf.d);
        let lr = opt.lr;
        let mut probe = 0.0;
        for (xi, di) in buf.x.iter_mut().zip(&buf.d) {
            *xi -= lr * di;
            probe += 0.0 * *xi;
        }
        if probe != 0.0 {
            return (hit, true, (t + 1) as u64);
        }
        t += 1;
    }
    (hit, false, t as u64)
}

/// Run the sweep: every (b, seed), each until every ε has fired or `max_steps`.
pub fn sweep(problem: &Problem, cfg: &SweepConfig) -> Result<SweepRuns> {
    cfg.validate(problem)?;
    let mut order: Vec<usize> = (0..cfg.eps.len()).collect();
    order.sort_by(|&a, &b| cfg.eps[b].total_cmp(&cfg.eps[a]));
    let n_chunks = cfg.seeds.div_ceil(CHUNK);
    let units: Vec<(usize, usize)> = (0..cfg.batches.len())
        .flat_map(|j| (0..n_chunks).map(move |c| (j, c)))
        .collect();
    let d = problem.landscape.dim();
    type Unit = Vec<(Vec<Option<usize>>, bool, u64)>;
    let results: Vec<Unit> = units
        .par_iter()
        .map(|&(j, c)| {
            let mut buf = Buffers::new(d);
            (c * CHUNK..((c + 1) * CHUNK).min(cfg.seeds))
                .map(|i| run_one(problem, cfg, cfg.batches[j], &order, i, &mut buf))
                .collect()
        })
        .collect();
    let nb = cfg.batches.len();
    let mut times = vec![vec![Vec::with_capacity(cfg.seeds); nb]; cfg.eps.len()];
    let mut diverged = vec![Vec::with_capacity(cfg.seeds); nb];
    let mut steps_simulated = 0u64;
    for ((j, _), unit) in units.iter().zip(results) {
        for (hit, div, steps) in unit {
            for (e, h) in hit.into_iter().enumerate() {
                times[e][*j].push(h);
            }
            diverged[*j].push(div);
            steps_simulated += steps;
        }
    }
    Ok(SweepRuns {
        batches: cfg.batches.clone(),
        eps: cfg.eps.clone(),
        times,
        diverged,
        steps_simulated,
        max_steps: cfg.max_steps,
    })
}

// ---------------------------------------------------------------------------------------------
// Medians, b*, bootstrap
// ---------------------------------------------------------------------------------------------

/// Censored value as +∞.
fn as_f64(t: Option<usize>) -> f64 {
    t.map(|v| v as f64).unwrap_or(f64::INFINITY)
}

/// Quantile (type 7, linear interpolation) of sorted values that may end in +∞; +∞ when the
/// interpolation touches a censored value.
fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let h = q * (sorted.len() - 1) as f64;
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    let (a, b) = (sorted[lo], sorted[hi]);
    if lo == hi {
        a
    } else if a.is_infinite() || b.is_infinite() {
        f64::INFINITY
    } else {
        a + (h - lo as f64) * (b - a)
    }
}

/// The critical batch size read off a curve N(b).
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct BStar {
    /// b*: the vertex of the parabola through (log b, log N) at the grid minimum and its two
    /// neighbours (clamped to them); the grid value where the minimum is at an end.
    pub value: f64,
    /// The grid b with the smallest N(b).
    pub grid: usize,
    /// The minimum is at the smallest or largest b (b* is then only a bound).
    pub at_edge: bool,
}

/// b* from median SFO values per batch size (+∞ = censored). `None` when every N is +∞.
pub fn critical_batch(batches: &[usize], sfo: &[f64]) -> Option<BStar> {
    let (j, &nmin) = sfo
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .min_by(|a, b| a.1.total_cmp(b.1))?;
    let n = batches.len();
    if j == 0 || j + 1 == n || !sfo[j - 1].is_finite() || !sfo[j + 1].is_finite() {
        let at_edge = j == 0 || j + 1 == n;
        return Some(BStar {
            value: batches[j] as f64,
            grid: batches[j],
            at_edge,
        });
    }
    let xs = [j - 1, j, j + 1].map(|k| (batches[k] as f64).ln());
    let ys = [sfo[j - 1].ln(), nmin.ln(), sfo[j + 1].ln()];
    // Vertex of the parabola through three points (unequal spacing allowed).
    let d1 = (ys[1] - ys[0]) / (xs[1] - xs[0]);
    let d2 = (ys[2] - ys[1]) / (xs[2] - xs[1]);
    let a = (d2 - d1) / (xs[2] - xs[0]);
    let vertex = if a > 0.0 {
        0.5 * (xs[0] + xs[1]) - d1 / (2.0 * a)
    } else {
        xs[1]
    };
    Some(BStar {
        value: vertex.clamp(xs[0], xs[2]).exp(),
        grid: batches[j],
        at_edge: false,
    })
}

/// The SFO curve of one ε.
#[derive(Debug, Clone, Serialize)]
pub struct SfoCurve {
    /// ε.
    pub eps: f64,
    /// One row per batch size.
    pub rows: Vec<SfoRow>,
    /// b* from the median curve.
    pub b_star: Option<BStar>,
    /// Bootstrap 95% percentile interval of b* (NaN ends when over 2.5% of the replicates
    /// have no finite b*).
    pub b_star_ci95: [f64; 2],
    /// Censoring cannot have moved b*: every b whose median T is censored has
    /// b·max_steps ≥ N(b*), so its true N(b) exceeds the minimum whatever its T.
    pub censoring_safe: bool,
}

/// N(b) = b·T(b) over seeds at one (ε, b).
#[derive(Debug, Clone, Serialize)]
pub struct SfoRow {
    /// b.
    pub batch: usize,
    /// Median T over seeds (+∞ when half or more are censored).
    pub steps_median: f64,
    /// b × median T.
    pub sfo_median: f64,
    /// b × the 25% and 75% quantiles of T.
    pub sfo_q25: f64,
    /// b × the 75% quantile.
    pub sfo_q75: f64,
    /// b × the smallest T.
    pub sfo_min: f64,
    /// b × the largest T (+∞ when any run is censored).
    pub sfo_max: f64,
    /// Bootstrap 95% interval of b × median T.
    pub sfo_median_ci95: [f64; 2],
    /// Runs that did not reach ε (diverged included).
    pub censored: usize,
    /// Runs whose iterate became non-finite.
    pub diverged: usize,
    /// Seeds.
    pub seeds: usize,
}

/// Median SFO of resampled seeds `idx` at batch index j of ε index e.
fn median_sfo(runs: &SweepRuns, e: usize, j: usize, idx: &[usize], tmp: &mut Vec<f64>) -> f64 {
    tmp.clear();
    tmp.extend(idx.iter().map(|&i| as_f64(runs.times[e][j][i])));
    tmp.sort_by(f64::total_cmp);
    runs.batches[j] as f64 * quantile_sorted(tmp, 0.5)
}

/// Bootstrap replicates over seeds (the same resampled seed indices for every b and ε: runs at
/// different b share seed i's start and stream). `reps[r][e]` = b* of replicate r at ε index e
/// (NaN where every N is +∞), and `sfo[r][e][j]` the replicate's median SFO.
#[derive(Debug, Clone)]
pub struct Bootstrap {
    /// b* per replicate and ε.
    pub b_star: Vec<Vec<f64>>,
    /// Median SFO per replicate, ε and b.
    pub sfo: Vec<Vec<Vec<f64>>>,
}

/// `reps` bootstrap replicates, resampling seeds with replacement from the generator
/// `seed_rng(seed, BOOT_STREAM)`.
pub fn bootstrap(runs: &SweepRuns, reps: usize, seed: u64) -> Bootstrap {
    let n = runs
        .times
        .first()
        .and_then(|t| t.first())
        .map_or(0, Vec::len);
    let mut rng = seed_rng(seed, BOOT_STREAM);
    let resamples: Vec<Vec<usize>> = (0..reps)
        .map(|_| (0..n).map(|_| rng.random_range(0..n.max(1))).collect())
        .collect();
    let per: Vec<(Vec<f64>, Vec<Vec<f64>>)> = resamples
        .par_iter()
        .map(|idx| {
            let mut tmp = Vec::with_capacity(n);
            let mut bs = Vec::with_capacity(runs.eps.len());
            let mut sf = Vec::with_capacity(runs.eps.len());
            for e in 0..runs.eps.len() {
                let curve: Vec<f64> = (0..runs.batches.len())
                    .map(|j| median_sfo(runs, e, j, idx, &mut tmp))
                    .collect();
                bs.push(critical_batch(&runs.batches, &curve).map_or(f64::NAN, |b| b.value));
                sf.push(curve);
            }
            (bs, sf)
        })
        .collect();
    let (b_star, sfo) = per.into_iter().unzip();
    Bootstrap { b_star, sfo }
}

/// Percentile interval (2.5%, 97.5%) of replicates, NaN-free values only; NaN ends when fewer
/// than 97.5% of the replicates are finite.
pub fn percentile_ci(values: impl Iterator<Item = f64>) -> [f64; 2] {
    let all: Vec<f64> = values.collect();
    let mut v: Vec<f64> = all.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() || (v.len() as f64) < 0.975 * all.len() as f64 {
        return [f64::NAN, f64::NAN];
    }
    v.sort_by(f64::total_cmp);
    [quantile_sorted(&v, 0.025), quantile_sorted(&v, 0.975)]
}

/// The SFO curves of a sweep, with bootstrap intervals.
pub fn analyze(runs: &SweepRuns, boot: &Bootstrap) -> Vec<SfoCurve> {
    let n = runs.diverged.first().map_or(0, Vec::len);
    let all: Vec<usize> = (0..n).collect();
    let mut tmp = Vec::with_capacity(n);
    (0..runs.eps.len())
        .map(|e| {
            let rows: Vec<SfoRow> = runs
                .batches
                .iter()
                .enumerate()
                .map(|(j, &b)| {
                    let bf = b as f64;
                    tmp.clear();
                    tmp.extend(runs.times[e][j].iter().map(|&t| as_f64(t)));
                    tmp.sort_by(f64::total_cmp);
                    let med = quantile_sorted(&tmp, 0.5);
                    SfoRow {
                        batch: b,
                        steps_median: med,
                        sfo_median: bf * med,
                        sfo_q25: bf * quantile_sorted(&tmp, 0.25),
                        sfo_q75: bf * quantile_sorted(&tmp, 0.75),
                        sfo_min: bf * tmp[0],
                        sfo_max: bf * tmp[tmp.len() - 1],
                        sfo_median_ci95: ci_with_inf(boot.sfo.iter().map(|r| r[e][j])),
                        censored: runs.times[e][j].iter().filter(|t| t.is_none()).count(),
                        diverged: runs.diverged[j].iter().filter(|&&d| d).count(),
                        seeds: n,
                    }
                })
                .collect();
            let curve: Vec<f64> = (0..runs.batches.len())
                .map(|j| median_sfo(runs, e, j, &all, &mut tmp))
                .collect();
            let b_star = critical_batch(&runs.batches, &curve);
            let nmin = curve.iter().copied().fold(f64::INFINITY, f64::min);
            let censoring_safe = runs
                .batches
                .iter()
                .zip(&curve)
                .filter(|(_, n)| n.is_infinite())
                .all(|(&b, _)| b as f64 * runs.max_steps as f64 >= nmin);
            SfoCurve {
                eps: runs.eps[e],
                b_star,
                b_star_ci95: percentile_ci(boot.b_star.iter().map(|r| r[e])),
                censoring_safe,
                rows,
            }
        })
        .collect()
}

/// Percentile interval of replicates that may be +∞ (kept: an infinite end means the median is
/// censored in over 2.5% of the replicates).
fn ci_with_inf(values: impl Iterator<Item = f64>) -> [f64; 2] {
    let mut v: Vec<f64> = values.filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return [f64::NAN, f64::NAN];
    }
    v.sort_by(f64::total_cmp);
    [quantile_sorted(&v, 0.025), quantile_sorted(&v, 0.975)]
}

/// Least-squares slope and intercept of y on x.
fn ols(x: &[f64], y: &[f64]) -> Option<(f64, f64, f64)> {
    let n = x.len();
    if n < 2 {
        return None;
    }
    let mx = x.iter().sum::<f64>() / n as f64;
    let my = y.iter().sum::<f64>() / n as f64;
    let sxx: f64 = x.iter().map(|a| (a - mx) * (a - mx)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let slope = sxy / sxx;
    let icpt = my - slope * mx;
    let rss: f64 = x
        .iter()
        .zip(y)
        .map(|(a, b)| (b - icpt - slope * a).powi(2))
        .sum();
    let se = if n > 2 {
        (rss / (n - 2) as f64 / sxx).sqrt()
    } else {
        f64::NAN
    };
    Some((slope, icpt, se))
}

/// The fit log b* = a + k log ε.
#[derive(Debug, Clone, Serialize)]
pub struct ExponentFit {
    /// k from the point estimates of b*.
    pub exponent: f64,
    /// Bootstrap 95% interval of k (seeds resampled, b* and the fit recomputed per replicate).
    pub exponent_ci95: [f64; 2],
    /// Student-t 95% interval of the OLS slope from the residuals (ignores the b* noise model).
    pub exponent_ols_ci95: [f64; 2],
    /// a (b* at ε = 1 is e^a).
    pub intercept: f64,
    /// Points used: ε with a finite b* not at the grid's edge.
    pub eps_used: Vec<f64>,
    /// Whether −2 (the paper's b* ∝ 1/ε²) lies in the bootstrap interval.
    pub paper_exponent_in_ci: bool,
}

/// Fit the exponent of b* ∝ ε^k over the ε whose b* is interior to the grid.
pub fn fit_exponent(curves: &[SfoCurve], boot: &Bootstrap) -> Option<ExponentFit> {
    let used: Vec<usize> = curves
        .iter()
        .enumerate()
        .filter(|(_, c)| c.b_star.is_some_and(|b| !b.at_edge))
        .map(|(e, _)| e)
        .collect();
    let x: Vec<f64> = used.iter().map(|&e| curves[e].eps.ln()).collect();
    let y: Vec<f64> = used
        .iter()
        .filter_map(|&e| curves[e].b_star.map(|b| b.value.ln()))
        .collect();
    let (k, a, se) = ols(&x, &y)?;
    let half = if used.len() > 2 {
        t_quantile(0.975, (used.len() - 2) as f64) * se
    } else {
        f64::NAN
    };
    let slopes = boot.b_star.iter().map(|rep| {
        let ys: Vec<f64> = used.iter().map(|&e| rep[e].ln()).collect();
        if ys.iter().all(|v| v.is_finite()) {
            ols(&x, &ys).map_or(f64::NAN, |f| f.0)
        } else {
            f64::NAN
        }
    });
    let ci = percentile_ci(slopes);
    Some(ExponentFit {
        exponent: k,
        exponent_ci95: ci,
        exponent_ols_ci95: [k - half, k + half],
        intercept: a,
        eps_used: used.iter().map(|&e| curves[e].eps).collect(),
        paper_exponent_in_ci: ci[0] <= -2.0 && -2.0 <= ci[1],
    })
}

// ---------------------------------------------------------------------------------------------
// The variance three ways, and (A2)
// ---------------------------------------------------------------------------------------------

/// What the probe does: run `seeds` trajectories at batch `batch` for `steps` steps and, at
/// `checkpoints` log-spaced steps (0 included), freeze x_t and measure C²(x_t) directly from
/// `pairs` pairs of independent per-sample gradients, and the McCandlish estimators from
/// `bs_draws` pairs of mini-batches of sizes `b_small` < `b_big`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ProbeConfig {
    /// Optimizer driving the trajectory.
    pub optimizer: Optimizer,
    /// Batch size of the trajectory.
    pub batch: usize,
    /// Steps of each trajectory.
    pub steps: usize,
    /// Number of checkpoints.
    pub checkpoints: usize,
    /// Trajectories.
    pub seeds: usize,
    /// Pairs of per-sample gradients per checkpoint (direct estimate).
    pub pairs: usize,
    /// (small, big) mini-batch pairs per checkpoint (B_simple).
    pub bs_draws: usize,
    /// B_small.
    pub b_small: usize,
    /// B_big.
    pub b_big: usize,
    /// Base seed (trajectory i uses stream i; its measurement draws stream PROBE_STREAM + i).
    pub seed: u64,
}

impl ProbeConfig {
    /// Defaults for a trajectory at batch `batch` of `steps` steps.
    pub fn new(optimizer: Optimizer, batch: usize, steps: usize, seed: u64) -> Self {
        Self {
            optimizer,
            batch,
            steps,
            checkpoints: 12,
            seeds: 16,
            pairs: 64,
            bs_draws: 64,
            b_small: 1,
            b_big: 64,
            seed,
        }
    }

    fn validate(&self, problem: &Problem) -> Result<()> {
        if self.batch == 0 {
            return Err(Error::invalid("probe.batch", 0, "an integer >= 1"));
        }
        if self.seeds < 2 || self.pairs == 0 || self.bs_draws == 0 || self.checkpoints < 2 {
            return Err(Error::invalid(
                "probe",
                "seeds/pairs/draws/checkpoints",
                "seeds >= 2, pairs >= 1, draws >= 1, checkpoints >= 2",
            ));
        }
        if self.b_small == 0 || self.b_big <= self.b_small {
            return Err(Error::invalid(
                "b-big",
                self.b_big,
                format!("an integer > b-small = {} >= 1", self.b_small),
            ));
        }
        if let Some(fs) = problem.landscape.finite_sum() {
            if self.b_big > fs.n_samples() || self.batch > fs.n_samples() {
                return Err(Error::invalid(
                    "b-big",
                    self.b_big,
                    format!("at most n = {}", fs.n_samples()),
                ));
            }
        }
        problem.noise.validate(problem.landscape.as_ref())
    }

    /// The checkpoint steps: 0 and log-spaced up to `steps`, distinct.
    pub fn checkpoint_steps(&self) -> Vec<usize> {
        let mut v: Vec<usize> = (0..self.checkpoints)
            .map(|k| {
                let f = k as f64 / (self.checkpoints - 1) as f64;
                ((self.steps as f64 + 1.0).powf(f) - 1.0).round() as usize
            })
            .collect();
        v.dedup();
        v
    }
}

/// The three variance estimates at one checkpoint step, over trajectories.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeRow {
    /// Step t.
    pub step: usize,
    /// Exact C²(x_t) of the law, over trajectories.
    pub c2_true: Estimate,
    /// Direct: ½‖G₁ − G₂‖² of independent per-sample gradients at x_t (unbiased for C²(x_t)).
    pub c2_direct: Estimate,
    /// McCandlish tr Σ estimate (unbiased for C²(x_t)).
    pub c2_bsimple: Estimate,
    /// McCandlish |G|² estimate (unbiased for ‖∇f(x_t)‖²).
    pub grad_sq_est: Estimate,
    /// Exact ‖∇f(x_t)‖².
    pub grad_sq_true: Estimate,
    /// B_simple = mean tr Σ / mean |G|² at this step.
    pub b_simple: f64,
}

/// The probe's results.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeResult {
    /// Per checkpoint.
    pub rows: Vec<ProbeRow>,
    /// Exact C² averaged over trajectories and checkpoints.
    pub c2_true_mean: f64,
    /// Largest exact C²(x_t) seen (the paper's constant is a sup).
    pub c2_true_max: f64,
    /// Direct estimate pooled over checkpoints (each trajectory's average; t-interval over
    /// trajectories).
    pub c2_direct: Estimate,
    /// McCandlish tr Σ pooled the same way.
    pub c2_bsimple: Estimate,
    /// B_simple pooled over the trajectory: mean tr Σ / mean |G|², with a bootstrap interval
    /// over trajectories.
    pub b_simple: f64,
    /// Its 95% interval.
    pub b_simple_ci95: [f64; 2],
    /// The true noise scale mean C²(x_t) / mean ‖∇f(x_t)‖² over the same points.
    pub b_simple_true: f64,
    /// (A2) check: C² constant along trajectories?
    pub a2: A2Check,
}

/// Assumption (A2) — constant C² along trajectories — for one law.
#[derive(Debug, Clone, Serialize)]
pub struct A2Check {
    /// Law name.
    pub law: &'static str,
    /// max/min over checkpoints of the exact over-trajectory mean C²(x_t).
    pub true_range_ratio: f64,
    /// max/min over checkpoints of the direct estimates.
    pub direct_range_ratio: f64,
    /// Largest |direct_k − pooled| / s.e._k over checkpoints.
    pub max_z: f64,
    /// Bonferroni threshold used (two-sided 1% over the checkpoints).
    pub z_threshold: f64,
    /// Whether constancy is rejected by the direct estimates (max_z > threshold).
    pub varies: bool,
}

/// The probe: C² direct and B_simple along trajectories, against the exact C².
pub fn probe(problem: &Problem, cfg: &ProbeConfig) -> Result<ProbeResult> {
    cfg.validate(problem)?;
    let land = problem.landscape.as_ref();
    let d = land.dim();
    let cps = cfg.checkpoint_steps();
    let nc = cps.len();
    // Per trajectory, per checkpoint: (c2 true, c2 direct, trΣ, |G|², ‖∇f‖²).
    type Per = Vec<[f64; 5]>;
    let per: Vec<Per> = (0..cfg.seeds)
        .into_par_iter()
        .map(|i| {
            let mut buf = Buffers::new(d);
            let mut rng = seed_rng(cfg.seed, i as u64);
            let mut mrng = seed_rng(cfg.seed, PROBE_STREAM + i as u64);
            buf.x = problem.init.sample(d, &mut rng);
            let (mut g1, mut g2) = (vec![0.0; d], vec![0.0; d]);
            let mut out = Vec::with_capacity(nc);
            let mut next = 0usize;
            for t in 0..=cfg.steps {
                land.gradient(&buf.x, &mut buf.grad);
                if next < nc && cps[next] == t {
                    next += 1;
                    let c2t = problem.noise.c2(land, &buf.x, &buf.grad);
                    // One minibatch gradient of size b at x from the probe's own stream.
                    let mut draw = |b: usize, g: &mut [f64]| {
                        problem.noise.sample_minibatch(
                            land,
                            &buf.x,
                            &buf.grad,
                            b,
                            &mut mrng,
                            &mut buf.scratch,
                            g,
                        )
                    };
                    let mut direct = 0.0;
                    for _ in 0..cfg.pairs {
                        draw(1, &mut g1);
                        draw(1, &mut g2);
                        direct += 0.5
                            * g1.iter()
                                .zip(&g2)
                                .map(|(a, b)| (a - b) * (a - b))
                                .sum::<f64>();
                    }
                    let (bs, bb) = (cfg.b_small as f64, cfg.b_big as f64);
                    let (mut tr, mut gg) = (0.0, 0.0);
                    for _ in 0..cfg.bs_draws {
                        draw(cfg.b_small, &mut g1);
                        draw(cfg.b_big, &mut g2);
                        let (s2, b2) = (norm(&g1).powi(2), norm(&g2).powi(2));
                        gg += (bb * b2 - bs * s2) / (bb - bs);
                        tr += (s2 - b2) / (1.0 / bs - 1.0 / bb);
                    }
                    let nb = cfg.bs_draws as f64;
                    out.push([
                        c2t,
                        direct / cfg.pairs as f64,
                        tr / nb,
                        gg / nb,
                        norm(&buf.grad).powi(2),
                    ]);
                }
                if t == cfg.steps {
                    break;
                }
                problem.noise.sample_minibatch(
                    land,
                    &buf.x,
                    &buf.grad,
                    cfg.batch,
                    &mut rng,
                    &mut buf.scratch,
                    &mut buf.g,
                );
                cfg.optimizer.direction(&buf.g, &mut buf.m, &mut buf.d);
                cfg.optimizer.apply(&mut buf.x, &buf.d);
                if !buf.x.iter().all(|v| v.is_finite()) {
                    break;
                }
            }
            out
        })
        .collect();
    if per.iter().any(|p| p.len() != nc) {
        return Err(Error::invalid(
            "lr",
            cfg.optimizer.lr,
            "a smaller value: a probe trajectory diverged",
        ));
    }
    let col = |k: usize, c: usize| {
        let mut w = Welford::new();
        per.iter().for_each(|p| w.push(p[c][k]));
        w.estimate(0.95)
    };
    let rows: Vec<ProbeRow> = (0..nc)
        .map(|c| {
            let tr = col(2, c);
            let gg = col(3, c);
            ProbeRow {
                step: cps[c],
                c2_true: col(0, c),
                c2_direct: col(1, c),
                c2_bsimple: tr,
                grad_sq_est: gg,
                grad_sq_true: col(4, c),
                b_simple: tr.mean / gg.mean,
            }
        })
        .collect();
    let pooled = |k: usize| {
        let mut w = Welford::new();
        per.iter()
            .for_each(|p| w.push(p.iter().map(|r| r[k]).sum::<f64>() / nc as f64));
        w.estimate(0.95)
    };
    let c2_direct = pooled(1);
    let c2_bsimple = pooled(2);
    let seed_sums: Vec<[f64; 4]> = per
        .iter()
        .map(|p| {
            let s = |k: usize| p.iter().map(|r| r[k]).sum::<f64>();
            [s(2), s(3), s(0), s(4)]
        })
        .collect();
    let ratio = |idx: &mut dyn Iterator<Item = usize>, a: usize, b: usize| {
        let (mut num, mut den) = (0.0, 0.0);
        for i in idx {
            num += seed_sums[i][a];
            den += seed_sums[i][b];
        }
        num / den
    };
    let b_simple = ratio(&mut (0..cfg.seeds), 0, 1);
    let b_simple_true = ratio(&mut (0..cfg.seeds), 2, 3);
    let mut brng = seed_rng(cfg.seed, BOOT_STREAM + 1);
    let reps: Vec<f64> = (0..1000)
        .map(|_| {
            let idx: Vec<usize> = (0..cfg.seeds)
                .map(|_| brng.random_range(0..cfg.seeds))
                .collect();
            ratio(&mut idx.into_iter(), 0, 1)
        })
        .collect();
    let b_simple_ci95 = percentile_ci(reps.into_iter());
    let c2_true_mean = per.iter().flatten().map(|r| r[0]).sum::<f64>() / (nc * cfg.seeds) as f64;
    let c2_true_max = per.iter().flatten().map(|r| r[0]).fold(f64::NAN, f64::max);
    let a2 = a2_check(problem.noise.name(), &rows, c2_direct.mean);
    Ok(ProbeResult {
        rows,
        c2_true_mean,
        c2_true_max,
        c2_direct,
        c2_bsimple,
        b_simple,
        b_simple_ci95,
        b_simple_true,
        a2,
    })
}

fn a2_check(law: &'static str, rows: &[ProbeRow], pooled: f64) -> A2Check {
    let range = |f: &dyn Fn(&ProbeRow) -> f64| {
        let (lo, hi) = rows
            .iter()
            .map(f)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
        hi / lo
    };
    let max_z = rows
        .iter()
        .map(|r| {
            let se = r.c2_direct.std_dev / (r.c2_direct.n as f64).sqrt();
            if se > 0.0 {
                (r.c2_direct.mean - pooled).abs() / se
            } else if r.c2_direct.mean == pooled {
                0.0
            } else {
                f64::INFINITY
            }
        })
        .fold(0.0, f64::max);
    let z_threshold = normal_quantile(1.0 - 0.005 / rows.len().max(1) as f64);
    A2Check {
        law,
        true_range_ratio: range(&|r| r.c2_true.mean),
        direct_range_ratio: range(&|r| r.c2_direct.mean),
        max_z,
        z_threshold,
        varies: max_z > z_threshold,
    }
}

fn normal_quantile(p: f64) -> f64 {
    t_quantile(p, 1e9)
}

// ---------------------------------------------------------------------------------------------
// The back-solve
// ---------------------------------------------------------------------------------------------

/// The paper's C² from b*: b*ε²/(η·factor), or `None` where the factor is open (QHM,
/// Nesterov) or b* is missing.
pub fn c2_estimate(opt: &Optimizer, eps: f64, b_star: Option<f64>) -> Option<f64> {
    let factor = theory::sfo_factor(opt.kind, opt.beta).ok()?;
    theory::c2_backsolve(b_star?, eps, opt.lr, factor).ok()
}

/// The first-order prediction of b* under the running-mean rule (proofs/C7-…md §2): with
/// T(b) ≈ A/(ε − s₁/√b), s₁/√b the stationary E‖g_t‖ and A the transient excess (independent
/// of b to first order), N(b) = b·T(b) is smallest at b* = (9/4)·s₁²/ε² — independent of η
/// except through s₁.
pub fn running_mean_b_star_prediction(s1: f64, eps: f64) -> f64 {
    2.25 * s1 * s1 / (eps * eps)
}

/// s₁ = √b·E‖g_t‖ at stationarity for isotropic Gaussian noise σ on a quadratic with
/// eigenvalues λ (any rotation): E‖g‖² = (dσ² + b·E‖∇f‖²)/b with the exact stationary
/// E‖∇f‖² (`stationary::stationary_moments_isotropic`, ∝ 1/b), and E‖g‖ ≈ χ_d·√E‖g‖² with
/// χ_d = E‖z‖/√d for z ~ N(0, I_d) (exact for the noise part; g is Gaussian at stationarity).
pub fn stationary_s1(opt: &Optimizer, eigenvalues: &[f64], sigma: f64) -> Result<f64> {
    let d = eigenvalues.len();
    let m = crate::stationary::stationary_moments_isotropic(opt, eigenvalues, sigma * sigma, 1.0)?;
    let chi = chi_mean(d, 1.0) / (d as f64).sqrt();
    Ok(chi * (d as f64 * sigma * sigma + m.grad_sq).sqrt())
}

/// E‖ξ‖ for ξ ~ N(0, σ² I_d): σ√2 Γ((d+1)/2)/Γ(d/2), via lgamma.
pub fn chi_mean(d: usize, sigma: f64) -> f64 {
    let df = d as f64;
    sigma * 2f64.sqrt() * (ln_gamma((df + 1.0) / 2.0) - ln_gamma(df / 2.0)).exp()
}

fn ln_gamma(x: f64) -> f64 {
    statrs::function::gamma::ln_gamma(x)
}

// ---------------------------------------------------------------------------------------------
// Claim experiments
// ---------------------------------------------------------------------------------------------

/// The 10-d problem of the claim experiments: rotated quadratic with eigenvalues
/// λ_i = 0.25·16^{i/9} (log-spaced in [0.25, 4], rotation seed 7), per-sample noise `noise`,
/// x_0 ~ U([−3, 3]^10). With isotropic Gaussian σ = 2 it is
/// `landscapes/critical-quadratic-10d.toml` (C² = 40).
pub fn critical_problem(noise: NoiseLaw) -> Result<Problem> {
    let eig = critical_eigenvalues();
    Ok(Problem {
        landscape: Arc::new(Quadratic::new(eig, Some(7), 10.0)?),
        noise,
        init: InitBox {
            low: -3.0,
            high: 3.0,
        },
    })
}

/// The eigenvalues of [`critical_problem`]: λ_i = 0.25·16^{i/9}, i = 0..9.
pub fn critical_eigenvalues() -> Vec<f64> {
    (0..10).map(|i| 0.25 * 16f64.powf(i as f64 / 9.0)).collect()
}

/// σ of the claim experiments' Gaussian law per rule: 2 (C² = 40) for the running-mean rule,
/// 8 (C² = 640) for the full-gradient rule, whose b* is ~ηC²/ε² and would sit at b = 1 with
/// C² = 40 for ε ≥ 1.
pub fn sigma_for(rule: StopRule) -> f64 {
    match rule {
        StopRule::RunningMean => 2.0,
        StopRule::FullGradient => 8.0,
    }
}

/// Batch grid with `per_octave` points per doubling: round(2^{k/per_octave}) for k in
/// `lo..=hi`, duplicates removed.
pub fn octave_batches(lo: u32, hi: u32, per_octave: u32) -> Vec<usize> {
    let mut v: Vec<usize> = (lo..=hi)
        .map(|k| 2f64.powf(k as f64 / per_octave.max(1) as f64).round() as usize)
        .collect();
    v.dedup();
    v
}

/// Half-octave batch grid: round(2^{k/2}) for k in `lo..=hi`, duplicates removed.
pub fn half_octave_batches(lo: u32, hi: u32) -> Vec<usize> {
    octave_batches(lo, hi, 2)
}

/// Sizes per scale.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Sizes {
    /// Seeds per batch size.
    pub seeds: usize,
    /// Censoring horizon.
    pub max_steps: usize,
    /// Bootstrap replicates.
    pub boot: usize,
    /// Warm-up steps before a rule is checked.
    pub warmup: usize,
}

impl Sizes {
    /// For a scale.
    pub fn of(scale: Scale) -> Self {
        match scale {
            Scale::Quick => Sizes {
                seeds: 16,
                max_steps: 20_000,
                boot: 300,
                warmup: 10,
            },
            Scale::Full => Sizes {
                seeds: 64,
                max_steps: 30_000,
                boot: 1000,
                warmup: 10,
            },
        }
    }
}

/// The batch grid of C7 (one ε = 0.5) for a rule and scale: half-octaves around b*.
pub fn c7_batches(rule: StopRule, scale: Scale) -> Vec<usize> {
    match (rule, scale) {
        (StopRule::RunningMean, _) => half_octave_batches(6, 23),
        (StopRule::FullGradient, _) => half_octave_batches(0, 23),
    }
}

/// The batch grid of C8 for a rule and scale: quarter-octaves covering b* of every ε of
/// [`c8_eps`] with a margin. A quarter-octave keeps the parabola's interpolation bias of b*
/// within 0.3–1.5% (half-octave: 1–6%, which would move the fitted exponent by up to 0.02;
/// proofs/C8 §3).
pub fn c8_batches(rule: StopRule, scale: Scale) -> Vec<usize> {
    match (rule, scale) {
        (StopRule::RunningMean, Scale::Quick) => octave_batches(12, 44, 4),
        (StopRule::RunningMean, Scale::Full) => octave_batches(12, 52, 4),
        (StopRule::FullGradient, Scale::Quick) => octave_batches(0, 44, 4),
        (StopRule::FullGradient, Scale::Full) => octave_batches(0, 52, 4),
    }
}

/// The sweep of a claim experiment.
pub fn claim_sweep(
    opt: Optimizer,
    rule: StopRule,
    eps: Vec<f64>,
    batches: Vec<usize>,
    scale: Scale,
) -> SweepConfig {
    let sizes = Sizes::of(scale);
    SweepConfig {
        optimizer: opt,
        batches,
        eps,
        rule,
        warmup: sizes.warmup,
        check_every: 1,
        max_steps: sizes.max_steps,
        seeds: sizes.seeds,
        seed: SEED,
    }
}

/// One C7 configuration's result.
#[derive(Debug, Clone, Serialize)]
pub struct BacksolveRow {
    /// Optimizer name.
    pub optimizer: &'static str,
    /// η.
    pub lr: f64,
    /// β.
    pub beta: f64,
    /// Stopping rule.
    pub rule: StopRule,
    /// ε.
    pub eps: f64,
    /// b* (None if every N is censored).
    pub b_star: Option<BStar>,
    /// Bootstrap 95% interval of b*.
    pub b_star_ci95: [f64; 2],
    /// b*ε²/(η·factor).
    pub c2_estimate: Option<f64>,
    /// Its interval (from b*'s).
    pub c2_estimate_ci95: [f64; 2],
    /// The exact C².
    pub c2_true: f64,
    /// c2_estimate / c2_true.
    pub ratio: Option<f64>,
    /// Its interval.
    pub ratio_ci95: [f64; 2],
    /// The paper's inequality C²_true < b*ε²/(η·factor) holds at the interval's upper end.
    pub inequality_holds: bool,
    /// The estimate is within a factor 2 of the truth (interval overlapping [½, 2]).
    pub within_factor_2: bool,
    /// Running-mean rule: the first-order prediction (9/4)·s₁²/ε² ([`stationary_s1`]).
    pub b_star_predicted: Option<f64>,
}

/// Run one sweep + bootstrap + analysis.
pub fn sweep_and_analyze(
    problem: &Problem,
    cfg: &SweepConfig,
    boot_reps: usize,
) -> Result<(SweepRuns, Bootstrap, Vec<SfoCurve>)> {
    let runs = sweep(problem, cfg)?;
    let boot = bootstrap(&runs, boot_reps, cfg.seed);
    let curves = analyze(&runs, &boot);
    Ok((runs, boot, curves))
}

/// C² back-solve rows of one sweep.
pub fn backsolve_rows(
    cfg: &SweepConfig,
    curves: &[SfoCurve],
    c2_true: f64,
    s1: Option<f64>,
) -> Vec<BacksolveRow> {
    let opt = &cfg.optimizer;
    curves
        .iter()
        .map(|c| {
            let ci = c.b_star_ci95;
            let est = c2_estimate(opt, c.eps, c.b_star.map(|b| b.value));
            let est_ci = [
                c2_estimate(opt, c.eps, Some(ci[0])).unwrap_or(f64::NAN),
                c2_estimate(opt, c.eps, Some(ci[1])).unwrap_or(f64::NAN),
            ];
            let ratio_ci = [est_ci[0] / c2_true, est_ci[1] / c2_true];
            BacksolveRow {
                optimizer: opt.kind.name(),
                lr: opt.lr,
                beta: opt.beta,
                rule: cfg.rule,
                eps: c.eps,
                b_star: c.b_star,
                b_star_ci95: ci,
                c2_estimate: est,
                c2_estimate_ci95: est_ci,
                c2_true,
                ratio: est.map(|v| v / c2_true),
                ratio_ci95: ratio_ci,
                inequality_holds: est_ci[1] > c2_true,
                within_factor_2: ratio_ci[1] >= 0.5 && ratio_ci[0] <= 2.0,
                b_star_predicted: match (cfg.rule, s1) {
                    (StopRule::RunningMean, Some(s)) => {
                        Some(running_mean_b_star_prediction(s, c.eps))
                    }
                    _ => None,
                },
            }
        })
        .collect()
}

fn claim_optimizers(lr: f64) -> Result<Vec<Optimizer>> {
    Ok(vec![
        Optimizer::new(OptimizerKind::Sgd, lr, 0.0, 0.0)?,
        Optimizer::new(OptimizerKind::Shb, lr, 0.9, 0.0)?,
        Optimizer::new(OptimizerKind::Nshb, lr, 0.9, 0.0)?,
    ])
}

/// The (A2) and three-way variance probes of C7: Gaussian, Student-t (ν = 5) and multiplicative
/// (σ = 2, α = 1) laws on the critical quadratic, and the teacher–student finite sum.
pub fn variance_probes(scale: Scale) -> Result<Vec<(String, ProbeResult)>> {
    let opt = Optimizer::new(OptimizerKind::Sgd, 0.1, 0.0, 0.0)?;
    let (seeds, steps) = match scale {
        Scale::Quick => (12, 2000),
        Scale::Full => (32, 5000),
    };
    let mut out = Vec::new();
    let laws = [
        (
            "quadratic/gaussian",
            NoiseLaw::Gaussian {
                sigma: sigma_for(StopRule::RunningMean),
            },
        ),
        (
            "quadratic/student_t",
            NoiseLaw::StudentT {
                sigma: sigma_for(StopRule::RunningMean),
                dof: 5.0,
            },
        ),
        (
            "quadratic/multiplicative",
            NoiseLaw::Multiplicative {
                sigma: sigma_for(StopRule::RunningMean),
                alpha: 1.0,
            },
        ),
    ];
    for (name, law) in laws {
        let problem = critical_problem(law)?;
        let mut cfg = ProbeConfig::new(opt, 8, steps, SEED);
        cfg.seeds = seeds;
        out.push((name.to_string(), probe(&problem, &cfg)?));
    }
    let ts = Problem {
        landscape: Arc::new(TeacherStudent::new(8, 5, 512, 0.1, 1)?),
        noise: NoiseLaw::FiniteSum,
        init: InitBox {
            low: -0.5,
            high: 0.5,
        },
    };
    let ts_opt = Optimizer::new(OptimizerKind::Sgd, 0.05, 0.0, 0.0)?;
    let mut cfg = ProbeConfig::new(ts_opt, 8, steps, SEED);
    cfg.seeds = seeds / 2;
    out.push(("teacher_student/finite_sum".to_string(), probe(&ts, &cfg)?));
    Ok(out)
}

/// Everything C7 computes, for the claim report and the figures.
pub struct C7Data {
    /// Back-solve rows.
    pub rows: Vec<BacksolveRow>,
    /// The SFO curves behind them: (optimizer, η, rule, curves).
    pub curves: Vec<(Optimizer, StopRule, Vec<SfoCurve>)>,
    /// Variance probes per law.
    pub probes: Vec<(String, ProbeResult)>,
}

/// The ε of C7.
pub const C7_EPS: f64 = 0.5;

/// Run C7's sweeps and probes: SGD, SHB and NSHB (β = 0.9) at ε = 0.5 under both rules, at
/// η = 0.1 (and η = 0.05 at Full scale, to show how b* and the back-solve move with η).
pub fn c7_data(scale: Scale) -> Result<C7Data> {
    let sizes = Sizes::of(scale);
    let lrs: &[f64] = match scale {
        Scale::Quick => &[0.1],
        Scale::Full => &[0.1, 0.05],
    };
    let mut rows = Vec::new();
    let mut curves = Vec::new();
    for &lr in lrs {
        for opt in claim_optimizers(lr)? {
            for rule in StopRule::ALL {
                let sigma = sigma_for(rule);
                let problem = critical_problem(NoiseLaw::Gaussian { sigma })?;
                let c2_true = 10.0 * sigma * sigma;
                let cfg = claim_sweep(opt, rule, vec![C7_EPS], c7_batches(rule, scale), scale);
                let (_, _, cs) = sweep_and_analyze(&problem, &cfg, sizes.boot)?;
                let s1 = stationary_s1(&opt, &critical_eigenvalues(), sigma)?;
                rows.extend(backsolve_rows(&cfg, &cs, c2_true, Some(s1)));
                curves.push((opt, rule, cs));
            }
        }
    }
    Ok(C7Data {
        rows,
        curves,
        probes: variance_probes(scale)?,
    })
}

/// C7: does the back-solve C² < b*ε²/(η·factor) match the true C²?
pub fn c7_variance_backsolve(scale: Scale) -> Result<ClaimReport> {
    let data = c7_data(scale)?;
    c7_report(&data)
}

/// The claim report of C7 from its data.
pub fn c7_report(data: &C7Data) -> Result<ClaimReport> {
    // A configuration supports the claim when the back-solve is both what the paper says it is
    // (an upper bound: C² < b*ε²/(η·factor)) and a usable estimate (within a factor 2).
    let n = data.rows.len();
    let within = data.rows.iter().filter(|r| r.within_factor_2).count();
    let ineq = data.rows.iter().filter(|r| r.inequality_holds).count();
    let support = data
        .rows
        .iter()
        .filter(|r| r.within_factor_2 && r.inequality_holds)
        .count();
    let verdict = if support == n {
        Verdict::Holds
    } else if support == 0 {
        Verdict::Fails
    } else {
        Verdict::Mixed
    };
    let fmt_row = |r: &BacksolveRow| {
        format!(
            "{} η={} {}: b*={:.0} → C²_est={:.3} vs C²={} (×{:.3}, 95% CI [{:.3}, {:.3}])",
            r.optimizer,
            r.lr,
            r.rule.name(),
            r.b_star.map_or(f64::NAN, |b| b.value),
            r.c2_estimate.unwrap_or(f64::NAN),
            r.c2_true,
            r.ratio.unwrap_or(f64::NAN),
            r.ratio_ci95[0],
            r.ratio_ci95[1]
        )
    };
    let worst = data.rows.iter().max_by(|a, b| {
        let la = a.ratio.unwrap_or(f64::NAN).ln().abs();
        let lb = b.ratio.unwrap_or(f64::NAN).ln().abs();
        la.total_cmp(&lb)
    });
    let under = data.rows.iter().find(|r| !r.inequality_holds);
    let direct_ok = data
        .probes
        .iter()
        .filter(|(_, p)| p.c2_direct.contains(p.c2_true_mean) || p.a2.varies)
        .count();
    let a2: Vec<String> = data
        .probes
        .iter()
        .map(|(name, p)| {
            format!(
                "{name}: {} (C² range ×{:.2})",
                if p.a2.varies { "varies" } else { "constant" },
                p.a2.true_range_ratio
            )
        })
        .collect();
    let evidence = format!(
        "back-solve both an upper bound and within ×2 of the true C² in {support}/{n} (optimizer, η, rule) configs (within ×2: {within}, bound holds: {ineq}); back-solve/true {:.3}–{:.3}; direct C² covers the truth in {direct_ok}/{} laws; (A2): {}",
        data.rows.iter().filter_map(|r| r.ratio).fold(f64::INFINITY, f64::min),
        data.rows.iter().filter_map(|r| r.ratio).fold(f64::NEG_INFINITY, f64::max),
        data.probes.len(),
        a2.join("; ")
    );
    let counter_example = match verdict {
        Verdict::Holds => None,
        _ => Some(
            [worst.map(fmt_row), under.map(fmt_row)]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" | "),
        ),
    };
    let mut rows: Vec<serde_json::Value> = data
        .rows
        .iter()
        .map(|r| json!({"kind": "backsolve", "row": r}))
        .collect();
    for (name, p) in &data.probes {
        rows.push(json!({"kind": "probe", "case": name, "probe": p}));
    }
    Ok(ClaimReport {
        claim: "C7",
        verdict,
        evidence,
        counter_example,
        rows,
    })
}

/// The ε of C8.
pub fn c8_eps(scale: Scale) -> Vec<f64> {
    match scale {
        Scale::Quick => vec![0.5, 0.7, 1.0, 1.4, 2.0],
        Scale::Full => vec![0.25, 0.35, 0.5, 0.7, 1.0, 1.4, 2.0],
    }
}

/// One C8 configuration.
#[derive(Debug, Clone, Serialize)]
pub struct ScalingRow {
    /// Optimizer name.
    pub optimizer: &'static str,
    /// η.
    pub lr: f64,
    /// β.
    pub beta: f64,
    /// Rule.
    pub rule: StopRule,
    /// (ε, b*, b* interval, at edge) per ε.
    pub points: Vec<serde_json::Value>,
    /// The fit.
    pub fit: Option<ExponentFit>,
}

/// Everything C8 computes.
pub struct C8Data {
    /// Per configuration.
    pub rows: Vec<ScalingRow>,
    /// The SFO curves: (optimizer, rule, curves).
    pub curves: Vec<(Optimizer, StopRule, Vec<SfoCurve>)>,
}

/// Run C8's sweeps: b* at every ε of [`c8_eps`] for SGD and SHB (and NSHB at Full scale),
/// η = 0.1, β = 0.9, under both rules.
pub fn c8_data(scale: Scale) -> Result<C8Data> {
    let sizes = Sizes::of(scale);
    let opts = match scale {
        Scale::Quick => vec![
            Optimizer::new(OptimizerKind::Sgd, 0.1, 0.0, 0.0)?,
            Optimizer::new(OptimizerKind::Shb, 0.1, 0.9, 0.0)?,
        ],
        Scale::Full => claim_optimizers(0.1)?,
    };
    let mut rows = Vec::new();
    let mut curves = Vec::new();
    for opt in opts {
        for rule in StopRule::ALL {
            let problem = critical_problem(NoiseLaw::Gaussian {
                sigma: sigma_for(rule),
            })?;
            let cfg = claim_sweep(opt, rule, c8_eps(scale), c8_batches(rule, scale), scale);
            let (_, boot, cs) = sweep_and_analyze(&problem, &cfg, sizes.boot)?;
            let points = cs
                .iter()
                .map(|c| {
                    json!({
                        "eps": c.eps,
                        "b_star": c.b_star.map(|b| b.value),
                        "b_star_ci95": c.b_star_ci95,
                        "at_edge": c.b_star.map(|b| b.at_edge),
                    })
                })
                .collect();
            rows.push(ScalingRow {
                optimizer: opt.kind.name(),
                lr: opt.lr,
                beta: opt.beta,
                rule,
                points,
                fit: fit_exponent(&cs, &boot),
            });
            curves.push((opt, rule, cs));
        }
    }
    Ok(C8Data { rows, curves })
}

/// C8: b* ∝ 1/ε²?
pub fn c8_eps_scaling(scale: Scale) -> Result<ClaimReport> {
    c8_report(&c8_data(scale)?)
}

/// The claim report of C8 from its data.
pub fn c8_report(data: &C8Data) -> Result<ClaimReport> {
    let fits: Vec<(&ScalingRow, &ExponentFit)> = data
        .rows
        .iter()
        .filter_map(|r| r.fit.as_ref().map(|f| (r, f)))
        .collect();
    let n = fits.len();
    let inside = fits.iter().filter(|(_, f)| f.paper_exponent_in_ci).count();
    let verdict = if n == 0 {
        Verdict::Open
    } else if inside == n {
        Verdict::Holds
    } else if inside == 0 {
        Verdict::Fails
    } else {
        Verdict::Mixed
    };
    let desc = |(r, f): &(&ScalingRow, &ExponentFit)| {
        format!(
            "{} {}: k = {:.2} [{:.2}, {:.2}]",
            r.optimizer,
            r.rule.name(),
            f.exponent,
            f.exponent_ci95[0],
            f.exponent_ci95[1]
        )
    };
    let evidence = format!(
        "b* ∝ ε^k: −2 inside the bootstrap 95% CI of k in {inside}/{n} (optimizer, rule) configs: {}",
        fits.iter().map(desc).collect::<Vec<_>>().join("; ")
    );
    let counter_example = fits
        .iter()
        .filter(|(_, f)| !f.paper_exponent_in_ci)
        .max_by(|a, b| {
            (a.1.exponent + 2.0)
                .abs()
                .total_cmp(&(b.1.exponent + 2.0).abs())
        })
        .map(desc);
    Ok(ClaimReport {
        claim: "C8",
        verdict,
        evidence,
        counter_example,
        rows: data
            .rows
            .iter()
            .map(|r| serde_json::to_value(r).unwrap_or_default())
            .collect(),
    })
}

// ---------------------------------------------------------------------------------------------
// Figure data
// ---------------------------------------------------------------------------------------------

/// A number as a CSV cell: `inf` for +∞, empty for NaN or −∞.
pub fn cell(v: f64) -> String {
    if v.is_finite() {
        v.to_string()
    } else if v == f64::INFINITY {
        "inf".into()
    } else {
        String::new()
    }
}

/// Columns of one SFO curve row (see [`sfo_cells`]).
pub const SFO_COLUMNS: [&str; 14] = [
    "eps",
    "batch",
    "steps_median",
    "sfo_median",
    "sfo_ci95_low",
    "sfo_ci95_high",
    "sfo_q25",
    "sfo_q75",
    "sfo_min",
    "sfo_max",
    "censored",
    "diverged",
    "seeds",
    "b_star",
];

/// The [`SFO_COLUMNS`] cells of row `r` of curve `c`.
pub fn sfo_cells(c: &SfoCurve, r: &SfoRow) -> Vec<String> {
    vec![
        c.eps.to_string(),
        r.batch.to_string(),
        cell(r.steps_median),
        cell(r.sfo_median),
        cell(r.sfo_median_ci95[0]),
        cell(r.sfo_median_ci95[1]),
        cell(r.sfo_q25),
        cell(r.sfo_q75),
        cell(r.sfo_min),
        cell(r.sfo_max),
        r.censored.to_string(),
        r.diverged.to_string(),
        r.seeds.to_string(),
        c.b_star.map_or(String::new(), |b| b.value.to_string()),
    ]
}

/// Columns of one variance-probe checkpoint (see [`probe_cells`]).
pub const PROBE_COLUMNS: [&str; 11] = [
    "step",
    "c2_true",
    "c2_direct",
    "c2_direct_ci95_low",
    "c2_direct_ci95_high",
    "c2_bsimple",
    "c2_bsimple_ci95_low",
    "c2_bsimple_ci95_high",
    "grad_sq_true",
    "grad_sq_est",
    "b_simple",
];

/// The [`PROBE_COLUMNS`] cells of checkpoint `r`.
pub fn probe_cells(r: &ProbeRow) -> Vec<String> {
    vec![
        r.step.to_string(),
        cell(r.c2_true.mean),
        cell(r.c2_direct.mean),
        cell(r.c2_direct.ci_low),
        cell(r.c2_direct.ci_high),
        cell(r.c2_bsimple.mean),
        cell(r.c2_bsimple.ci_low),
        cell(r.c2_bsimple.ci_high),
        cell(r.grad_sq_true.mean),
        cell(r.grad_sq_est.mean),
        cell(r.b_simple),
    ]
}

fn opt_cells(experiment: &str, opt: &Optimizer, rule: StopRule) -> Vec<String> {
    vec![
        experiment.to_string(),
        opt.kind.name().to_string(),
        opt.lr.to_string(),
        opt.beta.to_string(),
        rule.name().to_string(),
        sigma_for(rule).to_string(),
        (10.0 * sigma_for(rule) * sigma_for(rule)).to_string(),
    ]
}

/// Write the data of the critical-batch figures into `dir` (atomically, one file each):
/// `sfo.csv` (SFO vs b per experiment, optimizer, rule, ε, with bands over seeds and b*),
/// `c2_backsolve.csv` (the paper's back-solve against the truth), `c2_probe.csv` (C² direct,
/// McCandlish tr Σ and B_simple per checkpoint, per law), `c2_methods.csv` (the three
/// estimates pooled per law), `b_star_eps.csv` (b* vs ε with intervals) and `fit.csv` (the
/// exponent of b* ∝ ε^k), plus `provenance.json`.
pub fn write_figure_data(dir: &std::path::Path, c7: &C7Data, c8: &C8Data) -> Result<()> {
    use crate::output::{write_csv, write_json, Provenance};
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let head = [
        "experiment",
        "optimizer",
        "lr",
        "beta",
        "rule",
        "sigma",
        "c2_true",
    ];
    let mut h: Vec<&str> = head.to_vec();
    h.extend(SFO_COLUMNS);
    h.extend(["b_star_ci95_low", "b_star_ci95_high", "b_star_at_edge"]);
    let mut rows = Vec::new();
    for (exp, curves) in [("c7", &c7.curves), ("c8", &c8.curves)] {
        for (opt, rule, cs) in curves {
            for c in cs {
                for r in &c.rows {
                    let mut row = opt_cells(exp, opt, *rule);
                    row.extend(sfo_cells(c, r));
                    row.extend([
                        cell(c.b_star_ci95[0]),
                        cell(c.b_star_ci95[1]),
                        c.b_star.map_or(String::new(), |b| b.at_edge.to_string()),
                    ]);
                    rows.push(row);
                }
            }
        }
    }
    write_csv(&dir.join("sfo.csv"), &h, rows)?;
    let rows = c7.rows.iter().map(|r| {
        vec![
            r.optimizer.to_string(),
            r.lr.to_string(),
            r.beta.to_string(),
            r.rule.name().to_string(),
            r.eps.to_string(),
            r.c2_true.to_string(),
            r.b_star.map_or(String::new(), |b| b.value.to_string()),
            cell(r.b_star_ci95[0]),
            cell(r.b_star_ci95[1]),
            r.b_star_predicted.map_or(String::new(), |v| v.to_string()),
            r.c2_estimate.map_or(String::new(), |v| v.to_string()),
            cell(r.c2_estimate_ci95[0]),
            cell(r.c2_estimate_ci95[1]),
            r.ratio.map_or(String::new(), |v| v.to_string()),
            cell(r.ratio_ci95[0]),
            cell(r.ratio_ci95[1]),
            r.inequality_holds.to_string(),
        ]
    });
    write_csv(
        &dir.join("c2_backsolve.csv"),
        &[
            "optimizer",
            "lr",
            "beta",
            "rule",
            "eps",
            "c2_true",
            "b_star",
            "b_star_ci95_low",
            "b_star_ci95_high",
            "b_star_predicted",
            "c2_estimate",
            "c2_estimate_ci95_low",
            "c2_estimate_ci95_high",
            "ratio",
            "ratio_ci95_low",
            "ratio_ci95_high",
            "inequality_holds",
        ],
        rows,
    )?;
    let rows = c7.probes.iter().flat_map(|(case, p)| {
        p.rows.iter().map(move |r| {
            let mut row = vec![case.clone()];
            row.extend(probe_cells(r));
            row
        })
    });
    write_csv(
        &dir.join("c2_probe.csv"),
        &[&["case"][..], &PROBE_COLUMNS[..]].concat(),
        rows,
    )?;
    let rows = c7.probes.iter().flat_map(|(case, p)| {
        let est = |m: &str, e: &Estimate| {
            vec![
                case.clone(),
                m.to_string(),
                cell(e.mean),
                cell(e.ci_low),
                cell(e.ci_high),
            ]
        };
        let one = |m: &str, v: f64, ci: [f64; 2]| {
            vec![
                case.clone(),
                m.to_string(),
                cell(v),
                cell(ci[0]),
                cell(ci[1]),
            ]
        };
        vec![
            one("c2_true_mean", p.c2_true_mean, [f64::NAN; 2]),
            one("c2_true_max", p.c2_true_max, [f64::NAN; 2]),
            est("c2_direct", &p.c2_direct),
            est("c2_mccandlish_trace", &p.c2_bsimple),
            one("b_simple", p.b_simple, p.b_simple_ci95),
            one("b_simple_true", p.b_simple_true, [f64::NAN; 2]),
            one("a2_true_range_ratio", p.a2.true_range_ratio, [f64::NAN; 2]),
            one("a2_direct_max_z", p.a2.max_z, [f64::NAN; 2]),
        ]
    });
    write_csv(
        &dir.join("c2_methods.csv"),
        &["case", "quantity", "value", "ci95_low", "ci95_high"],
        rows,
    )?;
    let mut rows = Vec::new();
    let mut fits = Vec::new();
    for ((opt, rule, cs), sr) in c8.curves.iter().zip(&c8.rows) {
        for c in cs {
            let mut row = opt_cells("c8", opt, *rule);
            row.extend([
                c.eps.to_string(),
                c.b_star.map_or(String::new(), |b| b.value.to_string()),
                cell(c.b_star_ci95[0]),
                cell(c.b_star_ci95[1]),
                c.b_star.map_or(String::new(), |b| b.at_edge.to_string()),
            ]);
            rows.push(row);
        }
        if let Some(f) = &sr.fit {
            let mut row = opt_cells("c8", opt, *rule);
            row.extend([
                f.exponent.to_string(),
                cell(f.exponent_ci95[0]),
                cell(f.exponent_ci95[1]),
                cell(f.exponent_ols_ci95[0]),
                cell(f.exponent_ols_ci95[1]),
                f.intercept.to_string(),
                f.eps_used
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join(" "),
            ]);
            fits.push(row);
        }
    }
    let mut h: Vec<&str> = head.to_vec();
    h.extend([
        "eps",
        "b_star",
        "b_star_ci95_low",
        "b_star_ci95_high",
        "at_edge",
    ]);
    write_csv(&dir.join("b_star_eps.csv"), &h, rows)?;
    let mut h: Vec<&str> = head.to_vec();
    h.extend([
        "exponent",
        "exponent_ci95_low",
        "exponent_ci95_high",
        "exponent_ols_ci95_low",
        "exponent_ols_ci95_high",
        "intercept",
        "eps_used",
    ]);
    write_csv(&dir.join("fit.csv"), &h, fits)?;
    write_json(
        &dir.join("provenance.json"),
        &json!({"provenance": Provenance::collect(), "seed": SEED}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn b_star_vertex_and_edges() {
        let b = [1, 2, 4, 8, 16];
        // log N = (log b − log 5)² + c → vertex at 5.
        let n: Vec<f64> = b
            .iter()
            .map(|&v| ((v as f64).ln() - 5f64.ln()).powi(2).exp() * 100.0)
            .collect();
        let s = critical_batch(&b, &n).unwrap();
        assert!((s.value - 5.0).abs() < 1e-9 && s.grid == 4 && !s.at_edge);
        let inc = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert!(critical_batch(&b, &inc).unwrap().at_edge);
        let inf = [f64::INFINITY; 5];
        assert!(critical_batch(&b, &inf).is_none());
    }

    #[test]
    fn quantile_with_censoring() {
        let v = [1.0, 2.0, 3.0, f64::INFINITY];
        assert_eq!(quantile_sorted(&v, 0.5), 2.5);
        assert!(quantile_sorted(&v, 0.75).is_infinite());
    }

    #[test]
    fn chi_mean_matches_sqrt_d_asymptotically() {
        assert!((chi_mean(1, 1.0) - (2.0 / std::f64::consts::PI).sqrt()).abs() < 1e-12);
        let r = chi_mean(10, 2.0) / (2.0 * 10f64.sqrt());
        assert!(r < 1.0 && r > 0.97);
    }
}

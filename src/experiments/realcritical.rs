//! Critical batch size on real networks (claims C7, C8 on `mslab train` runs; issue 5 item 7,
//! issue 6 item 2). Pure Rust: reads run folders, needs no libtorch.
//!
//! Each run trained with `--stop-eps` has a `critical` object in its `summary.json`: the
//! stopping rule(s), the thresholds ε and, per (rule, ε), the hitting step T (null when the run
//! ended at `--epochs` before reaching ε: **censored**) and SFO = b·T. This module
//!
//! - groups runs by (dataset, model, norm, optimizer, η, β, ν, training examples, rule, ε list,
//!   min epochs, check interval) and, inside a group, by batch size and seed;
//! - builds the hitting-time table of [`critical::SweepRuns`] (seeds present at every batch
//!   size; others are listed as dropped) and reuses the synthetic module's analysis: median
//!   SFO over seeds with censored = +∞ ([`critical::analyze`]), b* as the grid argmin refined
//!   by a parabola in log b ([`critical::critical_batch`]), a seeded bootstrap over seeds
//!   ([`critical::bootstrap`]) and, with two or more ε, the exponent of b* ∝ ε^k
//!   ([`critical::fit_exponent`]);
//! - back-solves C² = b*ε²/(η·factor) ([`critical::c2_estimate`], factors of theory.md §5) and
//!   sets it against the C² the instruments measured directly (`series.csv` column `c2`): the
//!   median over each run's measurements after step 0, and the measurement nearest the hitting
//!   step, each as the median over the seeds at b*'s grid batch size; and against McCandlish's
//!   B_simple (`b_simple`), read the same two ways.
//!
//! `censoring_safe` is recomputed here: a batch size whose median SFO is +∞ cannot have moved b*
//! when b × (its shortest censored run's steps) ≥ the minimum SFO (runs stop at different step
//! counts on real networks, unlike the synthetic sweep's single horizon).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::experiments::critical::{self, BStar, ExponentFit, SfoCurve, StopRule, SweepRuns};
use crate::experiments::realnet::{self, median, RunRecord};
use crate::optimizer::{Optimizer, OptimizerKind};
use crate::theory;

/// One (rule, ε) hitting record of a run, as written by `mslab train --stop-eps`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Hit {
    /// `running-mean` or `full-gradient`.
    pub rule: String,
    /// ε.
    pub eps: f64,
    /// T: mini-batch gradients used (running mean) or updates done (full gradient); `None`
    /// when censored.
    pub step: Option<u64>,
    /// Epoch (0-based) in which the rule fired.
    pub epoch: Option<u64>,
    /// b·T.
    pub sfo: Option<u64>,
    /// Not reached before the run ended.
    pub censored: bool,
}

/// One measurement of the instruments (the columns the back-solve needs).
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct SeriesPoint {
    /// Step t.
    pub step: u64,
    /// Direct C² = tr Σ.
    pub c2: f64,
    /// McCandlish B_simple.
    pub b_simple: f64,
    /// K = ‖∇f(x_t)‖.
    pub k: f64,
}

/// A run with its stopping records.
#[derive(Debug, Clone, Serialize)]
pub struct CriticalRun {
    /// The run's metadata and instrument summary.
    pub run: RunRecord,
    /// Rules the run checked.
    pub rules: Vec<String>,
    /// Thresholds.
    pub eps: Vec<f64>,
    /// Rules were checked from this epoch on.
    pub min_epochs: u64,
    /// Full-gradient check interval in steps, as given (0: once per epoch).
    pub check_every: u64,
    /// Hits.
    pub hits: Vec<Hit>,
    /// The training loss became non-finite.
    pub diverged: bool,
    /// Measurements (all, step 0 included).
    pub series: Vec<SeriesPoint>,
}

impl CriticalRun {
    /// The hit of (rule, ε), if the run checked it.
    pub fn hit(&self, rule: &str, eps: f64) -> Option<&Hit> {
        self.hits.iter().find(|h| h.rule == rule && h.eps == eps)
    }

    /// Median over the measurements after step 0 of a column.
    pub fn run_median(&self, f: impl Fn(&SeriesPoint) -> f64) -> f64 {
        median(
            &self
                .series
                .iter()
                .filter(|p| p.step > 0)
                .map(f)
                .collect::<Vec<_>>(),
        )
    }

    /// The measurement nearest step `t` (the earlier one on a tie).
    pub fn nearest(&self, t: u64) -> Option<&SeriesPoint> {
        self.series
            .iter()
            .min_by_key(|p| (p.step.abs_diff(t), p.step))
    }
}

/// The `critical` object of a train summary.
#[derive(Debug, Clone, PartialEq)]
pub struct CriticalMeta {
    /// Rules checked.
    pub rules: Vec<String>,
    /// Thresholds.
    pub eps: Vec<f64>,
    /// First epoch checked.
    pub min_epochs: u64,
    /// Full-gradient check interval in steps, as given (0: once per epoch).
    pub check_every: u64,
    /// Hits.
    pub hits: Vec<Hit>,
}

/// Parse the `critical` object of a train summary (`None` when the run had no stop rules).
pub fn parse_critical(s: &Value, path: &Path) -> Result<Option<CriticalMeta>> {
    let Some(c) = s.get("critical").filter(|c| !c.is_null()) else {
        return Ok(None);
    };
    let strs = |k: &str| -> Vec<String> {
        c.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let rules = strs("rules");
    let eps: Vec<f64> = c
        .get("eps")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default();
    let u = |v: &Value, k: &str| v.get(k).and_then(Value::as_u64);
    let mut hits = Vec::new();
    for h in c
        .get("hits")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let rule = h
            .get("rule")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::file(path, "critical.hits[].rule missing"))?;
        StopRule::parse(rule).map_err(|_| {
            Error::file(
                path,
                format!("critical.hits[].rule {rule:?} is not running-mean or full-gradient"),
            )
        })?;
        let e = h
            .get("eps")
            .and_then(Value::as_f64)
            .filter(|e| e.is_finite() && *e > 0.0)
            .ok_or_else(|| Error::file(path, "critical.hits[].eps missing or not > 0"))?;
        let step = u(h, "step");
        hits.push(Hit {
            rule: rule.to_string(),
            eps: e,
            step,
            epoch: u(h, "epoch"),
            sfo: u(h, "sfo"),
            censored: step.is_none(),
        });
    }
    if rules.is_empty() || eps.is_empty() {
        return Err(Error::file(path, "critical object without rules or eps"));
    }
    Ok(Some(CriticalMeta {
        rules,
        eps,
        min_epochs: u(c, "min_epochs").unwrap_or(0),
        check_every: u(c, "check_every").unwrap_or(0),
        hits,
    }))
}

/// Read the instruments' series (step, c2, b_simple, k); empty when there is no series.csv.
pub fn read_series(dir: &Path) -> Result<Vec<SeriesPoint>> {
    let p = dir.join("series.csv");
    if !p.is_file() {
        return Ok(Vec::new());
    }
    let mut r =
        csv::Reader::from_path(&p).map_err(|e| Error::file(&p, format!("cannot read CSV: {e}")))?;
    let header: Vec<String> = r
        .headers()
        .map_err(|e| Error::file(&p, e))?
        .iter()
        .map(str::to_string)
        .collect();
    let col = |name: &str| header.iter().position(|h| h == name);
    let (Some(is), ic, ib, ik) = (col("step"), col("c2"), col("b_simple"), col("k")) else {
        return Err(Error::file(&p, "no `step` column"));
    };
    let get = |rec: &csv::StringRecord, i: Option<usize>| -> f64 {
        i.and_then(|i| rec.get(i))
            .and_then(|x| x.parse().ok())
            .unwrap_or(f64::NAN)
    };
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| Error::file(&p, e))?;
        let Some(step) = rec.get(is).and_then(|x| x.parse::<u64>().ok()) else {
            return Err(Error::file(&p, "a `step` cell is not an integer"));
        };
        out.push(SeriesPoint {
            step,
            c2: get(&rec, ic),
            b_simple: get(&rec, ib),
            k: get(&rec, ik),
        });
    }
    Ok(out)
}

/// Every run below `root` that has a `critical` object (runs without one are skipped).
pub fn collect_runs(root: &Path) -> Result<Vec<CriticalRun>> {
    let mut out = Vec::new();
    for run in realnet::collect_runs(root)? {
        let dir: PathBuf = if run.id.is_empty() {
            root.to_path_buf()
        } else {
            root.join(&run.id)
        };
        let sp = dir.join("summary.json");
        let s: Value = serde_json::from_str(
            &std::fs::read_to_string(&sp)
                .map_err(|e| Error::file(&sp, format!("cannot read: {e}")))?,
        )
        .map_err(|e| Error::file(&sp, format!("not JSON: {e}")))?;
        let Some(CriticalMeta {
            rules,
            eps,
            min_epochs,
            check_every,
            hits,
        }) = parse_critical(&s, &sp)?
        else {
            continue;
        };
        let series = read_series(&dir)?;
        let diverged = !run.train_loss.is_finite();
        out.push(CriticalRun {
            run,
            rules,
            eps,
            min_epochs,
            check_every,
            hits,
            diverged,
            series,
        });
    }
    if out.is_empty() {
        return Err(Error::invalid(
            "runs",
            root.display(),
            "a folder holding `mslab train --stop-eps …` runs (summary.json with a `critical` \
             object)",
        ));
    }
    Ok(out)
}

/// What a group of runs shares (everything but batch size and seed).
#[derive(Debug, Clone, Serialize, PartialEq, PartialOrd)]
pub struct GroupKey {
    /// Dataset.
    pub dataset: String,
    /// Model.
    pub model: String,
    /// Normalisation.
    pub norm: String,
    /// Optimizer kind.
    pub optimizer: String,
    /// η.
    pub lr: f64,
    /// β.
    pub beta: f64,
    /// ν (QHM only; NaN otherwise).
    pub nu: f64,
    /// Training examples.
    pub n_train: u64,
    /// Stopping rule.
    pub rule: String,
    /// The thresholds the runs checked.
    pub eps: Vec<f64>,
    /// Rules checked from this epoch on.
    pub min_epochs: u64,
    /// Full-gradient check interval in steps, as given (0: once per epoch).
    pub check_every: u64,
}

impl GroupKey {
    fn of(r: &CriticalRun, rule: &str) -> Self {
        let mut eps = r.eps.clone();
        eps.sort_by(f64::total_cmp);
        Self {
            dataset: r.run.dataset.clone(),
            model: r.run.model.clone(),
            norm: r.run.norm.clone(),
            optimizer: r.run.optimizer.clone(),
            lr: r.run.lr,
            beta: r.run.beta,
            nu: if r.run.optimizer == "qhm" {
                r.run.nu
            } else {
                f64::NAN
            },
            n_train: r.run.n_train,
            rule: rule.to_string(),
            eps,
            min_epochs: r.min_epochs,
            check_every: if rule == "full-gradient" {
                r.check_every
            } else {
                0
            },
        }
    }

    fn text(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}|{}|{}|{}|{}|{:?}|{}|{}",
            self.dataset,
            self.model,
            self.norm,
            self.optimizer,
            self.lr,
            self.beta,
            self.nu,
            self.n_train,
            self.rule,
            self.eps,
            self.min_epochs,
            self.check_every
        )
    }

    /// The optimizer (for the back-solve factor); `None` when the name is unknown.
    pub fn optimizer(&self) -> Option<Optimizer> {
        let kind = OptimizerKind::parse(&self.optimizer).ok()?;
        let nu = if self.nu.is_finite() { self.nu } else { 0.0 };
        Optimizer::new(kind, self.lr, self.beta, nu).ok()
    }
}

/// The analysis of one (group, ε).
#[derive(Debug, Clone, Serialize)]
pub struct EpsResult {
    /// ε.
    pub eps: f64,
    /// The SFO curve (median over seeds per b, quantiles, censored counts, b*, bootstrap CI).
    pub curve: SfoCurve,
    /// b*ε²/(η·factor) (None without a finite b* or a factor).
    pub c2_backsolve: Option<f64>,
    /// The back-solve at the ends of b*'s bootstrap interval.
    pub c2_backsolve_ci95: [Option<f64>; 2],
    /// Direct C²: median over seeds at b*'s grid batch of each run's median after step 0.
    pub c2_direct_bstar: f64,
    /// Direct C²: median over seeds at b*'s grid batch of the measurement nearest the hit.
    pub c2_direct_hit_bstar: f64,
    /// Direct C²: median over every run of the group (all b) of its median.
    pub c2_direct_all: f64,
    /// c2_backsolve / c2_direct_bstar (the paper: ≥ 1, the back-solve is an upper bound).
    pub ratio: f64,
    /// c2_backsolve / c2_direct_hit_bstar.
    pub ratio_hit: f64,
    /// McCandlish B_simple: median over seeds at b*'s grid batch of each run's median.
    pub b_simple_bstar: f64,
    /// B_simple at the measurement nearest the hit, median over seeds at b*'s grid batch.
    pub b_simple_hit_bstar: f64,
    /// The lower bound η·factor·C²/ε² on b* with the direct C² (c2_direct_bstar).
    pub b_star_lower_bound: Option<f64>,
}

/// One group: the runs sharing a [`GroupKey`], analysed at every ε.
#[derive(Debug, Clone, Serialize)]
pub struct GroupResult {
    /// The key.
    pub key: GroupKey,
    /// Batch sizes (increasing).
    pub batches: Vec<usize>,
    /// Seeds used (present at every batch size).
    pub seeds: Vec<u64>,
    /// Run folders left out (seed missing at some batch size, or a duplicate).
    pub dropped: Vec<String>,
    /// The back-solve factor (None for QHM/Nesterov or β = 0 SHB: the reason is in
    /// `factor_open`).
    pub sfo_factor: Option<f64>,
    /// Why there is no factor.
    pub factor_open: Option<String>,
    /// Per ε.
    pub per_eps: Vec<EpsResult>,
    /// b* ∝ ε^k fit (two or more ε with interior b*).
    pub fit: Option<ExponentFit>,
    /// Run folders per batch size (rows) and seed (columns, as in `seeds`).
    pub run_ids: Vec<Vec<String>>,
}

/// The hitting-time table of one group (`runs[j][i]`: batch j, seed i).
pub fn sweep_runs(key: &GroupKey, batches: &[usize], runs: &[Vec<&CriticalRun>]) -> SweepRuns {
    let times = key
        .eps
        .iter()
        .map(|&e| {
            runs.iter()
                .map(|row| {
                    row.iter()
                        .map(|r| r.hit(&key.rule, e).and_then(|h| h.step).map(|s| s as usize))
                        .collect()
                })
                .collect()
        })
        .collect();
    let diverged = runs
        .iter()
        .map(|row| row.iter().map(|r| r.diverged).collect())
        .collect();
    let max_steps = runs
        .iter()
        .flatten()
        .map(|r| r.run.steps as usize)
        .max()
        .unwrap_or(0);
    SweepRuns {
        batches: batches.to_vec(),
        eps: key.eps.clone(),
        times,
        diverged,
        steps_simulated: runs.iter().flatten().map(|r| r.run.steps).sum(),
        max_steps,
    }
}

/// Whether censoring cannot have moved b*: every b whose median SFO is +∞ has
/// b × (its shortest censored run's steps) ≥ the curve's minimum.
pub fn censoring_safe(curve: &SfoCurve, runs: &[Vec<&CriticalRun>], rule: &str) -> bool {
    let nmin = curve
        .rows
        .iter()
        .map(|r| r.sfo_median)
        .fold(f64::INFINITY, f64::min);
    curve.rows.iter().zip(runs).all(|(row, rs)| {
        if row.sfo_median.is_finite() {
            return true;
        }
        let horizon = rs
            .iter()
            .filter(|r| r.hit(rule, curve.eps).is_none_or(|h| h.censored))
            .map(|r| r.run.steps)
            .min()
            .unwrap_or(0);
        row.batch as f64 * horizon as f64 >= nmin
    })
}

fn med_of(rs: &[&CriticalRun], f: impl Fn(&CriticalRun) -> f64) -> f64 {
    median(&rs.iter().map(|r| f(r)).collect::<Vec<_>>())
}

/// Group the runs and analyse every group; `boot` bootstrap replicates from `seed`.
pub fn analyze(runs: &[CriticalRun], boot: usize, seed: u64) -> Vec<GroupResult> {
    // key text → (key, batch → seed → runs)
    type Cells<'a> = BTreeMap<usize, BTreeMap<u64, Vec<&'a CriticalRun>>>;
    let mut groups: BTreeMap<String, (GroupKey, Cells)> = BTreeMap::new();
    for r in runs {
        for rule in &r.rules {
            let key = GroupKey::of(r, rule);
            let entry = groups
                .entry(key.text())
                .or_insert_with(|| (key, BTreeMap::new()));
            entry
                .1
                .entry(r.run.batch)
                .or_default()
                .entry(r.run.seed)
                .or_default()
                .push(r);
        }
    }
    groups
        .into_values()
        .map(|(key, cells)| analyze_group(key, &cells, boot, seed))
        .collect()
}

fn analyze_group(
    key: GroupKey,
    cells: &BTreeMap<usize, BTreeMap<u64, Vec<&CriticalRun>>>,
    boot: usize,
    seed: u64,
) -> GroupResult {
    let batches: Vec<usize> = cells.keys().copied().collect();
    let mut seeds: Vec<u64> = cells
        .values()
        .next()
        .map(|m| m.keys().copied().collect())
        .unwrap_or_default();
    seeds.retain(|s| cells.values().all(|m| m.contains_key(s)));
    let mut dropped = Vec::new();
    let mut table: Vec<Vec<&CriticalRun>> = Vec::new();
    for m in cells.values() {
        let mut row = Vec::new();
        for (s, rs) in m {
            let keep = seeds.contains(s);
            for (k, r) in rs.iter().enumerate() {
                if keep && k == 0 {
                    row.push(*r);
                } else {
                    dropped.push(r.run.id.clone());
                }
            }
        }
        table.push(row);
    }
    let opt = key.optimizer();
    let factor = opt
        .as_ref()
        .map(|o| theory::sfo_factor(o.kind, o.beta))
        .unwrap_or_else(|| {
            Err(Error::Open(format!(
                "[open] unknown optimizer {}",
                key.optimizer
            )))
        });
    let run_ids = table
        .iter()
        .map(|row| row.iter().map(|r| r.run.id.clone()).collect())
        .collect();
    if seeds.is_empty() {
        return GroupResult {
            key,
            batches,
            seeds,
            dropped,
            sfo_factor: factor.as_ref().ok().copied(),
            factor_open: factor.as_ref().err().map(|e| e.to_string()),
            per_eps: Vec::new(),
            fit: None,
            run_ids,
        };
    }
    let sr = sweep_runs(&key, &batches, &table);
    let bs = critical::bootstrap(&sr, boot, seed);
    let mut curves = critical::analyze(&sr, &bs);
    for c in curves.iter_mut() {
        c.censoring_safe = censoring_safe(c, &table, &key.rule);
    }
    let fit = if curves.len() >= 2 {
        critical::fit_exponent(&curves, &bs)
    } else {
        None
    };
    let all: Vec<&CriticalRun> = table.iter().flatten().copied().collect();
    let per_eps = curves
        .into_iter()
        .map(|curve| {
            let eps = curve.eps;
            let b_star = curve.b_star.map(|b: BStar| b.value);
            let at = curve
                .b_star
                .and_then(|b| batches.iter().position(|&x| x == b.grid))
                .map(|j| table[j].clone())
                .unwrap_or_default();
            let at_hit = |r: &CriticalRun, f: fn(&SeriesPoint) -> f64| {
                r.hit(&key.rule, eps)
                    .and_then(|h| h.step)
                    .and_then(|t| r.nearest(t))
                    .map_or(f64::NAN, f)
            };
            let (c2_backsolve, ci) = match &opt {
                Some(o) => (
                    critical::c2_estimate(o, eps, b_star),
                    curve
                        .b_star_ci95
                        .map(|b| critical::c2_estimate(o, eps, Some(b)).filter(|v| v.is_finite())),
                ),
                None => (None, [None, None]),
            };
            let c2_direct_bstar = med_of(&at, |r| r.run_median(|p| p.c2));
            let c2_direct_hit_bstar = med_of(&at, |r| at_hit(r, |p| p.c2));
            let ratio = |d: f64| c2_backsolve.map_or(f64::NAN, |c| c / d);
            let lower = factor.as_ref().ok().and_then(|&f| {
                theory::critical_batch_lower_bound(c2_direct_bstar, eps, key.lr, f).ok()
            });
            EpsResult {
                eps,
                c2_backsolve,
                c2_backsolve_ci95: ci,
                c2_direct_bstar,
                c2_direct_hit_bstar,
                c2_direct_all: med_of(&all, |r| r.run_median(|p| p.c2)),
                ratio: ratio(c2_direct_bstar),
                ratio_hit: ratio(c2_direct_hit_bstar),
                b_simple_bstar: med_of(&at, |r| r.run_median(|p| p.b_simple)),
                b_simple_hit_bstar: med_of(&at, |r| at_hit(r, |p| p.b_simple)),
                b_star_lower_bound: lower,
                curve,
            }
        })
        .collect();
    GroupResult {
        key,
        batches,
        seeds,
        dropped,
        sfo_factor: factor.as_ref().ok().copied(),
        factor_open: factor.as_ref().err().map(|e| e.to_string()),
        per_eps,
        fit,
        run_ids,
    }
}

/// Columns of the group part of every CSV row (`group_seeds`: the seeds present at every batch
/// size, the ones used; `sfo.csv`'s own `seeds` column counts the seeds of its row).
pub const GROUP_COLUMNS: [&str; 12] = [
    "dataset",
    "model",
    "norm",
    "optimizer",
    "lr",
    "beta",
    "nu",
    "n_train",
    "rule",
    "min_epochs",
    "check_every",
    "group_seeds",
];

fn group_cells(g: &GroupResult) -> Vec<String> {
    let k = &g.key;
    vec![
        k.dataset.clone(),
        k.model.clone(),
        k.norm.clone(),
        k.optimizer.clone(),
        k.lr.to_string(),
        k.beta.to_string(),
        critical::cell(k.nu),
        k.n_train.to_string(),
        k.rule.clone(),
        k.min_epochs.to_string(),
        k.check_every.to_string(),
        g.seeds.len().to_string(),
    ]
}

/// `sfo.csv`: one row per (group, ε, b): [`GROUP_COLUMNS`] + [`critical::SFO_COLUMNS`] + the
/// b* interval and edge flag, and whether censoring is safe.
pub fn sfo_table(groups: &[GroupResult]) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let mut h: Vec<&str> = GROUP_COLUMNS.to_vec();
    h.extend(critical::SFO_COLUMNS);
    h.extend([
        "b_star_ci95_low",
        "b_star_ci95_high",
        "b_star_at_edge",
        "censoring_safe",
    ]);
    let mut rows = Vec::new();
    for g in groups {
        for e in &g.per_eps {
            let c = &e.curve;
            for r in &c.rows {
                let mut row = group_cells(g);
                row.extend(critical::sfo_cells(c, r));
                row.extend([
                    critical::cell(c.b_star_ci95[0]),
                    critical::cell(c.b_star_ci95[1]),
                    c.b_star.map_or(String::new(), |b| b.at_edge.to_string()),
                    c.censoring_safe.to_string(),
                ]);
                rows.push(row);
            }
        }
    }
    (h, rows)
}

fn opt_cell(v: Option<f64>) -> String {
    v.map_or(String::new(), critical::cell)
}

/// `c2.csv`: one row per (group, ε): b*, its interval, the back-solve, the direct C² three
/// ways, the ratios, B_simple two ways, and the lower bound on b* from the direct C².
pub fn c2_table(groups: &[GroupResult]) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let mut h: Vec<&str> = GROUP_COLUMNS.to_vec();
    h.extend([
        "eps",
        "sfo_factor",
        "b_star",
        "b_star_grid",
        "b_star_ci95_low",
        "b_star_ci95_high",
        "b_star_at_edge",
        "censoring_safe",
        "c2_backsolve",
        "c2_backsolve_ci95_low",
        "c2_backsolve_ci95_high",
        "c2_direct_bstar",
        "c2_direct_hit_bstar",
        "c2_direct_all",
        "ratio",
        "ratio_hit",
        "b_simple_bstar",
        "b_simple_hit_bstar",
        "b_star_lower_bound",
    ]);
    let mut rows = Vec::new();
    for g in groups {
        for e in &g.per_eps {
            let c = &e.curve;
            let mut row = group_cells(g);
            row.extend([
                e.eps.to_string(),
                opt_cell(g.sfo_factor),
                opt_cell(c.b_star.map(|b| b.value)),
                c.b_star.map_or(String::new(), |b| b.grid.to_string()),
                critical::cell(c.b_star_ci95[0]),
                critical::cell(c.b_star_ci95[1]),
                c.b_star.map_or(String::new(), |b| b.at_edge.to_string()),
                c.censoring_safe.to_string(),
                opt_cell(e.c2_backsolve),
                opt_cell(e.c2_backsolve_ci95[0]),
                opt_cell(e.c2_backsolve_ci95[1]),
                critical::cell(e.c2_direct_bstar),
                critical::cell(e.c2_direct_hit_bstar),
                critical::cell(e.c2_direct_all),
                critical::cell(e.ratio),
                critical::cell(e.ratio_hit),
                critical::cell(e.b_simple_bstar),
                critical::cell(e.b_simple_hit_bstar),
                opt_cell(e.b_star_lower_bound),
            ]);
            rows.push(row);
        }
    }
    (h, rows)
}

/// Columns of [`run_rows`].
pub const RUN_COLUMNS: [&str; 20] = [
    "id",
    "dataset",
    "model",
    "norm",
    "optimizer",
    "lr",
    "beta",
    "batch",
    "seed",
    "n_train",
    "steps",
    "rule",
    "eps",
    "hit_step",
    "hit_epoch",
    "sfo",
    "censored",
    "c2_median",
    "c2_at_hit",
    "b_simple_at_hit",
];

/// `runs.csv`: one row per (run, rule, ε).
pub fn run_rows(runs: &[CriticalRun]) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for r in runs {
        let c2_med = r.run_median(|p| p.c2);
        for h in &r.hits {
            let near = h.step.and_then(|t| r.nearest(t));
            let u = |v: Option<u64>| v.map_or(String::new(), |x| x.to_string());
            rows.push(vec![
                r.run.id.clone(),
                r.run.dataset.clone(),
                r.run.model.clone(),
                r.run.norm.clone(),
                r.run.optimizer.clone(),
                r.run.lr.to_string(),
                r.run.beta.to_string(),
                r.run.batch.to_string(),
                r.run.seed.to_string(),
                r.run.n_train.to_string(),
                r.run.steps.to_string(),
                h.rule.clone(),
                h.eps.to_string(),
                u(h.step),
                u(h.epoch),
                u(h.sfo),
                h.censored.to_string(),
                critical::cell(c2_med),
                near.map_or(String::new(), |p| critical::cell(p.c2)),
                near.map_or(String::new(), |p| critical::cell(p.b_simple)),
            ]);
        }
    }
    rows
}

/// Write `sfo.csv`, `c2.csv`, `runs.csv` and `critical.json` (provenance, settings, groups)
/// into `dir`, atomically, `critical.json` last.
pub fn write_outputs(
    dir: &Path,
    runs: &[CriticalRun],
    groups: &[GroupResult],
    settings: Value,
) -> Result<()> {
    use crate::output::{write_csv, write_json, Provenance};
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let (h, rows) = sfo_table(groups);
    write_csv(&dir.join("sfo.csv"), &h, rows)?;
    let (h, rows) = c2_table(groups);
    write_csv(&dir.join("c2.csv"), &h, rows)?;
    write_csv(&dir.join("runs.csv"), &RUN_COLUMNS, run_rows(runs))?;
    write_json(
        &dir.join("critical.json"),
        &serde_json::json!({
            "provenance": Provenance::collect(),
            "settings": settings,
            "groups": groups,
        }),
    )
}

/// A plain-text summary of the groups.
pub fn describe(groups: &[GroupResult]) -> String {
    use std::fmt::Write;
    let f = |v: f64| {
        if v.is_finite() {
            format!("{v:.4}")
        } else if v == f64::INFINITY {
            "inf".into()
        } else {
            "-".into()
        }
    };
    let mut s = String::new();
    for g in groups {
        let k = &g.key;
        let _ = writeln!(
            s,
            "{} {} norm={} {} η={} β={} n={} rule={} (from epoch {}{}) — {} seeds × {} batch sizes{}",
            k.dataset,
            k.model,
            k.norm,
            k.optimizer,
            k.lr,
            k.beta,
            k.n_train,
            k.rule,
            k.min_epochs,
            match (k.rule.as_str(), k.check_every) {
                ("full-gradient", 0) => ", once per epoch".to_string(),
                ("full-gradient", c) => format!(", every {c} steps"),
                _ => String::new(),
            },
            g.seeds.len(),
            g.batches.len(),
            if g.dropped.is_empty() {
                String::new()
            } else {
                format!(", {} runs dropped (seed not at every b)", g.dropped.len())
            }
        );
        for e in &g.per_eps {
            let c = &e.curve;
            let _ = writeln!(s, "  ε = {}", e.eps);
            let _ = writeln!(
                s,
                "    {:>6} {:>14} {:>10} {:>9}",
                "b", "SFO (median)", "T median", "censored"
            );
            for r in &c.rows {
                let _ = writeln!(
                    s,
                    "    {:>6} {:>14} {:>10} {:>6}/{}",
                    r.batch,
                    f(r.sfo_median),
                    f(r.steps_median),
                    r.censored,
                    r.seeds
                );
            }
            let _ = writeln!(
                s,
                "    b* = {} (95% CI [{}, {}]){}{}",
                c.b_star.map_or("-".into(), |b| f(b.value)),
                f(c.b_star_ci95[0]),
                f(c.b_star_ci95[1]),
                if c.b_star.is_some_and(|b| b.at_edge) {
                    " at the grid's edge"
                } else {
                    ""
                },
                if c.censoring_safe {
                    ""
                } else {
                    " (censoring may have moved it)"
                }
            );
            let _ = writeln!(
                s,
                "    C² back-solve b*ε²/(η·factor) = {}   direct at b*: run median {}, at hit {} \
                 (all runs {})   ratio {} / {}   B_simple at b* {} (at hit {})",
                e.c2_backsolve.map_or("-".into(), f),
                f(e.c2_direct_bstar),
                f(e.c2_direct_hit_bstar),
                f(e.c2_direct_all),
                f(e.ratio),
                f(e.ratio_hit),
                f(e.b_simple_bstar),
                f(e.b_simple_hit_bstar)
            );
        }
        if let Some(o) = &g.factor_open {
            let _ = writeln!(s, "  no back-solve: {o}");
        }
        if let Some(fit) = &g.fit {
            let _ = writeln!(
                s,
                "  b* ∝ ε^k: k = {} (bootstrap 95% CI [{}, {}]; the paper: −2)",
                f(fit.exponent),
                f(fit.exponent_ci95[0]),
                f(fit.exponent_ci95[1])
            );
        }
    }
    s
}

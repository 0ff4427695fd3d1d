//! Real-network analysis (claim C11; C4, C7, C10 on a real network) from a folder of
//! `mslab train` runs (a sweep's output, or several). Pure Rust: reads `summary.json`,
//! `series.csv` and `epochs.csv`; needs no libtorch.
//!
//! What it computes:
//! - per run: final test accuracy, δ_pred (the paper's formula with the measured C² and K, the
//!   first `delta_pred_*` column) and δ_emp = η‖ω‖, both averaged over the measurements after
//!   step 0 (step 0 is the initialisation, not training);
//! - per cell (everything but the seed): mean and standard deviation of the accuracy over seeds;
//! - per family (dataset, model, norm, epochs, training examples): Spearman ρ and Kendall τ_b of
//!   cell accuracy with δ_pred and with δ_emp, with seeded percentile-bootstrap 95% intervals
//!   (cells resampled with replacement), and a unimodality check (is the best δ interior, and is
//!   it in [0.1, 1]?);
//! - C7 on a real network: C² back-solved from SGD's measured ‖ω‖ (b·E‖ω‖², since
//!   E‖ω‖² = C²/b for SGD) against the direct micro-batch C², and B_simple;
//! - C4: skewness and excess kurtosis of the pooled random projections of ω with their z-scores
//!   (SE √(6/n), √(24/n)), the share of measurements consistent with a Gaussian at 5%;
//! - C10: E‖ω‖ and δ_emp per optimizer at matched η (same b) and SGD at η/(1−β) against the
//!   momentum runs at (η, β).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rand::Rng;
use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::runner::seed_rng;

/// One training run, reduced to what the analysis needs.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    /// Folder, relative to the analysed root.
    pub id: String,
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
    /// β (0 for SGD).
    pub beta: f64,
    /// ν (QHM).
    pub nu: f64,
    /// Batch size.
    pub batch: usize,
    /// Seed.
    pub seed: u64,
    /// Epochs.
    pub epochs: u64,
    /// Training examples used.
    pub n_train: u64,
    /// Updates done.
    pub steps: u64,
    /// Final test accuracy.
    pub test_acc: f64,
    /// Final training loss.
    pub train_loss: f64,
    /// Mean δ_emp over the measurements after step 0.
    pub delta_emp: f64,
    /// Mean δ_pred (paper's formula) over the measurements after step 0.
    pub delta_pred: f64,
    /// Which formula δ_pred is.
    pub delta_pred_key: String,
    /// Mean ‖ω‖ after step 0.
    pub omega_mean: f64,
    /// Mean ‖ω‖² after step 0.
    pub omega_sq_mean: f64,
    /// Mean direct C² after step 0.
    pub c2_mean: f64,
    /// Mean K after step 0.
    pub k_mean: f64,
    /// Median B_simple after step 0.
    pub b_simple_median: f64,
    /// Mean skewness of the pooled projections.
    pub proj_skew_mean: f64,
    /// Mean excess kurtosis of the pooled projections.
    pub proj_exkurt_mean: f64,
    /// Share of measurements with |z_skew| < 1.96 and |z_exkurt| < 1.96.
    pub gaussian_share: f64,
    /// Mean excess kurtosis of the coordinates of ω.
    pub omega_exkurt_mean: f64,
    /// Measurements used (after step 0).
    pub n_measurements: usize,
    /// Training images per second.
    pub images_per_s: f64,
    /// Seconds in training steps.
    pub train_seconds: f64,
    /// Seconds in measurements.
    pub measure_seconds: f64,
    /// GPU (or CPU) name.
    pub device_name: String,
    /// CUDA runtime.
    pub cuda: String,
    /// libtorch.
    pub libtorch: String,
    /// Commit the binary was built at (`build_commit`), else the `git_commit` it recorded.
    pub git_commit: String,
}

fn num(v: &Value, path: &[&str]) -> Option<f64> {
    let mut cur = v;
    for k in path {
        cur = cur.get(k)?;
    }
    cur.as_f64()
}

fn text(v: &Value, path: &[&str]) -> String {
    let mut cur = v;
    for k in path {
        match cur.get(k) {
            Some(x) => cur = x,
            None => return String::new(),
        }
    }
    match cur {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Mean of the finite values (NaN if none).
pub fn mean(xs: &[f64]) -> f64 {
    let v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// Sample standard deviation of the finite values (NaN if fewer than 2).
pub fn sd(xs: &[f64]) -> f64 {
    let v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    if v.len() < 2 {
        return f64::NAN;
    }
    let m = v.iter().sum::<f64>() / v.len() as f64;
    (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
}

/// Median of the finite values (NaN if none).
pub fn median(xs: &[f64]) -> f64 {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// Read one run folder (`summary.json` + `series.csv`; `epochs.csv` is not needed).
pub fn read_run(root: &Path, dir: &Path) -> Result<RunRecord> {
    let sp = dir.join("summary.json");
    let s: Value = serde_json::from_str(
        &std::fs::read_to_string(&sp).map_err(|e| Error::file(&sp, format!("cannot read: {e}")))?,
    )
    .map_err(|e| Error::file(&sp, format!("not JSON: {e}")))?;
    let c = s
        .get("config")
        .ok_or_else(|| Error::file(&sp, "no `config`: not an `mslab train` summary"))?;
    let batch = num(c, &["batch"]).ok_or_else(|| Error::file(&sp, "no config.batch"))? as usize;
    let lr = num(c, &["optimizer", "lr"]).ok_or_else(|| Error::file(&sp, "no config.optimizer"))?;
    let series_path = dir.join("series.csv");
    let mut cols: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut pred_key = String::new();
    if series_path.exists() {
        let mut r = csv::Reader::from_path(&series_path)
            .map_err(|e| Error::file(&series_path, format!("cannot read CSV: {e}")))?;
        let header: Vec<String> = r
            .headers()
            .map_err(|e| Error::file(&series_path, e))?
            .iter()
            .map(str::to_string)
            .collect();
        if let Some(h) = header.iter().find(|h| h.starts_with("delta_pred_")) {
            pred_key = h.trim_start_matches("delta_pred_").to_string();
        }
        for rec in r.records() {
            let rec = rec.map_err(|e| Error::file(&series_path, e))?;
            let step: f64 = rec.get(0).and_then(|x| x.parse().ok()).unwrap_or(f64::NAN);
            if step == 0.0 {
                continue;
            }
            for (h, x) in header.iter().zip(rec.iter()) {
                cols.entry(h.clone())
                    .or_default()
                    .push(x.parse().unwrap_or(f64::NAN));
            }
        }
    }
    let col = |k: &str| cols.get(k).cloned().unwrap_or_default();
    let omega = col("omega_norm");
    let proj_n = col("proj_n");
    let (skew, kurt) = (col("proj_skew"), col("proj_exkurt"));
    let gauss: Vec<f64> = (0..proj_n.len())
        .map(|i| {
            let n = proj_n[i].max(1.0);
            let zs = skew[i] / (6.0 / n).sqrt();
            let zk = kurt[i] / (24.0 / n).sqrt();
            if zs.abs() < 1.96 && zk.abs() < 1.96 {
                1.0
            } else {
                0.0
            }
        })
        .collect();
    let id = dir.strip_prefix(root).unwrap_or(dir).display().to_string();
    Ok(RunRecord {
        id,
        dataset: text(c, &["dataset"]),
        model: text(c, &["model"]),
        norm: text(c, &["norm"]),
        optimizer: text(c, &["optimizer", "kind"]),
        lr,
        beta: num(c, &["optimizer", "beta"]).unwrap_or(0.0),
        nu: num(c, &["optimizer", "nu"]).unwrap_or(f64::NAN),
        batch,
        seed: num(c, &["seed"]).unwrap_or(0.0) as u64,
        epochs: num(c, &["epochs"]).unwrap_or(0.0) as u64,
        n_train: num(&s, &["n_train"]).unwrap_or(0.0) as u64,
        steps: num(&s, &["steps"]).unwrap_or(0.0) as u64,
        test_acc: num(&s, &["final_epoch", "test_acc"]).unwrap_or(f64::NAN),
        train_loss: num(&s, &["final_epoch", "train_loss"]).unwrap_or(f64::NAN),
        delta_emp: mean(&col("delta_emp")),
        delta_pred: mean(&col(&format!("delta_pred_{pred_key}"))),
        delta_pred_key: pred_key,
        omega_mean: mean(&omega),
        omega_sq_mean: mean(&omega.iter().map(|x| x * x).collect::<Vec<_>>()),
        c2_mean: mean(&col("c2")),
        k_mean: mean(&col("k")),
        b_simple_median: median(&col("b_simple")),
        proj_skew_mean: mean(&skew),
        proj_exkurt_mean: mean(&kurt),
        gaussian_share: mean(&gauss),
        omega_exkurt_mean: mean(&col("omega_exkurt")),
        n_measurements: omega.len(),
        images_per_s: num(&s, &["timing", "train_images_per_s"]).unwrap_or(f64::NAN),
        train_seconds: num(&s, &["timing", "train_seconds"]).unwrap_or(f64::NAN),
        measure_seconds: num(&s, &["timing", "measure_seconds"]).unwrap_or(f64::NAN),
        device_name: text(&s, &["device", "name"]),
        cuda: text(&s, &["device", "cuda_runtime"]),
        libtorch: text(&s, &["device", "libtorch"]),
        // The commit the binary was built at (build.rs) when recorded; older runs only have
        // the commit of the folder the binary ran in.
        git_commit: match text(&s, &["provenance", "build_commit"]) {
            c if c.is_empty() || c == "unknown" => text(&s, &["provenance", "git_commit"]),
            c => c,
        },
    })
}

/// Every `mslab train` run below `root` (folders holding a `summary.json` with a `config`),
/// searched to depth 4, sorted by folder.
pub fn collect_runs(root: &Path) -> Result<Vec<RunRecord>> {
    if !root.is_dir() {
        return Err(Error::invalid(
            "runs",
            root.display(),
            "a folder of `mslab train` runs (or of sweeps of them)",
        ));
    }
    let mut dirs = Vec::new();
    let mut stack: Vec<(PathBuf, usize)> = vec![(root.to_path_buf(), 0)];
    while let Some((d, depth)) = stack.pop() {
        if d.join("summary.json").is_file() {
            dirs.push(d.clone());
        }
        if depth >= 4 {
            continue;
        }
        let rd = std::fs::read_dir(&d).map_err(|e| Error::file(&d, e))?;
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push((e.path(), depth + 1));
            }
        }
    }
    dirs.sort();
    let mut out = Vec::new();
    for d in dirs {
        // Folders whose summary is not a train summary (other subcommands) are skipped.
        if let Ok(r) = read_run(root, &d) {
            out.push(r);
        }
    }
    if out.is_empty() {
        return Err(Error::invalid(
            "runs",
            root.display(),
            "a folder holding at least one `mslab train` run (summary.json with config)",
        ));
    }
    Ok(out)
}

/// Average ranks (1-based), ties get the mean of their ranks.
pub fn ranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut r = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

/// Pearson correlation (NaN when either side is constant or n < 2).
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    if n < 2 {
        return f64::NAN;
    }
    let mx = x[..n].iter().sum::<f64>() / n as f64;
    let my = y[..n].iter().sum::<f64>() / n as f64;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (a, b) = (x[i] - mx, y[i] - my);
        sxy += a * b;
        sxx += a * a;
        syy += b * b;
    }
    if sxx <= 0.0 || syy <= 0.0 {
        f64::NAN
    } else {
        sxy / (sxx * syy).sqrt()
    }
}

/// Spearman's ρ: Pearson on average ranks (ties handled).
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    pearson(&ranks(x), &ranks(y))
}

/// Kendall's τ_b (ties in either variable handled; NaN when one side is constant).
pub fn kendall_tau_b(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    let (mut conc, mut disc, mut tx, mut ty) = (0i64, 0i64, 0i64, 0i64);
    for i in 0..n {
        for j in (i + 1)..n {
            let dx = x[i] - x[j];
            let dy = y[i] - y[j];
            if dx == 0.0 && dy == 0.0 {
                continue;
            } else if dx == 0.0 {
                tx += 1;
            } else if dy == 0.0 {
                ty += 1;
            } else if (dx > 0.0) == (dy > 0.0) {
                conc += 1;
            } else {
                disc += 1;
            }
        }
    }
    let d = (((conc + disc + tx) as f64) * ((conc + disc + ty) as f64)).sqrt();
    if d == 0.0 {
        f64::NAN
    } else {
        (conc - disc) as f64 / d
    }
}

/// A correlation with its bootstrap interval.
#[derive(Debug, Clone, Serialize)]
pub struct Correlation {
    /// Pairs used (finite on both sides).
    pub n: usize,
    /// Spearman ρ.
    pub spearman: f64,
    /// Percentile-bootstrap 95% interval of ρ.
    pub spearman_ci: [f64; 2],
    /// Kendall τ_b.
    pub kendall: f64,
    /// Percentile-bootstrap 95% interval of τ_b.
    pub kendall_ci: [f64; 2],
    /// Bootstrap resamples used (those where the statistic was defined).
    pub resamples: usize,
}

/// Percentile-bootstrap 95% interval of `stat` over pairs resampled with replacement; resamples
/// where the statistic is undefined (a constant side) are dropped. Seeded: same seed, same
/// interval.
pub fn bootstrap_ci(
    x: &[f64],
    y: &[f64],
    stat: fn(&[f64], &[f64]) -> f64,
    n_boot: usize,
    seed: u64,
    stream: u64,
) -> ([f64; 2], usize) {
    let n = x.len().min(y.len());
    if n < 2 {
        return ([f64::NAN, f64::NAN], 0);
    }
    let mut rng = seed_rng(seed, stream);
    let mut vals = Vec::with_capacity(n_boot);
    let (mut bx, mut by) = (vec![0.0; n], vec![0.0; n]);
    for _ in 0..n_boot {
        for i in 0..n {
            let k = rng.random_range(0..n);
            bx[i] = x[k];
            by[i] = y[k];
        }
        let v = stat(&bx, &by);
        if v.is_finite() {
            vals.push(v);
        }
    }
    if vals.is_empty() {
        return ([f64::NAN, f64::NAN], 0);
    }
    vals.sort_by(f64::total_cmp);
    let q = |p: f64| vals[((p * (vals.len() - 1) as f64).round() as usize).min(vals.len() - 1)];
    ([q(0.025), q(0.975)], vals.len())
}

/// Spearman and Kendall with seeded bootstrap intervals over the finite pairs.
pub fn correlate(x: &[f64], y: &[f64], n_boot: usize, seed: u64) -> Correlation {
    let (fx, fy): (Vec<f64>, Vec<f64>) = x
        .iter()
        .zip(y)
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .map(|(a, b)| (*a, *b))
        .unzip();
    let (sci, ns) = bootstrap_ci(&fx, &fy, spearman, n_boot, seed, 1);
    let (kci, nk) = bootstrap_ci(&fx, &fy, kendall_tau_b, n_boot, seed, 2);
    Correlation {
        n: fx.len(),
        spearman: spearman(&fx, &fy),
        spearman_ci: sci,
        kendall: kendall_tau_b(&fx, &fy),
        kendall_ci: kci,
        resamples: ns.min(nk),
    }
}

/// Is the best accuracy at an interior δ?
#[derive(Debug, Clone, Serialize)]
pub struct Unimodality {
    /// Cells.
    pub n: usize,
    /// δ of the best cell.
    pub best_delta: f64,
    /// Its accuracy.
    pub best_acc: f64,
    /// Rank of the best δ among the cells sorted by δ (0 = smallest).
    pub best_rank: usize,
    /// Not the smallest and not the largest δ.
    pub interior: bool,
    /// 0.1 ≤ best δ ≤ 1.
    pub in_paper_range: bool,
    /// Best accuracy minus the accuracy at the smallest δ, in units of the pooled SE of the
    /// difference (seeds); > 2 is a clear drop towards small δ.
    pub z_low: f64,
    /// Same towards the largest δ.
    pub z_high: f64,
    /// Spearman ρ of accuracy with δ on the cells with δ ≤ best (should be > 0 if unimodal).
    pub rho_left: f64,
    /// Spearman ρ on the cells with δ ≥ best (should be < 0).
    pub rho_right: f64,
}

/// Unimodality check on cells (δ, mean accuracy, SE of the mean accuracy).
pub fn unimodality(cells: &[(f64, f64, f64)]) -> Option<Unimodality> {
    let mut c: Vec<(f64, f64, f64)> = cells
        .iter()
        .copied()
        .filter(|(d, a, _)| d.is_finite() && a.is_finite())
        .collect();
    if c.len() < 3 {
        return None;
    }
    c.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (bi, best) = c
        .iter()
        .enumerate()
        .max_by(|a, b| a.1 .1.total_cmp(&b.1 .1))
        .map(|(i, x)| (i, *x))?;
    let z = |o: (f64, f64, f64)| {
        let se = (best.2.powi(2) + o.2.powi(2)).sqrt();
        if se > 0.0 {
            (best.1 - o.1) / se
        } else {
            f64::NAN
        }
    };
    let side = |s: &[(f64, f64, f64)]| {
        let d: Vec<f64> = s.iter().map(|x| x.0).collect();
        let a: Vec<f64> = s.iter().map(|x| x.1).collect();
        spearman(&d, &a)
    };
    let n = c.len();
    Some(Unimodality {
        n,
        best_delta: best.0,
        best_acc: best.1,
        best_rank: bi,
        interior: bi > 0 && bi + 1 < n,
        in_paper_range: (0.1..=1.0).contains(&best.0),
        z_low: z(c[0]),
        z_high: z(c[n - 1]),
        rho_left: side(&c[..=bi]),
        rho_right: side(&c[bi..]),
    })
}

/// One cell: all seeds of one configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    /// Family key (dataset/model/norm/epochs/n_train).
    pub family: String,
    /// Optimizer.
    pub optimizer: String,
    /// η.
    pub lr: f64,
    /// β.
    pub beta: f64,
    /// Batch.
    pub batch: usize,
    /// Seeds.
    pub n: usize,
    /// Mean test accuracy.
    pub acc_mean: f64,
    /// SD over seeds.
    pub acc_sd: f64,
    /// Mean δ_pred.
    pub delta_pred: f64,
    /// Mean δ_emp.
    pub delta_emp: f64,
    /// Mean ‖ω‖.
    pub omega_mean: f64,
    /// Mean C² (direct).
    pub c2_mean: f64,
}

/// Family key of a run.
pub fn family(r: &RunRecord) -> String {
    format!(
        "{}/{}/{}/e{}/n{}",
        r.dataset, r.model, r.norm, r.epochs, r.n_train
    )
}

/// Group runs into cells (sorted by family, optimizer, η, β, b).
pub fn cells(runs: &[RunRecord]) -> Vec<Cell> {
    let mut m: BTreeMap<(String, String, String, String, usize), Vec<&RunRecord>> = BTreeMap::new();
    for r in runs {
        m.entry((
            family(r),
            r.optimizer.clone(),
            format!("{:e}", r.lr),
            format!("{:e}", r.beta),
            r.batch,
        ))
        .or_default()
        .push(r);
    }
    m.into_iter()
        .map(|((fam, opt, _, _, b), rs)| {
            let g = |f: fn(&RunRecord) -> f64| rs.iter().map(|r| f(r)).collect::<Vec<f64>>();
            Cell {
                family: fam,
                optimizer: opt,
                lr: rs[0].lr,
                beta: rs[0].beta,
                batch: b,
                n: rs.len(),
                acc_mean: mean(&g(|r| r.test_acc)),
                acc_sd: sd(&g(|r| r.test_acc)),
                delta_pred: mean(&g(|r| r.delta_pred)),
                delta_emp: mean(&g(|r| r.delta_emp)),
                omega_mean: mean(&g(|r| r.omega_mean)),
                c2_mean: mean(&g(|r| r.c2_mean)),
            }
        })
        .collect()
}

/// Correlations and unimodality for one set of cells.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    /// Family.
    pub family: String,
    /// Which cells: "all" or an optimizer name.
    pub subset: String,
    /// Cells.
    pub n_cells: usize,
    /// Accuracy vs δ_pred.
    pub vs_delta_pred: Correlation,
    /// Accuracy vs δ_emp.
    pub vs_delta_emp: Correlation,
    /// Unimodality in δ_pred.
    pub unimodal_pred: Option<Unimodality>,
    /// Unimodality in δ_emp.
    pub unimodal_emp: Option<Unimodality>,
}

fn group(fam: &str, subset: &str, cs: &[&Cell], n_boot: usize, seed: u64) -> Group {
    let acc: Vec<f64> = cs.iter().map(|c| c.acc_mean).collect();
    let dp: Vec<f64> = cs.iter().map(|c| c.delta_pred).collect();
    let de: Vec<f64> = cs.iter().map(|c| c.delta_emp).collect();
    let se = |c: &Cell| {
        if c.n >= 2 && c.acc_sd.is_finite() {
            c.acc_sd / (c.n as f64).sqrt()
        } else {
            f64::NAN
        }
    };
    let up: Vec<(f64, f64, f64)> = cs
        .iter()
        .map(|c| (c.delta_pred, c.acc_mean, se(c)))
        .collect();
    let ue: Vec<(f64, f64, f64)> = cs
        .iter()
        .map(|c| (c.delta_emp, c.acc_mean, se(c)))
        .collect();
    Group {
        family: fam.to_string(),
        subset: subset.to_string(),
        n_cells: cs.len(),
        vs_delta_pred: correlate(&dp, &acc, n_boot, seed),
        vs_delta_emp: correlate(&de, &acc, n_boot, seed),
        unimodal_pred: unimodality(&up),
        unimodal_emp: unimodality(&ue),
    }
}

/// C² back-solved from SGD's ‖ω‖ against the direct estimate (one row per SGD run).
#[derive(Debug, Clone, Serialize)]
pub struct C2Row {
    /// Run.
    pub id: String,
    /// Batch.
    pub batch: usize,
    /// η.
    pub lr: f64,
    /// b·E‖ω‖².
    pub c2_backsolved: f64,
    /// Micro-batch C².
    pub c2_direct: f64,
    /// Ratio back-solved / direct.
    pub ratio: f64,
    /// Median B_simple.
    pub b_simple: f64,
}

/// E‖ω‖ per optimizer (C10).
#[derive(Debug, Clone, Serialize)]
pub struct OmegaRow {
    /// Family.
    pub family: String,
    /// Batch.
    pub batch: usize,
    /// Optimizer.
    pub optimizer: String,
    /// η.
    pub lr: f64,
    /// β.
    pub beta: f64,
    /// η/(1−β).
    pub eff_lr: f64,
    /// Mean ‖ω‖ over seeds.
    pub omega_mean: f64,
    /// Mean δ_emp.
    pub delta_emp: f64,
    /// ‖ω‖ / ‖ω_SGD‖ at the same η and b (NaN if no such SGD cell).
    pub ratio_matched_lr: f64,
    /// ‖ω‖ / ‖ω_SGD‖ with SGD at η/(1−β) and the same b.
    pub ratio_matched_eff_lr: f64,
    /// Accuracy.
    pub acc_mean: f64,
}

/// ω normality per family and optimizer (C4).
#[derive(Debug, Clone, Serialize)]
pub struct NormalityRow {
    /// Family.
    pub family: String,
    /// Optimizer.
    pub optimizer: String,
    /// η.
    pub lr: f64,
    /// Runs.
    pub runs: usize,
    /// Mean projection skewness.
    pub proj_skew: f64,
    /// Mean projection excess kurtosis.
    pub proj_exkurt: f64,
    /// Share of measurements consistent with a Gaussian at 5% (skew and kurtosis).
    pub gaussian_share: f64,
    /// Mean coordinate excess kurtosis.
    pub coord_exkurt: f64,
}

/// The whole analysis.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    /// Runs read.
    pub n_runs: usize,
    /// Bootstrap resamples and seed.
    pub n_boot: usize,
    /// Bootstrap seed.
    pub seed: u64,
    /// Devices, CUDA, libtorch, commits seen.
    pub devices: Vec<String>,
    /// Cells.
    pub cells: Vec<Cell>,
    /// Correlations and unimodality per family (all cells at the family's most common η, then
    /// per optimizer).
    pub groups: Vec<Group>,
    /// C² back-solve vs direct (SGD runs).
    pub c2: Vec<C2Row>,
    /// E‖ω‖ per optimizer.
    pub omega: Vec<OmegaRow>,
    /// Normality.
    pub normality: Vec<NormalityRow>,
    /// Throughput: total training images / total training seconds, and per-run means.
    pub images_total: f64,
    /// Sum of training + measurement seconds over runs.
    pub gpu_seconds_total: f64,
}

/// Analyse the runs.
pub fn analyze(runs: &[RunRecord], n_boot: usize, seed: u64) -> Analysis {
    let cs = cells(runs);
    let mut fams: BTreeMap<String, Vec<&Cell>> = BTreeMap::new();
    for c in &cs {
        fams.entry(c.family.clone()).or_default().push(c);
    }
    let mut groups = Vec::new();
    for (fam, v) in &fams {
        // The C11 grid is at one η: use the most common η of the family (SGD at η/(1−β) is C10's).
        let mut count: BTreeMap<String, usize> = BTreeMap::new();
        for c in v {
            *count.entry(format!("{:e}", c.lr)).or_default() += 1;
        }
        let main_lr = count
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(k, _)| k.clone())
            .unwrap_or_default();
        let at: Vec<&Cell> = v
            .iter()
            .copied()
            .filter(|c| format!("{:e}", c.lr) == main_lr)
            .collect();
        groups.push(group(fam, "all", &at, n_boot, seed));
        let mut opts: Vec<String> = at.iter().map(|c| c.optimizer.clone()).collect();
        opts.sort();
        opts.dedup();
        for o in opts {
            let sub: Vec<&Cell> = at.iter().copied().filter(|c| c.optimizer == o).collect();
            groups.push(group(fam, &o, &sub, n_boot, seed));
        }
        // All η together (includes SGD at η/(1−β)).
        if count.len() > 1 {
            groups.push(group(fam, "all-lr", v, n_boot, seed));
        }
    }
    let c2 = runs
        .iter()
        .filter(|r| r.optimizer == "sgd")
        .map(|r| {
            let back = r.batch as f64 * r.omega_sq_mean;
            C2Row {
                id: r.id.clone(),
                batch: r.batch,
                lr: r.lr,
                c2_backsolved: back,
                c2_direct: r.c2_mean,
                ratio: back / r.c2_mean,
                b_simple: r.b_simple_median,
            }
        })
        .collect();
    let find_sgd = |fam: &str, b: usize, lr: f64| {
        cs.iter().find(|c| {
            c.family == fam
                && c.optimizer == "sgd"
                && c.batch == b
                && (c.lr - lr).abs() <= 1e-9 * lr.abs().max(1.0)
        })
    };
    let omega = cs
        .iter()
        .map(|c| {
            let eff = c.lr / (1.0 - c.beta);
            let r1 = find_sgd(&c.family, c.batch, c.lr)
                .map_or(f64::NAN, |s| c.omega_mean / s.omega_mean);
            let r2 =
                find_sgd(&c.family, c.batch, eff).map_or(f64::NAN, |s| c.omega_mean / s.omega_mean);
            OmegaRow {
                family: c.family.clone(),
                batch: c.batch,
                optimizer: c.optimizer.clone(),
                lr: c.lr,
                beta: c.beta,
                eff_lr: eff,
                omega_mean: c.omega_mean,
                delta_emp: c.delta_emp,
                ratio_matched_lr: r1,
                ratio_matched_eff_lr: r2,
                acc_mean: c.acc_mean,
            }
        })
        .collect();
    let mut nm: BTreeMap<(String, String, String), Vec<&RunRecord>> = BTreeMap::new();
    for r in runs {
        nm.entry((family(r), r.optimizer.clone(), format!("{:e}", r.lr)))
            .or_default()
            .push(r);
    }
    let normality = nm
        .into_iter()
        .map(|((fam, opt, _), rs)| {
            let g = |f: fn(&RunRecord) -> f64| rs.iter().map(|r| f(r)).collect::<Vec<f64>>();
            NormalityRow {
                family: fam,
                optimizer: opt,
                lr: rs[0].lr,
                runs: rs.len(),
                proj_skew: mean(&g(|r| r.proj_skew_mean)),
                proj_exkurt: mean(&g(|r| r.proj_exkurt_mean)),
                gaussian_share: mean(&g(|r| r.gaussian_share)),
                coord_exkurt: mean(&g(|r| r.omega_exkurt_mean)),
            }
        })
        .collect();
    let mut devices: Vec<String> = runs
        .iter()
        .map(|r| {
            format!(
                "{} | CUDA {} | libtorch {} | commit {}",
                r.device_name, r.cuda, r.libtorch, r.git_commit
            )
        })
        .collect();
    devices.sort();
    devices.dedup();
    Analysis {
        n_runs: runs.len(),
        n_boot,
        seed,
        devices,
        cells: cs,
        groups,
        c2,
        omega,
        normality,
        images_total: runs
            .iter()
            .map(|r| r.images_per_s * r.train_seconds)
            .filter(|x| x.is_finite())
            .sum(),
        gpu_seconds_total: runs
            .iter()
            .map(|r| r.train_seconds + r.measure_seconds)
            .filter(|x| x.is_finite())
            .sum(),
    }
}

/// Header of the per-run CSV.
pub const RUNS_HEADER: [&str; 22] = [
    "id",
    "norm",
    "optimizer",
    "lr",
    "beta",
    "batch",
    "seed",
    "epochs",
    "n_train",
    "steps",
    "test_acc",
    "train_loss",
    "delta_pred",
    "delta_pred_key",
    "delta_emp",
    "omega_mean",
    "c2_mean",
    "k_mean",
    "b_simple_median",
    "proj_exkurt_mean",
    "gaussian_share",
    "images_per_s",
];

/// Rows of the per-run CSV.
pub fn run_rows(runs: &[RunRecord]) -> Vec<Vec<String>> {
    runs.iter()
        .map(|r| {
            vec![
                r.id.clone(),
                r.norm.clone(),
                r.optimizer.clone(),
                r.lr.to_string(),
                r.beta.to_string(),
                r.batch.to_string(),
                r.seed.to_string(),
                r.epochs.to_string(),
                r.n_train.to_string(),
                r.steps.to_string(),
                r.test_acc.to_string(),
                format!("{:e}", r.train_loss),
                format!("{:e}", r.delta_pred),
                r.delta_pred_key.clone(),
                format!("{:e}", r.delta_emp),
                format!("{:e}", r.omega_mean),
                format!("{:e}", r.c2_mean),
                format!("{:e}", r.k_mean),
                format!("{:e}", r.b_simple_median),
                format!("{:e}", r.proj_exkurt_mean),
                r.gaussian_share.to_string(),
                format!("{:.1}", r.images_per_s),
            ]
        })
        .collect()
}

//! `mslab critical`: SFO sweep over batch sizes, critical batch size b*, C² estimates (issue 4).

use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::{json, Value};

use super::Failure;
use momentum_smoothing::config::LandscapeFile;
use momentum_smoothing::experiments::critical::{
    self, default_batches, ProbeConfig, StopRule, SweepConfig,
};
use momentum_smoothing::experiments::realcritical;
use momentum_smoothing::optimizer::{Optimizer, OptimizerKind};
use momentum_smoothing::output::{write_csv, write_json, Provenance};
use momentum_smoothing::Error;

/// Arguments of `mslab critical`.
#[derive(Args)]
#[command(after_help = "Examples:
  mslab critical --landscape landscapes/critical-quadratic-10d.toml --optimizer sgd --lr 0.1 \\
        --eps 0.25,0.5,0.7,1.0 --seeds 64 --rule running-mean --json
  mslab critical --runs runs/gpu-critical --out figures/data/gpu/critical
  mslab critical --dataset synthetic --model mlp --norm none --optimizer shb --lr 0.1 \\
        --batches 16,32,64 --seeds 2 --eps 0.5,1.0 --epochs 5 --out runs/crit-cpu   # torch

Synthetic (--landscape): for each b, seed i runs from the same x_0 and stream i until every ε
has fired or --max-steps (censored: counted, never dropped; a median that needs a censored run
is +inf, JSON null). SFO N(b) = b·T(b) with T the median over seeds; b* = argmin, refined by a
parabola in log b; 95% intervals by bootstrap over seeds. C²: the paper's back-solve
b*ε²/(η·factor) (`c2_estimate`), the exact C² of the law along probe trajectories at b*
(`c2_true`), the direct estimate from independent per-sample gradients at frozen x_t
(`c2_direct`), and McCandlish's B_simple from two batch sizes (`b_simple`, with its tr Σ
estimate `c2_bsimple`). Top-level JSON keys are for the first --eps; `per_eps` has every ε;
with two or more ε, `fit` is the exponent k of b* ∝ ε^k (the paper: −2).
With --out DIR: DIR/summary.json (provenance + config + summary), DIR/sfo.csv, DIR/seeds.csv,
DIR/probe.csv; written atomically, summary.json last.

Real networks (--runs DIR): reads every `mslab train --stop-eps …` run below DIR (the
`critical` object of summary.json, and series.csv), groups runs by (dataset, model, norm,
optimizer, η, β, training examples, rule, ε list), takes the seeds present at every batch size,
and reports per ε the median SFO over seeds (censored = +inf), b* with a bootstrap interval
(seeded by --seed, --bootstrap replicates), the back-solve b*ε²/(η·factor) against the direct
C² of the instruments (median over each run, and the measurement nearest the hit, median over
the seeds at b*'s grid batch) and B_simple. With --out DIR: critical.json, sfo.csv, c2.csv,
runs.csv. --dataset … (mslab built with --features torch) first trains every (b, seed) in
turn into OUT/runs/b<B>-seed<S> with both stop rules (resumable), then does the same.")]
pub struct CriticalArgs {
    /// Landscape file (TOML; see landscapes/): the synthetic sweep.
    #[arg(long, required_unless_present_any = ["runs", "dataset"], conflicts_with_all = ["runs", "dataset"])]
    landscape: Option<PathBuf>,
    /// Folder of `mslab train --stop-eps …` runs to aggregate (real networks).
    #[arg(long, conflicts_with = "dataset")]
    runs: Option<PathBuf>,
    /// Train real networks first (feature torch): mnist, fashion-mnist, cifar10, cifar100,
    /// synthetic.
    #[arg(long)]
    dataset: Option<String>,
    /// Optimizer: sgd, shb, nshb (qhm, nesterov run but have no back-solve factor).
    #[arg(long, value_parser = parse_kind, required_unless_present = "runs")]
    optimizer: Option<OptimizerKind>,
    /// Learning rate η > 0.
    #[arg(long, allow_negative_numbers = true, required_unless_present = "runs")]
    lr: Option<f64>,
    /// Momentum factor β in [0, 1) (ignored by sgd).
    #[arg(long, default_value_t = 0.9, allow_negative_numbers = true)]
    beta: f64,
    /// QHM immediate discount ν in [0, 1].
    #[arg(long, default_value_t = 0.7, allow_negative_numbers = true)]
    nu: f64,
    /// Thresholds ε > 0 (comma-separated).
    #[arg(
        long,
        value_delimiter = ',',
        required_unless_present = "runs",
        allow_negative_numbers = true
    )]
    eps: Vec<f64>,
    /// Batch sizes (comma-separated, increasing); default 1,2,4,…,4096 (synthetic),
    /// 16,32,…,1024 (--dataset).
    #[arg(long, value_delimiter = ',')]
    batches: Vec<usize>,
    /// Seeds per batch size (>= 2) [default: 64 synthetic, 2 with --dataset].
    #[arg(long)]
    seeds: Option<usize>,
    /// Base seed (synthetic: seed i uses ChaCha8 stream i of it; --dataset: seeds s, s+1, …);
    /// with --runs, the bootstrap's seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Stopping rule: running-mean (authors': running mean of ‖g_t‖ since step 0) or
    /// full-gradient (‖∇f(x_t)‖ every --check-every steps); with --dataset also both (the
    /// default there) [default: running-mean].
    #[arg(long)]
    rule: Option<String>,
    /// Steps before the rule is first checked (synthetic).
    #[arg(long, default_value_t = 100)]
    warmup: usize,
    /// Check the full-gradient rule every k steps [default: 1 synthetic; with --dataset 0 =
    /// once per epoch].
    #[arg(long)]
    check_every: Option<usize>,
    /// Censoring horizon: runs not stopped after this many steps are censored (synthetic).
    #[arg(long, default_value_t = 100_000)]
    max_steps: usize,
    /// Bootstrap replicates for the intervals.
    #[arg(long, default_value_t = 1000)]
    bootstrap: usize,
    /// Skip the variance probe (c2_true, c2_direct, b_simple are then null) (synthetic).
    #[arg(long)]
    no_probe: bool,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// Write the results into this folder (required with --dataset).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Options of --dataset (training real networks first).
    #[command(flatten)]
    real: Box<RealArgs>,
}

/// The --dataset options of `mslab critical`.
#[derive(Args)]
pub struct RealArgs {
    /// --dataset: folder of the data files.
    #[arg(long, default_value = ".")]
    data: PathBuf,
    /// --dataset: mlp, cnn or resnet18.
    #[arg(long, default_value = "resnet18")]
    model: String,
    /// --dataset: batch, group or none.
    #[arg(long, default_value = "batch")]
    norm: String,
    /// --dataset: epochs cap (runs that have not reached ε by then are censored).
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// --dataset: rules are checked from this epoch on (the authors: 10).
    #[arg(long, default_value_t = 0)]
    min_epochs: usize,
    /// --dataset: use only the first n training examples (0: all).
    #[arg(long, default_value_t = 0)]
    limit_train: usize,
    /// --dataset: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// --dataset: measure every k steps (0: never; default as in mslab train).
    #[arg(long)]
    measure_every: Option<usize>,
    /// --dataset: measurement subset (the first n training examples; 0: all); also the
    /// full-gradient rule's subset.
    #[arg(long, default_value_t = 4096)]
    measure_subset: usize,
}

fn parse_kind(s: &str) -> Result<OptimizerKind, String> {
    OptimizerKind::parse(s).map_err(|e| e.to_string())
}

fn num(v: f64) -> Value {
    if v.is_finite() {
        json!(v)
    } else {
        Value::Null
    }
}

pub fn run(a: CriticalArgs) -> Result<(), Failure> {
    if a.bootstrap < 100 {
        return Err(Error::invalid("bootstrap", a.bootstrap, "an integer >= 100").into());
    }
    if let Some(runs) = a.runs.clone() {
        return aggregate(&a, &runs);
    }
    if let Some(d) = a.dataset.clone() {
        return train_then_aggregate(&a, &d);
    }
    let (Some(landscape), Some(kind), Some(lr)) = (a.landscape.clone(), a.optimizer, a.lr) else {
        return Err(Error::invalid(
            "landscape",
            "(missing)",
            "--landscape FILE --optimizer O --lr η, --runs DIR, or --dataset D",
        )
        .into());
    };
    let file = LandscapeFile::read(&landscape)?;
    let problem = file.build()?;
    let optimizer = Optimizer::new(kind, lr, a.beta, a.nu)?;
    let rule = StopRule::parse(a.rule.as_deref().unwrap_or("running-mean"))?;
    let cfg = SweepConfig {
        optimizer,
        batches: if a.batches.is_empty() {
            default_batches()
        } else {
            a.batches.clone()
        },
        eps: a.eps.clone(),
        rule,
        warmup: a.warmup,
        check_every: a.check_every.unwrap_or(1),
        max_steps: a.max_steps,
        seeds: a.seeds.unwrap_or(64),
        seed: a.seed,
    };
    cfg.validate(&problem)?;
    let started = std::time::Instant::now();
    let (runs, boot, curves) = critical::sweep_and_analyze(&problem, &cfg, a.bootstrap)?;
    let sweep_s = started.elapsed().as_secs_f64();
    let fit = if curves.len() >= 2 {
        critical::fit_exponent(&curves, &boot)
    } else {
        None
    };
    // The probe runs at the first ε's b* (grid value), or the middle batch size without one.
    let probe_batch = curves
        .first()
        .and_then(|c| c.b_star)
        .map_or(cfg.batches[cfg.batches.len() / 2], |b| b.grid);
    let probe = if a.no_probe {
        None
    } else {
        let median_steps = curves
            .first()
            .and_then(|c| c.rows.iter().find(|r| r.batch == probe_batch))
            .map(|r| r.steps_median)
            .filter(|v| v.is_finite())
            .unwrap_or(1000.0);
        let steps = (median_steps as usize).clamp(100, a.max_steps);
        let mut pc = ProbeConfig::new(optimizer, probe_batch, steps, a.seed);
        if let Some(fs) = problem.landscape.finite_sum() {
            pc.b_big = pc.b_big.min(fs.n_samples());
        }
        Some(critical::probe(&problem, &pc)?)
    };
    let per_eps: Vec<Value> = curves
        .iter()
        .map(|c| {
            let ci = c.b_star_ci95;
            let b_star = c.b_star.map(|b| b.value);
            let est = critical::c2_estimate(&optimizer, c.eps, b_star);
            json!({
                "eps": c.eps,
                "sfo": c.rows.iter().map(|r| num(r.sfo_median)).collect::<Vec<_>>(),
                "sfo_ci95": c.rows.iter().map(|r| [num(r.sfo_median_ci95[0]), num(r.sfo_median_ci95[1])]).collect::<Vec<_>>(),
                "steps_median": c.rows.iter().map(|r| num(r.steps_median)).collect::<Vec<_>>(),
                "censored": c.rows.iter().map(|r| r.censored).collect::<Vec<_>>(),
                "diverged": c.rows.iter().map(|r| r.diverged).collect::<Vec<_>>(),
                "b_star": b_star,
                "b_star_grid": c.b_star.map(|b| b.grid),
                "b_star_at_edge": c.b_star.map(|b| b.at_edge),
                "b_star_ci95": [num(ci[0]), num(ci[1])],
                "censoring_safe": c.censoring_safe,
                "c2_estimate": est,
                "c2_estimate_ci95": [
                    critical::c2_estimate(&optimizer, c.eps, Some(ci[0])).and_then(|v| v.is_finite().then_some(v)),
                    critical::c2_estimate(&optimizer, c.eps, Some(ci[1])).and_then(|v| v.is_finite().then_some(v)),
                ],
            })
        })
        .collect();
    let factor = momentum_smoothing::theory::sfo_factor(optimizer.kind, optimizer.beta);
    let mut summary = per_eps.first().cloned().unwrap_or_else(|| json!({}));
    let extra = json!({
        "landscape": file.name,
        "optimizer": optimizer.kind.name(),
        "lr": optimizer.lr,
        "beta": optimizer.beta,
        "rule": rule.name(),
        "batches": cfg.batches,
        "seeds": cfg.seeds,
        "sfo_factor": factor.as_ref().ok(),
        "sfo_factor_open": factor.as_ref().err().map(|e| e.to_string()),
        "c2_true": probe.as_ref().map(|p| p.c2_true_max),
        "c2_true_mean": probe.as_ref().map(|p| p.c2_true_mean),
        "c2_constant": problem.noise.constant_c2(),
        "c2_direct": probe.as_ref().map(|p| p.c2_direct.mean),
        "c2_direct_ci95": probe.as_ref().map(|p| [p.c2_direct.ci_low, p.c2_direct.ci_high]),
        "c2_bsimple": probe.as_ref().map(|p| p.c2_bsimple.mean),
        "b_simple": probe.as_ref().map(|p| num(p.b_simple)),
        "b_simple_ci95": probe.as_ref().map(|p| [num(p.b_simple_ci95[0]), num(p.b_simple_ci95[1])]),
        "b_simple_true": probe.as_ref().map(|p| num(p.b_simple_true)),
        "a2": probe.as_ref().map(|p| &p.a2),
        "probe_batch": probe.as_ref().map(|_| probe_batch),
        "per_eps": per_eps,
        "fit": fit,
        "steps_simulated": runs.steps_simulated,
        "elapsed_s": started.elapsed().as_secs_f64(),
        "sweep_s": sweep_s,
    });
    if let (Some(obj), Some(add)) = (summary.as_object_mut(), extra.as_object()) {
        for (k, v) in add {
            obj.insert(k.clone(), v.clone());
        }
    }
    if let Some(dir) = &a.out {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let sfo_rows = curves
            .iter()
            .flat_map(|c| c.rows.iter().map(move |r| critical::sfo_cells(c, r)));
        write_csv(&dir.join("sfo.csv"), &critical::SFO_COLUMNS, sfo_rows)?;
        let seed_rows = runs.eps.iter().enumerate().flat_map(|(e, eps)| {
            let runs = &runs;
            runs.batches.iter().enumerate().flat_map(move |(j, b)| {
                runs.times[e][j].iter().enumerate().map(move |(i, t)| {
                    vec![
                        eps.to_string(),
                        b.to_string(),
                        i.to_string(),
                        t.map_or(String::new(), |v| v.to_string()),
                        t.is_none().to_string(),
                        runs.diverged[j][i].to_string(),
                    ]
                })
            })
        });
        write_csv(
            &dir.join("seeds.csv"),
            &[
                "eps",
                "batch",
                "seed_index",
                "steps",
                "censored",
                "diverged",
            ],
            seed_rows,
        )?;
        let probe_rows = probe
            .iter()
            .flat_map(|p| p.rows.iter().map(critical::probe_cells));
        write_csv(&dir.join("probe.csv"), &critical::PROBE_COLUMNS, probe_rows)?;
        write_json(
            &dir.join("summary.json"),
            &json!({
                "provenance": Provenance::collect(),
                "config": {
                    "landscape_file": landscape.display().to_string(),
                    "landscape": file,
                    "sweep": cfg,
                    "bootstrap": a.bootstrap,
                    "probe": !a.no_probe,
                },
                "summary": summary,
            }),
        )?;
    }
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).unwrap_or_default()
        );
        return Ok(());
    }
    print_table(&summary, &cfg.batches);
    Ok(())
}

fn f(v: &Value) -> String {
    v.as_f64()
        .map(|x| format!("{x:.4}"))
        .unwrap_or_else(|| "-".into())
}

fn print_table(s: &Value, batches: &[usize]) {
    println!(
        "{} on {} ({} rule, η = {}, β = {}), {} seeds per b",
        s["optimizer"].as_str().unwrap_or("?"),
        s["landscape"].as_str().unwrap_or("?"),
        s["rule"].as_str().unwrap_or("?"),
        s["lr"],
        s["beta"],
        s["seeds"]
    );
    for e in s["per_eps"].as_array().into_iter().flatten() {
        println!("  ε = {}", e["eps"]);
        println!(
            "    {:>6} {:>14} {:>10} {:>9}",
            "b", "SFO (median)", "T median", "censored"
        );
        for (j, b) in batches.iter().enumerate() {
            println!(
                "    {:>6} {:>14} {:>10} {:>9}",
                b,
                e["sfo"][j]
                    .as_f64()
                    .map_or("inf".into(), |v| format!("{v:.0}")),
                e["steps_median"][j]
                    .as_f64()
                    .map_or("inf".into(), |v| format!("{v:.0}")),
                e["censored"][j]
            );
        }
        println!(
            "    b* = {} (95% CI [{}, {}]){}   C² back-solve b*ε²/(η·factor) = {}",
            f(&e["b_star"]),
            f(&e["b_star_ci95"][0]),
            f(&e["b_star_ci95"][1]),
            if e["b_star_at_edge"] == json!(true) {
                " at the grid's edge"
            } else {
                ""
            },
            f(&e["c2_estimate"])
        );
    }
    println!(
        "  C² true = {} (mean {})   direct = {} [{}, {}]   McCandlish tr Σ = {}   B_simple = {} (true {})",
        f(&s["c2_true"]),
        f(&s["c2_true_mean"]),
        f(&s["c2_direct"]),
        f(&s["c2_direct_ci95"][0]),
        f(&s["c2_direct_ci95"][1]),
        f(&s["c2_bsimple"]),
        f(&s["b_simple"]),
        f(&s["b_simple_true"])
    );
    if let Some(open) = s["sfo_factor_open"].as_str() {
        println!("  open: {open}");
    }
    if !s["fit"].is_null() {
        println!(
            "  b* ∝ ε^k: k = {} (bootstrap 95% CI [{}, {}]; the paper: −2)",
            f(&s["fit"]["exponent"]),
            f(&s["fit"]["exponent_ci95"][0]),
            f(&s["fit"]["exponent_ci95"][1])
        );
    }
}

/// `--runs DIR`: aggregate `mslab train --stop-eps` runs.
fn aggregate(a: &CriticalArgs, root: &Path) -> Result<(), Failure> {
    let runs = realcritical::collect_runs(root)?;
    let groups = realcritical::analyze(&runs, a.bootstrap, a.seed);
    if let Some(dir) = &a.out {
        realcritical::write_outputs(
            dir,
            &runs,
            &groups,
            json!({
                "runs": root.display().to_string(),
                "bootstrap": a.bootstrap,
                "bootstrap_seed": a.seed,
                "n_runs": runs.len(),
            }),
        )?;
    }
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "groups": groups })).unwrap_or_default()
        );
    } else {
        print!("{}", realcritical::describe(&groups));
    }
    Ok(())
}

#[cfg(not(feature = "torch"))]
fn train_then_aggregate(_a: &CriticalArgs, dataset: &str) -> Result<(), Failure> {
    Err(Error::invalid(
        "dataset",
        dataset,
        "--runs DIR (aggregate existing runs), or an mslab built with --features torch to train",
    )
    .into())
}

/// `--dataset …`: train every (b, seed) in turn with the stop rules into OUT/runs, then
/// aggregate them like `--runs OUT/runs`.
#[cfg(feature = "torch")]
fn train_then_aggregate(a: &CriticalArgs, dataset: &str) -> Result<(), Failure> {
    use momentum_smoothing::torch::data::DatasetKind;
    use momentum_smoothing::torch::device::DeviceSpec;
    use momentum_smoothing::torch::instruments::MeasureConfig;
    use momentum_smoothing::torch::models::{ModelKind, Norm};
    use momentum_smoothing::torch::train::{run_with_stop, TrainConfig};

    let r = &a.real;
    let out = a.out.clone().ok_or_else(|| {
        Error::invalid(
            "out",
            "(none)",
            "a folder for the runs and the results (required with --dataset)",
        )
    })?;
    let (Some(kind), Some(lr)) = (a.optimizer, a.lr) else {
        return Err(Error::invalid("optimizer", "(none)", "--optimizer and --lr").into());
    };
    let beta = if kind == OptimizerKind::Sgd {
        0.0
    } else {
        a.beta
    };
    let optimizer = Optimizer::new(kind, lr, beta, a.nu)?;
    let batches = if a.batches.is_empty() {
        (4..11).map(|k| 1usize << k).collect()
    } else {
        a.batches.clone()
    };
    if batches.contains(&0) || batches.windows(2).any(|w| w[0] >= w[1]) {
        return Err(Error::invalid(
            "batches",
            format!("{batches:?}"),
            "strictly increasing integers >= 1",
        )
        .into());
    }
    let seeds = a.seeds.unwrap_or(2);
    if seeds == 0 {
        return Err(Error::invalid("seeds", 0, "an integer >= 1").into());
    }
    let rule = a.rule.as_deref().unwrap_or("both");
    // The flags are --eps and --rule here (train's are --stop-eps, --stop-rule).
    if let Some(e) = a.eps.iter().find(|e| !(e.is_finite() && **e > 0.0)) {
        return Err(Error::invalid("eps", e, "finite numbers > 0").into());
    }
    if super::train::parse_rules(rule).is_err() {
        return Err(Error::invalid("rule", rule, "running-mean, full-gradient or both").into());
    }
    let stop =
        super::train::stop_config(&a.eps, Some(rule), r.min_epochs, a.check_every.unwrap_or(0))?
            .ok_or_else(|| Error::invalid("eps", "(none)", "one or more numbers > 0"))?;
    let base = TrainConfig {
        dataset: DatasetKind::parse(dataset)?,
        data_dir: r.data.clone(),
        model: ModelKind::parse(&r.model)?,
        norm: Norm::parse(&r.norm)?,
        optimizer,
        batch: batches[0],
        epochs: r.epochs,
        seed: a.seed,
        device: DeviceSpec::parse(&r.device)?,
        measure_every: r.measure_every,
        measure: MeasureConfig {
            subset: r.measure_subset,
            ..MeasureConfig::default()
        },
        augment: false,
        limit_train: r.limit_train,
        max_steps: 0,
        warmup_steps: 0,
        out: out.clone(),
        progress: false,
    };
    base.validate()?;
    let runs_dir = out.join("runs");
    for &b in &batches {
        for s in 0..seeds as u64 {
            let seed = a.seed.checked_add(s).ok_or_else(|| {
                Error::invalid("seed", a.seed, "an integer such that seed + seeds < 2^64")
            })?;
            let dir = runs_dir.join(format!("b{b}-seed{seed}"));
            if dir.join("summary.json").is_file() {
                eprintln!("{}: complete, skipped", dir.display());
                continue;
            }
            let cfg = TrainConfig {
                batch: b,
                seed,
                out: dir.clone(),
                ..base.clone()
            };
            let o = run_with_stop(&cfg, Some(&stop))?;
            eprintln!(
                "{}: {} steps, {}",
                dir.display(),
                o.summary.steps,
                o.summary
                    .critical
                    .as_ref()
                    .map(|c| if c.stopped_early {
                        "every ε reached"
                    } else {
                        "some ε censored"
                    })
                    .unwrap_or("")
            );
        }
    }
    aggregate(a, &runs_dir)
}

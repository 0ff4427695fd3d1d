//! `mslab`: the momentum-smoothing lab. Predict the search-direction noise ψ and the degree of
//! smoothing δ = ηψ, simulate optimizers on known landscapes and measure them.

// No unwrap/expect on paths that user input reaches (tests may use them).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};

use momentum_smoothing::config::{LandscapeFile, KINDS, LAWS};
use momentum_smoothing::optimizer::{Optimizer, OptimizerKind};
use momentum_smoothing::output::{write_csv, write_json, Provenance};
use momentum_smoothing::runner::{self, Problem, RunConfig, INSTRUMENTS};
use momentum_smoothing::stats::Estimate;
use momentum_smoothing::{stationary, theory, Error};

mod analyze;
mod critical;
mod igo;
mod sweep;
#[cfg(feature = "torch")]
mod train;

const ABOUT: &str =
    "The momentum-smoothing lab: what momentum does to the search-direction noise of SGD.

Sato & Iiduka call ω_t = d_t − ∇f(x_t) the search-direction noise (d_t: the vector the optimizer
multiplies by η) and claim it smooths f with degree δ = η ψ, ψ a bound on E‖ω‖. mslab prints the
predicted ψ and δ (predict) and measures ω on landscapes whose truth is known (simulate).";

const AFTER: &str = "Examples:
  mslab predict --optimizer shb --lr 0.1 --batch 64 --beta 0.9 --c2 25.318 --k 1.77
  mslab simulate --landscape landscapes/quadratic-4d.toml --optimizer shb --lr 0.01 \\
        --batch 8 --beta 0.9 --steps 20000 --burn-in 2000 --seeds 200
  mslab simulate --landscape landscapes/rastrigin-100d.toml --optimizer shb --lr 0.002 \\
        --batch 32 --beta 0.9 --steps 10000 --seeds 1000 --json
  mslab landscapes
  mslab sweep sweeps/shb-quadratic.toml --out runs/shb-quadratic --jobs 2

Exit codes: 0 success, 1 a run failed (e.g. I/O), 2 bad input (the message names the field).";

#[derive(Parser)]
#[command(name = "mslab", version, about = ABOUT, after_help = AFTER)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Predicted ψ (bound on E‖ω‖) and δ = ηψ by every formula that applies.
    #[command(
        after_help = "Example:\n  mslab predict --optimizer sgd --lr 0.1 --batch 8 --c2 1280\n\n\
In --json the key `delta` is the paper's formula (SGD ηC/√b, SHB the β̂ form, NSHB the v1 form)\n\
and `psi` its ψ; other variants are listed under `formulas` with their own keys.\n\
QHM and Nesterov: the paper gives no bound; predict says so instead of printing a number."
    )]
    Predict(PredictArgs),
    /// Run S seeds of an optimizer on a landscape file and set the measured ω beside the prediction.
    #[command(
        after_help = "Example:\n  mslab simulate --landscape landscapes/quadratic-4d.toml --optimizer nshb --lr 0.05 \\\n        --batch 4 --beta 0.9 --steps 20000 --burn-in 2000 --seeds 100\n\n\
Measured at the pre-update iterate x_t every k-th step after the burn-in: E‖ω‖, √E‖ω‖²,\n\
the angle between d_t and ∇f(x_t), the bias E[ω|past] and the random rest, f(x_t), K.\n\
95% confidence intervals are over seeds (each seed contributes its time average).\n\
Seeds whose iterate becomes non-finite are reported as diverged and excluded.\n\
With --out DIR: DIR/summary.json (provenance + config + summary), DIR/series.csv\n\
(per-step statistics over seeds), DIR/seeds.csv (per-seed results); written atomically.\n\
A DIR whose summary.json holds the same configuration is reused (the run is complete)."
    )]
    Simulate(SimulateArgs),
    /// Run the claim experiments (C1–C13 that synthetic landscapes settle) and write their results.
    #[command(
        after_help = "Examples:\n  mslab claims --list\n  mslab claims --quick --only c2,c9\n  mslab claims --out figures/data/claims\n\n\
Each experiment writes OUT/<key>.json (provenance, scale, verdict, evidence, rows), atomically.\n\
--quick is the scale `cargo test` uses (seconds); the default (full) is the scale of the README\n\
claims table and the figures (minutes)."
    )]
    Claims(ClaimsArgs),
    /// Critical batch size: SFO N(b) = b·T(b) over batch sizes, b*, and C² three ways (C7, C8).
    Critical(critical::CriticalArgs),
    /// Implicit graduated optimization: schedules that decrease δ, against global solvers (C12).
    Igo(igo::IgoArgs),
    /// Run a grid of runs from a sweep file; finished runs are skipped, killed sweeps resume.
    #[command(after_help = sweep::AFTER)]
    Sweep(sweep::SweepArgs),
    /// Train a real network with libtorch and measure ω on it (feature `torch`).
    #[cfg(feature = "torch")]
    Train(train::TrainArgs),
    /// Analyse a folder of `mslab train` runs: accuracy vs δ (C11), C², ω normality, E‖ω‖.
    Analyze(analyze::AnalyzeArgs),
    /// List landscape files with their kind, dimension, noise law and C².
    Landscapes {
        /// Folder of landscape files.
        #[arg(long, default_value = "landscapes")]
        dir: PathBuf,
    },
}

#[derive(Args, Clone)]
struct OptArgs {
    /// Optimizer: sgd, shb (heavy ball, PyTorch form), nshb (EMA form), qhm, nesterov.
    #[arg(long, value_parser = parse_kind)]
    optimizer: OptimizerKind,
    /// Learning rate η > 0.
    #[arg(long, allow_negative_numbers = true, value_parser = number)]
    lr: f64,
    /// Mini-batch size b >= 1.
    #[arg(long, allow_negative_numbers = true, value_parser = number)]
    batch: f64,
    /// Momentum factor β in [0, 1) (ignored by sgd).
    #[arg(long, default_value_t = 0.9, allow_negative_numbers = true, value_parser = number)]
    beta: f64,
    /// QHM immediate discount ν in [0, 1].
    #[arg(long, default_value_t = 0.7, allow_negative_numbers = true, value_parser = number)]
    nu: f64,
}

#[derive(Args)]
struct PredictArgs {
    #[command(flatten)]
    opt: OptArgs,
    /// Per-sample gradient variance bound C² >= 0.
    #[arg(long, allow_negative_numbers = true, value_parser = number)]
    c2: f64,
    /// Gradient-norm bound K >= 0 (needed by SHB and NSHB).
    #[arg(long, allow_negative_numbers = true, value_parser = number)]
    k: Option<f64>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct SimulateArgs {
    /// Landscape file (TOML; see landscapes/).
    #[arg(long)]
    landscape: PathBuf,
    #[command(flatten)]
    opt: OptArgs,
    /// Steps T per seed.
    #[arg(long, default_value_t = 10_000, value_parser = count, allow_negative_numbers = true)]
    steps: usize,
    /// Steps at the start excluded from the statistics.
    #[arg(long, default_value_t = 0, value_parser = count, allow_negative_numbers = true)]
    burn_in: usize,
    /// Number of seeds S.
    #[arg(long, default_value_t = 100, value_parser = count, allow_negative_numbers = true)]
    seeds: usize,
    /// Base seed (seed i uses ChaCha8 stream i of it).
    #[arg(long, default_value_t = 0, value_parser = seed_value, allow_negative_numbers = true)]
    seed: u64,
    /// Measure every k-th step after the burn-in.
    #[arg(long, default_value_t = 1, value_parser = count, allow_negative_numbers = true)]
    every: usize,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Write summary.json, series.csv and seeds.csv into this folder.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Rerun even if --out already holds this run.
    #[arg(long)]
    force: bool,
}

#[derive(Args)]
struct ClaimsArgs {
    /// List the experiments and exit.
    #[arg(long)]
    list: bool,
    /// Run only these (comma-separated keys, e.g. c2,c9).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Small scale (what `cargo test` runs).
    #[arg(long)]
    quick: bool,
    /// Folder for the results files.
    #[arg(long, default_value = "figures/data/claims")]
    out: PathBuf,
}

fn parse_kind(s: &str) -> Result<OptimizerKind, String> {
    OptimizerKind::parse(s).map_err(|e| e.to_string())
}

/// A number flag (range checks come later, with the field's allowed range).
fn number(s: &str) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .map_err(|_| "expected a number".to_string())
}

/// A count flag: a non-negative integer (ranges are checked with the run's configuration).
fn count(s: &str) -> Result<usize, String> {
    s.trim()
        .parse::<usize>()
        .map_err(|_| "expected a non-negative integer, e.g. 100".to_string())
}

/// A seed flag: an integer in [0, 2^64).
fn seed_value(s: &str) -> Result<u64, String> {
    s.trim()
        .parse::<u64>()
        .map_err(|_| "expected an integer in [0, 2^64)".to_string())
}

/// A command-line error from clap on one line (clap prints usage and tips on several).
fn clap_one_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let mut parts = Vec::new();
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with("Usage:") || l.starts_with("For more information") {
            break;
        }
        if !l.is_empty() {
            parts.push(l.to_string());
        }
    }
    parts.join(" ")
}

/// Inside a sweep (MSLAB_SWEEP_PARENT set): exit as soon as the sweep that started this run is
/// gone, so that a sweep killed with SIGKILL leaves no orphan runs behind. Results are written
/// atomically, so stopping at any point leaves no half-written file.
fn watch_sweep_parent() {
    #[cfg(unix)]
    if let Some(parent) = std::env::var(momentum_smoothing::sweep::PARENT_ENV)
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
    {
        if std::os::unix::process::parent_id() != parent {
            std::process::exit(137);
        }
        std::thread::spawn(move || loop {
            std::thread::sleep(std::time::Duration::from_millis(100));
            if std::os::unix::process::parent_id() != parent {
                std::process::exit(137);
            }
        });
    }
}

/// An error and the exit code it maps to.
struct Failure(Error);

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure(e)
    }
}

/// A closed stdout ends the process quietly, as for other Unix tools (`mslab sweep FILE
/// --dry-run | head`): Rust starts with SIGPIPE ignored, which turns the write into an error that
/// `println!` reports by panicking.
fn default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any thread exists; it only resets the
    // disposition of one signal to the system default.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    default_sigpipe();
    watch_sweep_parent();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                    ExitCode::from(2)
                } else {
                    ExitCode::SUCCESS
                };
            }
            eprintln!("{}", clap_one_line(&e));
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Cmd::Predict(a) => predict(a),
        Cmd::Simulate(a) => simulate(a),
        Cmd::Landscapes { dir } => landscapes(&dir),
        Cmd::Claims(a) => claims(a),
        Cmd::Critical(a) => critical::run(a),
        Cmd::Igo(a) => igo::run(a),
        Cmd::Sweep(a) => sweep::run(a),
        Cmd::Analyze(a) => analyze::run(a),
        #[cfg(feature = "torch")]
        Cmd::Train(a) => train::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(e)) => {
            eprintln!("error: {e}");
            match e {
                Error::Io { .. } | Error::Failed(_) => ExitCode::from(1),
                _ => ExitCode::from(2),
            }
        }
    }
}

fn batch_usize(b: f64) -> Result<usize, Error> {
    if b.is_finite() && b >= 1.0 && b.fract() == 0.0 && b <= 1e12 {
        Ok(b as usize)
    } else {
        Err(Error::invalid("batch", b, "an integer >= 1"))
    }
}

fn build_optimizer(a: &OptArgs) -> Result<Optimizer, Error> {
    Optimizer::new(a.optimizer, a.lr, a.beta, a.nu)
}

/// ψ and δ by every formula that applies, as JSON (`psi`/`delta` = the paper's formula).
fn prediction_json(opt: &Optimizer, batch: f64, c2: f64, k: Option<f64>) -> Result<Value, Error> {
    let preds = theory::predictions(opt, batch, c2, k)?;
    let paper = preds.iter().find(|p| p.is_paper);
    let mut v = json!({
        "optimizer": opt.kind.name(),
        "lr": opt.lr, "batch": batch, "beta": opt.beta, "nu": opt.nu, "c2": c2, "k": k,
        "psi": paper.map(|p| p.psi),
        "delta": paper.map(|p| p.delta),
        "formulas": preds,
    });
    if let Some(reason) = theory::open_reason(opt.kind) {
        v["open"] = json!(reason);
    }
    Ok(v)
}

fn predict(a: PredictArgs) -> Result<(), Failure> {
    let opt = build_optimizer(&a.opt)?;
    let batch = a.opt.batch;
    if !(batch.is_finite() && batch >= 1.0) {
        return Err(Error::invalid("batch", batch, "a number >= 1").into());
    }
    let v = prediction_json(&opt, batch, a.c2, a.k)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return Ok(());
    }
    println!(
        "{} η={} b={} β={} ν={} C²={} K={}",
        opt.kind,
        opt.lr,
        batch,
        opt.beta,
        opt.nu,
        a.c2,
        a.k.map(|k| k.to_string()).unwrap_or_else(|| "-".into())
    );
    for p in theory::predictions(&opt, batch, a.c2, a.k)? {
        println!(
            "  {:<22} ψ = {:>10.4}   δ = ηψ = {:>10.4}   {}{}",
            p.key,
            p.psi,
            p.delta,
            p.source,
            if p.is_paper { "   [paper]" } else { "" }
        );
    }
    if let Some(reason) = theory::open_reason(opt.kind) {
        println!("  open: {reason}");
    }
    Ok(())
}

/// Exact stationary E‖ω‖² where the landscape is a diagonal quadratic with additive noise.
fn exact_omega_sq(problem: &Problem, opt: &Optimizer, batch: usize) -> Option<f64> {
    let (eig, var) = stationary::problem_spectrum(problem).ok()?;
    stationary::stationary_moments(opt, &eig, &var, batch as f64)
        .ok()
        .map(|m| m.omega_sq)
}

fn est_json(e: &Estimate) -> Value {
    json!({"mean": e.mean, "ci95": [e.ci_low, e.ci_high], "std_dev": e.std_dev, "n": e.n})
}

fn simulate(a: SimulateArgs) -> Result<(), Failure> {
    let file = LandscapeFile::read(&a.landscape)?;
    let problem = file.build()?;
    let opt = build_optimizer(&a.opt)?;
    let cfg = RunConfig {
        optimizer: opt,
        batch: batch_usize(a.opt.batch)?,
        steps: a.steps,
        burn_in: a.burn_in,
        seeds: a.seeds,
        seed: a.seed,
        every: a.every,
    };
    cfg.validate(&problem)?;
    let config_json = json!({
        "landscape_file": a.landscape.display().to_string(),
        "landscape": file,
        "run": cfg,
    });
    if let Some(dir) = &a.out {
        if !a.force {
            if let Some(done) = completed_run(dir, &config_json) {
                eprintln!(
                    "{}: this configuration is already complete (use --force to rerun)",
                    dir.display()
                );
                print_summary_value(&done, a.json);
                return Ok(());
            }
        }
    }
    let bar = ProgressBar::new(cfg.seeds as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} simulating [{bar:30}] {pos}/{len} seeds ({eta} left)",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    if a.json {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let started = std::time::Instant::now();
    let result = runner::run(&problem, &cfg, Some(&bar))?;
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    let s = result.summarize(&problem);
    let all_diverged = s.diverged == s.seeds;
    // With every seed diverged there is no measured K or C²: the prediction is left open (a
    // sweep over η records the divergence as a result instead of failing).
    let prediction = if all_diverged {
        Value::Null
    } else {
        prediction_json(&opt, cfg.batch as f64, s.c2, Some(s.k))?
    };
    let exact = exact_omega_sq(&problem, &opt, cfg.batch);
    let diverged_seeds: Vec<[usize; 2]> = result
        .seeds
        .iter()
        .filter_map(|r| r.diverged_at.map(|t| [r.seed_index, t]))
        .take(MAX_LISTED_DIVERGED)
        .collect();
    let summary = json!({
        "optimizer": opt.kind.name(),
        "landscape": file.name,
        "seeds": s.seeds,
        "diverged": s.diverged,
        "statistics_over_seeds": s.seeds - s.diverged,
        "excluded": "seeds whose iterate, loss or ω became non-finite are diverged and excluded from every statistic",
        "diverged_seeds": diverged_seeds,
        "first_divergence_step": s.first_divergence_step,
        "omega_norm_mean": s.omega_norm.mean,
        "omega_norm_ci95": [s.omega_norm.ci_low, s.omega_norm.ci_high],
        "omega_norm_sq_mean": s.omega_norm_sq.mean,
        "omega_norm_sq_ci95": [s.omega_norm_sq.ci_low, s.omega_norm_sq.ci_high],
        "omega_norm_sq_exact": exact,
        "omega_rms": s.omega_norm_sq.mean.sqrt(),
        "psi_bound": prediction["psi"],
        "delta_pred": prediction["delta"],
        "delta_emp": opt.lr * s.omega_norm.mean,
        "delta_emp_ci95": [opt.lr * s.omega_norm.ci_low, opt.lr * s.omega_norm.ci_high],
        "cos_angle": est_json(&s.cos_angle),
        "angle_deg": est_json(&s.angle_deg),
        "omega_bias_sq": est_json(&s.omega_bias_sq),
        "omega_random_sq": est_json(&s.omega_random_sq),
        "loss": est_json(&s.loss),
        "grad_norm_sq": est_json(&s.grad_norm_sq),
        "final_loss_mean": s.final_loss.mean,
        "final_loss_ci95": [s.final_loss.ci_low, s.final_loss.ci_high],
        "final_dist": s.final_dist.as_ref().map(est_json),
        "c2": s.c2,
        "c2_constant": problem.noise.constant_c2(),
        "k": s.k,
        "prediction": prediction,
        "elapsed_s": elapsed,
        "throughput_coord_steps_per_s": cfg.seeds as f64 * cfg.steps as f64 * problem.landscape.dim() as f64 / elapsed,
    });
    if let Some(dir) = &a.out {
        write_outputs(dir, &config_json, &summary, &result)?;
    }
    print_summary_value(&summary, a.json);
    if all_diverged {
        eprintln!(
            "warning: all {} seeds diverged (first at step {}): no statistics; try a smaller lr",
            s.seeds,
            s.first_divergence_step.unwrap_or(0)
        );
    }
    Ok(())
}

/// At most this many (seed index, step) pairs of diverged seeds are listed in summary.json
/// (seeds.csv has every seed).
const MAX_LISTED_DIVERGED: usize = 100;

fn completed_run(dir: &Path, config: &Value) -> Option<Value> {
    let text = std::fs::read_to_string(dir.join("summary.json")).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    (v.get("config")? == config)
        .then(|| v.get("summary").cloned())
        .flatten()
}

fn write_outputs(
    dir: &Path,
    config: &Value,
    summary: &Value,
    result: &runner::RunResult,
) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let mut header = vec!["step".to_string()];
    for name in INSTRUMENTS {
        header.push(format!("{name}_mean"));
        header.push(format!("{name}_ci95_half"));
    }
    header.push("n_seeds".into());
    let rows = result.series.iter().map(|r| {
        let mut row = vec![r.step.to_string()];
        for w in &r.stats {
            let e = w.estimate(0.95);
            row.push(e.mean.to_string());
            row.push(e.half_width().to_string());
        }
        row.push(r.stats[0].count().to_string());
        row
    });
    let header_ref: Vec<&str> = header.iter().map(String::as_str).collect();
    write_csv(&dir.join("series.csv"), &header_ref, rows)?;
    let mut sh = vec![
        "seed_index",
        "diverged_at",
        "final_loss",
        "final_grad_norm",
        "final_dist",
        "c2_mean",
        "c2_max",
    ];
    sh.extend(INSTRUMENTS);
    let seed_rows = result.seeds.iter().map(|s| {
        let mut row = vec![
            s.seed_index.to_string(),
            s.diverged_at.map(|v| v.to_string()).unwrap_or_default(),
            s.final_loss.to_string(),
            s.final_grad_norm.to_string(),
            s.final_dist.map(|v| v.to_string()).unwrap_or_default(),
            s.c2_mean.to_string(),
            s.c2_max.to_string(),
        ];
        row.extend(s.means.iter().map(|v| v.to_string()));
        row
    });
    write_csv(&dir.join("seeds.csv"), &sh, seed_rows)?;
    // summary.json last: its presence marks the run complete.
    write_json(
        &dir.join("summary.json"),
        &json!({"provenance": Provenance::collect(), "config": config, "summary": summary}),
    )
}

fn fmt_ci(v: &Value) -> String {
    match v.as_array() {
        Some(a) if a.len() == 2 => format!(
            "[{:.5}, {:.5}]",
            a[0].as_f64().unwrap_or(f64::NAN),
            a[1].as_f64().unwrap_or(f64::NAN)
        ),
        _ => String::new(),
    }
}

fn num(v: &Value) -> String {
    v.as_f64()
        .map(|x| format!("{x:.5}"))
        .unwrap_or_else(|| "open".into())
}

fn print_summary_value(s: &Value, json_out: bool) {
    if json_out {
        println!("{}", serde_json::to_string_pretty(s).unwrap_or_default());
        return;
    }
    println!(
        "{} on {}: {} seeds, {} diverged{}",
        s["optimizer"].as_str().unwrap_or("?"),
        s["landscape"].as_str().unwrap_or("?"),
        s["seeds"],
        s["diverged"],
        match s["first_divergence_step"].as_u64() {
            Some(t) => format!(
                " (excluded from the statistics; first at step {t}; over {} seeds)",
                s["statistics_over_seeds"]
            ),
            None => String::new(),
        }
    );
    println!(
        "  predicted   ψ = {}   δ = ηψ = {}   (C² = {}, K measured = {})",
        num(&s["psi_bound"]),
        num(&s["delta_pred"]),
        num(&s["c2"]),
        num(&s["k"])
    );
    if let Some(r) = s["prediction"]["open"].as_str() {
        println!("              open: {r}");
    }
    println!(
        "  measured    E‖ω‖   = {}  95% CI {}",
        num(&s["omega_norm_mean"]),
        fmt_ci(&s["omega_norm_ci95"])
    );
    println!(
        "              E‖ω‖²  = {}  95% CI {}",
        num(&s["omega_norm_sq_mean"]),
        fmt_ci(&s["omega_norm_sq_ci95"])
    );
    if !s["omega_norm_sq_exact"].is_null() {
        println!(
            "              exact stationary E‖ω‖² = {}",
            num(&s["omega_norm_sq_exact"])
        );
    }
    println!(
        "              δ_emp = η E‖ω‖ = {}  95% CI {}",
        num(&s["delta_emp"]),
        fmt_ci(&s["delta_emp_ci95"])
    );
    println!(
        "              angle(d, ∇f) = {}°   E‖E[ω|past]‖² = {}   E‖random part‖² = {}",
        num(&s["angle_deg"]["mean"]),
        num(&s["omega_bias_sq"]["mean"]),
        num(&s["omega_random_sq"]["mean"])
    );
    println!(
        "  final loss  {}  95% CI {}",
        num(&s["final_loss_mean"]),
        fmt_ci(&s["final_loss_ci95"])
    );
}

fn claims(a: ClaimsArgs) -> Result<(), Failure> {
    use momentum_smoothing::experiments::{registry, Scale};
    let all = registry();
    if a.list {
        for e in &all {
            println!("{:<5} {}", e.key, e.about);
        }
        return Ok(());
    }
    for key in &a.only {
        if !all.iter().any(|e| e.key == key) {
            let keys: Vec<&str> = all.iter().map(|e| e.key).collect();
            return Err(
                Error::invalid("only", key, format!("keys among: {}", keys.join(", "))).into(),
            );
        }
    }
    let chosen: Vec<_> = all
        .into_iter()
        .filter(|e| a.only.is_empty() || a.only.iter().any(|k| k == e.key))
        .collect();
    let scale = if a.quick { Scale::Quick } else { Scale::Full };
    std::fs::create_dir_all(&a.out).map_err(|source| Error::Io {
        path: a.out.display().to_string(),
        source,
    })?;
    let bar = ProgressBar::new(chosen.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} claims [{bar:30}] {pos}/{len} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut lines = Vec::new();
    for e in chosen {
        bar.set_message(e.key);
        let started = std::time::Instant::now();
        let report = (e.run)(scale)?;
        let value = json!({
            "provenance": Provenance::collect(),
            "scale": scale,
            "elapsed_s": started.elapsed().as_secs_f64(),
            "report": report,
        });
        write_json(&a.out.join(format!("{}.json", e.key)), &value)?;
        lines.push(format!(
            "{:<5} {:<7} {}",
            e.key,
            format!("{:?}", report.verdict).to_lowercase(),
            report.evidence
        ));
        bar.inc(1);
    }
    bar.finish_and_clear();
    for l in lines {
        println!("{l}");
    }
    Ok(())
}

fn landscapes(dir: &Path) -> Result<(), Failure> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::File {
            path: dir.display().to_string(),
            message: format!("cannot list landscape folder: {e}"),
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    println!(
        "{:<34} {:<16} {:>6}  {:<15} {:>12}  params",
        "file", "kind", "dim", "noise", "C²"
    );
    for p in &paths {
        match LandscapeFile::read(p).and_then(|f| f.build().map(|pr| (f, pr))) {
            Ok((f, pr)) => {
                let x0 = vec![0.0; pr.landscape.dim()];
                let mut g = vec![0.0; pr.landscape.dim()];
                pr.landscape.gradient(&x0, &mut g);
                let c2 = if pr.noise.constant_c2() {
                    format!("{:.4}", pr.noise.c2(pr.landscape.as_ref(), &x0, &g))
                } else {
                    "varies".into()
                };
                println!(
                    "{:<34} {:<16} {:>6}  {:<15} {:>12}  {}",
                    p.file_name()
                        .map(|n| n.to_string_lossy().to_string())
                        .unwrap_or_default(),
                    f.kind,
                    f.dim,
                    pr.noise.name(),
                    c2,
                    toml::to_string(&f.params)
                        .unwrap_or_default()
                        .replace('\n', " ")
                );
            }
            Err(e) => println!("{:<34} error: {e}", p.display()),
        }
    }
    println!("\nKinds:");
    for (k, params) in KINDS {
        println!("  {k:<16} {params}");
    }
    println!("Noise laws:");
    for (k, params) in LAWS {
        println!("  {k:<16} {params}");
    }
    Ok(())
}

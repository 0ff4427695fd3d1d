//! `mslab analyze`: the real-network analysis of a folder of `mslab train` runs (claim C11;
//! C4, C7, C10 on a real network). The library side is
//! `momentum_smoothing::experiments::realnet`; it needs no libtorch.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use super::Failure;
use momentum_smoothing::experiments::realnet::{self, RUNS_HEADER};
use momentum_smoothing::output::{write_csv, write_json, Provenance};

/// Arguments of `mslab analyze`.
#[derive(Args)]
#[command(after_help = "Examples:
  mslab analyze --runs figures/data/gpu/runs
  mslab analyze --runs figures/data/gpu/runs --out figures/data/gpu/analysis --json

Reads every `mslab train` run below RUNS (summary.json + series.csv), groups runs into cells
(everything but the seed) and families (dataset, model, norm, epochs, training examples), and
reports per family: Spearman ρ and Kendall τ_b of cell test accuracy with δ_pred (the paper's
formula with the measured C², K) and with δ_emp = η‖ω‖, with seeded percentile-bootstrap 95%
intervals over cells; whether the best δ is interior and in [0.1, 1]; C² back-solved from SGD's
‖ω‖ (b·E‖ω‖²) against the direct C²; ω normality (projection skewness/kurtosis); E‖ω‖ per
optimizer at matched η and at matched η/(1−β). Step-0 measurements (initialisation) are left out.
With --out DIR: DIR/analysis.json (provenance + everything), DIR/runs.csv, DIR/cells.csv.")]
pub struct AnalyzeArgs {
    /// Folder of runs (a sweep's --out, or a folder of sweeps).
    #[arg(long)]
    runs: PathBuf,
    /// Print the analysis as JSON instead of the text summary.
    #[arg(long)]
    json: bool,
    /// Write analysis.json, runs.csv and cells.csv here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Bootstrap resamples.
    #[arg(long, default_value_t = 2000)]
    boot: usize,
    /// Bootstrap seed.
    #[arg(long, default_value_t = 20261127)]
    seed: u64,
}

fn f(x: f64) -> String {
    format!("{x:.3}")
}

pub fn run(a: AnalyzeArgs) -> Result<(), Failure> {
    if a.boot < 100 {
        return Err(momentum_smoothing::Error::invalid("boot", a.boot, "an integer ≥ 100").into());
    }
    let runs = realnet::collect_runs(&a.runs)?;
    let an = realnet::analyze(&runs, a.boot, a.seed);
    if let Some(dir) = &a.out {
        std::fs::create_dir_all(dir).map_err(|e| momentum_smoothing::Error::Io {
            path: dir.display().to_string(),
            source: e,
        })?;
        write_csv(
            &dir.join("runs.csv"),
            &RUNS_HEADER,
            realnet::run_rows(&runs),
        )?;
        write_csv(
            &dir.join("cells.csv"),
            &[
                "family",
                "optimizer",
                "lr",
                "beta",
                "batch",
                "n",
                "acc_mean",
                "acc_sd",
                "delta_pred",
                "delta_emp",
                "omega_mean",
                "c2_mean",
            ],
            an.cells.iter().map(|c| {
                vec![
                    c.family.clone(),
                    c.optimizer.clone(),
                    c.lr.to_string(),
                    c.beta.to_string(),
                    c.batch.to_string(),
                    c.n.to_string(),
                    c.acc_mean.to_string(),
                    c.acc_sd.to_string(),
                    format!("{:e}", c.delta_pred),
                    format!("{:e}", c.delta_emp),
                    format!("{:e}", c.omega_mean),
                    format!("{:e}", c.c2_mean),
                ]
            }),
        )?;
        write_json(
            &dir.join("analysis.json"),
            &json!({
                "provenance": Provenance::collect(),
                "runs_folder": a.runs.display().to_string(),
                "analysis": an,
            }),
        )?;
    }
    if a.json {
        let text = serde_json::to_string_pretty(&an)
            .map_err(|e| momentum_smoothing::Error::Failed(format!("cannot serialize: {e}")))?;
        println!("{text}");
        return Ok(());
    }
    println!("{} runs; {}", an.n_runs, an.devices.join("; "));
    println!(
        "training images {:.3e} in {:.0} GPU-process seconds (train + measure)",
        an.images_total, an.gpu_seconds_total
    );
    for g in &an.groups {
        let c = |x: &realnet::Correlation| {
            format!(
                "rho {} [{}, {}] tau {} [{}, {}]",
                f(x.spearman),
                f(x.spearman_ci[0]),
                f(x.spearman_ci[1]),
                f(x.kendall),
                f(x.kendall_ci[0]),
                f(x.kendall_ci[1])
            )
        };
        println!(
            "{} [{}] {} cells | acc~d_pred: {} | acc~d_emp: {}",
            g.family,
            g.subset,
            g.n_cells,
            c(&g.vs_delta_pred),
            c(&g.vs_delta_emp)
        );
        for (name, u) in [("pred", &g.unimodal_pred), ("emp", &g.unimodal_emp)] {
            if let Some(u) = u {
                println!(
                    "    best d_{name} = {} (acc {}, rank {}/{}): interior {}, in [0.1,1] {}, z_low {}, z_high {}, rho_left {}, rho_right {}",
                    f(u.best_delta), f(u.best_acc), u.best_rank, u.n, u.interior, u.in_paper_range,
                    f(u.z_low), f(u.z_high), f(u.rho_left), f(u.rho_right)
                );
            }
        }
    }
    let ratios: Vec<f64> = an.c2.iter().map(|r| r.ratio).collect();
    println!(
        "C2 back-solve (b E|w|^2) / direct over {} SGD runs: median {} (min {}, max {})",
        ratios.len(),
        f(realnet::median(&ratios)),
        f(ratios.iter().copied().fold(f64::INFINITY, f64::min)),
        f(ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max))
    );
    for n in &an.normality {
        println!(
            "normality {} {} lr {}: proj skew {} exkurt {}, gaussian share {}, coord exkurt {}",
            n.family,
            n.optimizer,
            n.lr,
            f(n.proj_skew),
            f(n.proj_exkurt),
            f(n.gaussian_share),
            f(n.coord_exkurt)
        );
    }
    for o in &an.omega {
        println!(
            "omega {} b {} {} lr {}: E|w| {} d_emp {} ratio@lr {} ratio@lr/(1-b) {} acc {}",
            o.family,
            o.batch,
            o.optimizer,
            o.lr,
            f(o.omega_mean),
            f(o.delta_emp),
            f(o.ratio_matched_lr),
            f(o.ratio_matched_eff_lr),
            f(o.acc_mean)
        );
    }
    Ok(())
}

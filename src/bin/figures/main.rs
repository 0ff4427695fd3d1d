//! `figures`: regenerate every figure in `figures/`.
//!
//! Each figure has two steps, kept apart as in cockpit-experiments:
//!
//! - **run** computes the numbers through the library (`theory`, `runner`, `stationary`) and
//!   writes `OUT/data/NAME.csv` with a provenance sidecar `OUT/data/NAME.json` (commit, dirty
//!   flag, crate version, CPU, command line, and the full configuration); both atomically;
//! - **plot** reads only that CSV and draws `OUT/NAME.svg` and `OUT/NAME.png` through
//!   `momentum_smoothing::plot`. It computes no science.
//!
//! `--plot-only` redraws from the CSVs without rerunning.

// No unwrap/expect on paths that user input reaches (tests may use them).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde_json::{json, Value};

use momentum_smoothing::config::LandscapeFile;
use momentum_smoothing::optimizer::{Optimizer, OptimizerKind};
use momentum_smoothing::output::{write_csv, write_json, Provenance};
use momentum_smoothing::plot::{self, Dash, DataTable, DrawResult, Figure, LegendEntry, Theme};
use momentum_smoothing::runner::{self, RunConfig};
use momentum_smoothing::stats::Estimate;
use momentum_smoothing::{stationary, theory, Error, Result};

mod accuracy_vs_delta;
mod bias_vs_noise;
mod bound_tightness;
mod critical;
mod critical_real;
mod data_collapse;
mod delta_vs_batch;
mod effective_lr;
mod igo;
mod omega_distribution;
mod omega_vs_batch;
mod smoothed_landscapes;
mod training_curves;

const ABOUT: &str = "Regenerate the figures of the momentum-smoothing toolkit.

Each figure is a run step (numbers through the library, written to OUT/data/NAME.csv with a
provenance sidecar OUT/data/NAME.json) and a plot step that reads only that CSV and draws
OUT/NAME.svg and OUT/NAME.png (at least 1600 px wide).";

const AFTER: &str = "Examples:
  figures                         # every figure into figures/
  figures --list
  figures --only omega-vs-batch --quick --out /tmp/figs
  figures --plot-only             # redraw from figures/data/*.csv

Exit codes: 0 success, 1 a figure failed, 2 bad input (unknown figure name, bad flag).";

#[derive(Parser)]
#[command(name = "figures", version, about = ABOUT, after_help = AFTER)]
struct Cli {
    /// List the figures (name and one-line description) and exit.
    #[arg(long)]
    list: bool,
    /// Make only these figures (repeatable, or a comma-separated list).
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    only: Vec<String>,
    /// Fewer seeds and steps, for smoke tests; the figures are marked QUICK.
    #[arg(long)]
    quick: bool,
    /// Output folder: NAME.svg, NAME.png, data/NAME.csv, data/NAME.json.
    #[arg(long, value_name = "DIR", default_value = "figures")]
    out: PathBuf,
    /// Skip the run step: redraw from the CSVs already in OUT/data.
    #[arg(long)]
    plot_only: bool,
    /// Folder of the result files other experiments write for the figures (critical/, igo/, gpu/).
    #[arg(long, value_name = "DIR", default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/figures/data"))]
    external: PathBuf,
    /// Folder of landscape files.
    #[arg(long, value_name = "DIR", default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/landscapes"))]
    landscapes: PathBuf,
}

/// What the run and plot steps of a figure share.
struct Ctx {
    out: PathBuf,
    data: PathBuf,
    quick: bool,
    landscapes: PathBuf,
    /// Where the critical-batch, IGO and GPU experiments leave their figure data.
    external: PathBuf,
    bar: ProgressBar,
}

impl Ctx {
    fn csv(&self, name: &str) -> PathBuf {
        self.data.join(format!("{name}.csv"))
    }

    fn sidecar(&self, name: &str) -> PathBuf {
        self.data.join(format!("{name}.json"))
    }

    /// Write the provenance sidecar of a figure's CSV.
    fn write_sidecar(
        &self,
        fig: &FigureDef,
        config: Value,
        columns: &[(&str, &str)],
    ) -> Result<()> {
        let cols: Vec<Value> = columns
            .iter()
            .map(|(name, meaning)| json!({"name": name, "meaning": meaning}))
            .collect();
        write_json(
            &self.sidecar(fig.name),
            &json!({
                "figure": fig.name,
                "description": fig.description,
                "quick": self.quick,
                "csv": format!("{}.csv", fig.name),
                "columns": cols,
                "config": config,
                "provenance": Provenance::collect(),
            }),
        )
    }
}

/// One figure: a name, a one-line description, a run step and a plot step.
struct FigureDef {
    name: &'static str,
    description: &'static str,
    run: fn(&Ctx, &FigureDef) -> Result<()>,
    plot: fn(&Ctx, &FigureDef, &DataTable) -> Result<()>,
}

const FIGURES: &[FigureDef] = &[
    FigureDef {
        name: "delta-vs-batch",
        description:
            "theory δ = ηψ vs b for SGD, SHB (paper and tight), NSHB v1 with the authors' \
                      ResNet-18/CIFAR-100 constants (paper's Fig. 1 left)",
        run: delta_vs_batch::run,
        plot: delta_vs_batch::plot,
    },
    FigureDef {
        name: "omega-vs-batch",
        description: "measured √E‖ω‖² vs b on the 4-d quadratic (SGD, SHB, NSHB), with the exact \
                      stationary value, the bias part and the paper's bound ψ",
        run: omega_vs_batch::run,
        plot: omega_vs_batch::plot,
    },
    FigureDef {
        name: "bound-tightness",
        description: "√E‖ω‖²/ψ vs b and β for SGD, SHB, NSHB: exact stationary (lines) and \
                      measured (markers, 95% CI) on the 8-d quadratic, paper's and derived ψ (C1–C3)",
        run: bound_tightness::run,
        plot: bound_tightness::plot,
    },
    FigureDef {
        name: "bias-vs-noise",
        description: "the bias E[ω|past] and the fresh-noise part of ω vs b for SGD, SHB, NSHB \
                      (β = 0.9) on the quadratic (exact lines) and the multi-well, stationary and \
                      at the trajectory's peak (C6)",
        run: bias_vs_noise::run,
        plot: bias_vs_noise::plot,
    },
    FigureDef {
        name: "omega-distribution",
        description: "histograms (log density) and normal QQ plots of the coordinates of ω for SGD, \
                      SHB, NSHB under Gaussian, Student-t, multiplicative noise and on Rastrigin, \
                      with Anderson–Darling and Lilliefors p-values (C4, paper App. D.2)",
        run: omega_distribution::run_distribution,
        plot: omega_distribution::plot_distribution,
    },
    FigureDef {
        name: "omega-spectrum",
        description: "eigenvalues of the covariance of ω and its participation ratio (effective \
                      rank) per optimizer, isotropic and anisotropic noise, exact stationary lines (C4)",
        run: omega_distribution::run_spectrum,
        plot: omega_distribution::plot_spectrum,
    },
    FigureDef {
        name: "effective-lr",
        description: "√E‖ω‖² and the stationary loss vs β for the five rules at matched η and at \
                      matched η/(1−β) on the quadratic (exact lines, measured markers), and the \
                      ratio to SGD on the nonlinear settings (C10, synthetic part)",
        run: effective_lr::run,
        plot: effective_lr::plot,
    },
    FigureDef {
        name: "data-collapse",
        description: "escape fraction from the shallow well vs the paper's δ and vs the Langevin \
                      temperature θ over the C5b grid (SGD, SHB, NSHB), equal-δ pairs joined (C5b)",
        run: data_collapse::run,
        plot: data_collapse::plot,
    },
    FigureDef {
        name: "smoothed-landscapes",
        description: "f̂_δ of 1-D Rastrigin (exact) and the Drop-Wave slice (Monte Carlo) for \
                      δ = 0…0.75 under Gaussian, uniform-ball, Student-t and Cauchy kernels",
        run: smoothed_landscapes::run_1d,
        plot: smoothed_landscapes::plot_1d,
    },
    FigureDef {
        name: "smoothed-landscapes-2d",
        description: "2-D Rastrigin and Drop-Wave and their f̂_δ at δ = 0.3 under the four \
                      kernels (heat maps)",
        run: smoothed_landscapes::run_2d,
        plot: smoothed_landscapes::plot_2d,
    },
    FigureDef {
        name: "sfo-vs-batch",
        description: "SFO N(b) = b·T(b) vs b per ε with b* and the theory's lower bound, from the \
                      C7/C8 sweeps in figures/data/critical/ (C7, C8; paper Fig. 2)",
        run: critical::run_sfo,
        plot: critical::plot_sfo,
    },
    FigureDef {
        name: "variance-estimates",
        description: "C² by back-solve, direct measurement and McCandlish's tr Σ over the truth, and \
                      b* vs ε with the fitted exponent, from figures/data/critical/ (C7, C8)",
        run: critical::run_variance,
        plot: critical::plot_variance,
    },
    FigureDef {
        name: "igo",
        description: "success rate vs budget for the authors' decreasing-δ schedule, the best \
                      decreasing and best constant δ, explicit GO and argmin's global solvers, from \
                      figures/data/igo/ (C12)",
        run: igo::run,
        plot: igo::plot,
    },
    FigureDef {
        name: "accuracy-vs-delta",
        description: "final test accuracy vs δ_pred and δ_emp on ResNet-18/Fashion-MNIST, BatchNorm \
                      and GroupNorm, seeds and cell means per optimizer and b, Spearman ρ with its \
                      bootstrap CI, from figures/data/gpu/analysis/ (C11; paper Fig. 1 right)",
        run: accuracy_vs_delta::run,
        plot: accuracy_vs_delta::plot,
    },
    FigureDef {
        name: "training-curves",
        description: "train loss, test loss and test accuracy per epoch for every optimizer and b of \
                      the ResNet-18/Fashion-MNIST runs (BatchNorm, GroupNorm), mean and band over \
                      the 2 seeds, from figures/data/gpu/runs/*/epochs.csv (real networks)",
        run: training_curves::run,
        plot: training_curves::plot,
    },
    FigureDef {
        name: "critical-real",
        description: "SFO N(b) = b·T vs b on ResNet-18/Fashion-MNIST (BatchNorm, GroupNorm) for SGD, \
                      SHB, NSHB under the running-mean and full-gradient stop rules, per ε, censored \
                      cells and b*, with back-solved over direct C², from figures/data/gpu/critical/ \
                      (C7, C8 on a real network)",
        run: critical_real::run,
        plot: critical_real::plot,
    },
];

/// A failure and its exit code.
enum Failure {
    /// Bad input: exit 2.
    Usage(String),
    /// A figure failed: exit 1.
    Run(Error),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match real_main(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(m)) => {
            eprintln!("error: {m}");
            ExitCode::from(2)
        }
        Err(Failure::Run(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// The figures named by `--only` (all when empty), in registry order; unknown names are an error
/// that lists the known ones.
fn select(only: &[String]) -> std::result::Result<Vec<&'static FigureDef>, String> {
    let names: Vec<&str> = only
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    if let Some(bad) = names
        .iter()
        .find(|n| !FIGURES.iter().any(|f| f.name == **n))
    {
        let known: Vec<&str> = FIGURES.iter().map(|f| f.name).collect();
        return Err(format!(
            "unknown figure `{bad}`: expected one of {} (see --list)",
            known.join(", ")
        ));
    }
    Ok(FIGURES
        .iter()
        .filter(|f| names.is_empty() || names.contains(&f.name))
        .collect())
}

fn real_main(cli: Cli) -> std::result::Result<(), Failure> {
    if cli.list {
        let width = FIGURES.iter().map(|f| f.name.len()).max().unwrap_or(0);
        for f in FIGURES {
            println!("{:<width$}  {}", f.name, f.description);
        }
        return Ok(());
    }
    let selected = select(&cli.only).map_err(Failure::Usage)?;
    if cli.out.as_os_str().is_empty() {
        return Err(Failure::Usage(
            "invalid --out: expected a folder path".into(),
        ));
    }
    let data = cli.out.join("data");
    std::fs::create_dir_all(&data).map_err(|source| {
        Failure::Run(Error::Io {
            path: data.display().to_string(),
            source,
        })
    })?;
    let bar = ProgressBar::new(selected.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} figures [{bar:24}] {pos}/{len} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let ctx = Ctx {
        out: cli.out.clone(),
        data,
        quick: cli.quick,
        landscapes: cli.landscapes.clone(),
        external: cli.external.clone(),
        bar,
    };
    let mut report = Vec::new();
    for fig in selected {
        let started = Instant::now();
        if !cli.plot_only {
            ctx.bar.set_message(format!("{}: run", fig.name));
            (fig.run)(&ctx, fig).map_err(Failure::Run)?;
        }
        let ran = started.elapsed().as_secs_f64();
        ctx.bar.set_message(format!("{}: plot", fig.name));
        let table = DataTable::read(&ctx.csv(fig.name)).map_err(|e| {
            Failure::Run(if cli.plot_only {
                Error::File {
                    path: ctx.csv(fig.name).display().to_string(),
                    message: format!("{e} (run without --plot-only first)"),
                }
            } else {
                e
            })
        })?;
        (fig.plot)(&ctx, fig, &table).map_err(Failure::Run)?;
        let total = started.elapsed().as_secs_f64();
        ctx.bar.inc(1);
        report.push(format!(
            "{:<16} run {:>6.2} s  plot {:>5.2} s  -> {}/{}.{{svg,png}}, data/{}.csv",
            fig.name,
            ran,
            total - ran,
            ctx.out.display(),
            fig.name,
            fig.name
        ));
    }
    ctx.bar.finish_and_clear();
    for line in report {
        println!("{line}");
    }
    Ok(())
}

/// Text of a number for a CSV cell (`NaN` stays `NaN`).
fn cell(v: f64) -> String {
    v.to_string()
}

/// The optimizer kind from a CSV cell.
fn kind_of(t: &DataTable, row: usize) -> Result<OptimizerKind> {
    OptimizerKind::parse(t.str(row, "optimizer")?)
}

/// The three cells (mean, CI low, CI high) of an estimate.
fn est_cells(e: &Estimate) -> [String; 3] {
    [cell(e.mean), cell(e.ci_low), cell(e.ci_high)]
}

/// Write a figure's CSV (header from `columns`) and its provenance sidecar.
fn write_data(
    ctx: &Ctx,
    fig: &FigureDef,
    columns: &[(&str, &str)],
    rows: Vec<Vec<String>>,
    config: Value,
) -> Result<()> {
    let header: Vec<&str> = columns.iter().map(|c| c.0).collect();
    if let Some(bad) = rows.iter().find(|r| r.len() != header.len()) {
        return Err(Error::Open(format!(
            "{}: a row has {} cells for {} columns",
            fig.name,
            bad.len(),
            header.len()
        )));
    }
    write_csv(&ctx.csv(fig.name), &header, rows)?;
    ctx.write_sidecar(fig, config, columns)
}

/// The `quick` flag of a table (column `quick`, 1 or 0; false when absent or empty).
fn table_quick(t: &DataTable) -> bool {
    !t.rows.is_empty() && t.f64(0, "quick").map(|v| v != 0.0).unwrap_or(false)
}

/// "1" for a quick run, else "0" (the `quick` column).
fn quick_cell(ctx: &Ctx) -> String {
    if ctx.quick { "1" } else { "0" }.to_string()
}

/// Draw the figure's title and caption, with the quick-mode note appended when `quick`;
/// returns the area below them.
fn header<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    th: &Theme,
    title: &str,
    mut caption: Vec<String>,
    quick: bool,
) -> std::result::Result<DrawingArea<DB, Shift>, plot::DrawError> {
    if quick {
        caption.push(QUICK_NOTE.into());
    }
    let cap: Vec<&str> = caption.iter().map(String::as_str).collect();
    plot::draw_header(root, th, title, &cap)
}

/// Columns and rows of a grid of `n` panels (at least one) with at most `max_cols` per row.
fn grid_shape(n: usize, max_cols: usize) -> (usize, usize) {
    let n = n.max(1);
    let cols = n.min(max_cols);
    (cols, n.div_ceil(cols))
}

/// Caption line marking a quick (smoke-test) rendering.
const QUICK_NOTE: &str = "QUICK MODE: smoke test, not for publication";

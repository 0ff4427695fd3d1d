//! `mslab igo`: implicit graduated optimization schedules against global solvers (claim C12).
//! The library side is `momentum_smoothing::experiments::igo`.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use super::Failure;
use momentum_smoothing::config::LandscapeFile;
use momentum_smoothing::experiments::igo::{
    self, all_methods, csv_rows, IgoSetup, Method, CSV_HEADER,
};
use momentum_smoothing::output::{write_csv, write_json, Provenance};
use momentum_smoothing::Error;

pub const AFTER: &str = "Examples:
  mslab igo --landscape landscapes/rastrigin-2d.toml --schedule constant,poly:beta,exp:batch,pso
  mslab igo --landscape landscapes/ackley-10d.toml --schedule all --budget 1000,4000 --seeds 48 \\
        --out runs/igo-ackley

Schedules (shape:quantity[@optimizer]): shapes poly[p] (the authors' δ_m ∝ ((M+1−m)/(M+1))^p,
p = 0.9), cosine and exp (to 0.01·δ_0), step (×1/√2 every ⌈M/5⌉ stages); quantities lr, batch,
beta, lr+batch, lr+beta, batch+beta, each stage's δ solved for by the optimizer's δ formula
(SHB: cubic in β; NSHB: square root; b rounded up, capped at B/(10M)). Default optimizer: sgd
for batch and lr+batch, shb otherwise. constant[:c] runs δ = c·δ_0 throughout. Also: go
(explicit GO, Monte Carlo ∇f̂_δ, δ 1 → 0.01), pso, sa, lbfgs, nelder-mead (argmin, with the
same budget in f/∇f evaluations). `all` = every one of them.

The landscape file gives kind, dim and the initial box; its noise law is replaced by an
isotropic Gaussian whose σ is calibrated (temperature ΔE/2 at the start), unless --sigma.
Success: the final point, polished by noise-free descent, within 0.25 (∞-norm) of x*.
Rates carry Wilson 95% intervals over seeds, median gaps an order-statistics interval.
With --out DIR: DIR/results.csv, DIR/plans.csv (each stage's η, β, b, target and realized δ)
and DIR/summary.json (provenance, config, results), written atomically, summary.json last.";

/// Arguments of `mslab igo`.
#[derive(Args)]
#[command(after_help = AFTER)]
pub struct IgoArgs {
    /// Landscape file (TOML; see landscapes/). Needs a known global minimizer.
    #[arg(long)]
    landscape: PathBuf,
    /// Comma-separated schedules and baselines (see below), or `all`.
    #[arg(long, value_delimiter = ',', required = true)]
    schedule: Vec<String>,
    /// Budgets in gradient evaluations (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "4000")]
    budget: Vec<usize>,
    /// Stages M of the schedules.
    #[arg(long, default_value_t = 20)]
    stages: usize,
    /// Seeds S.
    #[arg(long, default_value_t = 48)]
    seeds: usize,
    /// Base seed (seed i uses ChaCha8 stream i of it).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Per-sample, per-coordinate noise σ (default: calibrated).
    #[arg(long, allow_negative_numbers = true)]
    sigma: Option<f64>,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Write results.csv, plans.csv and summary.json into this folder.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn parse_methods(names: &[String]) -> Result<Vec<Method>, Error> {
    let mut out = vec![];
    for n in names {
        if n == "all" {
            out.extend(all_methods());
        } else {
            out.push(Method::parse(n)?);
        }
    }
    Ok(out)
}

pub fn run(a: IgoArgs) -> Result<(), Failure> {
    let file = LandscapeFile::read(&a.landscape)?;
    let problem = file.build()?;
    let methods = parse_methods(&a.schedule)?;
    if a.seeds == 0 {
        return Err(Error::invalid("seeds", 0, "an integer >= 1").into());
    }
    if a.budget.is_empty() || a.budget.contains(&0) {
        return Err(Error::invalid("budget", format!("{:?}", a.budget), "integers >= 1").into());
    }
    if let Some(s) = a.sigma {
        if !(s.is_finite() && s >= 0.0) {
            return Err(Error::invalid("sigma", s, "a finite number >= 0").into());
        }
    }
    // Validate every (budget, schedule) before running anything.
    let mut setups = vec![];
    for &b in &a.budget {
        let mut setup = IgoSetup::new(problem.landscape.clone(), b, a.stages)?;
        setup.init = problem.init;
        if let Some(s) = a.sigma {
            setup.sigma = s;
        }
        for m in &methods {
            if let Method::Igo(s) = m {
                igo::plan(&setup, s)?;
            }
        }
        setups.push(setup);
    }
    let started = std::time::Instant::now();
    let mut results = vec![];
    let mut plans = vec![];
    let mut plan_rows = vec![];
    for setup in &setups {
        let mut rs = vec![];
        for m in &methods {
            if let Method::Igo(s) = m {
                let p = igo::plan(setup, s)?;
                for (i, st) in p.stages.iter().enumerate() {
                    plan_rows.push(vec![
                        setup.budget.to_string(),
                        m.name(),
                        i.to_string(),
                        st.lr.to_string(),
                        st.beta.to_string(),
                        st.batch.to_string(),
                        st.delta_target.to_string(),
                        st.delta_realized.to_string(),
                    ]);
                }
                plans.push(json!({"budget": setup.budget, "method": m.name(), "plan": p}));
            }
            rs.push(igo::run_method(setup, m, a.seeds, a.seed)?);
        }
        results.push(igo::Cell {
            landscape: problem.landscape.kind().to_string(),
            dim: problem.landscape.dim(),
            budget: setup.budget,
            sigma: setup.sigma,
            lr_eff: setup.lr_eff,
            barrier: setup.barrier,
            k: setup.k,
            results: rs,
        });
    }
    let elapsed = started.elapsed().as_secs_f64();
    let comparisons: Vec<_> = results.iter().map(igo::compare).collect();
    let config = json!({
        "landscape_file": a.landscape.display().to_string(),
        "landscape": file,
        "schedules": methods.iter().map(Method::name).collect::<Vec<_>>(),
        "budgets": a.budget, "stages": a.stages, "seeds": a.seeds, "seed": a.seed,
        "sigma": a.sigma,
        "basin_radius_inf": igo::BASIN_RADIUS,
    });
    let summary = json!({
        "cells": results,
        "comparisons": comparisons,
        "plans": plans,
        "elapsed_s": elapsed,
    });
    if let Some(dir) = &a.out {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.display().to_string(),
            source,
        })?;
        write_csv(&dir.join("results.csv"), &CSV_HEADER, csv_rows(&results))?;
        write_csv(
            &dir.join("plans.csv"),
            &[
                "budget",
                "method",
                "stage",
                "lr",
                "beta",
                "batch",
                "delta_target",
                "delta_realized",
            ],
            plan_rows,
        )?;
        write_json(
            &dir.join("summary.json"),
            &json!({"provenance": Provenance::collect(), "config": config, "summary": summary}),
        )?;
    }
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({"config": config, "summary": summary}))
                .unwrap_or_default()
        );
        return Ok(());
    }
    for c in &results {
        println!(
            "{} d={} budget={}: σ={:.4} η_eff={:.4e} ΔE={:.4} K={:.4} ({} seeds)",
            c.landscape, c.dim, c.budget, c.sigma, c.lr_eff, c.barrier, c.k, a.seeds
        );
        println!(
            "  {:<24} {:>8} {:>17} {:>12} {:>25}",
            "method", "success", "Wilson 95% CI", "median gap", "95% CI"
        );
        for r in &c.results {
            println!(
                "  {:<24} {:>8.3} [{:>6.3}, {:>6.3}] {:>12.4e} [{:>10.3e}, {:>10.3e}]",
                r.method,
                r.success_rate,
                r.success_ci[0],
                r.success_ci[1],
                r.gap_median,
                r.gap_median_ci[0],
                r.gap_median_ci[1]
            );
        }
        if let Some(cmp) = igo::compare(c) {
            println!(
                "  best implicit {} ({:.3}) vs best constant {} ({:.3}): difference 95% CI [{:.3}, {:.3}] -> {}",
                cmp.best_implicit,
                cmp.implicit_rate,
                cmp.best_constant,
                cmp.constant_rate,
                cmp.implicit_diff_ci[0],
                cmp.implicit_diff_ci[1],
                cmp.implicit_winner
            );
            println!(
                "  best decreasing {} ({:.3}) vs best constant {} ({:.3}): difference 95% CI [{:.3}, {:.3}] -> {}",
                cmp.best_decreasing,
                cmp.decreasing_rate,
                cmp.best_constant,
                cmp.constant_rate,
                cmp.diff_ci[0],
                cmp.diff_ci[1],
                cmp.winner
            );
        }
    }
    eprintln!("elapsed {elapsed:.1} s");
    Ok(())
}

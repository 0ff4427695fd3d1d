//! Divergence (issue 9): a non-finite iterate (or loss) marks that seed diverged at its step; the
//! summaries count the diverged seeds and exclude them explicitly; `mslab simulate` records a
//! run where every seed diverged as a result, and a sweep carries on past diverged and failed
//! runs.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use momentum_smoothing::landscape::Rosenbrock;
use momentum_smoothing::noise::NoiseLaw;
use momentum_smoothing::optimizer::{Optimizer, OptimizerKind};
use momentum_smoothing::runner::{run, InitBox, Problem, RunConfig};
use momentum_smoothing::stats::Welford;
use serde_json::Value;

/// Rosenbrock from x_0 ~ U([−6, 6]²) with η = 3·10⁻⁴: the step η·4b·x³ overshoots once
/// η·12b·x² ≳ 2 (|x| ≳ 2.4), so seeds that start far out blow up within a few steps (19 of
/// these 48) and the others settle in the valley.
fn rosenbrock() -> Problem {
    Problem {
        landscape: Arc::new(Rosenbrock::new(2).unwrap()),
        noise: NoiseLaw::Gaussian { sigma: 0.1 },
        init: InitBox {
            low: -6.0,
            high: 6.0,
        },
    }
}

fn config(steps: usize, seeds: usize) -> RunConfig {
    RunConfig {
        optimizer: Optimizer::new(OptimizerKind::Sgd, 3e-4, 0.0, 0.0).unwrap(),
        batch: 1,
        steps,
        burn_in: 0,
        seeds,
        seed: 7,
        every: 1,
    }
}

#[test]
fn a_seed_is_marked_diverged_at_the_step_its_iterate_becomes_non_finite() {
    let problem = rosenbrock();
    let r = run(&problem, &config(400, 48), None).unwrap();
    let diverged: Vec<(usize, usize)> = r
        .seeds
        .iter()
        .filter_map(|s| s.diverged_at.map(|t| (s.seed_index, t)))
        .collect();
    assert!(
        !diverged.is_empty() && diverged.len() < 48,
        "the test needs some but not all seeds to diverge: {} of 48",
        diverged.len()
    );
    for &(i, t) in diverged.iter().take(6) {
        // Seed i draws the same numbers whatever the number of steps: run it for exactly t steps
        // (x_0..x_{t−1} updated, x_t reached) and for t + 1.
        let before = run(&problem, &config(t, i + 1), None).unwrap();
        let s = &before.seeds[i];
        assert!(
            s.diverged_at.is_none() || s.diverged_at == Some(t),
            "seed {i}: diverged at {:?} within its first {t} steps",
            s.diverged_at
        );
        let after = run(&problem, &config(t + 1, i + 1), None).unwrap();
        assert_eq!(after.seeds[i].diverged_at, Some(t), "seed {i}");
        // A diverged seed reports no final numbers.
        assert!(after.seeds[i].final_loss.is_nan() && after.seeds[i].final_dist.is_none());
    }
}

#[test]
fn summaries_count_diverged_seeds_and_exclude_them() {
    let problem = rosenbrock();
    let r = run(&problem, &config(400, 48), None).unwrap();
    let s = r.summarize(&problem);
    let ok: Vec<_> = r.seeds.iter().filter(|x| x.diverged_at.is_none()).collect();
    assert_eq!(s.seeds, 48);
    assert_eq!(s.diverged, 48 - ok.len());
    assert!(s.diverged > 0);
    assert_eq!(
        s.first_divergence_step,
        r.seeds.iter().filter_map(|x| x.diverged_at).min()
    );
    // Every statistic is over the finite seeds only, and equals the same statistic computed by
    // hand over them (so no diverged seed leaks in).
    for est in [&s.omega_norm, &s.omega_norm_sq, &s.loss, &s.final_loss] {
        assert_eq!(est.n as usize, ok.len());
        assert!(est.mean.is_finite());
    }
    let mut w = Welford::new();
    ok.iter().for_each(|x| w.push(x.means[0]));
    assert_eq!(w.mean().to_bits(), s.omega_norm.mean.to_bits());
    // The per-step series is over the finite seeds too.
    assert!(r
        .series
        .iter()
        .all(|row| row.stats[0].count() as usize == ok.len()));
}

fn mslab(cwd: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mslab"))
        .args(args)
        .current_dir(cwd)
        .env_remove("MSLAB_SHARD")
        .env_remove("MSLAB_DEVICES")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const QUAD: &str = "name = \"q8\"\nkind = \"quadratic\"\ndim = 2\n[params]\neigenvalues = [1.0, 8.0]\n[noise]\nlaw = \"gaussian\"\nsigma = 1.0\n";

const ROSEN: &str = "name = \"rosen\"\nkind = \"rosenbrock\"\ndim = 2\n[noise]\nlaw = \"gaussian\"\nsigma = 0.1\n[init]\nlow = -6.0\nhigh = 6.0\n";

#[test]
fn simulate_reports_diverged_seeds_and_records_an_all_diverged_run() {
    let dir = tempfile::tempdir().unwrap();
    let rosen = dir.path().join("rosen.toml");
    std::fs::write(&rosen, ROSEN).unwrap();
    let out = dir.path().join("partial");
    let (code, stdout, err) = mslab(
        dir.path(),
        &[
            "simulate",
            "--landscape",
            rosen.to_str().unwrap(),
            "--optimizer",
            "sgd",
            "--lr",
            "3e-4",
            "--batch",
            "1",
            "--steps",
            "400",
            "--seeds",
            "48",
            "--seed",
            "7",
            "--json",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    let d = v["diverged"].as_u64().unwrap();
    assert!(d > 0 && d < 48, "{d}");
    assert_eq!(v["statistics_over_seeds"].as_u64().unwrap(), 48 - d);
    assert_eq!(v["diverged_seeds"].as_array().unwrap().len() as u64, d);
    assert!(v["excluded"].as_str().unwrap().contains("excluded"));
    // seeds.csv flags them too.
    let seeds_csv = std::fs::read_to_string(out.join("seeds.csv")).unwrap();
    let flagged = seeds_csv
        .lines()
        .skip(1)
        .filter(|l| !l.split(',').nth(1).unwrap_or("").is_empty())
        .count() as u64;
    assert_eq!(flagged, d);

    // η λ_max = 0.3 · 8 = 2.4 > 2: SGD diverges on every seed. The run is a result, not an error.
    let quad = dir.path().join("q8.toml");
    std::fs::write(&quad, QUAD).unwrap();
    let out = dir.path().join("all");
    let (code, stdout, err) = mslab(
        dir.path(),
        &[
            "simulate",
            "--landscape",
            quad.to_str().unwrap(),
            "--optimizer",
            "sgd",
            "--lr",
            "0.3",
            "--batch",
            "1",
            "--steps",
            "3000",
            "--seeds",
            "8",
            "--json",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("all 8 seeds diverged"), "{err}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["diverged"], 8);
    assert_eq!(v["statistics_over_seeds"], 0);
    assert!(v["omega_norm_mean"].is_null());
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["summary"]["diverged"], 8);
}

#[test]
fn a_sweep_continues_past_diverged_and_failed_runs() {
    let dir = tempfile::tempdir().unwrap();
    let quad = dir.path().join("q8.toml");
    std::fs::write(&quad, QUAD).unwrap();
    // lr 0.3 diverges on every seed; beta = 1 is refused (exit 2): both are recorded, the other
    // runs complete.
    let sweep = format!(
        "command = \"simulate\"\n[args]\nlandscape = \"{}\"\noptimizer = \"shb\"\nbatch = 1\nsteps = 3000\nseeds = 4\n[grid]\nlr = [0.3, 0.01]\nbeta = [1.0, 0.0]\n",
        quad.display()
    );
    let file = dir.path().join("sweep.toml");
    std::fs::write(&file, sweep).unwrap();
    let out = dir.path().join("out");
    let args = [
        "sweep",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--jobs",
        "2",
    ];
    let (code, stdout, err) = mslab(dir.path(), &args);
    assert_eq!(code, 1, "a failed run gives exit code 1: {stdout}\n{err}");
    assert!(err.contains("2 of 4 runs failed"), "{err}");
    assert!(
        stdout.contains("1 complete") && stdout.contains("1 diverged"),
        "{stdout}"
    );
    assert!(stdout.contains("invalid beta = 1"), "{stdout}");
    let index: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("index.json")).unwrap()).unwrap();
    let status = |lr: &str, beta: &str| -> String {
        index["runs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["params"] == serde_json::json!([["beta", beta], ["lr", lr]]))
            .map(|r| r["status"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(status("0.3", "0"), "diverged");
    assert_eq!(status("0.01", "0"), "complete");
    assert_eq!(status("0.3", "1"), "failed");
    assert_eq!(status("0.01", "1"), "failed");
    assert_eq!(index["counts"]["failed"], 2);
    // Rerun: complete and diverged runs are kept, failed ones retried (and fail again).
    let (code, stdout, _) = mslab(dir.path(), &args);
    assert_eq!(code, 1);
    assert!(stdout.contains("0 ran now, 1 already complete"), "{stdout}");
    assert!(stdout.contains("1 diverged"), "{stdout}");
}

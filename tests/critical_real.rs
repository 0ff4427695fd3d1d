//! Critical batch size on real networks, aggregation side (`experiments::realcritical`, CLI
//! `mslab critical --runs`): run folders written here with known hitting times, so b*,
//! censoring and the C² back-solve have known answers. No libtorch needed.

use std::path::Path;

use momentum_smoothing::experiments::realcritical::{self, GroupResult};
use serde_json::json;

mod common;

const BATCHES: [usize; 5] = [16, 32, 64, 128, 256];
/// log N(b) = (ln b − ln 50)² + ln 10⁶: a parabola in log b with its vertex at b = 50.
const VERTEX: f64 = 50.0;

fn sfo_target(b: usize) -> f64 {
    1e6 * ((b as f64).ln() - VERTEX.ln()).powi(2).exp()
}

/// Median-seed hitting time at b (an integer, so the median SFO is b·T exactly).
fn t_median(b: usize) -> u64 {
    (sfo_target(b) / b as f64).round() as u64
}

struct Run<'a> {
    optimizer: &'a str,
    beta: f64,
    batch: usize,
    seed: u64,
    /// (rule, eps, step) — None = censored.
    hits: Vec<(&'a str, f64, Option<u64>)>,
    steps: u64,
    /// Steps of the series and the c2 value at each.
    series: Vec<(u64, f64, f64)>,
}

fn write_run(root: &Path, r: &Run) {
    let dir = root.join(format!("{}/b{}-seed{}", r.optimizer, r.batch, r.seed));
    std::fs::create_dir_all(&dir).unwrap();
    let hits: Vec<_> = r
        .hits
        .iter()
        .map(|(rule, eps, step)| {
            json!({
                "rule": rule, "eps": eps, "step": step,
                "epoch": step.map(|s| s / 100),
                "sfo": step.map(|s| s * r.batch as u64),
                "censored": step.is_none(),
            })
        })
        .collect();
    let mut eps: Vec<f64> = r.hits.iter().map(|h| h.1).collect();
    eps.dedup();
    let mut rules: Vec<&str> = r.hits.iter().map(|h| h.0).collect();
    rules.sort();
    rules.dedup();
    let summary = json!({
        "config": {
            "dataset": "synthetic", "model": "mlp", "norm": "none",
            "optimizer": {"kind": r.optimizer, "lr": 0.1, "beta": r.beta, "nu": 0.7},
            "batch": r.batch, "seed": r.seed, "epochs": 50,
        },
        "n_train": 4096,
        "steps": r.steps,
        "final_epoch": {"train_loss": 0.1, "test_acc": 0.9},
        "critical": {
            "rules": rules, "eps": eps, "min_epochs": 0, "check_every": 10,
            "hits": hits,
        },
    });
    std::fs::write(
        dir.join("summary.json"),
        serde_json::to_string_pretty(&summary).unwrap(),
    )
    .unwrap();
    let mut csv = String::from("step,epoch,k,c2,b_simple\n");
    for (s, c2, bs) in &r.series {
        csv.push_str(&format!("{s},0,1.0,{c2},{bs}\n"));
    }
    std::fs::write(dir.join("series.csv"), csv).unwrap();
}

/// Three seeds per b: T·0.9, T, T·1.25 (median T). At b = 256 two of three are censored.
/// The series: c2 = 1000 at step 0 (left out of run medians), 7 elsewhere, except 3 at the
/// measurement nearest the running-mean hit; b_simple = 40 and 20 likewise.
fn write_grid(root: &Path, optimizer: &str, beta: f64, horizon: u64, skip: Option<(usize, u64)>) {
    for &b in &BATCHES {
        for seed in 0..3u64 {
            if skip == Some((b, seed)) {
                continue;
            }
            let t = t_median(b);
            let t = match seed {
                0 => (t as f64 * 0.9).round() as u64,
                1 => t,
                _ => (t as f64 * 1.25).round() as u64,
            };
            let censored = b == 256 && seed != 0;
            let hit = (!censored).then_some(t);
            // Full-gradient rule: hits 10 steps later, on the 10-step grid.
            let fg = hit.map(|t| (t / 10 + 1) * 10);
            let steps = if censored { horizon } else { t + 50 };
            let near = hit.map(|t| (t + 5) / 10 * 10);
            let series = (0..=steps / 10)
                .map(|k| {
                    let s = k * 10;
                    if s == 0 {
                        (s, 1000.0, 1000.0)
                    } else if Some(s) == near {
                        (s, 3.0, 20.0)
                    } else {
                        (s, 7.0, 40.0)
                    }
                })
                .collect();
            write_run(
                root,
                &Run {
                    optimizer,
                    beta,
                    batch: b,
                    seed,
                    hits: vec![("running-mean", 0.5, hit), ("full-gradient", 0.5, fg)],
                    steps,
                    series,
                },
            );
        }
    }
}

fn group<'a>(gs: &'a [GroupResult], opt: &str, rule: &str) -> &'a GroupResult {
    gs.iter()
        .find(|g| g.key.optimizer == opt && g.key.rule == rule)
        .unwrap()
}

#[test]
fn b_star_censoring_and_backsolve_on_a_constructed_sfo_table() {
    let dir = tempfile::tempdir().unwrap();
    write_grid(&dir.path().join("sweep"), "sgd", 0.0, 100_000, None);
    write_grid(&dir.path().join("sweep"), "shb", 0.9, 100_000, None);
    let runs = realcritical::collect_runs(dir.path()).unwrap();
    assert_eq!(runs.len(), 2 * BATCHES.len() * 3);
    let gs = realcritical::analyze(&runs, 400, 7);
    assert_eq!(gs.len(), 4, "2 optimizers × 2 rules");
    for opt in ["sgd", "shb"] {
        let g = group(&gs, opt, "running-mean");
        assert_eq!(g.seeds, vec![0, 1, 2]);
        assert_eq!(g.batches, BATCHES.to_vec());
        assert!(g.dropped.is_empty());
        let e = &g.per_eps[0];
        let c = &e.curve;
        // Median SFO per b is b·T exactly; b = 256 has 2/3 censored → +∞.
        for (r, &b) in c.rows.iter().zip(&BATCHES) {
            if b == 256 {
                assert!(r.sfo_median.is_infinite());
                assert_eq!(r.censored, 2);
            } else {
                assert_eq!(r.sfo_median, (b as u64 * t_median(b)) as f64);
                assert_eq!(r.censored, 0);
            }
        }
        // b*: grid minimum 64, vertex of the log–log parabola at 50. The integer T moves
        // log N by at most 0.5/T (T ≥ 1e6/256·…), so the vertex within 0.1%.
        let bs = c.b_star.unwrap();
        assert_eq!(bs.grid, 64);
        assert!(!bs.at_edge);
        assert!(
            (bs.value - VERTEX).abs() / VERTEX < 1e-3,
            "b* = {}",
            bs.value
        );
        assert!(c.censoring_safe, "256 × 100000 ≫ N(b*)");
        // Every seed scales T by the same factor at every b, so each bootstrap replicate's
        // median curve is a multiple of the original (up to the integer rounding): the
        // interval collapses onto the vertex.
        for end in c.b_star_ci95 {
            assert!((end - VERTEX).abs() / VERTEX < 1e-3, "{:?}", c.b_star_ci95);
        }
        // Back-solve: b*ε²/(η·factor); SGD factor 1, SHB 1/(1−β)² + 1/β.
        let factor = if opt == "sgd" {
            1.0
        } else {
            1.0 / (0.1f64 * 0.1) + 1.0 / 0.9
        };
        let want = bs.value * 0.25 / (0.1 * factor);
        let got = e.c2_backsolve.unwrap();
        assert!((got - want).abs() <= 1e-12 * want, "{got} vs {want}");
        assert!((g.sfo_factor.unwrap() - factor).abs() < 1e-12);
        // Direct C²: run median 7 (step 0 left out), 3 at the measurement nearest the hit.
        assert_eq!(e.c2_direct_bstar, 7.0);
        assert_eq!(e.c2_direct_hit_bstar, 3.0);
        assert_eq!(e.c2_direct_all, 7.0);
        assert!((e.ratio - want / 7.0).abs() <= 1e-12 * want);
        assert!((e.ratio_hit - want / 3.0).abs() <= 1e-12 * want);
        assert_eq!(e.b_simple_bstar, 40.0);
        assert_eq!(e.b_simple_hit_bstar, 20.0);
        let lb = e.b_star_lower_bound.unwrap();
        assert!((lb - 0.1 * factor * 7.0 / 0.25).abs() < 1e-9);
    }
    // The full-gradient group reads its own hits (10 steps later on a 10-step grid).
    let g = group(&gs, "sgd", "full-gradient");
    assert_eq!(g.key.check_every, 10);
    let r = &g.per_eps[0].curve.rows[0];
    assert_eq!(r.steps_median, ((t_median(16) / 10 + 1) * 10) as f64);
}

#[test]
fn short_censoring_horizon_is_flagged_and_missing_seeds_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    // Censored runs at b = 256 stopped after 10 steps: 256 × 10 < N(b*), so the censored
    // median could hide a smaller SFO. Seed 2 is missing at b = 32.
    write_grid(dir.path(), "sgd", 0.0, 10, Some((32, 2)));
    let runs = realcritical::collect_runs(dir.path()).unwrap();
    let gs = realcritical::analyze(&runs, 200, 1);
    let g = group(&gs, "sgd", "running-mean");
    assert_eq!(g.seeds, vec![0, 1]);
    assert_eq!(g.dropped.len(), BATCHES.len() - 1, "{:?}", g.dropped);
    let c = &g.per_eps[0].curve;
    // With seeds 0 and 1 the median at b = 256 averages a hit and a censored run: +∞.
    assert!(c.rows[4].sfo_median.is_infinite());
    assert!(!c.censoring_safe);
    // The bootstrap is seeded: same seed, same interval; the analysis is deterministic.
    let again = realcritical::analyze(&runs, 200, 1);
    assert_eq!(
        group(&again, "sgd", "running-mean").per_eps[0]
            .curve
            .b_star_ci95,
        c.b_star_ci95
    );
}

#[test]
fn cli_aggregates_run_folders_and_writes_tables() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    write_grid(&runs, "nshb", 0.9, 100_000, None);
    let out = dir.path().join("out");
    let (code, stdout, stderr) = common::mslab_in(
        dir.path(),
        &[
            "critical",
            "--runs",
            runs.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--bootstrap",
            "200",
        ],
        &[],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("b* = "), "{stdout}");
    for f in ["critical.json", "sfo.csv", "c2.csv", "runs.csv"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let c2 = std::fs::read_to_string(out.join("c2.csv")).unwrap();
    // 2 rules × 1 ε, plus the header.
    assert_eq!(c2.lines().count(), 3, "{c2}");
    let js: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("critical.json")).unwrap()).unwrap();
    let g = &js["groups"][0];
    // NSHB factor 1/(1−β) = 10.
    assert!((g["sfo_factor"].as_f64().unwrap() - 10.0).abs() < 1e-9);
    let bs = g["per_eps"][0]["curve"]["b_star"]["value"]
        .as_f64()
        .unwrap();
    let c2b = g["per_eps"][0]["c2_backsolve"].as_f64().unwrap();
    assert!((c2b - bs * 0.25 / (0.1 * 10.0)).abs() < 1e-9 * c2b);
    assert!(js["provenance"].is_object());
}

//! C11 statistics (experiments::realnet) on fixture data the test writes: rank correlations
//! against hand-computed values (ties included), seeded bootstrap intervals, the unimodality
//! check, and the whole analysis on fake `mslab train` run folders. Needs no libtorch.

use std::path::Path;

use momentum_smoothing::experiments::realnet::{
    analyze, bootstrap_ci, collect_runs, correlate, kendall_tau_b, ranks, spearman, unimodality,
};
use momentum_smoothing::Error;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * (1.0 + b.abs())
}

#[test]
fn perfectly_monotone_data_gives_one() {
    let x: Vec<f64> = (0..20).map(|i| i as f64).collect();
    let y: Vec<f64> = x.iter().map(|v| v.exp()).collect(); // monotone, not linear
    assert!(close(spearman(&x, &y), 1.0));
    assert!(close(kendall_tau_b(&x, &y), 1.0));
    let yr: Vec<f64> = y.iter().map(|v| -v).collect();
    assert!(close(spearman(&x, &yr), -1.0));
    assert!(close(kendall_tau_b(&x, &yr), -1.0));
    // Every resample of a monotone relation is monotone (or constant, dropped): CI = [1, 1].
    let c = correlate(&x, &y, 500, 7);
    assert_eq!(c.n, 20);
    assert!(close(c.spearman_ci[0], 1.0) && close(c.spearman_ci[1], 1.0));
    assert!(close(c.kendall_ci[0], 1.0) && close(c.kendall_ci[1], 1.0));
}

#[test]
fn known_values_with_and_without_ties() {
    // No ties: d = (−1, 1, −1, 1, 0), ρ = 1 − 6·4/(5·24) = 0.8; 8 concordant, 2 discordant: τ = 0.6.
    let x = [1.0, 2.0, 3.0, 4.0, 5.0];
    let y = [2.0, 1.0, 4.0, 3.0, 5.0];
    assert!(close(spearman(&x, &y), 0.8));
    assert!(close(kendall_tau_b(&x, &y), 0.6));
    // A tie in x: average ranks (1, 2.5, 2.5, 4); ρ = 4.5/√(4.5·5) = 3/√10;
    // τ_b = 5/√(6·5) (5 concordant, 1 pair tied in x).
    let x = [1.0, 2.0, 2.0, 3.0];
    let y = [1.0, 2.0, 3.0, 4.0];
    assert_eq!(ranks(&x), vec![1.0, 2.5, 2.5, 4.0]);
    assert!(close(spearman(&x, &y), 3.0 / 10f64.sqrt()));
    assert!(close(kendall_tau_b(&x, &y), 5.0 / 30f64.sqrt()));
    // A constant side has no correlation.
    assert!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]).is_nan());
    assert!(kendall_tau_b(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]).is_nan());
}

#[test]
fn bootstrap_is_seeded_and_brackets_the_estimate() {
    // A noisy monotone relation (deterministic "noise").
    let x: Vec<f64> = (0..40).map(|i| i as f64).collect();
    let y: Vec<f64> = x
        .iter()
        .map(|v| v + 15.0 * ((v * 12.9898).sin() * 43758.5453).fract())
        .collect();
    let a = bootstrap_ci(&x, &y, spearman, 1000, 3, 1);
    let b = bootstrap_ci(&x, &y, spearman, 1000, 3, 1);
    assert_eq!(a, b, "same seed, same interval");
    let c = bootstrap_ci(&x, &y, spearman, 1000, 4, 1);
    assert_ne!(a.0, c.0, "another seed, another interval");
    let rho = spearman(&x, &y);
    assert!(a.0[0] < rho && rho < a.0[1], "{a:?} vs {rho}");
    assert!(a.0[0] > 0.0 && a.0[1] <= 1.0);
    assert_eq!(a.1, 1000);
}

#[test]
fn unimodality_finds_interior_peaks() {
    // Peak at δ = 0.3, seeds' SE 0.001.
    let peaked: Vec<(f64, f64, f64)> = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0]
        .iter()
        .map(|&d: &f64| (d, 0.9 - 0.02 * (d / 0.3).ln().powi(2), 0.001))
        .collect();
    let u = unimodality(&peaked).expect("6 cells");
    assert!(u.interior && u.in_paper_range);
    assert!(close(u.best_delta, 0.3));
    assert!(u.z_low > 2.0 && u.z_high > 2.0);
    assert!(close(u.rho_left, 1.0) && close(u.rho_right, -1.0));
    // Monotone: the best δ is at an end.
    let mono: Vec<(f64, f64, f64)> = (1..6).map(|i| (i as f64, i as f64, 0.1)).collect();
    let u = unimodality(&mono).expect("5 cells");
    assert!(!u.interior);
    assert_eq!(u.best_rank, 4);
    assert!(unimodality(&mono[..2]).is_none());
}

fn write_run(dir: &Path, opt: &str, lr: f64, b: usize, seed: u64, acc: f64, c2: f64) {
    std::fs::create_dir_all(dir).unwrap();
    let beta = if opt == "sgd" { 0.0 } else { 0.9 };
    let summary = serde_json::json!({
        "provenance": {"git_commit": "abc"},
        "device": {"name": "Fake GPU", "cuda_runtime": "13.0", "libtorch": "2.11.0"},
        "config": {"dataset": "fashion-mnist", "model": "resnet18", "norm": "group",
                   "optimizer": {"kind": opt, "lr": lr, "beta": beta, "nu": 0.7},
                   "batch": b, "epochs": 2, "seed": seed},
        "n_train": 1000, "steps": 100,
        "final_epoch": {"test_acc": acc, "train_loss": 0.1},
        "timing": {"train_images_per_s": 1000.0, "train_seconds": 10.0, "measure_seconds": 1.0}
    });
    std::fs::write(dir.join("summary.json"), summary.to_string()).unwrap();
    // ‖ω‖ = √(C²/b) exactly (SGD's identity), so the back-solve gives C² back; a step-0 row
    // with wild values that the analysis must leave out.
    let om = (c2 / b as f64).sqrt();
    let mut s = String::from("step,omega_norm,c2,k,b_simple,proj_skew,proj_exkurt,proj_n,omega_exkurt,delta_emp,delta_pred_sgd\n");
    s += "0,1e6,1e6,1,1,9,9,128,9,1e6,1e6\n";
    for step in [10, 20, 30] {
        s += &format!(
            "{step},{om},{c2},1,{},0.0,0.0,128,0.5,{},{}\n",
            c2,
            lr * om,
            lr * (c2 / b as f64).sqrt()
        );
    }
    std::fs::write(dir.join("series.csv"), s).unwrap();
}

#[test]
fn whole_analysis_on_fixture_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    // Accuracy decreasing in b ⇒ increasing in δ = η√(C²/b): ρ = τ = 1 over the SGD cells.
    let batches = [8usize, 32, 128, 512];
    for (i, &b) in batches.iter().enumerate() {
        for seed in 0..2 {
            let acc = 0.9 - 0.05 * i as f64 + 0.001 * seed as f64;
            write_run(
                &root.join(format!("sweep/b{b}_s{seed}")),
                "sgd",
                0.1,
                b,
                seed,
                acc,
                100.0,
            );
        }
    }
    // A folder without a train summary is skipped.
    std::fs::create_dir_all(root.join("other")).unwrap();
    std::fs::write(root.join("other/summary.json"), "{\"x\": 1}").unwrap();
    let runs = collect_runs(root).unwrap();
    assert_eq!(runs.len(), 8);
    assert!(
        runs.iter().all(|r| r.n_measurements == 3),
        "step 0 left out"
    );
    let an = analyze(&runs, 500, 11);
    assert_eq!(an.cells.len(), 4);
    let all = an.groups.iter().find(|g| g.subset == "all").unwrap();
    assert!(close(all.vs_delta_pred.spearman, 1.0));
    assert!(close(all.vs_delta_emp.kendall, 1.0));
    let u = all.unimodal_emp.as_ref().unwrap();
    assert!(!u.interior, "monotone fixture: best δ at the largest δ");
    assert_eq!(an.c2.len(), 8);
    assert!(an.c2.iter().all(|r| close(r.ratio, 1.0)));
    assert!(an.normality.iter().all(|n| close(n.gaussian_share, 1.0)));
    assert!(an.omega.iter().all(|o| close(o.ratio_matched_lr, 1.0)));
}

#[test]
fn bad_runs_folder_is_invalid_input() {
    let tmp = tempfile::tempdir().unwrap();
    match collect_runs(&tmp.path().join("missing")) {
        Err(Error::Invalid { field, .. }) => assert_eq!(field, "runs"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    // An existing folder with no train runs.
    match collect_runs(tmp.path()) {
        Err(Error::Invalid { field, .. }) => assert_eq!(field, "runs"),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

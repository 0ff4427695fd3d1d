#![cfg(feature = "torch")]
//! Stop rules of `mslab train` for critical-batch studies (src/torch/train.rs, `--stop-eps`),
//! on CPU with a tiny idx data set: the recorded hit is the one gnorm.csv / fgnorm.csv imply,
//! the rules leave the trajectory (and the BatchNorm buffers) bit-for-bit unchanged, an
//! unreachable ε is censored, training ends at the end of the epoch where the smallest ε is
//! reached, and a resumed run equals an uninterrupted one. Bad stop options are refused.

use std::path::Path;

use momentum_smoothing::experiments::critical::StopRule;
use momentum_smoothing::optimizer::{Optimizer, OptimizerKind};
use momentum_smoothing::torch::data::DatasetKind;
use momentum_smoothing::torch::device::DeviceSpec;
use momentum_smoothing::torch::models::{ModelKind, Norm};
use momentum_smoothing::torch::train::{run, run_with_stop, StopConfig, TrainConfig};

mod common;
use common::write_data;

const N_TRAIN: usize = 256;
const BATCH: usize = 32;
/// Steps per epoch.
const SPE: u64 = (N_TRAIN / BATCH) as u64;

fn config(data: &Path, out: &Path, model: ModelKind, norm: Norm, epochs: usize) -> TrainConfig {
    TrainConfig {
        dataset: DatasetKind::FashionMnist,
        data_dir: data.to_path_buf(),
        model,
        norm,
        optimizer: Optimizer::new(OptimizerKind::Shb, 0.05, 0.9, 0.7).unwrap(),
        batch: BATCH,
        epochs,
        seed: 11,
        device: DeviceSpec::Cpu,
        measure_every: Some(0),
        measure: common::tiny_measure(),
        augment: false,
        limit_train: 0,
        max_steps: 0,
        warmup_steps: 0,
        out: out.to_path_buf(),
        progress: false,
    }
}

fn stop(eps: &[f64], min_epochs: usize, check_every: usize) -> StopConfig {
    StopConfig {
        eps: eps.to_vec(),
        rules: StopRule::ALL.to_vec(),
        min_epochs,
        check_every,
    }
}

/// (step, value) rows of a two-number CSV column pair by header name.
fn read_col(path: &Path, col: &str) -> Vec<(u64, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let i = header.iter().position(|h| *h == col).unwrap();
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].parse().unwrap(), f[i].to_string())
        })
        .collect()
}

/// The running-mean hit recomputed from gnorm.csv: first t ≥ min_step with
/// mean(‖g_0‖ … ‖g_t‖) ≤ ε, T = t + 1 (sums in f64 of the f32 norms, in step order).
fn running_mean_hit(gnorm: &[(u64, String)], eps: f64, min_step: u64) -> Option<u64> {
    let mut sum = 0.0f64;
    for (k, (t, v)) in gnorm.iter().enumerate() {
        assert_eq!(*t, k as u64, "gnorm.csv has every step in order");
        sum += f64::from(v.parse::<f32>().unwrap());
        if *t >= min_step && sum / (t + 1) as f64 <= eps {
            return Some(t + 1);
        }
    }
    None
}

#[test]
fn recorded_hits_are_the_ones_the_norm_files_imply() {
    let data = tempfile::tempdir().unwrap();
    write_data(data.path(), N_TRAIN, 64);
    let out = tempfile::tempdir().unwrap();
    let cfg = config(data.path(), out.path(), ModelKind::Mlp, Norm::None, 4);
    // ε between the extremes of the observed norms: read a plain run first.
    let probe_cfg = TrainConfig {
        out: out.path().join("probe"),
        ..cfg.clone()
    };
    let probe = run_with_stop(&probe_cfg, Some(&stop(&[1e-12], 0, 2))).unwrap();
    let g = read_col(&out.path().join("probe/gnorm.csv"), "g_norm");
    let fg = read_col(&out.path().join("probe/fgnorm.csv"), "full_grad_norm");
    assert_eq!(g.len() as u64, probe.summary.steps);
    let steps: Vec<u64> = fg.iter().map(|r| r.0).collect();
    assert_eq!(steps, (0..4 * SPE).step_by(2).collect::<Vec<_>>());
    let rm = read_col(&out.path().join("probe/gnorm.csv"), "running_mean");
    let last_mean: f64 = rm.last().unwrap().1.parse().unwrap();
    let first_mean: f64 = rm[0].1.parse().unwrap();
    let fgv: Vec<f64> = fg.iter().map(|r| r.1.parse().unwrap()).collect();
    let fg_min = fgv.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(
        last_mean < first_mean && fg_min < fgv[0],
        "training must reduce both norms for this test to mean something"
    );
    // One ε per rule strictly inside its observed range, one above everything; min epochs 1.
    let eps_rm = 0.5 * (last_mean + first_mean);
    let eps_fg = 0.5 * (fg_min + fgv[0]);
    let eps = [eps_rm, eps_fg, 1e9];
    let s = stop(&eps, 1, 2);
    let c = TrainConfig {
        out: out.path().join("run"),
        ..cfg
    };
    let o = run_with_stop(&c, Some(&s)).unwrap();
    let crit = o.summary.critical.clone().unwrap();
    let g = read_col(&out.path().join("run/gnorm.csv"), "g_norm");
    let fg: Vec<(u64, f64)> = read_col(&out.path().join("run/fgnorm.csv"), "full_grad_norm")
        .into_iter()
        .map(|(t, v)| (t, v.parse().unwrap()))
        .collect();
    assert_eq!(g.len() as u64, o.summary.steps);
    for h in &crit.hits {
        let want = match h.rule {
            StopRule::RunningMean => running_mean_hit(&g, h.eps, SPE),
            StopRule::FullGradient => fg
                .iter()
                .find(|(t, k)| *t >= SPE && *k <= h.eps)
                .map(|(t, _)| *t),
        };
        assert_eq!(h.step, want, "{:?} ε = {}", h.rule, h.eps);
        assert_eq!(h.censored, want.is_none());
        assert_eq!(h.sfo, want.map(|t| t * BATCH as u64));
        // The epoch of the step that fired: t = T − 1 (running mean) or t = T.
        let epoch = want.map(|t| match h.rule {
            StopRule::RunningMean => (t - 1) / SPE,
            StopRule::FullGradient => t / SPE,
        });
        assert_eq!(h.epoch, epoch);
    }
    // ε = 1e9: both rules fire at the first step checked (epoch 1): T = SPE + 1 mini-batch
    // gradients for the running mean, x_SPE for the full gradient.
    let big: Vec<_> = crit.hits.iter().filter(|h| h.eps == 1e9).collect();
    assert_eq!(big[0].step, Some(SPE + 1));
    assert_eq!(big[1].step, Some(SPE));
    // The summary file carries the same object.
    let js: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("run/summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(js["critical"]["min_epochs"], 1);
    assert_eq!(js["critical"]["check_every_steps"], 2);
    assert_eq!(js["critical"]["hits"].as_array().unwrap().len(), 6);
}

#[test]
fn stop_rules_leave_the_trajectory_unchanged_and_unreachable_eps_is_censored() {
    let data = tempfile::tempdir().unwrap();
    write_data(data.path(), N_TRAIN, 64);
    let out = tempfile::tempdir().unwrap();
    // BatchNorm: the full-gradient checks (eval mode) must not move the running statistics.
    // Measured every 5 steps, checked every 3: some checks reuse a measurement's K, others
    // run their own pass.
    let mut cfg = config(
        data.path(),
        &out.path().join("plain"),
        ModelKind::Cnn,
        Norm::Batch,
        2,
    );
    cfg.measure_every = Some(5);
    let plain = run(&cfg).unwrap();
    cfg.out = out.path().join("stopped");
    let with = run_with_stop(&cfg, Some(&stop(&[1e-9, 1e-10], 0, 3))).unwrap();
    assert_eq!(plain.summary.steps, 2 * SPE);
    assert_eq!(with.summary.steps, plain.summary.steps);
    assert!(plain.params.equal(&with.params), "parameters differ");
    assert!(plain.buffers.numel() > 0);
    assert!(
        plain.buffers.equal(&with.buffers),
        "BatchNorm buffers differ"
    );
    assert_eq!(plain.epochs, with.epochs);
    assert_eq!(plain.series, {
        let mut s = with.series.clone();
        for (a, b) in s.iter_mut().zip(&plain.series) {
            a.seconds = b.seconds;
        }
        s
    });
    assert!(plain.summary.critical.is_none());
    let c = with.summary.critical.unwrap();
    assert!(!c.stopped_early);
    assert_eq!(c.hits.len(), 4);
    for h in &c.hits {
        assert!(h.censored && h.step.is_none() && h.sfo.is_none() && h.epoch.is_none());
    }
    // No gnorm.csv without stop rules.
    assert!(!out.path().join("plain/gnorm.csv").exists());
}

#[test]
fn training_ends_at_the_end_of_the_epoch_where_the_smallest_eps_is_reached() {
    let data = tempfile::tempdir().unwrap();
    write_data(data.path(), N_TRAIN, 64);
    let out = tempfile::tempdir().unwrap();
    let cfg = config(data.path(), out.path(), ModelKind::Mlp, Norm::None, 10);
    // Every norm is below 1e9: both rules fire at the first step they check (epoch 2), so
    // training ends after epoch 2.
    let o = run_with_stop(&cfg, Some(&stop(&[1e9, 2e9], 2, 0))).unwrap();
    assert_eq!(o.summary.steps, 3 * SPE);
    let c = o.summary.critical.unwrap();
    assert!(c.stopped_early);
    assert_eq!(c.check_every_steps, SPE);
    for h in &c.hits {
        let want = match h.rule {
            StopRule::RunningMean => 2 * SPE + 1,
            StopRule::FullGradient => 2 * SPE,
        };
        assert_eq!(h.step, Some(want));
        assert_eq!(h.epoch, Some(2));
    }
    // Rerunning the same command finds every ε reached and trains no further.
    let again = run_with_stop(&cfg, Some(&stop(&[1e9, 2e9], 2, 0))).unwrap();
    assert_eq!(again.summary.steps, 3 * SPE);
    assert!(again.params.equal(&o.params));
}

#[test]
fn resumed_run_with_stop_rules_equals_an_uninterrupted_one() {
    let data = tempfile::tempdir().unwrap();
    write_data(data.path(), N_TRAIN, 64);
    let out = tempfile::tempdir().unwrap();
    let s = stop(&[1e-9, 0.5], 0, 3);
    let full_cfg = config(
        data.path(),
        &out.path().join("full"),
        ModelKind::Mlp,
        Norm::None,
        3,
    );
    let full = run_with_stop(&full_cfg, Some(&s)).unwrap();
    let mut cfg = config(
        data.path(),
        &out.path().join("resumed"),
        ModelKind::Mlp,
        Norm::None,
        1,
    );
    run_with_stop(&cfg, Some(&s)).unwrap();
    cfg.epochs = 3;
    let resumed = run_with_stop(&cfg, Some(&s)).unwrap();
    assert_eq!(resumed.summary.resumed_from_epoch, Some(1));
    assert!(full.params.equal(&resumed.params));
    assert_eq!(full.summary.critical, resumed.summary.critical);
    for f in ["gnorm.csv", "fgnorm.csv"] {
        assert_eq!(
            std::fs::read(out.path().join("full").join(f)).unwrap(),
            std::fs::read(out.path().join("resumed").join(f)).unwrap(),
            "{f}"
        );
    }
    // Resuming with other stop options, or without, is refused.
    for other in [Some(stop(&[1e-9], 0, 3)), None] {
        let mut c = cfg.clone();
        c.epochs = 4;
        let Err(e) = run_with_stop(&c, other.as_ref()) else {
            panic!("resumed with other stop options {other:?}");
        };
        let e = e.to_string();
        assert!(e.contains("stop-eps"), "{e}");
    }
}

#[test]
fn bad_stop_options_are_refused_on_one_line_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let base = [
        "train",
        "--dataset",
        "synthetic",
        "--model",
        "mlp",
        "--norm",
        "none",
        "--limit-train",
        "64",
        "--batch",
        "16",
        "--quiet",
    ];
    let rows: Vec<(Vec<&str>, &str, &str)> = vec![
        (vec!["--stop-eps", "0"], "stop-eps", "> 0"),
        (vec!["--stop-eps", "0.5,-1"], "stop-eps", "> 0"),
        (vec!["--stop-eps", "nan"], "stop-eps", "> 0"),
        (
            vec!["--stop-eps", "0.5", "--stop-rule", "median"],
            "stop-rule",
            "running-mean, full-gradient or both",
        ),
        (
            vec!["--stop-min-epochs", "3"],
            "stop-eps",
            "whenever --stop-rule",
        ),
    ];
    for (k, (extra, field, allowed)) in rows.iter().enumerate() {
        let out = dir.path().join(format!("out-{k}"));
        let mut args: Vec<String> = base.iter().map(|s| s.to_string()).collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        args.extend(["--out".to_string(), out.display().to_string()]);
        let (code, _, err) = common::mslab_in(dir.path(), &args, &[]);
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(code, Some(2), "{extra:?}: {err}");
        assert_eq!(lines.len(), 1, "{extra:?}: {err}");
        assert!(
            err.contains(field) && err.contains(allowed),
            "{extra:?}: {err}"
        );
        assert!(!out.exists(), "{extra:?} wrote its --out folder");
    }
}

#[test]
fn critical_dataset_trains_every_batch_and_seed_then_aggregates() {
    let data = tempfile::tempdir().unwrap();
    write_data(data.path(), N_TRAIN, 64);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("crit");
    let args: Vec<String> = [
        "critical",
        "--dataset",
        "fashion-mnist",
        "--data",
        data.path().to_str().unwrap(),
        "--model",
        "mlp",
        "--norm",
        "none",
        "--optimizer",
        "sgd",
        "--lr",
        "0.05",
        "--batches",
        "16,32,64",
        "--seeds",
        "2",
        "--eps",
        "1e9,1e-9",
        "--epochs",
        "1",
        "--measure-every",
        "4",
        "--measure-subset",
        "128",
        "--bootstrap",
        "200",
        "--out",
        out.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (code, stdout, stderr) = common::mslab_in(dir.path(), &args, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    for b in [16, 32, 64] {
        for s in [0, 1] {
            assert!(out
                .join(format!("runs/b{b}-seed{s}/summary.json"))
                .is_file());
        }
    }
    let js: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("critical.json")).unwrap()).unwrap();
    let groups = js["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "one group per rule");
    for g in groups {
        assert_eq!(g["batches"], serde_json::json!([16, 32, 64]));
        assert_eq!(g["seeds"], serde_json::json!([0, 1]));
        for e in g["per_eps"].as_array().unwrap() {
            let rows = e["curve"]["rows"].as_array().unwrap();
            if e["eps"] == 1e9 {
                // Fires at the first step checked: T = 1 (running mean) or 0 (full gradient,
                // x_0), so SFO = b or 0 and b* is the smallest b.
                assert_eq!(rows[0]["censored"], 0);
                assert_eq!(e["curve"]["b_star"]["grid"], 16, "{stdout}");
            } else {
                for r in rows {
                    assert_eq!(r["censored"], 2);
                }
                assert!(e["curve"]["b_star"].is_null());
            }
        }
    }
    // Rerunning skips the complete runs.
    let (code, _, stderr) = common::mslab_in(dir.path(), &args, &[]);
    assert_eq!(code, Some(0));
    assert_eq!(stderr.matches("complete, skipped").count(), 6, "{stderr}");
}

#[test]
fn measure_every_examples_sets_the_interval_from_the_batch_size() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m");
    let args: Vec<String> = [
        "train",
        "--dataset",
        "synthetic",
        "--model",
        "mlp",
        "--norm",
        "none",
        "--limit-train",
        "128",
        "--batch",
        "16",
        "--measure-every-examples",
        "50",
        "--measure-subset",
        "64",
        "--micro-batches",
        "2",
        "--micro-size",
        "8",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (code, _, stderr) = common::mslab_in(dir.path(), &args, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let js: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    // ⌈50/16⌉ = 4.
    assert_eq!(js["measure_every"], 4);
}

//! C8 (claims.md): the critical batch size scales as b* ∝ 1/ε² (the authors' reviewer figure).
//! Experiment: `experiments::critical::c8_data` — SFO sweeps N(b) = b·T(b) on a quarter-octave
//! grid of b on the 10-d critical quadratic, both stopping rules, b* per ε (grid argmin refined
//! by a parabola in log b), and the exponent k of b* ∝ ε^k by least squares in log–log with a
//! bootstrap interval over seeds (seeds resampled jointly over b and ε, b* and k recomputed per
//! replicate). Proof and verdict: proofs/C8-critical-batch-scaling.md.
//!
//! Tolerances: bootstrap percentile intervals over seeds. The check of the machinery on an
//! exact SFO model uses the interpolation error of a parabola on a quarter-octave grid, derived
//! in the proof file (§3). Seeds are fixed: deterministic.

use momentum_smoothing::experiments::critical::{self, SweepRuns};
use momentum_smoothing::experiments::{Scale, Verdict};

/// The Quick report (ε ∈ {0.5, 0.7, 1, 1.4, 2}; SGD and SHB; both rules; quarter-octave grid
/// of b; 16 seeds). What it shows:
/// * every b* is interior to the grid and strictly decreasing in ε;
/// * under the authors' running-mean rule the exponent's interval contains −2 (b* ∝ 1/ε², as
///   the first-order model of proofs/C7 §2 predicts);
/// * under the true full-gradient rule the point estimates are shallower (k > −2), but with 16
///   seeds the intervals are wide (about ±0.4) and contain −2: at this scale the verdict is
///   holds (the Full-scale verdict, with 64 seeds, is in the proof file).
#[test]
fn c8_quick_scaling() {
    let data = critical::c8_data(Scale::Quick).unwrap();
    let report = critical::c8_report(&data).unwrap();
    println!("C8: {:?}: {}", report.verdict, report.evidence);
    for (opt, rule, curves) in &data.curves {
        let mut prev = f64::INFINITY;
        for c in curves {
            let b = c.b_star.unwrap();
            println!(
                "{} {} ε = {}: b* = {:.1} {:?}",
                opt.kind,
                rule.name(),
                c.eps,
                b.value,
                c.b_star_ci95
            );
            assert!(!b.at_edge);
            assert!(b.value < prev);
            prev = b.value;
        }
    }
    assert_eq!(data.rows.len(), 4);
    for r in &data.rows {
        let f = r.fit.as_ref().unwrap();
        println!(
            "{} {}: k = {:.3} {:?} (OLS {:?})",
            r.optimizer,
            r.rule.name(),
            f.exponent,
            f.exponent_ci95,
            f.exponent_ols_ci95
        );
        assert_eq!(f.eps_used.len(), 5);
        assert!(f.exponent_ci95[0] <= f.exponent && f.exponent <= f.exponent_ci95[1]);
        assert!(f.paper_exponent_in_ci);
        if r.rule == critical::StopRule::FullGradient {
            assert!(f.exponent > -2.0);
        }
    }
    assert_eq!(report.verdict, Verdict::Holds);
    assert!(report.counter_example.is_none());
}

/// The machinery on an exact SFO model: T(b) = ⌈A/(ε − c/√b)⌉ (+ i for seed i), censored when
/// ε ≤ c/√b — the running-mean model of proofs/C7 §2, whose N(b) = b·T(b) is smallest at
/// b* = (9/4)c²/ε². On a quarter-octave grid the parabola in log b finds b* to within 2% and the
/// fitted exponent is −2 to within 0.01 (interpolation error, proofs/C8 §3); with no noise
/// over seeds every bootstrap replicate agrees up to the seed jitter.
#[test]
fn exact_model_recovers_b_star_and_exponent() {
    let (a, c) = (1000.0, 5.0);
    let eps = vec![0.25, 0.35, 0.5, 0.7, 1.0, 1.4, 2.0];
    let batches: Vec<usize> = {
        let mut v: Vec<usize> = (0..=60)
            .map(|k| 2f64.powf(k as f64 / 4.0).round() as usize)
            .collect();
        v.dedup();
        v
    };
    let seeds = 8;
    let times = eps
        .iter()
        .map(|&e| {
            batches
                .iter()
                .map(|&b| {
                    let gap = e - c / (b as f64).sqrt();
                    (0..seeds)
                        .map(|i| (gap > 0.0).then(|| (a / gap).ceil() as usize + i))
                        .collect()
                })
                .collect()
        })
        .collect();
    let runs = SweepRuns {
        batches: batches.clone(),
        eps: eps.clone(),
        times,
        diverged: vec![vec![false; seeds]; batches.len()],
        steps_simulated: 0,
        max_steps: usize::MAX / 2,
    };
    let boot = critical::bootstrap(&runs, 200, 1);
    let curves = critical::analyze(&runs, &boot);
    for cv in &curves {
        let truth = 2.25 * c * c / (cv.eps * cv.eps);
        let got = cv.b_star.unwrap().value;
        println!("ε = {}: b* = {got:.2}, exact {truth:.2}", cv.eps);
        assert!((got / truth - 1.0).abs() < 0.02, "{got} vs {truth}");
    }
    let fit = critical::fit_exponent(&curves, &boot).unwrap();
    println!("k = {} {:?}", fit.exponent, fit.exponent_ci95);
    assert!((fit.exponent + 2.0).abs() < 0.01);
    assert!(fit.paper_exponent_in_ci || (fit.exponent_ci95[1] - fit.exponent_ci95[0]) < 0.02);
}

/// Full scale (ignored; minutes): C7's and C8's sweeps and probes at 64 seeds × up to 10⁵ steps,
/// their claim reports, and the figure data in `figures/data/critical/` (formats in
/// `critical::write_figure_data`). Run:
/// `cargo test --release --test c8_critical_batch_scaling -- --ignored --nocapture`.
#[test]
#[ignore]
fn full_scale_figure_data() {
    let t = std::time::Instant::now();
    let c7 = critical::c7_data(Scale::Full).unwrap();
    let c8 = critical::c8_data(Scale::Full).unwrap();
    println!("Full C7 + C8 data in {:.1} s", t.elapsed().as_secs_f64());
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("figures/data/critical");
    critical::write_figure_data(&dir, &c7, &c8).unwrap();
    let r7 = critical::c7_report(&c7).unwrap();
    let r8 = critical::c8_report(&c8).unwrap();
    println!(
        "C7: {:?}: {}\n  counter-example: {:?}",
        r7.verdict, r7.evidence, r7.counter_example
    );
    println!(
        "C8: {:?}: {}\n  counter-example: {:?}",
        r8.verdict, r8.evidence, r8.counter_example
    );
    for r in &c7.rows {
        println!("{}", serde_json::to_string(r).unwrap());
    }
    for r in &c8.rows {
        println!("{}", serde_json::to_string(r).unwrap());
    }
    for (_, _, curves) in c7.curves.iter().chain(&c8.curves) {
        for c in curves {
            assert!(c.b_star.is_some());
        }
    }
    assert!(dir.join("sfo.csv").exists() && dir.join("fit.csv").exists());
}

//! C5 (scratch).
use momentum_smoothing::experiments::smoothing::*;
use momentum_smoothing::optimizer::{Optimizer, OptimizerKind};

#[test]
#[ignore]
fn explore_collapse() {
    let setup = CollapseSetup { depth: 1.0, tilt: 0.5, horizon: 60.0, seeds: 256 };
    println!("{:?}", setup.critical_points());
    for (kind, lr, beta, b, sigma) in [
        (OptimizerKind::Sgd, 0.02, 0.0, 1, 3.5),
        (OptimizerKind::Sgd, 0.02, 0.0, 1, 4.0),
        (OptimizerKind::Sgd, 0.04, 0.0, 4, 4.0),
        (OptimizerKind::Sgd, 0.04, 0.0, 2, 4.0),
        (OptimizerKind::Sgd, 0.02, 0.0, 1, 8.0),
        (OptimizerKind::Shb, 0.002, 0.9, 1, 4.0),
        (OptimizerKind::Nshb, 0.02, 0.9, 1, 4.0),
        (OptimizerKind::Shb, 0.01, 0.5, 1, 4.0),
        (OptimizerKind::Nshb, 0.02, 0.5, 1, 4.0),
    ] {
        let t = std::time::Instant::now();
        let cfg = CollapseConfig { label: format!("{kind} {lr} {beta} {b} {sigma}"), optimizer: Optimizer::new(kind, lr, beta, 0.0).unwrap(), batch: b, sigma, seed: 1 };
        let o = collapse_outcome(&setup, &cfg).unwrap();
        println!("{} T={} k={:.3} delta={:.4} theta={:.4} esc={:.3} loss={:.3} mean={:.3} amb={:.3} amg={:.3} match={} {:.2}s", o.config.label, o.steps, o.k, o.delta_paper, o.theta, o.escape.mean, o.final_loss.mean, o.mean_iterate.mean, o.argmin_ball, o.argmin_gauss, o.matches_runner, t.elapsed().as_secs_f64());
    }
}

#[test]
#[ignore]
fn explore_step() {
    for d in [2usize, 10] {
        for (kind, lr, beta) in [(OptimizerKind::Sgd, 0.002, 0.0), (OptimizerKind::Shb, 0.0002, 0.9), (OptimizerKind::Nshb, 0.002, 0.9), (OptimizerKind::Shb, 0.002, 0.9)] {
            let t = std::time::Instant::now();
            let s = StepSetup { dim: d, amplitude: 10.0, optimizer: Optimizer::new(kind, lr, beta, 0.0).unwrap(), batch: 1, sigma: 50.0, seeds: 64, steps: 2000, states_per_seed: 4, mc_states: 4, mc_samples: 20000, seed: 5 };
            let r = optimizer_one_step(&s).unwrap();
            println!("d={d} {kind} lr={lr} k={:.2} dp={:.4} dn={:.4} bias_rel={:.3} mcz={:.2} {:.2}s", r.k, r.delta_paper, r.delta_noise, r.bias_rel, r.mc_max_abs_z, t.elapsed().as_secs_f64());
            for f in &r.fits {
                println!("   {:?}: zero {:.4} paper {:.4} [{:.4},{:.4}] best δ={:.4} {:.4} [{:.4},{:.4}]", f.kernel, f.at_zero.pooled, f.at_paper.pooled, f.at_paper.rel.ci_low, f.at_paper.rel.ci_high, f.at_best.delta, f.at_best.pooled, f.at_best.rel.ci_low, f.at_best.rel.ci_high);
            }
        }
    }
}

#[test]
#[ignore]
fn explore_claims() {
    use momentum_smoothing::experiments::Scale;
    let t = std::time::Instant::now();
    let r = c5_one_step(Scale::Quick).unwrap();
    println!("{:?} {}\n{:?}\n{:.1}s", r.verdict, r.evidence, r.counter_example, t.elapsed().as_secs_f64());
    std::fs::write("/tmp/c5/one_step.json", serde_json::to_string_pretty(&r.rows).unwrap()).unwrap();
    let t = std::time::Instant::now();
    let r = c5_data_collapse(Scale::Quick).unwrap();
    println!("{:?} {}\n{:?}\n{:.1}s", r.verdict, r.evidence, r.counter_example, t.elapsed().as_secs_f64());
    std::fs::write("/tmp/c5/collapse.json", serde_json::to_string_pretty(&r.rows).unwrap()).unwrap();
}

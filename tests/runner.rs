//! The runner: determinism across thread counts, exact stationary moments, the bias/random split
//! of ω, divergence handling, and agreement with the argmin solver.
//!
//! Tolerances: every Monte Carlo comparison uses the Student-t 95% interval over independent
//! seeds produced by the runner, widened to z = 4 standard errors (a false alarm probability of
//! about 6·10⁻⁵ per comparison under the null). The seeds are fixed, so the tests are
//! deterministic.

use std::sync::Arc;

use argmin::core::{Executor, State};
use momentum_smoothing::landscape::{ArgminProblem, Quadratic, Rastrigin};
use momentum_smoothing::noise::NoiseLaw;
use momentum_smoothing::optimizer::{Optimizer, OptimizerKind};
use momentum_smoothing::runner::{run, InitBox, Problem, RunConfig};
use momentum_smoothing::solver::StochasticSolver;
use momentum_smoothing::stationary::stationary_moments;

const Z: f64 = 4.0;

fn quadratic_problem(eig: &[f64], sigma: f64) -> Problem {
    Problem {
        landscape: Arc::new(Quadratic::new(eig.to_vec(), None, 10.0).unwrap()),
        noise: NoiseLaw::Gaussian { sigma },
        init: InitBox {
            low: -0.1,
            high: 0.1,
        },
    }
}

fn cfg(opt: Optimizer, batch: usize, steps: usize, burn_in: usize, seeds: usize) -> RunConfig {
    RunConfig {
        optimizer: opt,
        batch,
        steps,
        burn_in,
        seeds,
        seed: 12345,
        every: 1,
    }
}

#[test]
fn same_bits_whatever_the_thread_count() {
    let problem = Problem {
        landscape: Arc::new(Rastrigin::new(7, 10.0).unwrap()),
        noise: NoiseLaw::Gaussian { sigma: 1.0 },
        init: InitBox {
            low: -5.12,
            high: 5.12,
        },
    };
    let opt = Optimizer::new(OptimizerKind::Qhm, 0.002, 0.9, 0.7).unwrap();
    let c = cfg(opt, 4, 300, 50, 37);
    let pool = |n| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
    };
    let a = pool(1).install(|| run(&problem, &c, None).unwrap());
    let b = pool(2).install(|| run(&problem, &c, None).unwrap());
    let sa = serde_json::to_string(&a.seeds).unwrap();
    let sb = serde_json::to_string(&b.seeds).unwrap();
    assert_eq!(sa, sb);
    let ma: Vec<f64> = a.series.iter().map(|r| r.stats[1].mean()).collect();
    let mb: Vec<f64> = b.series.iter().map(|r| r.stats[1].mean()).collect();
    assert_eq!(
        ma.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        mb.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
}

/// The measured stationary E‖ω‖² of every optimizer on a diagonal quadratic matches the exact
/// value of the discrete Lyapunov equation (src/stationary.rs).
#[test]
fn stationary_omega_matches_lyapunov() {
    let eig = [1.0, 2.0, 4.0, 8.0];
    let problem = quadratic_problem(&eig, 1.0);
    for kind in OptimizerKind::ALL {
        let opt = Optimizer::new(kind, 0.01, 0.9, 0.7).unwrap();
        let c = cfg(opt, 8, 12_000, 2_000, 64);
        let s = run(&problem, &c, None).unwrap().summarize(&problem);
        let exact = stationary_moments(&opt, &eig, &[1.0; 4], 8.0).unwrap();
        let se = s.omega_norm_sq.std_dev / (s.omega_norm_sq.n as f64).sqrt();
        let dev = (s.omega_norm_sq.mean - exact.omega_sq).abs();
        assert!(
            dev <= Z * se,
            "{kind}: measured {} ± {se}, exact {}",
            s.omega_norm_sq.mean,
            exact.omega_sq
        );
        let se_b = s.omega_bias_sq.std_dev / (s.omega_bias_sq.n as f64).sqrt();
        assert!(
            (s.omega_bias_sq.mean - exact.omega_bias_sq).abs() <= Z * se_b.max(1e-15),
            "{kind}: bias {} vs exact {}",
            s.omega_bias_sq.mean,
            exact.omega_bias_sq
        );
    }
}

/// The random part of ω is c_g (g_t − ∇f(x_t)), so E‖ω − E[ω|past]‖² = c_g² C²/b exactly, for
/// any landscape; SGD has no bias.
#[test]
fn random_part_has_variance_cg2_c2_over_b() {
    let problem = Problem {
        landscape: Arc::new(Rastrigin::new(10, 10.0).unwrap()),
        noise: NoiseLaw::Gaussian { sigma: 2.0 },
        init: InitBox {
            low: -5.12,
            high: 5.12,
        },
    };
    for kind in OptimizerKind::ALL {
        let opt = Optimizer::new(kind, 0.001, 0.8, 0.5).unwrap();
        let cg = opt.coefficients().c_g;
        let c = cfg(opt, 16, 400, 0, 48);
        let s = run(&problem, &c, None).unwrap().summarize(&problem);
        let want = cg * cg * 10.0 * 4.0 / 16.0;
        let se = s.omega_random_sq.std_dev / (s.omega_random_sq.n as f64).sqrt();
        assert!(
            (s.omega_random_sq.mean - want).abs() <= Z * se,
            "{kind}: {} vs {want}",
            s.omega_random_sq.mean
        );
        if kind == OptimizerKind::Sgd {
            assert_eq!(s.omega_bias_sq.mean, 0.0);
        }
    }
}

#[test]
fn divergence_is_reported_not_averaged() {
    let problem = quadratic_problem(&[1.0, 100.0], 1.0);
    // η λ_max = 3 > 2: SGD diverges on every seed.
    let opt = Optimizer::new(OptimizerKind::Sgd, 0.03, 0.0, 0.0).unwrap();
    let r = run(&problem, &cfg(opt, 1, 5_000, 0, 5), None).unwrap();
    let s = r.summarize(&problem);
    assert_eq!(s.diverged, 5);
    assert!(s.first_divergence_step.is_some());
    assert_eq!(s.omega_norm.n, 0);
}

#[test]
fn bad_config_names_the_field() {
    let problem = quadratic_problem(&[1.0], 1.0);
    let opt = Optimizer::new(OptimizerKind::Sgd, 0.1, 0.0, 0.0).unwrap();
    let mut c = cfg(opt, 0, 10, 0, 1);
    assert!(run(&problem, &c, None)
        .unwrap_err()
        .to_string()
        .contains("batch"));
    c.batch = 1;
    c.burn_in = 10;
    assert!(run(&problem, &c, None)
        .unwrap_err()
        .to_string()
        .contains("burn-in"));
    c.burn_in = 0;
    c.every = 0;
    assert!(run(&problem, &c, None)
        .unwrap_err()
        .to_string()
        .contains("every"));
}

/// argmin's Executor driving `StochasticSolver` follows the same trajectory as the runner's
/// seed 0 (same generator, same draws, same rule).
#[test]
fn argmin_solver_matches_runner() {
    let problem = quadratic_problem(&[1.0, 3.0, 9.0], 0.5);
    let opt = Optimizer::new(OptimizerKind::Nesterov, 0.02, 0.9, 0.0).unwrap();
    let steps = 200;
    let c = RunConfig {
        seed: 77,
        ..cfg(opt, 4, steps, 0, 1)
    };
    let r = run(&problem, &c, None).unwrap();
    let mut solver = StochasticSolver::new(opt, problem.clone(), 4, 77);
    let x0 = solver.initial_point();
    let res = Executor::new(ArgminProblem(problem.landscape.clone()), solver)
        .configure(|s| s.param(x0).max_iters(steps as u64))
        .run()
        .unwrap();
    let x = res.state().get_param().unwrap().to_vec();
    let f = problem.landscape.value(&x);
    assert!(
        (f - r.seeds[0].final_loss).abs() <= 1e-12 * f.abs().max(1.0),
        "{f} vs {}",
        r.seeds[0].final_loss
    );
}

//! C1 (claims.md): E‖ω^SGD_t‖ ≤ C/√b, where ω^SGD_t = g_t − ∇f(x_t) is the search-direction
//! noise of SGD. Proof: proofs/C1-sgd-noise-bound.md (variance of a mean of b i.i.d. samples,
//! then Jensen). The bound holds; these tests check it on six landscapes × noise laws, in the
//! stationary regime and at every step from x_0, and check the identity E‖ω‖² = C²/b it rests on.
//!
//! Tolerances. Every comparison is a z-test over independent seeds (the runner gives one
//! time-average per seed in the stationary regime, one value per seed per step along the
//! trajectory): a bound counts as violated when the measured mean exceeds it by more than
//! 4 standard errors (stationary; one-sided false alarm 3·10⁻⁵) or 4.5 standard errors at some
//! step (per-step 3.4·10⁻⁶, under 7·10⁻³ over the ≤ 2000 steps of a run, Bonferroni);
//! equalities are checked to 4 standard errors (two-sided 6·10⁻⁵). Seeds are fixed, so every
//! test is deterministic.

use std::sync::Arc;

use momentum_smoothing::experiments::bounds::{self, check_stationary, check_trajectory, Sizes};
use momentum_smoothing::experiments::{Scale, Verdict};
use momentum_smoothing::landscape::Quadratic;
use momentum_smoothing::noise::NoiseLaw;
use momentum_smoothing::optimizer::{Optimizer, OptimizerKind};
use momentum_smoothing::runner::{InitBox, Problem};
use momentum_smoothing::theory::Formula;
use proptest::prelude::*;
use statrs::function::gamma::ln_gamma;

mod common;

const Z: f64 = 4.0;

/// The claim experiment at Quick scale: no row (6 landscapes × noise laws × b ∈ {1, 16},
/// stationary and per-step) violates E‖ω‖ ≤ C/√b, the identity E‖ω‖² = C²/b holds for the
/// constant-variance laws, and the stationary tightness E‖ω‖/ψ is below 1 (a Jensen gap).
#[test]
fn c1_holds_on_every_case_quick() {
    let r = bounds::c1_sgd_bound(Scale::Quick).unwrap();
    println!("C1: {:?}: {}", r.verdict, r.evidence);
    assert_eq!(r.verdict, Verdict::Holds, "{:?}", r.counter_example);
    assert!(r.counter_example.is_none(), "{:?}", r.counter_example);
    assert_eq!(r.rows.len(), 6 * 2 * 2);
    for row in &r.rows {
        let c = &row["checks"][0];
        assert_eq!(c["key"], "sgd");
        assert_eq!(c["violated"], false, "{row}");
        assert_eq!(c["violated_rms"], false, "{row}");
        assert_ne!(c["holds_with_c2_expect"], false, "{row}");
        assert_eq!(row["diverged"], 0);
        if row["regime"] == "stationary" {
            assert!(c["ratio_ci"][1].as_f64().unwrap() < 1.0, "{row}");
        }
    }
}

/// E‖ω‖ of an isotropic Gaussian ω ~ N(0, s² I_d): s √2 Γ((d+1)/2)/Γ(d/2).
fn chi_mean(s: f64, d: usize) -> f64 {
    s * 2f64.sqrt() * (ln_gamma((d as f64 + 1.0) / 2.0) - ln_gamma(d as f64 / 2.0)).exp()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Over (d, σ, b, η, noise law): the stationary E‖ω^SGD‖² equals C²/b, E‖ω^SGD‖ ≤ C/√b in
    /// the stationary regime and at every step from x_0, and for isotropic Gaussian noise E‖ω‖
    /// equals the exact χ_d mean (σ/√b)·√2 Γ((d+1)/2)/Γ(d/2) — the whole Jensen gap.
    #[test]
    fn sgd_noise_matches_c2_over_b(
        d in 1usize..=8,
        sigma in 0.1f64..3.0,
        b in 1usize..=64,
        lr in 0.005f64..0.2,
        law in 0u8..3,
        dof in 5.0f64..12.0,
    ) {
        let eig = bounds::quadratic_eigenvalues(d);
        let noise = match law {
            0 => NoiseLaw::Gaussian { sigma },
            1 => NoiseLaw::Anisotropic {
                std_devs: (0..d).map(|i| sigma * (0.3 + i as f64 / d as f64)).collect(),
                rotation: Some(momentum_smoothing::linalg::random_orthogonal(d, 5)),
                rotation_seed: Some(5),
            },
            _ => NoiseLaw::StudentT { sigma, dof },
        };
        let c2 = match &noise {
            NoiseLaw::Anisotropic { std_devs, .. } => std_devs.iter().map(|s| s * s).sum(),
            _ => d as f64 * sigma * sigma,
        };
        let problem = Problem {
            landscape: Arc::new(Quadratic::new(eig, None, 10.0).unwrap()),
            noise,
            init: InitBox { low: -2.0, high: 2.0 },
        };
        let sizes = Sizes {
            stat_seeds: 16,
            stat_burn_in: 50,
            stat_steps: 450,
            traj_seeds: 24,
            traj_steps: 200,
            batches: &[],
            betas: &[],
        };
        let opt = Optimizer::new(OptimizerKind::Sgd, lr, 0.0, 0.0).unwrap();
        let st = bounds::measure_stationary(&problem, opt, b, &sizes).unwrap();
        prop_assert!((st.c2.sup - c2).abs() <= 1e-9 * c2);
        let sq = st.summary.omega_norm_sq;
        let se_sq = sq.std_dev / (sq.n as f64).sqrt();
        prop_assert!((sq.mean - c2 / b as f64).abs() <= Z * se_sq,
            "E|w|^2 = {} +- {se_sq}, C^2/b = {}", sq.mean, c2 / b as f64);
        let chk = check_stationary(Formula::Sgd, &opt, b, &st);
        prop_assert!(!chk.violated && !chk.violated_rms, "{chk:?}");
        prop_assert!(chk.ratio <= 1.0, "{chk:?}");
        if law == 0 {
            let w = st.summary.omega_norm;
            let se = w.std_dev / (w.n as f64).sqrt();
            let exact = chi_mean(sigma / (b as f64).sqrt(), d);
            prop_assert!((w.mean - exact).abs() <= Z * se, "E|w| = {} +- {se}, chi mean {exact}", w.mean);
        }
        let tr = bounds::measure_trajectory(&problem, opt, b, &sizes).unwrap();
        let chk = check_trajectory(Formula::Sgd, &opt, b, &tr);
        prop_assert!(!chk.violated && !chk.violated_rms, "{chk:?}");
    }
}

/// Scale::Full (run with `cargo test --release --test c1_sgd_noise_bound -- --ignored`): the
/// numbers quoted in proofs/C1-sgd-noise-bound.md; writes target/claims/C1.json.
#[test]
#[ignore]
fn c1_full_scale() {
    common::full_scale("C1", bounds::c1_sgd_bound, Verdict::Holds);
}

//! C4 checks (work in progress).
use momentum_smoothing::experiments::gaussianity::*;
use momentum_smoothing::experiments::Scale;
use momentum_smoothing::landscape::*;
use momentum_smoothing::noise::NoiseLaw;
use momentum_smoothing::runner::{InitBox, Problem};
use std::sync::Arc;

fn show(r: &C4Row) {
    eprintln!(
            "{:>16} {:>14} {:>8} step {:4} n {:4} div {:2} | AD {:.1e} KS {:.1e} k {:6.2} kp {:6.2} sk|z| {:5.1} | rnd AD {:.1e} bias AD {:>8} | PRc {:5.2} PRx {:>6} iso {:?} john {:.1e} mardia z {:6.1} | w2 {:.3} b2 {:.3} r2 {:.3} | pooled {:.1e} {:.2}",
            r.landscape, r.law, r.optimizer.name(), r.step, r.n, r.diverged,
            r.omega.ad_bonferroni_p, r.omega.ks_bonferroni_p, r.omega.kurtosis_coord_mean, r.omega.kurtosis_proj_mean, r.omega.skewness_max_abs_z,
            r.random_part.ad_bonferroni_p, r.bias_part.as_ref().map_or("-".into(), |b| format!("{:.1e}", b.ad_bonferroni_p)),
            r.spectrum.participation_ratio_corrected, r.pr_exact.map_or("-".into(), |v| format!("{v:.2}")), r.exactly_isotropic, r.spectrum.john_p_corrected, r.spectrum.mardia_z,
            r.omega_sq, r.bias_sq, r.random_sq, r.pooled_ad_p, r.pooled_kurtosis);
}

#[test]
#[ignore]
fn explore_table() {
    let scale = if std::env::var("C4_FULL").is_ok() {
        Scale::Full
    } else {
        Scale::Quick
    };
    let t0 = std::time::Instant::now();
    let rows = c4_table(scale).unwrap();
    eprintln!("table {:?}", t0.elapsed());
    for r in &rows {
        show(r);
    }
    let t0 = std::time::Instant::now();
    for s in student_sweeps(scale).unwrap() {
        eprintln!(
            "sweep {} nu {} steps {} min_b {:?} {:?}",
            s.optimizer,
            s.dof,
            s.steps,
            s.min_batch,
            s.points
                .iter()
                .map(|p| (
                    p.batch,
                    p.rejections,
                    format!("{:.1e}", p.median_p),
                    format!("{:.2}", p.kurtosis_mean)
                ))
                .collect::<Vec<_>>()
        );
    }
    eprintln!("sweep {:?}", t0.elapsed());
}

#[test]
#[ignore]
fn explore_nonconvex() {
    let sizes = C4Sizes::at(Scale::Quick);
    let null = LillieforsNull::calibrate(sizes.seeds, 99, 1).unwrap();
    let d = sizes.dim;
    for (name, land, sigma, lr, lo, hi) in [
        (
            "mw",
            Arc::new(MultiWell::new(d, 1.0, 0.5).unwrap()) as Arc<dyn Landscape>,
            5.0,
            0.02,
            -2.0,
            2.0,
        ),
        (
            "mw",
            Arc::new(MultiWell::new(d, 1.0, 0.5).unwrap()) as Arc<dyn Landscape>,
            10.0,
            0.02,
            -2.0,
            2.0,
        ),
        (
            "mw",
            Arc::new(MultiWell::new(d, 1.0, 0.5).unwrap()) as Arc<dyn Landscape>,
            20.0,
            0.02,
            -2.0,
            2.0,
        ),
        (
            "ras",
            Arc::new(Rastrigin::new(d, 1.0).unwrap()) as Arc<dyn Landscape>,
            5.0,
            0.02,
            -2.0,
            2.0,
        ),
        (
            "ras",
            Arc::new(Rastrigin::new(d, 1.0).unwrap()) as Arc<dyn Landscape>,
            20.0,
            0.02,
            -2.0,
            2.0,
        ),
    ] {
        let case = C4Case {
            landscape: "multi_well",
            law: format!("{name} s{sigma}"),
            problem: Problem {
                landscape: land,
                noise: NoiseLaw::Gaussian { sigma },
                init: InitBox { low: lo, high: hi },
            },
            lr,
            steps: 150,
        };
        for opt in c4_optimizers(lr).unwrap() {
            show(&c4_row(&case, opt, &sizes, &null).unwrap());
        }
    }
}

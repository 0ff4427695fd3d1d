//! Property tests of every landscape's analytic derivatives and stated truths.
//!
//! For each landscape kind, at random points of its domain (random dimension where the kind
//! allows it):
//! * ∇f matches central finite differences of f, and ∇²f matches central finite differences
//!   of ∇f;
//! * ∇²f is exactly symmetric and `value_gradient` agrees with `value` and `gradient`;
//! * ‖∇f(x)‖ ≤ `grad_norm_bound` on the domain;
//! * the stated global minimizer x* lies in the domain, f(x*) equals the stated minimum,
//!   ∇f(x*) ≈ 0 and f(x) ≥ f(x*) at the random points;
//! * for the finite-sum landscape, the mean of the per-sample values and gradients is f and ∇f.
//!
//! # Finite-difference tolerance
//!
//! With the absolute step h = 10⁻⁵, the central difference (f(x + h e_i) − f(x − h e_i))/2h
//! differs from ∂_i f(x) by a truncation error ≤ h²/6 · |∂_i³ f| = 1.7·10⁻¹¹ |∂_i³ f| plus a
//! roundoff error ≤ u·F/h, where F bounds |f| on the stencil and u ≈ 16ε ≈ 3.6·10⁻¹⁵ covers the
//! relative error of evaluating f (sums of ≤ 8 terms of one sign, libm's sin/cos/exp/tanh
//! within an ulp or two), so roundoff ≤ 3.6·10⁻¹⁰ F. We allow
//!
//!   |analytic − FD| ≤ 10⁻⁵ + 10⁻⁶ |analytic| + 10⁻⁹ F,
//!
//! where 10⁻⁵ covers the truncation term for third derivatives up to 6·10⁵ (the largest here
//! is Rosenbrock's 24·b·x_i ≤ 2.4·10⁴; the others are below 10⁴ on the boxes used), 10⁻⁶ |·|
//! covers truncation that scales with the derivative itself, and 10⁻⁹ F (≈ 3× the roundoff
//! estimate) covers roundoff. The same argument one order up applies to the Hessian check,
//! with ∂⁴f in place of ∂³f and F = max ‖∇f‖_∞ on the stencil. A wrong formula (a missing
//! factor or term) is off by O(|derivative|), far beyond these tolerances.

use momentum_smoothing::landscape::{
    Ackley, DropWave, Griewank, Landscape, Levy, MultiWell, Quadratic, Rastrigin, Rosenbrock,
    StyblinskiTang, TeacherStudent,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// Finite-difference step.
const H: f64 = 1e-5;
/// Absolute slack (truncation error of the central difference).
const ATOL: f64 = 1e-5;
/// Relative slack on the analytic value.
const RTOL: f64 = 1e-6;
/// Roundoff slack per unit of the differenced function's magnitude on the stencil.
const ROUNDOFF: f64 = 1e-9;

fn close(analytic: f64, fd: f64, scale: f64) -> bool {
    (analytic - fd).abs() <= ATOL + RTOL * analytic.abs() + ROUNDOFF * scale
}

/// Gradient vs central differences of the value.
fn check_gradient(l: &dyn Landscape, x: &[f64]) -> Result<(), TestCaseError> {
    let d = l.dim();
    let mut g = vec![0.0; d];
    l.gradient(x, &mut g);
    let mut xp = x.to_vec();
    for i in 0..d {
        xp[i] = x[i] + H;
        let fp = l.value(&xp);
        xp[i] = x[i] - H;
        let fm = l.value(&xp);
        xp[i] = x[i];
        let fd = (fp - fm) / (2.0 * H);
        let scale = fp.abs().max(fm.abs());
        prop_assert!(
            close(g[i], fd, scale),
            "{}: ∂_{i} f analytic {} vs FD {} at x = {:?}",
            l.kind(),
            g[i],
            fd,
            x
        );
    }
    Ok(())
}

/// Hessian vs central differences of the gradient, plus exact symmetry.
fn check_hessian(l: &dyn Landscape, x: &[f64]) -> Result<(), TestCaseError> {
    let d = l.dim();
    let mut h = vec![0.0; d * d];
    l.hessian(x, &mut h);
    for i in 0..d {
        for j in 0..i {
            prop_assert!(
                h[i * d + j] == h[j * d + i],
                "{}: Hessian not symmetric at ({i}, {j})",
                l.kind()
            );
        }
    }
    let mut xp = x.to_vec();
    let mut gp = vec![0.0; d];
    let mut gm = vec![0.0; d];
    for j in 0..d {
        xp[j] = x[j] + H;
        l.gradient(&xp, &mut gp);
        xp[j] = x[j] - H;
        l.gradient(&xp, &mut gm);
        xp[j] = x[j];
        let scale = gp.iter().chain(&gm).fold(0.0_f64, |m, v| m.max(v.abs()));
        for i in 0..d {
            let fd = (gp[i] - gm[i]) / (2.0 * H);
            prop_assert!(
                close(h[i * d + j], fd, scale),
                "{}: ∂_{i}∂_{j} f analytic {} vs FD {} at x = {:?}",
                l.kind(),
                h[i * d + j],
                fd,
                x
            );
        }
    }
    Ok(())
}

/// `value_gradient` agrees with `value` and `gradient`.
fn check_value_gradient(l: &dyn Landscape, x: &[f64]) -> Result<(), TestCaseError> {
    let d = l.dim();
    let (mut g1, mut g2) = (vec![0.0; d], vec![0.0; d]);
    l.gradient(x, &mut g1);
    let f = l.value_gradient(x, &mut g2);
    let f0 = l.value(x);
    prop_assert!(
        (f - f0).abs() <= 1e-12 * (1.0 + f0.abs()),
        "{}: value_gradient {f} vs value {f0}",
        l.kind()
    );
    for (a, b) in g1.iter().zip(&g2) {
        prop_assert!(
            (a - b).abs() <= 1e-12 * (1.0 + a.abs()),
            "{}: value_gradient grad {b} vs {a}",
            l.kind()
        );
    }
    Ok(())
}

/// ‖∇f(x)‖ ≤ K at a point x of the domain.
fn check_grad_bound(l: &dyn Landscape, x: &[f64]) -> Result<(), TestCaseError> {
    let (lo, hi) = l.domain();
    prop_assert!(x.iter().all(|v| (lo..=hi).contains(v)));
    if let Some(k) = l.grad_norm_bound() {
        let mut g = vec![0.0; l.dim()];
        l.gradient(x, &mut g);
        let n = g.iter().map(|v| v * v).sum::<f64>().sqrt();
        prop_assert!(
            n <= k,
            "{}: ‖∇f‖ = {n} > bound {k} at x = {:?}",
            l.kind(),
            x
        );
    }
    Ok(())
}

/// The stated minimum: in the domain, f(x*) = f*, ∇f(x*) ≈ 0, and f(x) ≥ f* at `x`.
fn check_minimum(l: &dyn Landscape, x: &[f64]) -> Result<(), TestCaseError> {
    let Some((xs, fs)) = l.global_minimum() else {
        return Ok(());
    };
    let (lo, hi) = l.domain();
    prop_assert_eq!(xs.len(), l.dim());
    prop_assert!(
        xs.iter().all(|v| (lo..=hi).contains(v)),
        "{}: x* outside the domain",
        l.kind()
    );
    let mut g = vec![0.0; l.dim()];
    let f = l.value_gradient(&xs, &mut g);
    prop_assert!(
        (f - fs).abs() <= 1e-12 * (1.0 + fs.abs()),
        "{}: f(x*) = {f}, stated {fs}",
        l.kind()
    );
    let gn = g.iter().map(|v| v * v).sum::<f64>().sqrt();
    prop_assert!(gn <= 1e-9, "{}: ‖∇f(x*)‖ = {gn}", l.kind());
    let fx = l.value(x);
    prop_assert!(
        fx >= fs - 1e-12 * (1.0 + fs.abs()),
        "{}: f(x) = {fx} below stated minimum {fs}",
        l.kind()
    );
    Ok(())
}

/// Every check. `x_fd` is where derivatives are compared (possibly a sub-box), `x_dom` a point
/// of the full domain for the bound and the minimum.
fn check_all(l: &dyn Landscape, x_fd: &[f64], x_dom: &[f64]) -> Result<(), TestCaseError> {
    check_gradient(l, x_fd)?;
    check_hessian(l, x_fd)?;
    check_value_gradient(l, x_fd)?;
    check_value_gradient(l, x_dom)?;
    check_grad_bound(l, x_dom)?;
    check_minimum(l, x_dom)
}

/// (d, x_fd in [a, b]^d, x_dom in [lo, hi]^d) for d in `dims`.
fn points(
    dims: std::ops::RangeInclusive<usize>,
    fd_box: (f64, f64),
    domain: (f64, f64),
) -> impl Strategy<Value = (usize, Vec<f64>, Vec<f64>)> {
    dims.prop_flat_map(move |d| {
        (
            Just(d),
            vec(fd_box.0..=fd_box.1, d),
            vec(domain.0..=domain.1, d),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn quadratic_derivatives_and_truth(
        eig in vec(-10.0..10.0_f64, 1..=8),
        seed in proptest::option::of(any::<u64>()),
        radius in 0.5..20.0_f64,
        u in vec(-1.0..=1.0_f64, 8),
        w in vec(-1.0..=1.0_f64, 8),
    ) {
        let d = eig.len();
        let q = Quadratic::new(eig.clone(), seed, radius).unwrap();
        prop_assert_eq!(q.eigenvalues(), &eig[..]);
        prop_assert_eq!(q.is_diagonal(), seed.is_none());
        let x: Vec<f64> = u[..d].iter().map(|v| v * radius).collect();
        let y: Vec<f64> = w[..d].iter().map(|v| v * radius).collect();
        check_all(&q, &x, &y)?;
        prop_assert_eq!(q.global_minimum().is_some(), eig.iter().all(|&l| l >= 0.0));
    }

    #[test]
    fn rastrigin_derivatives_and_truth(
        (d, x, y) in points(1..=8, (-5.12, 5.12), (-5.12, 5.12)),
        amplitude in 0.5..20.0_f64,
    ) {
        let l = Rastrigin::new(d, amplitude).unwrap();
        check_all(&l, &x, &y)?;
    }

    #[test]
    fn ackley_derivatives_and_truth((d, x, y) in points(1..=8, (-2.0, 2.0), (-32.768, 32.768))) {
        // Away from the kink at 0, where ∇²f blows up like 1/‖x‖.
        prop_assume!(x.iter().map(|v| v * v).sum::<f64>().sqrt() >= 0.1);
        let l = Ackley::new(d).unwrap();
        check_all(&l, &x, &y)?;
    }

    #[test]
    fn styblinski_tang_derivatives_and_truth((d, x, y) in points(1..=8, (-5.0, 5.0), (-5.0, 5.0))) {
        let l = StyblinskiTang::new(d).unwrap();
        check_all(&l, &x, &y)?;
    }

    #[test]
    fn levy_derivatives_and_truth((d, x, y) in points(1..=8, (-10.0, 10.0), (-10.0, 10.0))) {
        let l = Levy::new(d).unwrap();
        check_all(&l, &x, &y)?;
    }

    #[test]
    fn griewank_derivatives_and_truth((d, x, y) in points(1..=8, (-100.0, 100.0), (-600.0, 600.0))) {
        let l = Griewank::new(d).unwrap();
        check_all(&l, &x, &y)?;
    }

    #[test]
    fn rosenbrock_derivatives_and_truth((d, x, y) in points(2..=8, (-5.0, 10.0), (-5.0, 10.0))) {
        let l = Rosenbrock::new(d).unwrap();
        check_all(&l, &x, &y)?;
    }

    #[test]
    fn drop_wave_derivatives_and_truth((_d, x, y) in points(2..=2, (-5.12, 5.12), (-5.12, 5.12))) {
        let l = DropWave::new().unwrap();
        check_all(&l, &x, &y)?;
        // Near the origin the Taylor branch is used: check it there too.
        let small: Vec<f64> = x.iter().map(|v| v * 1e-3).collect();
        check_gradient(&l, &small)?;
        check_hessian(&l, &small)?;
    }

    #[test]
    fn multi_well_derivatives_and_truth(
        (d, x, y) in points(1..=8, (-2.0, 2.0), (-2.0, 2.0)),
        depth in 0.2..5.0_f64,
        tilt_frac in -0.95..0.95_f64,
    ) {
        let tilt = tilt_frac * 8.0 * depth / (3.0 * 3.0_f64.sqrt());
        let l = MultiWell::new(d, depth, tilt).unwrap();
        check_all(&l, &x, &y)?;
    }

    #[test]
    fn teacher_student_derivatives_and_finite_sum(
        p in 1..=3usize,
        h in 1..=3usize,
        n in 1..=12usize,
        noise in 0.0..0.5_f64,
        seed in any::<u64>(),
        u in vec(-3.0..=3.0_f64, 12),
    ) {
        let l = TeacherStudent::new(p, h, n, noise, seed).unwrap();
        let d = l.dim();
        prop_assert_eq!(d, h * (p + 1));
        prop_assert_eq!(l.teacher_params().len(), d);
        let x = &u[..d];
        check_all(&l, x, x)?;

        let fs = l.finite_sum().expect("teacher_student is a finite sum");
        prop_assert_eq!(fs.n_samples(), n);
        let mut g_sum = vec![0.0; d];
        let mut f_sum = 0.0;
        for i in 0..n {
            fs.add_sample_gradient(i, x, &mut g_sum);
            f_sum += fs.sample_value(i, x);
        }
        let mut g = vec![0.0; d];
        let f = l.value_gradient(x, &mut g);
        prop_assert!((f_sum / n as f64 - f).abs() <= 1e-12 * (1.0 + f.abs()));
        for (a, b) in g_sum.iter().zip(&g) {
            prop_assert!((a / n as f64 - b).abs() <= 1e-12 * (1.0 + b.abs()), "mean sample gradient {} vs {}", a / n as f64, b);
        }
    }
}

//! Tightness of the noise bounds (claims C1–C3): √E‖ω‖²/ψ versus b for β = 0.5, 0.9, 0.95 and
//! SGD, SHB, NSHB, on the diagonal quadratic of the bound checks (`experiments::bounds`), with
//! the exact stationary ratio (`stationary::stationary_moments`, lines) over the measured one
//! (`bounds::measure_stationary`, markers with 95% CIs over seeds).

use super::*;
use momentum_smoothing::experiments::bounds::{self, Sizes};
use momentum_smoothing::experiments::Scale;
use momentum_smoothing::theory::Formula;

const KINDS: [OptimizerKind; 3] = [OptimizerKind::Sgd, OptimizerKind::Shb, OptimizerKind::Nshb];
/// β of the measured points on the quadratic, and of the nonlinear case.
const BETAS: [f64; 3] = [0.5, 0.9, 0.95];
const BETA_NONLINEAR: f64 = 0.9;
/// The cases of `bounds::bound_cases` used here: (name, exact stationary moments exist).
const QUAD: &str = "quadratic_diag/gaussian";
const NONLINEAR: &str = "multi_well/gaussian";

/// b of the measured points on the quadratic (the ratio does not depend on b there).
fn quad_batches(quick: bool) -> Vec<usize> {
    if quick {
        vec![1]
    } else {
        vec![1, 64]
    }
}

/// b of the nonlinear sweep.
fn nonlinear_batches(quick: bool) -> Vec<usize> {
    if quick {
        vec![1, 16, 256]
    } else {
        vec![1, 4, 16, 64, 256, 1024]
    }
}

fn sizes(quick: bool) -> Sizes {
    let base = Sizes::of(if quick { Scale::Quick } else { Scale::Full });
    if quick {
        Sizes {
            stat_seeds: 8,
            stat_burn_in: 300,
            stat_steps: 800,
            ..base
        }
    } else {
        Sizes {
            stat_seeds: 64,
            stat_burn_in: 1000,
            stat_steps: 4000,
            ..base
        }
    }
}

const COLUMNS: [(&str, &str); 18] = [
    ("case", "bounds::bound_cases name (landscape/noise law)"),
    ("source", "exact (discrete Lyapunov, stationary) or measured (runner, time average after burn-in)"),
    ("optimizer", "sgd, shb or nshb"),
    ("formula", "theory::Formula key of psi"),
    ("is_paper", "whether the formula is the paper's"),
    ("is_valid_bound", "whether the formula is a proven bound"),
    ("lr", "learning rate eta"),
    ("beta", "momentum factor beta (0 for sgd)"),
    ("batch", "batch size b"),
    ("c2", "exact C^2 = d sigma^2"),
    ("k", "K used in psi: quadratic, sqrt of the exact stationary E||grad f||^2; multi-well, measured by the runner"),
    ("k_measured", "K measured by the runner (measured rows)"),
    ("psi", "psi(eta, b, beta, C^2, K)"),
    ("omega_rms", "sqrt E||omega||^2"),
    ("ratio", "sqrt E||omega||^2 / psi"),
    ("ratio_ci_low", "95% CI lower end (measured rows: sqrt of the CI of E||omega||^2 over seeds, / psi)"),
    ("ratio_ci_high", "95% CI upper end"),
    ("quick", "1 for a quick (smoke-test) run, else 0"),
];

pub fn run(ctx: &Ctx, fig: &FigureDef) -> Result<()> {
    let cases = bounds::bound_cases(Scale::Full)?;
    let find = |name: &str| {
        cases
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| Error::Open(format!("bounds::bound_cases has no {name}")))
    };
    let (quad, nonlin) = (find(QUAD)?, find(NONLINEAR)?);
    let d = quad.problem.landscape.dim();
    let eig = bounds::quadratic_eigenvalues(d);
    let (_, var) = stationary::problem_spectrum(&quad.problem)?;
    let c2: f64 = var.iter().sum();
    let sizes = sizes(ctx.quick);
    let mut rows = Vec::new();
    let row = |case: &str,
               source: &str,
               opt: &Optimizer,
               f: Formula,
               b: f64,
               k: f64,
               k_meas: f64,
               rms: (f64, f64, f64)|
     -> Vec<String> {
        let psi = f.psi(opt, b, c2, k);
        vec![
            case.to_string(),
            source.to_string(),
            opt.kind.name().to_string(),
            f.key().to_string(),
            f.is_paper().to_string(),
            f.is_valid_bound().to_string(),
            cell(opt.lr),
            cell(opt.beta),
            cell(b),
            cell(c2),
            cell(k),
            cell(k_meas),
            cell(psi),
            cell(rms.0),
            cell(rms.0 / psi),
            cell(rms.1 / psi),
            cell(rms.2 / psi),
            quick_cell(ctx),
        ]
    };
    let rms_of = |m: &bounds::Stationary| {
        let e = m.summary.omega_norm_sq.map(|v| v.max(0.0).sqrt());
        (e.mean, e.ci_low, e.ci_high)
    };
    // Quadratic: exact over a fine β grid (b = 1; the ratio does not depend on b), measured at
    // BETAS × quad_batches.
    let exact_betas: Vec<f64> = (0..=49).map(|i| 0.02 * i as f64).collect();
    for kind in KINDS {
        let betas: &[f64] = if kind == OptimizerKind::Sgd {
            &[0.0]
        } else {
            &exact_betas
        };
        for &beta in betas {
            let opt = Optimizer::new(kind, quad.lr, beta, 0.0)?;
            let st = stationary::stationary_moments(&opt, &eig, &var, 1.0)?;
            let r = st.omega_sq.sqrt();
            for &f in theory::formulas(kind) {
                rows.push(row(
                    QUAD,
                    "exact",
                    &opt,
                    f,
                    1.0,
                    st.grad_sq.sqrt(),
                    f64::NAN,
                    (r, r, r),
                ));
            }
        }
        let betas: &[f64] = if kind == OptimizerKind::Sgd {
            &[0.0]
        } else {
            &BETAS
        };
        for &beta in betas {
            let opt = Optimizer::new(kind, quad.lr, beta, 0.0)?;
            for b in quad_batches(ctx.quick) {
                ctx.bar.set_message(format!(
                    "{}: quadratic {} β={beta} b={b}",
                    fig.name,
                    kind.name()
                ));
                let m = bounds::measure_stationary(&quad.problem, opt, b, &sizes)?;
                let st = stationary::stationary_moments(&opt, &eig, &var, b as f64)?;
                for &f in theory::formulas(kind) {
                    rows.push(row(
                        QUAD,
                        "measured",
                        &opt,
                        f,
                        b as f64,
                        st.grad_sq.sqrt(),
                        m.k,
                        rms_of(&m),
                    ));
                }
            }
        }
    }
    // Multi-well: measured over b at β = 0.9, ψ with the measured K.
    for kind in KINDS {
        let beta = if kind == OptimizerKind::Sgd {
            0.0
        } else {
            BETA_NONLINEAR
        };
        let opt = Optimizer::new(kind, nonlin.lr, beta, 0.0)?;
        for b in nonlinear_batches(ctx.quick) {
            ctx.bar
                .set_message(format!("{}: multi-well {} b={b}", fig.name, kind.name()));
            let m = bounds::measure_stationary(&nonlin.problem, opt, b, &sizes)?;
            for &f in theory::formulas(kind) {
                rows.push(row(
                    NONLINEAR,
                    "measured",
                    &opt,
                    f,
                    b as f64,
                    m.k,
                    m.k,
                    rms_of(&m),
                ));
            }
        }
    }
    let config = json!({
        "cases": [QUAD, NONLINEAR],
        "quadratic": "diagonal, eigenvalues bounds::quadratic_eigenvalues(d) (geometric 0.5..4), Gaussian sigma = 1",
        "multi_well": "D = 1, tilt 0.3, Gaussian sigma = 1 (bounds::bound_cases)",
        "dim": d, "eigenvalues": eig, "noise_var_per_coord": var, "c2": c2,
        "lr": {"quadratic": quad.lr, "multi_well": nonlin.lr},
        "betas_measured": BETAS, "beta_nonlinear": BETA_NONLINEAR,
        "exact_betas": "0, 0.02, ..., 0.98 at b = 1",
        "quad_batches": quad_batches(ctx.quick),
        "nonlinear_batches": nonlinear_batches(ctx.quick),
        "sizes": sizes,
        "seed": bounds::SEED,
        "library": "experiments::bounds::{bound_cases, measure_stationary}, stationary::stationary_moments, theory::Formula::psi",
    });
    write_data(ctx, fig, &COLUMNS, rows, config)
}

/// The rows of one (case, optimizer, formula): exact curve over β, measured points.
struct Series {
    case: String,
    kind: OptimizerKind,
    formula: String,
    valid: bool,
    /// (β, ratio) of the exact rows.
    exact: Vec<(f64, f64)>,
    /// (β, b, ratio, lo, hi) of the measured rows.
    measured: Vec<(f64, f64, f64, f64, f64)>,
}

struct Chart {
    series: Vec<Series>,
    lr_quad: f64,
    lr_nonlin: f64,
    c2: f64,
    quick: bool,
}

fn formula_text(key: &str) -> &'static str {
    match key {
        "sgd" => "SGD: C/√b",
        "shb_paper" => "SHB: √((1+β̂)C²/b + β̂K²)",
        "nshb_v1" => "NSHB v1: √(C²/b + 4β²(C²/b + K²))",
        "shb_tight" => "SHB tight: √(C²/b + β²/(1−β)² (C²/b + K²))",
        "nshb_tight" => "NSHB tight (derived here)",
        "nshb_v3_hypothesis" => "NSHB v3 hypothesis C/√((1−β)b): not a bound",
        _ => "other",
    }
}

fn is_paper_key(key: &str) -> bool {
    matches!(key, "sgd" | "shb_paper" | "nshb_v1")
}

/// Measured markers at several b on the quadratic are drawn side by side (dodged in β).
const DODGE: f64 = 0.012;

impl Figure for Chart {
    fn size(&self) -> (u32, u32) {
        (1000, 1000)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, th: &Theme) -> DrawResult {
        let mut caption = vec![
            format!(
                "Top: 8-d diagonal quadratic, Gaussian noise, C² = {}, η = {}, vs β; K = exact stationary √E‖∇f‖²;",
                self.c2, self.lr_quad
            ),
            "lines exact (independent of b); markers measured at b = 1 and 64 with the same seeds, which on".to_string(),
            "this linear problem are exact rescalings of each other (the two markers coincide).".to_string(),
            format!(
                "Bottom: 8-d tilted multi-well, Gaussian noise, η = {}, β = {BETA_NONLINEAR}, vs b; K measured. Bars: 95% CI over seeds.",
                self.lr_nonlin
            ),
        ];
        caption.push("Dotted black line: ratio 1, the bound attained (SGD's C/√b is exact for Gaussian noise).".into());
        let body = header(
            root,
            th,
            "Tightness of the noise bounds: √E‖ω‖² / ψ (C1–C3)",
            caption,
            self.quick,
        )?;
        let mut entries = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        for s in &self.series {
            if seen.contains(&s.formula) {
                continue;
            }
            seen.push(s.formula.clone());
            let st = plot::optimizer_style(s.kind);
            let dash = if s.valid { Dash::Solid } else { Dash::Dashed };
            entries.push(LegendEntry::line_marker(
                formula_text(&s.formula),
                st.color,
                dash,
                st.marker,
                s.valid,
            ));
        }
        let cols = plot::legend_columns(&body, th, &entries, 2, 12.0)?;
        let grid = plot::legend_below(&body, th, &entries, cols, 12.0)?;

        let ys = self.series.iter().flat_map(|s| {
            s.exact
                .iter()
                .map(|p| p.1)
                .chain(s.measured.iter().flat_map(|m| [m.2, m.3, m.4]))
        });
        let (y_lo, y_hi) = plot::log_range(ys.chain([1.0]), 1.25);
        let (major, minor) = plot::log_ticks(y_lo, y_hi);
        let panels = grid.split_evenly((2, 2));
        for (pi, panel) in panels.iter().enumerate() {
            let (r, c) = (pi / 2, pi % 2);
            let paper = c == 0;
            let title = match (r, paper) {
                (0, true) => "quadratic: the paper's ψ",
                (0, false) => "quadratic: ψ derived here",
                (_, true) => "multi-well: the paper's ψ",
                (_, false) => "multi-well: ψ derived here",
            };
            let area = plot::panel_title(panel, th, title)?;
            let keep = |s: &Series| {
                let case_ok = (r == 0) == (s.case == QUAD);
                let f_ok = if paper {
                    is_paper_key(&s.formula)
                } else {
                    !is_paper_key(&s.formula) || s.formula == "sgd"
                };
                case_ok && f_ok
            };
            if r == 0 {
                let mut chart = plot::chart_builder(&area, th).build_cartesian_2d(
                    plot::lin_axis(-0.02, 1.0),
                    plot::log_axis(y_lo, y_hi, major.clone(), minor.clone()),
                )?;
                plot::draw_axes(
                    &mut chart,
                    th,
                    &plot::Axes {
                        x_desc: "momentum β",
                        y_desc: if c == 0 { "√E‖ω‖² / ψ" } else { "" },
                        x_fmt: &|v| {
                            let k = (v * 5.0).round();
                            if (v * 5.0 - k).abs() < 1e-6 {
                                plot::fmt_tick(k / 5.0)
                            } else {
                                String::new()
                            }
                        },
                        y_fmt: &|v| plot::fmt_tick(*v),
                        y_labels: 6,
                    },
                )?;
                plot::draw_hline(&mut chart, th, 1.0, BLACK, Dash::Dotted)?;
                for s in self.series.iter().filter(|s| keep(s)) {
                    let st = plot::optimizer_style(s.kind);
                    let dash = if s.valid { Dash::Solid } else { Dash::Dashed };
                    if s.kind == OptimizerKind::Sgd {
                        if let Some(&(_, y)) = s.exact.first() {
                            plot::draw_line(
                                &mut chart,
                                th,
                                &[(0.0, y), (0.98, y)],
                                st.color,
                                dash,
                                th.line_width(),
                            )?;
                        }
                    } else {
                        let pts: Vec<(f64, f64)> = s
                            .exact
                            .iter()
                            .copied()
                            .filter(|p| p.1 > 0.0 && p.1.is_finite())
                            .collect();
                        plot::draw_line(&mut chart, th, &pts, st.color, dash, th.line_width())?;
                    }
                    let bs: Vec<f64> = {
                        let mut v: Vec<f64> = s.measured.iter().map(|m| m.1).collect();
                        v.sort_by(f64::total_cmp);
                        v.dedup();
                        v
                    };
                    let place = |m: &(f64, f64, f64, f64, f64)| {
                        let j = bs.iter().position(|&b| b == m.1).unwrap_or(0) as f64;
                        m.0 + DODGE * (j - (bs.len() as f64 - 1.0) / 2.0)
                    };
                    let bars: Vec<_> = s.measured.iter().map(|m| (place(m), m.3, m.4)).collect();
                    plot::draw_error_bars(&mut chart, th, &bars, st.color)?;
                    let pts: Vec<_> = s.measured.iter().map(|m| (place(m), m.2)).collect();
                    plot::draw_markers(
                        &mut chart,
                        th,
                        &plot::positive_y(pts),
                        st.color,
                        st.marker,
                        s.valid,
                    )?;
                }
            } else {
                let bs: Vec<f64> = self
                    .series
                    .iter()
                    .filter(|s| s.case != QUAD)
                    .flat_map(|s| s.measured.iter().map(|m| m.1))
                    .collect();
                let (b_lo, b_hi) = plot::log_range(bs, 1.0);
                let ticks =
                    plot::powers_of_two(b_lo.log2().round() as i32, b_hi.log2().round() as i32)
                        .into_iter()
                        .step_by(2)
                        .collect::<Vec<_>>();
                let mut chart = plot::chart_builder(&area, th).build_cartesian_2d(
                    plot::log_axis(b_lo / 1.4, b_hi * 1.4, ticks, vec![]),
                    plot::log_axis(y_lo, y_hi, major.clone(), minor.clone()),
                )?;
                plot::draw_axes(
                    &mut chart,
                    th,
                    &plot::Axes::batch(if c == 0 { "√E‖ω‖² / ψ" } else { "" }),
                )?;
                plot::draw_hline(&mut chart, th, 1.0, BLACK, Dash::Dotted)?;
                for s in self.series.iter().filter(|s| keep(s)) {
                    let st = plot::optimizer_style(s.kind);
                    let dash = if s.valid { Dash::Dotted } else { Dash::Dashed };
                    let pts: Vec<_> = s.measured.iter().map(|m| (m.1, m.2)).collect();
                    let pts = plot::positive(pts);
                    plot::draw_line(&mut chart, th, &pts, st.color, dash, th.upx(1.5))?;
                    let bars: Vec<_> = s.measured.iter().map(|m| (m.1, m.3, m.4)).collect();
                    plot::draw_error_bars(&mut chart, th, &bars, st.color)?;
                    plot::draw_markers(&mut chart, th, &pts, st.color, st.marker, s.valid)?;
                }
            }
        }
        Ok(())
    }
}

pub fn plot(ctx: &Ctx, fig: &FigureDef, t: &DataTable) -> Result<()> {
    let mut series: Vec<Series> = Vec::new();
    let (mut lr_quad, mut lr_nonlin) = (f64::NAN, f64::NAN);
    for i in 0..t.rows.len() {
        let case = t.str(i, "case")?.to_string();
        let formula = t.str(i, "formula")?.to_string();
        let beta = t.f64(i, "beta")?;
        let b = t.f64(i, "batch")?;
        let ratio = t.f64(i, "ratio")?;
        if case == QUAD {
            lr_quad = t.f64(i, "lr")?;
        } else {
            lr_nonlin = t.f64(i, "lr")?;
        }
        let idx = match series
            .iter()
            .position(|s| s.formula == formula && s.case == case)
        {
            Some(p) => p,
            None => {
                series.push(Series {
                    case: case.clone(),
                    kind: kind_of(t, i)?,
                    formula: formula.clone(),
                    valid: t.str(i, "is_valid_bound")? == "true",
                    exact: vec![],
                    measured: vec![],
                });
                series.len() - 1
            }
        };
        if t.str(i, "source")? == "exact" {
            series[idx].exact.push((beta, ratio));
        } else {
            series[idx].measured.push((
                beta,
                b,
                ratio,
                t.f64(i, "ratio_ci_low")?,
                t.f64(i, "ratio_ci_high")?,
            ));
        }
    }
    let chart = Chart {
        series,
        lr_quad,
        lr_nonlin,
        c2: if t.rows.is_empty() {
            f64::NAN
        } else {
            t.f64(0, "c2")?
        },
        quick: table_quick(t),
    };
    plot::render(&chart, &ctx.out, fig.name)?;
    Ok(())
}
